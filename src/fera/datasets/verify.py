"""`fera data verify`: a dataset checked for the official counts, exact duplicates and bad files.

Class folders (train/ val/ test/): counts per split and class are compared with the official FER-2013
counts (or with the counts recorded in the dataset.json of an older FER+ class-folder conversion).
Microsoft's FER+ layout (FER2013Train/ FER2013Valid/ FER2013Test/, PNGs and label.csv): every PNG is
matched with its label.csv row, and the images and their FER+ majority labels per folder are compared
with the official FER+ counts, or with the counts recorded in the dataset.json that
`fera data convert --ferplus` writes. Exact duplicates are found by hashing each image's decoded pixels
(mode, size and bytes), within a split and across splits. Clean means: the counts match, every file
decodes, every PNG has its row and every row its PNG, and there is no duplicate.
"""
from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from fera.datasets.layout import SPLITS, class_files
from fera.datasets import ferplus
from fera.datasets.fer2013 import (EXPECTATIONS, FERPLUS_OFFICIAL_IMAGES, FERPLUS_OFFICIAL_MAJORITY, OFFICIAL_COUNTS,
                                   count_differences, ferplus_count_differences, ferplus_majority_class)
from fera.errors import FeraError, first_line
from fera.fileio import read_json

_MAX_NAMED = 20  # rows without a PNG and PNGs without a row named in the report


def verify(root: str | Path, *, expect: str = "auto", allow_duplicates: bool = False) -> dict:
    """The report of ``root``: counts, count differences, unreadable files, duplicate groups, ``clean``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FeraError(f"not a folder: {root}")
    if is_ferplus_layout(root):
        return _verify_ferplus(root, expect, allow_duplicates)
    tree = {s: class_files(root / s) for s in SPLITS if (root / s).is_dir()}
    if not tree:
        raise FeraError(f"no train/, val/ or test/ folder (nor FER+'s {', '.join(ferplus.FOLDERS)}) in {root}")
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
        "root": str(root), "layout": "class_folders", "splits": list(tree),
        "images": sum(sum(c.values()) for c in counts.values()),
        "counts": counts, "expected": expect,
        "absent_splits": [s for s in (expected or {}) if s not in tree],
        "count_differences": differences, "unreadable": unreadable,
        "duplicates": dup, "duplicate_groups": [[e[2] for e in g] for g in groups],
        "problems": problems, "clean": not problems,
    }


def _expected(root: Path, expect: str) -> tuple[dict | None, str]:
    """(expected counts or None, what they are: "official", "recorded" or "none")."""
    info = _recorded(root, expect)
    if expect == "auto":
        expect = "recorded" if info and info.get("labels") == "ferplus" else "official"
    if expect == "recorded":
        if not info or not isinstance(info.get("counts"), dict):
            raise FeraError(f"--expect recorded needs the dataset.json that `fera data convert` writes in {root}")
        return info["counts"], expect
    return (OFFICIAL_COUNTS if expect == "official" else None), expect


def _recorded(root: Path, expect: str) -> dict | None:
    """``root``'s dataset.json (None when absent or unreadable), once ``expect`` is checked."""
    if expect not in EXPECTATIONS:
        raise FeraError(f"--expect must be one of {', '.join(EXPECTATIONS)} (got {expect})")
    info_file = root / "dataset.json"
    if info_file.is_file():
        try:
            info = read_json(info_file)
            return info if isinstance(info, dict) else None
        except (OSError, ValueError):
            return None
    return None


# -- Microsoft's FER+ layout ---------------------------------------------------------------------

def is_ferplus_layout(root: Path) -> bool:
    """True for a FER+ root: FER2013Train/label.csv, or FER+ folders and no train/ val/ test/."""
    return ferplus.is_ferplus_root(root) or (not any((root / s).is_dir() for s in SPLITS)
                                             and any((root / f).is_dir() for f in ferplus.FOLDERS))


def _verify_ferplus(root: Path, expect: str, allow_duplicates: bool) -> dict:
    """verify()'s report for a FER+ root: PNGs against label.csv rows, counts and majority counts per folder,
    unreadable files, malformed or missing label.csv files, exact duplicates."""
    present = [f for f in ferplus.FOLDERS if (root / f).is_dir()]
    expected_images, expected_majority, expect = _expected_ferplus(root, expect)
    rows, label_errors, problems = {}, [], []
    for f in present:
        rows[f] = None  # unknown when label.csv is missing or malformed
        label_file = root / f / ferplus.LABEL_FILE
        if not label_file.is_file():
            label_errors.append(f"{label_file}: no such file (FER+'s votes per image)")
            problems.append(f"no {f}/{ferplus.LABEL_FILE}")
            continue
        try:
            labels = ferplus.read_labels(label_file)
        except FeraError as e:
            label_errors.append(first_line(e, 300))
            problems.append(f"malformed {f}/{ferplus.LABEL_FILE}")
            continue
        rows[f] = {}
        for name, votes in labels:
            rows[f].setdefault(name, votes)
    pngs = {f: ferplus.png_files(root / f) for f in present}
    jobs = [(f, p) for f in present for p in pngs[f]]
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        digests = list(pool.map(lambda j: _digest(j[1]), jobs, chunksize=256))
    counts = {f: 0 for f in present}
    majority = {f: ({} if rows[f] is not None else None) for f in present}
    unreadable, without_row, by_digest = [], [], defaultdict(list)
    for (f, path), (digest, reason) in zip(jobs, digests):
        rel = f"{f}/{path.name}"
        votes = rows[f].get(path.name) if rows[f] is not None else None
        if rows[f] is not None and votes is None:
            without_row.append(rel)
        if digest is None:
            unreadable.append(f"{rel}: {reason}")
            continue
        counts[f] += 1
        label = ferplus_majority_class(votes) if votes is not None else None
        if label is not None:
            majority[f][label] = majority[f].get(label, 0) + 1
        by_digest[digest].append((f, label, rel))
    names = {f: {p.name for p in pngs[f]} for f in present}
    without_png = [f"{f}/{n}" for f in present if rows[f] is not None for n in rows[f] if n not in names[f]]
    majority = {f: (dict(sorted(m.items())) if m is not None else None) for f, m in majority.items()}
    groups = sorted((sorted(g, key=lambda e: e[2]) for g in by_digest.values() if len(g) > 1), key=lambda g: g[0][2])
    differences = ferplus_count_differences(counts, majority, expected_images, expected_majority)
    dup = _duplicate_summary(groups, {f: None for f in present}, train="FER2013Train")
    for f in ("FER2013Train", "FER2013Valid"):
        if f not in present:
            problems.append(f"no {f}/ folder")
    problems += ([f"{_plural(len(without_png), 'label.csv row')} without a PNG"] if without_png else []) \
        + ([f"{_plural(len(without_row), 'PNG')} without a label.csv row"] if without_row else []) \
        + ([f"counts differ from the {expect} counts"] if differences else []) \
        + ([_plural(len(unreadable), "unreadable file")] if unreadable else []) \
        + ([_plural(len(groups), "duplicate group")] if groups and not allow_duplicates else [])
    return {
        "root": str(root), "layout": "ferplus", "splits": present, "images": sum(counts.values()),
        "pngs": {f: len(pngs[f]) for f in present}, "counts": counts, "majority_counts": majority,
        "label_rows": {f: (len(rows[f]) if rows[f] is not None else None) for f in present},
        "expected": expect, "absent_splits": [f for f in ferplus.FOLDERS if f not in present],
        "count_differences": differences, "label_errors": label_errors,
        "rows_without_png": {"count": len(without_png), "examples": without_png[:_MAX_NAMED]},
        "pngs_without_row": {"count": len(without_row), "examples": without_row[:_MAX_NAMED]},
        "unreadable": unreadable, "duplicates": dup, "duplicate_groups": [[e[2] for e in g] for g in groups],
        "problems": problems, "clean": not problems,
    }


def _expected_ferplus(root: Path, expect: str) -> tuple[dict, dict, str]:
    """(expected images per folder, expected majority counts per folder, what they are) of a FER+ root."""
    info = _recorded(root, expect)
    if expect == "auto":
        expect = "recorded" if info and info.get("layout") == "ferplus" else "official"
    if expect == "recorded":
        counts = (info or {}).get("counts")
        if info is None or info.get("layout") != "ferplus" or not isinstance(counts, dict) \
                or not all(isinstance(n, int) for n in counts.values()):
            raise FeraError(f"--expect recorded needs the dataset.json that `fera data convert --ferplus` writes "
                            f"in {root}")
        majority = info.get("majority_counts")
        majority = {f: m for f, m in majority.items() if isinstance(m, dict)} if isinstance(majority, dict) else {}
        return counts, majority, expect
    if expect == "official":
        return FERPLUS_OFFICIAL_IMAGES, FERPLUS_OFFICIAL_MAJORITY, expect
    return {}, {}, expect


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _digest(path: Path) -> tuple[str | None, str]:
    try:
        with Image.open(path) as im:
            im.load()
            h = hashlib.sha1(f"{im.mode}|{im.size}|".encode())
            h.update(im.tobytes())
            return h.hexdigest(), ""
    except Exception as e:  # noqa: BLE001  (any decoder failure makes the file unreadable)
        return None, first_line(e)


def _duplicate_summary(groups: list[list[tuple[str, str, str]]], tree: dict, train: str = "train") -> dict:
    """Group counts within each split and across splits, copies of train images in val/test, label conflicts."""
    within = {s: 0 for s in tree}
    across, conflicting = 0, 0
    train_copies = {s: 0 for s in tree if s != train}
    for g in groups:
        splits = {e[0] for e in g}
        if len(splits) == 1:
            within[g[0][0]] += 1
        else:
            across += 1
        conflicting += len({e[1] for e in g if e[1] is not None}) > 1  # None: a FER+ PNG without a row
        if train in splits:
            for s in train_copies:
                train_copies[s] += sum(e[0] == s for e in g)
    return {"groups": len(groups), "redundant_files": sum(len(g) - 1 for g in groups), "within": within,
            "across_splits": across, "with_a_copy_in_train": train_copies, "conflicting_labels": conflicting}
