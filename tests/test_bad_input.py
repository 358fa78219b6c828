"""Bad input for `fera assist`: a camera that disconnects, damaged videos, frames of any size and layout,
no face or fifty, faces cut by the frame's edge. Clear one-line messages, no traceback, and the run
goes on where it can. Real detector and shipped model; cameras are faked (CI has none)."""
import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from fera.cli import main
from fera.runtime import sources
from fera.runtime.pipeline import Assistant
from fera.runtime.sources import CaptureConfig, SourceLost, open_source

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "src", "fera", "assets", "samples")


def sample(name):
    return np.asarray(Image.open(os.path.join(SAMPLES, name)).convert("RGB"))


@pytest.fixture(scope="module")
def parts():
    a = Assistant.create()
    return a.detector, a.classifier


@pytest.fixture
def assistant(parts):
    return Assistant(*parts, tiled_photos=True)  # fresh tracking and announcing state, models loaded once


class FakeCap:
    """An OpenCV capture that delivers ``n`` frames and then nothing (a camera pulled out)."""

    def __init__(self, n, image=None):
        self.n, self.image = n, image if image is not None else np.full((48, 64, 3), 90, np.uint8)

    def read(self):
        if self.n <= 0:
            return False, None
        self.n -= 1
        return True, self.image.copy()

    def get(self, prop):
        return 0.0

    def release(self):
        pass


def test_camera_that_comes_back_is_reopened():
    caps, notices = [FakeCap(3), FakeCap(1 + 4)], []  # reopening reads one frame to check the camera
    gen = sources._capture(lambda: caps.pop(0), "camera 0", True, 7, notices.append, CaptureConfig(reconnect_s=1.0),
                           sleep=lambda s: None)
    frames = list(gen)
    assert len(frames) == 7 and [f.index for f in frames] == list(range(7))
    assert notices == ["camera 0 stopped sending frames; trying to reopen it for 1 s", "camera 0 is back"]


def test_camera_that_stays_gone_raises_source_lost():
    def reopen():
        raise sources.FeraError("cannot open camera 0")

    caps = [FakeCap(5)]
    gen = sources._capture(lambda: caps.pop(0) if caps else reopen(), "camera 0", True, None, lambda m: None,
                           CaptureConfig(reconnect_s=0.05), sleep=lambda s: None)
    got = []
    with pytest.raises(SourceLost, match="camera 0 disconnected: no frame for 0.05 s"):
        for f in gen:
            got.append(f)
    assert len(got) == 5


def test_cli_says_camera_disconnected_and_exits_2(monkeypatch, capsys):
    caps = [FakeCap(12)]

    def fake_open(target, what):
        if caps:
            return caps.pop()
        raise sources.FeraError(f"cannot open {what} {target}")

    monkeypatch.setattr(sources, "_open_capture", fake_open)
    monkeypatch.setattr(sources, "CaptureConfig", lambda: CaptureConfig(reconnect_s=0.05))
    assert main(["assist", "--source", "0", "--speech", "off"]) == 2
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1].endswith(" camera disconnected")
    assert err.strip().splitlines() == ["fera: camera 0 stopped sending frames; trying to reopen it for 0.05 s",
                                        "fera: error: camera 0 disconnected: no frame for 0.05 s"]


def write_video(path, n=60, fourcc="mp4v"):
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 15, (160, 120))
    rng = np.random.default_rng(0)
    for i in range(n):
        w.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    w.release()
    return path


def test_video_with_damaged_frames_goes_on_after_them(tmp_path):
    data = bytearray(write_video(tmp_path / "v.mp4").read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4000] = np.random.default_rng(1).integers(0, 255, 4000, dtype=np.uint8).tobytes()
    (tmp_path / "damaged.mp4").write_bytes(bytes(data))
    notices = []
    frames = list(open_source(str(tmp_path / "damaged.mp4"), notice=notices.append))
    assert 40 <= len(frames) < 60  # the frames before and after the damage
    assert frames[-1].timestamp > 3.0  # it went on to the end (60 frames at 15/s)
    assert len(notices) == 1 and notices[0].startswith(f"{tmp_path / 'damaged.mp4'}: ")
    assert "damaged frame" in notices[0] and "skipped" in notices[0]


def test_video_cut_short_says_where_it_broke_off(tmp_path, capsys):
    data = write_video(tmp_path / "v.avi", fourcc="MJPG").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[:len(data) // 2])
    assert main(["assist", "--source", str(tmp_path / "cut.avi"), "--speech", "off", "--json"]) == 0
    out, err = capsys.readouterr()
    frames = {json.loads(line)["frame"] for line in out.splitlines()}
    assert frames and max(frames) < 59
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "breaks off at frame" in lines[0] and "of 60" in lines[0]


def test_unreadable_video_is_one_line(tmp_path, capsys):
    data = write_video(tmp_path / "v.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) // 2])  # mp4's index is at the end: unreadable
    assert main(["assist", "--source", str(tmp_path / "cut.mp4"), "--speech", "off"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == \
        [f"fera: error: cannot open video {tmp_path / 'cut.mp4'}: not a readable video"]


def test_camera_that_does_not_open_is_one_line(capsys):
    assert main(["assist", "--source", "57", "--speech", "off"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == \
        ["fera: error: cannot open camera 57: no such camera, or it is in use"]


@pytest.mark.parametrize("name, make", [
    ("grey", lambda a: a[:, :, 0]),
    ("grey x1", lambda a: a[:, :, :1]),
    ("grey + alpha", lambda a: np.dstack([a[:, :, 0], a[:, :, 0]])),
    ("rgba", lambda a: np.dstack([a, np.full(a.shape[:2], 255, np.uint8)])),
    ("16-bit", lambda a: a.astype(np.uint16) * 257),
    ("float 0..1", lambda a: a / 255.0),
    ("large", lambda a: np.asarray(Image.fromarray(a).resize((3000, 3000)))),
    ("wide", lambda a: np.pad(a, ((0, 0), (1500, 1500), (0, 0)))),
])
def test_any_layout_finds_the_face(assistant, name, make):
    image = make(sample("astronaut.png"))
    _, faces, sentence = assistant.photo(image)
    assert len(faces) == 1, name
    for i in range(3):  # a face is a person once seen in 3 of 5 frames
        r = assistant.step(image, i / 10)
    assert r.frame.width == image.shape[1]
    # live frames get one detector pass: a face 1/7 of a very wide frame's width is too small for it
    assert len(r.faces) == (0 if name == "wide" else 1)


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 3), (1, 500, 3), (500, 1), (7, 5, 4)])
def test_tiny_frames_have_no_face_and_no_error(assistant, shape):
    image = np.full(shape, 128, np.uint8)
    assert assistant.photo(image)[1] == []
    assert assistant.step(image, 1.0).faces == []


def test_fifty_faces(assistant):
    # a 10 x 5 grid of the two sample portraits, 96 px each, like a large group photo
    cells = [np.asarray(Image.fromarray(sample("astronaut.png")[30:230, 130:330]).resize((96, 96))),
             np.asarray(Image.fromarray(sample("grace_hopper.jpg")[60:360, 50:350]).resize((96, 96)))]
    grid = np.vstack([np.hstack([cells[(r + c) % 2] for c in range(10)]) for r in range(5)])
    _, faces, sentence = assistant.photo(grid)
    assert len(faces) >= 45  # 50 measured; one pass over the whole frame alone finds 18
    counts = sentence.split(": ", 1)[1].split(";")[0]  # "49 faces: 24 appear happy, 16 neutral, ...; ..."
    assert sentence.startswith(f"{len(faces)} faces: ") and sum(map(int, re.findall(r"\d+", counts))) == len(faces)
    for i in range(3):  # live: one pass, fewer found, no error
        r = assistant.step(grid, i / 10)
    assert len(r.faces) >= 10 and assistant.describe_now().text.startswith(f"{len(r.faces)} faces: ")


def test_face_cut_by_the_left_edge(assistant):
    face = np.asarray(Image.fromarray(sample("astronaut.png")[0:300, 100:400]).resize((240, 240)))
    frame = np.full((480, 640, 3), 110, np.uint8)
    frame[120:360, 0:180] = face[:, 60:]  # a quarter of the face outside the frame
    said = []
    for i in range(40):
        r = assistant.step(frame, i / 10)
        said += [d.text for d in r.decisions if d.spoken]
    assert len(r.faces) == 1 and r.faces[0].box.x < 1.0
    assert "face at the left edge" in said and any(t.startswith("left, ") for t in said)
