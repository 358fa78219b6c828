"""``fera train --distribute``: data-parallel training over every visible device, and over several processes or
hosts, with Keras 3's distribution API (``keras.distribution.DataParallel``) on the JAX backend.

- **Devices.** Every device JAX sees (all GPUs of a host, or of every host) holds a replica of the variables; each
  global batch is split over them along its first axis and XLA all-reduces the gradients (and the BatchNorm
  statistics: they are those of the whole global batch, as on one device). Without ``--distribute`` JAX trains
  on its first device only.
- **Batch size.** ``--batch_size`` is the *global* batch: images per step over all devices and processes, so a
  run has the same steps, learning-rate schedule and (up to float rounding) loss curve on 1, 2 or 8 devices, and
  a resumed run may even continue on another device count. It must be a multiple of the device count. An epoch's
  last, smaller batch is cut to a multiple of the device count (at most devices - 1 images of an epoch are left
  out: other ones each epoch for the shuffled training set, the same last ones of the validation set; the final
  evaluation written to ``metrics.json`` always scores every image, on one device).
- **Processes.** With a coordinator (``--coordinator HOST:PORT``, else ``$FERA_COORDINATOR``, else JAX's own
  ``$JAX_COORDINATOR_ADDRESS``), a process count (``--num_processes``, ``$FERA_NUM_PROCESSES``) and a process id
  (``--process_id``, ``$FERA_PROCESS_ID``), ``jax.distributed.initialize`` joins the processes first; whatever
  is left unset JAX detects on Slurm, Open MPI and Cloud TPU. Every process runs the same ``fera train``
  command; each builds the whole global batch from the same seeds and feeds its devices their rows only (a
  ``PyDataset`` cannot be sharded by Keras, which only shards ``tf.data``). Keras also permutes the order of an
  epoch's batches with Python's ``random``, which ``keras.utils.set_random_seed`` seeds alike in every process.
- **Files.** Only process 0 writes ``--out_dir`` (checkpoints, history, artifacts, ``metrics.json``). The others
  keep their copies in a temporary folder removed when they exit; on ``--resume`` they read the checkpoint from
  ``--out_dir``, which must then be on a filesystem every host sees (or a copy of it on each host).
- **Records.** ``config.json`` and ``metrics.json`` get a ``distribution`` record: devices, processes, local
  devices, the device kind and the images per device. The process id is the one setting that differs between
  processes: ``config.json`` keeps ``train.process_id`` as null (each launch gives its own).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras

from fera.errors import FeraError, first_line
from fera.training.config import coordinator_address

# where each launch setting comes from when its option is not given (then JAX's own detection)
ENV = {"coordinator": "FERA_COORDINATOR", "num_processes": "FERA_NUM_PROCESSES", "process_id": "FERA_PROCESS_ID"}


@dataclass
class Distributed:
    """Where this process trains: the Keras distribution (None: one device, as without --distribute)."""

    distribution: object = None
    devices: int = 1  # over every process
    local_devices: int = 1
    processes: int = 1
    process_id: int = 0
    device_kind: str = ""
    coordinator: str | None = None
    batch_size: int = 0  # the global batch

    @property
    def record(self) -> dict:
        """What config.json and metrics.json say about it."""
        r = {"distributed": self.distribution is not None, "devices": self.devices, "processes": self.processes}
        if self.distribution is not None:
            r.update(local_devices=self.local_devices, process_id=self.process_id, device_kind=self.device_kind,
                     coordinator=self.coordinator, images_per_device=self.batch_size // self.devices)
        return r

    def scope(self):
        """Model creation, compile, loading a checkpoint and fit go inside it."""
        return contextlib.nullcontext() if self.distribution is None else self.distribution.scope()

    def data(self, batches):
        """What ``fit`` gets for ``batches`` (a ``fera.training.augment.Batches``): this process's rows of each."""
        if self.devices == 1:
            return batches
        return Shards(batches, self.devices, self.processes, self.process_id)

    def settings(self, cfg) -> dict:
        """``cfg`` as config.json records it: the settings, the process id left to each launch, the record."""
        d = cfg.to_dict()
        if self.distribution is None:
            return d
        d["train"]["process_id"] = None
        return {**d, "distribution": self.record}

    def folder(self, cfg, state: dict | None) -> Path:
        """The folder this process writes: --out_dir for process 0; for the others a temporary one, removed at
        exit, holding on --resume a copy of what --out_dir's run needs to go on (checkpoint, best model)."""
        out = Path(cfg.train.out_dir)
        if self.process_id == 0:
            return out
        scratch = Path(tempfile.mkdtemp(prefix=f"fera-process{self.process_id}-"))
        atexit.register(shutil.rmtree, scratch, True)
        if state is not None:
            (scratch / "checkpoints").mkdir()
            for name in ("checkpoints/last.weights.h5", "checkpoints/state.json", "best_model.keras",
                         "best_model.h5"):
                if (out / name).is_file():
                    shutil.copyfile(out / name, scratch / name)
        return scratch


class Shards(keras.utils.PyDataset):
    """This process's rows of every global batch of ``batches``, cut to a multiple of ``devices`` images.

    Process p of P gets rows [p n / P, (p + 1) n / P) of a batch of n: the rows its devices hold, since the
    device mesh lists the devices process by process. Every process computes the whole batch (the same
    shuffle and augmentation, from (seed, epoch, batch)) and keeps its part."""

    def __init__(self, batches, devices: int, processes: int = 1, process_id: int = 0):
        super().__init__()
        self.batches, self.devices, self.processes, self.process_id = batches, devices, processes, process_id
        self.size = len(batches.y)

    def rows(self, i: int) -> int:
        """Images of global batch i that are trained on (over every process)."""
        n = min(self.batches.batch_size, self.size - i * self.batches.batch_size)
        return n - n % self.devices

    def __len__(self) -> int:
        n = len(self.batches)
        return n - (n > 0 and self.rows(n - 1) == 0)

    def __getitem__(self, i: int):
        parts = self.batches[i]
        per = self.rows(i) // self.processes
        lo = self.process_id * per
        return tuple(p[lo:lo + per] for p in parts)

    def on_epoch_begin(self):
        self.batches.on_epoch_begin()

    def on_epoch_end(self):
        self.batches.on_epoch_end()


def _launch_setting(t, name: str, cast):
    value = getattr(t, name)
    if value is None and os.environ.get(ENV[name], "").strip():
        text = os.environ[ENV[name]].strip()
        try:
            value = cast(text)
        except ValueError:
            raise FeraError(f"${ENV[name]} must be {'HOST:PORT' if name == 'coordinator' else 'a whole number'} "
                            f"(got {text!r})") from None
    return value


def setup(cfg, log=print) -> Distributed:
    """Resolve ``cfg.train``'s --distribute settings; join the other processes if there are any. Call it before
    anything runs on JAX. Without --distribute: one device, and the launch options are refused."""
    t = cfg.train
    if not t.distribute:
        given = [f"--{name}" for name in ENV if getattr(t, name) is not None]
        if given:
            raise FeraError(f"{', '.join(given)} only works with --distribute")
        return Distributed()
    backend = keras.backend.backend()
    if backend != "jax":
        raise FeraError(f"--distribute needs KERAS_BACKEND=jax (this run's backend is {backend}); install JAX with "
                        "pip install -e '.[train,distribute]'")
    coordinator = _launch_setting(t, "coordinator", coordinator_address)
    num_processes = _launch_setting(t, "num_processes", int)
    process_id = _launch_setting(t, "process_id", int)
    if num_processes is not None and num_processes < 1:
        raise FeraError(f"the number of processes must be at least 1 (got {num_processes})")
    if process_id is not None and (process_id < 0 or (num_processes is not None and process_id >= num_processes)):
        raise FeraError(f"the process id must be from 0 to the number of processes - 1 (got {process_id} of "
                        f"{num_processes})")
    import jax

    coordinator = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS") or None
    several = num_processes != 1 and (coordinator or num_processes or process_id is not None)
    if several:
        try:
            jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                       process_id=process_id)
        except Exception as e:  # noqa: BLE001  (ValueError for missing settings, RuntimeError, XlaRuntimeError)
            raise FeraError(f"jax.distributed.initialize(coordinator {coordinator}, {num_processes} processes, "
                            f"process id {process_id}) failed: {first_line(e)}") from None
    # process by process, so that each process's devices hold one block of rows of every batch (Shards)
    devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    count, processes = len(devices), jax.process_count()
    if count % processes:
        raise FeraError(f"{count} devices over {processes} processes: every process needs as many devices")
    if cfg.data.batch_size % count:
        lower = cfg.data.batch_size // count * count
        raise FeraError(f"--batch_size {cfg.data.batch_size} (images per step over every device) does not split "
                        f"over {count} devices: use a multiple of {count}, e.g. "
                        f"{lower or count} or {lower + count}")
    dist = keras.distribution.DataParallel(devices=[f"{d.platform}:{d.id}" for d in devices],
                                           auto_shard_dataset=False)  # Shards gives each process its rows
    d = Distributed(dist, count, jax.local_device_count(), processes, jax.process_index(),
                    devices[0].device_kind, coordinator if several else None, cfg.data.batch_size)
    log(f"distribute: {count} {d.device_kind} devices" + (f" over {processes} processes (this is process "
        f"{d.process_id}; {'it writes ' + t.out_dir if d.process_id == 0 else 'process 0 writes ' + t.out_dir})"
        if processes > 1 else "") + f"; global batch {cfg.data.batch_size}, {cfg.data.batch_size // count} "
        "images per device")
    return d


# `python -m fera.training.distribute --data_root DATA [fera train options]`: training images/s of the same run
# without and with --distribute, each `fera train` in its own process (KERAS_BACKEND=jax), timed from the end of
# the first step of an epoch to the end of its last, over every epoch after the first (which compiles).
_TIMED = """
import sys, time
import fera.training.train as train
marks = []
def on_train_batch_end(self, batch, logs=None):
    marks.append((self.epoch, batch, time.perf_counter()))
train._Schedule.on_train_batch_end = on_train_batch_end
def report():
    import json
    print("fera-timing " + json.dumps(marks), file=sys.stderr, flush=True)
import atexit
atexit.register(report)
from fera.cli import main
sys.exit(main(sys.argv[1:]))
"""


def throughput(argv: list[str]) -> list[dict]:
    """Images/s of ``fera train ARGV`` (add --out_dir-free options; --epochs at least 2) without and with
    --distribute, one line each; the batch size is read from ARGV (default 64)."""
    import json
    import subprocess
    import sys

    batch = int(argv[argv.index("--batch_size") + 1]) if "--batch_size" in argv else 64
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for distribute in (False, True):
            args = ["train", *argv, "--out_dir", f"{tmp}/{int(distribute)}", "--verbose", "0"] + \
                (["--distribute"] if distribute else [])
            run = subprocess.run([sys.executable, "-c", _TIMED, *args], env=env, capture_output=True, text=True)
            line = [x for x in run.stderr.splitlines() if x.startswith("fera-timing ")]
            if run.returncode or not line:
                raise SystemExit(f"fera {' '.join(args)} failed (exit code {run.returncode}):\n{run.stderr[-3000:]}")
            marks = json.loads(line[-1].removeprefix("fera-timing "))
            steps = seconds = 0.0
            for epoch in sorted({e for e, _, _ in marks})[1:]:
                t = [s for e, _, s in marks if e == epoch]
                steps, seconds = steps + len(t) - 1, seconds + t[-1] - t[0]
            devices = [x for x in run.stderr.splitlines() if x.startswith("distribute: ")]
            rate = round(steps * batch / seconds, 1) if seconds else None
            rows.append({"distribute": distribute, "images_per_s": rate,
                         "timed_steps": int(steps), "devices": devices[0][len("distribute: "):] if devices else "1"})
            print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    import sys

    throughput(sys.argv[1:])
