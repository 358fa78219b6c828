"""`fera data convert` and `fera data verify` on a tiny FER-2013 CSV (and FER+ file) made by the test."""
import csv
import json

import numpy as np
import pytest
from fer_csv import FER_CLASSES, LEFT_OUT, PER_CLASS, make_fer_csv
from PIL import Image

from fera.cli import main
from fera.training.config import DataConfig
from fera.training.data import load_dataset
from fera.datasets.fer2013 import ferplus_majority

N_TRAIN = PER_CLASS["Training"] * len(FER_CLASSES)  # good Training rows; row N_TRAIN is the broken one


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("fera: error: "), err
    return err[-1]


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_convert_writes_exact_pngs_in_class_folders_and_checks_the_official_counts(tmp_path, capsys):
    fer, _, _ = make_fer_csv(tmp_path / "src")
    out = tmp_path / "fer"
    assert main(["data", "convert", str(fer), "--to", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["labels"] == "fer2013" and rep["classes"] == sorted(FER_CLASSES)
    assert rep["counts"] == {s: {c: n for c in sorted(FER_CLASSES)}
                             for s, n in (("train", 4), ("val", 2), ("test", 2))}
    assert rep["skipped_rows"]["count"] == 1 and f"line {N_TRAIN + 2}" in rep["skipped_rows"]["examples"][0]
    assert not rep["official_counts_match"] and rep["count_differences"][0].startswith("train: angry 4 (expected 3995)")
    assert rep["published_file"] is None and json.loads((out / "dataset.json").read_text())["counts"] == rep["counts"]
    # row 3 is a Training "happy" image; its PNG holds exactly the CSV's pixels
    with open(fer, newline="") as f:
        pixels = list(csv.DictReader(f))[3]["pixels"]
    with Image.open(out / "train" / "happy" / "row00003.png") as im:
        assert im.mode == "L" and im.size == (48, 48)
        np.testing.assert_array_equal(np.asarray(im).ravel(), np.array(pixels.split(), dtype=np.uint8))
    assert (out / "val" / "angry" / f"row{N_TRAIN + 1:05d}.png").is_file()  # first PublicTest row
    assert not (out / "labels.csv").exists() and not _leftovers(tmp_path)
    ds = load_dataset(DataConfig(data_root=str(out)))  # trainable as it is
    assert ds.counts()["test"]["sad"] == 2 and not ds.val_from_train


def test_ferplus_majority_follows_the_ferplus_rules():
    # votes: neutral happiness surprise sadness anger disgust fear contempt unknown NF
    assert ferplus_majority([6, 0, 1, 1, 0, 0, 0, 0, 2, 0]) == "neutral"  # single votes dropped: 6 of 8
    assert ferplus_majority([4, 0, 0, 1, 3, 2, 0, 0, 0, 0]) == ""  # 4 of 9 is no majority
    assert ferplus_majority([5, 5, 0, 0, 0, 0, 0, 0, 0, 0]) == ""  # a tie is no majority
    assert ferplus_majority([0, 0, 0, 0, 0, 0, 0, 0, 0, 10]) == "NF"
    assert ferplus_majority([3, 0, 0, 0, 0, 0, 0, 0, 7, 0]) == "unknown"


def test_ferplus_conversion_writes_majority_folders_and_the_votes(tmp_path, capsys):
    fer, ferplus, _ = make_fer_csv(tmp_path / "src")
    out = tmp_path / "fp"
    assert main(["data", "convert", str(fer), "--to", str(out), "--ferplus", str(ferplus), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["labels"] == "ferplus" and rep["ferplus_dropped"] == {"contempt": 1, "no majority": 1,
                                                                      "not a face": 1, "unknown": 1}
    assert sum(rep["counts"]["train"].values()) == N_TRAIN - len(LEFT_OUT)
    for i in LEFT_OUT:
        assert not list(out.rglob(f"row{i:05d}.png"))
    with open(out / "labels.csv", newline="") as f:
        labels = {r["path"]: r for r in csv.DictReader(f)}
    assert len(labels) == sum(sum(c.values()) for c in rep["counts"].values())
    row = labels["train/angry/row00000.png"]  # FER label angry: 8 anger and 2 happiness votes
    assert (row["anger"], row["happiness"], row["NF"], row["fer2013_label"]) == ("8", "2", "0", "angry")
    # --contempt keeps FER+'s eighth class
    assert main(["data", "convert", str(fer), "--to", str(tmp_path / "fp8"), "--ferplus", str(ferplus),
                 "--contempt", "--json"]) == 0
    rep8 = json.loads(capsys.readouterr().out)
    assert "contempt" in rep8["classes"] and rep8["ferplus_dropped"].get("contempt") is None
    assert (tmp_path / "fp8" / "train" / "contempt" / f"row{25:05d}.png").is_file()


@pytest.mark.parametrize("case, message", [
    ("short_ferplus", "they must be the same rows in the same order"),
    ("bad_ferplus_header", "is not FER+'s fer2013new.csv"),
    ("not_a_csv", "is not a FER-2013 CSV"),
    ("no_to", "needs the CSV and --to DIR"),
])
def test_convert_refuses_bad_input_in_one_line_and_leaves_nothing(tmp_path, capsys, case, message):
    fer, ferplus, _ = make_fer_csv(tmp_path / "src")
    argv = ["data", "convert", str(fer), "--to", str(tmp_path / "out"), "--ferplus", str(ferplus)]
    if case == "short_ferplus":
        ferplus.write_text("".join(ferplus.read_text().splitlines(keepends=True)[:-3]))
    elif case == "bad_ferplus_header":
        ferplus.write_text(ferplus.read_text().replace("happiness", "happy", 1))
    elif case == "not_a_csv":
        fer.write_text("a,b\n1,2\n")
    else:
        argv = argv[:3]
    assert main(argv) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_a_non_empty_folder_is_replaced_only_with_overwrite(tmp_path, capsys):
    fer, _, _ = make_fer_csv(tmp_path / "src")
    out = tmp_path / "fer"
    (out / "mine").mkdir(parents=True)
    assert main(["data", "convert", str(fer), "--to", str(out)]) == 2
    assert "is not empty" in _one_error_line(capsys) and (out / "mine").is_dir()
    assert main(["data", "convert", str(fer), "--to", str(out), "--overwrite"]) == 0
    assert not (out / "mine").exists() and (out / "train" / "happy").is_dir() and not _leftovers(tmp_path)


def test_verify_finds_count_differences_duplicates_and_unreadable_files(tmp_path, capsys):
    fer, _, _ = make_fer_csv(tmp_path / "src")  # the first PublicTest image is a copy of the first Training one
    out = tmp_path / "fer"
    assert main(["data", "convert", str(fer), "--to", str(out)]) == 0
    capsys.readouterr()
    assert main(["data", "verify", str(out)]) == 1
    text = capsys.readouterr().out
    assert "counts differ from the official counts: train: angry 4 (expected 3995)" in text
    assert "exact duplicates: 1 group (1 redundant file): 1 across splits; 1 val image has a copy in train" in text
    assert text.strip().endswith("not clean: counts differ from the official counts, 1 duplicate group")
    assert main(["data", "verify", str(out), "--expect", "none", "--allow_duplicates"]) == 0
    assert capsys.readouterr().out.strip().endswith("clean")
    (out / "train" / "sad" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["data", "verify", str(out), "--expect", "none", "--allow_duplicates", "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["unreadable"][0].startswith("train/sad/broken.png: ") and rep["problems"] == ["1 unreadable file"]
    assert rep["duplicate_groups"] == [[f"train/angry/row00000.png", f"val/angry/row{N_TRAIN + 1:05d}.png"]]
    assert rep["duplicates"]["with_a_copy_in_train"] == {"val": 1, "test": 0}
    assert main(["data", "verify", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in _one_error_line(capsys)


def test_verify_compares_a_ferplus_folder_with_its_recorded_counts(tmp_path, capsys):
    fer, ferplus, _ = make_fer_csv(tmp_path / "src", duplicate=False)
    out = tmp_path / "fp"
    assert main(["data", "convert", str(fer), "--to", str(out), "--ferplus", str(ferplus)]) == 0
    assert main(["data", "verify", str(out)]) == 0
    assert "counts match the recorded counts" in capsys.readouterr().out
    happy = json.loads((out / "dataset.json").read_text())["counts"]["train"]["happy"]
    next((out / "train" / "happy").iterdir()).unlink()  # a lost file
    assert main(["data", "verify", str(out)]) == 1
    assert f"train: happy {happy - 1} (expected {happy})" in capsys.readouterr().out
