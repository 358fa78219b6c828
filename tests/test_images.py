import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

from fera.errors import FeraError
from fera.images import frame_to_rgb, read_rgb, to_gray_array, to_model_input


def _save(tmp_path, im, name):
    p = tmp_path / name
    im.save(p)
    return p


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "CMYK", "1", "LA"])
def test_every_8bit_mode_becomes_gray_uint8_of_the_requested_size(tmp_path, mode):
    rgb = Image.new("RGB", (64, 40), (200, 100, 50))
    im = rgb.convert(mode)
    p = _save(tmp_path, im, f"x.{'jpg' if mode == 'CMYK' else 'png' if mode != 'CMYK' else 'tif'}")
    a = to_gray_array(p, (48, 48))
    assert a.shape == (48, 48) and a.dtype == np.uint8
    if mode in ("L", "RGB", "RGBA", "P", "LA"):
        assert abs(int(a.mean()) - 124) <= 3  # ITU-R 601 luma of (200, 100, 50)


def test_16bit_png_is_scaled_to_8bit(tmp_path):
    arr = np.full((30, 30), 65535 // 2, dtype=np.uint16)
    p = _save(tmp_path, Image.fromarray(arr), "deep.png")
    a = to_gray_array(p, (30, 30))
    assert a.shape == (30, 30)
    assert 126 <= a.mean() <= 129  # half of the 16-bit range, not clipped to 255


def test_transparent_pixels_go_on_white(tmp_path):
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    a = to_gray_array(_save(tmp_path, im, "clear.png"), (10, 10))
    assert a.min() == 255


def test_float_image_in_unit_range(tmp_path):
    im = Image.fromarray(np.full((8, 8), 0.5, dtype=np.float32), mode="F")
    a = to_gray_array(im, (8, 8))
    assert 127 <= a.mean() <= 128


def test_corrupt_and_non_image_files_raise(tmp_path):
    truncated = tmp_path / "t.jpg"
    Image.new("L", (48, 48), 99).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:40])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(OSError, match="Truncated File Read"):
        to_gray_array(truncated, (48, 48))
    for p in (text, empty):
        with pytest.raises(UnidentifiedImageError, match="cannot identify image file"):
            to_gray_array(p, (48, 48))


def test_a_transparent_png_is_white_in_training_the_assistant_and_the_web(monkeypatch):
    """One decoding rule everywhere: transparency goes on white (a web upload used to turn it black, and a PIL
    image handed to the detector kept the black under its transparent pixels)."""
    from fera.runtime.detect import as_rgb
    from fera.runtime.sources import open_source
    from fera.web import server

    buf = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(buf, format="PNG")
    data = buf.getvalue()
    decoded = []
    monkeypatch.setattr(server, "read_rgb", lambda *a: decoded.append(read_rgb(*a)) or decoded[-1])
    events = server.handle_message(_Stepper(), {"bytes": data}, server.ServeConfig())
    assert events == [{"type": "frame", "faces": [], "ms": events[0]["ms"]}]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "clear.png"
        path.write_bytes(data)
        assistant = next(iter(open_source(str(path)))).image
        training = to_gray_array(path, (48, 48))
        with Image.open(path) as im:
            detector = as_rgb(im)
    web = decoded[0]
    assert web.shape == assistant.shape == detector.shape == (30, 40, 3)
    assert web.min() == assistant.min() == detector.min() == training.min() == 255


class _Stepper:
    """The assistant's surface that a live frame reaches in the web page: it sees no face."""

    def step(self, image, t):
        from types import SimpleNamespace

        assert image.shape == (30, 40, 3) and image.min() == 255
        return SimpleNamespace(decisions=[], faces=[], frame=None)


def test_frame_to_rgb_reads_bgr_gray_and_bgra_frames():
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 0] = 10  # blue
    bgr[..., 2] = 200  # red
    np.testing.assert_array_equal(frame_to_rgb(bgr)[0, 0], [200, 0, 10])
    np.testing.assert_array_equal(frame_to_rgb(bgr, order="RGB")[0, 0], [10, 0, 200])
    bgra = np.dstack([bgr, np.full((2, 3), 7, np.uint8)])
    np.testing.assert_array_equal(frame_to_rgb(bgra), frame_to_rgb(bgr))
    gray = np.arange(6, dtype=np.uint8).reshape(2, 3)
    for g in (gray, gray[..., None]):
        out = frame_to_rgb(g)
        assert out.shape == (2, 3, 3) and out.dtype == np.uint8 and (out == gray[..., None]).all()
    with pytest.raises(FeraError, match="shape H x W"):
        frame_to_rgb(np.zeros((2, 3, 5), np.uint8))
    with pytest.raises(ValueError, match="channel order"):
        frame_to_rgb(bgr, order="GRB")


def test_frame_to_rgb_matches_opencv_on_camera_frames():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    bgr, bgra, gray = (rng.integers(0, 256, s, dtype=np.uint8) for s in ((5, 7, 3), (5, 7, 4), (5, 7)))
    np.testing.assert_array_equal(frame_to_rgb(bgr), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    np.testing.assert_array_equal(frame_to_rgb(bgra), cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGB))
    np.testing.assert_array_equal(frame_to_rgb(gray), cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB))


META = {"input_size": [4, 5], "preprocessing": {"color": "grayscale", "resize": "bilinear", "scale": 1 / 255,
                                                  "layout": "NHWC"}}


def test_to_model_input_scales_as_the_metadata_says():
    faces = np.arange(40, dtype=np.uint8).reshape(2, 4, 5)
    x = to_model_input(faces, META)
    assert x.shape == (2, 4, 5, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], faces / 255.0, rtol=1e-6)  # the transform itself
    np.testing.assert_array_equal(to_model_input(faces[..., None], META), x)
    other = {**META, "preprocessing": {**META["preprocessing"], "scale": 1 / 127.5}}
    np.testing.assert_allclose(to_model_input(faces, other), 2 * x, rtol=1e-6)
    with pytest.raises(FeraError, match="the model takes 4 x 5"):
        to_model_input(np.zeros((1, 5, 4), np.uint8), META)


@pytest.mark.parametrize("key, value", [("color", "rgb"), ("layout", "NCHW"), ("resize", "sinc")])
def test_unknown_preprocessing_is_refused_with_a_clear_message(key, value):
    from fera.inference import preprocess

    meta = {**META, "preprocessing": {**META["preprocessing"], key: value}}
    message = f"unsupported model preprocessing {key} '{value}'"
    with pytest.raises(FeraError, match=message):
        to_model_input(np.zeros((1, 4, 5), np.uint8), meta)
    with pytest.raises(FeraError, match=message):
        preprocess([np.zeros((8, 8), np.uint8)], meta)


def test_preprocess_resizes_with_the_filter_the_metadata_names():
    from fera.inference import preprocess

    rng = np.random.default_rng(1)
    face = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    nearest = {**META, "preprocessing": {**META["preprocessing"], "resize": "nearest"}}
    for meta, resample in ((META, Image.Resampling.BILINEAR), (nearest, Image.Resampling.NEAREST)):
        expected = np.asarray(Image.fromarray(face).resize((5, 4), resample, reducing_gap=2.0)) / 255.0
        np.testing.assert_allclose(preprocess([face], meta)[0, ..., 0], expected, rtol=1e-6)
    assert not np.allclose(preprocess([face], META), preprocess([face], nearest))
