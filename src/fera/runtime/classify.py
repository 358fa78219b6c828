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


def square_geometry(box: Box, margin: float) -> tuple[int, int, int]:
    """(x0, y0, side): the corner and side of the square crop of ``margin`` times the box's longer side."""
    side = max(2, int(round(max(box.w, box.h) * margin)))
    return int(round(box.cx - side / 2)), int(round(box.cy - side / 2)), side


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

            model = shipped.load_onnx(self.config.model, int8=self.config.int8)
        self.model = model

    @property
    def class_names(self) -> list[str]:
        return self.model.class_names

    def crops(self, image: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        return [square_crop(image, b, self.config.margin) for b in boxes]

    def __call__(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """(len(boxes), classes) calibrated probabilities, in ``class_names`` order."""
        if not boxes:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return self.model.predict(self.crops(image, boxes), flip=self.config.flip)
