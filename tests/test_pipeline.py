"""Sources, cropping and the assistant pipeline with fake stages (and, at the end, the real ones)."""
import io

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from fera.errors import FeraError
from fera.runtime.classify import square_crop
from fera.runtime.pipeline import Assistant
from fera.runtime.sources import open_source
from fera.runtime.types import Box, Face

SAMPLES = REPO / "src" / "fera" / "assets" / "samples"
NAMES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def test_folder_source_skips_and_counts_corrupt_files(tmp_path):
    Image.new("RGB", (64, 48), (200, 10, 10)).save(tmp_path / "a.png")
    Image.new("L", (30, 40), 128).save(tmp_path / "b.jpg")
    (tmp_path / "c.jpg").write_bytes(b"not a jpeg")
    src = open_source(str(tmp_path))
    frames = list(src)
    assert [f.image.shape for f in frames] == [(48, 64, 3), (40, 30, 3)] and src.still
    assert frames[0].image[0, 0].tolist() == [200, 10, 10]
    assert len(src.skipped) == 1 and src.skipped[0].path.endswith("c.jpg")


def test_stdin_list_and_errors(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "x.png")
    frames = list(open_source("-", stdin=io.StringIO(f"{tmp_path / 'x.png'}\n\n{tmp_path / 'gone.png'}\n")))
    assert len(frames) == 1
    with pytest.raises(FeraError, match="source not found"):
        open_source(str(tmp_path / "nope.png"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FeraError, match="neither an image nor a video"):
        open_source(str(tmp_path / "notes.txt"))
    with pytest.raises(FeraError, match="no images"):
        open_source(str(tmp_path / "empty_dir") if (tmp_path / "empty_dir").mkdir() is None else "")


def test_video_source_yields_frames_with_increasing_timestamps(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(12):
        w.write(np.full((48, 64, 3), i * 20, np.uint8))
    w.release()
    frames = list(open_source(str(path)))
    assert len(frames) == 12 and frames[0].image.shape == (48, 64, 3)
    ts = [f.timestamp for f in frames]
    assert all(b > a for a, b in zip(ts, ts[1:])) and ts[-1] == pytest.approx(1.1, abs=0.15)


def test_square_crop_is_centred_and_padded_at_edges():
    img = np.arange(100 * 100).reshape(100, 100).astype(np.int64)
    c = square_crop(img, Box(40, 40, 20, 10), margin=1.0)
    assert c.shape == (20, 20) and c[10, 10] == img[45, 50]
    edge = square_crop(img, Box(0, 0, 20, 20), margin=2.0)  # reaches outside: edge pixels repeated
    assert edge.shape == (40, 40) and edge[0, 0] == img[0, 0]


class FakeDetector:
    def __init__(self, boxes):
        self.boxes = boxes

    def detect(self, image):
        return [Face(*b) for b in self.boxes]


class FakeClassifier:
    class_names = NAMES

    def __init__(self, label="happy", p=0.9):
        self.label, self.p = label, p

    def __call__(self, image, boxes):
        out = np.full((len(boxes), 7), (1 - self.p) / 6, np.float32)
        out[:, NAMES.index(self.label)] = self.p
        return out


def test_stream_speaks_once_the_expression_has_held():
    frame = np.full((480, 640, 3), 120, np.uint8)
    clf = FakeClassifier("happy")
    a = Assistant(FakeDetector([(280, 180, 80, 100)]), clf)
    spoken = []
    for i in range(30):  # 3 s at 10 frames/s
        r = a.step(frame, i / 10)
        spoken += [(round(d.time, 1), d.text) for d in r.decisions if d.spoken]
    assert spoken and spoken[0][1] == "ahead, appears happy" and spoken[0][0] >= 0.7 - 1e-9
    assert len(spoken) == 1  # nothing changed after that: silence
    clf.label = "sad"
    later = [d for i in range(30, 80) for d in a.step(frame, i / 10).decisions if d.spoken]
    assert [d.text for d in later] == ["ahead, appears sad"]
    assert later[0].time >= 3.0 + 0.7 - 1e-9  # once it held (a new expression does not wait for a 6 s limit)
    assert a.describe_now().text == "1 face: ahead appears sad"


def test_photo_describes_every_face_left_to_right():
    a = Assistant(FakeDetector([(500, 100, 80, 80), (40, 100, 80, 80)]), FakeClassifier("neutral", 0.5))
    frame, faces, sentence = a.photo(np.full((480, 640, 3), 100, np.uint8))
    assert sentence == "2 faces: left maybe neutral, right maybe neutral"
    rec = a.face_record(frame, faces[0])  # faces come left to right
    assert rec["position"] == "left" and rec["expression"] == "neutral" and rec["confidence"] == 0.5
    assert set(rec["probabilities"]) == set(NAMES)


class TwoClassClassifier:
    """A model with classes of its own (no designed earcon for either)."""

    class_names = ["calm", "pain"]

    def __init__(self):
        self.label = "calm"

    def __call__(self, image, boxes):
        return np.tile(np.array([0.95, 0.05] if self.label == "calm" else [0.05, 0.95], np.float32), (len(boxes), 1))


def test_a_model_with_other_classes_gets_an_earcon_for_each():
    from fera.runtime.announce import AnnounceConfig
    from fera.runtime.earcons import STATUS_SOUNDS, earcon_wav
    from fera.runtime.speak import EarconSpeaker

    played = []
    speaker = EarconSpeaker(player=lambda wav, a: played.append((a.earcon, wav)), threaded=False,
                            clock=lambda: 0.0)
    clf = TwoClassClassifier()
    a = Assistant(FakeDetector([(280, 180, 80, 100)]), clf, AnnounceConfig(verbosity=0))
    frame = np.full((480, 640, 3), 120, np.uint8)
    for i in range(80):
        clf.label = "calm" if i < 30 else "pain"
        for d in a.step(frame, i / 10).decisions:
            if d.spoken:
                speaker.say(d.announcement, 0.0)
                speaker.step()
    assert [e for e, _ in played] == ["calm", "pain"]
    calm, pain = (w for _, w in played)
    assert calm == earcon_wav("calm") and pain == earcon_wav("pain")  # the same sound every time
    others = {earcon_wav(n) for n in NAMES + list(STATUS_SOUNDS)}
    assert calm != pain and calm not in others and pain not in others


def test_set_verbosity_changes_the_words_and_refuses_other_values():
    frame = np.full((480, 640, 3), 120, np.uint8)
    a = Assistant(FakeDetector([(280, 180, 80, 100)]), FakeClassifier("happy"))
    assert a.verbosity == 2 and a.set_verbosity(1) == 1 and a.verbosity == 1
    said = [d.text for i in range(12) for d in a.step(frame, i / 10).decisions if d.spoken]
    assert said == ["Ahead: happy"]
    for wrong in (4, -1, True, "2", None, 1.0):
        with pytest.raises(ValueError, match=r"verbosity must be 0, 1, 2 or 3 \(got "):
            a.set_verbosity(wrong)
    assert a.verbosity == 1
    a.set_verbosity(3)
    assert a.describe_now().text.startswith("1 face: ahead, talking distance, appears happy, 90%")


def test_reset_forgets_every_track_and_expression():
    frame = np.full((480, 640, 3), 120, np.uint8)
    a = Assistant(FakeDetector([(280, 180, 80, 100)]), FakeClassifier("happy"))
    first = [a.step(frame, i / 10) for i in range(12)]
    assert [t.track_id for t in first[-1].faces] == [1] and first[-1].faces[0].expression.label == "happy"
    a.reset()
    assert a.tracker.update([], now=1.2) == [] and a.smoother.update([], now=1.2) == []
    again = a.step(frame, 1.3)
    assert again.faces == []  # a new track, tentative again: not a person until confirmed
    later = [a.step(frame, 1.3 + i / 10) for i in range(1, 4)]
    assert [t.track_id for t in later[-1].faces] == [2] and later[-1].faces[0].expression.since >= 1.3
