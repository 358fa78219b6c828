"""Shared fixtures: tiny datasets made on the fly; nothing here needs ../shared or a GPU."""
import contextlib
import faulthandler
import os
import socket
import sys
import threading
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# `make test` runs two pytest-xdist workers on two cores; each gets one thread, or their thread pools fight over
# the cores (the torch pass on 2 cores: 175 s in one process, 193 s with two workers of two threads, 132 s of one).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from fera.demo import build_demo_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FER2013 = SHARED / "datasets" / "fer2013"


# No test can hang the suite: one that runs longer than this dumps every thread's stack and ends its process
# (pytest-xdist then reports that test as crashed and starts another worker). A bound for a hang, not a pace: the
# slowest test takes about 2 minutes on 2 busy cores.
TEST_TIMEOUT_S = float(os.environ.get("FERA_TEST_TIMEOUT_S", 900))


@pytest.fixture(autouse=True)
def _watchdog():
    faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True, file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own decoded-data cache, never the user's ~/.cache."""
    monkeypatch.setenv("FERA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """A tiny FER-style tree: train 12, val 4, test 4 images for each of 4 expressions."""
    return build_demo_dataset(tmp_path_factory.mktemp("demo") / "data",
                              per_class={"train": 12, "val": 4, "test": 4}, seed=1)


@pytest.fixture(scope="session")
def trained_run(demo_root, tmp_path_factory) -> Path:
    """One tiny trained run (the fast model, 3 epochs on demo_root), trained once per session and shared by the
    evaluate, calibrate, export and report tests. Tests read it; one that changes a run works on a copy."""
    from fera.cli import main

    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast", "--epochs", "3",
                 "--batch_size", "16", "--class_weight", "none", "--l2", "0", "--dropout", "0.1",
                 "--verbose", "0"]) == 0
    return out


def make_tree(root: Path, spec: dict[str, dict[str, int]], size=(48, 48), seed=0) -> Path:
    """Write random grayscale PNGs: spec = {split: {class: count}}."""
    rng = np.random.default_rng(seed)
    for split, classes in spec.items():
        for c, n in classes.items():
            d = root / split / c
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(d / f"{c}_{i}.png")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(startup_s: float = 60, **settings):
    """`fera serve`'s app in uvicorn, in a thread, on 127.0.0.1 and a free port: yields its URL once the server has
    answered a request; fails saying so if it has not started within ``startup_s`` or stopped with an error. The
    thread is stopped (and must end within 30 s) when the block ends, however it ends."""
    import urllib.request

    import uvicorn

    from fera.web.server import ServeConfig, create_app

    port, started, failure = free_port(), threading.Event(), []

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            started.set()

    def serve():
        try:
            srv.run()
        except BaseException as e:  # noqa: B036 -- uvicorn ends a failed startup with SystemExit
            failure.append(e)
        finally:
            started.set()  # wakes the wait below however the server ended

    srv = Server(uvicorn.Config(create_app(ServeConfig(port=port, **settings)), host="127.0.0.1", port=port,
                                log_level="warning"))
    t = threading.Thread(target=serve, name=f"uvicorn-{port}", daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}"
    try:
        if not started.wait(startup_s):
            raise AssertionError(f"fera serve's app did not start on port {port} within {startup_s} s")
        if not srv.started:
            raise AssertionError(f"fera serve's app ended before it started on port {port}: {failure!r}")
        with urllib.request.urlopen(url + "/favicon.ico", timeout=startup_s) as r:
            assert r.status == 200, f"fera serve's app answered {r.status} for /favicon.ico"
        yield url
    finally:
        srv.should_exit = True
        t.join(30)
        if t.is_alive():
            raise AssertionError(f"fera serve's app on port {port} was still running 30 s after it was asked to stop")


def image_claiming(fmt: str, width: int, height: int) -> bytes:
    """A small image file whose header claims ``width`` x ``height`` pixels (what a decompression bomb
    looks like before decoding): a 16 x 16 image saved by Pillow, with its size fields rewritten."""
    import io
    import struct
    import zlib

    if fmt == "PPM":
        return b"P5\n%d %d\n255\n" % (width, height) + bytes(256)
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 120, np.uint8)).save(buf, format=fmt, **(
        {"lossless": True} if fmt == "WEBP" else {"compression": "raw"} if fmt == "TIFF" else {}))
    b = bytearray(buf.getvalue())
    if fmt == "PNG":  # IHDR: width, height (big-endian), then the chunk's CRC
        struct.pack_into(">II", b, 16, width, height)
        struct.pack_into(">I", b, 29, zlib.crc32(bytes(b[12:29])))
    elif fmt == "BMP":
        struct.pack_into("<ii", b, 18, width, height)
    elif fmt == "GIF":  # the logical screen and the first image descriptor
        struct.pack_into("<HH", b, 6, width, height)
        struct.pack_into("<HH", b, b.index(b"\x2c", 13) + 5, width, height)
    elif fmt == "JPEG":  # start of frame: height, then width
        struct.pack_into(">HH", b, b.index(b"\xff\xc0") + 5, height, width)
    elif fmt == "TIFF":  # ImageWidth (256) and ImageLength (257) in the first IFD
        ifd = struct.unpack_from("<I", b, 4)[0]
        for i in range(struct.unpack_from("<H", b, ifd)[0]):
            at = ifd + 2 + 12 * i
            tag, kind = struct.unpack_from("<HH", b, at)
            if tag in (256, 257):
                struct.pack_into("<H" if kind == 3 else "<I", b, at + 8, width if tag == 256 else height)
    elif fmt == "WEBP":  # lossless (VP8L): 14 bits each of width - 1 and height - 1
        assert bytes(b[12:16]) == b"VP8L"
        bits = struct.unpack_from("<I", b, 21)[0]
        struct.pack_into("<I", b, 21, (bits & ~0x0FFFFFFF) | (width - 1) | (height - 1) << 14)
    return bytes(b)
