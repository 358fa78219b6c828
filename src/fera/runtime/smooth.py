"""Smoothing: per-track exponential moving average of class probabilities, with label hysteresis.

The weight of a new frame is ``alpha = 1 - exp(-dt / tau)`` with ``dt`` the real time since the
track's previous frame, so the result does not depend on the frame rate: after ``tau`` seconds of a
new steady input the average has moved 63% of the way, after 3 ``tau`` 95%. The smoothed label only
switches when the new top class beats the current label's smoothed probability by ``switch_margin``.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from fera.runtime.types import Expression, TrackedFace


@dataclass
class SmoothConfig:
    tau_s: float = 0.3  # time constant of the moving average, seconds (0 = no smoothing)
    switch_margin: float = 0.1  # the label changes only when the new top is this much more probable


@dataclass
class _State:
    probs: np.ndarray
    label: int
    last_t: float
    since: float  # when ``label`` became the top


class Smoother:
    """``update(faces)`` once per frame returns the faces with ``expression`` set from their ``probs``;
    ``class_names`` are the classifier's, in the order of its probabilities."""

    def __init__(self, class_names: Sequence[str], config: SmoothConfig | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.class_names = list(class_names)
        self.config = config or SmoothConfig()
        self.clock = clock
        self._states: dict[int, _State] = {}

    def reset(self) -> None:
        self._states.clear()

    def alpha(self, dt: float) -> float:
        """Weight of a frame arriving ``dt`` seconds after the previous one."""
        if self.config.tau_s <= 0:
            return 1.0
        return 1.0 - math.exp(-max(dt, 0.0) / self.config.tau_s)

    def update(self, faces: Sequence[TrackedFace], now: float | None = None) -> list[TrackedFace]:
        """Faces with ``probs`` None (not classified this frame) keep their previous expression.

        Tracks absent from ``faces`` are forgotten (the tracker dropped them).
        """
        now = self.clock() if now is None else now
        self._states = {f.track_id: self._states[f.track_id] for f in faces if f.track_id in self._states}
        return [dataclasses.replace(f, expression=self._step(f, now)) for f in faces]

    def _step(self, face: TrackedFace, now: float) -> Expression | None:
        st = self._states.get(face.track_id)
        if face.probs is not None:
            p = np.asarray(face.probs, dtype=np.float64).reshape(-1)
            if p.size != len(self.class_names):
                raise ValueError(f"{p.size} probabilities for {len(self.class_names)} classes")
            if st is None:
                st = self._states[face.track_id] = _State(p.copy(), int(np.argmax(p)), now, now)
            else:
                st.probs = st.probs + self.alpha(now - st.last_t) * (p - st.probs)
                st.last_t = now
                top = int(np.argmax(st.probs))
                if top != st.label and st.probs[top] >= st.probs[st.label] + self.config.switch_margin:
                    st.label, st.since = top, now
        if st is None:
            return None
        return Expression(self.class_names[st.label], float(st.probs[st.label]), st.probs.copy(), st.since)
