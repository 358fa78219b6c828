"""`fera analyze` frames/s beside `fera assist --json --speech off` and beside the face detector alone, same clips.

    python benchmarks/analyze_fps.py [--frames 300] [--repeats 3] [--model fast] [--detector full] [--no-cli]

Clips of 640 x 480 frames with 1 and with 3 faces (the sample portraits, swaying a few pixels) are written to a
temporary folder. In one run, round-robin, each is measured ``--repeats`` times (the best run is printed, with
the median beside it) by:

- analyze:  ``fera.analyze.command.analyze`` on the clip, in this process, models already loaded (what
  `fera analyze CLIP --out T.parquet` does after its start-up: decode in a thread, detect, track, classify a
  batch at a time, write the part and the table);
- assist:   ``fera.runtime.app.run_stream``, the loop of `fera assist --source CLIP --json --speech off`, JSON
  to /dev/null, with an assistant built before the clock starts;
- detector: ``BlazeFaceDetector.detect`` alone on every frame, already decoded in memory: the limit, as every
  frame must go through it once; "decode+detect" reads the clip and detects in one thread.

Then (unless ``--no-cli``) both commands once as subprocesses, start-up and model loading included.
``cpu fps`` is frames per second of this process's CPU time (all its threads): on a machine busy with other
work wall-clock figures drop, CPU-time ones much less.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "fera" / "assets" / "samples"
CROPS = {"astronaut.png": (130, 30, 330, 230), "grace_hopper.jpg": (50, 60, 350, 360)}


def frame(t: int, n: int, faces) -> np.ndarray:
    canvas = np.full((480, 640, 3), 110, np.uint8)
    for i in range(n):
        x = 12 + i * 210 + int(round(8 * np.sin(t / 9 + i)))
        y = 140 + int(round(6 * np.cos(t / 11 + i)))
        canvas[y:y + 200, x:x + 200] = faces[i]
    return canvas


def write_clip(path: Path, n_faces: int, frames: int) -> Path:
    import cv2

    faces = [np.asarray(Image.open(SAMPLES / p).convert("RGB").crop(CROPS[p]).resize((200, 200)))
             for p in ("astronaut.png", "grace_hopper.jpg", "astronaut.png")]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    for t in range(frames):
        out.write(cv2.cvtColor(frame(t, n_faces, faces), cv2.COLOR_RGB2BGR))
    out.release()
    return path


def timed(fn) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="fast")
    ap.add_argument("--detector", default="full", choices=("full", "short"))
    ap.add_argument("--no-cli", action="store_true", help="skip the two subprocess runs")
    args = ap.parse_args()

    from fera.analyze.command import analyze
    from fera.analyze.run import Settings, engine
    from fera.runtime.app import Output, run_stream
    from fera.runtime.classify import ClassifyConfig
    from fera.runtime.pipeline import Assistant, DetectConfig
    from fera.runtime.sources import open_source

    settings = Settings(model=args.model, detector=args.detector)
    detector = engine(args.model, settings).assistant.detector  # the analysis's own, warm
    tmp = Path(tempfile.mkdtemp(prefix="fera-bench-"))
    clips = {n: write_clip(tmp / f"faces{n}.mp4", n, args.frames) for n in (1, 3)}
    results: dict = {}
    devnull = open("/dev/null", "w")
    for n, clip in clips.items():
        decoded = [f.image for f in open_source(str(clip))]
        counter = iter(range(10**6))

        def run_analyze():
            out = tmp / f"t{n}-{next(counter)}.parquet"
            s = analyze([str(clip)], out, settings)
            assert s["analysed"] == 1

        def run_assist(assistant):
            run_stream(assistant, open_source(str(clip)), Output(True, devnull))

        def run_detector():
            for im in decoded:
                detector.detect(im)

        def run_decode_detect():
            for f in open_source(str(clip)):
                detector.detect(f.image)

        run_analyze(), run_detector()  # warm-up
        for _ in range(args.repeats):
            for name, fn in (("analyze", run_analyze), ("assist", None), ("detector", run_detector),
                             ("decode+detect", run_decode_detect)):
                if fn is None:
                    a = Assistant.create(DetectConfig(model=args.detector), ClassifyConfig(model=args.model))
                    fn = lambda a=a: run_assist(a)  # noqa: E731
                wall, cpu = timed(fn)
                results.setdefault((n, name), []).append((len(decoded) / wall, len(decoded) / cpu))
    print(f"model {args.model}, detector {args.detector}, {args.frames} frames of 640x480 per clip, best of "
          f"{args.repeats} (median in brackets); in-process, models loaded")
    print(f"{'faces':>5}  {'method':<14} {'fps':>16} {'cpu fps':>16}")
    for n in clips:
        for name in ("analyze", "assist", "detector", "decode+detect"):
            r = results[(n, name)]
            w, c = max(x[0] for x in r), max(x[1] for x in r)
            mw, mc = statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)
            print(f"{n:>5}  {name:<14} {w:>7.1f} ({mw:>6.1f}) {c:>7.1f} ({mc:>6.1f})")
        best = {k: max(x[0] for x in results[(n, k)]) for k in ("analyze", "assist", "detector", "decode+detect")}
        cbest = {k: max(x[1] for x in results[(n, k)]) for k in ("analyze", "assist", "detector")}
        print(f"{n:>5}  ratios: analyze/assist {best['analyze'] / best['assist']:.2f}x (goal >= 2), "
              f"analyze/detector {best['analyze'] / best['detector']:.0%} (goal >= 70%), "
              f"analyze/(decode+detect) {best['analyze'] / best['decode+detect']:.0%}; by CPU time "
              f"{cbest['analyze'] / cbest['assist']:.2f}x and {cbest['analyze'] / cbest['detector']:.0%}")
    if not args.no_cli:
        fera = str(Path(sys.executable).with_name("fera"))
        print("as commands, start-up and model loading included (one run each):")
        for n, clip in clips.items():
            cmds = {"fera analyze": [fera, "analyze", str(clip), "--out", str(tmp / f"cli{n}.parquet"), "--model",
                                     args.model, "--detector", args.detector],
                    "fera assist": [fera, "assist", "--source", str(clip), "--json", "--speech", "off", "--model",
                                    args.model, "--detector", args.detector]}
            fps = {}
            for name, cmd in cmds.items():
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
                fps[name] = args.frames / (time.perf_counter() - t0)
            print(f"{n:>5}  " + ", ".join(f"{k} {v:.1f} frames/s" for k, v in fps.items())
                  + f": {fps['fera analyze'] / fps['fera assist']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
