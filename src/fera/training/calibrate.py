"""Calibration: temperature scaling fitted on val, expected calibration error, reliability diagram.

The assistant says "not sure" from calibrated probabilities, so a stated 70% should be right about
70% of the time. One scalar T (Guo et al. 2017) rescales the log-probabilities; argmax is unchanged.
"""
from __future__ import annotations

import math

import numpy as np

from fera.inference import calibrate

BINS = 15  # equal-width confidence bins for ECE and the diagram


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))


def fit_temperature(probs: np.ndarray, y: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The T > 0 minimising the negative log-likelihood of ``calibrate(probs, T)`` (golden-section on log T)."""
    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2

    def f(log_t: float) -> float:
        return nll(calibrate(probs, math.exp(log_t)), y)

    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(60):  # the NLL is convex in 1/T, so unimodal in log T
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return float(math.exp((a + b) / 2))


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = BINS) -> dict:
    """Per confidence bin: count, mean confidence and accuracy; and the expected calibration error."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    correct = (pred == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        n = int(m.sum())
        c, a = (float(conf[m].mean()), float(correct[m].mean())) if n else (None, None)
        if n:
            ece += n / len(y) * abs(a - c)
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": n, "confidence": c,
                     "accuracy": a})
    return {"ece": float(ece), "bins": rows}


def calibration_report(probs: np.ndarray, y: np.ndarray) -> dict:
    """Fit T on (probs, y) and report NLL and ECE before and after, with the reliability bins of both."""
    t = fit_temperature(probs, y)
    after = calibrate(probs, t)
    before_r, after_r = reliability(probs, y), reliability(after, y)
    return {"temperature": t, "num_images": int(len(y)),
            "nll_before": nll(probs, y), "nll_after": nll(after, y),
            "ece_before": before_r["ece"], "ece_after": after_r["ece"],
            "bins_before": before_r["bins"], "bins_after": after_r["bins"]}


def calibrate_model(model_ref: str, data_root: str | None = None, out_dir: str | None = None, log=print) -> dict:
    """`fera calibrate`: fit the temperature on val, store it in the model file(s), write the report.

    Writes calibration.json and reliability.png next to the model (or to ``out_dir``); in a run
    folder both best_model.keras and best_model.h5 get the new temperature.
    """
    from pathlib import Path

    from fera.fileio import write_json
    from fera.training.evaluate import held_out, run_data_root
    from fera.training.modelio import KerasPredictor, load_model, resolve_model_path, save_model
    from fera.training.plots import plot_reliability

    path = resolve_model_path(model_ref)
    model, meta = load_model(path)
    x, y, ds, split = held_out(meta, data_root or run_data_root(path), prefer=("val",), log=log)
    rep = calibration_report(KerasPredictor(model, meta).predict_uint8(x, calibrated=False), y)
    rep = {"model": str(path), "data": ds.source, "split": split, **rep}
    meta = {**meta, "temperature": rep["temperature"]}
    for p in {path} | {path.parent / n for n in ("best_model.keras", "best_model.h5") if (path.parent / n).is_file()}:
        save_model(model, p, meta)
    out = Path(out_dir) if out_dir else path.parent
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "calibration.json", rep)
    plot_reliability(rep, out / "reliability.png", f"Reliability on {split} ({len(y)} images)")
    log(f"temperature {rep['temperature']:.3f} fitted on {split} of {ds.source} ({len(y)} images): "
        f"ECE {rep['ece_before']:.4f} -> {rep['ece_after']:.4f}, NLL {rep['nll_before']:.4f} -> {rep['nll_after']:.4f}")
    return rep
