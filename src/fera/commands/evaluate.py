"""`fera evaluate`: a model scored on held-out data (``fera.training.evaluate``)."""
from __future__ import annotations

import json
import os

from fera.commands.args import COUNT, add_option, log
from fera.errors import FeraError
from fera.inference import BATCH_SIZE

EXAMPLES = [
    ("fera evaluate --model runs/vgg13_fer --data_root data/fer2013 --out_dir runs/vgg13_fer/eval", "its test/"),
    ("fera evaluate --model fast --data_root data/fer2013/val --out_dir runs/eval_fast --report",
     "a shipped model, with report.html")]


def add_arguments(p) -> None:
    p.add_argument("--model", help="a shipped model name (see `fera models`), an .onnx, .keras or .h5 file, "
                   "or a run folder")
    p.add_argument("--data_root", help="a folder of class folders, a FER-style root (its test/, else val/) or a CSV")
    p.add_argument("--out_dir", help="folder for metrics.json, the report and the confusion matrix")
    add_option(p, "--batch_size", type=COUNT, default=BATCH_SIZE, help="images per prediction batch (default {default})")
    p.add_argument("--report", action="store_true", help="also write report.html there (see `fera report`)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args) -> int:
    """Evaluate a model on held-out data: a folder of class folders, a FER root (its test/) or a CSV."""
    from fera.training.evaluate import evaluate_model

    if not args.model or not args.data_root or not args.out_dir:
        raise FeraError("fera evaluate needs --model, --data_root and --out_dir")
    ev = evaluate_model(args.model, args.data_root, args.out_dir, batch_size=args.batch_size, log=log)
    m = ev.metrics
    if args.report:  # from the same evaluation: the data are loaded and predicted once
        from fera.training.report import source_of, write_report

        m["report"] = write_report(source_of(args.out_dir), os.path.join(args.out_dir, "report.html"), log=log,
                                   evaluation=ev)["html"]
    if args.json:
        print(json.dumps({k: m[k] for k in ("split", "accuracy", "loss", "macro_f1", "num_images", "report") if k in m}))
    else:
        print(f"{m['split']}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, "
              f"loss {m['loss']:.4f} on {m['num_images']} images; written to {args.out_dir}")
    return 0
