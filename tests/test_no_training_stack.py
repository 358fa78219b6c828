"""The assistant, the web server, `fera models` and every error path work without the training stack:
each command runs in a fresh Python in which importing keras, torch, tensorflow or jax fails (and is
reported on stderr), as on a machine with only the core install. Errors are then one line, exit 2."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, free_port, image_claiming

SAMPLES = REPO / "src" / "fera" / "assets" / "samples"
BLOCKER = """
import sys
class _NoTraining:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            print(f"blocked import: {name}", file=sys.stderr, flush=True)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoTraining())
"""
MAIN = "import sys; from fera.cli import main; sys.exit(main(sys.argv[1:]))"
TRAINING = ("keras", "torch", "tensorflow", "jax")


def fera(*args, blocked=TRAINING, env=None, cwd=None, wait=True):
    code = f"BLOCKED = {blocked!r}\n{BLOCKER}\n{MAIN}"
    environ = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    cmd = [sys.executable, "-c", code, *map(str, args)]
    if not wait:
        return subprocess.Popen(cmd, env=environ, cwd=cwd, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=environ, cwd=cwd, capture_output=True, text=True, timeout=120)


def one_line_error(r, words: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert lines[-1].startswith("fera: error: ") and words in lines[-1], r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args, words", [
    (["assist", "--source", "missing.jpg"], "source not found: missing.jpg"),
    (["assist", "--source", SAMPLES / "astronaut.png", "--model", "vgg16"], "shipped models: fast, vgg13"),
    (["assist", "--max_frames", "-1"], "--max_frames: must be at least 1"),
    (["assist", "--verbosity", "9"], "--verbosity: invalid choice"),
    (["serve", "--port", "99999"], "--port: must be from 1 to 65535 (got 99999)"),
    (["serve", "--port", "-5"], "--port: must be from 1 to 65535 (got -5)"),
    (["serve", "--host", "0.0.0.0"], "--allow_remote"),
    (["explain", "--model", "fast", "--image", "missing.png"], "image not found: missing.png"),
    (["explain", "--model", "vgg16", "--image", SAMPLES / "astronaut.png"], "shipped models: fast, vgg13"),
    (["explain", "--image", "x.png"], "the following arguments are required: --model"),
    (["models", "--bogus"], "unrecognized arguments: --bogus"),
    (["data", "--data_root", "/no/such/folder"], "data root not found"),
])
def test_error_paths_need_no_training_package(args, words):
    r = fera(*args)
    one_line_error(r, words)
    assert "blocked import" not in r.stderr  # nothing even tried


def test_assist_and_models_run_without_training_packages(tmp_path):
    r = fera("assist", "--source", SAMPLES, "--speech", "off", "--json")
    assert r.returncode == 0, r.stderr
    said = {Path(d["source"]).name: d["sentence"] for d in map(json.loads, r.stdout.splitlines())}
    assert said["astronaut.png"] == "1 face: ahead appears happy" and said["grace_hopper.jpg"].startswith("1 face: ")
    r = fera("models")
    assert r.returncode == 0 and "vgg13 (shipped)" in r.stdout and "vgg13 (architecture)" in r.stdout, r.stderr
    (tmp_path / "big.png").write_bytes(image_claiming("PNG", 12000, 12000))  # a decompression bomb on the CLI
    r = fera("assist", "--source", tmp_path / "big.png", "--speech", "off")
    one_line_error(r, "no readable photo")
    assert "the image is too large (12000 x 12000 pixels; at most 40 million pixels)" in r.stderr
    assert "Warning" not in r.stderr and "blocked import" not in r.stderr


@pytest.mark.parametrize("blocked, env, words", [
    (TRAINING, {}, "needs the Python package 'keras'"),
    (("tensorflow",), {"KERAS_BACKEND": "tensorflow"}, "KERAS_BACKEND=tensorflow, but tensorflow is not installed"),
])
def test_commands_that_need_keras_say_so_in_one_line(blocked, env, words, tmp_path):
    for args in (["explain", "--model", "fast", "--image", SAMPLES / "astronaut.png", "--out", tmp_path / "x.png"],
                 ["train", "--data_root", tmp_path, "--out_dir", tmp_path / "run"]):
        one_line_error(fera(*args, blocked=blocked, env=env), words)


def _line_from(stream, prefix: str, timeout: float) -> tuple[bool, str]:
    """Read ``stream``'s pipe until a line starting with ``prefix`` (True) or EOF / ``timeout`` s (False); and what
    was read. Raw reads of the file descriptor, so nothing waits in a buffer that select cannot see."""
    import select

    fd, text, deadline = stream.fileno(), b"", time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        text += chunk
        if any(line.startswith(prefix.encode()) for line in text.split(b"\n")[:-1]):
            return True, text.decode(errors="replace")
    return False, text.decode(errors="replace")


def test_serve_answers_photos_without_training_packages():
    port = free_port()
    p = fera("serve", "--port", port, wait=False)
    try:
        url = f"http://127.0.0.1:{port}"
        # fera prints "serving on" once its socket listens: read stderr up to that line (bounded), no polling
        ready, seen = _line_from(p.stderr, "fera: serving on", timeout=120)
        assert ready, f"fera serve never said it was serving (exit code {p.poll()}): {seen}"
        urllib.request.urlopen(url + "/", timeout=60).read()
        boundary = "fera-test"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
                "Content-Type: image/png\r\n\r\n").encode() + (SAMPLES / "astronaut.png").read_bytes() \
            + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        answer = urllib.request.urlopen(urllib.request.Request(url + "/api/analyze", body, headers), timeout=60)
        assert json.loads(answer.read())["sentence"] == "1 face: ahead appears happy"
        with pytest.raises(urllib.error.HTTPError) as e:  # Grad-CAM needs Keras: a sentence, not a 500
            urllib.request.urlopen(urllib.request.Request(url + "/api/explain", body, headers), timeout=60)
        assert e.value.code == 501 and "needs the Python package 'keras'" in json.loads(e.value.read())["error"]
    finally:
        p.terminate()
        err = p.communicate(timeout=30)[1]
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "blocked import" in line] == ["blocked import: keras"]  # explain
