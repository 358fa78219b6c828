"""Grad-CAM: the sanity test (a model trained here to find a bright blob must look at the blob),
the target layer found from the model, the words for where the heat is, and `fera explain`."""
import json

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from fera.cli import main

SAMPLES = REPO / "src" / "fera" / "assets" / "samples"
S = 32


def blobs(n, rng):
    """Faint noise with a bright blob on the left (class 0) or the right (class 1), or none (class 2)."""
    x = rng.normal(0.2, 0.05, (n, S, S, 1)).astype("float32")
    y = rng.integers(0, 3, n)
    yy, xx = np.mgrid[0:S, 0:S]
    centres = []
    for i in range(n):
        if y[i] == 2:
            centres.append(None)
            continue
        cx, cy = rng.uniform(4, 12) if y[i] == 0 else rng.uniform(20, 28), rng.uniform(4, 28)
        x[i, :, :, 0] += 0.8 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 8.0)
        centres.append((cx, cy))
    return np.clip(x, 0, 1), y, centres


def small_cnn():
    """Three conv blocks (conv, BatchNorm, ReLU; the last at 8 x 8), flatten, softmax: like fera's models, small."""
    import keras
    from keras import layers

    inp = keras.Input((S, S, 1))
    h = inp
    for i, f in enumerate((8, 16, 16)):
        h = layers.Conv2D(f, 3, padding="same", name=f"c{i}")(h)
        h = layers.BatchNormalization(momentum=0.5, name=f"n{i}")(h)
        h = layers.ReLU(name=f"r{i}")(h)
        if i < 2:
            h = layers.MaxPooling2D(2)(h)
    return keras.Model(inp, layers.Dense(3, activation="softmax")(layers.Flatten()(h)))


@pytest.mark.train
@pytest.mark.backends
def test_heat_falls_on_the_blob():
    import keras

    from fera.training.gradcam import gradcam

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y, _ = blobs(600, rng)
    model = small_cnn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    xt, yt, centres = blobs(60, rng)
    assert (model.predict(xt, verbose=0).argmax(1) == yt).mean() >= 0.95  # it learnt the task
    cams, idx = gradcam(model, xt)
    assert cams.shape == (60, 8, 8) and np.array_equal(idx, model.predict(xt, verbose=0).argmax(1))
    near, half = [], []
    gy, gx = (np.mgrid[0:8, 0:8] + 0.5) * S / 8  # the centre of each heatmap cell, in pixels
    for c, cam in zip(centres, cams):
        if c is None:
            continue
        total = max(cam.sum(), 1e-9)
        near.append(cam[np.hypot(gx - c[0], gy - c[1]) <= 6].sum() / total)  # ~7% of the image's area
        half.append(cam[(gx < S / 2) == (c[0] < S / 2)].sum() / total)
    # measured: 68% of the heat within 6 px of the blob on average, 96% on its half (torch and TensorFlow)
    assert np.mean(near) >= 0.5 and min(half) >= 0.7, (np.mean(near), min(half))


def test_target_layer_is_found_from_the_model_not_its_names():
    from fera.training.gradcam import last_conv_layer, target_layer
    from fera.training.models import create_model

    m = small_cnn()
    assert last_conv_layer(m).name == "c2" and target_layer(m).name == "r2"  # after its BatchNorm and ReLU
    vgg = create_model("fast")
    assert target_layer(vgg).name == "features_block4_relu2"


def blob(x, y, n=6, sigma=0.08):
    """A heatmap (n x n) whose heat is a spot at (x, y), as fractions of the crop."""
    ys, xs = (np.mgrid[0:n, 0:n] + 0.5) / n
    return np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))


def test_heat_words_follow_the_heat_over_the_faces_own_keypoints():
    from fera.training.explain import CROP_LAYOUT, heat_words

    assert heat_words(np.zeros((6, 6))) == "no region stood out"
    assert heat_words(np.ones((6, 6))).startswith("no region stood out")
    eyes, nose, mouth = CROP_LAYOUT[0], CROP_LAYOUT[2], CROP_LAYOUT[3]
    for spot, words in ((mouth, "the mouth"), (eyes, "the eyes"), (nose, "the nose"),
                        ((0.5, 0.12), "the forehead"), ((0.5, 0.86), "the chin"), ((0.03, 0.97), "outside the face")):
        assert heat_words(blob(*spot, n=12)).startswith(words), spot
    # a peak over heat spread thinly everywhere, as Grad-CAM's maps have it: the peak's part, not the wide
    # area around the face that sums the most thin heat
    for spot, words in ((mouth, "the mouth"), (eyes, "the eyes"), (nose, "the nose")):
        assert heat_words(blob(*spot, n=12) + 0.25) == words, spot
    # the same spot means another part on another face: a face higher in its crop has its mouth there
    high = [(x, y - 0.14) for x, y in CROP_LAYOUT]
    assert heat_words(blob(*mouth, n=12), high) == "the chin"
    assert heat_words(blob(*high[3], n=12), high) == "the mouth"
    # a tilted face (30 degrees): its parts are found along its own axes
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    tilted = [(0.5 + c * (x - 0.5) - s * (y - 0.5), 0.5 + s * (x - 0.5) + c * (y - 0.5)) for x, y in CROP_LAYOUT]
    assert heat_words(blob(*tilted[3], n=12), tilted) == "the mouth"
    assert heat_words(blob(*tilted[0], n=12), tilted).startswith("the eyes")


def test_explain_names_parts_from_the_detected_keypoints(monkeypatch, tmp_path):
    """fera explain hands each face's own keypoints, in crop fractions, to the words."""
    from fera.training import explain
    from fera.images import read_rgb

    crops, boxes, points = explain.find_faces(read_rgb(SAMPLES / "astronaut.png"), keypoints=True)
    assert len(crops) == len(points) == 1 and len(points[0]) == 6
    (rx, ry), (lx, ly), (nx, ny), (mx, my) = points[0][:4]
    assert 0.2 < rx < nx < lx < 0.8 and max(ry, ly) < ny < my < 0.9  # eyes, nose, mouth where a face has them
    seen = []
    monkeypatch.setattr(explain, "heat_words", lambda cam, kps=None: seen.append(kps) or "the mouth")
    r = explain.explain_image("fast", str(SAMPLES / "astronaut.png"), out=str(tmp_path / "a.png"))
    assert seen == points and r[0].heat == "the mouth"


def test_explain_writes_an_overlay_per_face(tmp_path, capsys):
    out = tmp_path / "astronaut.png"
    assert main(["explain", "--model", "fast", "--image", str(SAMPLES / "astronaut.png"), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("face 1 (ahead): happy ") and "the heat is on the " in line and str(out) in line
    img = Image.open(out)
    assert img.size == (192, 224) and np.asarray(img).std() > 20
    # the same face, explained for another class, as JSON
    assert main(["explain", "--model", "fast", "--image", str(SAMPLES / "astronaut.png"), "--out", str(out),
                 "--class", "sad", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["label"] == "sad" and rec["predicted"] == "happy" and rec["probability"] < 0.2


def test_explain_takes_a_small_crop_as_is_and_two_faces_as_two_files(tmp_path, capsys):
    crop = Image.open(SAMPLES / "grace_hopper.jpg").convert("L").crop((120, 80, 400, 360)).resize((48, 48))
    crop.save(tmp_path / "crop.png")
    assert main(["explain", "--model", "fast", "--image", str(tmp_path / "crop.png"), "--out",
                 str(tmp_path / "c.png")]) == 0
    assert capsys.readouterr().out.startswith("face 1: ") and (tmp_path / "c.png").is_file()
    two = np.hstack([np.asarray(Image.open(SAMPLES / p).convert("RGB").resize((400, 400)))
                     for p in ("astronaut.png", "grace_hopper.jpg")])
    Image.fromarray(two).save(tmp_path / "two.png")
    assert main(["explain", "--model", "fast", "--image", str(tmp_path / "two.png"), "--out",
                 str(tmp_path / "t.png")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["face 1 (left)", "face 2 (right)"]
    assert sorted(p.name for p in tmp_path.glob("t_face*.png")) == ["t_face1.png", "t_face2.png"]


@pytest.mark.parametrize("args, message", [
    (["--model", "fast.onnx", "--image", "x.png"], "Grad-CAM needs gradients"),
    (["--model", "fast", "--image", "missing.png"], "image not found: missing.png"),
    (["--model", "fast", "--image", "{blank}"], "no face found in"),
    (["--model", "fast", "--image", "{face}", "--class", "bored"], "unknown class 'bored'"),
])
def test_explain_bad_input_is_one_line(tmp_path, capsys, args, message):
    Image.new("RGB", (300, 200), "grey").save(tmp_path / "blank.png")
    args = [a.format(blank=tmp_path / "blank.png", face=SAMPLES / "astronaut.png") for a in args]
    assert main(["explain", *args, "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fera: error: ") and message in err[0]
