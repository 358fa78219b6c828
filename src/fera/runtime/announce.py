"""Announcing: what to say about the faces in front of the camera, when, and why (not).

Only confirmed people are announced (the tracker's rule: seen in most of several recent frames). Unprompted,
fera says each new person's expression once it has held for ``hold_s`` (an arrival), and afterwards the
changes of the primary person (largest or most central face, with hysteresis) once a new expression has
held for ``hold_s``. Rate limits defer and never discard: at most one unprompted announcement every
``global_interval_s``, and what still holds when that gap ends is said then. ``person_interval_s`` is only
against flip-flops: the same expression is not said twice for a person within that time (happy, sad,
happy again waits); a different expression does not wait. ``flush`` says what is pending at the end of
a video. Status messages ("too dark", "no face", "face at the left edge", and "face lost" once the
tracker has given up a person no other track took over) are said once per change and share the gap.
``describe_now`` answers on demand: up to ``max_describe`` faces left to right with positions that tell
them apart, or a summary for more ("6 faces: 4 appear happy, 2 not sure; nearest, ahead: happy").
The words describe the face ("appears surprised", "maybe afraid", "not sure"), never the feeling,
identity, age, gender or ethnicity. Every decision, spoken or suppressed, comes back with its reason.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from fera.runtime import wording
from fera.runtime.geometry import facing
from fera.runtime.types import Box, Decision, Expression, FrameInfo, TrackedFace


@dataclass
class AnnounceConfig:
    # the levels of fera.runtime.wording.VERBOSITY: 0 earcons only (empty text; label and position ride along for
    # the sound), 1 terse ("Left: happy"), 2 "left, appears happy" (and "turned to your left" when a large face is
    # clearly turned), 3 adds distance, confidence and facing ("left, talking distance, appears happy, 82%, facing you")
    verbosity: int = 2
    hold_s: float = 0.7  # a changed expression must stay the smoothed top this long before it is said
    global_interval_s: float = 2.0  # at least this long between unprompted announcements (deferred, not dropped)
    person_interval_s: float = 6.0  # one person's same expression is said at most once in this long (flip-flops)
    appears_min: float = 0.6  # calibrated confidence for "appears happy"
    maybe_min: float = 0.4  # ... for "maybe happy"; below it: silence unprompted, "not sure" on demand
    primary: str = "largest"  # whose changes are said unprompted: the "largest" face box or the most "central"
    primary_switch: float = 1.25  # another face becomes primary when its score beats the current one's x this
    mirror: bool = False  # swap left and right (a selfie camera facing the user)
    side: float = 0.35  # face centre in the left `side` of the width: "left"; in the right `side`: "right"
    close_min: float = 0.4  # face box height / frame height at least this: "close"
    talking_min: float = 0.15  # ... at least this: "talking distance"; below it: "far"
    edge_margin: float = 0.02  # a box this close to a side (fraction of the width) touches the edge
    dark_below: float = 40.0  # mean frame brightness (0..255) below this: "too dark"
    status_hold_s: float = 0.5  # a status condition must last this long before it is said (or cleared)
    max_describe: int = 4  # "describe now" lists up to this many faces; more get a summary
    max_named: int = 2  # a summary names this many faces, chosen by confidence and nearness
    report_repeats: bool = False  # report an unchanged suppressed decision every frame, not once


EPS = 1e-6  # seconds: durations are compared with this tolerance, so 0.7 s of frames counts as 0.7 s


@dataclass
class _Person:
    label: str | None = None  # expression last said for them (None: never said: a new person)
    said: dict = field(default_factory=dict)  # label -> when it was last said about them (one entry per class)
    box: Box | None = None  # where they were last seen

    def mark_said(self, label: str, now: float) -> None:
        self.label = label
        self.said[label] = now


class Announcer:
    """``update(frame, faces)`` once per frame; ``describe_now()`` when the user asks; ``flush()`` at the end."""

    def __init__(self, config: AnnounceConfig | None = None, clock: Callable[[], float] = time.monotonic):
        self.config = config or AnnounceConfig()
        self.clock = clock
        self.primary: int | None = None  # track id of the primary person
        self._people: dict[int, _Person] = {}  # track id -> the person (two ids while the tracker refinds one)
        self._heir: dict[int, int] = {}  # a missing track id -> the new track id that took over its person
        self._since: dict[int, tuple[str, float]] = {}  # label and since when, for expressions without ``since``
        self._last_spoken = -math.inf  # time of the last unprompted (or on-demand) announcement
        self._announced: int | None = None  # track whose expression was said last (for "face lost")
        self._lost = False  # "face lost" waiting to be said
        self._cond: str | None = None  # current status condition and since when
        self._cond_since = -math.inf
        self._cond_said: str | None = None  # status condition last said
        self._reported: dict[tuple[str, int | None], tuple] = {}  # de-duplicates suppressed decisions
        self._frame: FrameInfo | None = None
        self._faces: list[TrackedFace] = []

    # ---- wording (fera.runtime.wording, with this announcer's thresholds) -----------------------------

    def words(self, face: TrackedFace, frame: FrameInfo) -> wording.FaceWords:
        """What is said of ``face`` in ``frame``: position, place, distance, confidence level, facing."""
        c, b, e = self.config, face.box, face.expression
        return wording.FaceWords(
            position=wording.position(b, frame.width, c.side, c.mirror), place=wording.place(b, frame.width, c.mirror),
            row=wording.row(b, frame.height), distance=wording.distance(b, frame.height, c.close_min, c.talking_min),
            level=self.level(e), label=None if e is None else e.label, confidence=None if e is None else e.confidence,
            height=b.h, facing=facing(face.keypoints, b.h, frame.width, frame.height, c.mirror))

    def level(self, e: Expression | None) -> str:
        """"appears", "maybe" or "unsure" from the calibrated confidence."""
        return wording.level(None if e is None else e.confidence, self.config.appears_min, self.config.maybe_min)

    def phrase(self, face: TrackedFace, frame: FrameInfo, verbosity: int | None = None) -> str:
        """One face in words at a verbosity (default: the configured one; 0 gives ""): "left, appears happy"."""
        return wording.spoken(self.words(face, frame), self.config.verbosity if verbosity is None else verbosity)

    # ---- unprompted --------------------------------------------------------------------------------

    def update(self, frame: FrameInfo, faces: Sequence[TrackedFace]) -> list[Decision]:
        """Decide what to say about this frame; ``faces`` carry their smoothed ``expression``. Faces not
        ``confirmed`` are not people yet and are ignored."""
        now = self.clock()
        faces = [f for f in faces if f.confirmed]
        self._track_people(faces)
        self.primary = self._pick_primary(frame, faces)
        for f in faces:
            if f.expression is not None and self._since.get(f.track_id, ("",))[0] != f.expression.label:
                self._since[f.track_id] = (f.expression.label, now)
        out: list[Decision] = []
        self._status(frame, faces, now, out)
        ready = [r for f in faces if (r := self._candidate(frame, f, now, out)) is not None]
        if ready and now - self._last_spoken < self.config.global_interval_s - EPS:
            for _, d in ready:
                self._report(out, d, "global_rate_limit", "suppressed: global rate limit (waits)")
        elif ready:
            self._say(frame, faces, ready, now, out, "")
        self._frame, self._faces = frame, faces
        return out

    def _track_people(self, faces: list[TrackedFace]) -> None:
        """Follow the people: a new track next to a person whose track is missing (the tracker lost and refound
        them) is that person, so nothing is said about them twice and they are not "lost"; forget the rest
        of those the tracker dropped."""
        live = {f.track_id: f for f in faces}
        came = set(live) - set(self._people)
        for f in faces:
            if f.track_id not in self._people:
                old = min((k for k, p in self._people.items() if (k not in live or live[k].missed > 0)
                           and p.box is not None and self._same(p.box, f.box)),
                          key=lambda k: self._people[k].box.centre_distance(f.box), default=None)
                self._people[f.track_id] = self._people[old] if old is not None else _Person()
                if old is not None:
                    self._heir[old] = f.track_id
                    if old in self._since:
                        self._since[f.track_id] = self._since[old]
            if f.missed == 0:
                self._people[f.track_id].box = f.box
        if self._announced is not None and self._announced not in live:
            heir = self._heir.get(self._announced)
            self._announced = heir if heir in live else None
            self._lost = self._announced is None
        elif self._lost and came:  # someone came (back) before "face lost" was said
            self._lost = False
        self._people = {k: p for k, p in self._people.items() if k in live}
        self._heir = {k: v for k, v in self._heir.items() if k in live and v in live}
        self._since = {k: v for k, v in self._since.items() if k in live}
        self._reported = {k: v for k, v in self._reported.items() if k[1] is None or k[1] in live}

    @staticmethod
    def _same(a: Box, b: Box) -> bool:
        """Could box ``b`` be the person last seen at ``a`` a moment later: a similar size, and less than
        2.5 face sizes away (a quick move the tracker could not follow)."""
        return max(a.h, b.h) <= 1.5 * max(min(a.h, b.h), 1e-6) and a.centre_distance(b) <= 2.5 * max(a.w, a.h)

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
        left, right = box.x <= margin, box.right >= frame.width - margin
        side = None if left == right else "left" if left else "right"  # both: a close face filling the view
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
        d = Decision(spoken=False, text="" if c.verbosity <= 0 else wording.status_text(code), reason="",
                     track_id=None, time=now, kind="status", label=code, earcon=code)
        if code.startswith("edge_") and self._introducing(faces):
            return self._report(out, d, "person_first", "suppressed: the new person is said first (waits)")
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

    def _introducing(self, faces: list[TrackedFace]) -> bool:
        """The main person is new and their expression is clear enough to say: they come before the edge."""
        f = next((f for f in faces if f.track_id == self.primary), None)
        return (f is not None and f.expression is not None and self._people[f.track_id].label is None
                and self.level(f.expression) != "unsure")

    def _decision(self, frame: FrameInfo, f: TrackedFace, now: float) -> Decision:
        e = f.expression
        w, v = self.words(f, frame), self.config.verbosity
        return Decision(spoken=False, text=wording.spoken(w, v), line=wording.line(w, v), reason="",
                        track_id=f.track_id, time=now, kind="expression", label=e.label, position=w.position,
                        distance=w.distance, confidence=e.confidence, earcon=e.label, facing=w.facing)

    def _candidate(self, frame: FrameInfo, f: TrackedFace, now: float, out: list[Decision]):
        """(priority, decision) when ``f`` has something to say now, apart from the global gap; else None
        (with the reason reported)."""
        c, e, tid = self.config, f.expression, f.track_id
        p = self._people[tid]
        if e is None:
            return None
        if e.label == p.label:
            self._reported.pop(("expression", tid), None)
            return None
        since = e.since if e.since is not None else self._since[tid][1]
        held, new = now - since, p.label is None
        d = self._decision(frame, f, now)
        if tid != self.primary and not new:
            return self._report(out, d, "not_primary", "suppressed: not primary")
        if self.level(e) == "unsure":
            d.text = ""
            return self._report(out, d, "below_threshold", "suppressed: below threshold")
        if held < c.hold_s - EPS:
            return self._report(out, d, "held_too_short", f"suppressed: changed {round(held * 1000)} ms ago")
        if now - p.said.get(e.label, -math.inf) < c.person_interval_s - EPS:
            return self._report(out, d, "person_rate_limit", "suppressed: back to an expression said "
                                f"less than {c.person_interval_s:g} s ago (waits)")
        d.reason = f"spoken: {'new face' if new else 'changed to ' + e.label}, held {round(held * 1000)} ms"
        nearness = math.sqrt(f.box.h / max(frame.height, 1))
        return (tid == self.primary and not new, e.confidence * nearness), d

    def _say(self, frame: FrameInfo, faces: list[TrackedFace], ready: list, now: float, out: list[Decision],
             why: str) -> None:
        """Say the best ready candidate, or, when several new faces are ready at once, one sentence for all."""
        ready = sorted(ready, key=lambda r: r[0], reverse=True)
        new = [d for (change, _), d in ready if not change]
        if len(new) > 1 and self.config.verbosity > 0:
            d = self.describe_now(frame, faces, reason=f"spoken: {len(new)} new faces{why}")
            d.code = "spoken"
            return out.append(d)
        d = ready[0][1]
        p = self._people[d.track_id]
        p.mark_said(d.label, now)
        self._last_spoken, self._announced = now, d.track_id
        d.reason += why
        self._report(out, d, "spoken", d.reason, spoken=True)

    def flush(self) -> list[Decision]:
        """At the end of a video: what was about to be said (held long enough, only waiting for a rate
        limit), said now."""
        if self._frame is None:
            return []
        now, out, ready = self.clock(), [], []
        for f in self._faces:
            r = self._candidate(self._frame, f, now, [])
            if r is not None:
                ready.append(r)
        if ready:
            self._say(self._frame, self._faces, ready, now, out, " (pending at the end)")
        return out

    def _report(self, out: list[Decision], d: Decision, code: str, reason: str, spoken: bool = False) -> None:
        d.spoken, d.code, d.reason = spoken, code, reason
        key, value = (d.kind, d.track_id), (d.label, code)
        if spoken or self.config.report_repeats or self._reported.get(key) != value:
            out.append(d)
        self._reported[key] = value

    # ---- on demand ---------------------------------------------------------------------------------

    def describe_now(self, frame: FrameInfo | None = None, faces: Sequence[TrackedFace] | None = None,
                     reason: str = "spoken: on demand") -> Decision:
        """Every face, left to right: "3 faces: left appears happy, ahead neutral, right not sure"; more than
        ``max_describe``: a summary that names the faces chosen by confidence and nearness.

        Without arguments, describes the last frame given to ``update``. At verbosity 0 it answers in
        terse words, since the user asked and earcons cannot list faces.
        """
        c, now = self.config, self.clock()
        frame = frame if frame is not None else self._frame
        faces = [f for f in (self._faces if faces is None else faces) if f.confirmed]
        if frame is None or not faces:
            dark = frame is not None and frame.brightness is not None and frame.brightness < c.dark_below
            text = wording.status_text("too_dark" if dark else "no_face")
        else:
            faces = wording.left_to_right(faces, c.mirror)
            text = wording.group([self.words(f, frame) for f in faces], max(c.verbosity, 1), c.max_describe,
                                 c.max_named)
            for f in faces:
                if self.level(f.expression) != "unsure" and f.track_id in self._people:
                    p = self._people[f.track_id]
                    p.mark_said(f.expression.label, now)
                    if f.track_id == self.primary:
                        self._announced = f.track_id
        self._last_spoken = now
        return Decision(spoken=True, text=text, reason=reason, track_id=None, time=now, kind="describe",
                        code="on_demand", earcon="describe")
