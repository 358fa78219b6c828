"""Face detector recall, false faces and speed on hard variants of the sample photos.

    python benchmarks/detect_recall.py [--runs 50]

Each public-domain sample portrait is placed on a 640 x 480 frame in 24 variants: four sizes
(face about 200, 100, 70 and 45 px high), each upright, turned 25 degrees either way, darkened to a
quarter of its brightness, and mirrored. Ten frames hold no face (flat, noise, gradients, the
photos' face-free lower halves). For BlazeFace short range, full range, and full range with the
photo tiling: faces found (a detection whose centre lies in the true face box), false faces, and
milliseconds per 640 x 480 frame (p50, single pass; tiled: photos only).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fera.runtime.detect import BlazeFaceDetector, detect_tiled

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "fera" / "assets" / "samples"
# where the face is in each photo (x0, y0, x1, y1), by eye
FACES = {"astronaut.png": (180, 60, 290, 200), "grace_hopper.jpg": (160, 80, 370, 380)}


def variants():
    """(frame, true face box or None, label)"""
    out = []
    for name, (x0, y0, x1, y1) in FACES.items():
        photo = Image.open(SAMPLES / name).convert("RGB")
        face_h = y1 - y0
        for target in (200, 100, 70, 45):
            s = target / face_h
            im = photo.resize((max(1, round(photo.width * s)), max(1, round(photo.height * s))))
            box = np.array([x0, y0, x1, y1]) * s
            for kind in ("upright", "left 25", "right 25", "dark", "mirrored", "dark mirrored"):
                v, b = im, box.copy()
                if kind.startswith("left") or kind.startswith("right"):
                    v = im.rotate(25 if kind.startswith("left") else -25, resample=Image.BILINEAR, expand=False,
                                  center=((b[0] + b[2]) / 2, (b[1] + b[3]) / 2), fillcolor=(100, 100, 100))
                if "mirrored" in kind:
                    v = ImageOps.mirror(v)
                    b = np.array([v.width - b[2], b[1], v.width - b[0], b[3]])
                arr = np.asarray(v)
                if "dark" in kind:
                    arr = (arr * 0.25).astype(np.uint8)
                frame = np.full((480, 640, 3), 100, np.uint8)
                fx, fy = (640 - 0) // 2 - int((b[0] + b[2]) / 2), 240 - int((b[1] + b[3]) / 2)
                xs, ys = max(fx, 0), max(fy, 0)
                cx0, cy0 = xs - fx, ys - fy
                w = min(arr.shape[1] - cx0, 640 - xs)
                h = min(arr.shape[0] - cy0, 480 - ys)
                frame[ys:ys + h, xs:xs + w] = arr[cy0:cy0 + h, cx0:cx0 + w]
                out.append((frame, b + [fx, fy, fx, fy], f"{name} {target}px {kind}"))
    rng = np.random.default_rng(0)
    blanks = [np.full((480, 640, 3), v, np.uint8) for v in (0, 128, 255)]
    blanks += [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(3)]
    blanks += [np.repeat(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], 480, 0).repeat(3, 2),
               np.repeat(np.linspace(0, 255, 480, dtype=np.uint8)[:, None, None], 640, 1).repeat(3, 2)]
    for name in FACES:
        lower = np.asarray(Image.open(SAMPLES / name).convert("RGB"))[-200:]
        frame = np.full((480, 640, 3), 100, np.uint8)
        frame[140:140 + lower.shape[0], 64:64 + lower.shape[1]] = lower
        blanks.append(frame)
    return out + [(b, None, "no face") for b in blanks]


def score(find, frames):
    found, false, missed = 0, 0, []
    for frame, box, label in frames:
        dets = find(frame)
        hit = [d for d in dets if box is not None and box[0] <= d.x + d.w / 2 <= box[2] and box[1] <= d.y + d.h / 2 <= box[3]]
        found += bool(hit)
        false += len(dets) - min(len(hit), 1)
        if box is not None and not hit:
            missed.append(label)
    return found, false, missed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50, help="timed runs per detector")
    args = ap.parse_args()
    frames = variants()
    n_faces = sum(b is not None for _, b, _ in frames)
    print(f"{n_faces} frames with one face, {len(frames) - n_faces} without; 640 x 480")
    print(f"{'detector':>12} {'found':>8} {'false':>6} {'ms p50':>7}  missed")
    full = BlazeFaceDetector("full")
    for name, find in (("short", BlazeFaceDetector("short").detect), ("full", full.detect),
                       ("full tiled", lambda f: detect_tiled(full, f))):
        found, false, missed = score(find, frames)
        frame = frames[0][0]
        for _ in range(5):
            find(frame)
        t = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            find(frame)
            t.append((time.perf_counter() - t0) * 1000)
        print(f"{name:>12} {found:>4}/{n_faces:<3} {false:>6} {np.median(t):>7.2f}  {'; '.join(missed) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
