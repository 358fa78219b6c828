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


@pytest.mark.parametrize("argv, words", [
    (["serve", "--port", "99999"], "argument --port: must be from 1 to 65535 (got 99999)"),
    (["serve", "--port", "-5"], "argument --port: must be from 1 to 65535 (got -5)"),
    (["serve", "--port", "http"], "argument --port: expected a whole number (got 'http')"),
    (["assist", "--max_frames", "-1"], "argument --max_frames: must be at least 1 (got -1)"),
    (["assist", "--max_frames", "0"], "argument --max_frames: must be at least 1 (got 0)"),
    (["assist", "--not_sure_below", "1.5"], "argument --not_sure_below: must be from 0 to 1 (got 1.5)"),
    (["assist", "--not_sure_below", "nan"], "argument --not_sure_below: must be from 0 to 1 (got nan)"),
    (["assist", "--verbosity", "9"], "argument --verbosity: invalid choice: 9"),
    (["data", "--data_root", "x", "--batch_size", "0"], "argument --batch_size: must be at least 1 (got 0)"),
    (["data", "--data_root", "x", "--val_split", "1"], "argument --val_split: must be above 0 and below 1 (got 1)"),
    (["train", "--epochs", "0"], "argument --epochs: must be at least 1 (got 0)"),
    (["train", "--lr", "0"], "argument --lr: must be more than 0 (got 0)"),
    (["train", "--dropout", "1"], "argument --dropout: must be at least 0 and below 1 (got 1)"),
    (["explain", "--image", "x.png"], "the following arguments are required: --model"),
])
def test_out_of_range_options_are_one_line_errors(argv, words, capsys):
    """Every parsing error is one line with the same prefix as every other error, and exit code 2."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1, err
    assert err.startswith("fera: error: ") and words in err and f"see `fera {argv[0]} -h`" in err


@pytest.mark.parametrize("argv", [
    ["assist", "--model", "vgg16", "--source", "src/fera/assets/samples/astronaut.png", "--speech", "off"],
    ["explain", "--model", "vgg16", "--image", "src/fera/assets/samples/astronaut.png"],
    ["evaluate", "--model", "models/vgg16.onnx", "--data_root", "x", "--out_dir", "o"],
])
def test_an_unknown_model_lists_the_shipped_ones(argv, capsys, monkeypatch):
    from conftest import REPO

    monkeypatch.chdir(REPO)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("fera: error: model not found: ") and "(shipped models: fast, vgg13; or give " in err


def test_architectures_are_listed_without_keras_as_the_registry_has_them():
    from fera.commands.models import architectures
    from fera.training.models import _registry, list_models

    listed = architectures()
    assert [n for n, _ in listed] == list_models()
    assert all(doc == _registry._MODELS[n].__doc__.strip().splitlines()[0] for n, doc in listed)


def test_a_reader_that_leaves_ends_the_command_quietly():
    """`fera models | head -1`: the reader closes the pipe; fera stops with SIGPIPE's status, no traceback. The
    read end is closed before fera starts, so its first write always meets a closed pipe."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "fera", "models"], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
