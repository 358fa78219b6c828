"""Evaluation: predictions -> accuracy, loss, macro-F1, per-class report, confusion matrix."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fera.errors import FeraError
from fera.fileio import write_json
from fera.inference import BATCH_SIZE, Predictor, calibrate
from fera.training.config import DataConfig
from fera.training.data import Dataset, Split, load_eval_data
from fera.training.modelio import load_predictor


def score(probs: np.ndarray, y: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, cross-entropy, macro-F1, per-class precision/recall/F1/support and confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    k = len(class_names)
    pred = probs.argmax(axis=1)
    labels = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    present = s > 0  # macro-F1 over the classes that occur in this split
    eps = 1e-7
    return {
        "accuracy": float((pred == y).mean()),
        "loss": float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], eps, 1.0)))),
        "macro_f1": float(f[present].mean()) if present.any() else 0.0,
        "num_images": int(len(y)),
        "per_class": {name: {"precision": float(p[i]), "recall": float(r[i]), "f1-score": float(f[i]),
                             "support": int(s[i])} for i, name in enumerate(class_names)},
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
    }


def write_artifacts(out_dir: Path, result: dict, class_names: list[str], split: str, source: str) -> None:
    """classification_report.json and confusion_matrix.png, both saying which split they describe."""
    from fera.training.plots import plot_confusion

    report = {"split": split, "source": source, **result["per_class"],
              "accuracy": result["accuracy"], "macro avg": _macro(result["per_class"])}
    write_json(out_dir / "classification_report.json", report)
    plot_confusion(np.array(result["confusion_matrix"]), class_names, out_dir / "confusion_matrix.png",
                   f"Confusion matrix on {split} ({result['num_images']} images, "
                   f"accuracy {result['accuracy']:.1%})")


def _macro(per_class: dict) -> dict:
    rows = [v for v in per_class.values() if v["support"] > 0]
    return {m: float(np.mean([v[m] for v in rows])) if rows else 0.0 for m in ("precision", "recall", "f1-score")} | {
        "support": int(sum(v["support"] for v in rows))}


def align_labels(data_classes: list[str], model_classes: list[str], y: np.ndarray) -> np.ndarray:
    """Re-index labels from the data's class order to the model's, by name; unknown classes are an error."""
    unknown = [c for c in data_classes if c not in model_classes]
    if unknown:
        raise FeraError(f"label map mismatch: the data has class(es) {', '.join(unknown)} that the model does "
                        f"not know (model classes: {', '.join(model_classes)})")
    index = np.array([model_classes.index(c) for c in data_classes], dtype=np.int64)
    return index[y]


def run_data_root(model_path: Path) -> str | None:
    """The data_root recorded in the run folder that holds ``model_path`` (its config.json), if any."""
    cfg = Path(model_path).parent / "config.json"
    if cfg.is_file():
        import json

        return json.loads(cfg.read_text()).get("data", {}).get("data_root") or None
    return None


def held_out(meta: dict, data_root: str | None, prefer=("test", "val"), log=print):
    """(uint8 images, labels in the model's class order, dataset, split) of a held-out set."""
    if not data_root:
        raise FeraError("--data_root is required (the model is not in a run folder that names its data)")
    cfg = DataConfig(data_root=data_root, img_size=tuple(meta["input_size"]),
                     contempt="contempt" in meta["class_names"])  # FER+ data: the model's 7 or 8 classes
    ds, split = load_eval_data(cfg, log, prefer)
    part: Split = ds.splits[split]
    return part.x, align_labels(ds.class_names, meta["class_names"], part.y), ds, split


@dataclass
class Evaluation:
    """What evaluating a model on held-out data gives, computed once: the report and the CLI reuse it."""

    predictor: Predictor
    described: str  # which model, as the CLI and the report name it
    meta: dict
    x: np.ndarray  # uint8 faces (N, H, W)
    y: np.ndarray  # labels in the model's class order
    dataset: Dataset
    split: str
    raw: np.ndarray  # the network's own probabilities (uncalibrated)
    probs: np.ndarray  # calibrated with the model's temperature
    result: dict  # score(probs, y, ...): accuracy, loss, macro-F1, per class, confusion matrix
    metrics: dict | None = None  # metrics.json, once written


def evaluation(model_ref: str, data_root: str | None, prefer=("test", "val"), batch_size: int = BATCH_SIZE,
               log=print) -> Evaluation:
    """Load the model and the held-out data once, predict once (raw and calibrated), score."""
    predictor, described = load_predictor(model_ref, batch_size)
    meta = predictor.meta
    x, y, ds, split = held_out(meta, data_root, prefer, log=log)
    log(f"evaluating {described} on {split} of {ds.source}: {len(y)} images"
        + (f", {len(ds.skipped)} file(s) skipped" if ds.skipped else ""))
    raw = predictor.predict_uint8(x, calibrated=False)
    probs = calibrate(raw, predictor.temperature)
    return Evaluation(predictor, described, meta, x, y, ds, split, raw, probs, score(probs, y, meta["class_names"]))


def evaluate_model(model_ref: str, data_root: str, out_dir: str, batch_size: int = BATCH_SIZE,
                   log=print) -> Evaluation:
    """`fera evaluate`: score a model on held-out data and write metrics.json and the artifacts (the returned
    ``Evaluation`` holds them in ``metrics``).

    Probabilities are calibrated with the model's temperature (accuracy does not depend on it)."""
    ev = evaluation(model_ref, data_root, batch_size=batch_size, log=log)
    class_names, result, ds = ev.meta["class_names"], ev.result, ev.dataset
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_artifacts(out, result, class_names, ev.split, ds.source)
    ev.metrics = {"model": ev.described, "model_ref": str(model_ref), "data": ds.source, "data_root": str(data_root),
                  "split": ev.split, "temperature": ev.meta.get("temperature", 1.0),
                  **{k: v for k, v in result.items() if k != "confusion_matrix"},
                  "confusion_matrix": result["confusion_matrix"], "class_names": class_names,
                  "skipped_files": _skipped_summary(ds)}
    write_json(out / "metrics.json", ev.metrics)
    return ev


def _skipped_summary(ds: Dataset, n: int = 10) -> dict:
    return {"count": len(ds.skipped), "examples": [f"{p}: {why}" for p, why in ds.skipped[:n]]}
