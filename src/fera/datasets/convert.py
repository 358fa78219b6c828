"""`fera data convert`: fer2013.csv (and FER+'s fer2013new.csv) -> train/ val/ test/ class folders of PNGs.

Every image keeps its exact pixels (a 48x48 grayscale PNG named ``row<N>.png``, N the 0-based data row
of the CSV, which is also its row in fer2013new.csv). Usage Training -> train/, PublicTest -> val/,
PrivateTest -> test/. With FER+ the folders follow FER+'s majority vote and labels.csv keeps all 10
votes of every written image for `fera train --soft_labels`. The folders are written to a hidden
temporary folder and moved into place at the end, so a failure leaves nothing behind.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from pathlib import Path

from PIL import Image

from fera.training.data import CSV_USAGE, FER2013_CSV_CLASSES, SPLITS, csv_pixels, csv_rows
from fera.datasets.fer2013 import (FERPLUS_HEADER, FERPLUS_TO_CLASS, FERPLUS_VOTES, OFFICIAL_COUNTS, PUBLISHED_MD5,
                                   count_differences, ferplus_majority)
from fera.errors import FeraError
from fera.fileio import atomic_dir, write_json, write_text

_MAX_LISTED = 20  # skipped rows named in dataset.json


def convert(csv_path: str | Path, to: str | Path, *, ferplus: str | Path | None = None, contempt: bool = False,
            overwrite: bool = False, log=None) -> dict:
    """Convert ``csv_path`` into class folders in ``to`` (atomically); returns the report (dataset.json)."""
    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_file():
        raise FeraError(f"CSV not found: {csv_path}")
    if ferplus is not None and not Path(ferplus).expanduser().is_file():
        raise FeraError(f"FER+ label file not found: {ferplus}")
    with atomic_dir(Path(to).expanduser(), overwrite) as tmp:
        report = write_folders(csv_path, tmp, ferplus=ferplus, contempt=contempt, log=log)
    return {**report, "to": str(to)}


def write_folders(csv_path: Path, out: Path, *, ferplus=None, contempt: bool = False, log=None,
                  md5: str | None = None) -> dict:
    """Write the class folders, labels.csv (FER+) and dataset.json into the existing folder ``out``."""
    votes = read_ferplus(Path(ferplus).expanduser()) if ferplus else None
    counts = {s: Counter() for s in SPLITS}  # what was written, per split and class
    fer_counts = {s: Counter() for s in SPLITS}  # FER-2013's own labels of the readable rows
    skipped, dropped, label_rows = [], Counter(), []
    n = -1
    for n, line, row in csv_rows(csv_path):
        try:
            label = FER2013_CSV_CLASSES[_index(row.get("emotion"))]
            usage = (row.get("Usage") or "Training").strip()
            split = CSV_USAGE.get(usage)
            if split is None:
                raise ValueError(f"Usage {usage!r} is none of {', '.join(CSV_USAGE)}")
            img = csv_pixels(row.get("pixels") or "")
        except (ValueError, IndexError) as e:
            skipped.append((line, str(e)[:120]))
            cls = None
        else:
            fer_counts[split][label] += 1
            cls = label
        if votes is not None:
            if n >= len(votes):
                raise FeraError(f"{ferplus} has fewer rows ({len(votes)}) than {csv_path.name}: "
                                "they must be the same rows in the same order")
            fp_usage, v = votes[n]
            if cls is not None and fp_usage != usage:
                raise FeraError(f"row {n} is {usage} in {csv_path.name} but {fp_usage} in {Path(ferplus).name}: "
                                "not the same rows in the same order")
            if cls is not None:
                winner = ferplus_majority(v)
                cls = FERPLUS_TO_CLASS.get(winner) if winner != "contempt" or contempt else None
                if cls is None:
                    dropped[{"": "no majority", "NF": "not a face"}.get(winner, winner)] += 1
        if cls is None:
            continue
        rel = f"{split}/{cls}/row{n:05d}.png"
        (out / split / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(out / rel, format="PNG")
        counts[split][cls] += 1
        if votes is not None:
            label_rows.append([rel, *votes[n][1], label])
        if log and (n + 1) % 10000 == 0:
            log(f"converted {n + 1} rows")
    if votes is not None and n + 1 != len(votes):
        raise FeraError(f"{Path(ferplus).name} has {len(votes)} rows but {csv_path.name} has {n + 1}: "
                        "they must be the same rows in the same order")
    if not any(counts.values()):
        raise FeraError(f"no image was written: {csv_path} has no readable rows")
    if votes is not None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["path", *FERPLUS_VOTES, "fer2013_label"])
        w.writerows(label_rows)
        write_text(out / "labels.csv", buf.getvalue())
    fer = {s: dict(sorted(fer_counts[s].items())) for s in SPLITS}
    differences = count_differences(fer, OFFICIAL_COUNTS)
    md5 = md5 or file_digest(csv_path, "md5")  # the caller may have hashed the file already
    report = {
        "source": csv_path.name, "source_md5": md5, "published_file": PUBLISHED_MD5.get(md5),
        "labels": "ferplus" if votes is not None else "fer2013",
        "classes": sorted({c for s in counts.values() for c in s}),
        "counts": {s: dict(sorted(counts[s].items())) for s in SPLITS if counts[s]},
        "rows": n + 1, "fer2013_counts": fer, "official_counts_match": not differences,
        "count_differences": differences,
        "skipped_rows": {"count": len(skipped), "examples": [f"line {ln}: {r}" for ln, r in skipped[:_MAX_LISTED]]},
        "file_names": "row<N>.png: N is the 0-based data row of the CSV (and of fer2013new.csv)",
    }
    if votes is not None:
        report.update(ferplus=Path(ferplus).name, contempt=contempt, ferplus_dropped=dict(sorted(dropped.items())),
                      labels_file="labels.csv")
    write_json(out / "dataset.json", report)
    return report


def read_ferplus(path: Path) -> list[tuple[str, list[int]]]:
    """[(Usage, 10 vote counts)] per row of fer2013new.csv, checked against FER+'s header."""
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
                rows.append((row[0].strip(), [_index(v) for v in row[2:12]]))
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
