"""`fera export`: a trained model to ONNX (``fera.training.export``)."""
from __future__ import annotations

import json
import os

from fera.commands.args import log
from fera.errors import FeraError

EXAMPLES = [
    ("fera export --model runs/vgg13_fer --out model.onnx", "fp32, kept if ONNX Runtime agrees"),
    ("fera export --model runs/vgg13_fer --out model.int8.onnx --int8", "static int8")]


def add_arguments(p) -> None:
    p.add_argument("--model", help="a run folder or a .keras/.h5 file")
    p.add_argument("--out", help="the .onnx file to write")
    p.add_argument("--int8", action="store_true", help="static int8 quantization (kept only if it agrees)")
    p.add_argument("--data_root", help="the data whose val images check the export (default: the run's)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args) -> int:
    """Export a trained model to ONNX; the file is kept only if ONNX Runtime agrees with Keras on val images."""
    from fera.training.export import export_model

    if not args.model or not args.out:
        raise FeraError("fera export needs --model (a run folder or a .keras/.h5 file) and --out FILE.onnx")
    rep = export_model(args.model, args.out, int8=args.int8, data_root=args.data_root, log=log)
    if args.json:
        print(json.dumps(rep))
    else:
        kind = "int8" if args.int8 else "fp32"
        print(f"wrote {args.out} ({kind}, {os.path.getsize(args.out) / 2**20:.1f} MiB)")
    return 0
