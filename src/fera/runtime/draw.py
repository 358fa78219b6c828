"""Annotated frames for a sighted helper (only written with ``--record``): boxes and the spoken words."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fera.runtime import wording


def label_size(width: int, height: int) -> int:
    """The label's font size in pixels for a width x height image: a 30th of its shorter side, at least 12
    (16 px on 640 x 480, 36 px on 1920 x 1080)."""
    return max(12, round(min(width, height) / 30))


def annotate(image: np.ndarray, faces, assistant, frame):
    """A PIL image: each face boxed, with its wording (e.g. "left, appears happy 82%") above the box, in
    letters scaled to the image."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.fromarray(image).convert("RGB")
    d = ImageDraw.Draw(im)
    size = label_size(im.width, im.height)
    font = ImageFont.load_default(size=size)
    width = max(2, size // 8)
    for f in faces:
        b = f.box
        w = assistant.announcer.words(f, frame)
        label = wording.spoken(w, 2) + ("" if w.confidence is None else f" {round(100 * w.confidence)}%")
        d.rectangle([b.x, b.y, b.right, b.bottom], outline=(255, 215, 0), width=width)
        tx, ty = b.x, max(0, b.y - size - 4)
        box = d.textbbox((tx, ty), label, font=font)
        d.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(0, 0, 0))
        d.text((tx, ty), label, fill=(255, 255, 255), font=font)
    return im


class VideoOut:
    """An MP4 of annotated frames, written with OpenCV at ``fps`` (the source's frame rate)."""

    def __init__(self, path: Path, width: int, height: int, fps: float = 10.0):
        import cv2

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.fps = path, float(fps)
        self.w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))

    def write(self, im) -> None:
        import cv2

        self.w.write(cv2.cvtColor(np.asarray(im), cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self.w.release()
