"""The options of the commands that train or load training data (`fera data`, `fera train`), defined once;
their "(default ...)" texts come from the settings dataclasses of ``fera.training.config``."""
from __future__ import annotations

import argparse

from fera.datasets.ferplus import SCHEMES
from fera.argtypes import COUNT, FRACTION, NON_NEGATIVE, POSITIVE, RATE, add_option, float_in
from fera.training.config import (CLASS_WEIGHTINGS, OPTIMIZERS, PRECISIONS, SCHEDULES, AugmentConfig, DataConfig,
                                  ModelConfig, TrainConfig)


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.replace("x", ",").split(","))
        if h < 8 or w < 8:
            raise ValueError
        return h, w
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHT,WIDTH of at least 8,8, e.g. 48,48 (got {text!r})") from None


def _steps(text: str) -> tuple[tuple[int, float], ...]:
    try:
        steps = tuple((int(e), float(f)) for e, f in (part.split(":") for part in text.split(",") if part.strip()))
        if not steps or any(e < 0 or f <= 0 for e, f in steps):
            raise ValueError
        return tuple(sorted(steps))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected EPOCH:FACTOR,... with epochs from 0 and factors above 0, "
                                         f"e.g. 20:0.5,40:0.1 (got {text!r})") from None


def coordinator_address(text: str) -> str:
    """HOST:PORT of process 0's coordinator (--coordinator, $FERA_COORDINATOR)."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, e.g. 10.0.0.1:1234 (got {text!r})")
    return text


def data_options(p) -> None:
    """Options of the commands that load a dataset to train on (`fera data`, `fera train`), defined once."""
    g = p.add_argument_group("data")
    g.add_argument("--data_root", help="FER-style root (train/, optional val/ and test/) or a FER-2013 CSV")
    add_option(g, "--img_size", (DataConfig, "img_size"), type=_size,
               help="HEIGHT,WIDTH images are converted to (default {default})")
    add_option(g, "--batch_size", (DataConfig, "batch_size"), type=COUNT, help="images per batch (default {default})")
    add_option(g, "--val_split", (DataConfig, "val_split"), type=float_in(0, 1, open_lo=True, open_hi=True),
               help="share of train/ held out when there is no val/ (default {default})")
    add_option(g, "--seed", (DataConfig, "seed"), type=NON_NEGATIVE,
               help="seed for the split, shuffling and augmentation (default {default})")
    add_option(g, "--labels", (DataConfig, "labels"), choices=SCHEMES,
               help="FER+ data: training targets from the 10 votes per face, the paper's schemes: majority, "
               "probability (a class drawn from the votes), crossentropy (the vote distribution) or multi_target; "
               "val and test use majority (default {default})")
    g.add_argument("--contempt", action="store_true", default=None,
                   help="FER+ data: keep contempt as an 8th class (default: FER-2013's 7 classes)")
    g.add_argument("--cache_dir", help="decoded-data cache folder (default: $FERA_CACHE_DIR or ~/.cache/fera)")
    g.add_argument("--no_cache", action="store_true", help="neither read nor write the decoded-data cache")
    g.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def train_arguments(p) -> None:
    """Options of `fera train`: the data options and the training settings."""
    data_options(p)
    g = p.add_argument_group("training")
    T, M, A = TrainConfig, ModelConfig, AugmentConfig
    add_option(g, "--out_dir", (T, "out_dir"), help="folder for the run's artifacts (default {default})")
    add_option(g, "--model", (M, "name"), help="registry name of the model (default {default}; see `fera models`)")
    add_option(g, "--epochs", (T, "epochs"), type=COUNT, help="maximum epochs (default {default})")
    add_option(g, "--optimizer", (T, "optimizer"), choices=OPTIMIZERS,
               help="adam (the design's), adamw (--l2 as decoupled weight decay) or sgd (Nesterov) (default {default})")
    add_option(g, "--lr", (T, "lr"), type=POSITIVE, help="peak learning rate (default {default})")
    add_option(g, "--warmup_epochs", (T, "warmup_epochs"), type=float_in(0),
               help="epochs of linear learning-rate warm-up (default {default}; 0 = none)")
    add_option(g, "--l2", (M, "l2"), type=float_in(0),
               help="L2 penalty on kernels (default {default}; weight decay with adamw)")
    add_option(g, "--dropout", (M, "dropout"), type=RATE, help="dropout after the dense layers (default {default})")
    add_option(g, "--block_dropout", (M, "block_dropout"), type=RATE,
               help="dropout after each conv block (default {default})")
    add_option(g, "--schedule", (T, "schedule"), choices=SCHEDULES,
               help="learning rate after the warm-up: plateau (ReduceLROnPlateau) or cosine (default {default})")
    add_option(g, "--label_smoothing", (T, "label_smoothing"), type=RATE,
               help="label smoothing of the loss (default {default})")
    add_option(g, "--min_lr", (T, "min_lr"), type=float_in(0),
               help="lowest learning rate of either schedule (default {default})")
    add_option(g, "--patience", (T, "early_stopping_patience"), type=NON_NEGATIVE,
               help="early-stopping patience in epochs (default {default})")
    add_option(g, "--class_weight", (T, "class_weight"), choices=CLASS_WEIGHTINGS,
               help="class weighting of the loss; balanced is the design's (default {default})")
    add_option(g, "--lr_steps", (T, "lr_steps"), type=_steps,
               help="with --schedule steps: EPOCH:FACTOR,... (epochs from 0) multiplying the peak learning rate "
               "(default {default}: the FER+ trainer's)")
    g.add_argument("--teacher", help="distil from this trained model (run folder, model file or shipped name): "
                   "the targets mix in its probabilities for each training face")
    add_option(g, "--teacher_weight", (T, "teacher_weight"), type=FRACTION,
               help="with --teacher: the teacher's share of each target (default {default})")
    g.add_argument("--no_augment", action="store_true", help="train without augmentation")
    add_option(g, "--rotation", (A, "rotation"), type=float_in(0, 180),
               help="augmentation: largest rotation in degrees (default {default})")
    add_option(g, "--shift", (A, "shift"), type=float_in(0, 1),
               help="augmentation: largest shift, share of the size (default {default})")
    add_option(g, "--shear", (A, "shear"), type=float_in(0, 89),
               help="augmentation: largest shear angle in degrees (default {default})")
    add_option(g, "--zoom", (A, "zoom"), type=float_in(0, 1, open_hi=True),
               help="augmentation: zoom drawn from [1 - zoom, 1 + zoom] per axis (default {default})")
    add_option(g, "--crop", (A, "crop"), type=NON_NEGATIVE,
               help="random crop: pad by this many pixels and cut the original size (default {default})")
    add_option(g, "--erasing", (A, "erasing"), type=FRACTION,
               help="share of images with a random rectangle erased (default {default})")
    add_option(g, "--precision", (T, "precision"), choices=PRECISIONS,
               help="float32 or mixed_bfloat16: ~1.5x faster on CPUs with bf16 support (default {default})")
    g.add_argument("--resume", action="store_true", help="continue the run in --out_dir from its last epoch")
    g.add_argument("--overwrite", action="store_true", help="start afresh in a non-empty --out_dir")
    add_option(g, "--verbose", (T, "verbose"), type=int, choices=(0, 1, 2),
               help="Keras output: 0 none, 1 progress bar, 2 a line per epoch (default {default}; "
               "2 when the output is not a terminal)")
    g = p.add_argument_group("several devices and hosts (KERAS_BACKEND=jax; pip install -e '.[distribute]')")
    g.add_argument("--distribute", action="store_true", default=None,
                   help="train data-parallel over every device JAX sees, --batch_size images per step over all of "
                   "them (default: one device)")
    add_option(g, "--coordinator", (T, "coordinator"), type=coordinator_address, metavar="HOST:PORT",
               help="with --distribute over several processes: process 0's address (default: $FERA_COORDINATOR, "
               "else JAX's own detection)")
    add_option(g, "--num_processes", (T, "num_processes"), type=COUNT, metavar="N",
               help="with --distribute: how many processes train together (default: $FERA_NUM_PROCESSES, "
               "else JAX's own detection, else 1)")
    add_option(g, "--process_id", (T, "process_id"), type=NON_NEGATIVE, metavar="I",
               help="with --distribute: this process's id, 0 to N - 1; process 0 writes --out_dir "
               "(default: $FERA_PROCESS_ID, else JAX's own detection)")
