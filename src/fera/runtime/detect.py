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

from fera.errors import FeraError, first_line
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


@runtime_checkable
class Detector(Protocol):
    """Anything that finds faces in an RGB uint8 frame (H x W x 3)."""

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


def _clusters(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float):
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
    for top, cluster in _clusters(boxes, scores, iou_threshold):
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

    ``model``: "short" (faces within about 2 m, 128 x 128 input) or "full" (up to about 5 m,
    192 x 192 input). ``min_score``: drop faces below this confidence. ``nms_iou``: boxes that
    overlap more than this are one face. The ONNX session is created on the first ``detect``.
    """

    def __init__(self, model: str = "short", min_score: float = 0.5, nms_iou: float = 0.3, *,
                 weighted_nms: bool = True, threads: int = 2, model_path: str | Path | None = None):
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
        import onnxruntime as ort

        if not self.model_path.is_file():
            raise FeraError(f"face detector model not found: {self.model_path}")
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            sess = ort.InferenceSession(str(self.model_path), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001  (onnxruntime raises its own, unexported types)
            raise FeraError(f"cannot load face detector {self.model_path}: {first_line(e)}") from None
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


def keep_faces(dets, config=None) -> list[Face]:
    """The detections whose keypoints make a face (``fera.runtime.geometry.plausible``)."""
    from fera.runtime.geometry import plausible

    return [d for d in dets if plausible(d.keypoints, d.w, d.h, d.x, d.y, config)]


def detect_padded(detector, image, factor: float = 2.0, min_size: float = 0.5) -> list[Face]:
    """The zoomed-out look: the frame centred in a black canvas ``factor`` times its size, for a face too
    close for one pass (it fills the frame, or runs off it). Only faces at least ``min_size`` of the frame's
    shorter side count: a smaller one the plain pass sees better, and at that size the letters of a title
    card never made a face in our measurements (``benchmarks/detect_recall.py``). The canvas is built at
    the detector's input size (the frame shrunk into its middle), so this costs one small detector run."""
    image = as_rgb(image)
    h, w = image.shape[:2]
    size = detector.input_size
    s = size / (factor * max(h, w))
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[y0:y0 + nh, x0:x0 + nw] = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR,
                                                                              reducing_gap=3.0))
    sx, sy = nw / w, nh / h
    return [Face((d.x - x0) / sx, (d.y - y0) / sy, d.w / sx, d.h / sy, score=d.score,
                 keypoints=tuple(((u - x0) / sx, (v - y0) / sy) for u, v in d.keypoints))
            for d in detector.detect(canvas) if d.h / sy >= min_size * min(h, w)]


def detect_frame(detector, image) -> list[Face]:
    """A camera or video frame: one pass, faces with a face's keypoints; when it finds none, the
    zoomed-out pass too (a face filling the frame)."""
    found = keep_faces(detector.detect(image))
    return found or keep_faces(detect_padded(detector, image))


def detect_tiled(detector, image, overlap: float = 0.25, levels: int = 3, tile_min_score: float = 0.75) -> list[Face]:
    """Faces in a still photo, small ones included: the whole frame and its zoomed-out copy (a close-up
    face), then overlapping square tiles of half, a quarter and an eighth of its shorter side (never
    smaller than the detector's input),
    so a group photo's small faces are seen at a size the detector finds. A tile's face counts only
    when it is not part of a face already found at a coarser level (an eye of a close face is not a
    face), not cut by an inner tile edge (the neighbouring tile has it whole) and scores at least
    ``tile_min_score`` (more looks, more chances of a false face, so a stricter bar). Every face must have
    a face's keypoints. About 15 detector runs for a 640 x 480 photo, 100 for 12 megapixels: for photos,
    not for live video.
    """
    image = as_rgb(image)
    h, w = image.shape[:2]
    iou = getattr(detector, "nms_iou", 0.3)
    found = _nms(keep_faces(detector.detect(image)) + keep_faces(detect_padded(detector, image)), iou)
    side = max(min(h, w) // 2, detector.input_size)
    for _ in range(levels):
        if side >= max(h, w) or side < detector.input_size:
            break
        sx, sy, level = min(side, w), min(side, h), []
        xs = sorted({*range(0, w - sx + 1, max(1, int(sx * (1 - overlap)))), w - sx})
        ys = sorted({*range(0, h - sy + 1, max(1, int(sy * (1 - overlap)))), h - sy})
        edge = 0.02 * side
        for y0 in ys:
            for x0 in xs:
                for d in detector.detect(image[y0:y0 + sy, x0:x0 + sx]):
                    if d.score < tile_min_score or ((x0 > 0 and d.x < edge) or (y0 > 0 and d.y < edge)
                            or (x0 + sx < w and d.x + d.w > sx - edge) or (y0 + sy < h and d.y + d.h > sy - edge)):
                        continue
                    level.append(Face(d.x + x0, d.y + y0, d.w, d.h, score=d.score,
                                      keypoints=tuple((u + x0, v + y0) for u, v in d.keypoints)))
        found += [d for d in _nms(keep_faces(level), iou)
                  if all(d.inside(f) < 0.3 for f in found)]
        side //= 2
    return _nms(found, iou)


def _nms(dets: list[Face], iou: float) -> list[Face]:
    """Plain non-maximum suppression: the best-scoring of overlapping detections, best first."""
    if not dets:
        return []
    boxes = np.array([d.xyxy for d in dets])
    return [dets[top] for top, _ in _clusters(boxes, np.array([d.score for d in dets]), iou)]
