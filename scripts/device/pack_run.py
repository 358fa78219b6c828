"""Pack a finished run (on the GPU machine) into a few files that come back from a `device` call.

    python scripts/device/pack_run.py RUN_DIR OUT_DIR

OUT_DIR gets ``weights.npz.partNN`` (the best model's weights in fp16 with fera's metadata, the format
of the shipped ``*.weights.npz``, cut into parts under 15 MiB) and ``run.tgz`` (every other small file
of the run: metrics, config, history, curves, report, label map, state). unpack_run.py reverses it.
"""
from __future__ import annotations

import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from fera.training.modelio import load_model, save_keras_weights  # noqa: E402

PART = 15 * 2 ** 20
SMALL = 4 * 2 ** 20  # run files above this (checkpoints, full-precision models) stay behind


def main(run: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    model, meta = load_model(run)
    whole = out / "weights.npz"
    save_keras_weights(model, meta, whole)
    data = whole.read_bytes()
    whole.unlink()
    for i in range(0, len(data), PART):
        (out / f"weights.npz.part{i // PART:02d}").write_bytes(data[i:i + PART])
    with tarfile.open(out / "run.tgz", "w:gz") as tar:
        for f in sorted(run.rglob("*")):
            if f.is_file() and f.stat().st_size <= SMALL and not f.name.endswith((".keras", ".h5")):
                tar.add(f, arcname=str(f.relative_to(run)))
    print(f"packed {run}: {len(data) / 2 ** 20:.1f} MiB of fp16 weights in {-(-len(data) // PART)} part(s), run.tgz")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
