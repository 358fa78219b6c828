import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

from fera.images import to_gray_array


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


def test_a_transparent_png_is_white_in_training_the_assistant_and_the_web():
    """One decoding rule everywhere: transparency goes on white (a web upload used to turn it black)."""
    from fera.runtime.sources import read_image
    from fera.web.server import ServeConfig, decode_image

    buf = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(buf, format="PNG")
    data = buf.getvalue()
    web = decode_image(data, ServeConfig())
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "clear.png"
        path.write_bytes(data)
        assistant = read_image(path)
        training = to_gray_array(path, (48, 48))
    assert web.shape == assistant.shape == (30, 40, 3)
    assert web.min() == assistant.min() == training.min() == 255
