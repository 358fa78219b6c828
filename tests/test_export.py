"""`fera export`: ONNX files that carry their metadata and are kept only when they agree with Keras.

Export writes fera's own lean graph (``fera.training.onnx_graph``), the same under every backend.
"""
import json

import numpy as np
import onnx
import pytest

from fera.training import export
from fera.cli import main
from fera.inference import OnnxModel
from fera.training.modelio import load_model


def _val(demo_root):
    from fera.training.evaluate import held_out

    classes = sorted(p.name for p in (demo_root / "val").iterdir())
    x, y, _, _ = held_out({"input_size": [48, 48], "class_names": classes}, str(demo_root), prefer=("val",),
                          log=lambda m: None)
    return x.astype(np.float32)[..., None] / 255.0, y


def test_fp32_export_matches_keras_and_carries_metadata(trained_run, demo_root, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", str(trained_run), "--out", str(out)]) == 0
    assert "fp32 check on 16 images" in capsys.readouterr().err
    m = OnnxModel.load(out)
    keras_model, meta = load_model(trained_run)
    assert m.meta["class_names"] == meta["class_names"] and m.input_size == (48, 48)
    assert m.meta["preprocessing"]["scale"] == pytest.approx(1 / 255) and "temperature" in m.meta
    x, _ = _val(demo_root)
    np.testing.assert_allclose(m.raw(x), keras_model.predict(x, verbose=0), atol=1e-4)
    assert m.raw(x[:3]).shape == (3, len(meta["class_names"]))  # any batch size
    assert [o.name for o in onnx.load(str(out)).graph.output] == ["probabilities"]


def test_export_refuses_to_keep_a_file_that_disagrees(trained_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(export, "FP32_TOLERANCE", -1.0)  # nothing can agree now
    out = tmp_path / "bad.onnx"
    assert main(["export", "--model", str(trained_run), "--out", str(out)]) == 2
    assert "differs from Keras" in capsys.readouterr().err and not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left behind


def test_int8_export_is_static_qdq_and_checked(trained_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "m8.onnx"
    monkeypatch.setattr(export, "INT8_MAX_ACCURACY_LOSS", -1.01)  # impossible: must refuse
    assert main(["export", "--model", str(trained_run), "--out", str(out), "--int8"]) == 2
    assert "not written" in capsys.readouterr().err and not out.exists()
    monkeypatch.setattr(export, "INT8_MAX_ACCURACY_LOSS", 1.0)
    assert main(["export", "--model", str(trained_run), "--out", str(out), "--int8", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert 0 <= rep["int8"]["argmax_agreement"] <= 1 and rep["int8"]["images"] == 16
    assert 0 <= rep["int8"]["accuracy_int8"] <= 1 and rep["int8"]["accuracy_fp32"] >= 0
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    m = OnnxModel.load(out)
    assert m.meta["quantization"].startswith("int8 static") and len(m.class_names) == 4


def test_large_weights_are_stored_as_fp16_and_still_agree(trained_run, demo_root, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "MAX_BYTES", 1000)
    out = tmp_path / "half.onnx"
    assert main(["export", "--model", str(trained_run), "--out", str(out)]) == 0
    g = onnx.load(str(out)).graph
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in g.initializer)
    m = OnnxModel.load(out)
    assert m.meta["weights_storage"].startswith("float16")
    x, _ = _val(demo_root)
    keras_model, _ = load_model(trained_run)
    np.testing.assert_allclose(m.raw(x), keras_model.predict(x, verbose=0), atol=2e-3)


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "x.onnx")]) == 2
    assert main(["export", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("fera: error:") for line in err)
