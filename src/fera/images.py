"""Image decoding: any size, mode (L, RGB, RGBA, P, 16-bit, float) or format -> grayscale uint8 for
training, ``read_rgb``: photos and uploads for the assistant, bounded before a pixel is decoded, and
``frame_to_rgb`` for camera and video frames. ``to_model_input`` turns uint8 faces into what a model takes,
as its metadata's ``preprocessing`` record says."""
from __future__ import annotations

import io
import os
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from fera.errors import FeraError

# How images are resized to the model's input; recorded with every model as preprocessing "resize": Pillow's
# filters (antialiased, after an integer box reduction to twice the size: reducing_gap=2), or "area": OpenCV's
# INTER_AREA when shrinking (each output pixel the mean of the input area it covers) and INTER_LINEAR when
# enlarging, about 5x faster than Pillow on a face crop (what fera's models since FER+ record).
RESIZE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
          "nearest": Image.Resampling.NEAREST, "box": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS,
          "area": None}
RESAMPLE = "bilinear"  # what the training decoder uses when not told (FER images need no resize)
COLORS = ("grayscale",)  # ITU-R 601-2 luma, as PIL's convert("L")
LAYOUTS = ("NHWC",)
# What the assistant and the web page open (JPEG includes MPO; no EPS, PSD, ICO ...: fewer decoders face
# untrusted files).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "PPM")
# The file names a folder's photos are found by (`fera assist`, `fera analyze`): the usual endings of ``FORMATS``.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
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
    try:
        im = _open_image(fp)
    except Image.DecompressionBombError as e:  # Pillow's own limit, far above ours: "Image size (N pixels) ..."
        n = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(n.group(1)) / 1e6:.0f} million pixels; " if n else ""
        raise ImageRefused("too_large", f"the image is too large ({size}at most {max_pixels / 1e6:g} million "
                                        "pixels)") from None
    except Exception:  # noqa: BLE001  (UnidentifiedImageError, or a decoder's own error on a bad header)
        raise ImageRefused("not_image", NOT_AN_IMAGE) from None
    return _bounded(im, max_pixels)


def _open_image(fp):
    """``Image.open`` for the ``FORMATS`` only (no other decoder ever sees the bytes); nothing is decoded yet."""
    from PIL import (BmpImagePlugin, GifImagePlugin, JpegImagePlugin, PngImagePlugin,  # noqa: F401  (they
                     PpmImagePlugin, TiffImagePlugin, WebPImagePlugin)  # register the FORMATS)

    return Image.open(fp, formats=FORMATS)


def _bounded(im, max_pixels: int):
    """``im`` (opened, not decoded), or ``ImageRefused`` when its header says more than ``max_pixels`` pixels."""
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
            rgb = to_rgb(im)
        except Exception:  # noqa: BLE001  (any decoder failure: truncated, corrupt)
            raise ImageRefused("damaged", "the image is damaged and cannot be decoded") from None
    if rgb.ndim != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageRefused("damaged", "the image has no pixels")
    return rgb


def resize_gray(gray: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    """A (h, w) uint8 grey array resized to ``size`` = (h, w) by ``method`` (a name of ``RESIZE``)."""
    h, w = size
    if gray.shape[:2] == (h, w):
        return gray
    if method == "area":
        import cv2

        shrink = gray.shape[0] >= h and gray.shape[1] >= w
        return cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    im = Image.fromarray(np.ascontiguousarray(gray, dtype=np.uint8))
    return np.asarray(im.resize((w, h), RESIZE[method], reducing_gap=2.0), dtype=np.uint8)


def to_gray_array(src: str | os.PathLike | Image.Image, size: tuple[int, int], resample: str = RESAMPLE,
                  max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode ``src`` and return a (height, width) uint8 grayscale array of ``size`` (resized by the method
    ``resample`` names, see ``RESIZE``). A file is opened as ``read_rgb`` opens one: only the ``FORMATS``, and
    one whose header says more than ``max_pixels`` pixels is refused before decoding (a FER face has 2,304);
    Pillow's own errors (``UnidentifiedImageError``, a truncated file's ``OSError``) are raised as they are."""
    if isinstance(src, Image.Image):
        return _convert(src, size, resample)
    with _bounded(_open_image(src), max_pixels) as im:
        im.load()  # decode now, so truncated files fail here
        return _convert(im, size, resample)


def _convert(im: Image.Image, size: tuple[int, int], resample: str) -> np.ndarray:
    if im.width == 0 or im.height == 0:
        raise ValueError("empty image")
    im = ImageOps.exif_transpose(im)
    return resize_gray(np.asarray(to_gray(im), dtype=np.uint8), size, resample)


def preprocessing(meta: dict) -> dict:
    """The model's ``preprocessing`` record, checked: a color, resize or layout fera cannot produce is refused
    (a clear ``FeraError``) rather than guessed."""
    p = meta.get("preprocessing")
    if not isinstance(p, dict) or "scale" not in p:
        raise FeraError("the model's metadata has no preprocessing record with a scale")
    checks = (("color", "grayscale", COLORS), ("resize", "bilinear", tuple(RESIZE)), ("layout", "NHWC", LAYOUTS))
    for key, default, known in checks:
        if p.get(key, default) not in known:
            raise FeraError(f"unsupported model preprocessing {key} {p[key]!r} (fera supports {', '.join(known)})")
    return p


def resize_of(meta: dict) -> str:
    """The resize method the model's ``preprocessing["resize"]`` names (bilinear when it names none)."""
    return preprocessing(meta).get("resize", "bilinear")


def to_model_input(pixels: np.ndarray, meta: dict) -> np.ndarray:
    """uint8 grayscale faces (N, H, W) or (N, H, W, 1), already at the input size -> the float32 NHWC batch the
    model takes: pixel * ``meta["preprocessing"]["scale"]``."""
    scale = np.float32(preprocessing(meta)["scale"])
    a = np.asarray(pixels)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[-1] != 1:
        raise FeraError(f"expected grayscale faces of shape (N, H, W) or (N, H, W, 1), got {a.shape}")
    if "input_size" in meta and tuple(a.shape[1:3]) != tuple(meta["input_size"]):
        raise FeraError(f"faces of {a.shape[1]} x {a.shape[2]} pixels, the model takes "
                        f"{meta['input_size'][0]} x {meta['input_size'][1]}")
    return a.astype(np.float32) * scale


def frame_to_rgb(frame, order: str = "BGR") -> np.ndarray:
    """An RGB uint8 H x W x 3 array from a frame array (colour channels in ``order``: "BGR" as OpenCV's cameras
    and videos give them, or "RGB") of any usual layout: H x W grey, H x W x 1, x 2 (grey + alpha), x 3, x 4
    (with alpha); uint8, 16-bit (scaled down), bool, or float (0..1 when its maximum is at most 1, else 0..255).
    Alpha is dropped."""
    if order not in ("BGR", "RGB"):
        raise ValueError(f"unknown channel order {order!r} (BGR or RGB)")
    a = np.asarray(frame)
    if a.ndim == 3 and a.shape[2] in (1, 2):
        a = a[:, :, 0]
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise FeraError(f"expected an image of shape H x W (x 1, 2, 3 or 4 channels), got an array of shape {a.shape}")
    a = a[:, :, 2::-1] if order == "BGR" else a[:, :, :3]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return np.ascontiguousarray(a.astype(np.uint8) * 255)
    if a.dtype in (np.uint16, np.int32, np.uint32, np.int64):
        return np.ascontiguousarray(np.clip(a // 257 if a.max(initial=0) > 255 else a, 0, 255).astype(np.uint8))
    if np.issubdtype(a.dtype, np.floating):
        f = np.nan_to_num(a.astype(np.float32))
        f = f * 255 if f.max(initial=0) <= 1.0 else f
        return np.ascontiguousarray(np.clip(f + 0.5, 0, 255).astype(np.uint8))
    raise FeraError(f"expected an image of integers or floats, got dtype {a.dtype}")


def to_rgb(im: Image.Image) -> np.ndarray:
    """An RGB uint8 array of a decoded PIL image (transparency on white)."""
    return np.asarray(_on_white(im).convert("RGB"))


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
