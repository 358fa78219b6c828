"""The assistant's words, as pure functions of plain values: where a face is, how near, how sure, the
expression phrase, the status texts and the sentence for a group of faces.

The words describe the face ("appears surprised", "maybe afraid", "not sure"), never the feeling, identity,
age, gender or ethnicity. Callers get pieces (a position, the words after it) and join them themselves;
no sentence is ever parsed back. ``FaceWords`` holds what is known of one face (the announcer fills it
from a tracked face, its frame and its own thresholds).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import NamedTuple, Sequence

from fera.runtime.geometry import as_seen, facing_words

# The thresholds (``side``, ``close_min``, ``appears_min`` ...) are the caller's: the announcer passes its
# ``AnnounceConfig``, which holds their defaults.

ADJECTIVES = {"surprise": "surprised", "fear": "afraid", "disgust": "disgusted"}  # the others are adjectives
STATUS_TEXT = {
    "too_dark": "too dark",
    "no_face": "no face",
    "face_lost": "face lost",
    "edge_left": "face at the left edge",
    "edge_right": "face at the right edge",
}
#: What each verbosity says, 0 to 3 (``--verbosity``, the v key, the web page's Detail, its WebSocket command);
#: ``fera.runtime.announce.AnnounceConfig.verbosity`` is the default.
VERBOSITY = ("earcons only", "terse", "default", "adds distance and confidence")
#: The text lines of the terminal's keys (``fera.runtime.keys``) and of a camera that is gone.
PAUSED, RESUMED, MUTED, UNMUTED = "paused", "resumed", "muted", "sound on"
SOURCE_LOST = "camera disconnected"
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
PLACES = ("far left", "left", "ahead", "right", "far right")


def check_verbosity(verbosity) -> int:
    """``verbosity`` when it is one of ``VERBOSITY``'s levels; else ValueError, with the levels named."""
    levels = range(len(VERBOSITY))
    if type(verbosity) is not int or verbosity not in levels:
        names = ", ".join(map(str, levels[:-1])) + f" or {levels[-1]}"
        raise ValueError(f"verbosity must be {names} (got {str(verbosity)[:20]})")
    return verbosity


def verbosity_text(verbosity: int) -> str:
    """The line after the v key: "verbosity 3"."""
    return f"verbosity {verbosity}"


# ---- one measure each ---------------------------------------------------------------------------------

def position(box, width: float, side: float, mirror: bool = False) -> str:
    """"left", "ahead" or "right": the face centre in the left ``side`` of the width, the middle, the right."""
    r = box.cx / max(width, 1)
    where = "left" if r < side else "right" if r > 1 - side else "ahead"
    return as_seen(where, mirror)


def left_to_right(faces: Sequence, mirror: bool = False) -> list:
    """Faces (anything with a ``box``) in the order the user has them, left to right (``mirror`` reverses the
    camera's order)."""
    return sorted(faces, key=lambda f: -f.box.cx if mirror else f.box.cx)


def place(box, width: float, mirror: bool = False) -> str:
    """Five places across the view: "far left", "left", "ahead", "right", "far right"."""
    r = box.cx / max(width, 1)
    r = 1 - r if mirror else r
    return PLACES[min(max(int(r * 5), 0), 4)]


def row(box, height: float) -> str:
    """"top", "middle" or "bottom" third of the view."""
    return "top" if box.cy < height / 3 else "bottom" if box.cy > 2 * height / 3 else "middle"


def distance(box, height: float, close_min: float, talking_min: float) -> str:
    """"close", "talking distance" or "far" from the face height relative to the frame height."""
    r = box.h / max(height, 1)
    return "close" if r >= close_min else "talking distance" if r >= talking_min else "far"


def level(confidence: float | None, appears_min: float, maybe_min: float) -> str:
    """"appears", "maybe" or "unsure" from a calibrated confidence (None: unsure)."""
    if confidence is None or confidence < maybe_min:
        return "unsure"
    return "appears" if confidence >= appears_min else "maybe"


def adjective(label: str) -> str:
    """The class name as a word for a face: "surprise" -> "surprised", "fear" -> "afraid"."""
    return ADJECTIVES.get(label, label)


def status_text(code: str) -> str:
    """The words for a status code ("no_face" -> "no face"); an unknown code is said as it is written."""
    return STATUS_TEXT.get(code, code.replace("_", " "))


def ordinal(n: int) -> str:
    """1 -> "first" ... 10 -> "tenth", then "11th", "22nd", ..."""
    if n <= len(ORDINALS):
        return ORDINALS[n - 1]
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def turn(facing: str | None, verbosity: int) -> str | None:
    """The facing words said at a verbosity: all at 3, only "turned ..." at 2, none below."""
    way = facing if verbosity >= 2 else None
    return facing_words(way) if way and (verbosity >= 3 or way != "you") else None


# ---- one face -----------------------------------------------------------------------------------------

class FaceWords(NamedTuple):
    """What is said of one face, measured once."""

    position: str  # "left" / "ahead" / "right"
    place: str  # one of the five PLACES
    row: str  # "top" / "middle" / "bottom"
    distance: str  # "close" / "talking distance" / "far"
    level: str  # "appears" / "maybe" / "unsure"
    label: str | None  # the expression label; None when nothing is known
    confidence: float | None  # its calibrated probability
    height: float  # the face box height in pixels (nearness among faces)
    facing: str | None = None  # "you" / "left" / "right" when the keypoints say so reliably


def expression(f: FaceWords) -> str:
    """"appears happy", "maybe afraid" or "not sure"."""
    return "not sure" if f.level == "unsure" or f.label is None else f"{f.level} {adjective(f.label)}"


def terse(f: FaceWords) -> str:
    """The expression without "appears": "happy", "maybe afraid", "not sure"."""
    return adjective(f.label) if f.level == "appears" and f.label is not None else expression(f)


def details(f: FaceWords, verbosity: int) -> tuple[str, ...]:
    """The words said after the position at a verbosity (1-3): ("happy",), ("appears happy", "turned to
    your left"), ("talking distance", "appears happy", "82%", "facing you")."""
    t = () if (w := turn(f.facing, verbosity)) is None else (w,)
    if verbosity <= 1:
        return (terse(f),)
    if verbosity == 2:
        return (expression(f),) + t
    pct = (f"{round(100 * f.confidence)}%",) if f.level != "unsure" and f.confidence is not None else ()
    return (f.distance, expression(f)) + pct + t


def spoken(f: FaceWords, verbosity: int, pos: str | None = None) -> str:
    """One face as said at a verbosity (0 gives ""): "Left: maybe sad", "left, appears happy", ..."""
    pos = pos or f.position
    if verbosity <= 0:
        return ""
    d = details(f, verbosity)
    if verbosity == 1:
        return f"{pos[0].upper()}{pos[1:]}: {d[0]}"
    return ", ".join((pos,) + d)


def line(f: FaceWords, verbosity: int) -> str:
    """One face as a text line: "left: appears happy"; at 1 the spoken words ("Left: happy"); at 0 (nothing
    spoken, only the earcon) the terse words, "right: surprised"."""
    if verbosity == 1:
        return spoken(f, 1)
    return f"{f.position}: {', '.join(details(f, verbosity) if verbosity >= 2 else (terse(f),))}"


# ---- a group ------------------------------------------------------------------------------------------

def apart(faces: Sequence[FaceWords]) -> list[str]:
    """Positions that tell the faces (given left to right) apart: left/ahead/right when they differ, else
    the five places, else "first from the left", "second from the left", ..."""
    for names in ([f.position for f in faces], [f.place for f in faces]):
        if len(set(names)) == len(names):
            return names
    return [f"{ordinal(i + 1)} from the left" for i in range(len(faces))]


def spots(faces: Sequence[FaceWords]) -> list[str]:
    """Where a few faces picked from a crowd are: the five places, with the row added when two share one."""
    names = [f.place for f in faces]
    if len(set(names)) == len(names):
        return names
    return [f"{f.place}, {f.row}" for f in faces]


def group(faces: Sequence[FaceWords], verbosity: int, max_describe: int = 4, max_named: int = 2) -> str:
    """The sentence for faces given left to right, at a verbosity (1-3): "3 faces: left appears happy, ahead
    neutral, right not sure"; more than ``max_describe``: a summary naming ``max_named`` of them."""
    n, v = len(faces), verbosity
    head = f"{n} face{'s' if n > 1 else ''}: "
    if n > max_describe:
        return head + summary(faces, v, max_named)
    names = apart(faces)
    if v <= 1:
        return head + ", ".join(f"{p} {terse(f)}" for f, p in zip(faces, names))
    if v >= 3:
        return head + "; ".join(spoken(f, 3, pos=p) for f, p in zip(faces, names))
    items, first = [], True
    for f, p in zip(faces, names):
        words, t = expression(f) if first else terse(f), turn(f.facing, 2)  # "appears" said once
        first = first and f.level != "appears"
        items.append(f"{p} {words}" + (f", {t}" if t else ""))
    return head + ("; " if any(", " in i for i in items) else ", ").join(items)


def summary(faces: Sequence[FaceWords], verbosity: int, max_named: int = 2) -> str:
    """"4 appear happy, 1 maybe sad, 1 not sure; nearest, ahead: happy; far left: surprised"."""
    words = [terse(f) for f in faces]
    counts, parts, verb = Counter(words), [], True
    rank = {"not sure": 2}  # on a tie: confident words, then "maybe ...", then "not sure"
    for w, k in sorted(counts.items(), key=lambda wk: (-wk[1], rank.get(wk[0], wk[0].startswith("maybe ")),
                                                       words.index(wk[0]))):
        plain = w != "not sure" and not w.startswith("maybe ")
        parts.append(f"{k} {('appears ' if k == 1 else 'appear ') if plain and verb else ''}{w}")
        verb = verb and not plain
    tallest = max(range(len(faces)), key=lambda i: faces[i].height)
    top = max(faces[tallest].height, 1e-9)
    chosen = sorted((i for i, f in enumerate(faces) if f.level != "unsure"),
                    key=lambda i: -faces[i].confidence * math.sqrt(faces[i].height / top))
    picked = sorted(chosen[:max(max_named, 0)])
    named = []
    for i, where in zip(picked, spots([faces[i] for i in picked])):
        t = turn(faces[i].facing, verbosity)
        named.append(f"{'nearest, ' if i == tallest else ''}{where}: {words[i]}" + (f", {t}" if t else ""))
    return "; ".join([", ".join(parts)] + named)
