"""The FER+ paper's table, reproduced with fera: the four label schemes, trained with the paper's VGG-13 settings.

    python benchmarks/ferplus_table.py --data_root ../shared/datasets/ferplus --out runs/ferplus_table \
        [--epochs 100] [--sizes 64,48] [--schemes majority,multi_target,probability,crossentropy]

For each input size and scheme it trains ``vgg13_ferplus`` (the paper's 64-128-256-256 VGG-13 with 2-2-3-3
convolutions and two Dense(1024); BatchNorm added, as fera's design has it) on FER2013Train with 8 classes
(contempt included, as the paper), then prints the best FER2013Valid majority-label accuracy beside the paper's
published FER+ *test* accuracies (Barsoum et al., ICMI 2016, Table 2). FER2013Test is held back, so fera's
column is validation accuracy: same faces' kind, not the same faces.

The paper's settings (microsoft/FERPlus src/train.py): batch 32, momentum SGD (momentum 0.9), a learning rate of
0.05 per minibatch for epochs 1-20, 0.025 for 21-40 and 0.005 after, at most 100 epochs, best epoch by val
accuracy; augmentation: shift +-8%, scale 1 to 1.05 per axis, rotation +-20 degrees, skew +-0.05, horizontal
flip. In fera's terms: ``--optimizer sgd`` (fera's is Nesterov momentum 0.9), ``--lr 0.005`` (CNTK's unit-gain
momentum applies (1 - 0.9) of each gradient, Keras' SGD all of it: 0.05 x 0.1), ``--schedule steps`` with the
steps at 20% and 40% of the epochs (20 and 40 of the paper's 100), no class weights, no L2, no early stopping;
augmentation rotation 20, shift 0.08, shear 2.86 degrees (atan 0.05), zoom 0.05, flip. fera scales pixels to
[0, 1] instead of the paper's histogram equalisation and plane subtraction. With fewer epochs than 100 (CPU
time), the learning-rate steps move with the budget and the table says how many epochs ran.

Every run is a normal fera run folder under --out: an interrupted table continues where it stopped
(each run resumes from its last epoch).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Barsoum et al. 2016, Table 2: FER+ test accuracy (%), mean over runs, VGG-13 at 64x64.
PAPER = {"majority": 83.852, "multi_target": 83.966, "probability": 84.986, "crossentropy": 84.716}
SCHEME_NAMES = {"majority": "majority voting", "multi_target": "multi-label", "probability": "probability drawing",
                "crossentropy": "cross-entropy"}


LR = 0.005  # Keras' equivalent of the paper's 0.05 with CNTK's unit-gain momentum (see above)


def lr_steps(epochs: int) -> tuple[tuple[int, float], ...]:
    """The paper's steps (x0.5 at 20%, x0.1 at 40% of the epochs), as (epoch from 0, factor) for ``epochs``."""
    return (max(1, round(0.2 * epochs)), 0.5), (max(2, round(0.4 * epochs)), 0.1)


def paper_config(data_root: str, out_dir: Path, scheme: str, size: int, epochs: int, precision: str):
    from fera.training.config import AugmentConfig, DataConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(data_root=data_root, img_size=(size, size), batch_size=32, labels=scheme, contempt=True),
        augment=AugmentConfig(rotation=20.0, shift=0.08, shear=math.degrees(math.atan(0.05)), zoom=0.05,
                              horizontal_flip=True, crop=0, erasing=0.0),
        model=ModelConfig(name="vgg13_ferplus", l2=0.0, dropout=0.5, block_dropout=0.25),
        train=TrainConfig(out_dir=str(out_dir), epochs=epochs, optimizer="sgd", lr=LR, warmup_epochs=0.0,
                          schedule="steps", lr_steps=lr_steps(epochs), early_stopping_patience=epochs,
                          class_weight="none", label_smoothing=0.0, verbose=2, precision=precision))


def run_one(cfg, log) -> dict:
    from fera.training.train import train

    out = Path(cfg.train.out_dir)
    if (out / "metrics.json").is_file():
        metrics = json.loads((out / "metrics.json").read_text())
        if metrics.get("epochs_run", 0) >= cfg.train.epochs:
            return metrics
    cfg.train.resume = (out / "checkpoints" / "state.json").is_file()
    cfg.train.overwrite = not cfg.train.resume
    return train(cfg, log=log)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data_root", required=True, help="a FER+ root (FER2013Train/, FER2013Valid/)")
    ap.add_argument("--out", default="runs/ferplus_table", help="folder for the runs and table.json")
    ap.add_argument("--epochs", type=int, default=100, help="epochs per run (the paper's: 100)")
    ap.add_argument("--sizes", default="64,48", help="input sizes, comma-separated (the paper's: 64)")
    ap.add_argument("--schemes", default=",".join(PAPER), help="label schemes, comma-separated")
    ap.add_argument("--precision", default="mixed_bfloat16", choices=("float32", "mixed_bfloat16"))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in a.sizes.split(",")]
    schemes = [s for s in a.schemes.split(",") if s]
    unknown = [s for s in schemes if s not in PAPER]
    if unknown:
        ap.error(f"unknown scheme(s) {', '.join(unknown)}; choose from {', '.join(PAPER)}")
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    rows = []
    for size in sizes:
        for scheme in schemes:
            cfg = paper_config(a.data_root, out / f"{size}px_{scheme}", scheme, size, a.epochs, a.precision)
            m = run_one(cfg, log)
            rows.append({"size": size, "scheme": scheme, "epochs_run": m["epochs_run"], "best_epoch": m["best_epoch"],
                         "val_accuracy": m["best_val_accuracy"], "val_macro_f1": m["val_macro_f1"],
                         "train_seconds": m["wall_seconds"]["training"], "paper_test_accuracy": PAPER[scheme] / 100})
            (out / "table.json").write_text(json.dumps(rows, indent=1))
    print(f"FER+ (8 classes), VGG-13 with the paper's settings; fera: best FER2013Valid majority accuracy; "
          f"paper: FER+ test accuracy (Barsoum et al. 2016, Table 2)")
    for epochs in sorted({r["epochs_run"] for r in rows}):
        cuts = [f"x{factor} from epoch {start + 1}" + (" (not reached)" if start >= epochs else "")
                for start, factor in lr_steps(epochs)]
        print(f"{epochs} epoch{'s' * (epochs != 1)}: learning rate {LR}, {', '.join(cuts)}")
    print(f"{'scheme':<20} {'size':>5} {'epochs':>7} {'fera val':>9} {'macro-F1':>9} {'paper test':>11} "
          f"{'difference':>11} {'s/epoch':>8}")
    for r in rows:
        diff = 100 * (r["val_accuracy"] - r["paper_test_accuracy"])
        print(f"{SCHEME_NAMES[r['scheme']]:<20} {r['size']:>5} {r['epochs_run']:>7} {r['val_accuracy']:>9.2%} "
              f"{r['val_macro_f1']:>9.3f} {r['paper_test_accuracy']:>11.2%} {diff:>+10.1f}p "
              f"{r['train_seconds'] / max(1, r['epochs_run']):>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
