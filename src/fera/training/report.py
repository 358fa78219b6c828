"""`fera report`: one self-contained HTML page documenting a training run or an evaluation.

``gather`` computes everything from an evaluation of the model on the held-out data (numbers, figures,
face thumbnails, Grad-CAM overlays); ``fera.training.report_html.render`` turns it into a page a screen reader
can navigate (headings, alt text on every image, tables as tables). Nothing is sent anywhere.
"""
from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fera.errors import FeraError


@dataclass
class ReportConfig:
    mistakes: int = 12  # the most confident mistakes shown (thumbnails)
    gradcam_per_class: int = 2  # Grad-CAM overlays per class, on its most confidently right faces
    thumb: int = 96  # thumbnail side, pixels


def _png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _figure(plot, *args) -> bytes:
    """A ``fera.training.plots`` figure as PNG bytes: ``plot(*args[:-1], path, title=args[-1])`` writes a file."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "figure.png"
        plot(*args[:-1], path, args[-1])
        return path.read_bytes()


def read_history(run_dir: Path) -> list[dict]:
    """Per-epoch numbers from a run's history.csv (empty when there is none)."""
    path = run_dir / "history.csv"
    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]


def source_of(path: str) -> dict:
    """What a report describes: a run folder (its model, data and settings) or an evaluation folder."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise FeraError(f"not a folder: {path} (give a training run folder or a `fera evaluate` --out_dir)")
    metrics = json.loads((p / "metrics.json").read_text()) if (p / "metrics.json").is_file() else {}
    if (p / "best_model.keras").is_file() or (p / "best_model.h5").is_file():
        config = json.loads((p / "config.json").read_text()) if (p / "config.json").is_file() else {}
        return {"kind": "run", "name": p.name, "model_ref": str(p), "dir": p, "metrics": metrics, "config": config,
                "data_root": config.get("data", {}).get("data_root"), "prefer": ("val", "test")}
    if "model_ref" in metrics:
        return {"kind": "evaluation", "name": p.name, "model_ref": metrics["model_ref"], "dir": p, "metrics": metrics,
                "config": {}, "data_root": metrics.get("data_root"), "prefer": (metrics.get("split", "test"),)}
    raise FeraError(f"{path} holds neither a trained model (best_model.keras/.h5) nor a `fera evaluate` "
                    "metrics.json that names its model")


def gather(src: dict, data_root: str | None = None, config: ReportConfig | None = None, log=print,
           evaluation=None) -> dict:
    """Everything the page shows, from an ``fera.training.evaluate.Evaluation`` of the model on the held-out data
    (made here, once, when none is given)."""
    from fera.training.calibrate import reliability
    from fera.training.evaluate import evaluation as evaluate
    from fera.training.plots import plot_confusion, plot_curve, plot_reliability

    c = config or ReportConfig()
    ev = evaluation or evaluate(src["model_ref"], data_root or src["data_root"], prefer=src["prefer"], log=log)
    meta, names, x, y, split, probs = ev.meta, ev.meta["class_names"], ev.x, ev.y, ev.split, ev.probs
    result = ev.result
    t = float(meta.get("temperature", 1.0))
    before, after = reliability(ev.raw, y), reliability(probs, y)  # the network's own, and calibrated
    cal = {"temperature": t, "ece_before": before["ece"], "ece_after": after["ece"], "bins_before": before["bins"],
           "bins_after": after["bins"]}
    cm = np.array(result["confusion_matrix"])
    history = read_history(src["dir"]) if src["kind"] == "run" else []
    title = f"{split} ({len(y)} images)"
    figures = {"confusion": _figure(plot_confusion, cm, names, f"Confusion matrix on {title}"),
               "reliability": _figure(plot_reliability, cal, f"Calibration on {title}")}
    for metric in ("accuracy", "loss"):
        if history:
            figures[metric] = _figure(plot_curve, history, metric, f"{metric} per epoch")
    return {"source": src, "described": ev.described, "meta": meta, "split": split, "data": ev.dataset.source,
            "counts": _counts(src, y, names, split), "result": result, "calibration": cal, "history": history,
            "figures": figures, "mistakes": _mistakes(x, y, probs, names, c),
            "gradcam": _gradcam(src["model_ref"], ev, c, log), "config": c}


def _counts(src: dict, y: np.ndarray, names: list[str], split: str) -> dict:
    counts = dict(src["metrics"].get("dataset", {}).get("counts", {}))
    counts[split] = {n: int((y == i).sum()) for i, n in enumerate(names)}
    return counts


def _thumb(face: np.ndarray, side: int):
    from PIL import Image

    return Image.fromarray(face).resize((side, side), Image.Resampling.NEAREST)


def _distinct(order, x, n: int) -> list[int]:
    """The first ``n`` of ``order`` whose images differ (FER-2013 repeats some faces exactly)."""
    seen, out = set(), []
    for i in order:
        key = x[i].tobytes()
        if key not in seen:
            seen.add(key)
            out.append(int(i))
            if len(out) == n:
                break
    return out


def _mistakes(x, y, probs, names, c: ReportConfig) -> list[dict]:
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    order = _distinct(wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")], x, c.mistakes)
    return [{"png": _png(_thumb(x[i], c.thumb)), "true": names[y[i]], "predicted": names[pred[i]],
             "confidence": float(probs[i, pred[i]]), "index": int(i)} for i in order]


def _gradcam(model_ref: str, ev, c: ReportConfig, log) -> dict:
    """Overlays for the most confidently right faces of each class (needs the Keras model: the evaluated one
    when it ran under Keras)."""
    from fera.training.explain import explain_faces, heat_words, overlay
    from fera.training.modelio import KerasPredictor, load_keras

    if str(model_ref).endswith(".onnx"):
        return {"skipped": "Grad-CAM needs the Keras model; this report was made from an .onnx file"}
    x, y, probs, names = ev.x, ev.y, ev.probs, ev.meta["class_names"]
    pred = probs.argmax(axis=1)
    chosen = []
    for k in range(len(names)):
        right = np.flatnonzero((y == k) & (pred == k))
        chosen += _distinct(right[np.argsort(-probs[right, k], kind="stable")], x, c.gradcam_per_class)
    if not chosen:
        return {"skipped": "no face was classified correctly"}
    p = ev.predictor
    model, meta = (p.model, p.meta) if isinstance(p, KerasPredictor) else load_keras(model_ref)
    cams, cprobs, idx = explain_faces(model, meta, [x[i] for i in chosen])
    log(f"report: Grad-CAM on {len(chosen)} faces")
    items = []
    for i, cam, p, k in zip(chosen, cams, cprobs, idx):
        label = names[int(k)]
        items.append({"png": _png(overlay(x[i], cam, f"{label} {p[k]:.0%}", size=c.thumb * 2)), "label": label,
                      "confidence": float(p[k]), "heat": heat_words(cam), "index": int(i)})
    return {"items": items}


def write_report(src: dict, out: str | Path, data_root: str | None = None, pdf: bool = False,
                 config: ReportConfig | None = None, log=print, evaluation=None) -> dict:
    """Gather, render and write the page atomically; ``pdf`` also prints it to PDF with Chromium.
    ``evaluation``: the ``Evaluation`` already made of this model and data (it is not made again)."""
    from fera.fileio import write_text
    from fera.training.report_html import render

    ctx = gather(src, data_root, config, log, evaluation)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, render(ctx))
    written = {"html": str(out)}
    if pdf:
        written["pdf"] = str(to_pdf(out))
    r = ctx["result"]
    return {**written, "split": ctx["split"], "num_images": r["num_images"], "accuracy": r["accuracy"],
            "macro_f1": r["macro_f1"], "ece": ctx["calibration"]["ece_after"]}


def to_pdf(html: Path) -> Path:
    """Print the page to PDF with a headless Chromium (the Debian package), when one is installed."""
    import shutil
    import subprocess

    exe = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if exe is None:
        raise FeraError(f"no PDF converter: install Chromium (apt-get install chromium); the HTML report is {html}")
    from fera.fileio import atomic_path

    pdf = html.with_suffix(".pdf")
    with atomic_path(pdf) as tmp:  # Chromium writes it; it replaces pdf only when printed in full
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--print-to-pdf={tmp}", html.resolve().as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            raise FeraError(f"Chromium could not print {html} to PDF: "
                            f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return pdf
