"""The CLI driven in-process: help, output, and one-line errors with exit code 2."""
import json

import pytest

from fera.cli import main


@pytest.mark.parametrize("cmd", ["data", "train", "evaluate", "models"])
def test_every_command_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert "usage: fera" in capsys.readouterr().out


def test_data_smoke_test_text_and_json(demo_root, capsys):
    assert main(["data", "--data_root", str(demo_root), "--batch_size", "8"]) == 0
    out = capsys.readouterr().out
    assert "4 classes" in out and "happy" in out and "skipped files: 0" in out
    assert "one training batch: x (8, 48, 48, 1) float32" in out
    assert main(["data", "--data_root", str(demo_root), "--json", "--img_size", "32,32"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["test"]["sad"] == 4 and report["batch"]["x_shape"] == [48, 32, 32, 1]  # all 48 training images
    assert 0.0 <= report["batch"]["x_min"] <= report["batch"]["x_max"] <= 1.0
    assert report["class_weights"]["happy"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["data", "--data_root", "/no/such/folder"], "data root not found: /no/such/folder"),
    (["data"], "--data_root is required"),
    (["evaluate", "--model", "/no/model.keras", "--data_root", "x", "--out_dir", "o"], "model not found"),
    (["train", "--data_root", "/no/such/folder", "--out_dir", "OUT"], "data root not found"),
])
def test_bad_input_gives_one_line_and_exit_2(argv, message, capsys, tmp_path):
    argv = [str(tmp_path / "o") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("fera: error: ") and message in err and err.count("\n") == 1


def test_bad_img_size_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["data", "--data_root", "x", "--img_size", "big"])
    assert e.value.code == 2 and "HEIGHT,WIDTH" in capsys.readouterr().err


def test_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "vgg13 (architecture):" in out and "fast (architecture):" in out
