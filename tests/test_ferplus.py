"""FER+ in Microsoft's layout (datasets/ferplus.py): the paper's four label schemes on hand-made votes, label.csv
errors, the loader's skipped files, and `fera data` / `fera data verify` on tiny FER+ roots made here."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from fera.cli import main
from fera.datasets import ferplus
from fera.errors import FeraError

# vote columns: neutral happiness surprise sadness anger disgust fear contempt unknown NF
VOTES = {
    "A": [6, 3, 1, 0, 0, 0, 0, 0, 0, 0],  # the single surprise vote is dropped: 6 of 9 and 3 of 9
    "B": [4, 3, 3, 0, 0, 0, 0, 0, 0, 0],  # no majority (4 of 10); the tie at 3 is taken together
    "C": [3, 3, 2, 2, 0, 0, 0, 0, 0, 0],  # the tie at 2 makes 4 classes: too many for crossentropy
    "D": [2, 2, 2, 2, 2, 0, 0, 0, 0, 0],  # 5 classes at once; none holds 30%
    "E": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # single votes only: nothing is left
    "F": [3, 0, 0, 0, 0, 0, 0, 0, 7, 0],  # unknown on top
    "G": [2, 0, 0, 0, 0, 0, 0, 8, 0, 0],  # contempt on top
    "H": [5, 0, 0, 0, 0, 0, 0, 3, 0, 2],  # contempt second: without the 8th class its share is removed
    "I": [6, 0, 0, 0, 0, 0, 0, 0, 0, 4],  # not-a-face after a class: crossentropy stops there and leaves it out
    "J": [5, 3, 2, 0, 0, 0, 0, 0, 0, 0],  # 5 of 10 is exactly half: no majority
    "K": [5, 0, 0, 0, 0, 0, 0, 0, 5, 0],  # tied with unknown: crossentropy keeps 5 of 10 (<= 50%); multi_target 10
    "L": [5, 2, 2, 0, 0, 0, 0, 0, 0, 1],  # of 9: 2 is under 30%; crossentropy takes the tie at 2 to pass 75%
}
# the paper's targets (fera's class names), by hand from its rules; absent: the image is dropped
THIRDS, NINTHS = {"neutral": 2 / 3, "happy": 1 / 3}, {"neutral": 5 / 9, "happy": 2 / 9, "surprise": 2 / 9}
EXPECTED = {
    "majority": {"A": {"neutral": 1}, "G": {"contempt": 1}, "I": {"neutral": 1}, "L": {"neutral": 1}},
    "crossentropy": {"A": THIRDS, "B": {"neutral": .4, "happy": .3, "surprise": .3}, "G": {"contempt": 1},
                     "H": {"neutral": 5 / 8, "contempt": 3 / 8}, "I": {"neutral": 1},
                     "J": {"neutral": 5 / 8, "happy": 3 / 8}, "L": NINTHS},
    "multi_target": {"A": THIRDS, "B": {"neutral": .4, "happy": .3, "surprise": .3}, "C": {"neutral": .5, "happy": .5},
                     "G": {"contempt": 1}, "H": {"neutral": 5 / 8, "contempt": 3 / 8}, "I": {"neutral": 1},
                     "J": {"neutral": 5 / 8, "happy": 3 / 8}, "K": {"neutral": 1}, "L": {"neutral": 1}},
}
EXPECTED["probability"] = EXPECTED["crossentropy"]  # the same distribution; a class is drawn from it when used


def _without_contempt(target: dict) -> dict | None:
    """7 classes: an image whose target peaks at contempt is dropped, and contempt's share of the others removed."""
    if max(target, key=target.get) == "contempt":
        return None
    rest = {c: p for c, p in target.items() if c != "contempt"}
    return {c: p / sum(rest.values()) for c, p in rest.items()}


@pytest.mark.parametrize("contempt", [False, True], ids=["7 classes", "8 classes"])
@pytest.mark.parametrize("scheme", ferplus.SCHEMES)
def test_each_scheme_gives_the_papers_targets(scheme, contempt):
    names = ferplus.class_names(contempt)
    assert names == sorted(["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
                           + ["contempt"] * contempt)
    rows = list(VOTES)
    keep, dist = ferplus.targets(np.array([VOTES[r] for r in rows], np.float64), scheme, contempt)
    expected = {r: t if contempt else _without_contempt(t) for r, t in EXPECTED[scheme].items()}
    expected = {r: t for r, t in expected.items() if t is not None}
    assert [rows[i] for i in keep] == [r for r in rows if r in expected]
    assert dist.shape == (len(expected), len(names)) and dist.dtype == np.float32
    for row, target in zip(dist, expected.values()):
        np.testing.assert_allclose(row, [target.get(c, 0.0) for c in names], atol=1e-6)
    if scheme == "multi_target":  # 1 for each kept class, smoothed by epsilon
        eps = ferplus.MULTI_TARGET_EPSILON
        np.testing.assert_allclose(ferplus.multi_target(dist), np.where(dist > 0, 1.0, eps), atol=1e-6)


def make_ferplus_root(root, folders=None, seed=0):
    """Random 48x48 PNGs and Microsoft's label.csv rows: folders = {folder: [10 votes per image]}."""
    rng = np.random.default_rng(seed)
    folders = folders or {"FER2013Train": [VOTES["A"], VOTES["B"], VOTES["G"], [0, 8, 2, 0, 0, 0, 0, 0, 0, 0],
                                           [0, 0, 0, 8, 2, 0, 0, 0, 0, 0], VOTES["F"]],
                          "FER2013Valid": [VOTES["A"], [0, 8, 2, 0, 0, 0, 0, 0, 0, 0], VOTES["J"]]}
    n = 0
    for folder, votes in folders.items():
        (root / folder).mkdir(parents=True)
        rows = []
        for v in votes:
            name = f"fer{n:07d}.png"
            n += 1
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / folder / name)
            rows.append([name, "(0, 0, 48, 48)", *v])
        with open(root / folder / "label.csv", "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
    return root


def test_read_labels_reads_microsofts_rows(tmp_path):
    root = make_ferplus_root(tmp_path / "fp")
    text = (root / "FER2013Train" / "label.csv").read_text()
    assert text.startswith('fer0000000.png,"(0, 0, 48, 48)",6,3,1,0,0,0,0,0,0,0\n')
    rows = ferplus.read_labels(root / "FER2013Train" / "label.csv")
    assert [n for n, _ in rows] == [f"fer{i:07d}.png" for i in range(6)]
    np.testing.assert_array_equal(rows[2][1], VOTES["G"])
    assert ferplus.is_ferplus_root(root) and not ferplus.is_ferplus_root(root / "FER2013Train")
    assert ferplus.is_split_folder(root / "FER2013Valid")


@pytest.mark.parametrize("bad_row, says", [
    ('fer0000001.png,"(0, 0, 48, 48)",4,0,0,1,3,2,0,0,0', "11 columns, expected 12"),
    ('fer0000001.png,"(0, 0, 48, 48)",4,0,0,x,3,2,0,0,0,0', "could not convert"),
    ('fer0000001.png,"(0, 0, 48, 48)",4,0,0,-1,3,2,0,0,0,0', "not negative"),
    ('fer0000001.png,"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,0,0', "no votes"),
    ('../fer0000001.png,"(0, 0, 48, 48)",4,0,0,1,3,2,0,0,0,0', "bad image name"),
])
def test_a_malformed_row_is_one_line_naming_the_file_and_the_line(tmp_path, capsys, bad_row, says):
    root = make_ferplus_root(tmp_path / "fp")
    label = root / "FER2013Train" / "label.csv"
    lines = label.read_text().splitlines()
    label.write_text("\n".join([lines[0], bad_row, *lines[2:]]) + "\n")
    with pytest.raises(FeraError) as e:
        ferplus.read_labels(label)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{label}, line 2: ") and says in message
    assert main(["data", "--data_root", str(root)]) == 2  # the loader says the same, in one line
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"fera: error: {message}"


def test_the_loader_skips_and_counts_pngs_without_a_row_and_rows_without_a_png(tmp_path):
    from fera.training.config import DataConfig
    from fera.training.data import load_dataset

    root = make_ferplus_root(tmp_path / "fp")
    (root / "FER2013Train" / "fer0000003.png").unlink()  # a row without its PNG
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(root / "FER2013Valid" / "fer0000099.png")  # a PNG, no row
    (root / "FER2013Valid" / "fer0000098.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # no row either
    votes = ferplus.load_votes(root, (48, 48), lambda p, size: np.asarray(Image.open(p).convert("L")))
    assert sorted(votes.skipped) == [("FER2013Train/fer0000003.png", "in label.csv but no such file"),
                                     ("FER2013Valid/fer0000098.png", "no row in FER2013Valid/label.csv"),
                                     ("FER2013Valid/fer0000099.png", "no row in FER2013Valid/label.csv")]
    assert len(votes.splits["train"].votes) == 5 and len(votes.splits["val"].votes) == 3
    ds = load_dataset(DataConfig(data_root=str(root), labels="crossentropy", use_cache=False))
    assert len(ds.skipped) == 3 and {f for f, _ in ds.skipped} == {f for f, _ in votes.skipped}
    # train: A, B and G (contempt, dropped with 7 classes), happy, sad, F (unknown, dropped); fer0000003 is gone
    assert ds.counts()["train"] == {"angry": 0, "disgust": 0, "fear": 0, "happy": 0, "neutral": 2, "sad": 1,
                                    "surprise": 0}
    assert ds.splits["train"].soft is not None and ds.splits["val"].soft is None  # val: majority labels
    assert ds.counts()["val"]["neutral"] == 1 and ds.counts()["val"]["happy"] == 1  # J has no majority


def test_fera_data_reports_a_ferplus_root(tmp_path, capsys):
    root = make_ferplus_root(tmp_path / "fp")
    assert main(["data", "--data_root", str(root), "--labels", "crossentropy", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["labels"] == "crossentropy" and rep["classes"] == ferplus.class_names(False)
    assert rep["counts"]["train"] == {"angry": 0, "disgust": 0, "fear": 0, "happy": 1, "neutral": 2, "sad": 1,
                                      "surprise": 0}
    assert rep["counts"]["val"] == {"angry": 0, "disgust": 0, "fear": 0, "happy": 1, "neutral": 1, "sad": 0,
                                    "surprise": 0}
    assert rep["left_out_by_label_rules"] == {"train": 2, "val": 1}  # G (contempt) and F (unknown); J
    assert rep["skipped"]["count"] == 0 and rep["batch"]["y_shape"] == [4, 7]
    assert main(["data", "--data_root", str(root), "--labels", "crossentropy", "--contempt", "--json"]) == 0
    rep8 = json.loads(capsys.readouterr().out)
    assert rep8["counts"]["train"]["contempt"] == 1 and rep8["left_out_by_label_rules"]["train"] == 1


def test_verify_a_clean_ferplus_root_and_one_with_problems(tmp_path, capsys):
    root = make_ferplus_root(tmp_path / "fp")
    assert main(["data", "verify", str(root), "--expect", "none"]) == 0
    text = capsys.readouterr().out
    assert "9 images in FER2013Train, FER2013Valid (Microsoft's FER+ layout); FER2013Test/ absent" in text
    assert "FER2013Train: 6 PNGs, 6 label.csv rows; majority: contempt 1, happy 1, neutral 1, no majority 1, sad 1, " \
           "unknown / NF 1" in text
    assert "label.csv rows without a PNG: 0" in text and "PNGs without a row: 0" in text
    assert text.strip().endswith("clean")
    # without a dataset.json, auto compares with the official FER+ counts (FER2013Test's is not known)
    assert main(["data", "verify", str(root), "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["layout"] == "ferplus" and rep["expected"] == "official"
    assert rep["count_differences"][0].startswith("FER2013Train: 6 images (expected 28558), majority angry 0 "
                                                  "(expected 2098)")
    assert rep["problems"] == ["counts differ from the official counts"]
    # a lost PNG, a PNG without a row, an exact duplicate across folders
    (root / "FER2013Train" / "fer0000004.png").unlink()
    (root / "FER2013Valid" / "extra.png").write_bytes((root / "FER2013Train" / "fer0000000.png").read_bytes())
    assert main(["data", "verify", str(root), "--expect", "none"]) == 1
    text = capsys.readouterr().out
    assert "label.csv rows without a PNG: 1 (FER2013Train/fer0000004.png)" in text
    assert "PNGs without a row: 1 (FER2013Valid/extra.png)" in text
    assert "exact duplicates: 1 group (1 redundant file): 1 across splits; 1 FER2013Valid image has a copy in " \
           "FER2013Train; 0 groups with conflicting labels" in text  # extra.png has no label
    assert text.strip().endswith("not clean: 1 label.csv row without a PNG, 1 PNG without a label.csv row, "
                                 "1 duplicate group")
    # a malformed row: one line naming the file and the line, and a problem, not a traceback
    label = root / "FER2013Valid" / "label.csv"
    label.write_text(label.read_text().replace(",0,0,0,0,0,0,0\n", ",0,0,0,0,0,0\n", 1))
    assert main(["data", "verify", str(root), "--expect", "none", "--allow_duplicates", "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["label_errors"] == [f"{label}, line 1: 11 columns, expected 12 (name, face box, 10 vote counts)"]
    assert rep["label_rows"]["FER2013Valid"] is None and rep["majority_counts"]["FER2013Valid"] is None
    assert rep["problems"] == ["malformed FER2013Valid/label.csv", "1 label.csv row without a PNG"]
    assert main(["data", "verify", str(root), "--expect", "none", "--allow_duplicates"]) == 1
    assert f"bad label.csv: {label}, line 1: 11 columns" in capsys.readouterr().out
    # --expect recorded needs the dataset.json of a conversion
    assert main(["data", "verify", str(root), "--expect", "recorded"]) == 2
    assert "fera data convert --ferplus" in capsys.readouterr().err
