"""FER+ in Microsoft's layout: ``FER2013Train/``, ``FER2013Valid/`` and (optionally) ``FER2013Test/``, each holding
48x48 PNGs and a headerless ``label.csv`` (image name, face box, 10 vote counts), and the paper's four ways of
turning the votes into training targets (Barsoum et al., ICMI 2016; the rules of microsoft/FERPlus
``src/ferplus.py``, restated here):

- every scheme first drops single votes (outliers);
- ``majority``: the top class with more than half of the remaining votes, else the image is dropped;
- ``probability`` / ``crossentropy``: the classes with the most votes, ties together, until they hold 75% of the
  votes or 3 classes are taken, stopping at unknown / not-a-face; the image is dropped when the kept votes hold
  50% or less, or more than 3 classes were taken. The target is the kept votes, normalised (``probability``
  draws one class from it each time the image is used);
- ``multi_target``: every class with at least 30% of the votes, if together they hold more than 50%;
- an image whose target peaks at unknown or not-a-face is dropped; val and test are always scored on majority.

With 7 classes (no ``contempt``) an image whose target peaks at contempt is dropped and contempt's share of the
others is removed. Class names are fera's (FER-2013's: ``happy``, not ``happiness``), in sorted order.
Nothing here imports the training stack: the loader returns plain arrays.
"""
from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fera.datasets.fer2013 import FERPLUS_TO_CLASS, FERPLUS_VOTES
from fera.errors import FeraError, first_line

FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}  # Microsoft's folder -> split
LABEL_FILE = "label.csv"
SCHEMES = ("majority", "probability", "crossentropy", "multi_target")  # the paper's, in its order
EMOTIONS = FERPLUS_VOTES[:8]  # neutral ... contempt; FERPLUS_VOTES[8:] are unknown and NF (not a face)
MULTI_TARGET_EPSILON = 0.001  # the multi-target targets are (1 - eps) * {0, 1} + eps, as the FER+ trainer's


def is_ferplus_root(root: str | os.PathLike) -> bool:
    """True when ``root`` holds Microsoft's FER2013Train/label.csv."""
    return (Path(root) / "FER2013Train" / LABEL_FILE).is_file()


def class_names(contempt: bool) -> list[str]:
    """fera's names of FER+'s emotion classes, sorted (7 without contempt, 8 with it)."""
    return sorted(FERPLUS_TO_CLASS[e] for e in EMOTIONS if contempt or e != "contempt")


def read_labels(path: str | os.PathLike) -> list[tuple[str, np.ndarray]]:
    """[(image name, 10 vote counts)] of a FER+ ``label.csv``; a malformed row is a FeraError naming the file
    and the line."""
    path = Path(path)
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for line, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            try:
                if len(row) != 12:
                    raise ValueError(f"{len(row)} columns, expected 12 (name, face box, 10 vote counts)")
                name = row[0].strip()
                if not name or "/" in name or "\\" in name:
                    raise ValueError(f"bad image name {row[0]!r}")
                votes = np.array([float(v) for v in row[2:]], dtype=np.float64)
                if not np.all(np.isfinite(votes)) or votes.min() < 0 or np.any(votes != np.round(votes)):
                    raise ValueError("vote counts must be whole numbers, not negative")
                if votes.sum() <= 0:
                    raise ValueError("no votes")
            except ValueError as e:
                raise FeraError(f"{path}, line {line}: {first_line(e)}") from None
            rows.append((name, votes))
    return rows


def _kept_votes(raw: np.ndarray, scheme: str) -> np.ndarray | None:
    """The votes (10 columns) a scheme keeps for one image, or None when the image is dropped."""
    votes = np.where(raw > 1, raw, 0.0)  # single votes are outliers
    total = votes.sum()
    kept = np.zeros_like(votes)
    if scheme == "majority":
        top = int(np.argmax(votes))
        if total <= 0 or votes[top] <= 0.5 * total:
            return None
        kept[top] = votes[top]
    elif scheme in ("probability", "crossentropy"):
        left, taken, count, valid = votes.copy(), 0.0, 0, True
        while taken < 0.75 * total and count < 3 and valid:
            best = left.max()
            for i in range(len(left)):
                if left[i] == best:
                    kept[i], left[i] = best, 0.0
                    taken += best
                    count += 1
                    if i >= len(EMOTIONS):  # unknown or NF among the top: stop here
                        valid = False
                        if kept.sum() > best:  # other classes came before it: unknown / NF is not kept
                            kept[i] = 0.0
                            count -= 1
                        break
        if kept.sum() <= 0.5 * total or count > 3:
            return None
    elif scheme == "multi_target":
        kept = np.where(votes >= 0.3 * total, votes, 0.0)
        if total <= 0 or kept.sum() <= 0.5 * total:
            return None
    else:
        raise FeraError(f"unknown label scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    if int(np.argmax(kept)) >= len(EMOTIONS):  # peaks at unknown or not-a-face
        return None
    return kept


def targets(votes: np.ndarray, scheme: str, contempt: bool) -> tuple[np.ndarray, np.ndarray]:
    """(kept row indices, (kept, classes) float32 target distributions in ``class_names(contempt)`` order) of
    (N, 10) vote counts under ``scheme``; multi_target's distribution is the kept votes normalised (its 0/1
    targets are made from it at training time)."""
    names = class_names(contempt)
    column = [EMOTIONS.index(next(e for e in EMOTIONS if FERPLUS_TO_CLASS[e] == n)) for n in names]
    keep, out = [], []
    for i, raw in enumerate(np.asarray(votes, dtype=np.float64)):
        kept = _kept_votes(raw, scheme)
        if kept is None:
            continue
        if not contempt and int(np.argmax(kept[:len(EMOTIONS)])) == EMOTIONS.index("contempt"):
            continue
        t = kept[column]
        if t.sum() <= 0:
            continue
        keep.append(i)
        out.append(t / t.sum())
    k = len(names)
    return np.asarray(keep, dtype=np.int64), (np.stack(out).astype(np.float32) if out else np.zeros((0, k), np.float32))


def multi_target(dist: np.ndarray) -> np.ndarray:
    """The multi-target scheme's targets: 1 for every kept class, smoothed by ``MULTI_TARGET_EPSILON``."""
    return ((1 - MULTI_TARGET_EPSILON) * (dist > 0) + MULTI_TARGET_EPSILON).astype(np.float32)


@dataclass
class VoteSplit:
    """One FER+ folder, decoded: every image that has a label row and decodes, with its votes."""

    x: np.ndarray  # (N, H, W) uint8
    votes: np.ndarray  # (N, 10) vote counts, label.csv's column order
    files: np.ndarray  # (N,) paths relative to the data root ("FER2013Train/fer0000000.png")


@dataclass
class VoteData:
    source: str
    splits: dict[str, VoteSplit]  # "train", "val" and, when present, "test"
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason): no row, unreadable, no file


def png_files(d: str | os.PathLike) -> list[Path]:
    """The PNGs of one FER+ folder, sorted (hidden files left out)."""
    return sorted(p for p in Path(d).iterdir()
                  if p.is_file() and p.suffix.lower() == ".png" and not p.name.startswith("."))


def scan(root: str | os.PathLike) -> dict[str, tuple[Path, list[tuple[str, np.ndarray]], list[Path]]]:
    """{split: (folder, label rows, PNG files)} of a FER+ root; FER2013Valid is required beside FER2013Train."""
    root = Path(root)
    if not is_ferplus_root(root):
        raise FeraError(f"{root} is not a FER+ folder: no FER2013Train/{LABEL_FILE}")
    found = {}
    for folder, split in FOLDERS.items():
        d = root / folder
        if not d.is_dir():
            continue
        if not (d / LABEL_FILE).is_file():
            raise FeraError(f"{d} has no {LABEL_FILE} (FER+'s votes per image)")
        pngs = png_files(d)
        found[split] = (d, read_labels(d / LABEL_FILE), pngs)
    if "val" not in found:
        raise FeraError(f"{root} has no FER2013Valid/ folder: FER+ models are chosen on its majority labels")
    return found


def is_split_folder(d: str | os.PathLike) -> bool:
    """True for one FER+ folder (FER2013Valid/ say): a label.csv beside the PNGs, no class sub-folders."""
    return (Path(d) / LABEL_FILE).is_file() and not is_ferplus_root(d)


def load_votes(root: str | os.PathLike, img_size: tuple[int, int], decode, *, single: bool = False) -> VoteData:
    """Decode every labelled PNG of a FER+ root (``single``: of one FER+ folder, as split ``root.name``) with
    ``decode(path, img_size)`` (uint8 (H, W)); PNGs without a row, rows without a PNG and files that do not
    decode are skipped and counted."""
    root = Path(root)
    if single:
        pngs = png_files(root)
        tree = {root.name: (root, read_labels(root / LABEL_FILE), pngs)}
        root = root.parent
    else:
        tree = scan(root)
    skipped: list[tuple[str, str]] = []
    jobs = []
    for split, (d, rows, pngs) in tree.items():
        by_name = {}
        for name, v in rows:
            by_name.setdefault(name, v)
        present = {p.name for p in pngs}
        for p in pngs:
            if p.name in by_name:
                jobs.append((split, p, by_name[p.name]))
            else:
                skipped.append((f"{d.name}/{p.name}", f"no row in {d.name}/{LABEL_FILE}"))
        skipped += [(f"{d.name}/{n}", "in label.csv but no such file") for n in by_name if n not in present]

    def one(job):
        try:
            return decode(job[1], img_size), ""
        except Exception as e:  # noqa: BLE001  (any decoder failure means: skip this file and say why)
            return None, first_line(e)

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        decoded = list(pool.map(one, jobs, chunksize=256))
    parts: dict[str, tuple[list, list, list]] = {s: ([], [], []) for s in tree}
    for (split, path, v), (arr, reason) in zip(jobs, decoded):
        rel = path.relative_to(root).as_posix()
        if arr is None:
            skipped.append((rel, reason))
            continue
        xs, vs, fs = parts[split]
        xs.append(arr)
        vs.append(v)
        fs.append(rel)
    h, w = img_size
    splits = {s: VoteSplit(np.stack(xs) if xs else np.zeros((0, h, w), np.uint8),
                           np.asarray(vs, np.float32).reshape(-1, 10), np.asarray(fs, dtype=str))
              for s, (xs, vs, fs) in parts.items()}
    return VoteData(str(root), splits, skipped)
