"""The page computes pixels as fera's Python does (src/fera/web/static/js/image.mjs, run here by node): Pillow's
antialiased bilinear resize with reducing_gap (the detector's letterbox and the "bilinear" models' faces), exactly;
OpenCV's RGB2GRAY with border replication (the classifier's crop), exactly; OpenCV's INTER_AREA / INTER_LINEAR (the
"area" models' faces), within one grey level on a few pixels (OpenCV's own vector code rounds differently by CPU)."""
import base64
import json
import shutil
import subprocess

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

cv2 = pytest.importorskip("cv2")
if shutil.which("node") is None:
    pytest.skip("node is not installed (apt-get install nodejs)", allow_module_level=True)
TOOL = REPO / "tests" / "js" / "tools" / "pixels.mjs"


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def run(tmp_path, jobs):
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(["node", str(TOOL), str(tmp_path / "jobs.json"), str(tmp_path / "out.json")], check=True, timeout=120)
    return [np.frombuffer(base64.b64decode(g), np.uint8) for g in json.loads((tmp_path / "out.json").read_text())]


def rgba(rgb):
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], 2)


def test_the_letterbox_resize_is_pillows(tmp_path):
    rng = np.random.default_rng(0)
    cases = [(640, 480, 192, 144), (512, 512, 192, 192), (1280, 960, 192, 144), (333, 250, 192, 144),
             (100, 80, 192, 154), (1920, 1080, 192, 108), (192, 192, 96, 96)]
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for w, h, _, _ in cases]
    got = run(tmp_path, [dict(op="pillow", data=b64(rgba(im)), w=w, h=h, c=4, dw=dw, dh=dh, gap=3.0, planes=3)
                         for im, (w, h, dw, dh) in zip(images, cases)])
    for im, (w, h, dw, dh), g in zip(images, cases, got):
        want = np.asarray(Image.fromarray(im).resize((dw, dh), Image.BILINEAR, reducing_gap=3.0))
        assert np.array_equal(g.reshape(dh, dw, 4)[..., :3], want), (w, h)


@pytest.mark.parametrize("method", ["bilinear", "area"])
def test_the_face_crop_resize_is_fera_images(tmp_path, method):
    from fera.images import resize_gray

    rng = np.random.default_rng(1)
    sides = [20, 30, 40, 47, 48, 50, 96, 131, 144, 192, 200, 263, 390]
    faces = [rng.integers(0, 256, (s, s), dtype=np.uint8) for s in sides]
    got = run(tmp_path, [dict(op="resize", data=b64(f), w=s, h=s, dw=48, dh=48, method=method) for f, s in zip(faces, sides)])
    for f, s, g in zip(faces, sides, got):
        d = np.abs(g.reshape(48, 48).astype(int) - resize_gray(f, (48, 48), method).astype(int))
        if method == "bilinear":
            assert d.max() == 0, s
        else:
            assert d.max() <= 1 and (d > 0).mean() < 0.02, (s, d.max(), (d > 0).mean())


def test_the_grey_square_is_square_faces(tmp_path):
    from fera.runtime.classify import square_face
    from fera.runtime.types import Box

    rng = np.random.default_rng(2)
    im = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = [Box(10, 12, 40, 44), Box(-20, -10, 70, 60), Box(120, 90, 60, 50), Box(150, 110, 30, 30)]
    from fera.runtime.classify import square_geometry

    jobs = []
    for b in boxes:
        x0, y0, side = square_geometry(b, 1.25)
        jobs.append(dict(op="grey", data=b64(rgba(im)), w=160, h=120, c=4, x0=x0, y0=y0, side=side))
    for b, j, g in zip(boxes, jobs, run(tmp_path, jobs)):
        want = square_face(im, b, 1.25, (j["side"], j["side"]), "bilinear")  # no resize: the grey square itself
        assert np.array_equal(g.reshape(j["side"], j["side"]), want), b
