"""A tiny FER-style dataset built from the line-drawn faces shipped in ``fera/assets/demo_faces``.

No FER-2013 image ships with fera (that dataset is research-only), so the demo and the tests
train on jittered copies of these drawings: 4 expressions x 3 face shapes.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).parent / "assets" / "demo_faces"


def base_faces() -> dict[str, list[Image.Image]]:
    """{expression: [drawings]} from the packaged PNGs."""
    faces: dict[str, list[Image.Image]] = {}
    for p in sorted(ASSETS.glob("*.png")):
        with Image.open(p) as im:
            faces.setdefault(p.stem.rsplit("_", 1)[0], []).append(im.convert("L"))
    return faces


def jitter(im: Image.Image, rng: np.random.Generator, size: int) -> Image.Image:
    """A randomly rotated, shifted, scaled, brightened and noisy copy of ``im`` at ``size`` x ``size``."""
    w, h = im.size
    a = math.radians(rng.uniform(-12, 12))
    s = rng.uniform(0.9, 1.1)
    tx, ty = rng.uniform(-3, 3, 2)
    cx, cy = w / 2, h / 2
    cos, sin = math.cos(a) / s, math.sin(a) / s
    coeffs = (cos, sin, cx - cos * cx - sin * cy + tx, -sin, cos, cy + sin * cx - cos * cy + ty)
    out = im.transform((w, h), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR, fillcolor=70)
    arr = np.asarray(out, np.float32) * rng.uniform(0.75, 1.2) + rng.uniform(-20, 20)
    arr += rng.normal(0, 6, arr.shape)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return out if size == w else out.resize((size, size), Image.Resampling.BILINEAR)


def build_demo_dataset(dest: str | Path, per_class: dict[str, int] | None = None, size: int = 48,
                       seed: int = 0, classes: list[str] | None = None) -> Path:
    """Write ``dest/{train,val,test}/<expression>/*.png`` and return ``dest``."""
    per_class = per_class or {"train": 100, "val": 20, "test": 20}
    rng = np.random.default_rng(seed)
    dest = Path(dest)
    faces = base_faces()
    for split, n in per_class.items():
        for expression in classes or sorted(faces):
            folder = dest / split / expression
            folder.mkdir(parents=True, exist_ok=True)
            drawings = faces[expression]
            for i in range(n):
                jitter(drawings[i % len(drawings)], rng, size).save(folder / f"{expression}_{i:04d}.png")
    return dest

