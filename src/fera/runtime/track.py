"""Tracking: one id per person across frames, by box overlap with a centre-distance fallback.

Each track remembers its velocity, and detections are compared with where the track should be now
(its last box moved at that velocity), so a person walking behind another and out again, or a
face the detector misses for a few frames while moving, keeps its id. Greedy matching, best pairs
first: by IoU, then (for what is left) by centre distance relative to the track's box size, which
catches a face that moved fast between two frames. Unmatched detections start new tracks; a track
unmatched for more than ``max_missed`` frames or ``max_age_s`` seconds is dropped. Live but
unmatched tracks are still returned (``missed`` > 0) so a missed detection does not make a person
disappear.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from fera.runtime.types import Box, Face, TrackedFace


@dataclass
class TrackConfig:
    iou_min: float = 0.3  # a detection continues a track when their boxes overlap at least this much
    # fallback: centres closer than this many track-box sizes (max of w, h) continue the track
    centre_max: float = 0.6
    max_missed: int = 30  # drop a track after this many consecutive frames without a detection
    max_age_s: float = 1.0  # ... or after this many seconds without one, whichever comes first
    velocity_gain: float = 0.5  # how fast a track's velocity follows its latest motion (0 = no prediction)


@dataclass
class _Track:
    track_id: int
    box: Box
    score: float
    last_seen: float
    missed: int = 0
    hits: int = 1
    vx: float = 0.0  # velocity of the box centre, pixels per second
    vy: float = 0.0

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

    def update(self, faces: Sequence, now: float | None = None) -> list[TrackedFace]:
        """Match this frame's detections to the tracks; returns the live tracks.

        A detection is a ``Face``, a ``Box``, an (x, y, w, h) tuple or any object with x, y, w, h and
        optionally score attributes (such as ``fera.runtime.detect.Detection``).
        """
        now = self.clock() if now is None else now
        dets = [Face.of(f) for f in faces]
        c = self.config
        matches: dict[int, int] = {}  # track index -> detection index

        boxes = [t.predicted(now, c.max_age_s) for t in self._tracks]
        pairs = [(b.iou(d.box), ti, di) for ti, b in enumerate(boxes) for di, d in enumerate(dets)]
        self._greedy(sorted((p for p in pairs if p[0] >= c.iou_min), key=lambda p: -p[0]), matches)
        pairs = [(b.centre_distance(d.box) / max(b.w, b.h, 1e-6), ti, di)
                 for ti, b in enumerate(boxes) for di, d in enumerate(dets)]
        self._greedy(sorted((p for p in pairs if p[0] <= c.centre_max), key=lambda p: p[0]), matches)

        for ti, t in enumerate(self._tracks):
            if ti in matches:
                d = dets[matches[ti]]
                dt = now - t.last_seen
                if dt > 0 and c.velocity_gain > 0:
                    t.vx += c.velocity_gain * ((d.box.cx - t.box.cx) / dt - t.vx)
                    t.vy += c.velocity_gain * ((d.box.cy - t.box.cy) / dt - t.vy)
                t.box, t.score, t.last_seen, t.missed, t.hits = d.box, d.score, now, 0, t.hits + 1
            else:
                t.missed += 1
        self._tracks = [t for t in self._tracks
                        if t.missed <= c.max_missed and now - t.last_seen <= c.max_age_s]
        for di in sorted(set(range(len(dets))) - set(matches.values())):
            self._tracks.append(_Track(self._next_id, dets[di].box, dets[di].score, now))
            self._next_id += 1
        return [TrackedFace(t.track_id, t.box, t.score, t.missed, t.hits)
                for t in sorted(self._tracks, key=lambda t: t.track_id)]

    @staticmethod
    def _greedy(pairs: list[tuple[float, int, int]], matches: dict[int, int]) -> None:
        used = set(matches.values())
        for _, ti, di in pairs:
            if ti not in matches and di not in used:
                matches[ti] = di
                used.add(di)
