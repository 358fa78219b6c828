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


# ---- what a user hears and reads (issue 12) ----------------------------------------------------------

needs_espeak = pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def _folder(tmp_path):
    """Three photos, named so they sort a, b, c."""
    d = tmp_path / "photos"
    d.mkdir()
    Image.open(SAMPLES / "astronaut.png").save(d / "a_astronaut.png")
    Image.open(SAMPLES / "grace_hopper.jpg").save(d / "b_grace_hopper.jpg")
    Image.open(SAMPLES / "astronaut.png").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(d / "c_mirrored.png")
    return d


@needs_espeak
def test_a_folder_of_photos_is_spoken_in_full_in_order(tmp_path, monkeypatch, capsys):
    """Each sentence, with its photo's name, played to its end, in order, however long the ones before it took.
    Each sentence takes 2 s on the speaker's clock (injected: real time plus 2 s per sentence played), so the 2nd
    and 3rd wait 2 and 4 s, past max_age_s; and the last is still playing when fera has nothing else to do (the
    player of the last sentence waits for fera to wait for it). fera at 38b83a3 dropped the 2nd and 3rd as stale
    and stopped the player after 5 s."""
    import threading
    import time

    from fera.runtime import speak

    played = tmp_path / "played"
    script = tmp_path / "player.py"
    script.write_text("import shutil, sys, pathlib\n"
                      f"d = pathlib.Path({str(played)!r}); d.mkdir(exist_ok=True)\n"
                      "shutil.copy(sys.argv[1], d / f'{len(list(d.iterdir())):02d}.wav')\n")
    monkeypatch.setattr(speak, "find_player", lambda config=None: [sys.executable, str(script)])
    ahead, waiting, problems = [0.0], threading.Event(), []
    make_speaker = speak.make_speaker
    monkeypatch.setattr(speak, "make_speaker",
                        lambda *a, **k: make_speaker(*a, clock=lambda: time.monotonic() + ahead[0], **k))
    wait_idle = speak.QueuedSpeaker.wait_idle

    def wait(self, timeout=None):
        waiting.set()  # fera has described every photo and waits for the speaker to finish
        return wait_idle(self, timeout)

    monkeypatch.setattr(speak.QueuedSpeaker, "wait_idle", wait)
    play = speak.CommandPlayer.__call__

    def player(self, wav, announcement=None):
        if ahead[0] == 4.0 and not waiting.wait(60):  # the last sentence
            problems.append("fera never waited for its last sentence (60 s)")
        play(self, wav, announcement)
        ahead[0] += 2.0

    monkeypatch.setattr(speak.CommandPlayer, "__call__", player)
    rendered = []
    render = speak.TtsSpeaker.render
    monkeypatch.setattr(speak.TtsSpeaker, "render", lambda self, a: rendered.append(a.text) or render(self, a))
    assert main(["assist", "--source", str(_folder(tmp_path)), "--speech", "tts"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert not problems and "audio output failed" not in captured.err, (problems, captured.err)
    assert [t.split(": ", 1)[0] for t in rendered] == ["a astronaut", "b grace hopper", "c mirrored"]
    assert [t.split(": ", 1)[1] for t in rendered] == [ln.split(": ", 1)[1] for ln in lines]  # the printed sentences
    assert sorted(p.name for p in played.iterdir()) == ["00.wav", "01.wav", "02.wav"]  # the last one too, to its end
    assert ahead[0] == 6.0  # three sentences of 2 s each


@pytest.mark.parametrize("mode", [pytest.param("tts", marks=needs_espeak), "earcons"])
def test_without_a_sound_device_one_line_per_event_and_only_json_with_json(tmp_path, monkeypatch, capsys, mode):
    from fera.runtime import speak

    monkeypatch.setattr(speak, "find_player", lambda config=None: None)
    folder = _folder(tmp_path)
    assert main(["assist", "--source", str(folder), "--speech", mode, "--json"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]  # every line is JSON
    assert len(rows) == 3 and "printed as text lines" in captured.err
    assert main(["assist", "--source", str(folder), "--speech", mode]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(": 1 face: " in ln for ln in lines)  # each photo once, in one format


def test_screenreader_at_verbosity_0_prints_what_the_sounds_say(tmp_path, capsys):
    path = tmp_path / "v.avi"
    _video(path, [_canvas("astronaut.png", 170)] * 30 + [np.zeros((480, 640, 3), np.uint8)] * 30)
    assert main(["assist", "--source", str(path), "--speech", "screenreader", "--verbosity", "0"]) == 0
    said = [line.split(" ", 1)[1] for line in capsys.readouterr().out.strip().splitlines()]
    assert said and said[0].startswith("ahead: ")  # the expression's sound, in words ("ahead: happy")
    assert said[-1] in ("face lost", "too dark")


@needs_espeak
def test_audio_dir_files_are_named_after_each_photo(tmp_path):
    d = tmp_path / "audio"
    assert main(["assist", "--source", str(_folder(tmp_path)), "--speech", "tts", "--audio_dir", str(d)]) == 0
    names = sorted(p.name for p in d.glob("*.wav"))
    assert [n.split("-", 3)[3] for n in names] == ["a_astronaut-describe.wav", "b_grace_hopper-describe.wav",
                                                   "c_mirrored-describe.wav"]


def test_json_faces_come_left_to_right(tmp_path, capsys):
    # a small, darker face on the left scores lower, so the detector lists it last
    canvas = np.full((480, 960, 3), 100, np.uint8)
    small = np.asarray(Image.open(SAMPLES / "grace_hopper.jpg").convert("RGB").resize((180, 210)))
    canvas[130:340, 40:220] = (small * 0.6).astype(np.uint8)
    canvas[90:390, 560:860] = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB").resize((300, 300)))
    Image.fromarray(canvas).save(tmp_path / "two.png")
    assert main(["assist", "--source", str(tmp_path / "two.png"), "--json", "--speech", "off"]) == 0
    faces = json.loads(capsys.readouterr().out)["faces"]
    assert [f["position"] for f in faces] == ["left", "right"]


def test_record_keeps_the_source_frame_rate_and_scales_the_labels(tmp_path):
    import cv2

    from fera.runtime.draw import annotate
    from fera.runtime.pipeline import Assistant
    from fera.runtime.types import Box, Expression, FrameInfo, TrackedFace

    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 480))
    for _ in range(20):
        w.write(cv2.cvtColor(_canvas("grace_hopper.jpg", 100), cv2.COLOR_RGB2BGR))
    w.release()
    assert main(["assist", "--source", str(path), "--speech", "off", "--record", "--save", str(tmp_path / "rec")]) == 0
    cap = cv2.VideoCapture(str(tmp_path / "rec" / "annotated.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0, abs=0.01)  # plays as long as the source (0.8 s)

    def text_height(width, height):
        a = Assistant.create()
        face = TrackedFace(1, Box(width * 0.4, height * 0.4, width * 0.2, height * 0.2),
                           expression=Expression("happy", 0.9))
        im = np.asarray(annotate(np.full((height, width, 3), 100, np.uint8), [face], a, FrameInfo(width, height)))
        rows = np.flatnonzero((im == 255).all(axis=2).any(axis=1))  # the white letters
        return rows.max() - rows.min() + 1

    assert text_height(1920, 1080) >= 2 * text_height(640, 480) >= 2 * 10


def test_a_video_is_not_said_to_break_off_when_only_the_frame_count_was_an_estimate():
    from fera.runtime import sources

    class Video:  # 95 frames, though the container says 98 (as an intact MP4 did)
        def __init__(self, n, total):
            self.n, self.total, self.pos = n, total, 0

        def read(self):
            if self.pos >= self.n:
                return False, None
            self.pos += 1
            return True, np.full((48, 64, 3), 90, np.uint8)

        def grab(self):
            return False

        def get(self, prop):
            import cv2

            return {cv2.CAP_PROP_FRAME_COUNT: self.total, cv2.CAP_PROP_POS_FRAMES: self.pos,
                    cv2.CAP_PROP_FPS: 25.0}.get(prop, 0.0)

        def release(self):
            pass

    for n, total, said in ((95, 98, []), (30, 60, ["v.mp4: the video breaks off at frame 30 of 60 (damaged or cut "
                                                    "short); the rest is skipped"])):
        notices = []
        frames = list(sources._capture(lambda: Video(n, total), "v.mp4", False, None, notices.append))
        assert len(frames) == n and notices == said
