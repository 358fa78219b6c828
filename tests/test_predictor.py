"""One predictor interface: ONNX Runtime and Keras share flip test-time augmentation and calibration, and models
are loaded by reference (a shipped name, a file, a run folder) in one place per side."""
import json
import re
import shutil

import numpy as np
import pytest

from fera import shipped
from fera.errors import FeraError
from fera.inference import OnnxModel, Predicting, Predictor, calibrate
from fera.training.modelio import KerasPredictor, load_keras, load_predictor, make_meta

META = make_meta(["a", "b", "c"], (4, 6), "tiny", temperature=2.0)


class FakeKeras:
    """What KerasPredictor needs of a Keras model: ``predict``; its answer depends on the pixels' left-right order."""

    def __init__(self):
        self.batches = []

    def predict(self, x, batch_size, verbose=0):
        self.batches += [min(batch_size, len(x) - i) for i in range(0, len(x), batch_size)]
        w = np.linspace(-1, 1, x.shape[2], dtype=np.float32)
        z = np.stack([(x[..., 0] * w).sum((1, 2)), x.mean((1, 2, 3)), np.zeros(len(x), np.float32)], axis=1)
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


def faces(n=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 4, 6), dtype=np.uint8)


def test_keras_and_onnx_implement_the_one_interface():
    assert issubclass(OnnxModel, Predicting) and issubclass(KerasPredictor, Predicting)
    p = KerasPredictor(FakeKeras(), META)
    assert isinstance(p, Predictor)
    assert p.class_names == ["a", "b", "c"] and p.input_size == (4, 6) and p.temperature == 2.0


def test_flip_and_calibration_are_the_shared_ones():
    model = FakeKeras()
    p = KerasPredictor(model, META)
    x = faces()
    raw = model.predict(x[..., None] / np.float32(255), 256)
    mirrored = model.predict(np.ascontiguousarray(x[:, :, ::-1, None]) / np.float32(255), 256)
    np.testing.assert_allclose(p.predict_uint8(x, calibrated=False), raw, rtol=1e-5)
    np.testing.assert_allclose(p.predict_uint8(x), calibrate(raw, 2.0), rtol=1e-5)
    np.testing.assert_allclose(p.predict_uint8(x, flip=True), calibrate((raw + mirrored) / 2, 2.0), rtol=1e-5)
    assert not np.allclose(p.predict_uint8(x, flip=True), p.predict_uint8(x))
    # crops of any size go through the model's own preprocessing
    np.testing.assert_allclose(p.predict(list(x)), p.predict_uint8(x), rtol=1e-6)
    assert p.predict_uint8(x[:0]).shape == (0, 3)


def test_batch_size_reaches_the_network():
    model = FakeKeras()
    KerasPredictor(model, META, batch_size=2).predict_uint8(faces(5))
    assert model.batches == [2, 2, 1]
    model.batches.clear()
    KerasPredictor(model, META).predict_uint8(faces(5), batch_size=4)
    assert model.batches == [4, 1]


def test_onnx_predictor_matches_its_network_and_the_flip_rule():
    m, described = load_predictor("fast", batch_size=3)
    assert isinstance(m, OnnxModel) and described == "fast (fast.onnx, ONNX Runtime)" and m.batch_size == 3
    x = faces(4, seed=1)
    x = np.repeat(np.repeat(x, 12, axis=1), 8, axis=2)  # 48 x 48
    xs = x[..., None].astype(np.float32) * np.float32(m.meta["preprocessing"]["scale"])
    raw, mirrored = m.raw(xs), m.raw(np.ascontiguousarray(xs[:, :, ::-1]))
    np.testing.assert_allclose(m.predict_uint8(x, flip=True), calibrate((raw + mirrored) / 2, m.temperature),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ref, words", [
    ("nonesuch", "no shipped model, model file or run folder named 'nonesuch' (shipped: fast"),
    ("missing.onnx", "model not found: missing.onnx (shipped models: fast"),
    ("runs/missing", "or give an .onnx, .keras or .h5 file or a run folder"),
])
def test_load_predictor_names_what_is_valid(ref, words):
    with pytest.raises(FeraError, match=re.escape(words)):
        load_predictor(ref)


def test_load_keras_names_what_is_valid():
    with pytest.raises(FeraError, match="or give a .keras/.h5 file or a run folder"):
        load_keras("runs/missing")


def test_shipped_load_onnx_chooses_the_int8_file_itself(tmp_path, monkeypatch):
    """A shipped name with an int8 file in its card gets it; without one, the fp32 file (the assistant's
    --int8 used to decide this on its own)."""
    from fera.runtime.classify import Classifier, ClassifyConfig

    for name, files in (("withq", ["withq.onnx", "withq.int8.onnx"]), ("plain", ["plain.onnx"])):
        for f in files:
            shutil.copyfile(shipped.MODELS_DIR / "fast.onnx", tmp_path / f)
        (tmp_path / f"{name}.json").write_text(json.dumps({"files": files, "val": {"accuracy": 0.5}}))
    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path)
    assert shipped.load_onnx("withq", int8=True).path.name == "withq.int8.onnx"
    assert shipped.load_onnx("withq").path.name == "withq.onnx"
    assert shipped.load_onnx("plain", int8=True).path.name == "plain.onnx"
    assert Classifier(ClassifyConfig(model="withq", int8=True)).model.path.name == "withq.int8.onnx"
    assert Classifier(ClassifyConfig(model="plain", int8=True)).model.path.name == "plain.onnx"
    with pytest.raises(FeraError, match="ships no int8 ONNX file"):
        shipped.onnx_path("plain", int8=True)


def test_load_keras_reads_shipped_weights_and_any_weights_file(tmp_path):
    from fera.training.modelio import save_keras_weights

    model, meta = load_keras("fast")
    assert meta["class_names"] == shipped.card("fast")["class_names"]
    save_keras_weights(model, meta, tmp_path / "weights.npz")  # as scripts/device/pack_run.py names it
    again, meta2 = load_keras(str(tmp_path / "weights.npz"))
    assert meta2 == meta
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)  # fp16-stored both times
