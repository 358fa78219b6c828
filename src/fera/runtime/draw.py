"""Annotated frames for a sighted helper (only written with ``--save``): boxes and the spoken words."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def annotate(image: np.ndarray, faces, assistant, frame):
    """A PIL image: each face boxed, with its wording (e.g. "left, appears happy 82%") above the box."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image).convert("RGB")
    d = ImageDraw.Draw(im)
    width = max(2, im.width // 300)
    for f in faces:
        b = f.box
        label = assistant.announcer.phrase(f, frame, 2)
        if f.expression is not None:
            label += f" {round(100 * f.expression.confidence)}%"
        d.rectangle([b.x, b.y, b.right, b.bottom], outline=(255, 215, 0), width=width)
        tx, ty = b.x, max(0, b.y - 14)
        box = d.textbbox((tx, ty), label)
        d.rectangle(box, fill=(0, 0, 0))
        d.text((tx, ty), label, fill=(255, 255, 255))
    return im


class VideoOut:
    """An MP4 of annotated frames, written with OpenCV."""

    def __init__(self, path: Path, width: int, height: int, fps: float = 10.0):
        import cv2

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))

    def write(self, im) -> None:
        import cv2

        self.w.write(cv2.cvtColor(np.asarray(im), cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self.w.release()
