"""Training end to end on tiny data (runs under every Keras backend: `pytest -m train`)."""
import contextlib
import csv
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading

import pytest
from conftest import REPO
from PIL import Image

from fera.cli import main
from fera.training.modelio import load_model, read_meta

pytestmark = pytest.mark.train

ARTIFACTS = ["best_model.h5", "best_model.keras", "accuracy.png", "loss.png", "history.csv",
             "classification_report.json", "confusion_matrix.png", "metrics.json", "label_map.json",
             "config.json", "class_weights.json"]


@pytest.fixture(scope="module")
def run_dir(demo_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "vgg13"
    assert main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--epochs", "2",
                 "--batch_size", "16", "--verbose", "0"]) == 0
    return out


@pytest.mark.backends
def test_every_artifact_is_written(run_dir):
    for name in ARTIFACTS:
        assert (run_dir / name).is_file(), name
    for png in ("accuracy.png", "loss.png", "confusion_matrix.png"):
        with Image.open(run_dir / png) as im:
            assert im.width > 200 and im.height > 200
    assert not [p for p in run_dir.rglob(".*tmp*")], "temporary files left behind"


@pytest.mark.backends
def test_metrics_report_and_config(run_dir, demo_root):
    m = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= m["best_val_accuracy"] <= 1 and m["best_epoch"] in (1, 2) and m["epochs_run"] == 2
    assert m["evaluated_on"] == "test" and "test_accuracy" in m and "test_loss" in m
    assert set(m["per_class"]) == {"happy", "neutral", "sad", "surprise"}
    assert m["hyperparameters"]["lr"] == 1e-3 and m["hyperparameters"]["dropout"] == 0.5
    assert m["backend"] == os.environ["KERAS_BACKEND"] and "keras" in m["versions"]
    assert m["dataset"]["counts"]["train"]["happy"] == 12 and m["skipped_files"]["count"] == 0
    assert m["wall_seconds"]["training"] > 0
    # the commit of the checkout that trained is recorded for the model card; outside a git checkout: None
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO / "src" / "fera", capture_output=True, text=True) \
        if shutil.which("git") else None
    if head is not None and head.returncode == 0:
        assert m["git_commit"].removesuffix("+dirty") == head.stdout.strip()
    else:
        assert m["git_commit"] is None
    report = json.loads((run_dir / "classification_report.json").read_text())
    assert report["split"] == "test" and report["sad"]["support"] == 4
    assert {"precision", "recall", "f1-score"} <= set(report["happy"])
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["data"]["data_root"] == str(demo_root) and cfg["train"]["epochs"] == 2
    rows = list(csv.DictReader(open(run_dir / "history.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"] and "val_accuracy" in rows[0]
    assert json.loads((run_dir / "label_map.json").read_text()) == {"0": "happy", "1": "neutral", "2": "sad",
                                                                       "3": "surprise"}


@pytest.mark.backends
def test_checkpoints_carry_their_metadata(run_dir):
    for name in ("best_model.keras", "best_model.h5"):
        meta = read_meta(run_dir / name)
        assert meta["class_names"] == ["happy", "neutral", "sad", "surprise"]
        assert meta["input_size"] == [48, 48] and meta["preprocessing"]["scale"] == pytest.approx(1 / 255)
    model, meta = load_model(run_dir / "best_model.h5")
    assert model.output_shape == (None, 4) and meta["model"] == "vgg13"


def test_non_empty_out_dir_is_never_overwritten_silently(run_dir, demo_root, capsys):
    before = (run_dir / "metrics.json").read_bytes()
    assert main(["train", "--data_root", str(demo_root), "--out_dir", str(run_dir), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not empty" in err and "--resume" in err
    assert (run_dir / "metrics.json").read_bytes() == before


# `python -c CHILD FD WAIT_S ARGS...`: `fera train ARGS` that says on file descriptor FD when epoch 1 is saved (its
# state.json is written last) and then waits, at the first batch of epoch 2, for the test's signal; a run that
# gets none in WAIT_S seconds says so and exits 3. So the signal always lands inside fit, in epoch 2, however busy
# the machine: no file is polled, and the run cannot train on to its end before the signal is sent. The wait is a
# select on Python's signal wakeup fd, so it ends even when the kernel hands SIGINT to another of the process's
# threads (TensorFlow has a dozen; a lock wait in the main thread would then sleep on), and no garbage collection
# runs in between (a finalizer would swallow the KeyboardInterrupt; fera.errors.CtrlC still has it: check()).
CHILD = """
import gc, os, select, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C live, as in a terminal (see ctrl_c_live)
import fera.training.train as train
from fera.errors import CtrlC
fd, wait_s = int(sys.argv[1]), float(sys.argv[2])
begin = train._Schedule.on_train_batch_begin

def on_train_batch_begin(self, batch, logs=None):
    if self.epoch == 1 and batch == 0:
        gc.disable()
        woken, wake = os.pipe()
        os.set_blocking(wake, False)
        signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
        os.write(fd, b"epoch 1 saved\\n")
        select.select([woken], [], [], wait_s)  # SIGINT raises KeyboardInterrupt here or right after; SIGKILL ends it
        CtrlC.check()
        os.write(fd, b"no signal came\\n")
        os._exit(3)
    return begin(self, batch, logs)

train._Schedule.on_train_batch_begin = on_train_batch_begin
from fera.cli import main
sys.exit(main(sys.argv[3:]))
"""


@contextlib.contextmanager
def _run_waiting_in_epoch_2(demo_root, out, wait_s=600, report_s=300):
    """Start `fera train` (the fast model, 50 epochs) in a subprocess as CHILD says; yield (the process, a function
    that returns its stderr) once it has reported epoch 1 saved. It is killed if the test fails."""
    read_fd, write_fd = os.pipe()
    err_path = out.parent / f"{out.name}.stderr"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(write_fd), str(wait_s), "train", "--data_root",
                                 str(demo_root), "--out_dir", str(out), "--model", "fast", "--epochs", "50",
                                 "--batch_size", "16", "--verbose", "2"],
                                env=env, stdout=subprocess.DEVNULL, stderr=err, pass_fds=(write_fd,))
    os.close(write_fd)
    stderr = err_path.read_text
    try:
        ready = select.select([read_fd], [], [], report_s)[0]
        said = os.read(read_fd, 100).decode() if ready else ""  # b"" also when the run ended without a word
        assert said == "epoch 1 saved\n", (f"the run never reported epoch 1 saved within {report_s} s (it said "
                                           f"{said!r}, exit code {proc.poll()}); its stderr ends:\n{stderr()[-2000:]}")
        yield proc, stderr
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            proc.kill()
        proc.wait(60)


@pytest.mark.backends
def test_resume_after_kill_loses_at_most_one_epoch(demo_root, tmp_path):
    out = tmp_path / "killed"
    with _run_waiting_in_epoch_2(demo_root, out) as (proc, stderr):
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(60) == -signal.SIGKILL, stderr()[-2000:]
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1 and not state["finished"]  # killed in epoch 2: epoch 1 is all there is, and whole
    assert main(["train", "--out_dir", str(out), "--resume", "--epochs", "3", "--verbose", "0"]) == 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["finished"] and state["epoch"] == 3
    for name in ARTIFACTS:
        assert (out / name).is_file(), name


@pytest.mark.backends
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(demo_root, tmp_path):
    out = tmp_path / "interrupted"
    with _run_waiting_in_epoch_2(demo_root, out) as (proc, stderr):
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(120)
        except subprocess.TimeoutExpired:
            code = "none within 120 s"
        err = stderr()
        assert code == 130, (f"exit code {code} after Ctrl-C in epoch 2 (3: the run's wait ended with no signal); "
                             f"stderr ends:\n{err[-2000:]}")
    last = err.strip().splitlines()[-1]
    assert "interrupted after epoch 1" in last and f"fera train --out_dir {out} --resume" in last
    assert "Traceback" not in err
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1 and not state["finished"]


# Keras swallows KeyboardInterrupt in places: it runs some of its work under a bare `except:` that retries another
# way (tracing the model on torch's meta device as fit starts, setting up the weights store while it writes or
# reads a .keras file), and a Ctrl-C there used to be lost: the run trained on and exited 0. fera.errors.CtrlC
# remembers it; these put a swallowed Ctrl-C at three stages of an in-process run (the real handler, raise_signal).
@pytest.fixture
def ctrl_c_live():
    """SIGINT raises KeyboardInterrupt during the test, as in a terminal, even in a suite started with SIGINT
    ignored (a background job of a shell without job control: `make test &` in a script; the ignoring is inherited
    by every process, and fera rightly leaves an ignored SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _swallowed_ctrl_c():
    try:
        signal.raise_signal(signal.SIGINT)  # the user's Ctrl-C: fera's handler raises KeyboardInterrupt ...
    except KeyboardInterrupt:
        pass  # ... which library code swallows, as Keras's bare `except:` does


@pytest.mark.parametrize("stage", ["fit starts", "epoch 2", "reading the best checkpoint"])
def test_a_ctrl_c_that_keras_swallows_still_stops_the_run(demo_root, tmp_path, monkeypatch, capsys, stage,
                                                          ctrl_c_live):
    import fera.training.train as train

    fired = []
    if stage == "fit starts":  # where Keras's symbolic build of the model swallows it (right before this)
        begin = train._RunState.on_train_begin
        monkeypatch.setattr(train._RunState, "on_train_begin",
                            lambda self, logs=None: (fired.append(1), _swallowed_ctrl_c(), begin(self, logs)))
    elif stage == "epoch 2":
        batch_begin = train._Schedule.on_train_batch_begin

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == 1 and not fired:
                fired.append(1)
                _swallowed_ctrl_c()
            return batch_begin(self, batch, logs)

        monkeypatch.setattr(train._Schedule, "on_train_batch_begin", on_train_batch_begin)
    else:  # the real place: Keras reads best_model.keras back to evaluate it, inside a bare `except:`
        import keras.src.saving.saving_lib as saving_lib

        class Store(saving_lib.H5IOStore):
            def __init__(self, *args, **kwargs):
                if kwargs.get("mode") == "r" and not fired:
                    fired.append(1)
                    signal.raise_signal(signal.SIGINT)
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(saving_lib, "H5IOStore", Store)
    out = tmp_path / "run"
    train_for = "1" if stage == "reading the best checkpoint" else "2"  # that one trains to its end: one epoch
    code = main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast", "--epochs", train_for,
                 "--batch_size", "16", "--verbose", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert fired, f"the Ctrl-C was never sent at {stage}"
    assert code == 130, f"a Ctrl-C at {stage} was lost: exit code {code}, stderr {err[-3:]}"
    epochs = len(list(csv.DictReader(open(out / "history.csv")))) if (out / "history.csv").is_file() else 0
    if stage == "fit starts":
        assert epochs == 0 and "before the first epoch finished" in err[-1] and "--overwrite" in err[-1]
    elif stage == "epoch 2":
        assert epochs == 1 and "interrupted after epoch 1" in err[-1] and "--resume" in err[-1]
    else:
        assert epochs == 1 and err[-1] == "fera: interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after the command


def test_ctrl_c_guard_leaves_other_handlers_and_threads_alone(ctrl_c_live):
    from fera.errors import CtrlC

    guard = CtrlC.install()
    try:
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        _swallowed_ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            CtrlC.check()
    finally:
        guard.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler and not CtrlC.pressed
    CtrlC.check()  # nothing pending once restored
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job: SIGINT ignored stays ignored
    try:
        CtrlC.install().restore()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    box = []
    t = threading.Thread(target=lambda: box.append(CtrlC.install()._installed))  # no signal handlers off main
    t.start()
    t.join(10)
    assert box == [False]


def test_resume_without_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--out_dir", str(tmp_path / "nothing"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def _design_command(script, args, monkeypatch):
    """Run src/<script> in this process as `python src/<script> ARGS` would; fera's training function
    only records the settings it is given. Returns (exit code, the recorded RunConfig or None)."""
    import runpy

    import fera.training.train

    seen = []
    monkeypatch.setattr(fera.training.train, "train", lambda cfg, log: seen.append(cfg) or {})
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts src/ first
    monkeypatch.setattr(sys, "argv", [f"src/{script}", *args])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(REPO / "src" / script), run_name="__main__")
    return e.value.code, (seen[0] if seen else None)


def test_design_training_command_works_verbatim_and_passes_its_arguments(demo_root, tmp_path, monkeypatch):
    out = tmp_path / "runs" / "vgg13_fer"
    code, cfg = _design_command("model_training.py", [
        "--data_root", str(demo_root), "--out_dir", str(out), "--epochs", "20", "--img_size", "48,48",
        "--batch_size", "64", "--lr", "1e-3", "--l2", "1e-4", "--dropout", "0.5"], monkeypatch)
    assert code == 0
    assert (cfg.data.data_root, cfg.train.out_dir, cfg.train.epochs) == (str(demo_root), str(out), 20)
    assert (cfg.data.img_size, cfg.data.batch_size, cfg.model.name) == ((48, 48), 64, "vgg13")
    assert (cfg.train.lr, cfg.model.l2, cfg.model.dropout) == (1e-3, 1e-4, 0.5)
    # values other than the defaults reach training too, so the ones above were not just the defaults
    code, cfg = _design_command("model_training.py", [
        "--data_root", str(demo_root), "--out_dir", str(out), "--epochs", "1", "--img_size", "40,36",
        "--batch_size", "8", "--lr", "2e-3", "--l2", "3e-4", "--dropout", "0.25", "--model", "fast"], monkeypatch)
    assert code == 0
    assert (cfg.train.epochs, cfg.data.img_size, cfg.data.batch_size, cfg.model.name) == (1, (40, 36), 8, "fast")
    assert (cfg.train.lr, cfg.model.l2, cfg.model.dropout) == (2e-3, 3e-4, 0.25)


def test_design_scripts_run_from_the_checkout(demo_root):
    """Both scripts start as `python src/<script>` (no install needed); the data one runs for real."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the script itself must find fera
    r = subprocess.run([sys.executable, "src/data_preprocessing.py", "--data_root", str(demo_root), "--img_size",
                        "48,48", "--batch_size", "64"], cwd=REPO, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "happy" in r.stdout and "one training batch: x (48, 48, 48, 1)" in r.stdout
    r = subprocess.run([sys.executable, "src/model_training.py", "--help"], cwd=REPO, capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0 and "usage: fera train" in r.stdout and "--l2" in r.stdout, r.stderr[-2000:]


@pytest.mark.backends
def test_training_state_round_trip_keeps_adam_moments_and_lr(tmp_path):
    import keras
    import numpy as np

    from fera.training.models import create_model
    from fera.training.modelio import load_training_state, save_training_state

    def fresh():
        m = create_model("fast", input_shape=(16, 16, 1), num_classes=3)
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        return m

    x, y = np.random.rand(8, 16, 16, 1).astype("float32"), np.eye(3, dtype="float32")[np.arange(8) % 3]
    a = fresh()
    a.fit(x, y, batch_size=4, epochs=1, verbose=0)
    a.optimizer.learning_rate = 2.5e-4  # as ReduceLROnPlateau does
    save_training_state(a, tmp_path)
    b = fresh()
    load_training_state(b, tmp_path)
    assert int(keras.ops.convert_to_numpy(b.optimizer.iterations)) == 2
    assert float(keras.ops.convert_to_numpy(b.optimizer.learning_rate)) == pytest.approx(2.5e-4)
    for va, vb in zip(a.optimizer.variables, b.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(va), keras.ops.convert_to_numpy(vb))
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), atol=1e-6)


@pytest.mark.backends
def test_same_seed_same_run(demo_root, tmp_path):
    histories = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast",
                     "--epochs", "1", "--batch_size", "16", "--seed", "7", "--verbose", "0"]) == 0
        histories.append(list(csv.DictReader(open(out / "history.csv"))))
    assert histories[0] == histories[1]


@pytest.mark.backends
def test_mixed_bfloat16_trains_and_saves_float32_models(demo_root, tmp_path):
    out = tmp_path / "bf16"
    assert main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast",
                 "--epochs", "1", "--batch_size", "16", "--precision", "mixed_bfloat16", "--verbose", "0"]) == 0
    model, _ = load_model(out / "best_model.keras")
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert json.loads((out / "metrics.json").read_text())["hyperparameters"]["precision"] == "mixed_bfloat16"


def test_resume_a_finished_run_trains_on_only_when_asked(run_dir, tmp_path, capsys):
    import shutil

    out = tmp_path / "more"
    shutil.copytree(run_dir, out)
    assert main(["train", "--out_dir", str(out), "--resume", "--verbose", "0"]) == 0
    assert "already finished" in capsys.readouterr().err
    assert len(list(csv.DictReader(open(out / "history.csv")))) == 2
    assert main(["train", "--out_dir", str(out), "--resume", "--epochs", "3", "--verbose", "0"]) == 0
    assert [r["epoch"] for r in csv.DictReader(open(out / "history.csv"))] == ["1", "2", "3"]


def test_class_weight_choice_is_recorded(demo_root, tmp_path):
    out = tmp_path / "nocw"
    assert main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast",
                 "--epochs", "1", "--batch_size", "16", "--class_weight", "none", "--verbose", "0"]) == 0
    cw = json.loads((out / "class_weights.json").read_text())
    assert cw["used"] == "none" and cw["balanced"]["happy"] == 1.0
    assert json.loads((out / "metrics.json").read_text())["hyperparameters"]["class_weight"] == "none"


def test_cosine_schedule_warms_up_then_decays_to_min_lr():
    from fera.training.train import _Schedule

    s = _Schedule(1e-3, warmup_epochs=1, steps_per_epoch=10, epochs=5, cosine=True, min_lr=1e-5)
    lrs = [s.lr_at(i) for i in range(50)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)  # linear warm-up
    assert lrs[10] == pytest.approx(1e-3)  # the cosine starts at the peak
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # and only falls
    assert lrs[49] == pytest.approx(1e-5, rel=0.05)
    assert _Schedule(1e-3, 1, 10).lr_at(20) is None  # plateau: hands over to ReduceLROnPlateau


def test_cosine_run_with_label_smoothing_records_its_settings(demo_root, tmp_path):
    out = tmp_path / "cos"
    assert main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast",
                 "--epochs", "2", "--batch_size", "16", "--schedule", "cosine", "--label_smoothing", "0.1",
                 "--block_dropout", "0.1", "--min_lr", "1e-5", "--verbose", "0"]) == 0
    hp = json.loads((out / "metrics.json").read_text())["hyperparameters"]
    assert (hp["schedule"], hp["label_smoothing"], hp["block_dropout"]) == ("cosine", 0.1, 0.1)
    lrs = [float(r["learning_rate"]) for r in csv.DictReader(open(out / "history.csv"))]
    assert lrs[-1] < lrs[0]  # decayed within the run
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["schedule"] == "cosine" and cfg["model"]["block_dropout"] == 0.1


def test_device_run_packs_into_few_small_files_and_unpacks_to_the_same_model(run_dir, tmp_path, monkeypatch):
    """scripts/device: a GPU run comes back as fp16 weight parts + one tar, and becomes a run folder again."""
    import numpy as np

    import runpy

    files, rebuilt = tmp_path / "out", tmp_path / "rebuilt"
    for script, args in (("pack_run.py", [run_dir, files]), ("unpack_run.py", [files, rebuilt])):
        # each script as `python scripts/device/SCRIPT ARGS`, in this process (no second Keras import)
        path = str(REPO / "scripts" / "device" / script)
        monkeypatch.setattr(sys, "argv", [path, *map(str, args)])
        with pytest.raises(SystemExit) as done:
            runpy.run_path(path, run_name="__main__")
        assert done.value.code == 0, script
    back = sorted(p.name for p in files.iterdir())
    # VGG-13's 10.5M weights in fp16 are 21 MB: two parts, each under the 16 MiB a file may have
    assert back == ["run.tgz", "weights.npz.part00", "weights.npz.part01"]
    assert all(p.stat().st_size < 16 * 2 ** 20 for p in files.iterdir())
    assert (rebuilt / "metrics.json").read_text() == (run_dir / "metrics.json").read_text()
    original, meta = load_model(run_dir)
    again, meta2 = load_model(rebuilt)
    assert meta2["class_names"] == meta["class_names"] and meta2["architecture"] == {"head_bn": True}
    x = np.random.default_rng(0).random((8, 48, 48, 1), dtype=np.float32)
    np.testing.assert_allclose(again.predict(x, verbose=0), original.predict(x, verbose=0), atol=2e-2)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_optimizer_choice_trains_and_is_recorded(demo_root, tmp_path, optimizer):
    from fera.training.config import RunConfig
    from fera.training.train import make_optimizer

    out = tmp_path / optimizer
    assert main(["train", "--data_root", str(demo_root), "--out_dir", str(out), "--model", "fast", "--epochs", "1",
                 "--batch_size", "16", "--optimizer", optimizer, "--lr", "0.01", "--verbose", "0"]) == 0
    assert json.loads((out / "metrics.json").read_text())["hyperparameters"]["optimizer"] == optimizer
    cfg = RunConfig.from_dict({k: v for k, v in json.loads((out / "config.json").read_text()).items() if k != "backend"})
    opt = make_optimizer(cfg)
    if optimizer == "adamw":  # --l2 becomes the decoupled decay: 2 * l2 per unit of learning rate
        assert opt.weight_decay == pytest.approx(2 * cfg.model.l2)
        model, _ = load_model(out)  # and the loss carries no penalty
        assert all(getattr(l, "kernel_regularizer", None) is None for l in model.layers)
    else:
        assert opt.nesterov and opt.momentum == pytest.approx(0.9)
