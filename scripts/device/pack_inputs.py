"""Prepare what a GPU run carries (run here, on the CPU machine): the dataset and the Keras wheels.

    python scripts/device/pack_inputs.py --data_root ../shared/datasets/fer2013

Writes the git-ignored folder ``.device/`` at the repository root:
  .device/data.tgz   train/ and val/ (and test/, duplicates.csv when present) as a gzip'd tar of the
                     image folders as they are (FER-2013: about 39 MiB)
  .device/whl/       wheels for what the GPU machine lacks (keras, namex, optree) for its Python 3.12
Then one `device` call with carry [".device"] runs scripts/device/train.sh (its docstring says how).
Together they must stay under the 64 MiB a call may carry; this script stops if they do not.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / ".device"
WHEELS = ("keras==3.15.1", "namex", "optree")  # the GPU image has numpy, h5py, ml-dtypes, rich, absl-py
LIMIT = 60 * 2 ** 20  # leave room for the working tree itself under the 64 MiB a call carries


def pack_data(root: Path, dest: Path) -> None:
    parts = [p for p in ("train", "val", "test", "duplicates.csv") if (root / p).exists()]
    if "train" not in parts:
        sys.exit(f"pack_inputs: {root} has no train/ folder")
    tmp = dest.with_suffix(".part")
    with tarfile.open(tmp, "w:gz", compresslevel=9) as tar:
        for p in parts:
            tar.add(root / p, arcname=p)
    tmp.replace(dest)


def download_wheels(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [f"--platform={p}" for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                                             "manylinux2014_x86_64", "manylinux1_x86_64")]
    for spec in WHEELS:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), spec],
                       check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data_root", required=True, help="FER-style root with train/ (and val/)")
    ap.add_argument("--no_wheels", action="store_true", help="pack the data only (wheels already there)")
    a = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    pack_data(Path(a.data_root), OUT / "data.tgz")
    if not a.no_wheels:
        download_wheels(OUT / "whl")
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"{OUT.name}/: {size / 2 ** 20:.1f} MiB ({', '.join(sorted(p.name for p in OUT.iterdir()))})")
    if size > LIMIT:
        print(f"pack_inputs: over the {LIMIT / 2 ** 20:.0f} MiB a device call can carry with the tree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
