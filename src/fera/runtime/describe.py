"""The sentence for a group of faces (what "describe now" says, and what is said when several people
arrive at once): positions that tell the faces apart, and a summary when there are many.

Up to ``max_describe`` faces are listed left to right ("3 faces: left appears happy, ahead neutral, right
not sure"); their positions are left/ahead/right when those differ, else five places ("far left" ...
"far right"), else "first from the left", "second from the left", ... More faces get a count of each
expression and the faces most worth naming, by confidence and nearness ("6 faces: 4 appear happy, 2 not
sure; nearest, ahead: happy"). ``ann`` is the ``Announcer`` whose wording (verbosity, mirror, thresholds)
is used.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from fera.runtime.types import FrameInfo, TrackedFace

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def places(ann, faces: Sequence[TrackedFace], frame: FrameInfo) -> list[str]:
    """Positions that tell the faces (given left to right) apart: left/ahead/right when they differ, else
    the five places, else "first from the left", "second from the left", ..."""
    for way in (ann.position, ann.place):
        names = [way(f.box, frame) for f in faces]
        if len(set(names)) == len(names):
            return names
    return [f"{ordinal(i + 1)} from the left" for i in range(len(faces))]


def ordinal(n: int) -> str:
    """1 -> "first" ... 10 -> "tenth", then "11th", "22nd", ..."""
    if n <= len(ORDINALS):
        return ORDINALS[n - 1]
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def spots(ann, faces: Sequence[TrackedFace], frame: FrameInfo) -> list[str]:
    """Where a few faces picked from a crowd are: the five places, with "top", "middle" or "bottom" added when
    two share a place."""
    names = [ann.place(f.box, frame) for f in faces]
    if len(set(names)) == len(names):
        return names
    rows = ["top" if f.box.cy < frame.height / 3 else "bottom" if f.box.cy > 2 * frame.height / 3 else "middle"
            for f in faces]
    return [f"{n}, {r}" for n, r in zip(names, rows)]


def group_sentence(ann, frame: FrameInfo, faces: list[TrackedFace], v: int) -> str:
    """The sentence for faces sorted left to right, at verbosity ``v`` (1-3)."""
    n = len(faces)
    head = f"{n} face{'s' if n > 1 else ''}: "
    if n > ann.config.max_describe:
        return head + _summary(ann, frame, faces, v)
    names = places(ann, faces, frame)
    if v == 1:
        return head + ", ".join(ann.phrase(f, frame, 1, pos=p).replace(": ", " ").lower()
                                for f, p in zip(faces, names))
    if v == 3:
        return head + "; ".join(ann.phrase(f, frame, 3, pos=p) for f, p in zip(faces, names))
    items, first = [], True
    for f, p in zip(faces, names):
        core, turn = ann.core(f), ann.turn(f, frame, 2)
        if ann.level(f.expression) == "appears" and not first:
            core = core.removeprefix("appears ")
        first = first and ann.level(f.expression) != "appears"
        items.append(f"{p} {core}" + (f", {turn}" if turn else ""))
    return head + ("; " if any(", " in i for i in items) else ", ").join(items)


def _summary(ann, frame: FrameInfo, faces: list[TrackedFace], v: int) -> str:
    """"4 appear happy, 1 maybe sad, 1 not sure; nearest, ahead: happy; far left: surprised"."""
    words = [ann.core(f).removeprefix("appears ") for f in faces]
    counts, parts, verb = Counter(words), [], True
    rank = {"not sure": 2}  # on a tie: confident words, then "maybe ...", then "not sure"
    for w, k in sorted(counts.items(), key=lambda wk: (-wk[1], rank.get(wk[0], wk[0].startswith("maybe ")),
                                                       words.index(wk[0]))):
        plain = w != "not sure" and not w.startswith("maybe ")
        parts.append(f"{k} {('appears ' if k == 1 else 'appear ') if plain and verb else ''}{w}")
        verb = verb and not plain
    tallest = max(faces, key=lambda f: f.box.h)
    chosen = sorted((i for i, f in enumerate(faces) if ann.level(f.expression) != "unsure"),
                    key=lambda i: -faces[i].expression.confidence * math.sqrt(faces[i].box.h / tallest.box.h))
    picked = sorted(chosen[:max(ann.config.max_named, 0)])
    named = []
    for i, where in zip(picked, spots(ann, [faces[i] for i in picked], frame)):
        f, turn = faces[i], ann.turn(faces[i], frame, v)
        named.append(f"{'nearest, ' if f is tallest else ''}{where}: {words[i]}" + (f", {turn}" if turn else ""))
    return "; ".join([", ".join(parts)] + named)
