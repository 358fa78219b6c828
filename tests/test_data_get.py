"""`fera data get`: from a local file or archive, from a local HTTP server (resumed after a cut), and the
one-line errors: offline, no answer, no Kaggle credentials or client, damaged archives, wrong checksums.
Nothing here touches the real network: every address is on 127.0.0.1."""
import hashlib
import io
import json
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import REPO
from fer_csv import make_fer_csv

from fera.cli import main
from fera.datasets import kaggle_source


def _tar_gz(csv_path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(csv_path, arcname="fer2013/fer2013.csv")
    return buf.getvalue()


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("fera: error: "), err
    return err[-1]


def _clean(tmp_path, cache):
    """No half dataset next to --to and nothing left in the download cache."""
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    downloads = cache / "downloads"
    assert not downloads.exists() or not [p for p in downloads.rglob("*") if p.is_file()]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("FERA_CACHE_DIR", str(d))
    return d


@pytest.fixture
def server():
    """A local HTTP server for one payload with Range support; ``cut`` bytes: the first answer stops there."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            srv = self.server
            srv.requests.append(dict(self.headers))
            data, start = srv.payload, 0
            rng = self.headers.get("Range")
            if rng and self.headers.get("If-Range", '"v1"') == '"v1"':
                start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("ETag", '"v1"')
            self.end_headers()
            body = data[start:]
            if srv.cut:
                body, srv.cut = body[:srv.cut], None
                self.close_connection = True
            self.wfile.write(body)
            srv.sent.append(len(body))

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.requests, srv.sent, srv.cut, srv.payload = [], [], None, b""
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/fer2013.tar.gz"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_get_from_a_local_csv_writes_a_trainable_folder(tmp_path, cache, capsys):
    fer, _, _ = make_fer_csv(tmp_path / "src")
    out = tmp_path / "fer"
    assert main(["data", "get", "--file", str(fer), "--to", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["origin"] == "file" and rep["counts"]["train"]["happy"] == 4 and rep["counts"]["test"]["sad"] == 2
    assert (out / "train" / "happy" / "row00003.png").is_file() and not (out / "fer2013.csv").exists()
    assert main(["data", "--data_root", str(out)]) == 0  # the smoke test reads it as it is
    _clean(tmp_path, cache)


def test_get_from_a_nested_archive_keeps_the_csv(tmp_path, cache, capsys):
    """Kaggle's competition zip holds fer2013.tar.gz, which holds fer2013/fer2013.csv."""
    fer, ferplus, _ = make_fer_csv(tmp_path / "src")
    archive = tmp_path / "competition.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("fer2013.tar.gz", _tar_gz(fer))
        z.writestr("example_submission.csv", "id,emotion\n")
    out = tmp_path / "fer"
    assert main(["data", "get", "--file", str(archive), "--to", str(out), "--ferplus", str(ferplus)]) == 0
    text = capsys.readouterr().out
    assert "images with FER+ votes (Microsoft's FER+ layout" in text
    assert text.strip().endswith(f"train with: fera train --data_root {out} --labels crossentropy")
    assert (out / "fer2013.csv").read_bytes() == fer.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["FER2013Test", "FER2013Train", "FER2013Valid", "dataset.json",
                                                     "fer2013.csv"]
    assert (out / "FER2013Train" / "label.csv").read_text().startswith('fer0000000.png,"(0, 0, 48, 48)",0,2,0,0,8,')
    assert (out / "FER2013Valid" / "fer0000029.png").is_file() and not (out / ".unpack").exists()
    _clean(tmp_path, cache)
    with pytest.raises(SystemExit) as refused:  # the votes keep contempt; `fera train --contempt` chooses
        main(["data", "get", "--file", str(fer), "--to", str(tmp_path / "fp8"), "--ferplus", str(ferplus),
              "--contempt"])
    assert refused.value.code == 2 and "unrecognized arguments: --contempt" in _error(capsys)


def test_an_interrupted_download_resumes_where_it_stopped(tmp_path, cache, server, capsys):
    fer, _, _ = make_fer_csv(tmp_path / "src")
    server.payload = _tar_gz(fer)
    server.cut = len(server.payload) // 2
    sha = hashlib.sha256(server.payload).hexdigest()
    out = tmp_path / "fer"
    argv = ["data", "get", "--url", server.url, "--sha256", sha, "--to", str(out), "--timeout", "10"]
    assert main(argv) == 2
    err = _error(capsys)
    assert "download interrupted after" in err and "run the same command again to resume" in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    parts = list((cache / "downloads").glob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size == len(server.payload) // 2
    assert main(argv + ["--json"]) == 0
    assert server.requests[1]["Range"] == f"bytes={len(server.payload) // 2}-"
    assert server.sent == [len(server.payload) // 2, len(server.payload) - len(server.payload) // 2]
    rep = json.loads(capsys.readouterr().out)
    assert rep["origin"] == "url" and rep["sha256_checked"] and rep["counts"]["val"]["fear"] == 2
    assert (out / "fer2013.csv").read_bytes() == fer.read_bytes()
    _clean(tmp_path, cache)


def test_a_wrong_checksum_is_refused_and_the_download_deleted(tmp_path, cache, server, capsys):
    fer, _, _ = make_fer_csv(tmp_path / "src")
    server.payload = _tar_gz(fer)
    out = tmp_path / "fer"
    assert main(["data", "get", "--url", server.url, "--sha256", "0" * 64, "--to", str(out)]) == 2
    assert "checksum mismatch" in _error(capsys) and not out.exists()
    _clean(tmp_path, cache)


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
@pytest.mark.parametrize("origin", ["file", "url"])
def test_a_damaged_archive_is_refused_with_nothing_left_behind(tmp_path, cache, server, capsys, kind, origin):
    fer, _, _ = make_fer_csv(tmp_path / "src")
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(fer, "fer2013.csv")
        data = buf.getvalue()
    else:
        data = _tar_gz(fer)
    damaged = data[:len(data) * 2 // 3]  # cut short, as a broken download is
    src = tmp_path / f"fer2013.{kind}"
    src.write_bytes(damaged)
    server.payload = damaged
    out = tmp_path / "fer"
    argv = ["--file", str(src)] if origin == "file" else ["--url", server.url]
    assert main(["data", "get", *argv, "--to", str(out)]) == 2
    assert "is a damaged or incomplete archive" in _error(capsys)
    assert not out.exists()
    _clean(tmp_path, cache)


def test_offline_is_one_line_that_says_what_to_do(tmp_path, cache, capsys):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "fer"
    assert main(["data", "get", "--url", f"http://127.0.0.1:{port}/fer2013.csv", "--to", str(out)]) == 2
    err = _error(capsys)
    assert f"cannot reach 127.0.0.1:{port} (connection refused)" in err and "--file" in err
    assert not out.exists()
    _clean(tmp_path, cache)


def test_a_server_that_never_answers_does_not_hang(tmp_path, cache, capsys):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    result = {}
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/fer2013.csv"
    t = threading.Thread(target=lambda: result.setdefault("rc", main(["data", "get", "--url", url, "--to",
                                                                          str(tmp_path / "fer"), "--timeout", "1"])))
    t.start()
    t.join(60)  # a guard against a hang, not a speed test
    silent.close()
    assert not t.is_alive(), "fera data get still waits on a server that never answers, 60 s on"
    assert result.get("rc") == 2
    err = _error(capsys)
    assert "127.0.0.1" in err and ("timed out" in err or "no answer" in err)


@pytest.fixture
def no_kaggle(tmp_path, monkeypatch):
    """No credentials anywhere, the kaggle package absent, and 'www.kaggle.com' a closed local port."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(sys.modules, "kaggle", None)  # as if not installed: find_spec gives None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setattr(kaggle_source, "KAGGLE_HOST", ("127.0.0.1", s.getsockname()[1]))
    return home


def test_kaggle_without_credentials_client_or_network_says_what_is_missing(tmp_path, cache, no_kaggle, capsys):
    out = tmp_path / "fer"
    assert main(["data", "get", "--to", str(out)]) == 2
    err = _error(capsys)
    assert "cannot download FER-2013 from Kaggle: no Kaggle credentials" in err and "kaggle.json" in err
    assert "pip install kaggle" in err and "offline?" in err
    assert "fera data get --file fer2013.tar.gz --to DIR" in err and not out.exists()
    _clean(tmp_path, cache)


def test_kaggle_credentials_are_found_where_the_client_looks(tmp_path, cache, no_kaggle, monkeypatch, capsys):
    (no_kaggle / ".kaggle").mkdir()
    (no_kaggle / ".kaggle" / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    with socket.socket() as reachable:  # the network is there this time
        reachable.bind(("127.0.0.1", 0))
        reachable.listen()
        monkeypatch.setattr(kaggle_source, "KAGGLE_HOST", reachable.getsockname())
        assert main(["data", "get", "--to", str(tmp_path / "fer")]) == 2
    err = _error(capsys)
    assert "the kaggle package is not installed (pip install kaggle)" in err
    assert "credentials" not in err and "offline" not in err
    monkeypatch.setenv("KAGGLE_USERNAME", "u")
    (no_kaggle / ".kaggle" / "kaggle.json").unlink()
    assert not kaggle_source.credentials_found()  # the username alone is not enough
    monkeypatch.setenv("KAGGLE_KEY", "k")
    assert kaggle_source.credentials_found()


def test_get_needs_a_target_and_refuses_a_non_empty_one_before_downloading(tmp_path, server, capsys):
    assert main(["data", "get", "--url", server.url]) == 2
    assert "needs --to DIR" in _error(capsys)
    (tmp_path / "fer" / "mine").mkdir(parents=True)
    assert main(["data", "get", "--url", server.url, "--to", str(tmp_path / "fer")]) == 2
    assert "is not empty" in _error(capsys) and server.requests == []
    with pytest.raises(SystemExit) as refused:  # by the option itself, as argparse refuses
        main(["data", "get", "--url", server.url, "--to", str(tmp_path / "new"), "--timeout", "0"])
    assert refused.value.code == 2 and "--timeout: must be more than 0" in _error(capsys) and server.requests == []


def test_the_designs_script_is_a_thin_wrapper(tmp_path):
    fer, _, _ = make_fer_csv(tmp_path / "src")
    r = subprocess.run([sys.executable, "scripts/download_data.py", "--file", str(fer), "--to", str(tmp_path / "fer")],
                       cwd=REPO, capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")})
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and (tmp_path / "fer" / "val" / "angry").is_dir()


def test_kaggle_client_failures_become_one_line():
    err = kaggle_source._client_error
    assert "accept the competition's rules" in err("requests.exceptions.HTTPError: 403 Client Error: Forbidden for url")
    assert "rejected the credentials" in err("HTTPError: 401 Client Error: Unauthorized for url: https://api")
    assert "connection to Kaggle failed" in err('File "x.py", line 1403, in send\nrequests.exceptions.ConnectionError: '
                                                "HTTPSConnectionPool(host='api.kaggle.com'): Max retries exceeded")
    assert err("Traceback ...\nValueError: odd\n").startswith('the Kaggle client failed: "ValueError: odd"')


FAKE_CLIENT = '''import os, shutil, threading
class KaggleApi:
    def authenticate(self):
        pass
    def competition_download_file(self, competition, file_name, path=None, quiet=False):
        out = os.path.join(path, file_name)
        if os.environ.get("FAKE_KAGGLE_FILE"):
            shutil.copy(os.environ["FAKE_KAGGLE_FILE"], out)
            return
        with open(out, "wb") as f:
            f.write(b"x" * 1000)
        threading.Event().wait()  # stalls for ever
'''


@pytest.mark.parametrize("case", ["stall", "not_the_published_csv"])
def test_the_kaggle_child_process_is_stopped_or_checked(tmp_path, cache, monkeypatch, capsys, case):
    """A stand-in for Kaggle's client (a package named kaggle on the path; the real one needs the network):
    a stalled download is stopped after 2 x --timeout, and a CSV that is not the published one is refused."""
    pkg = tmp_path / "fake" / "kaggle"
    (pkg / "api").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "api" / "__init__.py").write_text("")
    (pkg / "api" / "kaggle_api_extended.py").write_text(FAKE_CLIENT)
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
    monkeypatch.setenv("KAGGLE_USERNAME", "u")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    if case == "not_the_published_csv":
        fer, _, _ = make_fer_csv(tmp_path / "src")
        (tmp_path / "fer2013.tar.gz").write_bytes(_tar_gz(fer))
        monkeypatch.setenv("FAKE_KAGGLE_FILE", str(tmp_path / "fer2013.tar.gz"))
    out = tmp_path / "fer"
    with socket.socket() as reachable:
        reachable.bind(("127.0.0.1", 0))
        reachable.listen()
        monkeypatch.setattr(kaggle_source, "KAGGLE_HOST", reachable.getsockname())
        assert main(["data", "get", "--to", str(out), "--timeout", "1"]) == 2
    err = _error(capsys)
    if case == "stall":
        assert "no data from Kaggle for 2 s; run the same command again to resume" in err
        assert (cache / "downloads" / "kaggle" / "fer2013.tar.gz").stat().st_size == 1000  # kept for the resume
    else:
        assert "fer2013.csv from Kaggle is not the published file" in err
        _clean(tmp_path, cache)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
