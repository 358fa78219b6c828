"""Plain dataclasses passed between the runtime stages; numpy only.

Coordinates are pixels of the frame, origin top-left, as the camera delivers it (not mirrored).
A detector returns ``Face``s (a ``Box`` with the detector's score and keypoints); the tracker turns each into a
``TrackedFace``, which has the ``Face`` of its latest detection; the classifier sets ``TrackedFace.probs``
(calibrated class probabilities); the smoother sets ``TrackedFace.expression``; the announcer returns
``Decision`` objects, each holding the ``Announcement`` it made (or would have made), which is what the speech
stage plays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

def iou_xyxy(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x1, y1, x2, y2) box with each of ``boxes`` (N, 4), 0 (disjoint) to 1 (identical); boxes
    with no area overlap nothing. ``Box.iou`` is this for one pair; non-maximum suppression uses it whole."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: top-left corner (x, y), width w, height h."""

    x: float
    y: float
    w: float
    h: float

    @classmethod
    def from_xyxy(cls, x1: float, y1: float, x2: float, y2: float) -> "Box":
        return cls(float(x1), float(y1), float(x2 - x1), float(y2 - y1))

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def centre(self) -> tuple[float, float]:
        return self.cx, self.cy

    @property
    def area(self) -> float:
        return max(0.0, self.w) * max(0.0, self.h)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.right, self.bottom

    def iou(self, other: "Box") -> float:
        """Intersection over union, 0 (disjoint) to 1 (identical) (``iou_xyxy`` for one pair)."""
        return float(iou_xyxy(np.array(self.xyxy, dtype=np.float64), np.array([other.xyxy], dtype=np.float64))[0])

    def inside(self, other: "Box") -> float:
        """The share of this box that lies inside ``other``."""
        iw = min(self.right, other.right) - max(self.x, other.x)
        ih = min(self.bottom, other.bottom) - max(self.y, other.y)
        return max(iw, 0.0) * max(ih, 0.0) / max(self.w * self.h, 1e-9)

    def centre_distance(self, other: "Box") -> float:
        """Distance between the two centres, in pixels."""
        return math.hypot(self.cx - other.cx, self.cy - other.cy)

    def clip(self, width: float, height: float) -> "Box":
        """The part of the box inside a width x height frame."""
        x1, y1 = min(max(self.x, 0.0), width), min(max(self.y, 0.0), height)
        x2, y2 = min(max(self.right, 0.0), width), min(max(self.bottom, 0.0), height)
        return Box(x1, y1, x2 - x1, y2 - y1)

    def to_dict(self) -> dict:
        return {k: round(float(getattr(self, k)), 1) for k in ("x", "y", "w", "h")}


Keypoints = tuple  # the detector's six (x, y) points in pixels (see fera.runtime.geometry), or () for none


@dataclass(frozen=True)
class Face(Box):
    """One detection in one frame: its box (pixels of the frame; may reach slightly outside it for a face cut
    by its edge), the detector's confidence and keypoints."""

    score: float = 1.0  # detector confidence, 0..1
    keypoints: Keypoints = ()

    @property
    def box(self) -> Box:
        """The box alone."""
        return Box(self.x, self.y, self.w, self.h)


@dataclass
class FrameInfo:
    """What the announcer needs to know about a frame (never the pixels)."""

    width: int
    height: int
    timestamp: float = 0.0  # seconds, same clock as the pipeline's
    brightness: float | None = None  # mean luminance 0..255; None = unknown (never "too dark")

    @classmethod
    def from_image(cls, image: np.ndarray, timestamp: float = 0.0) -> "FrameInfo":
        """From an (H, W) grey or (H, W, C) colour uint8 array; brightness is the mean over all channels."""
        h, w = image.shape[:2]
        return cls(int(w), int(h), float(timestamp), float(np.asarray(image, dtype=np.float32).mean()))


@dataclass
class Expression:
    """A track's smoothed expression: the top label after hysteresis and its calibrated probability."""

    label: str
    confidence: float  # smoothed calibrated probability of ``label``, 0..1
    probs: np.ndarray | None = None  # all smoothed probabilities, in the classifier's class order
    since: float | None = None  # when ``label`` became the smoothed top (the smoother's clock); None = unknown


class HasFace:
    """What a tracked face has through its ``face`` (the latest matched detection): the box, score and keypoints."""

    face: Face

    @property
    def box(self) -> Box:
        return self.face.box

    @property
    def score(self) -> float:
        """The detector's confidence of the latest matched detection."""
        return self.face.score

    @property
    def keypoints(self) -> Keypoints:
        return self.face.keypoints


@dataclass(init=False)
class TrackedFace(HasFace):
    """A face with an id kept across frames: the ``Face`` of its latest matched detection (box, score, keypoints),
    and what the later stages add: the classifier sets ``probs``, the smoother ``expression``."""

    track_id: int
    face: Face  # the latest matched detection
    missed: int = 0  # frames since the track was last matched (0 = detected in this frame)
    hits: int = 1  # frames in which the track was matched
    probs: np.ndarray | None = None  # calibrated class probabilities of this frame; None = not classified
    expression: Expression | None = None  # smoothed expression; None = nothing known yet
    confirmed: bool = True  # seen in most of several recent frames (the tracker's rule); only these are people

    def __init__(self, track_id: int, box: Box | None = None, score: float = 1.0, missed: int = 0, hits: int = 1,
                 probs: np.ndarray | None = None, expression: Expression | None = None, keypoints: Keypoints = (),
                 confirmed: bool = True, *, face: Face | None = None):
        """``face``, or one made of ``box``, ``score`` and ``keypoints``."""
        self.track_id = track_id
        self.face = face if face is not None else Face(box.x, box.y, box.w, box.h, score=score, keypoints=keypoints)
        self.missed, self.hits, self.probs, self.expression, self.confirmed = missed, hits, probs, expression, confirmed


@dataclass(kw_only=True)
class Announcement:
    """What the speech stage plays: ``text`` (may be empty at verbosity 0) and/or an earcon."""

    text: str
    track_id: int | None
    reason: str
    kind: str  # "expression", "status" or "describe"
    earcon: str | None = None  # sound name: an expression label or a status code ("no_face", ...)
    position: str | None = None  # "left" / "ahead" / "right", e.g. to pan the earcon
    name: str | None = None  # what it is about, e.g. the photo's file name (names the WAV files of --audio_dir)
    line: str = ""  # the text line for a face ("left: appears happy"); "": the text, else the status words


SAID = ("text", "line", "reason", "track_id", "kind", "earcon", "position")  # a decision's words: its announcement's
RECORD = ("spoken", "text", "reason", "track_id", "time", "kind", "code", "label", "position", "distance",
          "confidence", "earcon", "facing")  # a decision's --json object, in this order


@dataclass(init=False)
class Decision:
    """One decision of the announcer, spoken or suppressed, with its reason (one ``--json`` object each). It holds
    the ``Announcement`` it made (``said``: spoken, or what would have been); its words (``text``, ``line``,
    ``reason``, ``track_id``, ``kind``, ``earcon``, ``position``) are that announcement's.

    Built by keyword: ``Decision(spoken=..., time=..., text=..., reason=..., track_id=..., kind=..., ...)`` (the
    words go to the announcement; ``kind`` is "expression" unless given) or ``Decision(spoken=..., time=...,
    said=Announcement(...))``."""

    spoken: bool
    said: Announcement
    time: float  # announcer clock, seconds
    code: str = ""  # machine-readable reason: "spoken", "held_too_short", "global_rate_limit", ...
    label: str | None = None  # expression label or status code
    distance: str | None = None
    confidence: float | None = None
    facing: str | None = None  # "you", "left" or "right" when the keypoints say so reliably

    def __init__(self, *, spoken: bool, time: float, said: Announcement | None = None, code: str = "",
                 label: str | None = None, distance: str | None = None, confidence: float | None = None,
                 facing: str | None = None, **words):
        if said is None:
            said = Announcement(**{"kind": "expression", **words})
        elif words:
            raise TypeError(f"Decision: give the announcement or its words, not both ({', '.join(words)})")
        self.spoken, self.said, self.time, self.code = spoken, said, time, code
        self.label, self.distance, self.confidence, self.facing = label, distance, confidence, facing

    @property
    def announcement(self) -> Announcement | None:
        """What the speech stage plays: the announcement when spoken, else None."""
        return self.said if self.spoken else None

    def to_dict(self) -> dict:
        """The --json record: the text and its parts (not the text line)."""
        d = {k: getattr(self, k) for k in RECORD}
        d["time"] = round(self.time, 3)
        if self.confidence is not None:
            d["confidence"] = round(float(self.confidence), 3)
        return d


def _said(name: str) -> property:
    return property(lambda self: getattr(self.said, name), lambda self, v: setattr(self.said, name, v),
                    doc=f"The announcement's {name}.")


for _name in SAID:
    setattr(Decision, _name, _said(_name))
