"""The design's default settings must learn, not collapse to the class prior (runs under every backend).

Before BatchNorm was added to the head and the output layer started small, VGG-13 with the design's
L2 1e-4, dropout 0.5 (and 0.25 after each block), balanced class weights and Adam at 1e-3 stayed
at the prior: on this dataset its training accuracy was 0.28, 0.25, 0.245, 0.285 over four epochs
(every face one class), and on FER-2013 99.8% of the first Dense layer's units were dead by epoch 3.
"""
import csv

import pytest

from fera.cli import main
from fera.demo import build_demo_dataset

pytestmark = [pytest.mark.train, pytest.mark.backends]


# The run is seeded (--seed: split, shuffling, augmentation, initial weights), but its numbers still move with the
# backend, the thread count and the library versions, so the bar sits between the two behaviours with room on both
# sides. Best training accuracy of the four epochs at seeds 42 (this test's), 0, 1, 2, 3, one thread as under
# `make test`: torch 0.533 0.538 0.550 0.543 0.543; TensorFlow 0.543 0.520 0.535 0.600 0.562. A collapsed network
# stays at the prior: 0.28, 0.25, 0.245, 0.285 (the docstring's run).
SEED = 42
BAR = 0.40  # 0.12 below the lowest learning run measured (0.520), 0.115 above the collapsed one (0.285)


def test_design_defaults_beat_the_prior_within_four_epochs(tmp_path):
    data = build_demo_dataset(tmp_path / "data", per_class={"train": 100, "val": 20}, seed=3)  # 4 classes
    out = tmp_path / "run"
    # everything at fera's defaults, which are the design's: vgg13, Adam 1e-3, L2 1e-4, dropout 0.5,
    # balanced class weights, augmentation, batch 64; the old block dropout is given explicitly
    assert main(["train", "--data_root", str(data), "--out_dir", str(out), "--epochs", "4",
                 "--block_dropout", "0.25", "--seed", str(SEED), "--verbose", "0"]) == 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    train_acc = [float(r["accuracy"]) for r in rows]
    # the prior is 0.25; a collapsed network stays below 0.3, a learning one passes 0.5 by epoch 4
    assert max(train_acc) >= BAR, f"training accuracy per epoch {train_acc} (seed {SEED}): stuck at the prior"
