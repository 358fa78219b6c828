"""Optional integration test on the real FER-2013 folders in ../shared (skipped when absent)."""
import json

import pytest
from conftest import FER2013

from fera.cli import main

pytestmark = [pytest.mark.train, pytest.mark.backends, pytest.mark.shared,
              pytest.mark.skipif(not (FER2013 / "train").is_dir(),
                                 reason="../shared/datasets/fer2013 is not here (it sits beside the checkout in CI)")]


def test_one_epoch_on_a_few_hundred_real_faces(tmp_path):
    root = tmp_path / "fer_subset"
    for split, n in (("train", 40), ("val", 10)):  # per class: 280 training and 70 validation faces
        for cls in sorted(p.name for p in (FER2013 / split).iterdir()):
            d = root / split / cls
            d.mkdir(parents=True)
            for f in sorted((FER2013 / split / cls).iterdir())[:n]:
                (d / f.name).symlink_to(f)  # links, never copies: the data stays in ../shared
    out = tmp_path / "run"
    assert main(["train", "--data_root", str(root), "--out_dir", str(out), "--epochs", "1", "--verbose", "0"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"]["counts"]["train"]["disgust"] == 40 and m["skipped_files"]["count"] == 0
    assert m["evaluated_on"] == "val" and 0.0 <= m["val_accuracy"] <= 1.0
    assert len(m["per_class"]) == 7
