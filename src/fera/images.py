"""Image decoding: any size, mode (L, RGB, RGBA, P, 16-bit, float) or format -> grayscale uint8 for
training, and ``read_rgb``: photos and uploads for the assistant, bounded before a pixel is decoded."""
from __future__ import annotations

import io
import os
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from fera.errors import FeraError

# How images are resized to the model's input; recorded with every model.
RESAMPLE = Image.Resampling.BILINEAR
# What the assistant and the web page open (JPEG includes MPO; no EPS, PSD, ICO ...: fewer decoders face
# untrusted files).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "PPM")
MAX_PIXELS = 40_000_000  # larger photos are refused, from the header (decompression bombs; about 120 MB as RGB)
NOT_AN_IMAGE = "this file is not an image fera can read (use JPEG, PNG, WebP, GIF, BMP or TIFF)"


class ImageRefused(FeraError):
    """A photo fera will not decode; ``kind`` is "empty", "not_image", "too_large" or "damaged"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def read_rgb(src: bytes | str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An RGB uint8 array from image bytes or a file (EXIF orientation applied, transparency on white).

    The size is read from the header and anything above ``max_pixels`` is refused before decoding, in
    every format of ``FORMATS``; Pillow's own decompression-bomb error becomes the same refusal, and its
    warnings are silenced. A file that cannot be opened raises its own ``OSError``."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _decode(io.BytesIO(src), len(src), max_pixels)
    with open(src, "rb") as f:
        return _decode(f, os.fstat(f.fileno()).st_size, max_pixels)


def _decode(fp, size: int, max_pixels: int) -> np.ndarray:
    if size == 0:
        raise ImageRefused("empty", "the file is empty")
    with warnings.catch_warnings():  # Pillow's warnings (bombs, odd TIFF tags, corrupt EXIF) say nothing useful
        warnings.simplefilter("ignore")
        return _rgb(_open(fp, max_pixels))


def _open(fp, max_pixels: int):
    from PIL import (BmpImagePlugin, GifImagePlugin, JpegImagePlugin, PngImagePlugin,  # noqa: F401  (they
                     PpmImagePlugin, TiffImagePlugin, WebPImagePlugin)  # register the FORMATS)

    try:
        im = Image.open(fp, formats=FORMATS)
    except Image.DecompressionBombError as e:  # Pillow's own limit, far above ours: "Image size (N pixels) ..."
        n = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(n.group(1)) / 1e6:.0f} million pixels; " if n else ""
        raise ImageRefused("too_large", f"the image is too large ({size}at most {max_pixels / 1e6:g} million "
                                        "pixels)") from None
    except Exception:  # noqa: BLE001  (UnidentifiedImageError, or a decoder's own error on a bad header)
        raise ImageRefused("not_image", NOT_AN_IMAGE) from None
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise ImageRefused("too_large", f"the image is too large ({w} x {h} pixels; at most {max_pixels / 1e6:g} "
                                        "million pixels)")
    return im


def _rgb(im) -> np.ndarray:
    with im:
        try:
            im.load()
            im = ImageOps.exif_transpose(im)
            rgb = np.asarray(_on_white(im).convert("RGB"))
        except Exception:  # noqa: BLE001  (any decoder failure: truncated, corrupt)
            raise ImageRefused("damaged", "the image is damaged and cannot be decoded") from None
    if rgb.ndim != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageRefused("damaged", "the image has no pixels")
    return rgb


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
    return _on_white(im).convert("L")


def _on_white(im: Image.Image) -> Image.Image:
    """``im`` itself, or, when it has transparency, an RGBA copy composited on white."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im.convert("RGBA"))
    return im
