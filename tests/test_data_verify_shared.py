"""`fera data verify` on the real FER-2013 folders in ../shared (skipped when absent)."""
import csv
import json
from collections import defaultdict

import pytest
from conftest import FER2013

from fera.cli import main

pytestmark = [pytest.mark.shared,
              pytest.mark.skipif(not (FER2013 / "train").is_dir(),
                                 reason="../shared/datasets/fer2013 is not here (it sits beside the checkout in CI)")]


def test_verify_finds_the_documented_duplicates_of_fer2013(capsys):
    assert main(["data", "verify", str(FER2013), "--json"]) == 1  # FER-2013 has duplicates: not clean
    rep = json.loads(capsys.readouterr().out)
    assert rep["images"] == 32298 and rep["absent_splits"] == ["test"] and rep["unreadable"] == []
    assert rep["expected"] == "official" and rep["count_differences"] == []
    d = rep["duplicates"]
    assert (d["groups"], d["redundant_files"], d["within"], d["across_splits"]) == (1273, 1532,
                                                                                     {"train": 987, "val": 16}, 270)
    assert d["with_a_copy_in_train"] == {"val": 280} and d["conflicting_labels"] == 47
    documented = defaultdict(set)  # duplicates.csv: group,path
    with open(FER2013 / "duplicates.csv", newline="") as f:
        for row in csv.DictReader(f):
            documented[row["group"]].add(row["path"])
    assert {frozenset(g) for g in rep["duplicate_groups"]} == {frozenset(g) for g in documented.values()}
    assert rep["problems"] == ["1,273 duplicate groups"]
