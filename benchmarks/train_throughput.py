"""Training throughput: the design's ImageDataGenerator pipeline against fera's, per backend and precision.

    python benchmarks/train_throughput.py --data_root ../shared/datasets/fer2013 [--steps 12]
    python benchmarks/train_throughput.py --data_root DATA --gpu     # on a GPU machine: vgg13 and fast

One line per measurement, in one run; every training measurement runs in its own process (a Keras
backend is fixed per process) after warm-up batches, on the same VGG-13, seed, batch size (64),
augmentation ranges and class weights:

1. data only: batches per second of the design's ImageDataGenerator.flow_from_directory against
   fera's in-memory Batches (OpenCV warps), and fera's pipeline against the model's training rate
   (goal: the pipeline at least 20x faster than the model, so it never limits training);
2. training, design pipeline + torch float32 (fera's old default) as the baseline, then each
   backend x precision with fera's pipeline; the ratio column is against that baseline and, for the
   design's own backend, TensorFlow, against the design pipeline there too;
3. with --gpu (a CUDA device): images/s of vgg13 and fast at batch 128 and 256 in mixed bfloat16,
   per backend present (jax compiles the whole step with XLA; torch and tensorflow as they come).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BASE = {"steps": 12, "batch_size": 64, "seed": 42}


def worker(spec: dict) -> dict:
    """Runs in a child process with KERAS_BACKEND set: one training-rate measurement."""
    import keras
    import numpy as np

    from fera.training.augment import Batches
    from fera.training.config import AugmentConfig, DataConfig
    from fera.training.data import class_weights, load_dataset
    from fera.training.models import create_model

    ds = load_dataset(DataConfig(data_root=spec["data_root"]))
    tr, bs = ds.splits["train"], spec["batch_size"]
    weights = class_weights(tr.y, ds.num_classes)
    if spec["pipeline"] == "design":
        from keras.src.legacy.preprocessing.image import ImageDataGenerator

        a = AugmentConfig()
        gen = ImageDataGenerator(rescale=1 / 255, rotation_range=a.rotation, width_shift_range=a.shift,
                                 height_shift_range=a.shift, shear_range=a.shear, zoom_range=a.zoom,
                                 horizontal_flip=a.horizontal_flip)
        data = gen.flow_from_directory(os.path.join(spec["data_root"], "train"), target_size=(48, 48),
                                       color_mode="grayscale", batch_size=bs, class_mode="categorical",
                                       shuffle=True, seed=spec["seed"])
        fit_kw = {"class_weight": weights}
    else:
        data = Batches(tr.x, tr.y, ds.num_classes, bs, seed=spec["seed"], shuffle=True,
                       augment_cfg=AugmentConfig(), class_weight=weights)
        fit_kw = {}
    keras.utils.set_random_seed(spec["seed"])
    model = create_model(spec["model"], num_classes=ds.num_classes, precision=spec["precision"])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    warm, steps, marks = 3, spec["steps"], []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 >= warm:
                marks.append(time.perf_counter())

    model.fit(data, steps_per_epoch=warm + steps, epochs=1, verbose=0, callbacks=[Clock()], **fit_kw)
    rate = steps * bs / (marks[-1] - marks[0])
    out = {"images_per_s": rate}
    if spec.get("data_only"):
        seq = data
        seq[0]
        t0 = time.perf_counter()
        for i in range(1, 101):
            seq[i % len(seq)]
        out["data_images_per_s"] = 100 * bs / (time.perf_counter() - t0)
    return out


def measure(spec: dict) -> dict | None:
    env = {**os.environ, "KERAS_BACKEND": spec["backend"], "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env, capture_output=True,
                         text=True)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
    if run.returncode or not lines:
        err = (run.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  {spec['backend']}/{spec['precision']}/{spec['pipeline']}: failed ({err})", flush=True)
        return None
    return json.loads(lines[-1])


def backends_present() -> list[str]:
    import importlib.util

    names = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}
    return [b for b, mod in names.items() if importlib.util.find_spec(mod)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data_root", help="FER-style root with train/")
    ap.add_argument("--steps", type=int, default=BASE["steps"], help="timed training batches per measurement")
    ap.add_argument("--gpu", action="store_true", help="measure vgg13 and fast at batch 128 and 256 in bf16")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(json.loads(a.worker))))
        return 0
    if not a.data_root:
        ap.error("--data_root is required")
    backends = backends_present()
    spec = {**BASE, "data_root": a.data_root, "steps": a.steps, "model": "vgg13"}
    print(f"{os.cpu_count()} CPU cores; backends {', '.join(backends)}; VGG-13, batch {spec['batch_size']}, "
          f"{a.steps} timed steps after 3 warm-up steps", flush=True)
    if a.gpu:
        for backend in backends:
            for model in ("vgg13", "fast"):
                for bs in (128, 256):
                    r = measure({**spec, "backend": backend, "model": model, "batch_size": bs,
                                 "precision": "mixed_bfloat16", "pipeline": "fera", "steps": max(a.steps, 50)})
                    if r:
                        print(f"gpu {backend:10s} {model:5s} batch {bs}: {r['images_per_s']:8.0f} img/s "
                              f"(a FER-2013 epoch in {28709 / r['images_per_s']:.1f} s)", flush=True)
        return 0
    base = measure({**spec, "backend": "torch", "precision": "float32", "pipeline": "design", "data_only": True})
    ours = measure({**spec, "backend": "torch", "precision": "float32", "pipeline": "fera", "data_only": True})
    if not base or not ours:
        return 1
    print(f"data only (100 batches of 64): design {base['data_images_per_s']:.0f} img/s, fera "
          f"{ours['data_images_per_s']:.0f} img/s, ratio {ours['data_images_per_s'] / base['data_images_per_s']:.1f}x")
    print(f"fera's pipeline against the model it feeds (VGG-13 training, torch float32): "
          f"{ours['data_images_per_s'] / ours['images_per_s']:.0f}x faster (goal >= 20x)")
    print(f"train design pipeline, torch float32 (baseline): {base['images_per_s']:.1f} img/s")
    rows = [("torch", "float32", ours)]
    design_tf = None
    for backend in [b for b in backends if b != "torch"] + ["torch"]:
        for precision in ("float32", "mixed_bfloat16"):
            if (backend, precision) == ("torch", "float32"):
                continue
            r = measure({**spec, "backend": backend, "precision": precision, "pipeline": "fera"})
            if r:
                rows.append((backend, precision, r))
        if backend == "tensorflow":
            design_tf = measure({**spec, "backend": "tensorflow", "precision": "float32", "pipeline": "design"})
    for backend, precision, r in rows:
        note = ""
        if backend == "tensorflow" and design_tf:
            note = f"; {r['images_per_s'] / design_tf['images_per_s']:.2f}x the design pipeline on tensorflow " \
                   f"({design_tf['images_per_s']:.1f} img/s)"
        print(f"train fera pipeline, {backend} {precision}: {r['images_per_s']:.1f} img/s, "
              f"{r['images_per_s'] / base['images_per_s']:.2f}x the baseline{note}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
