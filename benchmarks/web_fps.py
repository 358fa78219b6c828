"""The page's speed in Chromium on this machine, beside `fera assist`'s, on the same clip.

    python benchmarks/web_fps.py [--seconds 4] [--frames 150] [--faces 1]

A clip of 640 x 480 frames is made from the public-domain sample photos (1 or 3 faces, moving a little). The page
(`fera web build`'s site, served by Python's http.server on loopback) runs it from Chromium's fake camera
(--use-file-for-fake-video-capture, the clip as .y4m), with its frame cap lifted (?fps=1000), and its own record
gives the milliseconds of each stage per frame (grab: the video frame into pixels; detect: letterbox, network,
decode; classify: crop, network; rest: track, smooth, announce, page updates). `fera assist`'s loop (an
Assistant with the real detector and the fast model, built before the clock starts) runs the same frames in
this process, with the same stages timed. Both use one thread for the networks (the page has no
cross-origin isolation, so onnxruntime-web runs single-threaded; ONNX Runtime is given 1 intra-op thread here
too, then its default of 2 for a second Python figure).
"""
from __future__ import annotations

import argparse
import http.server
import importlib.util
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_traces", REPO / "scripts" / "make_traces.py")
traces = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(traces)
QUIET = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


def clip(seconds: float, fps: int, faces: int) -> list[np.ndarray]:
    out = []
    for i in range(int(seconds * fps)):
        dx = 10 * np.sin(i / fps)
        spots = [("astronaut.png", 200, 320 + dx, 240)] if faces == 1 else [
            ("astronaut.png", 130, 130 + dx, 230), ("grace_hopper.jpg", 150, 330 + dx, 250), ("astronaut.png", 110, 530 + dx, 220)]
        out.append(traces.group(spots))
    return out


def write_y4m(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for fr in frames:
            ycc = np.asarray(Image.fromarray(fr).convert("YCbCr"))
            f.write(b"FRAME\n" + ycc[:, :, 0].tobytes() + ycc[::2, ::2, 1].tobytes() + ycc[::2, ::2, 2].tobytes())
    return path


def quiet_handler(folder: Path):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(folder), **k)

        def log_message(self, *a):
            pass

    return Handler


def page(frames: list[np.ndarray], fps: int, n: int) -> dict:
    from playwright.sync_api import sync_playwright

    from fera.web.site import make_site

    with tempfile.TemporaryDirectory() as d:
        site = make_site().build(Path(d) / "site")
        video = write_y4m(Path(d) / "clip.y4m", frames, fps)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), quiet_handler(site))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=[
                    *QUIET, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={video}"])
                try:
                    pg = b.new_page()
                    t0 = time.perf_counter()
                    pg.goto(f"http://127.0.0.1:{httpd.server_address[1]}/?fps=1000")
                    pg.wait_for_selector("#load-state:has-text('Ready')", timeout=120000)
                    load_s = time.perf_counter() - t0
                    pg.click("#camera")
                    got = pg.evaluate("""(n) => new Promise((resolve) => {
                        const t = window.fera.timings, push = t.push;
                        t.push = function (...x) { const k = push.apply(this, x);
                          if (t.length === 10) t.started = performance.now();
                          if (t.length >= n + 10) resolve({ rows: t.slice(10), s: (performance.now() - t.started) / 1000 });
                          return k; };
                        setTimeout(() => resolve(null), 600000); })""", n)
                    backend = pg.evaluate("window.fera.events.find((e) => e.name === 'models-ready').backend")
                finally:
                    b.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
    if got is None:
        raise SystemExit("the page did not process the frames within 10 minutes")
    rows = got["rows"]
    mean = lambda k: float(np.mean([r[k] for r in rows]))  # noqa: E731
    return {"fps": len(rows) / got["s"], "ms": {k: mean(k) for k in rows[0] if k != "faces"},
            "p95": float(np.percentile([r["total"] for r in rows], 95)), "faces": rows[-1]["faces"],
            "load_s": load_s, "backend": backend, "bytes": site_bytes()}


def site_bytes() -> int:
    from fera.web.site import make_site

    return make_site().info["load_bytes"]


class Timed:
    def __init__(self, fn):
        self.fn, self.total = fn, 0.0

    def __call__(self, *a, **k):
        t = time.perf_counter()
        try:
            return self.fn(*a, **k)
        finally:
            self.total += time.perf_counter() - t


def assist(frames: list[np.ndarray], fps: int, n: int, threads: int) -> dict:
    from fera import shipped
    from fera.runtime.classify import Classifier, ClassifyConfig
    from fera.runtime.detect import BlazeFaceDetector
    from fera.runtime.pipeline import Assistant

    det = BlazeFaceDetector("full", threads=threads)
    clf = Classifier(ClassifyConfig(model="fast"), model=shipped.load_onnx("fast", threads=threads))
    a = Assistant(det, clf)
    det.detect, a.classifier = Timed(det.detect), Timed(clf)
    for i in range(10):  # warm up, as the page's first 10 frames are left out
        a.step(frames[i % len(frames)], i / fps)
    det.detect.total = a.classifier.total = 0.0
    totals = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        r = a.step(frames[i % len(frames)], (i + 10) / fps)
        totals.append((time.perf_counter() - s) * 1000)
    wall = time.perf_counter() - t0
    d, c = det.detect.total * 1000 / n, a.classifier.total * 1000 / n
    return {"fps": n / wall, "ms": {"detect": d, "classify": c, "rest": float(np.mean(totals)) - d - c,
                                   "total": float(np.mean(totals))}, "p95": float(np.percentile(totals, 95)),
            "faces": len(r.faces)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=4.0, help="clip length (the fake camera loops it)")
    p.add_argument("--frames", type=int, default=150, help="frames measured (after 10 to warm up)")
    p.add_argument("--faces", type=int, choices=(1, 3), default=1)
    args = p.parse_args(argv)
    fps = 15
    frames = clip(args.seconds, fps, args.faces)
    w = page(frames, fps, args.frames)
    print(f"page in Chromium ({w['backend']}, {w['bytes'] / 1e6:.1f} MB loaded in {w['load_s']:.1f} s, "
          f"{w['faces']} face(s) found): {w['fps']:.1f} frames/s, p95 {w['p95']:.1f} ms a frame")
    order = ["grab", "detect_letterbox", "detect_network", "detect_decode", "classify_crop", "classify_network",
             "rest", "total"]
    print("  ms per frame: " + ", ".join(f"{k} {w['ms'][k]:.1f}" for k in order if k in w["ms"]))
    for threads in (1, 2):
        a = assist(frames, fps, args.frames, threads)
        print(f"fera assist loop ({threads} ONNX Runtime thread{'s' if threads > 1 else ''}, {a['faces']} face(s)): "
              f"{a['fps']:.1f} frames/s, p95 {a['p95']:.1f} ms a frame")
        print("  ms per frame: " + ", ".join(f"{k} {v:.1f}" for k, v in a["ms"].items()))
        if threads == 1:
            print(f"  the page runs at {w['fps'] / a['fps']:.2f}x the assist loop's frames/s (same threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
