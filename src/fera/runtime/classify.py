"""Classify: face boxes in a frame -> calibrated expression probabilities, batched per frame.

FER-2013 faces are roughly square crops from the brow to the chin with a little margin, so a
detector box is squared and enlarged by ``margin`` before it is cut out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fera.runtime.types import Box


@dataclass
class ClassifyConfig:
    model: str = "fast"  # a shipped model name or an .onnx file
    int8: bool = False  # use the shipped int8 file when there is one
    flip: bool = False  # average with the mirrored face (about twice the time, slightly more accurate)
    margin: float = 1.25  # the square crop's side, as a multiple of the box's longer side
    threads: int | None = None  # ONNX Runtime threads of the model (None: up to 4)


def square_geometry(box: Box, margin: float) -> tuple[int, int, int]:
    """(x0, y0, side): the corner and side of the square crop of ``margin`` times the box's longer side."""
    side = max(2, int(round(max(box.w, box.h) * margin)))
    return int(round(box.cx - side / 2)), int(round(box.cy - side / 2)), side


def square_face(image: np.ndarray, box: Box, margin: float, size: tuple[int, int], resize: str) -> np.ndarray:
    """The model's uint8 grayscale input (``size`` = (h, w)) of one face: the square crop of ``square_crop``, made
    from a view of the frame (only the crop is converted to grey and padded by repetition), resized by the
    model's ``resize`` method (``fera.images.resize_gray``). The same pixels as ``square_crop`` followed by
    ``fera.inference.preprocess``, without copying or converting the rest of the frame."""
    import cv2

    from fera.images import resize_gray

    h, w = image.shape[:2]
    x0, y0, side = square_geometry(box, margin)
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if xa >= xb or ya >= yb:  # wholly outside the frame: the nearest edge pixels, repeated
        xa, ya = min(max(x0, 0), w - 1), min(max(y0, 0), h - 1)
        xb, yb = xa + 1, ya + 1
    region = image[ya:yb, xa:xb]
    gray = region if region.ndim == 2 else cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)  # a view: rows need not touch
    if (xa, ya, xb, yb) != (x0, y0, x0 + side, y0 + side):
        gray = cv2.copyMakeBorder(gray, max(0, ya - y0), max(0, y0 + side - yb), max(0, xa - x0),
                                  max(0, x0 + side - xb), cv2.BORDER_REPLICATE)
    return resize_gray(gray, size, resize)


def square_crop(image: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """A square crop of ``margin`` times the box's longer side around its centre (edges padded by repetition)."""
    h, w = image.shape[:2]
    x0, y0, side = square_geometry(box, margin)
    ys = np.clip(np.arange(y0, y0 + side), 0, h - 1)
    xs = np.clip(np.arange(x0, x0 + side), 0, w - 1)
    return image[ys[:, None], xs[None, :]]


class Classifier:
    """Runs a fera ONNX model on the faces of a frame (one batch per frame)."""

    def __init__(self, config: ClassifyConfig | None = None, model=None):
        self.config = config or ClassifyConfig()
        if model is None:
            from fera import shipped

            model = shipped.load_onnx(self.config.model, int8=self.config.int8, threads=self.config.threads)
        self.model = model
        self._input = None  # (input size, resize method), read from the model's metadata once

    @property
    def class_names(self) -> list[str]:
        return self.model.class_names

    def crops(self, image: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        return [square_crop(image, b, self.config.margin) for b in boxes]

    def inputs(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """(len(boxes), h, w) uint8: each face as the model takes it, before scaling (``square_face``)."""
        if self._input is None:
            from fera.images import resize_of

            self._input = (tuple(self.model.meta["input_size"]), resize_of(self.model.meta))
        size, resize = self._input
        out = np.empty((len(boxes), *size), dtype=np.uint8)
        for i, b in enumerate(boxes):
            out[i] = square_face(image, b, self.config.margin, size, resize)
        return out

    def model_input(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """The faces as the model takes them (NHWC float32): ``inputs``, scaled as its metadata says."""
        return self.model.scaled(self.inputs(image, boxes))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of a ``model_input`` batch (the faces of one frame or of many), in
        ``class_names`` order (flip-averaged when ``config.flip``)."""
        if len(x) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return self.model.predict_array(x, flip=self.config.flip)

    def __call__(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """(len(boxes), classes) calibrated probabilities, in ``class_names`` order."""
        if not boxes:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return self.probabilities(self.model_input(image, boxes))
