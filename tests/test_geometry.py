"""What the detector's keypoints say: a plausible face or not, and which way it is turned (fera.runtime.geometry),
on the real detector's points for the sample portraits and on points moved as a turned head moves them."""
import math

import numpy as np
import pytest
from conftest import REPO
from PIL import Image, ImageOps

from fera.runtime.announce import AnnounceConfig, Announcer
from fera.runtime.detect import BlazeFaceDetector
from fera.runtime.geometry import face_frame, facing, plausible, yaw_ratio
from fera.runtime.types import Box, Expression, FrameInfo, TrackedFace

SAMPLES = REPO / "src" / "fera" / "assets" / "samples"


@pytest.fixture(scope="module")
def portraits():
    det = BlazeFaceDetector("full")
    out = {}
    for name in ("astronaut.png", "grace_hopper.jpg"):
        im = Image.open(SAMPLES / name).convert("RGB")
        for kind, v in (("upright", im), ("mirrored", ImageOps.mirror(im)), ("tilted", im.rotate(25, fillcolor=GREY))):
            a = np.asarray(v)
            out[name, kind] = a, max(det.detect(a), key=lambda d: d.score)
    return out


GREY = (110, 110, 110)


def turned(kps, degrees):
    """The points of a frontal face turned about its vertical axis (typical depths, in eye distances)."""
    o, ux, uy, ed = face_frame(kps)
    k = np.asarray(kps, dtype=np.float64) - o
    depth = np.array([0.0, 0.0, 0.35, 0.15, -1.3, -1.3]) * ed
    t = math.radians(degrees)
    x = (k @ ux) * math.cos(t) + depth * math.sin(t)
    return [tuple(o + a * ux + b * uy) for a, b in zip(x, k @ uy)]


def test_the_detectors_faces_are_plausible_and_broken_points_are_not(portraits):
    for (name, kind), (_, d) in portraits.items():
        assert plausible(d.keypoints, d.w, d.h, d.x, d.y), (name, kind)
    _, d = portraits["astronaut.png", "upright"]
    k = np.array(d.keypoints)
    eyes_together = k.copy()
    eyes_together[1] = eyes_together[0] + 1
    mouth_above = k.copy()
    mouth_above[3, 1] = k[:2, 1].mean() - 0.2 * d.h
    sideways = (k - k.mean(0)) @ np.array([[0, 1], [-1, 0]]) + k.mean(0)  # the head on its side
    far = k + [3 * d.w, 0]  # eyes, nose and mouth outside the box
    for bad in (eyes_together, mouth_above, sideways, far):
        assert not plausible(bad.tolist(), d.w, d.h, d.x, d.y)
    assert plausible([], 10, 10) and plausible(None, 10, 10)  # no points to judge: a detector that gives none


def test_frontal_portraits_face_you_and_mirroring_flips_the_sign(portraits):
    for (name, kind), (a, d) in portraits.items():
        assert abs(yaw_ratio(d.keypoints)) < 0.2, (name, kind)
        assert facing(d.keypoints, d.h, a.shape[1], a.shape[0]) == "you", (name, kind)
        assert facing(d.keypoints, 0.1 * max(a.shape[:2]), a.shape[1], a.shape[0]) is None  # too small: no word
    for name in ("astronaut.png", "grace_hopper.jpg"):
        a, d = portraits[name, "upright"]
        for deg, side in ((30, "right"), (-30, "left"), (12, None)):  # 12 degrees: neither facing nor turned
            k = turned(d.keypoints, deg)
            assert facing(k, d.h, a.shape[1], a.shape[0]) == side, (name, deg)
            m = [(a.shape[1] - x, y) for x, y in k]  # the image mirrored: the person's right eye and ear become
            mirrored = [m[i] for i in (1, 0, 2, 3, 5, 4)]  # their left ones
            assert np.sign(yaw_ratio(mirrored)) == -np.sign(yaw_ratio(k))
            assert facing(k, d.h, a.shape[1], a.shape[0], mirror=True) == {"left": "right", "right": "left"}.get(side)


def test_facing_words_by_verbosity(portraits):
    a, d = portraits["astronaut.png", "upright"]
    frame = FrameInfo(a.shape[1], a.shape[0])
    face = TrackedFace(1, Box(d.x, d.y, d.w, d.h), expression=Expression("happy", 0.9), keypoints=d.keypoints)
    away = TrackedFace(2, face.box, expression=Expression("happy", 0.9), keypoints=turned(d.keypoints, 30))
    ann = Announcer(AnnounceConfig())
    assert ann.phrase(face, frame, 2) == "ahead, appears happy"  # facing you is not worth a word at 2
    assert ann.phrase(away, frame, 2) == "ahead, appears happy, turned to your right"
    assert ann.phrase(face, frame, 3).endswith(", 90%, facing you")
    assert ann.phrase(away, frame, 1) == "Ahead: happy"
