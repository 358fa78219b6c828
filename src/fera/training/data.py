"""The data pipeline: FER-style folders, the FER-2013 CSV or FER+'s layout -> in-memory uint8 arrays.

Images are decoded once (any size, mode or format -> grayscale ``img_size``), cached as an
``.npz`` keyed by the file list, sizes and mtimes, and kept in memory for training. A FER+ root
(``FER2013Train/``, ``FER2013Valid/``, optional ``FER2013Test/``, each with ``label.csv``) is read directly:
its training targets follow ``DataConfig.labels`` (one of the paper's four schemes), val and test are
always its majority labels.
"""
from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fera.datasets import ferplus
from fera.datasets.fer2013 import CSV_USAGE, FER2013_CSV_CLASSES, csv_pixels, csv_rows
from fera.datasets.layout import SPLITS, cache_dir, class_files
from fera.training.config import DataConfig
from fera.errors import FeraError, first_line
from fera.fileio import atomic_path, write_json
from fera.images import to_gray_array

_CACHE_VERSION = 2  # 2: the cache keeps each image's file path


@dataclass
class Split:
    x: np.ndarray  # (N, H, W) uint8 grayscale
    y: np.ndarray  # (N,) int64 class indices
    files: np.ndarray | None = None  # (N,) paths relative to the data root ("train/happy/x.png"); None for a CSV
    # (N, classes) float32 target distributions (FER+ votes under a distribution scheme), else None: one-hot y
    soft: np.ndarray | None = None

    def take(self, idx: np.ndarray) -> "Split":
        return Split(self.x[idx], self.y[idx], None if self.files is None else self.files[idx],
                     None if self.soft is None else self.soft[idx])

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Dataset:
    source: str  # the data root or CSV file
    class_names: list[str]  # index -> name; fixed order (sorted class folder names)
    splits: dict[str, Split]  # "train", "val" and, when present, "test"
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) not loaded
    val_from_train: bool = False  # True when val was split off train/
    from_cache: bool = False
    load_seconds: float = 0.0
    labels: str = "majority"  # how the training targets were made (ferplus.SCHEMES; "majority" = one label)
    dropped: dict[str, int] = field(default_factory=dict)  # per split: FER+ images the label rules left out

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per split, per class image counts."""
        return {name: {c: int(n) for c, n in zip(self.class_names, np.bincount(s.y, minlength=self.num_classes))}
                for name, s in self.splits.items()}

    def label_map(self) -> dict[str, str]:
        return {str(i): name for i, name in enumerate(self.class_names)}


def class_weights(y: np.ndarray, num_classes: int, soft: np.ndarray | None = None) -> dict[int, float]:
    """'Balanced' weights n / (k * n_c), as scikit-learn computes them; with target distributions (FER+ votes)
    n_c is each class's share of the votes summed over the images, so the weights come from the votes."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64) if soft is None \
        else np.asarray(soft, np.float64).sum(axis=0)
    w = len(y) / (num_classes * np.maximum(counts, 1))
    return {i: float(w[i]) for i in range(num_classes)}


def weighting(balanced: dict[int, float], how: str) -> dict[int, float] | None:
    """The class weights a run uses (TrainConfig.class_weight): the balanced ones, their square roots, or None."""
    return {"balanced": balanced, "sqrt": {i: w ** 0.5 for i, w in balanced.items()}, "none": None}[how]


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out): ``fraction`` of every class held out, at least one image of a class with 2+."""
    if not 0 < fraction < 1:
        raise FeraError(f"--val_split must be between 0 and 1 (got {fraction})")
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_held = min(len(idx) - 1, max(1, round(len(idx) * fraction))) if len(idx) > 1 else 0
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def load_dataset(cfg: DataConfig, log=None) -> Dataset:
    """Load (or take from the cache) a FER-style folder tree or a FER-2013 CSV."""
    start = time.perf_counter()
    root = Path(cfg.data_root).expanduser()
    if not cfg.data_root or not root.exists():
        raise FeraError(f"data root not found: {cfg.data_root or '(empty)'}")
    if cfg.labels not in ferplus.SCHEMES:
        raise FeraError(f"--labels must be one of {', '.join(ferplus.SCHEMES)} (got {cfg.labels})")
    if root.is_dir() and ferplus.is_ferplus_root(root):
        ds = _load_ferplus(root, cfg, log)
        ds.load_seconds = time.perf_counter() - start
        return ds
    if cfg.labels != "majority" or cfg.contempt:
        what = f"--labels {cfg.labels}" if cfg.labels != "majority" else "--contempt"
        raise FeraError(f"{what} needs FER+'s votes: a data root with FER2013Train/label.csv "
                        f"(Microsoft's FER+ layout), and {root} is not one")
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise FeraError(f"{root} is a file but not a FER-2013 CSV (emotion,pixels,Usage)")
        files, key = None, _csv_key(root, cfg.img_size)
    else:
        files = _scan_tree(root)
        key = _tree_key(files, cfg.img_size)
    cache_file = _cache_dir(cfg) / f"{root.stem or 'data'}-{key[:20]}.npz"
    ds = _read_cache(cache_file, str(root)) if cfg.use_cache else None
    if ds is None:
        ds = _load_csv(root, cfg.img_size) if files is None else _decode_tree(root, files, cfg.img_size)
        if cfg.use_cache:
            _write_cache(cache_file, ds, log)
    _check(ds)
    if "val" not in ds.splits:
        keep, held = stratified_split(ds.splits["train"].y, cfg.val_split, cfg.seed)
        tr = ds.splits["train"]
        ds.splits = {"train": tr.take(keep), "val": tr.take(held), **{k: v for k, v in ds.splits.items() if k == "test"}}
        ds.val_from_train = True
    ds.load_seconds = time.perf_counter() - start
    return ds


def write_label_map(ds: Dataset, out_dir: str | os.PathLike | None) -> list[Path]:
    """Write label_map.json to ``out_dir`` and, as the design says, to the dataset root when writable."""
    written = []
    targets = [Path(out_dir)] if out_dir else []
    if Path(ds.source).is_dir():
        targets.append(Path(ds.source))
    for target in targets:
        try:
            write_json(target / "label_map.json", ds.label_map())
            written.append(target / "label_map.json")
        except OSError:
            if target != Path(ds.source):  # a read-only dataset root is fine; the run dir is not
                raise
    return written


# -- folders -------------------------------------------------------------------------------------

def _scan_tree(root: Path) -> dict[str, dict[str, list[Path]]]:
    """{split: {class: [files]}} for the splits that exist; hidden files are ignored."""
    if not (root / "train").is_dir():
        raise FeraError(f"no train/ folder in {root} (expected {root}/train/<class>/<images>)")
    tree = {split: class_files(root / split) for split in SPLITS if (root / split).is_dir()}
    train_classes = set(tree["train"])
    for split in ("val", "test"):
        extra = sorted(set(tree.get(split, {})) - train_classes)
        if extra:
            raise FeraError(f"{split}/ has class(es) not in train/: {', '.join(extra)}")
    return tree


def load_eval_data(cfg: DataConfig, log=None, prefer=("test", "val")) -> tuple[Dataset, str]:
    """(dataset, split name) to evaluate on: a folder of class folders as is, a FER root's test/
    (else its val/), or a CSV's PrivateTest rows (else PublicTest); ``prefer`` orders the splits."""
    root = Path(cfg.data_root).expanduser()
    if root.is_dir() and ferplus.is_split_folder(root):  # one FER+ folder: its majority labels
        votes = ferplus.load_votes(root, cfg.img_size, to_gray_array, single=True)
        v = votes.splits[root.name]
        keep, dist = ferplus.targets(v.votes, "majority", cfg.contempt)
        if len(keep) == 0:
            raise FeraError(f"no readable image with a FER+ majority label in {root}")
        split = Split(v.x[keep], dist.argmax(axis=1).astype(np.int64), v.files[keep])
        return Dataset(str(root), ferplus.class_names(cfg.contempt), {root.name: split}, votes.skipped,
                       dropped={root.name: int(len(v.votes) - len(keep))}), root.name
    if root.is_dir() and not (root / "train").is_dir() and not ferplus.is_ferplus_root(root):
        classes = class_files(root)
        if not classes:
            raise FeraError(f"{root} has neither train/ nor class sub-folders")
        ds = _decode_tree(root, {root.name: classes}, cfg.img_size, sorted(classes))
        if len(ds.splits[root.name]) == 0:
            raise FeraError(f"no readable images in {root} ({len(ds.skipped)} file(s) skipped)")
        return ds, root.name
    ds = load_dataset(cfg, log)
    for split in prefer:
        if split in ds.splits and not (split == "val" and ds.val_from_train):
            return ds, split
    raise FeraError(f"{root} has no {' or '.join(s + '/' for s in prefer)} split to use here; "
                    "pass a folder of class folders instead")


def _decode_tree(root: Path, tree, img_size, class_names=None) -> Dataset:
    class_names = class_names or sorted(tree["train"])
    index = {c: i for i, c in enumerate(class_names)}
    jobs = [(split, index[c], p) for split, classes in tree.items() for c, files in classes.items() for p in files]
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        results = list(pool.map(lambda j: _decode_file(j[2], img_size), jobs, chunksize=256))
    skipped, xs = [], {s: [] for s in tree}
    ys, fs = {s: [] for s in tree}, {s: [] for s in tree}
    for (split, label, path), (arr, reason) in zip(jobs, results):
        if arr is None:
            skipped.append((str(path.relative_to(root)), reason))
            continue
        xs[split].append(arr)
        ys[split].append(label)
        fs[split].append(path.relative_to(root).as_posix())
    h, w = img_size
    splits = {s: Split(np.stack(xs[s]) if xs[s] else np.zeros((0, h, w), np.uint8), np.asarray(ys[s], np.int64),
                       np.asarray(fs[s], dtype=str))
              for s in tree}
    return Dataset(str(root), class_names, splits, skipped)


def _decode_file(path: Path, img_size) -> tuple[np.ndarray | None, str]:
    try:
        return to_gray_array(path, img_size), ""
    except Exception as e:  # noqa: BLE001  (any decoder failure means: skip this file and say why)
        return None, first_line(e)


# -- FER+ (Microsoft's layout) ------------------------------------------------------------------

def _load_ferplus(root: Path, cfg: DataConfig, log) -> Dataset:
    """The FER+ root as a Dataset: train targets under ``cfg.labels``, val and test on majority labels."""
    files = [p for split, (d, _, pngs) in ferplus.scan(root).items() for p in [d / ferplus.LABEL_FILE, *pngs]]
    h = hashlib.sha256(f"v{_CACHE_VERSION}|ferplus|{tuple(cfg.img_size)}".encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.parent.name}/{p.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    cache_file = _cache_dir(cfg) / f"{root.name or 'ferplus'}-ferplus-{h.hexdigest()[:20]}.npz"
    votes = _read_vote_cache(cache_file, str(root)) if cfg.use_cache else None
    from_cache = votes is not None
    if votes is None:
        votes = ferplus.load_votes(root, cfg.img_size, to_gray_array)
        if cfg.use_cache:
            arrays = {"skipped": np.array(votes.skipped, dtype=str).reshape(-1, 2)}
            for s, v in votes.splits.items():
                arrays |= {f"x_{s}": v.x, f"v_{s}": v.votes, f"f_{s}": v.files}
            _save_npz(cache_file, arrays, log)
    splits, dropped = {}, {}
    for name, v in votes.splits.items():
        scheme = cfg.labels if name == "train" else "majority"
        keep, dist = ferplus.targets(v.votes, scheme, cfg.contempt)
        splits[name] = Split(v.x[keep], dist.argmax(axis=1).astype(np.int64), v.files[keep],
                             dist if scheme != "majority" else None)
        dropped[name] = int(len(v.votes) - len(keep))
    ds = Dataset(str(root), ferplus.class_names(cfg.contempt), splits, votes.skipped, from_cache=from_cache,
                 labels=cfg.labels, dropped=dropped)
    _check(ds, fixed_classes=True)
    return ds


def _read_vote_cache(path: Path, source: str) -> ferplus.VoteData | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            splits = {s: ferplus.VoteSplit(z[f"x_{s}"], z[f"v_{s}"], z[f"f_{s}"]) for s in SPLITS if f"x_{s}" in z}
            skipped = [tuple(r) for r in z["skipped"].tolist()] if z["skipped"].size else []
        return ferplus.VoteData(source, splits, skipped)
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is simply rebuilt


# -- FER-2013 CSV --------------------------------------------------------------------------------

def _load_csv(path: Path, img_size) -> Dataset:
    from PIL import Image

    class_names = sorted(FER2013_CSV_CLASSES)
    remap = {i: class_names.index(name) for i, name in enumerate(FER2013_CSV_CLASSES)}
    h, w = img_size
    xs, ys, skipped = {}, {}, []
    for _, n, row in csv_rows(path):
        try:
            label = remap[int(row["emotion"])]
            img = csv_pixels(row["pixels"])
            side = img.shape[0]
            if (side, side) != (h, w):
                img = np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))
            split = CSV_USAGE.get((row.get("Usage") or "Training").strip(), "train")
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            skipped.append((f"{path.name}:{n}", first_line(e)))
            continue
        xs.setdefault(split, []).append(img)
        ys.setdefault(split, []).append(label)
    if "train" not in xs:
        raise FeraError(f"{path} has no usable Training rows")
    splits = {s: Split(np.stack(xs[s]), np.asarray(ys[s], np.int64)) for s in SPLITS if s in xs}
    return Dataset(str(path), class_names, splits, skipped)


# -- checks and cache ----------------------------------------------------------------------------

def _check(ds: Dataset, fixed_classes: bool = False) -> None:
    """``fixed_classes``: the class list is the dataset's (FER+'s), so a class may have no image of its own."""
    if ds.num_classes < 2:
        raise FeraError(f"need at least 2 classes in train/, found {ds.num_classes} in {ds.source}")
    if len(ds.splits["train"]) == 0:
        raise FeraError(f"no readable training images in {ds.source} ({len(ds.skipped)} file(s) skipped)")
    empty = [c for c, n in ds.counts()["train"].items() if n == 0]
    if empty and not fixed_classes:
        raise FeraError(f"class(es) with no readable training images: {', '.join(empty)}")
    for split in ("val", "test"):
        if split in ds.splits and len(ds.splits[split]) == 0:
            raise FeraError(f"{split}/ exists in {ds.source} but has no readable images")


def _cache_dir(cfg: DataConfig) -> Path:
    return cache_dir(cfg.cache_dir)


def _tree_key(tree, img_size) -> str:
    h = hashlib.sha256(f"v{_CACHE_VERSION}|{tuple(img_size)}".encode())
    for split, classes in tree.items():
        for c, files in classes.items():
            for p in files:
                st = p.stat()
                h.update(f"{split}/{c}/{p.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _csv_key(path: Path, img_size) -> str:
    st = path.stat()
    return hashlib.sha256(f"v{_CACHE_VERSION}|csv|{tuple(img_size)}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()


def _read_cache(path: Path, source: str) -> Dataset | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            names = [str(s) for s in z["class_names"]]
            splits = {s: Split(z[f"x_{s}"], z[f"y_{s}"], z[f"f_{s}"] if f"f_{s}" in z else None)
                      for s in SPLITS if f"x_{s}" in z}
            skipped = [tuple(r) for r in z["skipped"].tolist()] if z["skipped"].size else []
        return Dataset(source, names, splits, skipped, from_cache=True)
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is simply rebuilt


def _write_cache(path: Path, ds: Dataset, log) -> None:
    arrays = {"class_names": np.array(ds.class_names),
              "skipped": np.array(ds.skipped, dtype=str).reshape(-1, 2)}
    for s, split in ds.splits.items():
        arrays[f"x_{s}"], arrays[f"y_{s}"] = split.x, split.y
        if split.files is not None:
            arrays[f"f_{s}"] = split.files
    _save_npz(path, arrays, log)


def _save_npz(path: Path, arrays: dict, log) -> None:
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
    except OSError as e:
        if log:
            log(f"note: could not write the data cache {path}: {e.strerror or e}")
