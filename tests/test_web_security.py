"""`fera serve` against other websites and hostile uploads: Origin and Host checks on every route and on
the WebSocket handshake (other web pages, sandboxed `null` origins, DNS rebinding), memory-only uploads
refused early, and pixel limits from the header in every format. The page itself, in Chromium, is in
test_browser.py."""
import io
import os
import select
import socket
import sys
import time
from urllib.parse import urlsplit

import numpy as np
import pytest
from conftest import REPO, image_claiming, running_server
from PIL import Image

pytest.importorskip("fastapi", reason="fera serve needs fastapi (a core dependency; pip install -e .)")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.testclient import WebSocketDenialResponse  # noqa: E402

from fera.web.server import ServeConfig, create_app  # noqa: E402

ASTRONAUT = (REPO / "src" / "fera" / "assets" / "samples" / "astronaut.png").read_bytes()
HOME = "http://127.0.0.1:8000"
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "PPM")  # every format fera opens (fera.images.FORMATS)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServeConfig()), base_url=HOME) as c:
        yield c


def request(client, path: str, host: str | None = None, origin: str | None = None):
    headers = {k: v for k, v in (("host", host), ("origin", origin)) if v is not None}
    if path.startswith("/api/"):
        return client.post(path, files={"file": ("a.png", ASTRONAUT, "image/png")}, headers=headers)
    return client.get(path, headers=headers)


ROUTES = ["/", "/static/js/app.mjs", "/site.json", "/models/fast.onnx", "/docs", "/openapi.json", "/favicon.ico", "/earcons/happy.wav", "/api/analyze",
          "/api/explain"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("host, origin, words", [
    ("127.0.0.1:8000", "https://evil.example", "other web pages"),  # another website's page
    ("127.0.0.1:8000", "null", "other web pages"),  # a sandboxed iframe or a file: page
    ("127.0.0.1:8000", "http://127.0.0.1:9999", "other web pages"),  # another local server's page
    ("evil.example:8000", "http://evil.example:8000", "only requests for this computer"),  # DNS rebinding
    ("evil.example:8000", None, "only requests for this computer"),
    ("127.0.0.1:9999", None, "only requests for this computer"),  # another port
    ("", None, "only requests for this computer"),
])
def test_other_sites_and_hosts_are_refused_on_every_route(client, path, host, origin, words):
    r = request(client, path, host, origin)
    assert r.status_code == 403, (path, host, origin, r.status_code)
    assert words in r.json()["error"] and r.headers["content-security-policy"]


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"])
def test_the_page_itself_and_local_programs_are_served(client, host):
    for path in ("/", "/earcons/happy.wav", "/api/analyze"):
        assert request(client, path, host, f"http://{host}").status_code == 200  # the page, as a browser sends
        assert request(client, path, host).status_code == 200  # curl or a script: no Origin


def test_hosts_named_with_allow_remote_are_served():
    from fera.web.guard import LocalOnly

    with TestClient(create_app(ServeConfig(allowed_hosts=("fera.lan", "192.168.1.20"))), base_url=HOME) as c:
        for host in ("fera.lan:8000", "192.168.1.20:8000", "127.0.0.1:8000"):
            assert request(c, "/", host, f"http://{host}").status_code == 200
        assert request(c, "/", "other.lan:8000").status_code == 403
    assert LocalOnly(None, 8000, ("::2",)).hosts >= {"[::2]", "127.0.0.1", "localhost", "[::1]"}


@pytest.mark.parametrize("host, origin", [
    ("127.0.0.1:8000", "https://evil.example"), ("127.0.0.1:8000", "null"),
    ("evil.example:8000", "http://evil.example:8000"), ("127.0.0.1:1", None)])
def test_websocket_handshake_from_elsewhere_is_refused_before_upgrade(client, host, origin):
    headers = {"host": host, **({"origin": origin} if origin else {})}
    with pytest.raises(WebSocketDenialResponse) as refused:
        with client.websocket_connect(f"ws://{host}/api/live", headers=headers):
            pass
    assert refused.value.status_code == 403 and "fera" in refused.value.json()["error"]


def test_websocket_from_the_page_itself_works(client):
    with client.websocket_connect("ws://127.0.0.1:8000/api/live", headers={"origin": HOME}) as ws:
        ws.send_text('{"type": "describe"}')
        assert ws.receive_json()["type"] == "announce"


@pytest.mark.parametrize("fmt", FORMATS)
def test_pixel_limits_are_read_from_the_header_in_every_format(client, fmt):
    """Decompression bombs: each format's header claims far more pixels than the file holds; the
    refusal comes before decoding, also above Pillow's own limit (where it raised its own error: 500)."""
    for w, h in ((10000, 5000), (16384, 16384) if fmt == "WEBP" else (20000, 20000)):
        data = image_claiming(fmt, w, h)
        assert len(data) < 5000
        r = client.post("/api/analyze", files={"file": (f"bomb.{fmt.lower()}", data, "application/octet-stream")})
        assert r.status_code == 413 and "too large" in r.json()["error"], (fmt, w, h, r.status_code, r.text)


def test_a_real_20000_pixel_square_png_is_413(client):
    """The issue's case: a 20000 x 20000 PNG of 388 KB, made by zlib (not by rewriting a header)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compressobj(9)
    idat = b"".join(rows.compress(bytes(20001)) for _ in range(20000)) + rows.flush()
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    assert len(png) < 1_000_000
    r = client.post("/api/analyze", files={"file": ("bomb.png", png, "image/png")})
    assert r.status_code == 413 and "too large" in r.json()["error"]


def test_uploads_never_touch_the_disk(client):
    """A 3 MB photo (FastAPI spooled anything over 1 MB to a deleted temporary file): no file is opened
    for writing while the request is served; every open is seen through Python's audit hook."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)).save(buf, format="PNG")
    photo = buf.getvalue()
    assert 2**20 * 2.5 < len(photo) < 2**20 * 10
    writes, armed = [], [False]

    def hook(event, args):
        if armed[0] and event == "open":
            path, mode, flags = args
            if (mode and any(c in mode for c in "wax+")) or (flags or 0) & (os.O_WRONLY | os.O_RDWR):
                writes.append(path)

    sys.addaudithook(hook)  # cannot be removed; it records only while armed
    client.post("/api/analyze", files={"file": ("warm.png", ASTRONAUT, "image/png")})  # models loaded before
    armed[0], bytecode = True, sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # a first import's .pyc file is not an upload
    try:
        r = client.post("/api/analyze", files={"file": ("noise.png", photo, "image/png")})
    finally:
        armed[0], sys.dont_write_bytecode = False, bytecode
    assert r.status_code == 200 and r.json()["sentence"] == "no face"
    assert writes == []


@pytest.mark.parametrize("body, ctype, status, words", [
    (ASTRONAUT, "image/png", 415, "multipart/form-data"),
    (b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b",
     400, "no photo"),
    (b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + ASTRONAUT[:5000],
     "multipart/form-data; boundary=b", 400, "cut short"),
])
def test_malformed_uploads_get_a_sentence(client, body, ctype, status, words):
    r = client.post("/api/analyze", content=body, headers={"content-type": ctype})
    assert r.status_code == status and words in r.json()["error"]


@pytest.fixture(scope="module")
def server():
    with running_server(max_upload_bytes=10 * 2**20) as url:
        yield urlsplit(url).port


def _send_until_answered(port: int, head: bytes, body_chunks, budget_s: float = 60.0):
    """Send ``head`` then the chunks, watching for the server's answer; (answer, body bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=budget_s) as s:
        s.sendall(head)
        end = time.monotonic() + budget_s
        for chunk in body_chunks:
            if select.select([s], [], [], 0)[0] or time.monotonic() > end:
                break
            try:
                s.sendall(chunk)
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            more = s.recv(65536)
            if not more:
                break
            answer += more
        return answer, sent


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_an_upload_over_the_limit_is_refused_from_its_content_length(server):
    """100 MB announced: the 413 comes before the body is sent (the old server read all of it first)."""
    head = (f"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\nContent-Length: {100 * 2**20}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n").encode()
    answer, sent = _send_until_answered(server, head, [b"--b\r\n"], budget_s=20)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than 10 MB" in answer and sent < 100


def test_an_upload_without_a_length_is_cut_off_at_the_limit(server):
    """Chunked, no Content-Length: reading stops just past 10 MB, not at the 100 MB the client would send
    (the client gets further, by what the loopback's socket buffers hold)."""
    head = (f"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n").encode()
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n'
    piece = b"x" * 2**16
    chunks = [b"%x\r\n" % len(c) + c + b"\r\n" for c in [part] + [piece] * (100 * 16)]  # then 100 MB
    answer, sent = _send_until_answered(server, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than 10 MB" in answer
    assert sent < 32 * 2**20, f"{sent / 2**20:.1f} MB were sent before the refusal"  # 10 MB + socket buffers
