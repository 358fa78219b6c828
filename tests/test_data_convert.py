"""`fera data convert` and `fera data verify` on a tiny FER-2013 CSV (and FER+ file) made by the test."""
import csv
import json

import numpy as np
import pytest
from fer_csv import FER_CLASSES, PER_CLASS, make_fer_csv
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


def _ferplus_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))[1:]


def test_ferplus_conversion_writes_microsofts_layout(tmp_path, capsys):
    fer, ferplus, rows = make_fer_csv(tmp_path / "src")
    lines = ferplus.read_text().splitlines(keepends=True)
    lines[1 + 5] = "Training,fer0000005.png,0,0,0,0,0,0,0,0,0,0\n"  # a named row without votes
    ferplus.write_text("".join(lines))
    out = tmp_path / "fp"
    assert main(["data", "convert", str(fer), "--to", str(out), "--ferplus", str(ferplus)]) == 0
    text = capsys.readouterr().out.strip().splitlines()
    assert text[-1] == f"train with: fera train --data_root {out} --labels crossentropy"
    assert "rows without FER+ votes (not written, as in Microsoft's FER+): 2 (row 1: no Image name, ...)" in text
    rep = json.loads((out / "dataset.json").read_text())
    assert rep["labels"] == "ferplus" and rep["layout"] == "ferplus" and rep["ferplus"] == "fer2013new.csv"
    assert rep["folders"] == {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}
    assert rep["counts"] == {"FER2013Train": N_TRAIN - 2, "FER2013Valid": 14, "FER2013Test": 14}
    assert rep["without_votes"] == {"count": 2, "examples": ["row 1: no Image name", "row 5: no votes"]}
    assert rep["skipped_rows"]["count"] == 1 and f"line {N_TRAIN + 2}" in rep["skipped_rows"]["examples"][0]
    assert rep["rows"] == len(rows) and rep["source_md5"] and not rep["ferplus_official_counts_match"]
    assert rep["majority_counts"]["FER2013Train"] == {"angry": 4, "contempt": 1, "disgust": 3, "fear": 3, "happy": 3,
                                                      "neutral": 4, "no majority": 1, "sad": 3, "surprise": 3,
                                                      "unknown / NF": 1}
    assert sorted(p.name for p in out.iterdir()) == ["FER2013Test", "FER2013Train", "FER2013Valid", "dataset.json"]
    # label.csv: Microsoft's rows, exactly the votes of fer2013new.csv, for every row with votes and an image
    with open(fer, newline="") as f:
        pixels = [r["pixels"] for r in csv.DictReader(f)]
    folder = {"Training": "FER2013Train", "PublicTest": "FER2013Valid", "PrivateTest": "FER2013Test"}
    written = {name: [] for name in folder.values()}
    for n, row in enumerate(_ferplus_rows(ferplus)):
        if row[1] and any(int(v) for v in row[2:]) and n != N_TRAIN:  # N_TRAIN: fer2013.csv's broken row
            written[folder[row[0]]].append((f"{row[1]},\"(0, 0, 48, 48)\"," + ",".join(row[2:]) + "\n", n))
    for name, expected in written.items():
        assert (out / name / "label.csv").read_text() == "".join(line for line, _ in expected)
        assert sorted(p.name for p in (out / name).glob("*.png")) == sorted(line.split(",")[0] for line, _ in expected)
        for line, n in expected:  # the exact pixels of the CSV row, losslessly, named by fer2013new.csv
            with Image.open(out / name / line.split(",")[0]) as im:
                assert im.format == "PNG" and im.mode == "L" and im.size == (48, 48)
                np.testing.assert_array_equal(np.asarray(im).ravel(), np.array(pixels[n].split(), dtype=np.uint8))
    first = 'fer0000000.png,"(0, 0, 48, 48)",0,2,0,0,8,0,0,0,0,0\n'  # FER class angry: 8 anger, 2 happiness votes
    assert (out / "FER2013Train" / "label.csv").read_text().startswith(first)
    assert not (out / "FER2013Train" / "fer0000001.png").exists() and not _leftovers(tmp_path)
    # the loader reads it directly, as Microsoft's layout
    ds = load_dataset(DataConfig(data_root=str(out), labels="crossentropy"))
    assert ds.labels == "crossentropy" and not ds.skipped and ds.counts()["test"]["sad"] == 2
    # --contempt no longer means anything for a conversion: training chooses (fera train --contempt)
    with pytest.raises(SystemExit) as refused:
        main(["data", "convert", str(fer), "--to", str(tmp_path / "fp8"), "--ferplus", str(ferplus), "--contempt"])
    assert refused.value.code == 2 and "unrecognized arguments: --contempt" in capsys.readouterr().err


@pytest.mark.parametrize("case, message", [
    ("short_ferplus", "they must be the same rows in the same order"),
    ("bad_ferplus_header", "is not FER+'s fer2013new.csv"),
    ("other_usage", "row 3 is Training in fer2013.csv but PublicTest in fer2013new.csv"),
    ("bad_name", "fer2013new.csv, line 5: Image name 'sub/fer0000003.png' is not a PNG file name"),
    ("same_name", "fer2013new.csv, lines 4 and 5 both name fer0000002.png"),
    ("late_failure", "no Training row of fer2013.csv has FER+ votes"),
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
    elif case in ("other_usage", "bad_name", "same_name"):
        lines = ferplus.read_text().splitlines(keepends=True)
        old, new = {"other_usage": ("Training", "PublicTest"), "bad_name": (",fer", ",sub/fer"),
                    "same_name": ("3.png", "2.png")}[case]
        lines[1 + 3] = lines[1 + 3].replace(old, new, 1)
        ferplus.write_text("".join(lines))
    elif case == "late_failure":  # every image is written before this is found: nothing may stay
        lines = ferplus.read_text().splitlines(keepends=True)
        ferplus.write_text("".join(l if not l.startswith("Training") else "Training,,0,0,0,0,0,0,0,0,0,0\n"
                                   for l in lines))
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


def test_verify_compares_a_ferplus_root_with_its_recorded_counts(tmp_path, capsys):
    fer, ferplus, _ = make_fer_csv(tmp_path / "src", duplicate=False)
    out = tmp_path / "fp"
    assert main(["data", "convert", str(fer), "--to", str(out), "--ferplus", str(ferplus)]) == 0
    capsys.readouterr()
    assert main(["data", "verify", str(out)]) == 0
    text = capsys.readouterr().out
    assert "(Microsoft's FER+ layout)" in text and "counts match the recorded counts" in text
    assert text.strip().endswith("clean")
    assert main(["data", "verify", str(out), "--expect", "official"]) == 1
    assert f"FER2013Train: {N_TRAIN - 1} images (expected 28558)" in capsys.readouterr().out
    (out / "FER2013Train" / "fer0000003.png").unlink()  # a lost file: Training "happy", 8 happiness votes
    assert main(["data", "verify", str(out), "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["count_differences"] == [f"FER2013Train: {N_TRAIN - 2} images (expected {N_TRAIN - 1}), "
                                        "majority happy 2 (expected 3)"]
    assert rep["rows_without_png"] == {"count": 1, "examples": ["FER2013Train/fer0000003.png"]}
    assert rep["problems"] == ["1 label.csv row without a PNG", "counts differ from the recorded counts"]
