"""`fera calibrate`: a model's temperature fitted on val (``fera.training.calibrate``)."""
from __future__ import annotations

import json

from fera.commands.args import log
from fera.errors import FeraError

EXAMPLES = [
    ("fera calibrate --model runs/vgg13_fer", "fit on the run's val data, store in the model"),
    "fera calibrate --model runs/vgg13_fer/best_model.keras --data_root data/fer2013 --out_dir runs/cal"]


def add_arguments(p) -> None:
    p.add_argument("--model", help="a run folder or a .keras/.h5 file (its temperature is updated)")
    p.add_argument("--data_root", help="the data whose val/ (or held-out share of train/) the temperature is "
                   "fitted on (default: the run's)")
    p.add_argument("--out_dir", help="folder for calibration.json and reliability.png (default: the model's)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args) -> int:
    """Fit a calibration temperature on val and store it in the model; report ECE before and after."""
    from fera.training.calibrate import calibrate_model

    if not args.model:
        raise FeraError("fera calibrate needs --model (a run folder or a .keras/.h5 file)")
    rep = calibrate_model(args.model, args.data_root, args.out_dir, log=log)
    keys = ("temperature", "ece_before", "ece_after", "nll_before", "nll_after", "num_images")
    if args.json:
        print(json.dumps({k: rep[k] for k in keys}))
    else:
        print(f"temperature {rep['temperature']:.3f}: expected calibration error {rep['ece_before']:.4f} -> "
              f"{rep['ece_after']:.4f} on {rep['num_images']} {rep['split']} images")
    return 0
