"""Where frames come from: a camera index, a video file, an image, a folder of images, or ``-``
(one image path per line on stdin). Every source yields ``Frame`` objects (RGB uint8 arrays).

Images are decoded by ``fera.images.read_rgb`` (EXIF orientation applied, photos over
``fera.images.MAX_PIXELS`` refused from their header); unreadable files are skipped and counted,
never fatal. Cameras and videos use OpenCV, imported only when one is opened.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from fera.errors import FeraError
from fera.images import IMAGE_SUFFIXES, frame_to_rgb, read_rgb

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
    count: int | None = None  # photos: how many files were given (before any is skipped)
    fps: float | None = None  # cameras and videos: the frame rate they report, when plausible (1-240)

    def __iter__(self):
        return self.frames

    def close(self) -> None:
        """Stops the frames (a camera or video is released)."""
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()


def _photos(paths: list[Path], skipped: list[Skipped]) -> Iterator[Frame]:
    for i, p in enumerate(paths):
        try:
            img = read_rgb(p)
        except Exception as e:  # noqa: BLE001  (any decoder failure: skip, count, go on)
            skipped.append(Skipped(str(p), (str(e).splitlines() or [type(e).__name__])[0][:120]))
            continue
        yield Frame(img, float(i), str(p), i)


@dataclass
class CaptureConfig:
    reconnect_s: float = 5.0  # a camera that stops sending frames is reopened for this long before giving up
    max_bad_frames: int = 50  # a video: undecodable frames skipped in a row before the rest counts as lost
    # A container's frame count is an estimate (an intact MP4 may say 98 and hold 95): a video that ends
    # this few frames (or this share of them) early is not said to break off.
    count_slack: int = 5
    count_slack_share: float = 0.05


class SourceLost(FeraError):
    """A camera stopped sending frames and could not be reopened."""


def _capture(open_cap, name: str, live: bool, max_frames: int | None, notice,
             config: CaptureConfig | None = None, sleep=time.sleep) -> Iterator[Frame]:
    """Frames from an OpenCV capture. A camera that stops is reopened (``SourceLost`` when it stays
    gone); a video's undecodable frames are skipped and counted, and a video that breaks off before
    its stated length says so."""
    import cv2

    c = config or CaptureConfig()
    cap = open_cap()
    i, bad, skipped, broke_at = 0, 0, 0, 0.0
    t0 = time.monotonic()
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    try:
        while max_frames is None or i < max_frames:
            ok, bgr = _read(cap)
            if not ok or bgr is None or bgr.size == 0:
                if live:
                    cap = _reopen(cap, open_cap, name, notice, c, sleep)
                    continue
                total, pos = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_POS_FRAMES)
                broke_at = pos if bad == 0 else broke_at
                if total > 0 and pos < total - 1 and bad < c.max_bad_frames:
                    bad += 1
                    _read(cap, grab=True)  # step over the damaged frame
                    continue
                if total > 0 and total - broke_at > max(c.count_slack, c.count_slack_share * total):
                    notice(f"{name}: the video breaks off at frame {int(broke_at)} of {int(total)} (damaged or "
                           "cut short); the rest is skipped")
                break
            skipped, bad = skipped + bad, 0
            if live:
                ts = time.monotonic() - t0
            else:
                ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                ts = ms / 1000 if ms and ms > 0 else (i / fps if fps > 0 else float(i))
            yield Frame(frame_to_rgb(bgr, order="BGR"), ts, name, i)
            i += 1
    finally:
        cap.release()
        if skipped:
            notice(f"{name}: {skipped} damaged frame{'s' if skipped > 1 else ''} skipped")


def _read(cap, grab: bool = False):
    """``cap.read()`` (or ``grab()``) with OpenCV's own exceptions taken as a failed read: its AVI reader asserts
    on a damaged chunk (``cv2.error``) where other readers return False."""
    import cv2

    try:
        return (cap.grab(), None) if grab else cap.read()
    except cv2.error:
        return False, None


def _reopen(cap, open_cap, name: str, notice, c: CaptureConfig, sleep):
    """Reopen a camera that stopped sending frames, for up to ``reconnect_s`` seconds."""
    cap.release()
    notice(f"{name} stopped sending frames; trying to reopen it for {c.reconnect_s:g} s")
    deadline = time.monotonic() + c.reconnect_s
    while True:
        try:
            cap = open_cap()
            ok, _ = _read(cap)
            if ok:
                notice(f"{name} is back")
                return cap
            cap.release()
        except FeraError:
            pass
        if time.monotonic() >= deadline:
            raise SourceLost(f"{name} disconnected: no frame for {c.reconnect_s:g} s")
        sleep(0.5)


def _open_capture(target, what: str):
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # damaged frames are counted, not logged by FFmpeg
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # a missing camera is one line from fera, not warnings
    try:
        import cv2
    except ImportError:
        raise FeraError(f"reading a {what} needs OpenCV: pip install opencv-python-headless") from None
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # in case cv2 was imported earlier
    except AttributeError:
        pass
    try:
        cap = cv2.VideoCapture(target)
    except cv2.error:  # OpenCV's own container readers assert on some damaged headers
        raise FeraError(f"cannot open {what} {target}: not a readable video") from None
    if what == "camera":
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued in the driver (where supported)
    if not cap.isOpened():
        cap.release()
        raise FeraError(f"cannot open {what} {target}" + (": no such camera, or it is in use"
                                                         if what == "camera" else ": not a readable video"))
    return cap


def _stderr(msg: str) -> None:
    print(f"fera: {msg}", file=sys.stderr, flush=True)


def _opener(target, what: str):
    """Opens the capture now (so a camera or video that cannot open fails here) and again on each call;
    returns (the opener, the frame rate the capture reports or None)."""
    import cv2

    first = [_open_capture(target, what)]
    fps = float(first[0].get(cv2.CAP_PROP_FPS) or 0.0)
    return (lambda: first.pop() if first else _open_capture(target, what)), (fps if 1.0 <= fps <= 240.0 else None)


def open_source(spec: str, stdin=None, max_frames: int | None = None, notice=_stderr,
                capture: CaptureConfig | None = None) -> Source:
    """A ``Source`` for ``--source``: camera index, video, image, folder, or ``-`` for paths on stdin.

    ``notice`` receives one-line messages about the stream (damaged frames, a camera reopened).
    """
    spec = str(spec)
    if spec.isdigit():
        name = f"camera {spec}"
        opener, fps = _opener(int(spec), "camera")
        return Source(name, _capture(opener, name, True, max_frames, notice, capture), live=True, fps=fps)
    skipped: list[Skipped] = []
    if spec == "-":
        lines = [ln.strip() for ln in (stdin or sys.stdin) if ln.strip()]
        return Source("stdin", _photos([Path(ln) for ln in lines], skipped), still=True, skipped=skipped,
                      count=len(lines))
    p = Path(spec).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                       and not f.name.startswith("."))
        if not files:
            raise FeraError(f"no images in folder {p}")
        return Source(str(p), _photos(files, skipped), still=True, skipped=skipped, count=len(files))
    if not p.is_file():
        raise FeraError(f"source not found: {spec} (give a camera index, a video, an image, a folder or -)")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return Source(str(p), _photos([p], skipped), still=True, skipped=skipped, count=1)
    if p.suffix.lower() in VIDEO_SUFFIXES:
        opener, fps = _opener(str(p), "video")
        return Source(str(p), _capture(opener, str(p), False, max_frames, notice, capture), fps=fps)
    try:  # an image with an unusual name?
        read_rgb(p)
    except Exception:  # noqa: BLE001
        raise FeraError(f"{p} is neither an image nor a video fera can read") from None
    return Source(str(p), _photos([p], skipped), still=True, skipped=skipped, count=1)
