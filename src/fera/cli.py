"""fera, the Facial Emotion Recognition Assistant. `fera assist` tells a blind or low-vision person, offline, by
voice, short sounds or screen-reader text, the facial expressions of the people in front of a camera, in a video
or in photos. The other commands serve it as a local web page, explain it, and get the data, train, evaluate,
calibrate and export the models behind it. Run `fera COMMAND -h` for a command's options and examples."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import fields

from fera.argtypes import COUNT, Formatter, Parser, add_command, add_option, bind_default, examples_text
from fera.training.config import AugmentConfig, DataConfig, ModelConfig, RunConfig, TrainConfig
from fera.errors import FeraError, Interrupted, missing_package
from fera.options import data_options, train_arguments


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
    from fera.training.data import class_weights, load_dataset

    cfg = _data_config(args)
    ds = load_dataset(cfg, log=_err)
    from fera.training.augment import Batches

    tr = ds.splits["train"]
    weights = class_weights(tr.y, ds.num_classes, tr.soft)  # from the votes on FER+ data
    t0 = time.perf_counter()
    xb, yb, _ = Batches(tr.x, tr.y, ds.num_classes, cfg.batch_size, seed=cfg.seed, shuffle=True,
                        augment_cfg=AugmentConfig(), class_weight=weights, targets=tr.soft, labels=ds.labels)[0]
    batch_ms = (time.perf_counter() - t0) * 1000
    report = {
        "data_root": ds.source, "classes": ds.class_names, "counts": ds.counts(),
        "val_from_train": ds.val_from_train, "labels": ds.labels, "left_out_by_label_rules": ds.dropped,
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
    if ds.dropped:
        print(f"FER+ votes: training targets by {ds.labels}, val and test by majority; left out by the rules: "
              + ", ".join(f"{k} {n}" for k, n in ds.dropped.items()) + "; weights from the votes")
    if ds.val_from_train:
        print(f"val: no val/ folder, so {cfg.val_split:.0%} of train/ was held out (stratified, seed {cfg.seed})")
    print(f"skipped files: {len(ds.skipped)}" + "".join(f"\n  {p}: {r}" for p, r in ds.skipped[:5])
          + (f"\n  ... and {len(ds.skipped) - 5} more" if len(ds.skipped) > 5 else ""))
    print(f"one training batch: x {tuple(xb.shape)} {xb.dtype} in [{xb.min():.3f}, {xb.max():.3f}], "
          f"y {tuple(yb.shape)} {'one-hot' if tr.soft is None else ds.labels + ' targets'}, made in {batch_ms:.0f} ms")
    return 0


def cmd_train(args) -> int:
    """Train a model (the design's VGG-13 by default) and write every artifact to --out_dir."""
    from fera.fileio import read_json
    from fera.training.train import train

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
        for name in ("coordinator", "num_processes", "process_id"):  # where this launch's processes meet
            if getattr(args, name) is not None:
                setattr(cfg.train, name, getattr(args, name))
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
    from fera.training.evaluate import evaluate_model

    if not args.model or not args.data_root or not args.out_dir:
        raise FeraError("fera evaluate needs --model, --data_root and --out_dir")
    ev = evaluate_model(args.model, args.data_root, args.out_dir, batch_size=args.batch_size, log=_err)
    m = ev.metrics
    if args.report:  # from the same evaluation: the data are loaded and predicted once
        from fera.training.report import source_of, write_report

        m["report"] = write_report(source_of(args.out_dir), os.path.join(args.out_dir, "report.html"), log=_err,
                                   evaluation=ev)["html"]
    if args.json:
        print(json.dumps({k: m[k] for k in ("split", "accuracy", "loss", "macro_f1", "num_images", "report") if k in m}))
    else:
        print(f"{m['split']}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, "
              f"loss {m['loss']:.4f} on {m['num_images']} images; written to {args.out_dir}")
    return 0


def cmd_calibrate(args) -> int:
    """Fit a calibration temperature on val and store it in the model; report ECE before and after."""
    from fera.training.calibrate import calibrate_model

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
    from fera.training.export import export_model

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
    """(name, first line of its docstring) of every ``@register_model`` function in ``fera.training.models``,
    read from the source: importing the registry imports Keras, and listing models must not need it."""
    import ast
    from pathlib import Path

    found = []
    for path in sorted((Path(__file__).parent / "training" / "models").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any(getattr(d, "id", None) == "register_model"
                                                         for d in node.decorator_list):
                found.append((node.name, ((ast.get_docstring(node) or "").strip().splitlines() or [""])[0]))
    return sorted(found)


def _data_arguments(p) -> None:
    from fera.datasets import command as data_commands

    data_options(p)
    data_commands.add_subcommands(p)  # fera data get|convert|verify


def _evaluate_arguments(p) -> None:
    p.add_argument("--model", help="a shipped model name (see `fera models`), an .onnx, .keras or .h5 file, "
                   "or a run folder")
    p.add_argument("--data_root", help="a folder of class folders, a FER-style root (its test/, else val/) or a CSV")
    p.add_argument("--out_dir", help="folder for metrics.json, the report and the confusion matrix")
    add_option(p, "--batch_size", type=COUNT, default=256, help="images per prediction batch (default {default})")
    p.add_argument("--report", action="store_true", help="also write report.html there (see `fera report`)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _calibrate_arguments(p) -> None:
    p.add_argument("--model", help="a run folder or a .keras/.h5 file (its temperature is updated)")
    p.add_argument("--data_root", help="the data whose val/ (or held-out share of train/) the temperature is "
                   "fitted on (default: the run's)")
    p.add_argument("--out_dir", help="folder for calibration.json and reliability.png (default: the model's)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _export_arguments(p) -> None:
    p.add_argument("--model", help="a run folder or a .keras/.h5 file")
    p.add_argument("--out", help="the .onnx file to write")
    p.add_argument("--int8", action="store_true", help="static int8 quantization (kept only if it agrees)")
    p.add_argument("--data_root", help="the data whose val images check the export (default: the run's)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _models_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def _assist_arguments(p) -> None:
    from fera.runtime import app
    from fera.runtime.announce import AnnounceConfig

    app.add_arguments(p)
    bind_default(p, "not_sure_below", AnnounceConfig, "maybe_min")
    bind_default(p, "detector")  # "(default; small and far faces too)" -> "(default full; ...)"


def _assist_keys() -> str:
    from fera.runtime.keys import KEYS

    return "keys while a camera or video runs in a terminal (no Enter needed):\n" + "\n".join(
        f"  {'space' if k == ' ' else k:<6} {what}" for k, what in KEYS.items())


def build_parser() -> argparse.ArgumentParser:
    from fera import __version__
    from fera.analyze import command as analyze
    from fera.training import explain, report
    from fera.runtime import app
    from fera.web import server, site

    parser = Parser(prog="fera", description=__doc__, formatter_class=Formatter, epilog=examples_text([
        ("fera assist --source 0", "describe the faces in front of camera 0"),
        ("fera assist --source photos/", "one sentence per photo"),
        ("fera serve", "the same in a web page on this computer"), ("fera assist -h", "its options and keys")]))
    parser.add_argument("--version", action="version", version=f"fera {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_command(sub, "assist", app.cmd_assist, _assist_arguments, epilog=_assist_keys(), examples=[
        ("fera assist --source src/fera/assets/samples", "photos: one sentence per photo"),
        ("fera assist --source 0", "camera 0, live; the keys above"),
        ("fera assist --source clip.mp4 --json --speech off", "a video; one JSON object per decision"),
        ("ls photos/*.jpg | fera assist --source -", "image paths on stdin"),
        ("fera assist --source 0 --speech earcons --verbosity 1", "short sounds, terse words")])
    add_command(sub, "analyze", analyze.cmd_analyze, analyze.add_arguments, examples=[
        ("fera analyze photos/ clips/ --out faces.parquet", "one row per face per frame"),
        ("fera analyze clip.mp4 --every 5 --out clip.csv", "every 5th frame, as CSV"),
        ("fera analyze photos/ --out faces.parquet --resume", "after a stop: only what is not done yet"),
        ("find . -name '*.mp4' | fera analyze - --out faces.parquet --workers 2", "paths on stdin, 2 processes"),
        ("fera analyze /data/clips --out /data/faces.parquet --cluster tcp://scheduler:8786", "a Dask cluster")])
    add_command(sub, "serve", server.cmd_serve, server.add_arguments, examples=[
        ("fera serve", "then open http://127.0.0.1:8000/ on this computer"),
        ("fera serve --port 8080 --model fast", "another port; the fast model for photos too")])
    add_command(sub, "web", site.cmd_web, site.add_arguments, examples=[
        ("fera web build site/", "the page as a static site: any static host serves it"),
        ("fera web build site/ --model vgg13 --no_webgpu", "another model; WebAssembly only")])
    add_command(sub, "explain", explain.cmd_explain, explain.add_arguments, examples=[
        "fera explain --model fast --image src/fera/assets/samples/astronaut.png --out astronaut_gradcam.png",
        ("fera explain --model fast --image face.png --whole --class happy", "why (not) happy, for a face crop")])
    add_command(sub, "models", cmd_models, _models_arguments, examples=[
        ("fera models", "what ships: size, val accuracy, latency"), ("fera models --json", "one JSON object a line")])
    add_command(sub, "data", cmd_data, _data_arguments, examples=[
        ("fera data get --to data/fer2013", "download FER-2013 (see `fera data get -h`)"),
        ("fera data --data_root data/fer2013", "counts, class weights, skipped files, one batch"),
        ("fera data --data_root fer2013.csv --json", "the same for the CSV, as JSON")])
    add_command(sub, "train", cmd_train, train_arguments, examples=[
        "fera train --data_root data/fer2013 --out_dir runs/vgg13_fer",
        ("fera train --data_root data/fer2013 --model fast --epochs 3 --out_dir runs/try", "a quick try"),
        ("fera train --out_dir runs/vgg13_fer --resume", "after Ctrl-C: continue the same schedule")])
    add_command(sub, "evaluate", cmd_evaluate, _evaluate_arguments, examples=[
        ("fera evaluate --model runs/vgg13_fer --data_root data/fer2013 --out_dir runs/vgg13_fer/eval", "its test/"),
        ("fera evaluate --model fast --data_root data/fer2013/val --out_dir runs/eval_fast --report",
         "a shipped model, with report.html")])
    add_command(sub, "calibrate", cmd_calibrate, _calibrate_arguments, examples=[
        ("fera calibrate --model runs/vgg13_fer", "fit on the run's val data, store in the model"),
        "fera calibrate --model runs/vgg13_fer/best_model.keras --data_root data/fer2013 --out_dir runs/cal"])
    add_command(sub, "export", cmd_export, _export_arguments, examples=[
        ("fera export --model runs/vgg13_fer --out model.onnx", "fp32, kept if ONNX Runtime agrees"),
        ("fera export --model runs/vgg13_fer --out model.int8.onnx --int8", "static int8")])
    add_command(sub, "report", report.cmd_report, report.add_arguments, examples=[
        ("fera report runs/vgg13_fer", "runs/vgg13_fer/report.html: one self-contained page"),
        ("fera report runs/vgg13_fer/eval --out eval.html --pdf", "an evaluation, also as PDF")])
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
    from fera.errors import CtrlC

    ctrl_c = CtrlC.install()  # a Ctrl-C that library code swallowed still ends the command (exit code 130)
    try:
        code = args.func(args)
        ctrl_c.check()
        return code
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
        _err("fera: error: out of memory; try a smaller --batch_size (or --img_size when training)")
        return 2
    finally:
        ctrl_c.restore()

if __name__ == "__main__":
    sys.exit(main())
