"""Where fera looks for faces in a frame: the detection rule, written once, for every command and the benchmarks.

A camera or video frame gets one pass of the detector, and, when it finds no face, the zoomed-out pass (the
frame shrunk into the middle of the detector's input, for a face that fills the frame or runs off it). A still
photo is searched whole, zoomed out and in overlapping tiles (``DetectConfig.tiled_photos``), so the small faces
of a group photo are found too. Every face must have a face's keypoints (``keep_faces``). The zoomed-out and tiled
passes need the detector's input size (``fera.runtime.detect.Detector``): a detector without one gets the plain
pass alone. The page's JavaScript runtime does the same (``static/js/search.mjs``).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from fera.runtime.detect import DetectConfig, Detector, as_rgb, clusters
from fera.runtime.types import Face


class Search:
    """The faces ``detector`` finds by fera's rule: ``frame`` for a camera or video frame, ``photo`` for a still
    photo. ``config``: the search settings (default ``DetectConfig()``); ``tiled_photos`` overrides its
    ``tiled_photos``."""

    def __init__(self, detector, config: DetectConfig | None = None, tiled_photos: bool | None = None):
        self.detector, self.config = detector, config or DetectConfig()
        self.tiled = self.config.tiled_photos if tiled_photos is None else tiled_photos
        self.sized = isinstance(detector, Detector)  # the zoomed-out and tiled passes work at its input size

    def frame(self, image: np.ndarray) -> list[Face]:
        """A camera or video frame: one pass; when it finds no face, the zoomed-out pass too."""
        faces = keep_faces(self.detector.detect(image))
        if self.sized and not faces:
            faces = keep_faces(detect_padded(self.detector, image))
        return faces

    def photo(self, image: np.ndarray) -> list[Face]:
        """A still photo: whole, zoomed out and in tiles (``detect_tiled``); without tiles, the whole photo and the
        zoomed-out pass's faces that are not the same face again."""
        if self.tiled and self.sized:
            return detect_tiled(self.detector, image, iou=self.config.nms_iou)
        faces = keep_faces(self.detector.detect(image))
        if self.sized:
            iou = self.config.nms_iou
            faces += [f for f in keep_faces(detect_padded(self.detector, image)) if all(f.iou(g) <= iou for g in faces)]
        return faces


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


def detect_tiled(detector, image, overlap: float = 0.25, levels: int = 3, tile_min_score: float = 0.75,
                 iou: float = DetectConfig.nms_iou) -> list[Face]:
    """Faces in a still photo, small ones included: the whole frame and its zoomed-out copy (a close-up
    face), then overlapping square tiles of half, a quarter and an eighth of its shorter side (never
    smaller than the detector's input),
    so a group photo's small faces are seen at a size the detector finds. A tile's face counts only
    when it is not part of a face already found at a coarser level (an eye of a close face is not a
    face), not cut by an inner tile edge (the neighbouring tile has it whole) and scores at least
    ``tile_min_score`` (more looks, more chances of a false face, so a stricter bar); detections overlapping
    by more than ``iou`` are one face. Every face must have a face's keypoints. About 15 detector runs for a 640 x 480 photo, 100 for 12 megapixels: for photos,
    not for live video.
    """
    image = as_rgb(image)
    h, w = image.shape[:2]
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
    return [dets[top] for top, _ in clusters(boxes, np.array([d.score for d in dets]), iou)]
