"""Image decoding: any size, mode (L, RGB, RGBA, P, 16-bit, float) or format -> grayscale uint8."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps

# How images are resized to the model's input; recorded with every model.
RESAMPLE = Image.Resampling.BILINEAR


def to_gray_array(src: str | os.PathLike | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Decode ``src`` and return a (height, width) uint8 grayscale array of ``size``."""
    if isinstance(src, Image.Image):
        return _convert(src, size)
    with Image.open(src) as im:
        im.load()  # decode now, so truncated files fail here
        return _convert(im, size)


def _convert(im: Image.Image, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    if im.width == 0 or im.height == 0:
        raise ValueError("empty image")
    im = ImageOps.exif_transpose(im)
    gray = to_gray(im)
    if gray.size != (w, h):
        gray = gray.resize((w, h), RESAMPLE, reducing_gap=2.0)
    return np.asarray(gray, dtype=np.uint8)


def to_gray(im: Image.Image) -> Image.Image:
    """A mode-``L`` copy of ``im``; 16-bit and float data are scaled, transparency goes on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16") or (im.mode == "I" and a.max() > 255):
            a = a / 257.0  # 16-bit range -> 8-bit
        elif im.mode == "F" and a.size and a.max() <= 1.0:
            a = a * 255.0  # float images in [0, 1]
        return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), mode="L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    return im.convert("L")
