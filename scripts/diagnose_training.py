"""Why a run does not learn: per epoch, the share of dead ReLU units, weight and gradient norms per block.

    python scripts/diagnose_training.py --data_root ../shared/datasets/fer2013 --model fast \
        --epochs 3 --per_class 400 [--legacy_head] [--lr 1e-3 --l2 1e-4 --dropout 0.5 --block_dropout 0.25 ...]

Trains ``--model`` with fera's own pieces (data, augmentation, optimizer) on ``--per_class`` training
faces of each class (0 = all of them) and after every epoch prints one line with the training and
validation accuracy and the spread of the predictions over faces, then one line per block:

  dead    share of the block's ReLU units (channels for convolutions) that are zero for all of 512 faces
  |w|     L2 norm of the block's kernels
  |g|     L2 norm of the gradient of the loss on 128 faces with respect to those kernels

``--legacy_head`` builds the head as fera did before it learned (no BatchNorm after the Dense layers,
Keras' default Glorot initialisation of the output layer): the one that collapsed to the prior.
Gradients need the torch or TensorFlow backend; with JAX the |g| column reads n/a.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from fera.images import to_model_input  # noqa: E402
from fera.training.augment import Batches  # noqa: E402
from fera.training.config import AugmentConfig, DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from fera.training.data import class_weights, load_dataset, weighting  # noqa: E402
from fera.training.modelio import PREPROCESSING  # noqa: E402
from fera.training.models import create_model  # noqa: E402
from fera.training.train import _Schedule, make_optimizer  # noqa: E402


def block_of(name: str) -> str:
    """'features_block3_conv2' -> 'block3', 'head_dense1' -> 'head1', 'head_predictions' -> 'output'."""
    part = name.split("_")[1]
    return "output" if part == "predictions" else part.replace("dense", "head").replace("relu", "head")


def kernel_gradients(model, x: np.ndarray, y: np.ndarray) -> dict[str, float] | None:
    """{kernel path: gradient norm} of the training-mode loss, or None on a backend without tape."""
    backend = keras.backend.backend()
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    if backend == "torch":
        import torch

        out = model(torch.as_tensor(x), training=True)
        loss = keras.losses.categorical_crossentropy(torch.as_tensor(y), out).mean() + sum(model.losses)
        grads = torch.autograd.grad(loss, [v.value for v in kernels])
        return {v.path: float(g.norm()) for v, g in zip(kernels, grads)}
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, out)) + sum(model.losses)
        grads = tape.gradient(loss, [v.value for v in kernels])
        return {v.path: float(tf.norm(g)) for v, g in zip(kernels, grads)}
    return None


class Diagnose(keras.callbacks.Callback):
    """Prints the table described in the module docstring after every epoch."""

    def __init__(self, probe_x, probe_y):
        super().__init__()
        self.x, self.y = probe_x, probe_y

    def on_train_begin(self, logs=None):
        relus = [layer for layer in self.model.layers if isinstance(layer, keras.layers.ReLU)]
        self.relus = relus
        self.probe = keras.Model(self.model.inputs, [r.output for r in relus] + [self.model.output])

    def on_epoch_end(self, epoch, logs=None):
        outs = [keras.ops.convert_to_numpy(o) for o in self.probe(self.x, training=False)]
        spread = float(outs[-1].std(axis=0).mean())
        print(f"epoch {epoch + 1}: loss {logs['loss']:.4f}, train accuracy {logs['accuracy']:.3f}, "
              f"val accuracy {logs['val_accuracy']:.3f}, prediction spread over faces {spread:.4f}", flush=True)
        rows: dict[str, dict] = {}
        for relu, o in zip(self.relus, outs[:-1]):
            dead = float((o.reshape(-1, o.shape[-1]).max(axis=0) <= 0).mean())
            rows.setdefault(block_of(relu.name), {"dead": []})["dead"].append(dead)
        grads = kernel_gradients(self.model, self.x[:128], self.y[:128])
        for v in self.model.trainable_variables:
            if v.path.endswith("kernel"):
                r = rows.setdefault(block_of(v.path.split("/")[0]), {"dead": []})
                r["w"] = float(np.sqrt(r.get("w", 0.0) ** 2 + np.sum(keras.ops.convert_to_numpy(v) ** 2)))
                if grads is not None:
                    r["g"] = float(np.sqrt(r.get("g", 0.0) ** 2 + grads[v.path] ** 2))
        for block, r in rows.items():
            dead = f"{max(r['dead']):6.1%}" if r["dead"] else "     -"
            g = f"{r['g']:.3e}" if "g" in r else "n/a"
            print(f"  {block:7s} dead {dead}  |w| {r['w']:8.3f}  |g| {g}", flush=True)


def main(argv=None) -> int:
    warnings.filterwarnings("ignore", message="The structure of `inputs`")  # the probe's single input
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data_root", required=True)
    ap.add_argument("--model", default="fast")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--per_class", type=int, default=400, help="training faces per class (0 = all)")
    ap.add_argument("--legacy_head", action="store_true", help="the head without BatchNorm that collapsed")
    ap.add_argument("--no_augment", action="store_true")
    d, m, t = DataConfig(), ModelConfig(), TrainConfig()
    for name, default in (("lr", t.lr), ("l2", m.l2), ("dropout", m.dropout), ("block_dropout", m.block_dropout),
                          ("warmup_epochs", t.warmup_epochs), ("batch_size", d.batch_size)):
        ap.add_argument(f"--{name}", type=type(default), default=default)
    ap.add_argument("--optimizer", default=t.optimizer)
    ap.add_argument("--class_weight", default=t.class_weight, choices=("balanced", "sqrt", "none"))
    a = ap.parse_args(argv)
    cfg = RunConfig(data=DataConfig(data_root=a.data_root, batch_size=a.batch_size),
                    model=ModelConfig(name=a.model, l2=a.l2, dropout=a.dropout, block_dropout=a.block_dropout),
                    train=TrainConfig(optimizer=a.optimizer, lr=a.lr, warmup_epochs=a.warmup_epochs))
    keras.utils.set_random_seed(cfg.data.seed)
    ds = load_dataset(cfg.data)
    tr, va = ds.splits["train"], ds.splits["val"]
    rng = np.random.default_rng(0)
    idx = np.arange(len(tr.y)) if not a.per_class else np.concatenate(
        [rng.choice(np.flatnonzero(tr.y == c), min(a.per_class, int((tr.y == c).sum())), replace=False)
         for c in range(ds.num_classes)])
    x, y = tr.x[idx], tr.y[idx]
    used = weighting(class_weights(y, ds.num_classes), a.class_weight)
    model = create_model(a.model, input_shape=(*cfg.data.img_size, 1), num_classes=ds.num_classes, l2=a.l2,
                         dropout=a.dropout, block_dropout=a.block_dropout, head_bn=not a.legacy_head)
    if a.legacy_head:  # Keras' default initialisation of the output layer, as before
        out = model.get_layer("head_predictions")
        out.kernel.assign(keras.initializers.GlorotUniform(seed=cfg.data.seed)(out.kernel.shape))
    model.compile(optimizer=make_optimizer(cfg), loss="categorical_crossentropy", metrics=["accuracy"])
    aug = None if a.no_augment else AugmentConfig()
    batches = Batches(x, y, ds.num_classes, a.batch_size, seed=cfg.data.seed, shuffle=True, augment_cfg=aug,
                      class_weight=used)
    pick = rng.choice(len(y), min(512, len(y)), replace=False)
    probe_x = to_model_input(x[pick], {"preprocessing": PREPROCESSING})
    probe_y = np.eye(ds.num_classes, dtype="float32")[y[pick]]
    print(f"{a.model}{' (legacy head)' if a.legacy_head else ''}: {len(y)} training faces, "
          f"{keras.backend.backend()} backend, {vars(a)}", flush=True)
    model.fit(batches, validation_data=Batches(va.x, va.y, ds.num_classes, 256), epochs=a.epochs, verbose=0,
              callbacks=[_Schedule(a.lr, a.warmup_epochs, len(batches)), Diagnose(probe_x, probe_y)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
