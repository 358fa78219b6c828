"""Tracking: one id per person across frames, by box overlap with a centre-distance fallback.

Each track remembers its velocity, and detections are compared with where the track should be now
(its last box moved at that velocity), so a person walking behind another and out again, or a
face the detector misses for a few frames while moving, keeps its id. Greedy matching, best pairs
first: by IoU, then (for what is left) by centre distance relative to the track's box size, which
catches a face that moved fast between two frames. A detection is compared with both the predicted and
the last box, whichever fits better, so a person who stops or turns back keeps their id too.
Unmatched detections start new, tentative tracks; a track unmatched for more than ``max_missed``
frames or ``max_age_s`` seconds is dropped. Live but unmatched tracks are still returned (``missed``
> 0) so a missed detection does not make a person disappear.

A track is ``confirmed`` (a person) once it was matched in at least ``confirm_hits`` of the last
``confirm_window`` frames with a mean detector score of at least ``confirm_score``; it stays confirmed
while it lives. A single-frame detection, or one that flickers on and off (a title card's letters),
never becomes a person: a tentative track that can no longer reach ``confirm_hits`` in its window is
dropped at once.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

from fera.runtime.types import Box, Face, HasFace, TrackedFace


@dataclass
class TrackConfig:
    iou_min: float = 0.3  # a detection continues a track when their boxes overlap at least this much
    # fallback: centres closer than this many track-box sizes (max of w, h) continue the track, when the
    # two boxes are of a similar size (the larger at most ``size_ratio_max`` times the smaller)
    centre_max: float = 1.0
    size_ratio_max: float = 1.5
    max_missed: int = 30  # drop a track after this many consecutive frames without a detection
    max_age_s: float = 1.0  # ... or after this many seconds without one, whichever comes first
    velocity_gain: float = 0.5  # how fast a track's velocity follows its latest motion (0 = no prediction)
    confirm_hits: int = 3  # a track is a person once matched in this many ...
    confirm_window: int = 5  # ... of its last this many frames ...
    confirm_score: float = 0.6  # ... with at least this mean detector score over those matches


@dataclass
class _Track(HasFace):
    track_id: int
    face: Face  # the latest matched detection: box, score, keypoints
    last_seen: float
    missed: int = 0
    hits: int = 1
    vx: float = 0.0  # velocity of the box centre, pixels per second
    vy: float = 0.0
    confirmed: bool = False
    recent: deque = field(default_factory=deque)  # detector score per recent frame, None when missed

    def observe(self, score: float | None, c: "TrackConfig") -> bool:
        """Record this frame (a score, or None when missed); False when a tentative track can no longer be confirmed."""
        self.recent.append(score)
        while len(self.recent) > max(c.confirm_window, 1):
            self.recent.popleft()
        seen = [s for s in self.recent if s is not None]
        if not self.confirmed and len(seen) >= c.confirm_hits and sum(seen) / len(seen) >= c.confirm_score - 1e-9:
            self.confirmed = True
        missed = len(self.recent) - len(seen)
        return self.confirmed or missed <= max(c.confirm_window - c.confirm_hits, 0)

    def predicted(self, now: float, horizon: float) -> Box:
        """The box moved on at the track's velocity for the time since it was last seen (at most ``horizon``)."""
        dt = min(max(now - self.last_seen, 0.0), horizon)
        return Box(self.box.x + self.vx * dt, self.box.y + self.vy * dt, self.box.w, self.box.h)


class Tracker:
    """``update(faces)`` once per frame returns the live tracks, sorted by id."""

    def __init__(self, config: TrackConfig | None = None, clock: Callable[[], float] = time.monotonic):
        self.config = config or TrackConfig()
        self.clock = clock
        self._tracks: list[_Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self._tracks.clear()

    def update(self, faces: Sequence[Face], now: float | None = None) -> list[TrackedFace]:
        """Match this frame's detections (what a detector returns) to the tracks; returns the live tracks."""
        now = self.clock() if now is None else now
        dets = list(faces)
        c = self.config
        matches: dict[int, int] = {}  # track index -> detection index

        boxes = [(t.predicted(now, c.max_age_s), t.box) for t in self._tracks]
        pairs = [(max(p.iou(d.box), b.iou(d.box)), ti, di) for ti, (p, b) in enumerate(boxes) for di, d in enumerate(dets)]
        self._greedy(sorted((p for p in pairs if p[0] >= c.iou_min), key=lambda p: -p[0]), matches)
        pairs = [(min(p.centre_distance(d.box), b.centre_distance(d.box)) / max(b.w, b.h, 1e-6), ti, di)
                 for ti, (p, b) in enumerate(boxes) for di, d in enumerate(dets)
                 if max(b.h, d.box.h) <= c.size_ratio_max * max(min(b.h, d.box.h), 1e-6)]
        self._greedy(sorted((p for p in pairs if p[0] <= c.centre_max), key=lambda p: p[0]), matches)

        for ti, t in enumerate(self._tracks):
            if ti in matches:
                d = dets[matches[ti]]
                dt = now - t.last_seen
                if dt > 0 and c.velocity_gain > 0:
                    t.vx += c.velocity_gain * ((d.box.cx - t.box.cx) / dt - t.vx)
                    t.vy += c.velocity_gain * ((d.box.cy - t.box.cy) / dt - t.vy)
                t.face, t.last_seen, t.missed, t.hits = d, now, 0, t.hits + 1
            else:
                t.missed += 1
        self._tracks = [t for t in self._tracks
                        if t.observe(None if t.missed else t.score, c)
                        and t.missed <= c.max_missed and now - t.last_seen <= c.max_age_s]
        for di in sorted(set(range(len(dets))) - set(matches.values())):
            t = _Track(self._next_id, dets[di], now)
            t.observe(t.score, c)
            self._tracks.append(t)
            self._next_id += 1
        return [TrackedFace(t.track_id, face=t.face, missed=t.missed, hits=t.hits, confirmed=t.confirmed)
                for t in sorted(self._tracks, key=lambda t: t.track_id)]

    @staticmethod
    def _greedy(pairs: list[tuple[float, int, int]], matches: dict[int, int]) -> None:
        used = set(matches.values())
        for _, ti, di in pairs:
            if ti not in matches and di not in used:
                matches[ti] = di
                used.add(di)
