"""Training throughput: fera's in-memory pipeline against the design's ImageDataGenerator pipeline.

Both train the same VGG-13 (same seed, batch size, augmentation ranges and class weights) in one
process, one after the other, and the script prints images/s for each and the ratio; then fera's
pipeline once more with ``--precision mixed_bfloat16`` (float32 weights, bf16 compute). It also
times the data pipelines alone, and loading the dataset cold (decode every file) and cached.

    python benchmarks/train_throughput.py --data_root ../shared/datasets/fer2013 [--steps 40] [--full_epoch]

``--steps`` trains that many batches per pipeline (after 3 warm-up batches); ``--full_epoch``
trains one whole epoch each (about 10 minutes per pipeline for VGG-13 on 2 CPU cores).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from fera.augment import Batches  # noqa: E402
from fera.config import AugmentConfig, DataConfig  # noqa: E402
from fera.data import class_weights, load_dataset  # noqa: E402
from fera.models import create_model  # noqa: E402

AUG = AugmentConfig()  # rotation 10, shift 0.1, shear 10, zoom 0.1, flip: the same ranges below


def design_generator(train_dir: str, size, batch_size: int, seed: int):
    """The design's pipeline: ImageDataGenerator.flow_from_directory with the same augmentation."""
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    gen = ImageDataGenerator(rescale=1 / 255, rotation_range=AUG.rotation, width_shift_range=AUG.shift,
                             height_shift_range=AUG.shift, shear_range=AUG.shear,
                             zoom_range=AUG.zoom, horizontal_flip=AUG.horizontal_flip)
    return gen.flow_from_directory(train_dir, target_size=size, color_mode="grayscale", batch_size=batch_size,
                                   class_mode="categorical", shuffle=True, seed=seed)


def compiled_vgg13(num_classes: int, size, seed: int, precision: str = "float32"):
    keras.utils.set_random_seed(seed)
    m = create_model("vgg13", input_shape=(*size, 1), num_classes=num_classes, precision=precision)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    return m


class _Timer(keras.callbacks.Callback):
    """Times training batches after ``warmup`` of them (first-call overheads excluded)."""

    def __init__(self, warmup: int):
        super().__init__()
        self.warmup, self.start, self.batches = warmup, None, 0

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.warmup:
            self.start = time.perf_counter()
        elif batch + 1 > self.warmup:
            self.batches += 1


def train_rate(model, data, steps: int, batch_size: int, warmup: int, **fit_kw) -> float:
    timer = _Timer(warmup)
    model.fit(data, steps_per_epoch=steps + warmup, epochs=1, verbose=0, callbacks=[timer], **fit_kw)
    return timer.batches * batch_size / (time.perf_counter() - timer.start)


def data_rate(seq, n_batches: int, batch_size: int) -> float:
    seq[0]
    t0 = time.perf_counter()
    for i in range(1, n_batches + 1):
        seq[i % len(seq)]
    return n_batches * batch_size / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data_root", required=True, help="FER-style root with train/")
    ap.add_argument("--steps", type=int, default=40, help="timed training batches per pipeline")
    ap.add_argument("--full_epoch", action="store_true", help="time one whole epoch per pipeline instead")
    ap.add_argument("--batch_size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    size, bs = (48, 48), args.batch_size
    train_dir = os.path.join(args.data_root, "train")
    print(f"backend {keras.backend.backend()}, keras {keras.__version__}, {os.cpu_count()} CPU cores")

    with tempfile.TemporaryDirectory() as cache:
        cfg = DataConfig(data_root=args.data_root, img_size=size, cache_dir=cache, seed=args.seed)
        cold = load_dataset(cfg)
        cached = load_dataset(cfg)
    assert cached.from_cache
    print(f"load {cold.source}: cold {cold.load_seconds:.2f} s (decode {sum(len(s) for s in cold.splits.values())} "
          f"files), cached {cached.load_seconds:.2f} s, ratio {cold.load_seconds / cached.load_seconds:.1f}x")

    tr = cached.splits["train"]
    weights = class_weights(tr.y, cached.num_classes)
    ours = Batches(tr.x, tr.y, cached.num_classes, bs, seed=args.seed, shuffle=True, augment_cfg=AUG,
                   class_weight=weights)
    theirs = design_generator(train_dir, size, bs, args.seed)
    assert list(theirs.class_indices) == cached.class_names
    n = 100
    d_theirs, d_ours = data_rate(theirs, n, bs), data_rate(ours, n, bs)
    print(f"data only ({n} batches of {bs}): design {d_theirs:.0f} img/s, fera {d_ours:.0f} img/s, "
          f"ratio {d_ours / d_theirs:.2f}x")

    steps = len(ours) - 3 if args.full_epoch else args.steps
    what = "one epoch" if args.full_epoch else f"{steps} batches"
    r_theirs = train_rate(compiled_vgg13(cached.num_classes, size, args.seed), theirs, steps, bs, 3,
                          class_weight=weights)
    print(f"train VGG-13 ({what}, design pipeline): {r_theirs:.1f} img/s")
    r_ours = train_rate(compiled_vgg13(cached.num_classes, size, args.seed), ours, steps, bs, 3)
    print(f"train VGG-13 ({what}, fera pipeline):   {r_ours:.1f} img/s")
    print(f"ratio fera / design: {r_ours / r_theirs:.2f}x")
    r_bf16 = train_rate(compiled_vgg13(cached.num_classes, size, args.seed, "mixed_bfloat16"), ours, steps, bs, 3)
    print(f"train VGG-13 ({what}, fera pipeline, --precision mixed_bfloat16): {r_bf16:.1f} img/s")
    print(f"ratio fera bf16 / design: {r_bf16 / r_theirs:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
