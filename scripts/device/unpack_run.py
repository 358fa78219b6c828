"""Rebuild a run folder (on this machine) from what scripts/device/train.sh handed back.

    python scripts/device/unpack_run.py FILES_DIR runs/NAME

FILES_DIR holds ``weights.npz.partNN`` and ``run.tgz``. RUN_DIR gets the run's small files and
``best_model.keras`` / ``best_model.h5`` rebuilt from the fp16 weights (float32 again), so
``fera evaluate``, ``fera calibrate`` and ``scripts/ship_model.py`` take it like a run trained here.
"""
from __future__ import annotations

import os
import sys
import tarfile
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from fera.training.modelio import load_keras, save_model  # noqa: E402


def main(files: Path, run: Path) -> int:
    parts = sorted(files.glob("weights.npz.part*"))
    if not parts or not (files / "run.tgz").is_file():
        sys.exit(f"unpack_run: {files} has no weights.npz.part* and run.tgz")
    run.mkdir(parents=True, exist_ok=True)
    with tarfile.open(files / "run.tgz") as tar:
        tar.extractall(run, filter="data")
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "weights.npz"
        whole.write_bytes(b"".join(p.read_bytes() for p in parts))
        model, meta = load_keras(str(whole))
    for name in ("best_model.keras", "best_model.h5"):
        save_model(model, run / name, meta)
    print(f"{run}: {meta['model']} with {model.count_params()} parameters, classes {', '.join(meta['class_names'])}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
