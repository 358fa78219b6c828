"""Training batches: in-memory arrays -> shuffled, augmented, rescaled batches (backend-agnostic).

Augmentation draws one random affine transform per image (rotation, shift, shear, zoom,
horizontal flip, as ImageDataGenerator does; optionally a random crop) and warps each image with
OpenCV on the CPU (bilinear, edges filled with the nearest pixel): about 30x faster than Keras'
``affine_transform``, which loops over the batch on the torch backend, and the same on every
backend. Random erasing is optional. Randomness comes from (seed, epoch, batch), so a resumed
run sees exactly the batches it would have seen.
"""
from __future__ import annotations

import math

import cv2
import keras
import numpy as np

from fera.images import to_model_input
from fera.training.config import AugmentConfig
from fera.training.modelio import PREPROCESSING


def random_affine(rng: np.random.Generator, n: int, height: int, width: int, cfg: AugmentConfig) -> np.ndarray:
    """(n, 8) transforms mapping output pixels to input pixels, about the image centre."""
    theta = np.deg2rad(rng.uniform(-cfg.rotation, cfg.rotation, n))
    shear = np.deg2rad(rng.uniform(-cfg.shear, cfg.shear, n))
    zx, zy = rng.uniform(1 - cfg.zoom, 1 + cfg.zoom, (2, n))
    flip = np.where(rng.random(n) < 0.5, -1.0, 1.0) if cfg.horizontal_flip else np.ones(n)
    tx = rng.uniform(-cfg.shift, cfg.shift, n) * width
    ty = rng.uniform(-cfg.shift, cfg.shift, n) * height
    if cfg.crop:  # a random crop of the image padded by `crop` pixels = a whole-pixel shift
        tx = tx + rng.integers(-cfg.crop, cfg.crop + 1, n)
        ty = ty + rng.integers(-cfg.crop, cfg.crop + 1, n)
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
    t = random_affine(rng, n, h, w, cfg)
    out = np.empty_like(x)
    for i in range(n):  # t maps output pixels to input pixels, hence WARP_INVERSE_MAP
        out[i, ..., 0] = cv2.warpAffine(x[i, ..., 0], t[i, :6].reshape(2, 3), (w, h),
                                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    if cfg.erasing:
        random_erasing(out, rng, cfg.erasing)
    return out


def random_erasing(x: np.ndarray, rng: np.random.Generator, p: float, area=(0.02, 0.25), aspect=(0.3, 3.3)) -> None:
    """Zhong et al. (2020), in place: with probability p per image, one rectangle covering ``area`` of it
    (aspect ratio in ``aspect``) is filled with uniform noise in [0, 1]."""
    n, h, w = x.shape[:3]
    hit = rng.random(n) < p
    frac = rng.uniform(*area, n)
    ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1]), n))
    eh = np.clip(np.round(np.sqrt(frac * h * w * ratio)), 1, h).astype(int)
    ew = np.clip(np.round(np.sqrt(frac * h * w / ratio)), 1, w).astype(int)
    top, left = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
    for i in np.flatnonzero(hit):
        x[i, top[i]:top[i] + eh[i], left[i]:left[i] + ew[i]] = rng.random((eh[i], ew[i]) + x.shape[3:], dtype=x.dtype)


class Batches(keras.utils.PyDataset):
    """Batches of (model input (n, h, w, 1), targets[, per-sample class weights]).

    The images become model input as ``meta["preprocessing"]`` says (default: fera's, pixels in [0, 1]).
    Targets are one-hot labels of ``y``, or with ``targets`` ((N, classes) distributions, FER+ votes) what the
    ``labels`` scheme makes of them: the distribution itself ("crossentropy"), one class drawn from it for each
    image and epoch ("probability"), or the multi-target 0/1 targets ("multi_target"). A sample's class weight
    is its target distribution's mean of the class weights (its class's weight for a one-hot target).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, num_classes: int, batch_size: int, *, seed: int = 0,
                 shuffle: bool = False, augment_cfg: AugmentConfig | None = None,
                 class_weight: dict[int, float] | None = None, targets: np.ndarray | None = None,
                 labels: str = "crossentropy", meta: dict | None = None):
        super().__init__()
        self.meta = {"preprocessing": PREPROCESSING} if meta is None else meta
        self.x, self.y, self.num_classes, self.batch_size, self.targets = x, y, num_classes, batch_size, targets
        self.labels = labels
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
        xb = to_model_input(self.x[idx], self.meta)
        if self.augment_cfg is not None:
            xb = augment(xb, np.random.default_rng([self.seed, self.epoch, i]), self.augment_cfg)
        dist = None if self.targets is None else self.targets[idx]
        yb = np.eye(self.num_classes, dtype="float32")[self.y[idx]] if dist is None else self._targets(dist, i)
        if self.weights is None:
            return xb, yb
        return xb, yb, (self.weights[self.y[idx]] if dist is None else dist @ self.weights).astype("float32")

    def _targets(self, dist: np.ndarray, i: int) -> np.ndarray:
        if self.labels == "probability":  # one class per image, drawn from its votes (seeded like augmentation)
            cum = np.cumsum(dist, axis=1)
            u = np.random.default_rng([self.seed, self.epoch, i, 1]).random((len(dist), 1)) * cum[:, -1:]
            drawn = (cum <= u).sum(axis=1)  # the first class whose cumulative share passes u: never a 0 share
            return np.eye(self.num_classes, dtype="float32")[drawn]
        if self.labels == "multi_target":
            from fera.datasets.ferplus import multi_target

            return multi_target(dist)
        return dist.astype("float32")
