"""Replays of frames made here (the public-domain sample photos moved and scaled; rendered title cards)
through the real face detector and the assistant, on the frames' own clock. A scripted classifier says
what expression each face shows when, so nothing depends on a trained model's probabilities.

Each test is a case where fera was wrong, late or silent (issue 12): a title card's letters taken for a
person, a smile dropped by the rate limit, a laugh said 6 s late, a newcomer never said, "face lost" with
the face in view, a close-up face missed, a clip's last change never said.
"""
import numpy as np
import pytest
from conftest import REPO
from PIL import Image, ImageDraw, ImageFont

from fera.runtime.detect import BlazeFaceDetector
from fera.runtime.pipeline import Assistant

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")  # the fake classifier's classes

SAMPLES = REPO / "src" / "fera" / "assets" / "samples"
FACES = {"astronaut.png": (180, 60, 290, 200), "grace_hopper.jpg": (160, 80, 370, 380)}  # by eye, x0 y0 x1 y1
FPS = 15
GREY = np.full((480, 640, 3), 110, np.uint8)


@pytest.fixture(scope="module")
def detector():
    return BlazeFaceDetector("full")


def probs(label, p):
    out = np.full(len(CLASS_NAMES), (1 - p) / (len(CLASS_NAMES) - 1), np.float32)
    out[CLASS_NAMES.index(label)] = p
    return out


class Scripted:
    """A classifier: ``script(t, box)`` -> (label, probability) for the face in ``box`` at time t."""

    class_names = list(CLASS_NAMES)

    def __init__(self, script):
        self.script, self.t = script, 0.0

    def __call__(self, image, boxes):
        return np.stack([probs(*self.script(self.t, b)) for b in boxes]) if boxes else np.zeros((0, 7), np.float32)


def paste(canvas, name, face_h, cx, cy, hand=False):
    """The sample photo scaled so its face is ``face_h`` px high, its face centred at (cx, cy); ``hand``: a
    skin-coloured hand over the mouth."""
    im = Image.open(SAMPLES / name).convert("RGB")
    x0, y0, x1, y1 = FACES[name]
    s = face_h / (y1 - y0)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))))
    out = Image.fromarray(canvas)
    out.paste(im, (int(cx - (x0 + x1) / 2 * s), int(cy - (y0 + y1) / 2 * s)))
    if hand:
        d, w, my = ImageDraw.Draw(out), 0.55 * face_h, cy + 0.3 * face_h
        d.ellipse([cx - w / 2, my - 0.18 * face_h, cx + w / 2, my + 0.25 * face_h], fill=(205, 150, 120))
        for k in range(4):
            fx = cx - w / 2 + k * w / 4
            d.rounded_rectangle([fx + 4, my - 0.3 * face_h, fx + w / 4 - 4, my], radius=10, fill=(205, 150, 120))
    return np.asarray(out)


def title_card(word, t, bg, seconds=6.0):
    """An animated title: orange letters growing from 50 to 200 px and sliding right over ``seconds``."""
    k = min(t / seconds, 1.0)
    font = ImageFont.load_default(size=int(50 + 150 * k))
    im = Image.new("RGB", (640, 480), bg)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = d.textbbox((0, 0), word, font=font)
    d.text((60 + 240 * k - x0, 240 - (y1 - y0) / 2 - y0), word, fill=(255, 140, 0), font=font)
    return np.asarray(im)


def replay(detector, frames, script, seconds, times=None):
    """Frames at FPS through a fresh assistant; ``times``: (content time, clock time) pairs instead.
    Returns (assistant, every step's result, spoken (text, time) pairs)."""
    clf = Scripted(script)
    a = Assistant(detector, clf)
    steps, said = [], []
    for u, t in times or [(i / FPS, i / FPS) for i in range(int(seconds * FPS))]:
        clf.t = t
        steps.append(a.step(frames(u), t))
        said += [(d.text, round(t, 2)) for d in steps[-1].decisions if d.spoken]
    return a, steps, said


class Counting:
    """The real detector, counting the frames in which its first pass saw a face."""

    def __init__(self, detector):
        self.detector, self.input_size, self.fired = detector, detector.input_size, 0

    def detect(self, image):
        found = self.detector.detect(image)
        self.fired += bool(found) and image.shape[:2] == (480, 640)
        return found


@pytest.mark.parametrize("word, bg", [("GO", (15, 15, 25)), ("808", (90, 60, 40))])
def test_a_title_card_never_becomes_a_person(detector, word, bg):
    # fera at 38b83a3 said "ahead, maybe sad" about these letters (at 4.9 s and 5.0 s)
    counting = Counting(detector)
    _, steps, said = replay(counting, lambda t: title_card(word, t, bg), lambda t, b: ("sad", 0.5), 6)
    assert counting.fired  # the detector does take the letters for a face, in single frames
    assert [s for s in said if s[0] not in ("no face", "too dark")] == []
    assert all(r.faces == [] for r in steps)  # and no face is ever reported


def test_a_smile_inside_the_rate_limit_is_said_about_a_second_later(detector):
    # neutral, then smiling from 1.0 s; fera at 38b83a3 said only "ahead, appears neutral" (the 3 s limit)
    script = lambda t, b: ("happy", 0.86) if t >= 1.0 else ("neutral", 0.85)  # noqa: E731
    _, steps, said = replay(detector, lambda t: paste(GREY, "astronaut.png", 200, 320 + 10 * np.sin(t), 240),
                            script, 3.5)
    assert [s[0] for s in said] == ["ahead, appears neutral", "ahead, appears happy"]
    held = next(d.time for r in steps for d in r.decisions if d.label == "happy" and d.code != "held_too_short")
    assert said[1][1] <= held + 1.05  # within about a second of holding for 0.7 s


def test_crying_then_laughing_is_said_without_the_six_second_wait(detector):
    # misread as happy, then afraid while crying, laughing from 9.7 s: fera at 38b83a3 waited until 12.73 s
    def script(t, b):
        return ("happy", 0.8) if t < 2 else ("fear", 0.5) if t < 9.7 else ("happy", 0.9)

    _, _, said = replay(detector, lambda t: paste(GREY, "grace_hopper.jpg", 220, 320, 250), script, 12)
    assert [s[0] for s in said] == ["ahead, appears happy", "ahead, maybe afraid", "ahead, appears happy"]
    assert said[2][1] <= 9.7 + 0.3 + 0.7 + 0.3  # smoothing, the 0.7 s dwell, a frame or two: no 6 s limit


def test_a_person_who_walks_in_late_is_said_within_a_second(detector):
    # the nearer person sits at the left; a smaller one walks in from the right at 3.6 s (fera at 38b83a3: never)
    def frames(t):
        f = paste(GREY, "astronaut.png", 220, 200, 240)
        return paste(f, "grace_hopper.jpg", 150, max(500, 700 - (t - 3.6) * 400), 260) if t >= 3.6 else f

    _, steps, said = replay(detector, frames, lambda t, b: ("happy", 0.9) if b.cx < 320 else ("surprise", 0.9), 6)
    confirmed = next(round(i / FPS, 2) for i, r in enumerate(steps) if len(r.faces) == 2)
    assert said[0] == ("left, appears happy", 0.73)
    assert said[1][0] == "right, appears surprised" and said[1][1] <= confirmed + 1.0


def test_forwards_then_backwards_keeps_the_person(detector):
    # a face sweeps right at 1200 px/s, then the same frames play backwards: fera at 38b83a3 lost the track
    # at the turn and said "face lost" with the face in view
    frames = lambda u: paste(GREY, "astronaut.png", 170, min(120 + 1200 * max(u - 1.0, 0), 520), 240)  # noqa
    n = 3 * FPS
    times = [(i / FPS, i / FPS) for i in range(n)] + [((n - 1 - i) / FPS, 3.0 + i / FPS) for i in range(n)]
    a, steps, said = replay(detector, frames, lambda t, b: ("happy", 0.9), None, times)
    assert [s[0] for s in said] == ["left, appears happy"]
    assert all(len(r.faces) == 1 for r in steps[3:])


@pytest.mark.parametrize("name, size", [("astronaut.png", 1.6 * 480), ("grace_hopper.jpg", 1.9 * 480)])
def test_a_close_up_face_with_a_hand_over_the_mouth_is_found(detector, name, size):
    # the face runs off the frame (its box by eye is 1.6-1.9 frame heights): fera at 38b83a3 said "no face"
    frame = paste(GREY, name, size, 320, 240, hand=True)
    assert detector.detect(frame) == []  # one plain pass misses it
    photo = Assistant(detector, Scripted(lambda t, b: ("neutral", 0.9)), tiled_photos=True)
    assert photo.photo(frame)[2] == "1 face: ahead appears neutral"
    _, steps, _ = replay(detector, lambda t: frame, lambda t, b: ("neutral", 0.9), 0.4)
    assert len(steps[-1].faces) == 1  # a camera frame too (the zoomed-out pass when the plain one finds none)


def test_what_is_pending_when_a_video_ends_is_said(detector, tmp_path, capsys):
    # neutral said at 0.7 s, smiling from 0.9 s and held by about 1.9 s, the gap ends at 2.7 s, the clip at 2.4 s
    cv2 = pytest.importorskip("cv2")
    from fera.runtime.app import Output, run_stream
    from fera.runtime.sources import open_source

    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    frame = paste(GREY, "astronaut.png", 200, 320, 240)
    for _ in range(int(2.4 * FPS)):
        w.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    w.release()
    clf = Scripted(lambda t, b: ("happy", 0.86) if t >= 0.9 else ("neutral", 0.85))
    a = Assistant(detector, clf)
    step = a.step
    a.step = lambda image, t: (setattr(clf, "t", t), step(image, t))[1]
    run_stream(a, open_source(str(path)), Output())
    said = [line.split(" ", 1)[1] for line in capsys.readouterr().out.strip().splitlines()]
    assert said == ["ahead, appears neutral", "ahead, appears happy"]
