"""Shipped models side by side: val accuracy (plain, flip TTA), per-face latency, load time.

    python benchmarks/models.py [--data_root ../shared/datasets/fer2013] [--runs 300] [--threads 2] [--json]

For every shipped model and each of its ONNX files (fp32, int8): load time (ONNX Runtime session),
per-face latency p50/p95 at batch 1 and batch 8, and, when the data is there, accuracy on FER-2013
val (PublicTest) with and without horizontal-flip test-time augmentation. Ratios compare each file
with the first model's fp32 file (the baseline), timed in the same process, interleaved.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fera import shipped
from fera.images import to_model_input
from fera.inference import OnnxModel


def val_data(data_root: str | None):
    if not data_root:
        return None
    root = Path(data_root)
    val = root / "val" if (root / "val").is_dir() else root
    if not val.is_dir():
        print(f"no val data at {root}: accuracy columns skipped", file=sys.stderr)
        return None
    from fera.training.config import DataConfig
    from fera.training.data import load_eval_data

    ds, split = load_eval_data(DataConfig(data_root=str(val)))
    return ds.splits[split].x, ds.splits[split].y, ds.class_names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data_root", default=None, help="FER-2013 root or its val/ folder (accuracy columns)")
    ap.add_argument("--runs", type=int, default=300, help="timed calls per setting")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    data = val_data(a.data_root)
    rng = np.random.default_rng(0)
    x8 = rng.random((8, 48, 48, 1), dtype=np.float32) if data is None else data[0][:8]
    rows = []
    for name in shipped.shipped_names():
        for int8 in (False, True):
            try:
                path = shipped.onnx_path(name, int8)
            except Exception:  # noqa: BLE001  (no int8 file for this model)
                continue
            t0 = time.perf_counter()
            m = OnnxModel.load(path, threads=a.threads)
            load_ms = (time.perf_counter() - t0) * 1000
            row = {"model": name, "file": path.name, "mib": round(path.stat().st_size / 2**20, 2),
                   "load_ms": round(load_ms, 1)}
            xb = x8 if data is None else to_model_input(x8, m.meta)
            for b in (1, 8):
                t = m.per_face_ms(xb[:b], a.runs)
                row[f"b{b}_p50"], row[f"b{b}_p95"] = round(float(np.percentile(t, 50)), 3), round(
                    float(np.percentile(t, 95)), 3)
            if data is not None:
                x, y, names = data
                y = np.array([m.class_names.index(names[i]) for i in y])
                row["val_acc"] = round(float((m.predict_uint8(x).argmax(1) == y).mean()), 4)
                row["val_acc_flip"] = round(float((m.predict_uint8(x, flip=True).argmax(1) == y).mean()), 4)
            rows.append(row)
    if not rows:
        print("no shipped models", file=sys.stderr)
        return 1
    base = rows[0]
    for r in rows:
        r["b1_vs_baseline"] = round(r["b1_p50"] / base["b1_p50"], 2)
    if a.json:
        print(json.dumps(rows, indent=1))
        return 0
    cols = ["model", "file", "mib", "load_ms", "b1_p50", "b1_p95", "b8_p50", "b8_p95", "b1_vs_baseline"] + (
        ["val_acc", "val_acc_flip"] if data is not None else [])
    print(f"ONNX Runtime, {a.threads} threads, {a.runs} calls per setting; ms per face; baseline {base['file']}")
    print("  ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print("  ".join(f"{r[c]!s:>14}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
