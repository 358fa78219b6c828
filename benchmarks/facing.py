"""How reliable "facing you" / "turned to your left" is, from BlazeFace's keypoints (fera.runtime.geometry).

    python benchmarks/facing.py

Three measurements, since no photo of a turned head ships with fera:
1. The sample portraits (both face the camera) in detect_recall.py's 48 variants (faces 200, 100, 70 and
   45 px high; upright, tilted 25 degrees either way, darkened, mirrored): the yaw ratio, and what fera
   says for the faces large enough to get a word. Nothing may be called turned.
2. A pseudo-turn of the real photos: the face mapped onto a cylinder and rotated by -40..40 degrees (no nose
   relief, so it understates a real turn), through the real detector; and the same frames mirrored, which
   must flip the sign.
3. The detector's keypoints of the frontal portraits lifted to 3D with typical depths (nose tip 0.35, ears
   -1.3 eye distances) and rotated by 0..60 degrees: where the thresholds fall in degrees.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fera.runtime.detect import BlazeFaceDetector
from fera.runtime.geometry import FacingConfig, facing, face_frame, yaw_ratio

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detect_recall  # noqa: E402

SAMPLES = detect_recall.SAMPLES
FACES = detect_recall.FACES


def best(det, frame, box=None):
    """The detection whose centre is in ``box`` (or the best one)."""
    found = [d for d in det.detect(frame) if box is None or (box[0] <= d.x + d.w / 2 <= box[2]
                                                             and box[1] <= d.y + d.h / 2 <= box[3])]
    return max(found, key=lambda d: d.score) if found else None


def cylinder(photo: Image.Image, box, degrees: float) -> np.ndarray:
    """The photo with the columns of the face's cylinder (radius 0.75 face widths) rotated about its axis."""
    a = np.asarray(photo)
    x0, _, x1, _ = box
    cx, r = (x0 + x1) / 2, 0.75 * (x1 - x0)
    xs = np.arange(a.shape[1]) - cx
    inside = np.abs(xs) < r
    phi = np.arcsin(np.clip(xs / r, -1, 1)) - math.radians(degrees)
    src = np.clip(np.round(cx + r * np.sin(phi)).astype(int), 0, a.shape[1] - 1)
    out = a.copy()
    out[:, inside] = 100
    ok = inside & (np.abs(phi) < math.pi / 2)
    out[:, ok] = a[:, src[ok]]
    return out


def rotate_keypoints(kps, degrees: float) -> list[tuple[float, float]]:
    """Keypoints of a frontal face turned by ``degrees`` about the vertical axis (depths in eye distances:
    eyes 0, nose tip +0.35, mouth +0.15, ears -1.3), projected orthographically."""
    o, ux, uy, ed = face_frame(kps)
    depth = np.array([0.0, 0.0, 0.35, 0.15, -1.3, -1.3]) * ed
    k = np.asarray(kps, dtype=np.float64) - o
    x, y = k @ ux, k @ uy
    t = math.radians(degrees)
    x2 = x * math.cos(t) + depth * math.sin(t)
    return [tuple(o + a * ux + b * uy) for a, b in zip(x2, y)]


def main() -> int:
    det, c = BlazeFaceDetector("full"), FacingConfig()
    print(f"thresholds: facing you |ratio| < {c.facing_below}, turned > {c.turned_above}, "
          f"faces at least {c.min_size} of the frame's longer side")
    print("\n1. frontal portraits (detect_recall variants)")
    worded, ratios = {}, {True: [], False: []}
    for frame, box, label in detect_recall.variants():
        d = box is not None and best(det, frame, box)
        if not d:
            continue
        big = d.h >= c.min_size * max(frame.shape[:2])
        ratios[big].append(abs(yaw_ratio(d.keypoints)))
        w = facing(d.keypoints, d.h, frame.shape[1], frame.shape[0])
        worded[w] = worded.get(w, 0) + 1
    for big, r in ratios.items():
        print(f"   faces {'>=' if big else '< '} min size: {len(r):>2}, |ratio| median {np.median(r):.2f}, max {max(r):.2f}")
    print(f"   said: {worded}")
    print("\n2. cylinder pseudo-turn of the real photos (degrees: ratio, word; mirrored: ratio, word)")
    for name, box in FACES.items():
        photo = Image.open(SAMPLES / name).convert("RGB")
        row = []
        for deg in (-40, -30, -20, -10, 0, 10, 20, 30, 40):
            f = cylinder(photo, box, deg)
            d, m = best(det, f), best(det, np.asarray(ImageOps.mirror(Image.fromarray(f))))
            h, w = f.shape[:2]
            cell = f"{deg:+d}: " + ("-" if not d else f"{yaw_ratio(d.keypoints):+.2f} {facing(d.keypoints, d.h, w, h)}")
            cell += "" if not m else f" / {yaw_ratio(m.keypoints):+.2f} {facing(m.keypoints, m.h, w, h)}"
            row.append(cell)
        print(f"   {name}:\n      " + "\n      ".join(row))
    print("\n3. the portraits' own keypoints turned in 3D (degrees: ratio, word)")
    for name in FACES:
        photo = np.asarray(Image.open(SAMPLES / name).convert("RGB"))
        d = best(det, photo)
        h, w = photo.shape[:2]
        cells = []
        for deg in (0, 5, 10, 15, 20, 25, 30, 45, 60):
            k = rotate_keypoints(d.keypoints, deg)
            cells.append(f"{deg}: {yaw_ratio(k):+.2f} {facing(k, d.h, w, h)}")
        print(f"   {name}: " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
