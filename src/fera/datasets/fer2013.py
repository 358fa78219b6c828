"""What is known about FER-2013 and FER+: official counts, published checksums, FER+ columns and rules."""
from __future__ import annotations

# Official per-split, per-class image counts of fer2013.csv (Usage Training / PublicTest / PrivateTest).
OFFICIAL_COUNTS = {
    "train": {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830,
              "surprise": 3171},
    "val": {"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "neutral": 607, "sad": 653, "surprise": 415},
    "test": {"angry": 491, "disgust": 55, "fear": 528, "happy": 879, "neutral": 626, "sad": 594, "surprise": 416},
}
# What `fera data verify --expect` compares a tree's counts with (auto: recorded when dataset.json says, else
# official).
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


def ferplus_majority(votes: list[int]) -> str:
    """FER+'s majority rule (microsoft/FERPlus src/ferplus.py, "majority" mode): single votes are dropped as
    outliers, then a column wins with more than half of the remaining votes. Returns the winning column
    ("unknown" and "NF" included) or "" when no column has a majority."""
    kept = [v if v > 1 else 0 for v in votes]
    total = sum(kept)
    best = max(range(len(kept)), key=lambda i: kept[i])
    return FERPLUS_VOTES[best] if total and kept[best] > 0.5 * total else ""


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
