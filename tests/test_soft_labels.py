"""`fera train --soft_labels`: FER+ vote distributions as training targets (made here from a tiny CSV)."""
import csv
import json

import numpy as np
import pytest
from fer_csv import FER_CLASSES, make_fer_csv

from fera.training.augment import Batches
from fera.cli import main
from fera.training.config import DataConfig
from fera.training.data import load_dataset
from fera.errors import FeraError


def test_soft_labels_become_the_training_targets(tmp_path):
    fer, ferplus, _ = make_fer_csv(tmp_path / "src")
    out = tmp_path / "fp"
    assert main(["data", "convert", str(fer), "--to", str(out), "--ferplus", str(ferplus)]) == 0
    cfg = DataConfig(data_root=str(out), soft_labels=str(out / "labels.csv"))
    for from_cache in (False, True):  # file paths survive the decoded-data cache
        ds = load_dataset(cfg)
        assert ds.from_cache == from_cache
        tr = ds.splits["train"]
        row = list(tr.files).index("train/angry/row00000.png")
        expected = np.zeros(7, np.float32)
        expected[ds.class_names.index("angry")], expected[ds.class_names.index("happy")] = 0.8, 0.2
        np.testing.assert_allclose(tr.soft[row], expected, atol=1e-6)
        np.testing.assert_allclose(tr.soft.sum(axis=1), 1.0, atol=1e-6)
        assert np.all(tr.soft.argmax(axis=1) == tr.y) and ds.splits["val"].soft is None
    batches = Batches(tr.x, tr.y, ds.num_classes, 8, shuffle=True, seed=3, targets=tr.soft)
    _, yb = batches[0]
    np.testing.assert_allclose(yb, tr.soft[batches.order[:8]])
    # every training image needs a row; a CSV data root has no file paths
    lines = (out / "labels.csv").read_text().splitlines()
    (tmp_path / "short.csv").write_text("\n".join(l for l in lines if "row00000" not in l) + "\n")
    with pytest.raises(FeraError, match="1 of 24 training images have no row"):
        load_dataset(DataConfig(data_root=str(out), soft_labels=str(tmp_path / "short.csv"), use_cache=False))
    with pytest.raises(FeraError, match="needs a folder dataset"):
        load_dataset(DataConfig(data_root=str(fer), soft_labels=str(out / "labels.csv")))


@pytest.mark.train
def test_csv_to_trained_model_on_soft_labels(tmp_path, capsys):
    """The issue's path: a CSV and a FER+ file -> convert -> verify -> one epoch on soft labels."""
    fer, ferplus, _ = make_fer_csv(tmp_path / "src")
    out, run = tmp_path / "fp", tmp_path / "run"
    assert main(["data", "convert", str(fer), "--to", str(out), "--ferplus", str(ferplus)]) == 0
    assert main(["data", "verify", str(out), "--allow_duplicates"]) == 0
    common = ["train", "--data_root", str(out), "--model", "fast", "--epochs", "1", "--batch_size", "8", "--verbose", "0"]
    assert main(common + ["--soft_labels", str(out / "labels.csv"), "--out_dir", str(run)]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["soft_labels"] == str(out / "labels.csv")
    m = json.loads((run / "metrics.json").read_text())
    assert m["evaluated_on"] == "test" and m["dataset"]["counts"]["test"]["happy"] == 2
    assert set(m["per_class"]) == set(FER_CLASSES)
    # the same seeded run on one-hot labels: same images, model and batches, other targets -> another loss
    assert main(common + ["--out_dir", str(tmp_path / "hard")]) == 0
    loss = [float(next(csv.DictReader(open(d / "history.csv")))["loss"]) for d in (run, tmp_path / "hard")]
    assert loss[0] != pytest.approx(loss[1], rel=1e-4), loss
