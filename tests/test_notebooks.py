"""The notebooks in notebooks/: each runs top to bottom on a tiny dataset built here (nbclient, the
"python3" kernel of this environment), shows what it should, and is committed without outputs."""
import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from fera.demo import build_demo_dataset

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = REPO / "notebooks"
NAMES = ("01_explore_data.ipynb", "02_results.ipynb")
CLASSES = ("happy", "neutral", "sad", "surprise")  # the drawing dataset's 4 of the 7 FER classes


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """The drawing dataset, plus what 01 looks for: a black image, a train image copied into val under
    another class (a leak with a conflicting label) and a duplicates.csv that lists the pair."""
    root = build_demo_dataset(tmp_path_factory.mktemp("nb") / "data",
                              per_class={"train": 12, "val": 4, "test": 4}, seed=1)
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(root / "train" / "sad" / "black.png")
    shutil.copy(root / "train" / "happy" / "happy_0000.png", root / "val" / "sad" / "leaked.png")
    with (root / "duplicates.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("group", "path"), (0, "train/happy/happy_0000.png"), (0, "val/sad/leaked.png")])
    return root


@pytest.fixture
def notebook_env(monkeypatch, tmp_path):
    """The kernel inherits this process's environment (FERA_CACHE_DIR is set by conftest)."""
    for var in ("FERA_RUN", "FERA_MODEL", "FERA_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no ~/.ipython profile is created
    return monkeypatch


def execute(name: str) -> dict:
    """Run a notebook in the notebooks folder; {cell id: (text of its outputs, number of PNG outputs)}."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, startup_timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError (with the traceback) when a cell fails
    outputs = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text, pngs = [], 0
        for out in cell.outputs:
            assert out.output_type != "error", f"{name} [{cell.id}]: {out.get('ename')}: {out.get('evalue')}"
            if out.output_type == "stream":
                text.append(out.text)
            data = out.get("data", {})
            if "text/markdown" in data:  # the tables and notes
                text.append(data["text/markdown"])
            pngs += "image/png" in data
        outputs[cell.id] = ("".join(text), pngs)
    return outputs


def test_explore_data_runs(tiny_root, notebook_env):
    notebook_env.setenv("FERA_DATA", str(tiny_root))
    out = execute("01_explore_data.ipynb")
    assert "from FERA_DATA" in out["config"][0]
    assert all(c in out["load"][0] for c in CLASSES)
    text, pngs = out["class-balance"]
    assert all(f"| {c} | 12 | 4 | 4 |" in text for c in ("happy", "neutral", "surprise")), text
    assert "| sad | 13 | 5 | 4 |" in text and pngs == 1  # + the black image and the leaked copy
    assert out["samples"][1] == 1
    assert "near-constant" in out["image-stats"][0] and out["image-stats"][1] == 1
    assert out["flagged"][0].startswith("1 flagged image") and out["flagged"][1] == 1
    assert "| train ↔ val | 1 | 1 | 1 |" in out["duplicates"][0], out["duplicates"][0]
    assert out["duplicate-examples"][1] == 1
    assert "duplicates.csv: 2 rows in 1 groups" in out["duplicates-csv"][0]


def test_results_runs_on_shipped_model(tiny_root, notebook_env):
    notebook_env.setenv("FERA_DATA", str(tiny_root))
    out = execute("02_results.ipynb")
    assert "7 classes: angry, disgust, fear, happy, neutral, sad, surprise" in out["load-model"][0]
    assert "No learning curves" in out["learning-curves"][0] and out["learning-curves"][1] == 0
    assert re.search(r"val: 17 images of 4 of the model's 7 classes", out["evaluate"][0]), out["evaluate"][0]
    assert out["confusion"][1] == 1
    assert "not in this data" in out["per-class"][0] and all(c in out["per-class"][0] for c in CLASSES)
    assert out["mistakes"][1] == 1
    assert out["gradcam"][1] == 1 and out["gradcam"][0].count("heat on") == len(CLASSES)


def test_results_runs_on_a_run_folder(tiny_root, notebook_env, tmp_path):
    """FERA_RUN: learning curves from history.csv, data from the run's config.json (no FERA_DATA)."""
    from fera.training.config import DataConfig, RunConfig
    from fera.training.modelio import load_keras, save_model

    run = tmp_path / "run"
    run.mkdir()
    model, meta = load_keras("fast")
    save_model(model, run / "best_model.keras", meta)
    (run / "config.json").write_text(json.dumps(RunConfig(data=DataConfig(data_root=str(tiny_root))).to_dict()))
    (run / "metrics.json").write_text(json.dumps({"best_val_accuracy": 0.5, "best_epoch": 2}))
    (run / "history.csv").write_text("epoch,accuracy,loss,val_accuracy,val_loss\n"
                                     "1,0.3,1.6,0.35,1.5\n2,0.45,1.3,0.5,1.2\n3,0.5,1.2,0.48,1.25\n")
    notebook_env.setenv("FERA_RUN", str(run))
    out = execute("02_results.ipynb")
    assert "from the run's config.json" in out["config"][0]
    assert "best_model.keras" in out["load-model"][0]
    assert out["learning-curves"][1] == 1 and "best val accuracy 50.0% at epoch 2 of 3" in out["learning-curves"][0]
    assert "4 of the model's 7 classes" in out["evaluate"][0]
    assert out["gradcam"][1] == 1


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    text = (NOTEBOOKS / name).read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "FERA_DATA" in code[0].source  # the data location is set in the first code cell
    assert str(REPO) not in text and str(Path.home()) not in text  # no paths of this machine
