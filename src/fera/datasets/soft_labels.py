"""Soft labels for training: each image's annotator votes (FER+) as a target distribution over the classes.

The file is the labels.csv that `fera data convert --ferplus` writes: a ``path`` column relative to the
data root ("train/happy/row00007.png") and one vote column per class, named as fera's classes
("happy") or as FER+'s ("happiness"); other columns ("unknown", "NF", "contempt" when it is not a
class) are ignored. The target of an image is its votes for the dataset's classes divided by their sum
(FER+'s "cross-entropy" scheme); an image with no vote for any class keeps its folder's one-hot label.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fera.datasets.fer2013 import FERPLUS_TO_CLASS
from fera.errors import FeraError


def read_votes(path: str | Path, class_names: list[str]) -> dict[str, np.ndarray]:
    """{relative path: votes per class, in ``class_names`` order} from a labels.csv."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FeraError(f"--soft_labels file not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if "path" not in header:
            raise FeraError(f"{path} has no 'path' column: expected the labels.csv of `fera data convert --ferplus`")
        columns = {}
        for i, h in enumerate(header):
            name = h if h in class_names else FERPLUS_TO_CLASS.get(h)
            if name in class_names and name not in columns:
                columns[name] = i
        missing = [c for c in class_names if c not in columns]
        if missing:
            raise FeraError(f"{path} has no vote column for the class(es) {', '.join(missing)} of the dataset")
        order = [columns[c] for c in class_names]
        p = header.index("path")
        votes = {}
        for n, row in enumerate(reader, start=2):
            try:
                v = np.array([float(row[i]) for i in order], dtype=np.float32)
                if not np.all(np.isfinite(v)) or v.min() < 0:
                    raise ValueError("votes must be finite and not negative")
            except (IndexError, ValueError) as e:
                raise FeraError(f"{path}, line {n}: {e}") from None
            votes[row[p].strip().replace("\\", "/")] = v
    return votes


def attach_soft_labels(ds, path: str | Path) -> None:
    """Set ``ds.splits["train"].soft`` from the votes in ``path``; every training image must have a row."""
    tr = ds.splits["train"]
    if tr.files is None:
        raise FeraError("--soft_labels needs a folder dataset (as `fera data convert --ferplus` writes), "
                        "not a CSV: its labels are keyed by file path")
    votes = read_votes(path, ds.class_names)
    absent = [f for f in tr.files if f not in votes]
    if absent:
        raise FeraError(f"{len(absent)} of {len(tr.files)} training images have no row in {path} (e.g. {absent[0]}); "
                        "use the labels.csv written with this folder")
    v = np.stack([votes[f] for f in tr.files])
    total = v.sum(axis=1, keepdims=True)
    one_hot = np.eye(ds.num_classes, dtype=np.float32)[tr.y]
    tr.soft = np.where(total > 0, v / np.maximum(total, 1e-12), one_hot).astype(np.float32)
