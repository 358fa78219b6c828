"""Temperature scaling and calibration error: synthetic checks, then `fera calibrate` on a tiny run."""
import json

import numpy as np
import pytest

from fera.training.calibrate import calibration_report, fit_temperature, reliability
from fera.inference import calibrate


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _overconfident(n=20000, k=7, true_t=2.5, seed=0):
    """Labels drawn from softmax(z / true_t) but the model reports softmax(z): overconfident by true_t."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, k))
    truth = _softmax(z / true_t)
    y = np.array([rng.choice(k, p=p) for p in truth])
    return _softmax(z).astype(np.float32), y


def test_fit_temperature_recovers_the_true_temperature():
    probs, y = _overconfident()
    assert fit_temperature(probs, y) == pytest.approx(2.5, rel=0.05)


def test_calibration_lowers_ece_and_nll_and_keeps_argmax():
    probs, y = _overconfident()
    rep = calibration_report(probs, y)
    assert rep["ece_before"] > 0.1 and rep["ece_after"] < 0.02
    assert rep["nll_after"] < rep["nll_before"]
    after = calibrate(probs, rep["temperature"])
    np.testing.assert_array_equal(after.argmax(1), probs.argmax(1))
    np.testing.assert_allclose(after.sum(1), 1.0, atol=1e-5)
    assert sum(b["count"] for b in rep["bins_after"]) == len(y)


def test_temperature_one_is_identity_and_ece_of_a_perfect_model_is_zero():
    p = np.array([[0.7, 0.2, 0.1]] * 10, dtype=np.float32)
    assert calibrate(p, 1.0) is p
    y = np.array([0] * 7 + [1] * 3)  # 70% right at 70% confidence
    assert reliability(p, y)["ece"] == pytest.approx(0.0, abs=1e-6)
    assert reliability(p, np.zeros(10, int))["ece"] == pytest.approx(0.3, abs=1e-6)


@pytest.mark.train
@pytest.mark.backends
def test_fera_calibrate_updates_the_model_files_and_writes_the_report(trained_run, tmp_path, capsys):
    import shutil

    from fera.cli import main
    from fera.training.modelio import read_meta

    run = shutil.copytree(trained_run, tmp_path / "run")  # calibrate rewrites the model files: the shared run stays
    assert read_meta(run / "best_model.keras")["temperature"] == 1.0
    assert main(["calibrate", "--model", str(run), "--json"]) == 0  # data_root comes from the run's config
    rep = json.loads(capsys.readouterr().out)
    assert rep["num_images"] == 16 and rep["temperature"] > 0
    for f in ("best_model.keras", "best_model.h5"):
        assert read_meta(run / f)["temperature"] == pytest.approx(rep["temperature"])
    saved = json.loads((run / "calibration.json").read_text())
    assert saved["split"] == "val" and saved["nll_after"] <= saved["nll_before"] + 1e-6
    assert (run / "reliability.png").stat().st_size > 1000
    assert read_meta(trained_run / "best_model.keras")["temperature"] == 1.0  # the shared run is untouched


def test_calibrate_without_a_model_is_a_one_line_error(capsys):
    from fera.cli import main

    assert main(["calibrate"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
