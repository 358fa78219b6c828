"""`fera data verify`: a class-folder dataset checked for the official counts, exact duplicates and bad files.

Counts per split and class are compared with the official FER-2013 counts (or, for a FER+ folder
written by `fera data convert --ferplus`, with the counts recorded in its dataset.json). Exact
duplicates are found by hashing each image's decoded pixels (mode, size and bytes), within a split
and across splits. Clean means: the counts match, every file decodes, and there is no duplicate.
"""
from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from fera.training.data import SPLITS, class_files
from fera.datasets.fer2013 import EXPECTATIONS, OFFICIAL_COUNTS, count_differences
from fera.errors import FeraError, first_line
from fera.fileio import read_json


def verify(root: str | Path, *, expect: str = "auto", allow_duplicates: bool = False) -> dict:
    """The report of ``root``: counts, count differences, unreadable files, duplicate groups, ``clean``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FeraError(f"not a folder: {root}")
    tree = {s: class_files(root / s) for s in SPLITS if (root / s).is_dir()}
    if not tree:
        raise FeraError(f"no train/, val/ or test/ folder in {root}")
    expected, expect = _expected(root, expect)
    jobs = [(s, c, p) for s, classes in tree.items() for c, files in classes.items() for p in files]
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        digests = list(pool.map(lambda j: _digest(j[2]), jobs, chunksize=256))
    counts = {s: {c: 0 for c in classes} for s, classes in tree.items()}
    unreadable, by_digest = [], defaultdict(list)
    for (split, cls, path), (digest, reason) in zip(jobs, digests):
        rel = path.relative_to(root).as_posix()
        if digest is None:
            unreadable.append(f"{rel}: {reason}")
            continue
        counts[split][cls] += 1
        by_digest[digest].append((split, cls, rel))
    groups = sorted((sorted(g, key=lambda e: e[2]) for g in by_digest.values() if len(g) > 1), key=lambda g: g[0][2])
    differences = count_differences(counts, expected) if expected else []
    dup = _duplicate_summary(groups, tree)
    problems = ([f"counts differ from the {expect} counts"] if differences else []) \
        + ([f"{len(unreadable):,} unreadable file" + "s" * (len(unreadable) != 1)] if unreadable else []) \
        + ([f"{len(groups):,} duplicate group" + "s" * (len(groups) != 1)] if groups and not allow_duplicates else [])
    return {
        "root": str(root), "splits": list(tree), "images": sum(sum(c.values()) for c in counts.values()),
        "counts": counts, "expected": expect,
        "absent_splits": [s for s in (expected or {}) if s not in tree],
        "count_differences": differences, "unreadable": unreadable,
        "duplicates": dup, "duplicate_groups": [[e[2] for e in g] for g in groups],
        "problems": problems, "clean": not problems,
    }


def _expected(root: Path, expect: str) -> tuple[dict | None, str]:
    """(expected counts or None, what they are: "official", "recorded" or "none")."""
    if expect not in EXPECTATIONS:
        raise FeraError(f"--expect must be one of {', '.join(EXPECTATIONS)} (got {expect})")
    info_file = root / "dataset.json"
    info = None
    if info_file.is_file():
        try:
            info = read_json(info_file)
        except (OSError, ValueError):
            info = None
    if expect == "auto":
        expect = "recorded" if info and info.get("labels") == "ferplus" else "official"
    if expect == "recorded":
        if not info or not isinstance(info.get("counts"), dict):
            raise FeraError(f"--expect recorded needs the dataset.json that `fera data convert` writes in {root}")
        return info["counts"], expect
    return (OFFICIAL_COUNTS if expect == "official" else None), expect


def _digest(path: Path) -> tuple[str | None, str]:
    try:
        with Image.open(path) as im:
            im.load()
            h = hashlib.sha1(f"{im.mode}|{im.size}|".encode())
            h.update(im.tobytes())
            return h.hexdigest(), ""
    except Exception as e:  # noqa: BLE001  (any decoder failure makes the file unreadable)
        return None, first_line(e)


def _duplicate_summary(groups: list[list[tuple[str, str, str]]], tree: dict) -> dict:
    """Group counts within each split and across splits, copies of train images in val/test, label conflicts."""
    within = {s: 0 for s in tree}
    across, conflicting = 0, 0
    train_copies = {s: 0 for s in tree if s != "train"}
    for g in groups:
        splits = {e[0] for e in g}
        if len(splits) == 1:
            within[g[0][0]] += 1
        else:
            across += 1
        conflicting += len({e[1] for e in g}) > 1
        if "train" in splits:
            for s in train_copies:
                train_copies[s] += sum(e[0] == s for e in g)
    return {"groups": len(groups), "redundant_files": sum(len(g) - 1 for g in groups), "within": within,
            "across_splits": across, "with_a_copy_in_train": train_copies, "conflicting_labels": conflicting}
