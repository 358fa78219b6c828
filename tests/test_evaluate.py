"""`fera evaluate` on folders, FER roots and CSVs (on the tiny run trained once per session, see conftest.py)."""
import json

import numpy as np
import pytest
from conftest import make_tree

from fera.cli import main
from fera.training.evaluate import align_labels, score

pytestmark = pytest.mark.train


@pytest.mark.backends
def test_evaluate_class_folder_reproduces_training_metrics(trained_run, demo_root, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(trained_run), "--data_root", str(demo_root / "val"),
                 "--out_dir", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    trained = json.loads((trained_run / "metrics.json").read_text())
    assert m["split"] == "val" and m["num_images"] == 16
    assert m["accuracy"] == pytest.approx(trained["val_accuracy"], abs=1e-6)
    assert m["macro_f1"] == pytest.approx(trained["val_macro_f1"], abs=1e-6)
    assert (out / "confusion_matrix.png").is_file()
    assert json.loads((out / "classification_report.json").read_text())["split"] == "val"
    assert "val: accuracy" in capsys.readouterr().out


@pytest.mark.backends
def test_evaluate_fer_root_uses_test_and_h5_works(trained_run, demo_root, tmp_path):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(trained_run / "best_model.h5"), "--data_root", str(demo_root),
                 "--out_dir", str(out), "--json"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    trained = json.loads((trained_run / "metrics.json").read_text())
    assert m["split"] == "test" and m["accuracy"] == pytest.approx(trained["test_accuracy"], abs=1e-6)


def test_subset_of_classes_is_mapped_by_name(trained_run, tmp_path):
    data = make_tree(tmp_path / "d", {"x": {"sad": 3, "happy": 2}})
    assert main(["evaluate", "--model", str(trained_run), "--data_root", str(data / "x"), "--out_dir",
                 str(tmp_path / "o")]) == 0
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["per_class"]["sad"]["support"] == 3 and m["per_class"]["neutral"]["support"] == 0


def test_label_map_mismatch_is_a_clear_error(trained_run, tmp_path, capsys):
    data = make_tree(tmp_path / "d", {"x": {"angry": 2, "happy": 2}})
    assert main(["evaluate", "--model", str(trained_run), "--data_root", str(data / "x"), "--out_dir",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fera: error: label map mismatch") and "angry" in err and "\n" not in err


def test_score_and_alignment():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    r = score(probs, np.array([0, 1, 1]), ["a", "b"])
    assert r["accuracy"] == pytest.approx(2 / 3)
    assert r["confusion_matrix"] == [[1, 0], [1, 1]]
    assert r["per_class"]["b"]["recall"] == pytest.approx(0.5)
    assert r["loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4])))
    np.testing.assert_array_equal(align_labels(["b", "a"], ["a", "b", "c"], np.array([0, 1, 0])), [1, 0, 1])
