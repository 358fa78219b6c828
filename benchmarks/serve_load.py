"""Load on `fera serve`: concurrent clients upload photos and stream camera frames, on loopback only.

    python benchmarks/serve_load.py [--clients 4] [--streams 2] [--requests 1000] [--frames 400] [--seconds 1800]

Starts `fera serve` as its own process on a free 127.0.0.1 port, then runs ``--clients`` threads that
POST photos to /api/analyze (the two sample photos as JPEG, PNG and half size, and one request in ten a refusal:
a non-image, a decompression bomb or a foreign Origin) and ``--streams`` WebSocket clients that send
640 x 480 JPEG frames one at a time, as the page does. Bounded by the counts and by ``--seconds``.
Prints requests/s, p50/p95 latency for photos and frames, unexpected errors, and the server's memory:
its resident size every 100 photo requests and its peak (VmHWM), so growth across 1,000 requests shows.
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "src" / "fera" / "assets" / "samples"


def encoded(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=85) if fmt == "JPEG" else img.save(buf, format=fmt)
    return buf.getvalue()


def workload() -> tuple[list[bytes], list[tuple[bytes, dict, int]], bytes]:
    """(photos, refusals as (body, headers, expected status), one live frame)."""
    photos = []
    for name in ("astronaut.png", "grace_hopper.jpg"):
        im = Image.open(SAMPLES / name).convert("RGB")
        photos += [encoded(im), encoded(im, "PNG"), encoded(im.resize((im.width // 2, im.height // 2)))]
    bomb = bytearray(encoded(Image.new("L", (16, 16)), "PNG"))  # its header rewritten to 20000 x 20000 pixels
    struct.pack_into(">II", bomb, 16, 20000, 20000)
    struct.pack_into(">I", bomb, 29, zlib.crc32(bytes(bomb[12:29])))
    refusals = [(b"not an image", {}, 415), (bytes(bomb), {}, 413),
                (photos[0], {"Origin": "https://evil.example"}, 403)]
    canvas = np.full((480, 640, 3), 100, np.uint8)
    canvas[90:390, 170:470] = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB").resize((300, 300)))
    return photos, refusals, encoded(Image.fromarray(canvas))


def multipart(data: bytes) -> tuple[bytes, str]:
    b = "fera-load"
    body = (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="photo"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


def memory_kb(pid: int) -> dict:
    """VmRSS and VmHWM (peak) of a process, in KiB, from /proc (Linux)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) for k, v in (ln.split(":", 1) for ln in lines) if k in ("VmRSS", "VmHWM")}


class Load:
    def __init__(self, port: int, pid: int, args):
        self.port, self.pid, self.args = port, pid, args
        self.lock = threading.Lock()
        self.photo_ms, self.frame_ms, self.errors, self.refused = [], [], [], 0
        self.issued, self.rss = 0, []
        self.deadline = time.monotonic() + args.seconds

    def next_request(self) -> int | None:
        with self.lock:
            if self.issued >= self.args.requests or time.monotonic() > self.deadline:
                return None
            self.issued += 1
            return self.issued

    def photo_client(self, photos, refusals):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        while (n := self.next_request()) is not None:
            data, headers, want = (photos[n % len(photos)], {}, 200) if n % 10 else refusals[n // 10 % len(refusals)]
            body, ctype = multipart(data)
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/analyze", body, {"Content-Type": ctype, **headers})
                r = conn.getresponse()
                answer = json.loads(r.read())
                ok = r.status == want and ("sentence" in answer if want == 200 else "error" in answer)
            except (OSError, http.client.HTTPException, ValueError) as e:
                ok, r = False, None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                answer = repr(e)
            ms = (time.perf_counter() - t0) * 1000
            with self.lock:
                if not ok:
                    self.errors.append(f"photo {n}: {getattr(r, 'status', None)} {str(answer)[:100]}")
                elif want == 200:
                    self.photo_ms.append(ms)
                else:
                    self.refused += 1
                if n % 100 == 0:
                    self.rss.append((n, memory_kb(self.pid).get("VmRSS", 0)))
        conn.close()

    def stream_client(self, frame: bytes, frames: int):
        from websockets.sync.client import connect

        try:
            with connect(f"ws://127.0.0.1:{self.port}/api/live", max_size=2**22,
                         origin=f"http://127.0.0.1:{self.port}") as ws:
                for _ in range(frames):
                    if time.monotonic() > self.deadline:
                        break
                    t0 = time.perf_counter()
                    ws.send(frame)
                    while json.loads(ws.recv(timeout=120))["type"] != "frame":
                        pass
                    with self.lock:
                        self.frame_ms.append((time.perf_counter() - t0) * 1000)
        except Exception as e:  # noqa: BLE001  (counted and reported, not raised)
            with self.lock:
                self.errors.append(f"stream: {e!r}"[:120])


def start_server() -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    p = subprocess.Popen([sys.executable, "-m", "fera", "serve", "--port", str(port)], env=env,
                         stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            if p.poll() is not None:
                raise SystemExit(f"the server did not start: {p.stderr.read()}")
            time.sleep(0.1)
    raise SystemExit("the server did not start within 60 s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=4, help="concurrent photo uploaders (default 4)")
    ap.add_argument("--streams", type=int, default=2, help="concurrent WebSocket frame streams (default 2)")
    ap.add_argument("--requests", type=int, default=1000, help="photo requests in all (default 1000)")
    ap.add_argument("--frames", type=int, default=400, help="frames per stream (default 400)")
    ap.add_argument("--seconds", type=float, default=1800, help="stop after this long, whatever is left (default 1800)")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = ap.parse_args()
    photos, refusals, frame = workload()
    server, port = start_server()
    try:
        load = Load(port, server.pid, args)
        body, ctype = multipart(photos[0])  # one request first, so loading the models is not counted
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        c.request("POST", "/api/analyze", body, {"Content-Type": ctype})
        c.getresponse().read()
        c.close()
        start_rss = memory_kb(server.pid)
        threads = [threading.Thread(target=load.photo_client, args=(photos, refusals)) for _ in range(args.clients)]
        threads += [threading.Thread(target=load.stream_client, args=(frame, args.frames)) for _ in range(args.streams)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        end = memory_kb(server.pid)
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[1]
    pct = lambda xs, q: round(float(np.percentile(xs, q)), 1) if xs else None  # noqa: E731
    done = len(load.photo_ms) + load.refused
    report = {
        "clients": args.clients, "streams": args.streams, "seconds": round(wall, 1),
        "photo_requests": done, "photo_requests_per_s": round(done / wall, 2),
        "photo_ms_p50": pct(load.photo_ms, 50), "photo_ms_p95": pct(load.photo_ms, 95),
        "refusals_as_expected": load.refused,
        "frames": len(load.frame_ms), "frames_per_s": round(len(load.frame_ms) / wall, 2),
        "frame_ms_p50": pct(load.frame_ms, 50), "frame_ms_p95": pct(load.frame_ms, 95),
        "errors": len(load.errors), "error_examples": load.errors[:5],
        "server_rss_mib_after_warmup": round(start_rss.get("VmRSS", 0) / 1024, 1),
        "server_rss_mib_every_100": [(n, round(kb / 1024, 1)) for n, kb in sorted(load.rss)],
        "server_rss_mib_end": round(end.get("VmRSS", 0) / 1024, 1),
        "server_peak_rss_mib": round(end.get("VmHWM", 0) / 1024, 1),
        "server_log_lines": len([ln for ln in log.splitlines() if "serving on" not in ln]),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{args.clients} photo clients and {args.streams} frame streams for {wall:.1f} s on 127.0.0.1")
    print(f"photos: {done} requests, {report['photo_requests_per_s']} requests/s, "
          f"latency p50 {report['photo_ms_p50']} ms, "
          f"p95 {report['photo_ms_p95']} ms ({load.refused} refusals answered as expected)")
    print(f"frames: {len(load.frame_ms)}, {report['frames_per_s']} frames/s, "
          f"round trip p50 {report['frame_ms_p50']} ms, "
          f"p95 {report['frame_ms_p95']} ms")
    print(f"unexpected errors: {len(load.errors)}" + "".join(f"\n  {e}" for e in load.errors[:5]))
    print(f"server memory: {report['server_rss_mib_after_warmup']} MiB after warm-up, "
          f"{report['server_rss_mib_end']} MiB "
          f"at the end, peak {report['server_peak_rss_mib']} MiB")
    print("server resident size after N photo requests: "
          + ", ".join(f"{n}: {mb} MiB" for n, mb in report["server_rss_mib_every_100"]))
    print(f"lines in the server's log: {report['server_log_lines']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
