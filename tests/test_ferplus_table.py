"""benchmarks/ferplus_table.py: the FER+ paper's table, rehearsed on a tiny synthetic FER+ layout."""
import importlib.util
import json
import sys

import pytest
from conftest import REPO
from test_ferplus_train import make_ferplus_root


def _table_module():
    spec = importlib.util.spec_from_file_location("ferplus_table", REPO / "benchmarks" / "ferplus_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_papers_settings_scale_with_the_epochs():
    table = _table_module()
    cfg = table.paper_config("root", REPO / "x", "probability", 64, 100, "float32")
    assert (cfg.data.img_size, cfg.data.batch_size, cfg.data.labels, cfg.data.contempt) == ((64, 64), 32, "probability",
                                                                                          True)
    assert (cfg.train.optimizer, cfg.train.schedule, cfg.train.lr, cfg.train.class_weight) == ("sgd", "steps", 0.005,
                                                                                           "none")
    assert cfg.train.lr_steps == ((20, 0.5), (40, 0.1))  # Microsoft's trainer: epochs 21 and 41 of 100
    assert table.paper_config("root", REPO / "x", "majority", 48, 10, "float32").train.lr_steps == ((2, 0.5), (4, 0.1))


@pytest.mark.train
def test_table_trains_each_cell_prints_it_beside_the_paper_and_resumes(tmp_path, monkeypatch, capsys):
    root = make_ferplus_root(tmp_path / "ferplus", per_class={"FER2013Train": 8, "FER2013Valid": 4})
    out = tmp_path / "table"
    argv = ["ferplus_table.py", "--data_root", str(root), "--out", str(out), "--epochs", "1", "--sizes", "16",
            "--schemes", "majority,crossentropy", "--precision", "float32"]
    monkeypatch.setattr(sys, "argv", argv)
    assert _table_module().main() == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "table.json").read_text())
    assert [(r["scheme"], r["size"], r["epochs_run"]) for r in rows] == [("majority", 16, 1), ("crossentropy", 16, 1)]
    for r in rows:
        cfg = json.loads((out / f"16px_{r['scheme']}" / "config.json").read_text())
        assert cfg["train"]["optimizer"] == "sgd" and cfg["data"]["labels"] == r["scheme"]
        line = next(ln for ln in printed.splitlines() if ln.startswith({"majority": "majority voting",
                                                                         "crossentropy": "cross-entropy"}[r["scheme"]]))
        assert f"{r['val_accuracy']:.2%}" in line and f"{r['paper_test_accuracy']:.2%}" in line
    assert "84.72%" in printed and "83.85%" in printed  # the paper's figures for the two schemes
    assert "1 epoch: learning rate 0.005, x0.5 from epoch 2 (not reached)" in printed

    # a second run finds every cell done and trains nothing
    def no_training(*args, **kwargs):
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr("fera.training.train.train", no_training)
    assert _table_module().main() == 0
    assert json.loads((out / "table.json").read_text()) == rows
