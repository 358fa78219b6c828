"""End-to-end assistant speed on 640x480 frames with 0, 1 and 3 faces, split by stage.

    python benchmarks/assist_fps.py [--frames 200] [--model fast] [--detector full] [--int8]

Frames are built from the public-domain sample photos in the package (face crops pasted on a grey
canvas; the "found" column counts the confirmed faces of the last frame). For each face count it prints frames/s, the mean milliseconds of each stage (detect,
track, classify, smooth, announce), p50/p95 of the whole step (frame in -> decision out; the
announcer's dwell time is not included), the p95 latency from capture to decision for a 30 fps
camera (frames queue while earlier ones are processed), and the ratio against the 0-face baseline.
``cpu_fps`` is frames per second of this process's CPU time (all its threads): on a machine busy with
other work the wall-clock ``fps`` drops, while ``cpu_fps`` stays a lower bound of the frames/s the same
cores would give fera alone (threads working in parallel only shorten the wall time).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fera.runtime.classify import ClassifyConfig
from fera.runtime.pipeline import Assistant, DetectConfig

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "fera" / "assets" / "samples"


def frame_with(n: int) -> np.ndarray:
    """n faces side by side on a grey canvas: the sample portraits cropped around the face, 200 x 200 each (a
    face about 130 px high, that the detector finds and the tracker confirms)."""
    canvas = np.full((480, 640, 3), 110, np.uint8)
    crops = {"astronaut.png": (130, 30, 330, 230), "grace_hopper.jpg": (50, 60, 350, 360)}
    photos = [np.asarray(Image.open(SAMPLES / p).convert("RGB").crop(crops[p]).resize((200, 200)))
              for p in ("astronaut.png", "grace_hopper.jpg", "astronaut.png")]
    for i in range(n):
        x = 10 + i * 210
        canvas[140:340, x:x + 200] = photos[i]
    return canvas


class Timed:
    """Wraps a stage's callable and adds up its time."""

    def __init__(self, fn):
        self.fn, self.total = fn, 0.0

    def __call__(self, *a, **k):
        t = time.perf_counter()
        try:
            return self.fn(*a, **k)
        finally:
            self.total += time.perf_counter() - t


def run(n_faces: int, frames: int, args) -> dict:
    a = Assistant.create(DetectConfig(model=args.detector), ClassifyConfig(model=args.model, int8=args.int8))
    a.detector.detect = Timed(a.detector.detect)
    stages = {"detect": a.detector.detect, "track": Timed(a.tracker.update), "classify": Timed(a.classifier),
              "smooth": Timed(a.smoother.update), "announce": Timed(a.announcer.update)}
    a.tracker.update, a.classifier, a.smoother.update, a.announcer.update = (
        stages["track"], stages["classify"], stages["smooth"], stages["announce"])
    img = frame_with(n_faces)
    for i in range(10):  # warm-up
        a.step(img, i / 30)
    for s in stages.values():
        s.total = 0.0
    steps = []
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(frames):
        t = time.perf_counter()
        r = a.step(img, (10 + i) / 30)
        steps.append((time.perf_counter() - t) * 1000)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # A 30 fps camera: frame i is captured at i/30 s and waits while earlier frames are processed;
    # its latency is capture -> the announcer's decision, queueing included.
    free, lat = 0.0, []
    for i, d in enumerate(steps):
        start = max(i * 1000 / 30, free)
        free = start + d
        lat.append(free - i * 1000 / 30)
    return {"faces": n_faces, "found": len(r.faces), "fps": frames / wall, "cpu_fps": frames / cpu,
            **{k: 1000 * s.total / frames for k, s in stages.items()},
            "p50": float(np.percentile(steps, 50)), "p95": float(np.percentile(steps, 95)),
            "cam30_p95": float(np.percentile(lat, 95))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--model", default="fast")
    ap.add_argument("--detector", default="full", choices=("full", "short"))
    ap.add_argument("--int8", action="store_true")
    args = ap.parse_args()
    rows = [run(n, args.frames, args) for n in (0, 1, 3)]
    print(f"model {args.model}{' int8' if args.int8 else ''}, detector {args.detector}, {args.frames} frames of "
          "640x480; stage columns are mean ms per frame")
    cols = ["faces", "found", "fps", "cpu_fps", "detect", "track", "classify", "smooth", "announce", "p50", "p95", "cam30_p95"]
    print("  ".join(f"{c:>9}" for c in cols) + "  vs 0 faces")
    for r in rows:
        print("  ".join(f"{r[c]:>9.2f}" if isinstance(r[c], float) else f"{r[c]:>9}" for c in cols)
              + f"  {rows[0]['fps'] / r['fps']:.2f}x time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
