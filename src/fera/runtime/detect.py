"""Offline face detection: MediaPipe BlazeFace (short or full range) run through ONNX Runtime.

The two models ship in ``fera/assets/detector`` (Apache-2.0, see the README and LICENSE there);
nothing is downloaded. The pre- and post-processing follow MediaPipe's face detection graphs:
letterbox the RGB frame to the model's square input scaled to [-1, 1], generate the SSD anchors
the way ``SsdAnchorsCalculator`` does, decode boxes and the 6 keypoints as
``TensorsToDetectionsCalculator`` does (scores: clipped logits through a sigmoid), merge
overlapping boxes with MediaPipe's weighted non-maximum suppression, and undo the letterbox so
every coordinate is in pixels of the frame that was passed in.

Importing this module needs numpy and Pillow only (onnxruntime is imported when the first
frame is detected); no Keras, TensorFlow or PyTorch.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from fera.errors import FeraError
from fera.runtime.types import Face, iou_xyxy

DETECTOR_DIR = Path(__file__).resolve().parent.parent / "assets" / "detector"

#: The 6 BlazeFace keypoints, in the model's order (left/right as seen by the person photographed).
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


@dataclass(frozen=True)
class _Spec:
    """One BlazeFace model: file, square input side, SSD anchor options (MediaPipe's graph values)."""

    filename: str
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    num_anchors: int


MODELS = {
    # mediapipe/modules/face_detection/face_detection_short_range.pbtxt
    "short": _Spec("face_detection_short_range.onnx", 128, (8, 16, 16, 16), 1.0, 896),
    # mediapipe/modules/face_detection/face_detection_full_range_common.pbtxt
    "full": _Spec("face_detection_full_range.onnx", 192, (4,), 0.0, 2304),
}
SCORE_CLIPPING_THRESH = 100.0  # TensorsToDetectionsCalculator.score_clipping_thresh
NUM_KEYPOINTS = 6


DETECTORS = ("full", "short")  # the BlazeFace ranges, as the commands offer them


@dataclass
class DetectConfig:
    """Finding faces: the detector (``BlazeFaceDetector`` takes its defaults from here) and the search
    (``fera.runtime.search.Search``)."""

    model: str = "full"  # BlazeFace "full" range (faces from ~70 px high in 640x480) or "short" (faster, close faces)
    min_score: float = 0.5  # detections below this are ignored
    nms_iou: float = 0.3  # boxes that overlap more than this are one face
    tiled_photos: bool = True  # photos: also search overlapping tiles, for the small faces of a group photo
    threads: int = 2  # ONNX Runtime threads of the detector


@runtime_checkable
class Detector(Protocol):
    """What fera's search calls on a face detector (``BlazeFaceDetector`` is one): ``detect`` finds the faces in
    an RGB uint8 frame (H x W x 3), in its pixels, best first; ``input_size`` is the side of the model's square
    input, which the zoomed-out and tiled passes size their canvases and tiles by. Something that only detects
    (a test's scripted detector) gets the plain pass alone (``fera.runtime.search``)."""

    input_size: int

    def detect(self, image: np.ndarray) -> list[Face]: ...


def ssd_anchors(input_size: int, strides: tuple[int, ...], interpolated_scale_aspect_ratio: float,
                offset: float = 0.5) -> np.ndarray:
    """Anchor centres (N, 2) as x, y in [0, 1], in MediaPipe ``SsdAnchorsCalculator`` order.

    Only the centres matter: the face models use ``fixed_anchor_size`` (every anchor 1 x 1) and one
    aspect ratio (1.0), plus one interpolated-scale anchor per layer when the ratio is > 0.
    Consecutive layers with the same stride share one feature map, their anchors interleaved per cell.
    """
    out = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 1 + (interpolated_scale_aspect_ratio > 0)
            last += 1
        fm = math.ceil(input_size / strides[layer])
        ys, xs = np.meshgrid((np.arange(fm) + offset) / fm, (np.arange(fm) + offset) / fm, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)  # row-major: y outer, x inner
        out.append(np.repeat(centres, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float, float]:
    """Fit the frame in a size x size black square, centred, aspect ratio kept.

    Returns the NHWC float32 tensor in [-1, 1] and (scale_x, scale_y, pad_x, pad_y) such that
    model-input pixel u = x * scale_x + pad_x.
    """
    h, w = image.shape[:2]
    s = min(size / w, size / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    resized = Image.fromarray(image).resize((nw, nh), Image.BILINEAR, reducing_gap=3.0) if (nw, nh) != (w, h) else image
    canvas[py:py + nh, px:px + nw] = np.asarray(resized)
    tensor = canvas.astype(np.float32) * (2.0 / 255.0) - 1.0
    return tensor[None], nw / w, nh / h, float(px), float(py)


def clusters(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float):
    """Greedy suppression, best score first: (best index, its cluster: the indices overlapping it by
    IoU > threshold, itself included), each box in one cluster."""
    order = np.argsort(-scores, kind="stable")
    while order.size:
        top = order[0]
        overlap = iou_xyxy(boxes[top], boxes[order]) > iou_threshold
        overlap[0] = True
        yield top, order[overlap]
        order = order[~overlap]


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float,
                 weighted: bool = True) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-maximum suppression (or plain NMS with ``weighted=False``).

    Take the best remaining box; every remaining box overlapping it by IoU > threshold joins its
    cluster and is removed; the output is the score-weighted mean of the cluster's boxes and
    keypoints, with the best box's score.
    """
    out = []
    for top, cluster in clusters(boxes, scores, iou_threshold):
        if weighted:
            wts = scores[cluster] / scores[cluster].sum()
            box = (boxes[cluster] * wts[:, None]).sum(axis=0)
            kps = (keypoints[cluster] * wts[:, None, None]).sum(axis=0)
        else:
            box, kps = boxes[top], keypoints[top]
        out.append((box, kps, float(scores[top])))
    return out


def as_rgb(image) -> np.ndarray:
    """An RGB uint8 H x W x 3 array from a PIL image or an array of any usual layout: H x W grey,
    H x W x 1, x 2 (grey + alpha), x 3 RGB, x 4 RGBA; uint8, 16-bit (scaled down), bool, or float
    (0..1 when its maximum is at most 1, else 0..255). Alpha is dropped (a PIL image's transparency goes on
    white)."""
    from fera.images import frame_to_rgb, to_rgb

    if isinstance(image, Image.Image):  # transparency on white, as every decoded photo
        image = to_rgb(image)
    return frame_to_rgb(image, order="RGB")


class BlazeFaceDetector:
    """MediaPipe BlazeFace through ONNX Runtime.

    ``model``: "full" (faces up to about 5 m, 192 x 192 input; the default, ``DetectConfig.model``) or "short"
    (within about 2 m, 128 x 128 input). ``min_score``: drop faces below this confidence. ``nms_iou``: boxes that
    overlap more than this are one face. The ONNX session is created on the first ``detect``.
    """

    def __init__(self, model: str = DetectConfig.model, min_score: float = DetectConfig.min_score,
                 nms_iou: float = DetectConfig.nms_iou, *, weighted_nms: bool = True,
                 threads: int = DetectConfig.threads, model_path: str | Path | None = None):
        if model not in MODELS:
            raise FeraError(f"unknown face detector model {model!r}: choose one of {sorted(MODELS)}")
        if not 0.0 <= min_score <= 1.0 or not 0.0 <= nms_iou <= 1.0:
            raise FeraError("min_score and nms_iou must be in [0, 1]")
        self.model = model
        self.spec = MODELS[model]
        self.min_score = float(min_score)
        self.nms_iou = float(nms_iou)
        self.weighted_nms = weighted_nms
        self.threads = threads
        self.model_path = Path(model_path) if model_path else DETECTOR_DIR / self.spec.filename
        self.anchors = ssd_anchors(self.spec.input_size, self.spec.strides, self.spec.interpolated_scale_aspect_ratio)
        self._session = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BlazeFaceDetector(model={self.model!r}, min_score={self.min_score}, nms_iou={self.nms_iou})"

    @property
    def input_size(self) -> int:
        return self.spec.input_size

    @property
    def session(self):
        """The ONNX Runtime session, created (and checked against the anchors) on first use."""
        with self._lock:
            if self._session is None:
                self._session = self._load()
        return self._session

    def _load(self):
        from fera.inference import session

        if not self.model_path.is_file():
            raise FeraError(f"face detector model not found: {self.model_path}")
        sess = session(self.model_path, self.threads, "face detector")
        shape = sess.get_inputs()[0].shape
        size = self.spec.input_size
        if list(shape[1:]) != [size, size, 3]:
            raise FeraError(f"{self.model_path}: input shape {shape}, expected [1, {size}, {size}, 3]")
        outs = {tuple(o.shape[1:]): o.name for o in sess.get_outputs()}
        n = len(self.anchors)
        if n != self.spec.num_anchors or (n, 16) not in outs or (n, 1) not in outs:
            raise FeraError(f"{self.model_path}: outputs {list(outs)} do not match {n} anchors")
        self._names = (sess.get_inputs()[0].name, outs[(n, 16)], outs[(n, 1)])
        return sess

    def raw(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on an NHWC [-1, 1] tensor: (regressors (N, 16), logits (N,))."""
        sess = self.session
        inp, reg, cls = self._names
        r, c = sess.run([reg, cls], {inp: tensor})
        return r[0], c[0, :, 0]

    def detect(self, image) -> list[Face]:
        """Faces in an RGB uint8 frame (H x W x 3), best first, in the frame's pixel coordinates; keypoints in
        ``KEYPOINT_NAMES`` order."""
        image = as_rgb(image)
        size = self.spec.input_size
        tensor, sx, sy, px, py = letterbox(image, size)
        reg, logits = self.raw(tensor)
        logits = np.clip(logits.astype(np.float64), -SCORE_CLIPPING_THRESH, SCORE_CLIPPING_THRESH)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        reg, scores, anchors = reg[keep].astype(np.float64), scores[keep], self.anchors[keep]
        # Offsets are in input pixels relative to the anchor centre; anchors are 1 x 1 (normalized).
        cx = reg[:, 0] / size + anchors[:, 0]
        cy = reg[:, 1] / size + anchors[:, 1]
        bw, bh = reg[:, 2] / size, reg[:, 3] / size
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        kps = reg[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) / size + anchors[:, None, :]
        valid = (bw > 0) & (bh > 0)
        boxes, kps, scores = boxes[valid], kps[valid], scores[valid]
        found = []
        for box, kp, score in weighted_nms(boxes, kps, scores, self.nms_iou, self.weighted_nms):
            # normalized letterboxed coordinates -> original frame pixels
            x0, x1 = (box[[0, 2]] * size - px) / sx
            y0, y1 = (box[[1, 3]] * size - py) / sy
            points = tuple((float((u * size - px) / sx), float((v * size - py) / sy)) for u, v in kp)
            found.append(Face(float(x0), float(y0), float(x1 - x0), float(y1 - y0), score=score, keypoints=points))
        return found
