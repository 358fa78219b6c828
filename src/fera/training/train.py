"""Training: Adam (or AdamW, SGD) + cross-entropy with early stopping, LR schedule, best checkpoint, resume.

After every epoch the full state (model with optimizer, callback counters, history) is saved
atomically under ``out_dir/checkpoints``, so a killed run loses at most the epoch in progress
and ``--resume`` continues on the same schedule.
"""
from __future__ import annotations

import csv
import io
import platform
import time
from pathlib import Path

import keras
import numpy as np

from fera.training.augment import Batches
from fera.training.config import CLASS_WEIGHTINGS, OPTIMIZERS, PRECISIONS, SCHEDULES, RunConfig
from fera.training.data import Dataset, class_weights, load_dataset, weighting, write_label_map
from fera.training import distribute
from fera.errors import CtrlC, FeraError, Interrupted
from fera.training.evaluate import _skipped_summary, score, write_artifacts
from fera.fileio import read_json, write_json, write_text
from fera.training.modelio import (KerasPredictor, load_model, load_training_state, make_meta, save_model,
                                   save_training_state)
from fera.training.models import create_model


class _RunState(keras.callbacks.Callback):
    """Per-epoch bookkeeping: history, best checkpoint, resumable state. Must be the last callback."""

    def __init__(self, out: Path, meta: dict, batches: Batches, early, reduce_lr, state: dict | None):
        super().__init__()
        self.out, self.meta, self.batches = out, meta, batches
        self.early, self.reduce_lr = early, reduce_lr
        self.state = state or {"epoch": 0, "history": [], "best_val_accuracy": None, "best_epoch": None,
                               "wall_seconds": 0.0, "finished": False}
        self._t0 = time.perf_counter()

    def on_train_begin(self, logs=None):
        # EarlyStopping and ReduceLROnPlateau reset themselves here; put back the saved counters.
        saved = self.state.get("callbacks")
        if saved:
            for cb, name in ((self.early, "early_stopping"), (self.reduce_lr, "reduce_lr")):
                for attr, value in saved[name].items():
                    setattr(cb, attr, value)

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
        row.setdefault("learning_rate", float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        st = self.state
        st["history"].append(row)
        val_acc = logs.get("val_accuracy")
        if val_acc is not None and (st["best_val_accuracy"] is None or val_acc > st["best_val_accuracy"]):
            st["best_val_accuracy"], st["best_epoch"] = float(val_acc), epoch + 1
            save_model(self.model, self.out / "best_model.keras", self.meta)
            save_model(self.model, self.out / "best_model.h5", self.meta)
        st["epoch"] = epoch + 1
        st["wall_seconds"] += time.perf_counter() - self._t0
        st["callbacks"] = {
            "early_stopping": {"wait": int(self.early.wait), "best": _num(self.early.best),
                               "best_epoch": int(self.early.best_epoch)},
            "reduce_lr": {"wait": int(self.reduce_lr.wait), "best": _num(self.reduce_lr.best),
                          "cooldown_counter": int(self.reduce_lr.cooldown_counter)},
        }
        save_training_state(self.model, self.out / "checkpoints")
        write_history_csv(self.out / "history.csv", st["history"])
        write_json(self.out / "checkpoints" / "state.json", st)  # written last: it vouches for the files above

    def on_train_end(self, logs=None):
        self.state["finished"] = True
        self.state["stopped_early"] = bool(self.early.stopped_epoch)
        write_json(self.out / "checkpoints" / "state.json", self.state)


class _Schedule(keras.callbacks.Callback):
    """Per-step learning rate: linear warm-up, then (``cosine``) a half cosine down to ``min_lr``, or (``steps``)
    the peak times the factor of the last (epoch, factor) step reached.

    It depends only on the step number, so a resumed run continues on the same curve. With the
    plateau schedule it does nothing after the warm-up and ReduceLROnPlateau takes over.
    """

    def __init__(self, lr: float, warmup_epochs: float, steps_per_epoch: int, epochs: int = 0,
                 cosine: bool = False, min_lr: float = 0.0, steps=()):
        super().__init__()
        self.steps = tuple(steps)  # ((epoch, factor), ...): the "steps" schedule
        self.lr, self.warmup = lr, int(warmup_epochs * steps_per_epoch)
        self.total, self.steps_per_epoch = epochs * steps_per_epoch, steps_per_epoch
        self.cosine, self.min_lr, self.epoch = cosine, min_lr, 0

    def lr_at(self, step: int) -> float | None:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        if self.steps:
            epoch = step // self.steps_per_epoch
            reached = [f for e, f in sorted(self.steps) if epoch >= e]
            return self.lr * (reached[-1] if reached else 1.0)
        if not self.cosine:
            return None
        done = (step - self.warmup) / max(1, self.total - self.warmup - 1)  # min_lr on the last step
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + np.cos(np.pi * min(1.0, done)))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        lr = self.lr_at(self.epoch * self.steps_per_epoch + batch)
        if lr is not None:
            self.model.optimizer.learning_rate = lr


def make_optimizer(cfg: RunConfig):
    """The optimizer ``cfg.train.optimizer`` names, at the peak learning rate (the schedule changes it)."""
    t = cfg.train
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(t.lr, momentum=0.9, nesterov=True)
    if t.optimizer == "adamw":
        # decay per step = lr * weight_decay * w = 2 * l2 * lr * w: what SGD with the penalty
        # l2 * sum(w^2) shrinks per step; kernels only (BatchNorm scales and offsets, biases are exempt)
        opt = keras.optimizers.AdamW(t.lr, weight_decay=2 * cfg.model.l2)
        opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        return opt
    return keras.optimizers.Adam(t.lr)


def distilled(tr, ds: Dataset, cfg: RunConfig, log) -> np.ndarray:
    """Knowledge distillation from a trained model (offline): each training face's target becomes
    (1 - w) x its own target (votes or one-hot) + w x the teacher's probabilities for it (flip-averaged,
    uncalibrated), w = ``teacher_weight``. The teacher must know the dataset's classes."""
    from fera.training.modelio import load_predictor

    if ds.labels in ("probability", "multi_target"):
        raise FeraError(f"--teacher works with --labels majority or crossentropy, not {ds.labels}")
    teacher, described = load_predictor(cfg.train.teacher)
    names = teacher.class_names
    missing = [c for c in ds.class_names if c not in names]
    if missing:
        raise FeraError(f"the teacher {described} has no class {', '.join(missing)} of the data")
    x = tr.x
    if tuple(teacher.input_size) != tuple(x.shape[1:3]):
        raise FeraError(f"the teacher takes {teacher.input_size} faces, the data are {tuple(tr.x.shape[1:3])}")
    t0 = time.perf_counter()
    p = teacher.predict_uint8(x, flip=True, calibrated=False)[:, [names.index(c) for c in ds.class_names]]
    p = p / p.sum(axis=1, keepdims=True)
    own = tr.soft if tr.soft is not None else np.eye(ds.num_classes, dtype=np.float32)[tr.y]
    w = cfg.train.teacher_weight
    log(f"distillation: {described} on {len(x)} training faces in {time.perf_counter() - t0:.0f}s; targets "
        f"{1 - w:g} x {ds.labels} + {w:g} x teacher (agreement with the targets' top class "
        f"{float((p.argmax(1) == own.argmax(1)).mean()):.1%})")
    return ((1 - w) * own + w * p).astype(np.float32)


def multi_target_loss(y_true, y_pred):
    """FER+'s multi-target loss: -log(max over classes of target * predicted probability)."""
    ops = keras.ops
    y_pred = ops.cast(y_pred, "float32")
    return -ops.log(ops.clip(ops.max(ops.cast(y_true, "float32") * y_pred, axis=-1), 1e-7, 1.0))


def make_loss(cfg: RunConfig):
    """Cross-entropy against the targets (label smoothing as set), or the multi-target loss."""
    if cfg.data.labels == "multi_target":
        return multi_target_loss
    return keras.losses.CategoricalCrossentropy(label_smoothing=cfg.train.label_smoothing)


def _num(v):
    return None if v is None else float(v)


def write_history_csv(path: Path, history: list[dict]) -> None:
    keys = list(dict.fromkeys(k for row in history for k in row))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(history)
    write_text(path, buf.getvalue())


RESUMABLE = ("config.json", "checkpoints/state.json", "checkpoints/last.weights.h5")  # what a resume needs


def check_resumable(out_dir) -> Path:
    """``out_dir`` as a Path when it holds a run to resume (``RESUMABLE``); else the one error saying what is
    missing. The rule of every resume (``resume_config`` and ``train``)."""
    if not out_dir:
        raise FeraError("--resume needs --out_dir")
    out = Path(out_dir)
    missing = [name for name in RESUMABLE if not (out / name).is_file()]
    if missing:
        raise FeraError(f"nothing to resume in {out}: no {' or '.join(missing)} from an earlier run")
    return out


def resume_config(out_dir, epochs: int | None = None, verbose: int | None = None, **launch) -> RunConfig:
    """The settings of the run in ``out_dir`` (its config.json), to resume: the one setting a resumed run may
    change is how long it trains (``epochs``); ``verbose`` and the ``launch`` settings (coordinator,
    num_processes, process_id: where this launch's processes meet) are this launch's when given."""
    out = check_resumable(out_dir)
    d = read_json(out / "config.json")
    d.pop("backend", None)
    cfg = RunConfig.from_dict(d)
    cfg.train.resume = True
    cfg.train.out_dir = str(out_dir)  # the folder may have been moved since
    for name, value in {"epochs": epochs, "verbose": verbose, **launch}.items():
        if value is not None:
            setattr(cfg.train, name, value)
    return cfg


def prepare_out_dir(cfg: RunConfig) -> dict | None:
    """Check ``out_dir`` for a fresh run or a resume; return the saved state when resuming."""
    out = Path(cfg.train.out_dir)
    if cfg.train.resume:
        return read_json(check_resumable(out) / "checkpoints" / "state.json")
    if out.is_file():
        raise FeraError(f"--out_dir {out} is a file")
    if out.is_dir() and any(out.iterdir()) and not cfg.train.overwrite:
        raise FeraError(f"--out_dir {out} is not empty: add --resume to continue that run, "
                        "--overwrite to replace it, or choose another folder")
    return None


def train(cfg: RunConfig, log=print) -> dict:
    """Train ``cfg.model.name`` on ``cfg.data`` and write every artifact to ``cfg.train.out_dir``."""
    t_start = time.perf_counter()
    for option, value, allowed in (("precision", cfg.train.precision, PRECISIONS),
                                   ("class_weight", cfg.train.class_weight, CLASS_WEIGHTINGS),
                                   ("schedule", cfg.train.schedule, SCHEDULES),
                                   ("optimizer", cfg.train.optimizer, OPTIMIZERS)):
        if value not in allowed:  # argparse checks the CLI; this checks configs given in code
            raise FeraError(f"--{option} must be one of {', '.join(allowed)} (got {value})")
    state = prepare_out_dir(cfg)
    dist = distribute.setup(cfg, log)  # --distribute: the devices (and processes) to train on, before JAX runs
    out = dist.folder(cfg, state)  # --out_dir; with several processes, only process 0's
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.data.seed)

    ds = load_dataset(cfg.data, log)
    log(f"data: {ds.source}: " + ", ".join(f"{k} {len(v)}" for k, v in ds.splits.items())
        + (" (val split from train)" if ds.val_from_train else "")
        + f", {len(ds.skipped)} skipped, loaded in {ds.load_seconds:.1f}s" + (" from cache" if ds.from_cache else ""))
    write_label_map(ds, out)
    if ds.dropped:
        log("FER+ labels: " + ", ".join(f"{k} {n} left out" for k, n in ds.dropped.items())
            + f" (training targets: {ds.labels}; val and test: majority)")
    weights = class_weights(ds.splits["train"].y, ds.num_classes, ds.splits["train"].soft)
    used = weighting(weights, cfg.train.class_weight)
    write_json(out / "class_weights.json", {"balanced": {name: weights[i] for i, name in enumerate(ds.class_names)},
                                            "used": cfg.train.class_weight})
    write_json(out / "config.json", {**dist.settings(cfg), "backend": keras.backend.backend()})
    meta = make_meta(ds.class_names, cfg.data.img_size, cfg.model.name)

    decoupled = cfg.train.optimizer == "adamw"  # --l2 becomes weight decay, not a term of the loss
    with dist.scope():  # --distribute: every variable replicated on every device
        model = create_model(cfg.model.name, input_shape=(*cfg.data.img_size, 1), num_classes=ds.num_classes,
                             precision=cfg.train.precision, l2=0.0 if decoupled else cfg.model.l2,
                             dropout=cfg.model.dropout, block_dropout=cfg.model.block_dropout)
        model.compile(optimizer=make_optimizer(cfg), loss=make_loss(cfg),
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
        if state is not None:  # weights, Adam moments and the (possibly reduced) learning rate
            load_training_state(model, out / "checkpoints")
            log(f"resuming after epoch {state['epoch']} (best val_accuracy {state['best_val_accuracy']:.4f} "
                f"at epoch {state['best_epoch']})")

    tr, va = ds.splits["train"], ds.splits["val"]
    targets = distilled(tr, ds, cfg, log) if cfg.train.teacher else tr.soft
    batches = Batches(tr.x, tr.y, ds.num_classes, cfg.data.batch_size, seed=cfg.data.seed, shuffle=True,
                      augment_cfg=cfg.augment, class_weight=used, targets=targets, labels=ds.labels, meta=meta)
    val_batches = Batches(va.x, va.y, ds.num_classes, cfg.data.batch_size, meta=meta)
    t = cfg.train
    early = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=t.early_stopping_patience)
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=t.reduce_lr_factor,
                                                  patience=t.reduce_lr_patience, min_lr=t.min_lr, verbose=1)
    run_state = _RunState(out, meta, batches, early, reduce_lr, state)
    run_state.state.setdefault("git_commit", _git_commit())  # the code this run started with
    run_state.state["distribution"] = dist.record  # this session's devices and processes
    initial_epoch = state["epoch"] if state else 0
    if state and state.get("finished") and (state.get("stopped_early") or state["epoch"] >= t.epochs):
        log("this run had already finished; writing its artifacts again (pass a larger --epochs to train on)")
    else:
        try:
            cosine = t.schedule == "cosine"
            steps = t.lr_steps if t.schedule == "steps" else ()
            schedule = _Schedule(t.lr, t.warmup_epochs, len(batches), t.epochs, cosine, t.min_lr, steps)
            # a Ctrl-C that Keras swallowed (fera.errors.CtrlC) stops the run at the next batch, or once the
            # epoch is saved (after run_state), instead of letting it train on to a normal end
            stop = keras.callbacks.LambdaCallback(**dict.fromkeys(
                ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_test_batch_begin", "on_epoch_end"),
                lambda *a, **k: CtrlC.check()))
            callbacks = [schedule, early] + ([reduce_lr] if t.schedule == "plateau" else []) + [run_state, stop]
            with dist.scope():  # --distribute: each batch split over the devices (this process's rows of it)
                model.fit(dist.data(batches), validation_data=dist.data(val_batches), epochs=t.epochs,
                          initial_epoch=initial_epoch, callbacks=callbacks, verbose=t.verbose)
            CtrlC.check()
        except KeyboardInterrupt:
            if not run_state.state["epoch"]:  # the out_dir has the run's settings but no checkpoint yet
                raise Interrupted(f"interrupted before the first epoch finished: nothing to resume in {out}; "
                                  "to start again, add --overwrite to the same command") from None
            raise Interrupted(f"interrupted after epoch {run_state.state['epoch']}; continue with: "
                              f"fera train --out_dir {out} --resume") from None
    if run_state.state["best_epoch"] is None:
        raise FeraError("training ended before any epoch finished; nothing to evaluate")
    return finalize(out, ds, cfg, run_state.state, time.perf_counter() - t_start, log)


def finalize(out: Path, ds: Dataset, cfg: RunConfig, state: dict, session_seconds: float, log) -> dict:
    """Evaluate the best checkpoint and write curves, report, confusion matrix and metrics.json."""
    from fera.training.plots import plot_curve

    hist = state["history"]
    plot_curve(hist, "accuracy", out / "accuracy.png", f"{cfg.model.name}: accuracy")
    plot_curve(hist, "loss", out / "loss.png", f"{cfg.model.name}: loss")
    best = KerasPredictor(*load_model(out / "best_model.keras"))
    results = {name: score(best.predict_uint8(s.x, calibrated=False), s.y, ds.class_names)
               for name, s in ds.splits.items() if name != "train"}
    eval_split = "test" if "test" in results else "val"
    write_artifacts(out, results[eval_split], ds.class_names, eval_split, ds.source)
    metrics = {
        "model": cfg.model.name,
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "best_val_accuracy": state["best_val_accuracy"],
        "val_accuracy": results["val"]["accuracy"],
        "val_loss": results["val"]["loss"],
        "val_macro_f1": results["val"]["macro_f1"],
        **({"test_accuracy": results["test"]["accuracy"], "test_loss": results["test"]["loss"],
            "test_macro_f1": results["test"]["macro_f1"]} if "test" in results else {}),
        "evaluated_on": eval_split,
        "macro_f1": results[eval_split]["macro_f1"],
        "per_class": results[eval_split]["per_class"],
        "config": "config.json",  # the record of the run's settings, beside this file
        "hyperparameters": cfg.hyperparameters(),  # the settings that shape what is learned, from config.json's
        "backend": keras.backend.backend(),
        "distribution": state.get("distribution", {"distributed": False, "devices": 1, "processes": 1}),
        "versions": _versions(),
        "git_commit": state.get("git_commit"),  # at the run's start (a resumed run keeps it)
        "git_commit_at_finish": _git_commit(),
        "hardware": {"machine": platform.machine(), "processor": platform.processor() or None,
                     "cpu_count": __import__("os").cpu_count()},
        "dataset": {"source": ds.source, "val_from_train": ds.val_from_train, "counts": ds.counts(),
                    "labels": ds.labels, "left_out_by_label_rules": ds.dropped},
        "skipped_files": _skipped_summary(ds),
        "wall_seconds": {"training": round(state["wall_seconds"], 1), "this_session": round(session_seconds, 1)},
    }
    write_json(out / "metrics.json", metrics)
    log(f"best val_accuracy {metrics['best_val_accuracy']:.4f} at epoch {metrics['best_epoch']}; "
        f"macro-F1 on {eval_split} {metrics['macro_f1']:.4f}; artifacts in {out}")
    return metrics


def _git_commit() -> str | None:
    """The commit of the fera checkout that ran this (None outside a git checkout); '+dirty' if edited."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=here, capture_output=True, text=True, timeout=10)  # noqa: E731
        head = run("rev-parse", "HEAD")
        if head.returncode:
            return None
        dirty = run("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict:
    import importlib.metadata as md

    v = {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__}
    for pkg in ("torch", "tensorflow", "tensorflow-cpu", "jax"):
        try:
            v[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    from fera import __version__

    v["fera"] = __version__
    return v
