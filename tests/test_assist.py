"""`fera assist` end to end with the real detector, the shipped models and real speech files."""
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from fera.cli import main

SAMPLES = REPO / "src" / "fera" / "assets" / "samples"


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_photos_give_one_object_each_with_faces_and_sentence(capsys):
    assert main(["assist", "--source", str(SAMPLES), "--json", "--speech", "off"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [r["source"].rsplit("/", 1)[-1] for r in rows] == ["astronaut.png", "grace_hopper.jpg"]
    for r in rows:
        assert len(r["faces"]) == 1 and r["sentence"].startswith("1 face: ahead")
        f = r["faces"][0]
        assert set(f) >= {"box", "position", "expression", "confidence", "probabilities"}
        assert abs(sum(f["probabilities"].values()) - 1) < 1e-3
    astronaut = rows[0]["faces"][0]
    assert astronaut["expression"] == "happy" and "happy" in rows[0]["sentence"]  # she is smiling broadly
    assert 150 < astronaut["box"]["x"] + astronaut["box"]["w"] / 2 < 300


def test_plain_lines_and_no_file_written_without_save(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["assist", "--source", str(SAMPLES / "astronaut.png"), "--speech", "screenreader"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].endswith("1 face: ahead appears happy")
    assert "\x1b[" not in out[0]
    assert list(tmp_path.iterdir()) == []  # privacy: nothing on disk unless asked


def test_record_writes_annotated_photos_and_save_alone_does_not(tmp_path):
    assert main(["assist", "--source", str(SAMPLES), "--speech", "off", "--save", str(tmp_path / "s")]) == 0
    assert not (tmp_path / "s").exists()
    assert main(["assist", "--source", str(SAMPLES), "--speech", "off", "--record", "--save", str(tmp_path / "s")]) == 0
    files = sorted((tmp_path / "s").glob("*.png"))
    assert len(files) == 2 and Image.open(files[0]).size == (512, 512)


def test_no_network_is_needed(tmp_path, monkeypatch, capsys):
    """Any attempt to open a connection fails the run; photos and a video still work."""
    import socket

    def refuse(*a, **k):
        raise AssertionError("fera tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert main(["assist", "--source", str(SAMPLES), "--speech", "off", "--json"]) == 0
    path = tmp_path / "v.avi"
    _video(path, [_canvas("grace_hopper.jpg", 100)] * 12)
    assert main(["assist", "--source", str(path), "--speech", "off", "--json"]) == 0
    assert capsys.readouterr().out.count("{") >= 2


def test_tts_writes_real_wav_files_when_there_is_no_sound_device(tmp_path, capsys):
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; .ci/run does)")
    d = tmp_path / "audio"
    assert main(["assist", "--source", str(SAMPLES / "astronaut.png"), "--speech", "tts", "--audio_dir", str(d)]) == 0
    wavs = list(d.glob("*.wav"))
    assert len(wavs) == 1 and wavs[0].read_bytes()[:4] == b"RIFF" and wavs[0].stat().st_size > 10000


def _video(path, frames):
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for f in frames:
        w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    w.release()


def _canvas(photo, x):
    canvas = np.full((480, 640, 3), 90, np.uint8)
    img = np.asarray(Image.open(SAMPLES / photo).convert("RGB").resize((300, 300)))
    canvas[90:390, x:x + 300] = img
    return canvas


def test_video_announces_and_reports_suppressed_decisions(tmp_path, capsys):
    path = tmp_path / "v.avi"
    _video(path, [_canvas("astronaut.png", 170)] * 30 + [np.zeros((480, 640, 3), np.uint8)] * 20)
    assert main(["assist", "--source", str(path), "--json", "--speech", "off"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    spoken = [r for r in rows if r["spoken"]]
    assert spoken[0]["text"] == "ahead, appears happy" and spoken[0]["timestamp"] >= 0.7 - 1e-6
    assert any(r["text"] in ("face lost", "too dark", "no face") for r in spoken)
    assert all(r["reason"].startswith(("spoken", "suppressed")) for r in rows)
    assert any(not r["spoken"] and r["reason"].startswith("suppressed") for r in rows)


def test_bad_source_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["assist", "--source", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fera: error: source not found")


def test_assist_needs_no_training_framework():
    code = ("import sys; from fera.cli import main; "
            f"main(['assist', '--source', {str(SAMPLES)!r}, '--speech', 'off', '--json']); "
            "print(sorted(k for k in ('keras', 'torch', 'tensorflow', 'jax') if k in sys.modules), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr.strip().splitlines()[-1] == "[]", out.stderr


class ScriptedKeys:
    """Keys pressed at given frames (what ``fera.runtime.keys.Keys.poll`` returns in a terminal)."""

    def __init__(self, at):
        self.at, self.i = at, -1

    def poll(self):
        self.i += 1
        return self.at.get(self.i)


class ListSpeaker:
    def __init__(self):
        self.said = []

    def say(self, announcement, now):
        self.said.append(announcement.text)


def test_live_keys_describe_mute_verbosity_pause_quit(tmp_path, capsys):
    from fera.runtime.app import Output, run_stream
    from fera.runtime.pipeline import Assistant
    from fera.runtime.sources import open_source

    path = tmp_path / "v.avi"
    _video(path, [_canvas("astronaut.png", 170)] * 60)
    speaker = ListSpeaker()
    keys = ScriptedKeys({3: " ", 12: "m", 14: " ", 20: "m", 22: "v", 24: " ", 30: "p", 40: "p", 50: "q"})
    n = run_stream(Assistant.create(), open_source(str(path)), Output(), speaker, keys)
    out = [line.split(" ", 1)[1] for line in capsys.readouterr().out.strip().splitlines()]
    assert n == 50 - 10  # frames 30-39 paused, stopped at 50
    assert out[:5] == ["1 face: ahead appears happy", "muted", "1 face: ahead appears happy", "sound on",
                       "verbosity 3"]
    assert out[5].startswith("1 face: ahead, far, appears happy, ") and out[6:] == ["paused", "resumed"]
    assert speaker.said == [out[0], out[5]]  # the describe while muted was printed, not spoken


def test_keys_read_one_key_from_a_real_terminal():
    import os
    import pty

    from fera.runtime.keys import Keys

    master, slave = pty.openpty()
    with os.fdopen(slave, "r") as tty_in, Keys(tty_in) as keys:
        assert keys.active and keys.poll() is None
        os.write(master, b" ")
        assert keys.poll() == " "
        os.write(master, b"x")
        assert keys.poll() is None  # not a key of fera's
    os.close(master)


def test_record_writes_an_annotated_video(tmp_path, capsys):
    import cv2

    path = tmp_path / "v.avi"
    _video(path, [_canvas("grace_hopper.jpg", 100)] * 15)
    assert main(["assist", "--source", str(path), "--speech", "off", "--record", "--save", str(tmp_path / "rec")]) == 0
    cap = cv2.VideoCapture(str(tmp_path / "rec" / "annotated.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 15 and cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 640
