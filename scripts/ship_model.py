"""Turn a finished training run into a shipped model: calibrate, export, check, measure, record.

    python scripts/ship_model.py NAME RUN_DIR --data_root ../shared/datasets/ferplus --label_set FER+ \
        --also FER-2013=../shared/datasets/fer2013/val --resize area \
        --command "fera train ..." --commit GIT_COMMIT [--description TEXT]

Writes to src/fera/assets/models/: NAME.onnx (fp32), NAME.int8.onnx (when it loses at most 0.5 points of val
accuracy against fp32), NAME.weights.npz (Keras weights for Grad-CAM) and NAME.json (the card's numbers: on
--data_root's val, which chose the epoch and the temperature, and on every --also set), and to docs/models/: a
confusion matrix per set and NAME_reliability.png. Then run scripts/write_model_card.py to regenerate
MODEL_CARD.md from the JSON files.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from fera import shipped  # noqa: E402
from fera.training.calibrate import calibrate_model, reliability  # noqa: E402
from fera.training.evaluate import held_out, score  # noqa: E402
from fera.training.export import Int8Refused, export_model  # noqa: E402
from fera.fileio import write_json  # noqa: E402
from fera.inference import OnnxModel, calibrate  # noqa: E402
from fera.images import to_model_input  # noqa: E402
from fera.images import RESIZE  # noqa: E402
from fera.training.modelio import load_keras, load_model, save_keras_weights, save_model  # noqa: E402
from fera.training.plots import plot_confusion  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "models"


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores"


def latency(model: OnnxModel, x: np.ndarray, batch: int, runs: int = 300) -> dict:
    """Per-face milliseconds (p50/p95) for ``runs`` calls at ``batch`` faces, after a warm-up."""
    t = model.per_face_ms(x[:batch], runs)
    return {"p50": round(float(np.percentile(t, 50)), 3), "p95": round(float(np.percentile(t, 95)), 3),
            "batch": batch, "threads": 2}


def without_train_copies(data_root: str, n_val: int) -> np.ndarray | None:
    """Mask of val images with no exact copy in train (the dataset's duplicates.csv), in load order."""
    import csv
    from collections import defaultdict

    from fera.datasets.layout import class_files

    root = Path(data_root)
    dup = root / "duplicates.csv"
    if not dup.is_file():
        return None
    groups = defaultdict(list)
    for r in csv.DictReader(open(dup)):
        groups[r["group"]].append(r["path"])
    copied = {p for g in groups.values() if any(q.startswith("train/") for q in g) for p in g if p.startswith("val/")}
    files = [f"val/{c}/{f.name}" for c, fs in class_files(root / "val").items() for f in fs]
    return np.array([f not in copied for f in files]) if len(files) == n_val else None


def evaluate(onnx: OnnxModel, q: OnnxModel | None, meta: dict, data_root: str, label_set: str, name: str) -> dict:
    """The shipped file's numbers on one val set (its majority labels for FER+): calibrated accuracy, flip TTA,
    macro-F1, per-class figures, ECE after calibration, int8 accuracy; its confusion matrix in docs/models/."""
    x, y, ds, split = held_out(meta, data_root, prefer=("val",))
    raw = onnx.predict_uint8(x, calibrated=False)
    probs, flip = calibrate(raw, onnx.temperature), onnx.predict_uint8(x, flip=True)
    plain, tta = score(probs, y, meta["class_names"]), score(flip, y, meta["class_names"])
    root = Path(data_root)
    keep = without_train_copies(str(root.parent if root.name == "val" else root), len(y))
    slug = "".join(ch if ch.isalnum() else "_" for ch in label_set.lower().replace("+", "plus")).strip("_")
    plot_confusion(np.array(plain["confusion_matrix"]), meta["class_names"], DOCS / f"{name}_{slug}_confusion.png",
                   f"{name} on {label_set} {split} ({len(y)} images, accuracy {plain['accuracy']:.1%})")
    from fera.datasets.ferplus import is_ferplus_root, is_split_folder

    where = ("FER2013Valid, majority labels" if is_ferplus_root(root) or is_split_folder(root)
             else f"{Path(ds.source).name}/ (FER-2013 PublicTest)")
    return {"split": where, "images": len(y), "accuracy": plain["accuracy"],
            "accuracy_flip_tta": tta["accuracy"], "macro_f1": plain["macro_f1"], "macro_f1_flip_tta": tta["macro_f1"],
            "nll_calibrated": plain["loss"], "ece": reliability(probs, y)["ece"], "ece_flip_tta": reliability(flip, y)["ece"],
            "per_class": plain["per_class"], "confusion_matrix": plain["confusion_matrix"],
            "confusion_png": f"docs/models/{name}_{slug}_confusion.png",
            "int8_accuracy": None if q is None else float((q.predict_uint8(x).argmax(1) == y).mean()),
            "without_train_duplicates": None if keep is None else {
                "images": int(keep.sum()), "accuracy": float((raw.argmax(1)[keep] == y[keep]).mean())},
            "_x": x}


def ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("run_dir")
    ap.add_argument("--data_root", required=True)
    ap.add_argument("--command", required=True, help="the exact training command of the run")
    ap.add_argument("--commit", required=True, help="the git commit the run was trained with (40 hex digits)")
    ap.add_argument("--description", default="")
    ap.add_argument("--hardware", default=None, help="what the run was trained on (default: this machine)")
    ap.add_argument("--resize", default=None, choices=sorted(RESIZE),
                    help="set the model's preprocessing resize (how the assistant shrinks a face crop) before "
                    "export, for a run whose training data needed no resize")
    ap.add_argument("--label_set", default="FER-2013", help="the name of --data_root's labels, for the card "
                    "(FER-2013, FER+)")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=DATA",
                    help="evaluate on another val set too, e.g. FER-2013=../shared/datasets/fer2013/val")
    a = ap.parse_args()
    if len(a.commit) != 40:
        ap.error("--commit must be a full 40-digit commit hash")
    run = Path(a.run_dir)
    out = shipped.MODELS_DIR
    out.mkdir(parents=True, exist_ok=True)
    DOCS.mkdir(parents=True, exist_ok=True)

    if a.resize:
        model, meta = load_model(run)
        meta = {**meta, "preprocessing": {**meta["preprocessing"], "resize": a.resize}}
        for f in ("best_model.keras", "best_model.h5"):
            if (run / f).is_file():
                save_model(model, run / f, meta)
    cal = calibrate_model(str(run), a.data_root)  # temperature into the run's model files
    exp32 = export_model(str(run), str(out / f"{a.name}.onnx"), data_root=a.data_root)
    files = [f"{a.name}.onnx"]
    try:
        exp8 = export_model(str(run), str(out / f"{a.name}.int8.onnx"), int8=True, data_root=a.data_root)
        files.append(f"{a.name}.int8.onnx")
    except Int8Refused as e:
        exp8 = {"refused": str(e), "checks": e.checks}
        (out / f"{a.name}.int8.onnx").unlink(missing_ok=True)
    model, meta = load_model(run)
    save_keras_weights(model, meta, out / f"{a.name}.weights.npz")
    files.append(f"{a.name}.weights.npz")

    onnx = OnnxModel.load(out / f"{a.name}.onnx", threads=2)
    q = OnnxModel.load(out / f"{a.name}.int8.onnx", threads=2) if f"{a.name}.int8.onnx" in files else None
    sets = {a.label_set: a.data_root} | dict(e.split("=", 1) for e in a.also)
    evaluations = {name: evaluate(onnx, q, meta, root, name, a.name) for name, root in sets.items()}
    primary = evaluations[a.label_set]
    shutil.copyfile(run / "reliability.png", DOCS / f"{a.name}_reliability.png")
    keras_w, _ = load_keras(a.name)  # the fp16-stored weights still give the same answers
    xs = to_model_input(primary.pop("_x"), meta)
    for e in evaluations.values():
        e.pop("_x", None)
    agree_w = float((np.asarray(keras_w.predict(xs, verbose=0)).argmax(1) ==
                     onnx.predict_array(xs, calibrated=False).argmax(1)).mean())

    lat = {"fp32_b1": latency(onnx, xs, 1), "fp32_b8": latency(onnx, xs, 8)}
    if q is not None:
        lat |= {"int8_b1": latency(q, xs, 1), "int8_b8": latency(q, xs, 8)}
    metrics = json.loads((run / "metrics.json").read_text())
    cfg = json.loads((run / "config.json").read_text())
    counts = metrics["dataset"]["counts"]
    card = {
        "name": a.name,
        "description": a.description or (meta["model"] + f" trained on {a.label_set}"),
        "architecture": meta["model"],
        "parameters": int(model.count_params()),
        "files": files,
        "class_names": meta["class_names"],
        "input_size": meta["input_size"],
        "preprocessing": meta["preprocessing"],
        "temperature": cal["temperature"],
        "training": {
            "command": a.command, "commit": a.commit, "backend": cfg.get("backend"),
            "precision": cfg["train"]["precision"], "epochs_run": metrics["epochs_run"],
            "best_epoch": metrics["best_epoch"], "wall_seconds": metrics["wall_seconds"]["training"],
            "hardware": a.hardware or cpu_name(),
            "versions": metrics["versions"], "hyperparameters": metrics["hyperparameters"],
            "config": cfg,
        },
        "data": {"name": a.label_set, "labels": cfg["data"].get("labels", "majority"),
                 "licence": "research / non-commercial use only (FER-2013's images); no image ships",
                 "train": counts.get("train"), "val": counts.get("val"),
                 "left_out_by_label_rules": metrics["dataset"].get("left_out_by_label_rules", {}),
                 "selection": f"best epoch by {a.label_set} val accuracy; calibration temperature fitted on it"},
        "val": primary,  # the model's own label set: what `fera models` and the assistant's choice read
        "evaluations": evaluations,
        "calibration": {"temperature": cal["temperature"], "ece_before": cal["ece_before"],
                        "ece_after": cal["ece_after"], "nll_before": cal["nll_before"], "nll_after": cal["nll_after"],
                        "ece_after_flip_tta": primary["ece_flip_tta"], "bins": 15, "fitted_on": a.label_set},
        "export": {"fp32": exp32["fp32"], "int8": exp8.get("int8", exp8),
                   "int8_val_accuracy": primary["int8_accuracy"],
                   "keras_weights_fp16_argmax_agreement": agree_w},
        "latency_ms": lat,
        "latency_hardware": f"{cpu_name()}, ONNX Runtime {ort_version()}, 2 threads",
        "sizes_mib": {f: round((out / f).stat().st_size / 2**20, 2) for f in files},
    }
    write_json(out / f"{a.name}.json", card)
    print(json.dumps({k: card[k] for k in ("name", "sizes_mib", "latency_ms")} | {"evaluations": {
        n: {k: e[k] for k in ("accuracy", "accuracy_flip_tta", "macro_f1", "ece", "int8_accuracy")}
        for n, e in evaluations.items()}, "calibration": {
        k: card["calibration"][k] for k in ("temperature", "ece_before", "ece_after")}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
