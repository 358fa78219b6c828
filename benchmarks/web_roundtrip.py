"""Round trip of one live frame through `fera serve`'s WebSocket, against the same work in process.

    python benchmarks/web_roundtrip.py [--frames 200]

Starts the server on a free loopback port, sends 640 x 480 JPEG frames with one face (the sample
astronaut) one at a time, as the page does (the next frame after the answer), and prints the round
trip p50/p95 next to the baseline: decoding the JPEG and running the assistant's step in process.
The ratio is the cost of HTTP, WebSocket and JSON.
"""
from __future__ import annotations

import argparse
import io
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "fera" / "assets" / "samples"


def frame_jpeg() -> bytes:
    canvas = np.full((480, 640, 3), 100, np.uint8)
    canvas[90:390, 170:470] = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB").resize((300, 300)))
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def start_server():
    import uvicorn

    from fera.web.server import ServeConfig, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(ServeConfig(port=port)), host="127.0.0.1", port=port,
                                        log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return srv, port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    from websockets.sync.client import connect

    from fera.images import read_rgb
    from fera.web.server import Models, ServeConfig, handle_message

    jpeg = frame_jpeg()
    cfg = ServeConfig()
    a = Models(cfg).assistant(live=True)
    base = []
    for i in range(args.frames + 10):
        t = time.perf_counter()
        handle_message(a, {"bytes": jpeg}, cfg)
        base.append((time.perf_counter() - t) * 1000)
    base = base[10:]
    assert read_rgb(jpeg, cfg.max_pixels).shape == (480, 640, 3)

    srv, port = start_server()
    rtt = []
    with connect(f"ws://127.0.0.1:{port}/api/live", max_size=2**22) as ws:
        for i in range(args.frames + 10):
            t = time.perf_counter()
            ws.send(jpeg)
            while '"type": "frame"' not in ws.recv():
                pass
            rtt.append((time.perf_counter() - t) * 1000)
    srv.should_exit = True
    rtt = rtt[10:]
    print(f"{args.frames} frames of 640x480 JPEG ({len(jpeg) // 1024} KiB) with one face")
    print(f"{'':>28} {'p50 ms':>8} {'p95 ms':>8}")
    for name, v in (("in process (decode + step)", base), ("WebSocket round trip", rtt)):
        print(f"{name:>28} {np.percentile(v, 50):>8.2f} {np.percentile(v, 95):>8.2f}")
    print(f"ratio (round trip / in process, p50): {np.percentile(rtt, 50) / np.percentile(base, 50):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
