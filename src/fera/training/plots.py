"""Figures for a run: learning curves and the confusion matrix (matplotlib, no display needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fera.fileio import atomic_path


def _figure(**kw):
    """A matplotlib Figure that belongs to no GUI and no pyplot state (so a notebook's inline plots
    and any backend a caller chose are left alone)."""
    from matplotlib.figure import Figure

    return Figure(**kw)


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def plot_curve(history: list[dict], metric: str, path: Path, title: str) -> None:
    """Train and validation ``metric`` per epoch (accuracy.png, loss.png)."""
    epochs = [h["epoch"] for h in history]
    fig = _figure(figsize=(6, 4))
    ax = fig.subplots()
    for key, label, style in ((metric, "train", "-o"), (f"val_{metric}", "validation", "--s")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            ax.plot(epochs, values, style, label=label, markersize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_confusion(cm: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    """Counts (left) and row-normalised recall (right), numbers written in every cell."""
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = len(class_names)
    size = max(4.0, 0.6 * k + 2)
    fig = _figure(figsize=(2 * size + 1, size))
    axes = fig.subplots(1, 2)
    for ax, data, fmt, sub in ((axes[0], cm, "d", "counts"), (axes[1], norm, ".2f", "share of true class")):
        ax.imshow(data, cmap="Blues", vmin=0, vmax=data.max() or 1)
        ax.set_xticks(range(k), class_names, rotation=45, ha="right")
        ax.set_yticks(range(k), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(sub)
        hi = (data.max() or 1) / 2
        for i in range(k):
            for j in range(k):
                ax.text(j, i, format(data[i, j], fmt), ha="center", va="center", fontsize=8,
                        color="white" if data[i, j] > hi else "black")
    fig.suptitle(title)
    _save(fig, path)


def plot_reliability(report: dict, path: Path, title: str) -> None:
    """Reliability diagram: accuracy against confidence per bin, before and after temperature scaling."""
    fig = _figure(figsize=(9, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, sub in ((axes[0], "before", "uncalibrated"),
                         (axes[1], "after", f"temperature {report['temperature']:.2f}")):
        rows = [b for b in report[f"bins_{key}"] if b["count"]]
        mids = [(b["low"] + b["high"]) / 2 for b in rows]
        width = rows[0]["high"] - rows[0]["low"] if rows else 0.05
        ax.bar(mids, [b["accuracy"] for b in rows], width=width * 0.9, color="#4a78b5", edgecolor="black",
               label="accuracy in bin")
        ax.plot([b["confidence"] for b in rows], [b["accuracy"] for b in rows], "o", color="#b5500b",
                markersize=4, label="(mean confidence, accuracy)")
        ax.plot([0, 1], [0, 1], "--", color="black", linewidth=1, label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top probability)")
        ax.set_title(f"{sub}: ECE {report[f'ece_{key}']:.3f}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    _save(fig, path)
