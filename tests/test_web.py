"""`fera serve`'s HTTP and WebSocket API, in process (the browser tests are in test_browser.py)."""
import io
import json

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from fera.cli import main

pytest.importorskip("fastapi", reason="fera serve needs fastapi (a core dependency; pip install -e .)")
from fastapi.testclient import TestClient  # noqa: E402

from fera.web.server import CSP, ServeConfig, create_app  # noqa: E402

SAMPLES = REPO / "src" / "fera" / "assets" / "samples"


@pytest.fixture(scope="module")
def client():
    # the address the browser would use: the server refuses requests for any other host
    with TestClient(create_app(ServeConfig(max_upload_bytes=2 * 2**20)), base_url="http://127.0.0.1:8000") as c:
        yield c


def jpeg(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def test_page_is_local_with_a_strict_csp(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-security-policy"] == CSP
    assert "script-src 'self' 'wasm-unsafe-eval';" in CSP  # WebAssembly may be compiled, JavaScript never evaluated
    assert "'unsafe-eval'" not in CSP and "'unsafe-inline'" not in CSP and "connect-src 'self';" in CSP
    page_policy = r.text.split('http-equiv="Content-Security-Policy" content="')[1].split('"')[0]
    assert page_policy == CSP.replace("; frame-ancestors 'none'", "")  # the same policy on any static host
    assert "http://" not in r.text and "https://" not in r.text  # nothing from the internet
    for asset in ("/static/js/app.mjs", "/static/style.css", "/sw.js", "/site.json", "/manifest.webmanifest"):
        a = client.get(asset)
        assert a.status_code == 200 and "http://" not in a.text and "https://" not in a.text, asset
    assert client.get("/static/js/app.mjs").headers["content-type"].startswith("text/javascript")
    assert 'role="status"' in r.text and 'aria-live="polite"' in r.text and 'role="alert"' in r.text
    assert client.get("/no/such/file.js").status_code == 404


def test_favicon_is_served(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content


def test_docs_describe_the_api_without_external_assets(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "POST /api/analyze" in r.text and "WebSocket /api/live" in r.text
    assert "cdn" not in r.text.lower() and "https://" not in r.text
    assert '<th scope="row">file</th>' in r.text and '<th scope="row">class_name</th>' in r.text  # the upload fields
    assert "/api/analyze" in client.get("/openapi.json").json()["paths"]


def test_earcons_are_the_runtimes_own_sounds(client):
    from fera.runtime.earcons import earcon_wav

    for path, name, position in [("/earcons/happy.wav?position=left", "happy", "left"),
                                 ("/earcons/surprise.wav", "surprise", None), ("/earcons/edge.wav?position=right",
                                                                                "edge", "right")]:
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", path
        assert r.content == earcon_wav(name, position), path
    for bad in ("/earcons/pain.wav", "/earcons/describe.wav", "/earcons/happy.wav?position=up"):
        r = client.get(bad)  # not a class of the live model, not a sound, not a position
        assert r.status_code == 404 and "no earcon" in r.json()["error"], bad
    assert client.get("/earcons/..%2Fapp.js.wav").status_code == 404


def test_analyze_a_photo(client):
    with open(SAMPLES / "astronaut.png", "rb") as f:
        r = client.post("/api/analyze", files={"file": ("astronaut.png", f, "image/png")})
    assert r.status_code == 200
    d = r.json()
    assert d["sentence"] == "1 face: ahead appears happy"
    face = d["faces"][0]
    assert set(face) >= {"box", "position", "expression", "confidence", "probabilities"}
    assert d["annotated"].startswith("data:image/jpeg;base64,") and d["sentence"] in d["annotated_alt"]


@pytest.mark.parametrize("name, data, status, words", [
    ("notes.txt", b"hello, not an image", 415, "not an image"),
    ("empty.png", b"", 400, "empty"),
    ("big.jpg", b"\xff\xd8" + b"0" * (2 * 2**20 + 10), 413, "larger than 2 MB"),
])
def test_bad_uploads_are_refused_with_a_clear_message(client, name, data, status, words):
    r = client.post("/api/analyze", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == status and words in r.json()["error"]


def test_decompression_bomb_is_refused_before_decoding(client):
    buf = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buf, format="PNG")  # 81 megapixels in a small file
    assert len(buf.getvalue()) < 2 * 2**20
    r = client.post("/api/analyze", files={"file": ("bomb.png", buf.getvalue(), "image/png")})
    assert r.status_code == 413 and "too large" in r.json()["error"]


def test_live_socket_survives_malformed_messages(client):
    frame = np.full((480, 640, 3), 100, np.uint8)
    frame[90:390, 170:470] = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB").resize((300, 300)))
    with client.websocket_connect("ws://127.0.0.1:8000/api/live") as ws:
        ws.send_text("not json")
        assert ws.receive_json()["type"] == "error"
        ws.send_text(json.dumps({"type": "launch"}))
        assert "unknown command" in ws.receive_json()["message"]
        ws.send_bytes(b"\x00garbage")
        assert "frame ignored" in ws.receive_json()["message"]
        for wrong in (9, -1, True, "2", None):  # an out-of-range value is named as such, and changes nothing
            ws.send_text(json.dumps({"type": "verbosity", "value": wrong}))
            assert ws.receive_json() == {"type": "error", "message": f"verbosity must be 0, 1, 2 or 3 (got {wrong})"}
        ws.send_text(json.dumps({"type": "verbosity", "value": 3}))
        assert ws.receive_json() == {"type": "verbosity", "value": 3}
        events = []
        for _ in range(3):
            ws.send_bytes(jpeg(frame))
            for _ in range(20):  # the frame's announcements, then the frame itself (a hang: conftest's watchdog)
                e = ws.receive_json()
                events.append(e)
                if e["type"] == "frame":
                    break
            else:
                raise AssertionError(f"no 'frame' event among 20 answers to a frame: {events[-20:]}")
        assert events[-1]["faces"][0]["position"] == "ahead" and events[-1]["ms"] > 0
        ws.send_text(json.dumps({"type": "describe"}))
        d = ws.receive_json()
        assert d["type"] == "announce" and d["text"].startswith("1 face: ahead, ")


def test_serve_refuses_a_non_loopback_host_without_the_flag(capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--allow_remote" in err[0]


def test_serve_on_a_port_in_use_is_one_line(capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fera: error: cannot listen on 127.0.0.1:{port}")
