"""Where frames come from: a camera index, a video file, an image, a folder of images, or ``-``
(one image path per line on stdin). Every source yields ``Frame`` objects (RGB uint8 arrays).

Images are decoded with Pillow (EXIF orientation applied); unreadable files are skipped and counted,
never fatal. Cameras and videos use OpenCV, imported only when one is opened.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from fera.errors import FeraError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


@dataclass
class Frame:
    image: np.ndarray  # (H, W, 3) RGB uint8
    timestamp: float  # seconds: video time for files, a monotonic clock for cameras
    source: str  # the file, or "camera 0"
    index: int  # frame number within the source


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class Source:
    """An iterable of frames. ``live`` sources (cameras) run in real time; ``still`` ones are photos."""

    name: str
    frames: Iterator[Frame]
    live: bool = False
    still: bool = False
    skipped: list[Skipped] = field(default_factory=list)
    closer: object = None

    def __iter__(self):
        return self.frames

    def close(self) -> None:
        if self.closer is not None:
            self.closer()


def read_image(path: str | Path) -> np.ndarray:
    """An RGB uint8 array from any image file Pillow reads (EXIF orientation applied)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            background = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(background, im.convert("RGBA"))
        return np.asarray(im.convert("RGB"))


def _photos(paths: list[Path], skipped: list[Skipped]) -> Iterator[Frame]:
    for i, p in enumerate(paths):
        try:
            img = read_image(p)
        except Exception as e:  # noqa: BLE001  (any decoder failure: skip, count, go on)
            skipped.append(Skipped(str(p), (str(e).splitlines() or [type(e).__name__])[0][:120]))
            continue
        yield Frame(img, float(i), str(p), i)


def _capture(cap, name: str, live: bool, max_frames: int | None) -> Iterator[Frame]:
    import cv2

    i = 0
    t0 = time.monotonic()
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    try:
        while max_frames is None or i < max_frames:
            ok, bgr = cap.read()
            if not ok:
                return
            if live:
                ts = time.monotonic() - t0
            else:
                ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                ts = ms / 1000 if ms and ms > 0 else (i / fps if fps > 0 else float(i))
            yield Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ts, name, i)
            i += 1
    finally:
        cap.release()


def _open_capture(target, what: str):
    try:
        import cv2
    except ImportError:
        raise FeraError(f"reading a {what} needs OpenCV: pip install opencv-python-headless") from None
    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        cap.release()
        raise FeraError(f"cannot open {what} {target}" + (": no such camera, or it is in use"
                                                         if what == "camera" else ": not a readable video"))
    return cap


def open_source(spec: str, stdin=None, max_frames: int | None = None) -> Source:
    """A ``Source`` for ``--source``: camera index, video, image, folder, or ``-`` for paths on stdin."""
    spec = str(spec)
    if spec.isdigit():
        cap = _open_capture(int(spec), "camera")
        name = f"camera {spec}"
        return Source(name, _capture(cap, name, True, max_frames), live=True, closer=cap.release)
    skipped: list[Skipped] = []
    if spec == "-":
        lines = [ln.strip() for ln in (stdin or sys.stdin) if ln.strip()]
        return Source("stdin", _photos([Path(ln) for ln in lines], skipped), still=True, skipped=skipped)
    p = Path(spec).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                       and not f.name.startswith("."))
        if not files:
            raise FeraError(f"no images in folder {p}")
        return Source(str(p), _photos(files, skipped), still=True, skipped=skipped)
    if not p.is_file():
        raise FeraError(f"source not found: {spec} (give a camera index, a video, an image, a folder or -)")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return Source(str(p), _photos([p], skipped), still=True, skipped=skipped)
    if p.suffix.lower() in VIDEO_SUFFIXES:
        cap = _open_capture(str(p), "video")
        return Source(str(p), _capture(cap, str(p), False, max_frames), closer=cap.release)
    try:  # an image with an unusual name?
        read_image(p)
    except Exception:  # noqa: BLE001
        raise FeraError(f"{p} is neither an image nor a video fera can read") from None
    return Source(str(p), _photos([p], skipped), still=True, skipped=skipped)
