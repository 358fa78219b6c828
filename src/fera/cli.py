"""fera: train, evaluate and inspect facial-expression models. Run `fera COMMAND -h` for a command's options."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import fields

from fera.argtypes import COUNT, FRACTION, NON_NEGATIVE, POSITIVE, RATE, Parser, float_in
from fera.config import (CLASS_WEIGHTINGS, OPTIMIZERS, PRECISIONS, SCHEDULES, AugmentConfig, DataConfig, ModelConfig,
                         RunConfig, TrainConfig)
from fera.errors import FeraError, Interrupted, missing_package


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.replace("x", ",").split(","))
        if h < 8 or w < 8:
            raise ValueError
        return h, w
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHT,WIDTH of at least 8,8, e.g. 48,48 (got {text!r})") from None


def _data_options() -> argparse.ArgumentParser:
    """Options shared by every command that reads a dataset (defined once)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("data")
    g.add_argument("--data_root", help="FER-style root (train/, optional val/ and test/) or a FER-2013 CSV")
    g.add_argument("--img_size", type=_size, help="HEIGHT,WIDTH images are converted to (default 48,48)")
    g.add_argument("--batch_size", type=COUNT, help="images per batch (default 64)")
    g.add_argument("--val_split", type=float_in(0, 1, open_lo=True, open_hi=True),
                   help="share of train/ held out when there is no val/ (default 0.2)")
    g.add_argument("--seed", type=NON_NEGATIVE, help="seed for the split, shuffling and augmentation (default 42)")
    g.add_argument("--cache_dir", help="decoded-data cache folder (default $FERA_CACHE_DIR or ~/.cache/fera)")
    g.add_argument("--no_cache", action="store_true", help="neither read nor write the decoded-data cache")
    g.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def _fill(dc_type, args, **renames):
    """Build a settings dataclass from the options the user gave; the rest keep their defaults."""
    values = {}
    for f in fields(dc_type):
        v = getattr(args, renames.get(f.name, f.name), None)
        if v is not None:
            values[f.name] = v
    return dc_type(**values)


def _data_config(args) -> DataConfig:
    cfg = _fill(DataConfig, args)
    cfg.use_cache = not args.no_cache
    if not cfg.data_root:
        raise FeraError("--data_root is required")
    return cfg


def cmd_data(args) -> int:
    """Smoke-test a dataset (counts, class weights, skipped files, one batch), or get, convert and verify FER-2013."""
    from fera.data import class_weights, load_dataset

    cfg = _data_config(args)
    ds = load_dataset(cfg, log=_err)
    from fera.augment import Batches

    tr = ds.splits["train"]
    weights = class_weights(tr.y, ds.num_classes)
    t0 = time.perf_counter()
    xb, yb, _ = Batches(tr.x, tr.y, ds.num_classes, cfg.batch_size, seed=cfg.seed, shuffle=True,
                        augment_cfg=AugmentConfig(), class_weight=weights)[0]
    batch_ms = (time.perf_counter() - t0) * 1000
    report = {
        "data_root": ds.source, "classes": ds.class_names, "counts": ds.counts(),
        "val_from_train": ds.val_from_train,
        "class_weights": {n: round(weights[i], 4) for i, n in enumerate(ds.class_names)},
        "skipped": {"count": len(ds.skipped), "examples": [f"{p}: {r}" for p, r in ds.skipped[:5]]},
        "batch": {"x_shape": list(xb.shape), "y_shape": list(yb.shape), "x_min": float(xb.min()),
                  "x_max": float(xb.max()), "dtype": str(xb.dtype), "ms": round(batch_ms, 1)},
        "load_seconds": round(ds.load_seconds, 2), "from_cache": ds.from_cache,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    counts = ds.counts()
    width = max(len(c) for c in ds.class_names + ["class"])
    print(f"dataset {ds.source}: {ds.num_classes} classes, loaded in {ds.load_seconds:.2f}s"
          + (" (from cache)" if ds.from_cache else ""))
    print(f"{'class':<{width}}  " + "  ".join(f"{s:>7}" for s in counts) + "   weight")
    for i, c in enumerate(ds.class_names):
        print(f"{c:<{width}}  " + "  ".join(f"{counts[s][c]:>7}" for s in counts) + f"   {weights[i]:.3f}")
    print(f"{'total':<{width}}  " + "  ".join(f"{sum(counts[s].values()):>7}" for s in counts))
    if ds.val_from_train:
        print(f"val: no val/ folder, so {cfg.val_split:.0%} of train/ was held out (stratified, seed {cfg.seed})")
    print(f"skipped files: {len(ds.skipped)}" + "".join(f"\n  {p}: {r}" for p, r in ds.skipped[:5])
          + (f"\n  ... and {len(ds.skipped) - 5} more" if len(ds.skipped) > 5 else ""))
    print(f"one training batch: x {tuple(xb.shape)} {xb.dtype} in [{xb.min():.3f}, {xb.max():.3f}], "
          f"y {tuple(yb.shape)} one-hot, made in {batch_ms:.0f} ms")
    return 0


def _train_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("training")
    g.add_argument("--out_dir", help="folder for the run's artifacts (default runs/vgg13_fer)")
    g.add_argument("--model", help="registry name of the model (default vgg13; see `fera models`)")
    g.add_argument("--epochs", type=COUNT, help="maximum epochs (default 20)")
    g.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="adam (default, the design's), adamw (--l2 as decoupled weight decay) or sgd (Nesterov)")
    g.add_argument("--lr", type=POSITIVE, help="peak learning rate (default 1e-3)")
    g.add_argument("--warmup_epochs", type=float_in(0),
                   help="epochs of linear learning-rate warm-up (default 1; 0 = none)")
    g.add_argument("--l2", type=float_in(0), help="L2 penalty on kernels (default 1e-4; weight decay with adamw)")
    g.add_argument("--dropout", type=RATE, help="dropout after the dense layers (default 0.5)")
    g.add_argument("--block_dropout", type=RATE, help="dropout after each conv block (default 0)")
    g.add_argument("--schedule", choices=SCHEDULES,
                   help="learning rate after the warm-up: plateau (default, ReduceLROnPlateau) or cosine")
    g.add_argument("--label_smoothing", type=RATE, help="label smoothing of the loss (default 0)")
    g.add_argument("--min_lr", type=float_in(0), help="lowest learning rate of either schedule (default 1e-6)")
    g.add_argument("--patience", type=NON_NEGATIVE, help="early-stopping patience in epochs (default 10)")
    g.add_argument("--class_weight", choices=CLASS_WEIGHTINGS,
                   help="class weighting of the loss (default balanced, as the design)")
    g.add_argument("--no_augment", action="store_true", help="train without augmentation")
    g.add_argument("--crop", type=NON_NEGATIVE,
                   help="random crop: pad by this many pixels and cut the original size (default 0)")
    g.add_argument("--erasing", type=FRACTION, help="share of images with a random rectangle erased (default 0)")
    g.add_argument("--soft_labels", help="labels.csv of `fera data convert --ferplus`: train on each image's vote "
                   "distribution (evaluation stays on the folders' majority labels)")
    g.add_argument("--precision", choices=PRECISIONS,
                   help="float32 (default) or mixed_bfloat16: ~1.5x faster on CPUs with bf16 support")
    g.add_argument("--resume", action="store_true", help="continue the run in --out_dir from its last epoch")
    g.add_argument("--overwrite", action="store_true", help="start afresh in a non-empty --out_dir")
    g.add_argument("--verbose", type=int, choices=(0, 1, 2), help="Keras output: 0 none, 1 progress bar, 2 a line per epoch")
    return p


def cmd_train(args) -> int:
    """Train a model (the design's VGG-13 by default) and write every artifact to --out_dir."""
    from fera.fileio import read_json
    from fera.train import train

    train_cfg = _fill(TrainConfig, args, early_stopping_patience="patience")
    if args.resume:
        if not train_cfg.out_dir:
            raise FeraError("--resume needs --out_dir")
        saved = os.path.join(train_cfg.out_dir, "config.json")
        if not os.path.isfile(saved):
            raise FeraError(f"nothing to resume in {train_cfg.out_dir}: no config.json from an earlier run")
        d = read_json(saved)
        d.pop("backend", None)
        cfg = RunConfig.from_dict(d)
        cfg.train.resume = True
        cfg.train.out_dir = train_cfg.out_dir  # the folder may have been moved since
        if args.epochs is not None:  # the one setting a resumed run may change: train for longer
            cfg.train.epochs = args.epochs
        if args.verbose is not None:
            cfg.train.verbose = args.verbose
    else:
        if train_cfg.verbose == 1 and not sys.stdout.isatty() and args.verbose is None:
            train_cfg.verbose = 2  # no progress-bar redraws in logs and pipes
        model_cfg = _fill(ModelConfig, args, name="model")
        aug = AugmentConfig(rotation=0, shift=0, shear=0, zoom=0, horizontal_flip=False) if args.no_augment \
            else _fill(AugmentConfig, args)
        cfg = RunConfig(data=_data_config(args), augment=aug, model=model_cfg, train=train_cfg)
    metrics = train(cfg, log=_err)
    if args.json:
        print(json.dumps({k: metrics[k] for k in ("best_val_accuracy", "best_epoch", "macro_f1", "evaluated_on")}))
    return 0


def cmd_evaluate(args) -> int:
    """Evaluate a model on held-out data: a folder of class folders, a FER root (its test/) or a CSV."""
    from fera.evaluate import evaluate_model

    if not args.model or not args.data_root or not args.out_dir:
        raise FeraError("fera evaluate needs --model, --data_root and --out_dir")
    m = evaluate_model(args.model, args.data_root, args.out_dir, batch_size=args.batch_size or 256, log=_err)
    if args.report:
        from fera.report import source_of, write_report

        m["report"] = write_report(source_of(args.out_dir), os.path.join(args.out_dir, "report.html"), log=_err)["html"]
    if args.json:
        print(json.dumps({k: m[k] for k in ("split", "accuracy", "loss", "macro_f1", "num_images", "report") if k in m}))
    else:
        print(f"{m['split']}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, "
              f"loss {m['loss']:.4f} on {m['num_images']} images; written to {args.out_dir}")
    return 0


def cmd_calibrate(args) -> int:
    """Fit a calibration temperature on val and store it in the model; report ECE before and after."""
    from fera.calibrate import calibrate_model

    if not args.model:
        raise FeraError("fera calibrate needs --model (a run folder or a .keras/.h5 file)")
    rep = calibrate_model(args.model, args.data_root, args.out_dir, log=_err)
    keys = ("temperature", "ece_before", "ece_after", "nll_before", "nll_after", "num_images")
    if args.json:
        print(json.dumps({k: rep[k] for k in keys}))
    else:
        print(f"temperature {rep['temperature']:.3f}: expected calibration error {rep['ece_before']:.4f} -> "
              f"{rep['ece_after']:.4f} on {rep['num_images']} {rep['split']} images")
    return 0


def cmd_export(args) -> int:
    """Export a trained model to ONNX; the file is kept only if ONNX Runtime agrees with Keras on val images."""
    from fera.export import export_model

    if not args.model or not args.out:
        raise FeraError("fera export needs --model (a run folder or a .keras/.h5 file) and --out FILE.onnx")
    rep = export_model(args.model, args.out, int8=args.int8, data_root=args.data_root, log=_err)
    if args.json:
        print(json.dumps(rep))
    else:
        kind = "int8" if args.int8 else "fp32"
        print(f"wrote {args.out} ({kind}, {os.path.getsize(args.out) / 2**20:.1f} MiB)")
    return 0


def cmd_models(args) -> int:
    """List the models that ship with fera (size, val accuracy, latency), then the architectures."""
    from fera import shipped

    for name in shipped.shipped_names():
        c = shipped.card(name)
        files = {f: round((shipped.MODELS_DIR / f).stat().st_size / 2**20, 1) for f in c["files"]
                 if (shipped.MODELS_DIR / f).is_file()}
        row = {"name": name, "shipped": True, "val_accuracy": c["val"]["accuracy"],
               "val_macro_f1": c["val"]["macro_f1"], "latency_ms": c["latency_ms"], "files_mib": files,
               "description": c["description"]}
        if args.json:
            print(json.dumps(row))
        else:
            lat = ", ".join(f"{k} {v['p50']:.2f} ms" for k, v in c["latency_ms"].items())
            size = ", ".join(f"{f} {v} MiB" for f, v in files.items())
            print(f"{name} (shipped): val accuracy {row['val_accuracy']:.1%}, macro-F1 {row['val_macro_f1']:.3f}; "
                  f"per face {lat}; {size}")
    for name, doc in architectures():
        print(json.dumps({"name": name, "architecture": True, "description": doc}) if args.json
              else f"{name} (architecture): {doc}")
    return 0


def architectures() -> list[tuple[str, str]]:
    """(name, first line of its docstring) of every ``@register_model`` function in ``fera.models``, read
    from the source: importing the registry imports Keras, and listing models must not need it."""
    import ast
    from pathlib import Path

    found = []
    for path in sorted((Path(__file__).parent / "models").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any(getattr(d, "id", None) == "register_model"
                                                         for d in node.decorator_list):
                found.append((node.name, ((ast.get_docstring(node) or "").strip().splitlines() or [""])[0]))
    return sorted(found)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fera", description=__doc__)
    from fera import __version__

    parser.add_argument("--version", action="version", version=f"fera {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data_opts, train_opts = _data_options(), _train_options()

    def add(name, fn, parents=()):
        p = sub.add_parser(name, parents=list(parents), help=fn.__doc__.splitlines()[0], description=fn.__doc__)
        p.set_defaults(func=fn)
        return p

    from fera.datasets import command as data_commands

    data_commands.add_subcommands(add("data", cmd_data, [data_opts]))  # fera data get|convert|verify
    add("train", cmd_train, [data_opts, train_opts])
    ev = add("evaluate", cmd_evaluate, [data_opts])
    ev.add_argument("--model", help="a shipped model name (see `fera models`), an .onnx, .keras or .h5 file, "
                    "or a run folder")
    ev.add_argument("--out_dir", help="folder for metrics.json, the report and the confusion matrix")
    ev.add_argument("--report", action="store_true", help="also write report.html there (see `fera report`)")
    cal = add("calibrate", cmd_calibrate, [data_opts])
    cal.add_argument("--model", help="a run folder or a .keras/.h5 file (its temperature is updated)")
    cal.add_argument("--out_dir", help="folder for calibration.json and reliability.png (default: the model's)")
    exp = add("export", cmd_export, [data_opts])
    exp.add_argument("--model", help="a run folder or a .keras/.h5 file")
    exp.add_argument("--out", help="the .onnx file to write")
    exp.add_argument("--int8", action="store_true", help="static int8 quantization (kept only if it agrees)")
    from fera import explain, report
    from fera.runtime import app

    app.add_arguments(add("assist", app.cmd_assist))
    explain.add_arguments(add("explain", explain.cmd_explain))
    report.add_arguments(add("report", report.cmd_report))
    from fera.web import server

    server.add_arguments(add("serve", server.cmd_serve))
    models = add("models", cmd_models)
    models.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _quiet_backends() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")  # the fastest Keras backend on CPUs
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("absl").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    _quiet_backends()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Interrupted as e:
        _err(f"fera: {e}")
        return 130
    except FeraError as e:
        _err(f"fera: error: {e}")
        return 2
    except ImportError as e:  # a package of an extra that is not installed (Keras, its backend ...)
        _err(f"fera: error: {missing_package(e)}")
        return 2
    except KeyboardInterrupt:
        _err("fera: interrupted")
        return 130
    except MemoryError:
        _err("fera: error: out of memory; try a smaller --batch_size or --img_size")
        return 2

if __name__ == "__main__":
    sys.exit(main())
