"""What is known about FER-2013 and FER+: the CSV format, official counts, published checksums, FER+ columns
and rules."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fera.errors import FeraError

# FER-2013's CSV labels 0..6, in the dataset's own order, and its Usage column -> fera's split folders.
FER2013_CSV_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CSV_USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}

# Official per-split, per-class image counts of fer2013.csv (Usage Training / PublicTest / PrivateTest).
OFFICIAL_COUNTS = {
    "train": {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830,
              "surprise": 3171},
    "val": {"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "neutral": 607, "sad": 653, "surprise": 415},
    "test": {"angry": 491, "disgust": 55, "fear": 528, "happy": 879, "neutral": 626, "sad": 594, "surprise": 416},
}
# What `fera data verify --expect` compares a tree's counts with (auto: recorded when dataset.json says, else
# official: FER-2013's for class folders, FER+'s for Microsoft's FER+ layout).
EXPECTATIONS = ("auto", "official", "recorded", "none")
# MD5 of the two published CSVs of the Kaggle competition (the same ones torchvision checks).
PUBLISHED_MD5 = {
    "f8428a1edbd21e88f42c73edd2a14f95": "fer2013.csv",  # inside fer2013.tar.gz: emotion,pixels,Usage
    "b114b9e04e6949e5fe8b6a98b3892b1d": "icml_face_data.csv",  # emotion, Usage, pixels
}
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv")
KAGGLE_COMPETITION = "challenges-in-representation-learning-facial-expression-recognition-challenge"
KAGGLE_FILE = "fer2013.tar.gz"
KAGGLE_PAGE = f"https://www.kaggle.com/c/{KAGGLE_COMPETITION}/data"
KAGGLE_RULES = f"https://www.kaggle.com/c/{KAGGLE_COMPETITION}/rules"

# FER+ (github.com/microsoft/FERPlus, fer2013new.csv): same rows as fer2013.csv, 10 votes per image.
FERPLUS_HEADER = ("Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                  "contempt", "unknown", "NF")
FERPLUS_VOTES = FERPLUS_HEADER[2:]
# FER+ emotion columns -> fera's class names (FER-2013's); "unknown" and "NF" (not a face) are no class.
FERPLUS_TO_CLASS = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
                    "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": "contempt"}
# Microsoft's FER+ layout: folder -> the fer2013.csv Usage of its rows.
FERPLUS_FOLDERS = {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}
# An image's majority under FER+'s rule when it has no emotion class (see ferplus_majority_class).
NO_MAJORITY, NOT_AN_EMOTION = "no majority", "unknown / NF"
# Official FER+ image counts per folder (label rows with a PNG, as microsoft/FERPlus's generate_training_data.py
# writes them) and the majority labels of those images under the paper's rule (fera's class names). FER2013Test's
# counts are not known here: a folder absent from these is not compared.
FERPLUS_OFFICIAL_IMAGES = {"FER2013Train": 28558, "FER2013Valid": 3579}
FERPLUS_OFFICIAL_MAJORITY = {
    "FER2013Train": {"neutral": 8733, "happy": 7284, "surprise": 3136, "sad": 3022, "angry": 2098, "fear": 536,
                     "disgust": 116, "contempt": 120, NO_MAJORITY: 3434, NOT_AN_EMOTION: 79},
    "FER2013Valid": {"neutral": 1180, "happy": 862, "surprise": 411, "sad": 348, "angry": 289, "fear": 60,
                     "disgust": 25, "contempt": 16, NO_MAJORITY: 377, NOT_AN_EMOTION: 11},
}


def ferplus_majority(votes: list[int]) -> str:
    """FER+'s majority rule (microsoft/FERPlus src/ferplus.py, "majority" mode): single votes are dropped as
    outliers, then a column wins with more than half of the remaining votes. Returns the winning column
    ("unknown" and "NF" included) or "" when no column has a majority."""
    kept = [v if v > 1 else 0 for v in votes]
    total = sum(kept)
    best = max(range(len(kept)), key=lambda i: kept[i])
    return FERPLUS_VOTES[best] if total and kept[best] > 0.5 * total else ""


def ferplus_majority_class(votes) -> str:
    """The majority of one image's 10 FER+ votes as fera counts it: a class name ("happy", "contempt"),
    ``NO_MAJORITY``, or ``NOT_AN_EMOTION`` when unknown or NF (not a face) wins."""
    winner = ferplus_majority(list(votes))
    return FERPLUS_TO_CLASS.get(winner, NOT_AN_EMOTION if winner else NO_MAJORITY)


def ferplus_count_differences(images: dict[str, int], majority: dict[str, dict[str, int] | None],
                              expected_images: dict[str, int], expected_majority: dict[str, dict[str, int]]
                              ) -> list[str]:
    """One phrase per FER+ folder whose image count or majority counts differ from the expected ones (a folder
    or count missing from either side is not compared): "FER2013Train: 27 images (expected 28), majority
    happy 3 (expected 4)"."""
    out = []
    for folder in dict.fromkeys([*expected_images, *expected_majority]):
        if folder not in images:
            continue
        parts = []
        want = expected_images.get(folder)
        if want is not None and images[folder] != want:
            parts.append(f"{images[folder]} images (expected {want})")
        have, want_m = majority.get(folder), expected_majority.get(folder)
        if have is not None and want_m is not None:
            diffs = [f"{c} {have.get(c, 0)} (expected {want_m.get(c, 0)})" for c in sorted(set(have) | set(want_m))
                     if have.get(c, 0) != want_m.get(c, 0)]
            if diffs:
                parts.append("majority " + ", ".join(diffs[:4] + (["..."] if len(diffs) > 4 else [])))
        if parts:
            out.append(f"{folder}: " + ", ".join(parts))
    return out


def count_differences(counts: dict[str, dict[str, int]], expected: dict[str, dict[str, int]]) -> list[str]:
    """One phrase per split whose per-class counts differ from ``expected`` (splits missing from either are
    left out): "train: disgust 40 (expected 436), total 280 (expected 28709)"."""
    out = []
    for split in expected:
        if split not in counts:
            continue
        have, want = counts[split], expected[split]
        diffs = [f"{c} {have.get(c, 0)} (expected {want.get(c, 0)})" for c in sorted(set(have) | set(want))
                 if have.get(c, 0) != want.get(c, 0)]
        if diffs:
            total = f"total {sum(have.values())} (expected {sum(want.values())})"
            out.append(f"{split}: " + ", ".join(diffs[:4] + (["..."] if len(diffs) > 4 else []) + [total]))
    return out


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV's first line, stripped: fer2013.csv says ``emotion,pixels,Usage``, Kaggle's
    icml_face_data.csv ``emotion, Usage, pixels``. Any file can be asked (undecodable bytes are replaced)."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        return [h.strip() for h in next(csv.reader([f.readline(1 << 16)]), [])]


def csv_rows(path: Path):
    """(data row index, line number, {column: value}) for each row of a FER-2013 CSV (either header);
    FeraError when the file lacks the emotion and pixels columns."""
    import csv

    if not {"emotion", "pixels"} <= set(csv_header(path)):
        raise FeraError(f"{path} is not a FER-2013 CSV: it needs the columns emotion,pixels[,Usage]")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        for n, row in enumerate(reader):
            yield n, reader.line_num, dict(zip(header, row))


def csv_pixels(text: str) -> np.ndarray:
    """A FER-2013 CSV's space-separated pixel values -> a square uint8 array; ValueError if they are not one."""
    px = np.array(text.split(), dtype=np.float32)
    side = int(round(np.sqrt(px.size)))
    if side * side != px.size or side == 0 or px.min() < 0 or px.max() > 255:
        raise ValueError(f"{px.size} pixel values, not a square 8-bit image")
    return px.astype(np.uint8).reshape(side, side)
