"""`fera data get --file` and `fera data verify` on a CSV of random pixels with FER-2013's counts.

Writes a fer2013.csv with the official counts times ``--scale`` (1: all 35,887 rows of 48x48 random
pixels; nothing of the real dataset), times `get` from it as it is and from a tar.gz of it (unpack,
MD5, convert to PNGs, move into place) and `verify` of the result (decode and hash every image), and
prints wall-clock and CPU seconds (CPU time says more on a busy machine).

    python benchmarks/data_convert.py [--scale 0.1] [--work DIR]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from fera.datasets.fer2013 import OFFICIAL_COUNTS
from fera.datasets.get import get
from fera.datasets.verify import verify

FER_ORDER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # the CSV's labels 0..6


def write_csv(path: Path, scale: float) -> int:
    rng = np.random.default_rng(0)
    rows = 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for usage, split in (("Training", "train"), ("PublicTest", "val"), ("PrivateTest", "test")):
            for label, name in enumerate(FER_ORDER):
                for _ in range(max(1, round(OFFICIAL_COUNTS[split][name] * scale))):
                    w.writerow([label, " ".join(map(str, rng.integers(0, 256, 2304))), usage])
                    rows += 1
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="share of the official counts (default 1: all)")
    ap.add_argument("--work", help="folder for the files (default: a temporary one, removed afterwards)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        tmp = Path(tmp)
        os.environ["FERA_CACHE_DIR"] = str(tmp / "cache")
        t0 = time.perf_counter()
        rows = write_csv(tmp / "fer2013.csv", args.scale)
        print(f"wrote a {rows}-row CSV ({(tmp / 'fer2013.csv').stat().st_size / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - t0:.1f} s")
        with tarfile.open(tmp / "fer2013.tar.gz", "w:gz") as t:
            t.add(tmp / "fer2013.csv", arcname="fer2013/fer2013.csv")
        for name, src in (("csv", tmp / "fer2013.csv"), ("tar.gz", tmp / "fer2013.tar.gz")):
            t0, c0 = time.perf_counter(), time.process_time()
            rep = get(tmp / f"out-{name}", file=src)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            n = sum(sum(c.values()) for c in rep["counts"].values())
            print(f"get --file {name}: {n} PNGs in {dt:.1f} s wall, {cpu:.1f} s CPU ({n / cpu:.0f} images per CPU "
                  f"second); official counts match: {rep['official_counts_match']}")
        t0, c0 = time.perf_counter(), time.process_time()
        rep = verify(tmp / "out-csv")
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"verify: {rep['images']} images in {dt:.1f} s wall, {cpu:.1f} s CPU ({rep['images'] / cpu:.0f} images "
              f"per CPU second); clean: {rep['clean']}; duplicate groups: {rep['duplicates']['groups']}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
