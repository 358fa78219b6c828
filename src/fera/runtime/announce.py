"""Announcing: what to say about the faces in front of the camera, when, and why (not).

Unprompted, only the primary person (largest or most central face, with hysteresis) is described,
and only when their smoothed expression has differed from the one last said for them for ``hold_s``,
at most once per ``global_interval_s`` overall and ``person_interval_s`` per person. Status messages
("too dark", "no face", "face lost", "face at the left edge") are said once per change and share
the global rate limit. ``describe_now`` answers on demand with up to ``max_describe`` faces, left to
right. The wording describes the face ("appears happy", "maybe happy", "not sure"), never the feeling,
identity, age, gender or ethnicity. Every decision, spoken or suppressed, comes back with its reason.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from fera.runtime.types import Box, Decision, Expression, FrameInfo, TrackedFace


@dataclass
class AnnounceConfig:
    # 0: earcons only (empty text; label and position ride along for the sound), 1: terse ("Left: happy"),
    # 2: "left, appears happy", 3: adds distance and confidence ("left, talking distance, appears happy, 82%")
    verbosity: int = 2
    hold_s: float = 0.7  # a changed expression must stay the smoothed top this long before it is said
    global_interval_s: float = 3.0  # at most one unprompted announcement per this many seconds overall
    person_interval_s: float = 6.0  # ... and per this many seconds for one person
    appears_min: float = 0.6  # calibrated confidence for "appears happy"
    maybe_min: float = 0.4  # ... for "maybe happy"; below it: silence unprompted, "not sure" on demand
    primary: str = "largest"  # who is described unprompted: the "largest" face box or the most "central"
    primary_switch: float = 1.25  # another face becomes primary when its score beats the current one's x this
    mirror: bool = False  # swap left and right (a selfie camera facing the user)
    side: float = 0.35  # face centre in the left `side` of the width: "left"; in the right `side`: "right"
    close_min: float = 0.4  # face box height / frame height at least this: "close"
    talking_min: float = 0.15  # ... at least this: "talking distance"; below it: "far"
    edge_margin: float = 0.02  # a box this close to a side (fraction of the width) touches the edge
    dark_below: float = 40.0  # mean frame brightness (0..255) below this: "too dark"
    status_hold_s: float = 0.5  # a status condition must last this long before it is said (or cleared)
    max_describe: int = 4  # "describe now" lists at most this many faces (the largest), left to right
    report_repeats: bool = False  # report an unchanged suppressed decision every frame, not once


EPS = 1e-6  # seconds: durations are compared with this tolerance, so 0.7 s of frames counts as 0.7 s

STATUS_TEXT = {
    "too_dark": "too dark",
    "no_face": "no face",
    "face_lost": "face lost",
    "edge_left": "face at the left edge",
    "edge_right": "face at the right edge",
}


class Announcer:
    """``update(frame, faces)`` once per frame; ``describe_now()`` when the user asks."""

    def __init__(self, config: AnnounceConfig | None = None, clock: Callable[[], float] = time.monotonic):
        self.config = config or AnnounceConfig()
        self.clock = clock
        self.primary: int | None = None  # track id of the primary person
        self._said: dict[int, tuple[str, float]] = {}  # track id -> (label last said, when)
        self._since: dict[int, tuple[str, float]] = {}  # track id -> (current smoothed label, since when)
        self._last_spoken = -math.inf  # time of the last unprompted (or on-demand) announcement
        self._announced: int | None = None  # track whose expression was said last (for "face lost")
        self._lost = False  # "face lost" waiting to be said
        self._ids: set[int] = set()  # track ids of the previous frame
        self._cond: str | None = None  # current status condition and since when
        self._cond_since = -math.inf
        self._cond_said: str | None = None  # status condition last said
        self._reported: dict[tuple[str, int | None], tuple] = {}  # de-duplicates suppressed decisions
        self._frame: FrameInfo | None = None
        self._faces: list[TrackedFace] = []

    # ---- wording -----------------------------------------------------------------------------------

    def position(self, box: Box, frame: FrameInfo) -> str:
        """"left", "ahead" or "right" from the horizontal position of the face centre."""
        r = box.cx / max(frame.width, 1)
        side = "left" if r < self.config.side else "right" if r > 1 - self.config.side else "ahead"
        if self.config.mirror and side != "ahead":
            side = "right" if side == "left" else "left"
        return side

    def distance(self, box: Box, frame: FrameInfo) -> str:
        """"close", "talking distance" or "far" from the face height relative to the frame height."""
        r = box.h / max(frame.height, 1)
        return "close" if r >= self.config.close_min else "talking distance" if r >= self.config.talking_min else "far"

    def level(self, e: Expression | None) -> str:
        """"appears", "maybe" or "unsure" from the calibrated confidence."""
        if e is None or e.confidence < self.config.maybe_min:
            return "unsure"
        return "appears" if e.confidence >= self.config.appears_min else "maybe"

    def phrase(self, face: TrackedFace, frame: FrameInfo, verbosity: int | None = None, sep: str = ", ") -> str:
        """One face in words at a verbosity (0 gives ""): "left, appears happy", "Left: maybe sad", ..."""
        v = self.config.verbosity if verbosity is None else verbosity
        e, lvl = face.expression, self.level(face.expression)
        pos = self.position(face.box, frame)
        core = "not sure" if lvl == "unsure" else f"{'appears ' if lvl == 'appears' else 'maybe '}{e.label}"
        if v <= 0:
            return ""
        if v == 1:
            return f"{pos.capitalize()}: {core.removeprefix('appears ')}"
        if v == 2:
            return f"{pos}{sep}{core}"
        parts = [pos, self.distance(face.box, frame), core]
        if lvl != "unsure":
            parts.append(f"{round(100 * e.confidence)}%")
        return ", ".join(parts)

    # ---- unprompted --------------------------------------------------------------------------------

    def update(self, frame: FrameInfo, faces: Sequence[TrackedFace]) -> list[Decision]:
        """Decide what to say about this frame; ``faces`` carry their smoothed ``expression``."""
        now = self.clock()
        faces = list(faces)
        ids = {f.track_id for f in faces}
        if self._announced is not None and self._announced not in ids:
            self._lost, self._announced = True, None
        elif self._lost and ids - self._ids:  # a face came (back) before "face lost" could be said
            self._lost = False
        self._ids = ids
        self._said = {k: v for k, v in self._said.items() if k in ids}
        self._since = {k: v for k, v in self._since.items() if k in ids}
        self._reported = {k: v for k, v in self._reported.items() if k[1] is None or k[1] in ids}
        self.primary = self._pick_primary(frame, faces)
        for f in faces:
            if f.expression is not None and self._since.get(f.track_id, ("",))[0] != f.expression.label:
                self._since[f.track_id] = (f.expression.label, now)
        out: list[Decision] = []
        self._status(frame, faces, now, out)
        for f in faces:
            self._expression(frame, f, now, out)
        self._frame, self._faces = frame, faces
        return out

    def _score(self, f: TrackedFace, frame: FrameInfo) -> float:
        w, h = max(frame.width, 1), max(frame.height, 1)
        if self.config.primary == "central":
            d = math.hypot(f.box.cx / w - 0.5, f.box.cy / h - 0.5) / math.hypot(0.5, 0.5)
            return max(0.0, 1.0 - d)
        return f.box.area / (w * h)

    def _pick_primary(self, frame: FrameInfo, faces: list[TrackedFace]) -> int | None:
        if not faces:
            return None
        best = max(faces, key=lambda f: self._score(f, frame))
        cur = next((f for f in faces if f.track_id == self.primary), None)
        if cur is None or self._score(best, frame) > self._score(cur, frame) * self.config.primary_switch:
            return best.track_id
        return cur.track_id

    def _condition(self, frame: FrameInfo, faces: list[TrackedFace]) -> str | None:
        c = self.config
        if frame.brightness is not None and frame.brightness < c.dark_below:
            return "too_dark"
        if not faces:
            return "no_face"
        box = next(f.box for f in faces if f.track_id == self.primary)
        margin = c.edge_margin * frame.width
        side = "left" if box.x <= margin else "right" if box.right >= frame.width - margin else None
        if side and c.mirror:
            side = "right" if side == "left" else "left"
        return f"edge_{side}" if side else None

    def _status(self, frame: FrameInfo, faces: list[TrackedFace], now: float, out: list[Decision]) -> None:
        c = self.config
        cond = self._condition(frame, faces)
        if cond != self._cond:
            self._cond, self._cond_since = cond, now
        held = now - self._cond_since >= c.status_hold_s - EPS
        if cond is None and held:
            self._cond_said = None  # cleared: the next condition will be said again
        code = "face_lost" if self._lost else cond if cond and cond != self._cond_said and held else None
        if code is None:
            return
        d = Decision(False, "" if c.verbosity <= 0 else STATUS_TEXT[code], "", None, now, "status",
                     label=code, earcon=code)
        if now - self._last_spoken < c.global_interval_s - EPS:
            return self._report(out, d, "global_rate_limit", "suppressed: global rate limit")
        self._last_spoken = now
        if code == "face_lost":
            self._lost = False
            if cond == "no_face":  # "face lost" already says it
                self._cond_said = cond
        else:
            self._cond_said = code
        self._report(out, d, "spoken", f"spoken: status {code}", spoken=True)

    def _expression(self, frame: FrameInfo, f: TrackedFace, now: float, out: list[Decision]) -> None:
        c, e, tid = self.config, f.expression, f.track_id
        if e is None:
            return
        last_label, last_t = self._said.get(tid, (None, -math.inf))
        if e.label == last_label:
            self._reported.pop(("expression", tid), None)
            return
        held = now - self._since[tid][1]
        d = Decision(False, self.phrase(f, frame), "", tid, now, "expression", label=e.label,
                     position=self.position(f.box, frame), distance=self.distance(f.box, frame),
                     confidence=e.confidence, earcon=e.label)
        if tid != self.primary:
            return self._report(out, d, "not_primary", "suppressed: not primary")
        if self.level(e) == "unsure":
            d.text = ""
            return self._report(out, d, "below_threshold", "suppressed: below threshold")
        if held < c.hold_s - EPS:
            return self._report(out, d, "held_too_short", f"suppressed: changed {round(held * 1000)} ms ago")
        if now - self._last_spoken < c.global_interval_s - EPS:
            return self._report(out, d, "global_rate_limit", "suppressed: global rate limit")
        if now - last_t < c.person_interval_s - EPS:
            return self._report(out, d, "person_rate_limit", "suppressed: per-person rate limit")
        self._said[tid] = (e.label, now)
        self._last_spoken, self._announced = now, tid
        self._report(out, d, "spoken", f"spoken: changed to {e.label}, held {round(held * 1000)} ms", spoken=True)

    def _report(self, out: list[Decision], d: Decision, code: str, reason: str, spoken: bool = False) -> None:
        d.spoken, d.code, d.reason = spoken, code, reason
        key, value = (d.kind, d.track_id), (d.label, code)
        if spoken or self.config.report_repeats or self._reported.get(key) != value:
            out.append(d)
        self._reported[key] = value

    # ---- on demand ---------------------------------------------------------------------------------

    def describe_now(self, frame: FrameInfo | None = None, faces: Sequence[TrackedFace] | None = None) -> Decision:
        """All faces (up to ``max_describe``, the largest) left to right: "3 faces: left appears happy, ...".

        Without arguments, describes the last frame given to ``update``. At verbosity 0 it answers in
        terse words, since the user asked and earcons cannot list faces.
        """
        c, now = self.config, self.clock()
        frame = frame if frame is not None else self._frame
        faces = list(self._faces if faces is None else faces)
        if frame is None or not faces:
            dark = frame is not None and frame.brightness is not None and frame.brightness < c.dark_below
            text = STATUS_TEXT["too_dark" if dark else "no_face"]
        else:
            chosen = sorted(faces, key=lambda f: -f.box.area)[:max(c.max_describe, 1)]
            chosen.sort(key=lambda f: -f.box.cx if c.mirror else f.box.cx)
            v = max(c.verbosity, 1)
            if v == 1:
                items = [self.phrase(f, frame, 1).replace(": ", " ").lower() for f in chosen]
            elif v == 2:
                items, first = [], True
                for f in chosen:
                    p = self.phrase(f, frame, 2, sep=" ")
                    if self.level(f.expression) == "appears" and not first:
                        p = p.replace(" appears ", " ")
                    first = first and self.level(f.expression) != "appears"
                    items.append(p)
            else:
                items = [self.phrase(f, frame, 3) for f in chosen]
            n = len(faces)
            head = f"{n} face{'s' if n > 1 else ''}" + (f", {len(chosen)} nearest" if n > len(chosen) else "")
            text = f"{head}: " + ("; " if v == 3 else ", ").join(items)
            for f in chosen:
                if self.level(f.expression) != "unsure":
                    self._said[f.track_id] = (f.expression.label, now)
                    if f.track_id == self.primary:
                        self._announced = f.track_id
        self._last_spoken = now
        return Decision(True, text, "spoken: on demand", None, now, "describe", "on_demand", earcon="describe")
