"""The shipped BlazeFace detectors on real photos (the public-domain samples in fera/assets/samples).

Reference face boxes were drawn by hand on the photos (forehead to chin, cheek to cheek), not taken
from the detector's output; every variant's expected box is the hand box moved by the same
geometric transform as the photo.
"""
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fera.errors import FeraError
from fera.runtime import detect
from fera.runtime.detect import KEYPOINT_NAMES, BlazeFaceDetector, DetectConfig, Detector, ssd_anchors, weighted_nms
from fera.runtime.types import Box, Face

SAMPLES = Path(detect.__file__).resolve().parent.parent / "assets" / "samples"
# Hand-labelled faces, (x0, y0, x1, y1) in pixels of the photo.
FACE = {"astronaut.png": (175, 70, 270, 172), "grace_hopper.jpg": (165, 135, 370, 335)}
MODELS = ["short", "full"]
GREY = (128, 128, 128)


@pytest.fixture(scope="module")
def detectors():
    return {m: BlazeFaceDetector(m) for m in MODELS}


@pytest.fixture(scope="module")
def photos():
    return {name: Image.open(SAMPLES / name).convert("RGB") for name in FACE}


def xyxy(d: Face):
    return (d.x, d.y, d.x + d.w, d.y + d.h)


def iou(a, b) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def moved(box, scale=1.0, dx=0.0, dy=0.0):
    return tuple(v * scale + (dx if i % 2 == 0 else dy) for i, v in enumerate(box))


def assert_face(d: Face, ref, min_iou=0.5):
    assert iou(xyxy(d), ref) >= min_iou, f"box {xyxy(d)} is not the face {ref}"
    assert 0.0 <= d.score <= 1.0
    assert len(d.keypoints) == len(KEYPOINT_NAMES) == 6
    # eyes, nose and mouth lie in the box (with a small margin)
    m = 0.1 * d.w
    for x, y in d.keypoints[:4]:
        assert d.x - m <= x <= d.x + d.w + m and d.y - m <= y <= d.y + d.h + m


def run(det, image) -> list[Face]:
    return det.detect(np.asarray(image))


# ------------------------------------------------------------------ the photos as they are


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(FACE))
def test_one_face_in_each_photo(detectors, photos, model, name):
    found = run(detectors[model], photos[name])
    assert len(found) == 1
    d = found[0]
    assert_face(d, FACE[name], min_iou=0.6)
    assert d.score >= 0.7
    # upright face: the person's right eye is on the image's left, both above the nose, nose above the mouth
    (rex, rey), (lex, ley), (nx, ny), (mx, my) = d.keypoints[:4]
    assert rex < nx < lex
    assert max(rey, ley) < ny < my


def test_astronaut_box_is_where_a_person_sees_the_face(detectors, photos):
    d = run(detectors["short"], photos["astronaut.png"])[0]
    assert 165 <= d.x <= 190 and 65 <= d.y <= 95
    assert 80 <= d.w <= 120 and 80 <= d.h <= 120
    assert 200 <= d.centre[0] <= 245 and 105 <= d.centre[1] <= 145


# ------------------------------------------------------------------ nothing there


@pytest.mark.parametrize("model", MODELS)
def test_no_face_in_blank_or_noise(detectors, model):
    rng = np.random.default_rng(0)
    frames = [np.zeros((480, 640, 3), np.uint8), np.full((480, 640, 3), 128, np.uint8),
              np.full((480, 640, 3), 255, np.uint8),
              np.broadcast_to(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], (480, 640, 3)).copy()]
    frames += [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(3)]
    for f in frames:
        assert detectors[model].detect(f) == []


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 5, 3), (2, 300, 3)])
def test_tiny_or_degenerate_frames_do_not_crash(detectors, shape):
    assert detectors["short"].detect(np.zeros(shape, np.uint8)) == []


# ------------------------------------------------------------------ harder variants


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(FACE))
@pytest.mark.parametrize("angle", [25, -25])
def test_rotated_face(detectors, photos, model, name, angle):
    src = photos[name]
    img = src.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=GREY)  # counter-clockwise
    x0, y0, x1, y1 = FACE[name]
    dx, dy = (x0 + x1) / 2 - src.width / 2, (y0 + y1) / 2 - src.height / 2
    t = math.radians(angle)
    cx = img.width / 2 + math.cos(t) * dx + math.sin(t) * dy
    cy = img.height / 2 - math.sin(t) * dx + math.cos(t) * dy
    found = run(detectors[model], img)
    assert len(found) == 1
    d = found[0]
    size = x1 - x0
    assert math.dist(d.centre, (cx, cy)) < 0.25 * size
    assert 0.7 * size <= d.w <= 1.5 * size


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", sorted(FACE))
def test_darkened_face(detectors, photos, model, name):
    dark = (np.asarray(photos[name], dtype=np.float32) * 0.25).astype(np.uint8)  # mean brightness ~30/255
    found = detectors[model].detect(dark)
    assert len(found) == 1
    assert_face(found[0], FACE[name], min_iou=0.6)


@pytest.mark.parametrize("model,name,width", [
    ("full", "astronaut.png", 240),  # face about 45 px wide in a 640 x 480 frame
    ("full", "grace_hopper.jpg", 160),  # about 65 px
    ("short", "grace_hopper.jpg", 240),  # about 95 px: the short-range model needs bigger faces
])
def test_small_face_in_a_vga_frame(detectors, photos, model, name, width):
    src = photos[name]
    scale = width / src.width
    frame = Image.new("RGB", (640, 480), GREY)
    frame.paste(src.resize((width, round(src.height * scale)), Image.BILINEAR), (300, 60))
    found = run(detectors[model], frame)
    assert len(found) == 1
    assert_face(found[0], moved(FACE[name], scale, 300, 60), min_iou=0.5)


def test_two_photos_side_by_side_full_range(detectors, photos):
    frame = Image.new("RGB", (1024, 600), (0, 0, 0))
    frame.paste(photos["astronaut.png"], (0, 44))
    frame.paste(photos["grace_hopper.jpg"], (512, 0))
    found = sorted(run(detectors["full"], frame), key=lambda d: d.x)
    assert len(found) == 2
    assert_face(found[0], moved(FACE["astronaut.png"], 1, 0, 44))
    assert_face(found[1], moved(FACE["grace_hopper.jpg"], 1, 512, 0))


@pytest.mark.parametrize("model", MODELS)
def test_two_portraits_side_by_side(detectors, photos, model):
    a = photos["astronaut.png"].crop((96, 0, 352, 256))
    g = photos["grace_hopper.jpg"].crop((96, 80, 448, 432)).resize((256, 256), Image.BILINEAR)
    frame = Image.new("RGB", (512, 256))
    frame.paste(a, (0, 0))
    frame.paste(g, (256, 0))
    found = sorted(run(detectors[model], frame), key=lambda d: d.x)
    assert len(found) == 2
    assert_face(found[0], moved(FACE["astronaut.png"], 1, -96, 0))
    assert_face(found[1], moved(moved(FACE["grace_hopper.jpg"], 1, -96, -80), 256 / 352, 256, 0))
    assert found[0].score > 0.5 and found[1].score > 0.5


# ------------------------------------------------------------------ coordinates of non-square frames


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("canvas,offset", [((512, 256), (200, 0)), ((256, 512), (0, 200)), ((700, 300), (300, 30))])
def test_boxes_are_in_the_pixels_of_a_non_square_frame(detectors, photos, model, canvas, offset):
    crop = photos["astronaut.png"].crop((96, 0, 352, 256))
    alone = run(detectors[model], crop)
    frame = Image.new("RGB", canvas, (30, 30, 30))
    frame.paste(crop, offset)
    found = run(detectors[model], frame)
    assert len(alone) == len(found) == 1
    ox, oy = offset
    want = moved(xyxy(alone[0]), 1, ox, oy)
    assert iou(xyxy(found[0]), want) > 0.75
    assert iou(xyxy(found[0]), moved(FACE["astronaut.png"], 1, ox - 96, oy)) > 0.6
    tol = 0.15 * alone[0].w  # the face is 17-24 px wide in the short-range model's input here
    for (x, y), (ax, ay) in zip(found[0].keypoints, alone[0].keypoints):
        assert abs(x - (ax + ox)) < tol and abs(y - (ay + oy)) < tol


def test_portrait_photo_is_not_square(detectors, photos):
    # grace_hopper.jpg is 512 wide and 600 tall: the letterbox pads left and right
    im = photos["grace_hopper.jpg"]
    assert im.size == (512, 600)
    d = run(detectors["full"], im)[0]
    assert_face(d, FACE["grace_hopper.jpg"], min_iou=0.6)


# ------------------------------------------------------------------ interface and inputs


def test_interface(detectors):
    det = BlazeFaceDetector()
    assert isinstance(det, Detector)
    # the chosen default: full range, as every command, the web page and DetectConfig have it (it was "short" here)
    assert det.model == DetectConfig.model == "full" and det.min_score == 0.5 and det.nms_iou == 0.3
    assert det._session is None  # nothing loaded until the first frame
    assert BlazeFaceDetector("short").input_size == 128 and det.input_size == 192
    d = Face(1.0, 2.0, 3.0, 4.0, score=0.9, keypoints=((0.0, 0.0),) * 6)
    assert d.box == Box(1.0, 2.0, 3.0, 4.0) and d.centre == (2.5, 4.0) and d.xyxy == (1.0, 2.0, 4.0, 6.0)
    assert isinstance(d, Box) and d.box.iou(d) == 1.0


def test_models_ship_and_match_their_anchors(detectors):
    for model, n in [("short", 896), ("full", 2304)]:
        det = detectors[model]
        assert det.model_path.is_file() and det.model_path.parent.name == "detector"
        assert len(det.anchors) == n
        det.session  # loads and checks the input shape and output counts against the anchors
    assert (detect.DETECTOR_DIR / "LICENSE").is_file() and (detect.DETECTOR_DIR / "README.md").is_file()


def test_ssd_anchors_follow_mediapipe():
    a = ssd_anchors(128, (8, 16, 16, 16), 1.0)
    assert a.shape == (896, 2)
    # 16 x 16 cells x 2 anchors, then 8 x 8 cells x 6 anchors; y outer, x inner, anchors of a cell together
    assert np.allclose(a[0], [0.5 / 16, 0.5 / 16]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 16, 0.5 / 16])
    assert np.allclose(a[32], [0.5 / 16, 1.5 / 16])
    assert np.allclose(a[512:518], [0.5 / 8, 0.5 / 8]) and np.allclose(a[518], [1.5 / 8, 0.5 / 8])
    f = ssd_anchors(192, (4,), 0.0)
    assert f.shape == (2304, 2) and np.allclose(f[1], [1.5 / 48, 0.5 / 48])


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    kps = np.zeros((3, 6, 2))
    kps[1] += 2.0
    scores = np.array([0.9, 0.6, 0.8])
    out = weighted_nms(boxes, kps, scores, 0.3)
    assert [s for _, _, s in out] == [0.9, 0.8]
    assert np.allclose(out[0][0], [0.4, 0.4, 10.4, 10.4])  # score-weighted mean
    assert np.allclose(out[0][1], 0.8)
    plain = weighted_nms(boxes, kps, scores, 0.3, weighted=False)
    assert np.allclose(plain[0][0], boxes[0]) and len(plain) == 2


def test_accepts_grey_rgba_and_pil(detectors, photos):
    im = photos["astronaut.png"]
    det = detectors["short"]
    assert len(det.detect(im)) == 1
    assert len(det.detect(np.asarray(im.convert("RGBA")))) == 1
    assert len(det.detect(np.asarray(im.convert("L")))) == 1


def test_rejects_bad_input_and_options():
    det = BlazeFaceDetector()
    for bad in (np.zeros((10, 10, 5), np.uint8), np.zeros((0, 10, 3), np.uint8), np.zeros((2, 10, 10, 3), np.uint8),
                np.zeros((10, 10, 3), np.complex64)):
        with pytest.raises(FeraError):
            det.detect(bad)
    with pytest.raises(FeraError):
        BlazeFaceDetector("medium")
    with pytest.raises(FeraError):
        BlazeFaceDetector(min_score=1.5)
    with pytest.raises(FeraError, match="not found"):
        BlazeFaceDetector(model_path="/nonexistent/model.onnx").detect(np.zeros((8, 8, 3), np.uint8))


def test_min_score_filters(photos):
    strict = BlazeFaceDetector("short", min_score=0.999)
    assert strict.detect(np.asarray(photos["astronaut.png"])) == []


def test_import_is_light_and_runs_nothing():
    code = ("import sys, fera.runtime.detect; "
            "heavy = {'onnxruntime', 'tensorflow', 'torch', 'keras', 'jax', 'cv2'}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
