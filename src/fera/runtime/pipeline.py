"""The assistant's pipeline: frame -> detect -> track -> classify -> smooth -> announce.

``Assistant.step`` handles one frame of a live or video stream and returns the announcer's
decisions; ``Assistant.finish`` says what is pending when a video ends; ``Assistant.photo`` describes
one still photo on its own (no tracking over time). Faces are found by fera's search rule
(``fera.runtime.search.Search``), and only confirmed tracks (seen in most of several recent frames) are
people: they alone are announced and returned. Every stage is injected, so tests can swap in fakes;
``Assistant.create`` builds the real ones from the runtime's settings (``fera.runtime.settings``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from fera.runtime import wording
from fera.runtime.announce import AnnounceConfig, Announcer
from fera.runtime.detect import DetectConfig
from fera.runtime.search import Search
from fera.runtime.smooth import SmoothConfig, Smoother
from fera.runtime.track import TrackConfig, Tracker
from fera.runtime.types import Decision, Expression, Face, FrameInfo, TrackedFace


@dataclass
class StepResult:
    frame: FrameInfo
    faces: list[TrackedFace]  # confirmed faces detected in this frame, with smoothed expressions, left to right
    decisions: list[Decision] = field(default_factory=list)


class Assistant:
    """``detector``: a ``fera.runtime.detect.Detector`` (or anything with ``detect``); ``classifier``: face boxes
    of a frame -> calibrated probabilities, with ``class_names`` (``fera.runtime.classify.Classifier``).
    ``detect``: the search settings (``DetectConfig``; ``tiled_photos`` overrides its own)."""

    def __init__(self, detector, classifier, announce: AnnounceConfig | None = None,
                 smooth: SmoothConfig | None = None, track: TrackConfig | None = None,
                 clock: Callable[[], float] | None = None, tiled_photos: bool | None = None,
                 detect: DetectConfig | None = None):
        self.detector, self.classifier = detector, classifier
        self.search = Search(detector, detect, tiled_photos)
        self.now = 0.0
        clock = clock or (lambda: self.now)  # by default: the frames' own timestamps
        self.tracker = Tracker(track, clock=clock)
        self.smoother = Smoother(classifier.class_names, smooth, clock=clock)
        self.announcer = Announcer(announce, clock=clock)
        self._clock = clock

    @classmethod
    def create(cls, settings=None, *, detector=None, classifier=None, clock=None) -> "Assistant":
        """The assistant of ``settings`` (``fera.runtime.settings.Settings``; default: every default): the one
        factory. ``detector`` and ``classifier``: loaded ones to share (a server's connections share one of each);
        otherwise they are built from ``settings``. The assistant gets its own copy of the settings, so changing one
        assistant's verbosity changes no other's."""
        import copy

        from fera.runtime.settings import Settings, build_classifier, build_detector

        s = copy.deepcopy(settings or Settings())
        return cls(detector or build_detector(s.detect), classifier or build_classifier(s.classify), s.announce,
                   s.smooth, s.track, clock, detect=s.detect)

    @property
    def verbosity(self) -> int:
        """How much is said (``fera.runtime.wording.VERBOSITY``)."""
        return self.announcer.config.verbosity

    def set_verbosity(self, verbosity: int) -> int:
        """Say the next announcements at ``verbosity`` (``wording.VERBOSITY``; anything else: ValueError, nothing
        changes)."""
        self.announcer.config.verbosity = wording.check_verbosity(verbosity)
        return verbosity

    def reset(self) -> None:
        """Start afresh: every track and every smoothed expression is forgotten, so the faces in view are
        found, confirmed and said again as new people."""
        self.tracker.reset()
        self.smoother.reset()

    def _order(self, faces: list[TrackedFace]) -> list[TrackedFace]:
        """Left to right as the user has them (``mirror`` reverses the camera's order)."""
        return wording.left_to_right(faces, self.announcer.config.mirror)

    def step(self, image: np.ndarray, timestamp: float) -> StepResult:
        """One frame of a stream: returns the tracked faces and what the announcer decided.

        ``image``: any size, grey or colour (see ``as_rgb``)."""
        from fera.runtime.detect import as_rgb

        image = as_rgb(image)
        self.now = timestamp
        h, w = image.shape[:2]
        tracks = self.tracker.update(self.search.frame(image))
        seen = [t for t in tracks if t.missed == 0]  # tentative ones too: their expression is ready when confirmed
        probs = self.classifier(image, [t.face.clip(w, h) for t in seen])
        for t, p in zip(seen, probs):
            t.probs = p
        people = [t for t in self.smoother.update(tracks) if t.confirmed]
        frame = FrameInfo.from_image(image, timestamp)
        # The announcer hears of every confirmed track, also one missed for a few frames (a turned head, a
        # blink of the detector), so "face lost" means the tracker gave the person up (about a second).
        decisions = self.announcer.update(frame, people)
        return StepResult(frame, self._order([t for t in people if t.missed == 0]), decisions)

    def finish(self) -> list[Decision]:
        """The end of a video: what was held long enough and only waited for a rate limit is said now."""
        return self.announcer.flush()

    def describe_now(self) -> Decision:
        return self.announcer.describe_now()

    def photo(self, image: np.ndarray) -> tuple[FrameInfo, list[TrackedFace], str]:
        """A still photo on its own: every face classified once; the sentence "describe now" would say."""
        from fera.runtime.detect import as_rgb

        image = as_rgb(image)
        h, w = image.shape[:2]
        faces = self.search.photo(image)
        boxes = [f.clip(w, h) for f in faces]
        probs = self.classifier(image, boxes)
        names = self.classifier.class_names
        tracked = []
        for i, (f, b, p) in enumerate(zip(faces, boxes, probs), start=1):
            k = int(np.argmax(p))
            tracked.append(TrackedFace(i, face=Face(b.x, b.y, b.w, b.h, score=f.score, keypoints=f.keypoints), probs=p,
                                       expression=Expression(names[k], float(p[k]), p, 0.0)))
        tracked = self._order(tracked)
        frame = FrameInfo.from_image(image, 0.0)
        quiet = Announcer(replace(self.announcer.config), clock=lambda: 0.0)  # no state shared between photos
        return frame, tracked, quiet.describe_now(frame, tracked).text

    def face_record(self, frame: FrameInfo, f: TrackedFace) -> dict:
        """One face for ``--json``: box, position, facing, expression (or "not sure"), confidence, probabilities."""
        w, e = self.announcer.words(f, frame), f.expression
        return {"box": {k: round(v, 1) for k, v in f.box.to_dict().items()},
                "position": w.position, "distance": w.distance, "facing": w.facing,
                "expression": None if e is None or w.level == "unsure" else e.label,
                "wording": wording.spoken(w, 2),
                "confidence": None if e is None else round(e.confidence, 4),
                "probabilities": None if e is None or e.probs is None else
                {n: round(float(p), 4) for n, p in zip(self.classifier.class_names, e.probs)}}
