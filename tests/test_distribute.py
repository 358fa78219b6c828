"""`fera train --distribute` (fera.training.distribute): data-parallel training with Keras' DataParallel on JAX, on
the CPU. The trainings run in subprocesses under KERAS_BACKEND=jax with two simulated devices
(XLA_FLAGS=--xla_force_host_platform_device_count=2), or as two processes on loopback; they need JAX (the
`distribute` extra) and are skipped without it. `pytest -m distribute` runs them."""
import contextlib
import csv
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, free_port

from fera.cli import main

pytestmark = [pytest.mark.train, pytest.mark.distribute]

HAS_JAX = importlib.util.find_spec("jax") is not None
needs_jax = pytest.mark.skipif(not HAS_JAX, reason="JAX is not installed: pip install -e '.[distribute]'")
RUN_S = 600  # the most one tiny training subprocess may take (about 60 s on 2 busy cores, most of it start-up)
ARTIFACTS = ["best_model.h5", "best_model.keras", "accuracy.png", "loss.png", "history.csv",
             "classification_report.json", "confusion_matrix.png", "metrics.json", "label_map.json",
             "config.json", "class_weights.json"]
# The fast model on 32x32 faces, 2 epochs, batch 16: 3 training steps of 16 and one validation batch of 16 an epoch,
# so no batch is cut on 2 devices and the runs see the very same images in the very same order. The learning rate
# is 1e-4 because this training is chaotic: float32 rounding (the gradient of 2 x 8 images summed in another order,
# then all-reduced) grows fast, and a one-device run whose initial weights are perturbed by 1e-7 (relative) ends
# as far from the unperturbed one as the two-device run does (measured on seed 1: 7.5e-4 and 8.9e-4 at lr 1e-4,
# 1e-2 and 1.1e-2 at the default 1e-3).
TRAIN = ["--model", "fast", "--img_size", "32,32", "--epochs", "2", "--batch_size", "16", "--lr", "1e-4",
         "--verbose", "2"]
# How far the loss curves (loss and val_loss per epoch, relative) of one device and of --distribute may differ:
# measured with these settings on seeds 1, 3, 5, 7 and 42 (42 is the tests'): at most 1.3e-5 after epoch 1 and
# 8.9e-4 after epoch 2 (seed 1; the others 1.2e-4 or less). 5e-3 is about 5x the largest.
RTOL = 5e-3


def _env(tmp_path, devices: int = 2, **extra) -> dict:
    return {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
            "PYTHONPATH": str(REPO / "src"), "FERA_CACHE_DIR": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2",
            **extra}


def _fera(args, env, log_path, timeout=RUN_S) -> subprocess.CompletedProcess:
    """`fera ARGS` in a subprocess (stderr to log_path); killed if it outlives ``timeout``."""
    with open(log_path, "w") as err:
        try:
            return subprocess.run([sys.executable, "-m", "fera.cli", *args], env=env, stdout=subprocess.DEVNULL,
                                  stderr=err, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"fera {' '.join(args)} ran past {timeout} s; its stderr ends:\n{_tail(log_path)}")


def _tail(path, n=3000) -> str:
    return open(path).read()[-n:] if os.path.exists(path) else "(no stderr)"


def _train(demo_root, out, env, *more):
    log = out.parent / f"{out.name}.stderr"
    run = _fera(["train", "--data_root", str(demo_root), "--out_dir", str(out), *TRAIN, *more], env, log)
    assert run.returncode == 0, f"exit code {run.returncode}; stderr ends:\n{_tail(log)}"
    return out


def _history(out) -> list[dict]:
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(open(out / "history.csv"))]


def _same_curve(one, other):
    """The loss curves of two runs agree within RTOL (accuracies within one image of the 48 and 16)."""
    a, b = _history(one), _history(other)
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b]
    for ra, rb in zip(a, b):
        for key in ("loss", "val_loss"):
            assert rb[key] == pytest.approx(ra[key], rel=RTOL), (key, ra, rb)
        assert abs(rb["accuracy"] - ra["accuracy"]) <= 1 / 48 + 1e-6 and \
            abs(rb["val_accuracy"] - ra["val_accuracy"]) <= 1 / 16 + 1e-6, (ra, rb)
        assert rb["learning_rate"] == pytest.approx(ra["learning_rate"])


@pytest.fixture(scope="module")
def one_device(demo_root, tmp_path_factory):
    """The reference: the same training on JAX without --distribute (the same XLA_FLAGS: JAX uses its first device)."""
    tmp = tmp_path_factory.mktemp("one")
    return _train(demo_root, tmp / "run", _env(tmp))


@pytest.fixture(scope="module")
def two_devices(demo_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two")
    return _train(demo_root, tmp / "run", _env(tmp), "--distribute")


# ---- without JAX: the options and the data split


def test_distribute_needs_the_jax_backend(demo_root, tmp_path, capsys):
    import keras

    if keras.backend.backend() == "jax":
        pytest.skip("this test process runs on JAX; the check is for the other backends")
    out = tmp_path / "run"
    code = main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast", "--distribute"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0, err
    assert err.startswith("fera: error: --distribute needs KERAS_BACKEND=jax") and "Traceback" not in err
    assert not out.exists()  # refused before anything is written


def test_launch_options_need_distribute(demo_root, tmp_path, capsys):
    for option, value in (("--process_id", "1"), ("--num_processes", "2"), ("--coordinator", "127.0.0.1:1234")):
        code = main(["train", "--data_root", str(demo_root), "--out_dir", str(tmp_path / "run"), option, value])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err == f"fera: error: {option} only works with --distribute", err
    with pytest.raises(SystemExit) as e:
        main(["train", "--data_root", str(demo_root), "--coordinator", "no-port", "--distribute"])
    assert e.value.code == 2 and "expected HOST:PORT" in capsys.readouterr().err


def test_each_process_gets_its_rows_of_every_global_batch():
    from fera.training.augment import Batches
    from fera.training.distribute import Shards

    n, x = 21, np.arange(21 * 4 * 4, dtype=np.uint8).reshape(21, 4, 4, 1)
    y = np.arange(n) % 3
    batches = Batches(x, y, 3, 8, seed=3, shuffle=True, class_weight={0: 1.0, 1: 2.0, 2: 3.0})
    batches.set_epoch(2)
    # 4 devices over 2 processes: batches of 8, 8 and 5 -> 4 (one image of the epoch left out), 2 rows a device
    shards = [Shards(batches, devices=4, processes=2, process_id=p) for p in (0, 1)]
    assert [len(s) for s in shards] == [3, 3] and [shards[0].rows(i) for i in range(3)] == [8, 8, 4]
    for i in range(3):
        whole = batches[i]
        parts = [s[i] for s in shards]
        assert all(len(p) == 3 for p in parts)  # inputs, targets, sample weights
        for k in range(3):
            np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), whole[k][:shards[0].rows(i)])
    # one process, 2 devices: 17 = 8 + 8 + 1, the last batch of 1 cannot be split and is left out
    one = Shards(Batches(x[:17], y[:17], 3, 8), devices=2)
    assert len(one) == 2 and [len(one[i][0]) for i in range(2)] == [8, 8]


# ---- on JAX: two simulated devices, kill and resume, two processes


@needs_jax
def test_two_devices_follow_the_one_device_curve(one_device, two_devices):
    _same_curve(one_device, two_devices)
    for name in ARTIFACTS:
        assert (two_devices / name).is_file(), name
    m = json.loads((two_devices / "metrics.json").read_text())
    assert m["backend"] == "jax" and m["epochs_run"] == 2
    assert m["distribution"] == {"distributed": True, "devices": 2, "processes": 1, "local_devices": 2,
                                 "process_id": 0, "device_kind": "cpu", "coordinator": None, "images_per_device": 8}
    assert json.loads((one_device / "metrics.json").read_text())["distribution"] == {
        "distributed": False, "devices": 1, "processes": 1}
    cfg = json.loads((two_devices / "config.json").read_text())
    assert cfg["train"]["distribute"] is True and cfg["data"]["batch_size"] == 16  # the global batch
    assert cfg["train"]["process_id"] is None and cfg["distribution"]["devices"] == 2
    assert "distribute: 2 cpu devices; global batch 16, 8 images per device" in _tail(
        two_devices.parent / "run.stderr", 100_000)


@needs_jax
def test_a_batch_size_that_does_not_split_is_one_clear_line(demo_root, tmp_path):
    out, log = tmp_path / "run", tmp_path / "stderr"
    run = _fera(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast", "--distribute",
                 "--batch_size", "15"], _env(tmp_path), log)
    last = _tail(log).strip().splitlines()[-1]
    assert run.returncode == 2 and "Traceback" not in _tail(log, 100_000), _tail(log)
    assert last == ("fera: error: --batch_size 15 (images per step over every device) does not split over 2 "
                    "devices: use a multiple of 2, e.g. 14 or 16")


@contextlib.contextmanager
def _waiting_in_epoch_2(demo_root, out, env, wait_s=600, report_s=RUN_S):
    """test_train's CHILD (`fera train` that says on a pipe when epoch 1 is saved, then waits in epoch 2 for a
    signal), here with --distribute on JAX's two devices; yields the process once it has said so."""
    from test_train import CHILD

    read_fd, write_fd = os.pipe()
    err_path = out.parent / f"{out.name}.stderr"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(write_fd), str(wait_s), "train", "--data_root",
                                 str(demo_root), "--out_dir", str(out), *TRAIN, "--epochs", "50", "--distribute"],
                                env=env, stdout=subprocess.DEVNULL, stderr=err, pass_fds=(write_fd,))
    os.close(write_fd)
    try:
        ready = select.select([read_fd], [], [], report_s)[0]
        said = os.read(read_fd, 100).decode() if ready else ""
        assert said == "epoch 1 saved\n", (f"the run never reported epoch 1 saved within {report_s} s (it said "
                                           f"{said!r}, exit code {proc.poll()}); its stderr ends:\n{_tail(err_path)}")
        yield proc
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            proc.kill()
        proc.wait(60)


@needs_jax
def test_resume_after_kill_on_two_devices(demo_root, tmp_path):
    out, env = tmp_path / "killed", _env(tmp_path)
    with _waiting_in_epoch_2(demo_root, out, env) as proc:
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(60) == -signal.SIGKILL
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1 and not state["finished"] and state["distribution"]["devices"] == 2
    log = tmp_path / "resume.stderr"
    run = _fera(["train", "--out_dir", str(out), "--resume", "--epochs", "3", "--verbose", "2"], env, log)
    assert run.returncode == 0, _tail(log)
    assert "resuming after epoch 1" in _tail(log, 100_000) and "distribute: 2 cpu devices" in _tail(log, 100_000)
    assert [int(r["epoch"]) for r in _history(out)] == [1, 2, 3]
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["finished"] and state["epoch"] == 3
    for name in ARTIFACTS:
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["epochs_run"] == 3 and m["distribution"]["devices"] == 2 and 0 <= m["best_val_accuracy"] <= 1


def _cpu_collectives() -> bool:
    if not HAS_JAX:
        return False
    import jax

    return hasattr(jax.config, "jax_cpu_collectives_implementation")  # gloo: JAX 0.4.27 and later


@needs_jax
@pytest.mark.skipif(not _cpu_collectives(), reason="this JAX has no CPU collectives across processes (gloo)")
def test_two_processes_on_loopback_train_one_run(demo_root, one_device, tmp_path):
    out, port = tmp_path / "run", free_port()
    env = _env(tmp_path, devices=1, FERA_COORDINATOR=f"127.0.0.1:{port}", FERA_NUM_PROCESSES="2")
    procs, logs, scratch = [], [tmp_path / f"process{i}.stderr" for i in (0, 1)], tmp_path / "tmp1"
    scratch.mkdir()  # process 1's temporary folder goes here (TMPDIR), so the test can see it removed
    try:
        for i in (0, 1):  # the same command; the id from the option for one and the environment for the other
            more = ["--process_id", "0"] if i == 0 else []
            own = {**env, "FERA_PROCESS_ID": "1", "TMPDIR": str(scratch)} if i else env
            with open(logs[i], "w") as err:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "fera.cli", "train", "--data_root", str(demo_root), "--out_dir", str(out),
                     *TRAIN, "--distribute", *more], env=own, stdout=subprocess.DEVNULL, stderr=err))
        codes = [p.wait(RUN_S) for p in procs]
    except subprocess.TimeoutExpired:
        pytest.fail(f"the two processes ran past {RUN_S} s; process 0's stderr ends:\n{_tail(logs[0])}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(60)
    assert codes == [0, 0], f"exit codes {codes}; stderr ends:\n{_tail(logs[0])}\n---\n{_tail(logs[1])}"
    _same_curve(one_device, out)
    for name in ARTIFACTS:
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["distribution"]["devices"] == 2 and m["distribution"]["processes"] == 2
    assert m["distribution"]["local_devices"] == 1 and m["distribution"]["coordinator"] == f"127.0.0.1:{port}"
    assert "this is process 1; process 0 writes" in _tail(logs[1], 100_000)
    cfg = json.loads((out / "config.json").read_text())  # process 0's; the id each launch's own (given: 0)
    assert cfg["train"]["process_id"] is None and cfg["distribution"]["process_id"] == 0
    assert cfg["distribution"]["processes"] == 2 and cfg["train"]["num_processes"] is None  # from FERA_NUM_PROCESSES
    assert not list(scratch.iterdir()) and sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "cache", "run", "tmp1"]  # process 1 wrote nothing beside process 0's run, and removed its own copy
