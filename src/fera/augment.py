"""Training batches: in-memory arrays -> shuffled, augmented, rescaled batches (backend-agnostic).

Augmentation draws one random affine transform per image (rotation, shift, shear, zoom,
horizontal flip, as ImageDataGenerator does) and applies the whole batch in a single
``keras.ops.image.affine_transform`` call. Randomness comes from (seed, epoch, batch), so a
resumed run sees exactly the batches it would have seen.
"""
from __future__ import annotations

import math

import keras
import numpy as np

from fera.config import AugmentConfig


def random_affine(rng: np.random.Generator, n: int, height: int, width: int, cfg: AugmentConfig) -> np.ndarray:
    """(n, 8) transforms mapping output pixels to input pixels, about the image centre."""
    theta = np.deg2rad(rng.uniform(-cfg.rotation, cfg.rotation, n))
    shear = np.deg2rad(rng.uniform(-cfg.shear, cfg.shear, n))
    zx, zy = rng.uniform(1 - cfg.zoom, 1 + cfg.zoom, (2, n))
    flip = np.where(rng.random(n) < 0.5, -1.0, 1.0) if cfg.horizontal_flip else np.ones(n)
    tx = rng.uniform(-cfg.shift, cfg.shift, n) * width
    ty = rng.uniform(-cfg.shift, cfg.shift, n) * height
    # A = rotation @ shear @ diag(zoom * flip)
    cos, sin = np.cos(theta), np.sin(theta)
    a00 = cos * zx * flip
    a01 = (-cos * np.sin(shear) - sin * np.cos(shear)) * zy
    a10 = sin * zx * flip
    a11 = (-sin * np.sin(shear) + cos * np.cos(shear)) * zy
    cx, cy = (width - 1) / 2, (height - 1) / 2
    b0 = cx - a00 * cx - a01 * cy + tx
    b1 = cy - a10 * cx - a11 * cy + ty
    zeros = np.zeros(n)
    return np.stack([a00, a01, b0, a10, a11, b1, zeros, zeros], axis=1).astype("float32")


def augment(x: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Randomly transform a float batch (n, h, w, 1); edges are filled with the nearest pixel."""
    n, h, w = x.shape[:3]
    out = keras.ops.image.affine_transform(x, random_affine(rng, n, h, w, cfg), interpolation="bilinear",
                                           fill_mode="nearest", data_format="channels_last")
    return keras.ops.convert_to_numpy(out)


class Batches(keras.utils.PyDataset):
    """Batches of (images in [0, 1] as (n, h, w, 1), one-hot labels[, per-sample class weights])."""

    def __init__(self, x: np.ndarray, y: np.ndarray, num_classes: int, batch_size: int, *, seed: int = 0,
                 shuffle: bool = False, augment_cfg: AugmentConfig | None = None,
                 class_weight: dict[int, float] | None = None):
        super().__init__()
        self.x, self.y, self.num_classes, self.batch_size = x, y, num_classes, batch_size
        self.seed, self.shuffle, self.augment_cfg = seed, shuffle, augment_cfg
        self.weights = None if class_weight is None else np.array([class_weight[i] for i in range(num_classes)],
                                                                   dtype="float32")
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Shuffle order and augmentation are a function of (seed, epoch) only."""
        self.epoch = epoch
        n = len(self.y)
        self.order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __getitem__(self, i: int):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        xb = self.x[idx].astype("float32")[..., None] / 255.0
        if self.augment_cfg is not None:
            xb = augment(xb, np.random.default_rng([self.seed, self.epoch, i]), self.augment_cfg)
        yb = np.eye(self.num_classes, dtype="float32")[self.y[idx]]
        if self.weights is None:
            return xb, yb
        return xb, yb, self.weights[self.y[idx]]
