"""`fera data convert`: fer2013.csv -> train/ val/ test/ class folders of PNGs, or with FER+'s fer2013new.csv
-> Microsoft's official FER+ layout.

Every image keeps its exact pixels (a lossless grayscale PNG). Without FER+: ``row<N>.png`` in the folder of
its FER-2013 class, N the 0-based data row of the CSV; Usage Training -> train/, PublicTest -> val/,
PrivateTest -> test/. With FER+: what microsoft/FERPlus's ``generate_training_data.py`` writes, FER2013Train/
(Training), FER2013Valid/ (PublicTest) and FER2013Test/ (PrivateTest), each holding PNGs named as
fer2013new.csv's ``Image name`` column says (``fer0000000.png``: Microsoft's numbering, not necessarily the
CSV row: the first PublicTest image is fer0028638.png) and a headerless ``label.csv`` of Microsoft's rows
(name, face box, the 10 vote counts); rows FER+ leaves without votes are not written. Training chooses how to
use the votes (`fera train --labels ...`, datasets/ferplus.py). The folders are written to a hidden temporary
folder and moved into place at the end, so a failure leaves nothing behind.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from pathlib import Path

from PIL import Image

from fera.datasets.fer2013 import CSV_USAGE, FER2013_CSV_CLASSES, csv_pixels, csv_rows
from fera.datasets.layout import SPLITS
from fera.datasets.fer2013 import (FERPLUS_FOLDERS, FERPLUS_HEADER, FERPLUS_OFFICIAL_IMAGES, FERPLUS_OFFICIAL_MAJORITY,
                                   OFFICIAL_COUNTS, PUBLISHED_MD5, count_differences, ferplus_count_differences,
                                   ferplus_majority_class)
from fera.datasets.ferplus import LABEL_FILE
from fera.errors import FeraError
from fera.fileio import atomic_dir, write_json, write_text

_MAX_LISTED = 20  # skipped rows named in dataset.json


def convert(csv_path: str | Path, to: str | Path, *, ferplus: str | Path | None = None, overwrite: bool = False,
            log=None) -> dict:
    """Convert ``csv_path`` into class folders (with ``ferplus``: Microsoft's FER+ layout) in ``to``, atomically;
    returns the report (dataset.json)."""
    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_file():
        raise FeraError(f"CSV not found: {csv_path}")
    if ferplus is not None and not Path(ferplus).expanduser().is_file():
        raise FeraError(f"FER+ label file not found: {ferplus}")
    with atomic_dir(Path(to).expanduser(), overwrite) as tmp:
        report = write_folders(csv_path, tmp, ferplus=ferplus, log=log)
    return {**report, "to": str(to)}


def write_folders(csv_path: Path, out: Path, *, ferplus=None, log=None, md5: str | None = None) -> dict:
    """Write the class folders (with ``ferplus``: the FER+ folders) and dataset.json into the existing folder
    ``out``; returns the report."""
    if ferplus:
        return write_ferplus(csv_path, Path(ferplus).expanduser(), out, log=log, md5=md5)
    counts = {s: Counter() for s in SPLITS}  # what was written, per split and class
    skipped = []
    n = -1
    for n, line, row in csv_rows(csv_path):
        try:
            split, _, label, img = _parse(row)
        except (ValueError, IndexError) as e:
            skipped.append((line, str(e)[:120]))
            continue
        (out / split / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(out / split / label / f"row{n:05d}.png", format="PNG")
        counts[split][label] += 1
        if log and (n + 1) % 10000 == 0:
            log(f"converted {n + 1} rows")
    if not any(counts.values()):
        raise FeraError(f"no image was written: {csv_path} has no readable rows")
    fer = {s: dict(sorted(counts[s].items())) for s in SPLITS}
    differences = count_differences(fer, OFFICIAL_COUNTS)
    report = {
        **_source(csv_path, md5), "labels": "fer2013",
        "classes": sorted({c for s in counts.values() for c in s}),
        "counts": {s: dict(sorted(counts[s].items())) for s in SPLITS if counts[s]},
        "rows": n + 1, "fer2013_counts": fer, "official_counts_match": not differences,
        "count_differences": differences, "skipped_rows": _listed(skipped),
        "file_names": "row<N>.png: N is the 0-based data row of the CSV",
    }
    write_json(out / "dataset.json", report)
    return report


def write_ferplus(csv_path: Path, ferplus: Path, out: Path, *, log=None, md5: str | None = None) -> dict:
    """Write Microsoft's FER+ layout (FER2013Train/ FER2013Valid/ FER2013Test/: fer<N>.png and label.csv) and
    dataset.json into the existing folder ``out``; returns the report."""
    votes = read_ferplus(ferplus)
    folder_of = {usage: folder for folder, usage in FERPLUS_FOLDERS.items()}
    label_rows = {f: [] for f in FERPLUS_FOLDERS}
    majority = {f: Counter() for f in FERPLUS_FOLDERS}
    fer_counts = {s: Counter() for s in SPLITS}  # FER-2013's own labels of the readable rows
    skipped, no_votes, seen = [], [], {}
    n = -1
    for n, line, row in csv_rows(csv_path):
        if n >= len(votes):
            raise FeraError(f"{ferplus} has fewer rows ({len(votes)}) than {csv_path.name}: "
                            "they must be the same rows in the same order")
        try:
            split, usage, label, img = _parse(row)
        except (ValueError, IndexError) as e:
            skipped.append((line, str(e)[:120]))
            continue
        fer_counts[split][label] += 1
        fp_usage, name, v = votes[n]
        if fp_usage != usage:
            raise FeraError(f"row {n} is {usage} in {csv_path.name} but {fp_usage} in {ferplus.name}: "
                            "not the same rows in the same order")
        if not name or not any(v):  # Microsoft's generator writes no image for these rows
            no_votes.append(f"row {n}: " + ("no Image name" if not name else "no votes"))
            continue
        if "/" in name or "\\" in name or name.startswith(".") or not name.lower().endswith(".png"):
            raise FeraError(f"{ferplus}, line {n + 2}: Image name {name!r} is not a PNG file name (fer0000000.png)")
        if name in seen:
            raise FeraError(f"{ferplus}, lines {seen[name] + 2} and {n + 2} both name {name}")
        seen[name] = n
        folder = folder_of[usage]
        (out / folder).mkdir(exist_ok=True)
        Image.fromarray(img).save(out / folder / name, format="PNG")
        label_rows[folder].append([name, f"(0, 0, {img.shape[1]}, {img.shape[0]})", *v])
        majority[folder][ferplus_majority_class(v)] += 1
        if log and (n + 1) % 10000 == 0:
            log(f"converted {n + 1} rows")
    if n + 1 != len(votes):
        raise FeraError(f"{ferplus.name} has {len(votes)} rows but {csv_path.name} has {n + 1}: "
                        "they must be the same rows in the same order")
    if not any(label_rows.values()):
        raise FeraError(f"no image was written: {csv_path} has no readable row with FER+ votes")
    if not label_rows["FER2013Train"]:
        raise FeraError(f"no Training row of {csv_path.name} has FER+ votes: FER2013Train/ would be empty")
    for folder, rows in label_rows.items():
        if rows:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)  # quotes the face box, as Microsoft's files do
            write_text(out / folder / LABEL_FILE, buf.getvalue())
    written = [f for f in FERPLUS_FOLDERS if label_rows[f]]
    fer = {s: dict(sorted(fer_counts[s].items())) for s in SPLITS}
    differences = count_differences(fer, OFFICIAL_COUNTS)
    images = {f: len(label_rows[f]) for f in written}
    majority_counts = {f: dict(sorted(majority[f].items())) for f in written}
    fp_differences = ferplus_count_differences(images, majority_counts, FERPLUS_OFFICIAL_IMAGES,
                                               FERPLUS_OFFICIAL_MAJORITY)
    report = {
        **_source(csv_path, md5), "labels": "ferplus", "layout": "ferplus", "ferplus": ferplus.name,
        "folders": {f: FERPLUS_FOLDERS[f] for f in written},
        "counts": images, "majority_counts": majority_counts,
        "rows": n + 1, "fer2013_counts": fer, "official_counts_match": not differences,
        "count_differences": differences,
        "ferplus_official_counts_match": not fp_differences, "ferplus_count_differences": fp_differences,
        "skipped_rows": _listed(skipped),
        "without_votes": {"count": len(no_votes), "examples": no_votes[:_MAX_LISTED]},
        "file_names": "the Image name column of fer2013new.csv (Microsoft's numbering, fer0000000.png ...)",
        "label_files": f"{LABEL_FILE} in each folder, no header: image name, face box, "
                       f"then the votes {', '.join(FERPLUS_HEADER[2:])}",
    }
    write_json(out / "dataset.json", report)
    return report


def _parse(row: dict):
    """(split, Usage, FER-2013 class, pixels) of one CSV row; ValueError or IndexError when it is broken."""
    label = FER2013_CSV_CLASSES[_index(row.get("emotion"))]
    usage = (row.get("Usage") or "Training").strip()
    split = CSV_USAGE.get(usage)
    if split is None:
        raise ValueError(f"Usage {usage!r} is none of {', '.join(CSV_USAGE)}")
    return split, usage, label, csv_pixels(row.get("pixels") or "")


def _source(csv_path: Path, md5: str | None) -> dict:
    md5 = md5 or file_digest(csv_path, "md5")  # the caller may have hashed the file already
    return {"source": csv_path.name, "source_md5": md5, "published_file": PUBLISHED_MD5.get(md5)}


def _listed(rows: list[tuple[int, str]]) -> dict:
    return {"count": len(rows), "examples": [f"line {ln}: {r}" for ln, r in rows[:_MAX_LISTED]]}


def read_ferplus(path: Path) -> list[tuple[str, str, list[int]]]:
    """[(Usage, Image name, 10 vote counts)] per row of fer2013new.csv, checked against FER+'s header."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = tuple(h.strip() for h in next(reader, []))
        if header != FERPLUS_HEADER:
            raise FeraError(f"{path} is not FER+'s fer2013new.csv: expected the header {','.join(FERPLUS_HEADER)}")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                if len(row) < 12:
                    raise ValueError(f"{len(row)} columns, not 12")
                rows.append((row[0].strip(), row[1].strip(), [_index(v) for v in row[2:12]]))
            except (ValueError, IndexError) as e:
                raise FeraError(f"{path}, line {line}: {e}") from None
    return rows


def _index(text) -> int:
    v = int(str(text).strip())
    if v < 0:
        raise ValueError(f"negative value {v}")
    return v


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
