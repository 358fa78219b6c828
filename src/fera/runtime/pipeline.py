"""The assistant's pipeline: frame -> detect -> track -> classify -> smooth -> announce.

``Assistant.step`` handles one frame of a live or video stream and returns the announcer's
decisions; ``Assistant.finish`` says what is pending when a video ends; ``Assistant.photo`` describes
one still photo on its own (no tracking over time). Faces whose detector keypoints do not make a face
are dropped, and only confirmed tracks (seen in most of several recent frames) are people: they alone
are announced and returned. Every stage is injected, so tests can swap in fakes; ``Assistant.create``
builds the real ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from fera.runtime import wording
from fera.runtime.announce import AnnounceConfig, Announcer
from fera.runtime.smooth import SmoothConfig, Smoother
from fera.runtime.track import TrackConfig, Tracker
from fera.runtime.types import Decision, Expression, Face, FrameInfo, TrackedFace


@dataclass
class DetectConfig:
    model: str = "full"  # BlazeFace "full" range (faces from ~70 px high in 640x480) or "short" (faster, close faces)
    min_score: float = 0.5  # detections below this are ignored
    tiled_photos: bool = True  # photos: also search overlapping tiles, for the small faces of a group photo


@dataclass
class StepResult:
    frame: FrameInfo
    faces: list[TrackedFace]  # confirmed faces detected in this frame, with smoothed expressions, left to right
    decisions: list[Decision] = field(default_factory=list)


class Assistant:
    def __init__(self, detector, classifier, announce: AnnounceConfig | None = None,
                 smooth: SmoothConfig | None = None, track: TrackConfig | None = None,
                 clock: Callable[[], float] | None = None, tiled_photos: bool = False, zoom_out: bool | None = None):
        self.detector, self.classifier = detector, classifier
        self.tiled_photos = tiled_photos
        # the zoomed-out pass for a face filling the frame needs a real detector (a fake's boxes do not move)
        self.zoom_out = hasattr(detector, "input_size") if zoom_out is None else zoom_out
        self.now = 0.0
        clock = clock or (lambda: self.now)  # by default: the frames' own timestamps
        self.tracker = Tracker(track, clock=clock)
        self.smoother = Smoother(classifier.class_names, smooth, clock=clock)
        self.announcer = Announcer(announce, clock=clock)
        self._clock = clock

    @classmethod
    def create(cls, detect: DetectConfig | None = None, classify=None, announce: AnnounceConfig | None = None,
               smooth: SmoothConfig | None = None, track: TrackConfig | None = None, clock=None) -> "Assistant":
        from fera.runtime.classify import Classifier
        from fera.runtime.detect import BlazeFaceDetector

        d = detect or DetectConfig()
        return cls(BlazeFaceDetector(d.model, min_score=d.min_score), Classifier(classify), announce, smooth,
                   track, clock, d.tiled_photos)

    @property
    def verbosity(self) -> int:
        """0 earcons only, 1 terse, 2 default, 3 adds distance, confidence and facing."""
        return self.announcer.config.verbosity

    def set_verbosity(self, verbosity: int) -> int:
        """Say the next announcements at ``verbosity`` (0-3; anything else: ValueError, nothing changes)."""
        if type(verbosity) is not int or not 0 <= verbosity <= 3:
            raise ValueError(f"verbosity must be 0, 1, 2 or 3 (got {str(verbosity)[:20]})")
        self.announcer.config.verbosity = verbosity
        return verbosity

    def reset(self) -> None:
        """Start afresh: every track and every smoothed expression is forgotten, so the faces in view are
        found, confirmed and said again as new people."""
        self.tracker.reset()
        self.smoother.reset()

    def _detect(self, image: np.ndarray, photo: bool = False) -> list[Face]:
        """Faces with a face's keypoints: photos get the tiled search (when on); a frame's one pass that finds
        none, or any photo, also gets the zoomed-out pass."""
        from fera.runtime.detect import detect_padded, detect_tiled, keep_faces

        if photo and self.tiled_photos:
            return detect_tiled(self.detector, image)
        faces = keep_faces(self.detector.detect(image))
        if self.zoom_out and (photo or not faces):
            faces += [f for f in keep_faces(detect_padded(self.detector, image)) if all(f.iou(g) <= 0.3 for g in faces)]
        return faces

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
        tracks = self.tracker.update(self._detect(image))
        seen = [t for t in tracks if t.missed == 0]  # tentative ones too: their expression is ready when confirmed
        probs = self.classifier(image, [t.box.clip(w, h) for t in seen])
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
        faces = self._detect(image, photo=True)
        boxes = [f.clip(w, h) for f in faces]
        probs = self.classifier(image, boxes)
        names = self.classifier.class_names
        tracked = []
        for i, (f, b, p) in enumerate(zip(faces, boxes, probs), start=1):
            k = int(np.argmax(p))
            tracked.append(TrackedFace(i, b, f.score, probs=p, expression=Expression(names[k], float(p[k]), p, 0.0),
                                       keypoints=f.keypoints))
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
