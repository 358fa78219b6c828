"""Tiny FER-2013 and FER+ CSVs made by the tests (random pixels; the real files never ship with fera)."""
import csv
from pathlib import Path

import numpy as np

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # CSV labels 0..6
FERPLUS_COLUMN = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
                  "surprise": "surprise", "neutral": "neutral"}
VOTES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
PER_CLASS = {"Training": 4, "PublicTest": 2, "PrivateTest": 2}
# rows (Training, by index among the 56 good rows) whose FER+ votes leave them out, and why
LEFT_OUT = {1: ("NF", {"NF": 10}), 9: ("unknown", {"unknown": 6, "neutral": 4}),
            17: ("no majority", {"anger": 3, "fear": 3, "sadness": 2, "neutral": 2}),
            25: ("contempt", {"contempt": 7, "neutral": 3})}


def make_fer_csv(folder: Path, *, seed=0, duplicate=True, bad_row=True):
    """fer2013.csv with 4/2/2 images per class in Training/PublicTest/PrivateTest (plus one broken row at the
    end of Training) and the matching fer2013new.csv; returns (csv, ferplus csv, rows) where rows lists
    (usage, FER class, FER+ votes dict) per data row. With ``duplicate`` the first PublicTest image is a
    copy of the first Training image."""
    rng = np.random.default_rng(seed)
    rows, images = [], []
    for usage, n in PER_CLASS.items():
        for i in range(n * len(FER_CLASSES)):
            label = FER_CLASSES[i % len(FER_CLASSES)]
            other = FERPLUS_COLUMN[FER_CLASSES[(i + 3) % len(FER_CLASSES)]]
            votes = {FERPLUS_COLUMN[label]: 8, other: 2}
            if usage == "Training" and i in LEFT_OUT:
                votes = LEFT_OUT[i][1]
            rows.append((usage, label, votes))
            images.append(rng.integers(0, 256, 48 * 48))
        if usage == "Training" and bad_row:
            rows.append((usage, "happy", {"happiness": 10}))
            images.append(None)  # 101 pixel values: not a square image
    if duplicate:
        images[len(FER_CLASSES) * PER_CLASS["Training"] + int(bad_row)] = images[0]
    folder.mkdir(parents=True, exist_ok=True)
    fer, ferplus = folder / "fer2013.csv", folder / "fer2013new.csv"
    with open(fer, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for (usage, label, _), px in zip(rows, images):
            text = " ".join(map(str, px)) if px is not None else " ".join(["7"] * 101)
            w.writerow([FER_CLASSES.index(label), text, usage])
    with open(ferplus, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Usage", "Image name", *VOTES])
        for n, (usage, _, votes) in enumerate(rows):
            name = "" if votes.get("NF") == 10 else f"fer{n:07d}.png"
            w.writerow([usage, name, *[votes.get(v, 0) for v in VOTES]])
    return fer, ferplus, rows
