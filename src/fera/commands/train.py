"""`fera train` (``fera.training.train``): its options, bound to the settings of ``fera.training.config``."""
from __future__ import annotations

import argparse
import sys

from fera.commands.args import (COUNT, FRACTION, NON_NEGATIVE, POSITIVE, RATE, add_option, fill, float_in, log)
from fera.commands.data import data_config, data_options
from fera.training.config import (CLASS_WEIGHTINGS, OPTIMIZERS, PRECISIONS, SCHEDULES, AugmentConfig, ModelConfig,
                                  RunConfig, TrainConfig, coordinator_address)

EXAMPLES = [
    "fera train --data_root data/fer2013 --out_dir runs/vgg13_fer",
    ("fera train --data_root data/fer2013 --model fast --epochs 3 --out_dir runs/try", "a quick try"),
    ("fera train --out_dir runs/vgg13_fer --resume", "after Ctrl-C: continue the same schedule")]
LAUNCH = ("coordinator", "num_processes", "process_id")  # where this launch's processes meet: a resume may change them


def lr_steps(text: str) -> tuple[tuple[int, float], ...]:
    try:
        steps = tuple((int(e), float(f)) for e, f in (part.split(":") for part in text.split(",") if part.strip()))
        if not steps or any(e < 0 or f <= 0 for e, f in steps):
            raise ValueError
        return tuple(sorted(steps))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected EPOCH:FACTOR,... with epochs from 0 and factors above 0, "
                                         f"e.g. 20:0.5,40:0.1 (got {text!r})") from None


def coordinator(text: str) -> str:
    """--coordinator HOST:PORT (``fera.training.config.coordinator_address``)."""
    try:
        return coordinator_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_arguments(p) -> None:
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
    add_option(g, "--lr_steps", (T, "lr_steps"), type=lr_steps,
               help="with --schedule steps: EPOCH:FACTOR,... (epochs from 0) multiplying the peak learning rate "
               "(default {default}: the FER+ trainer's)")
    g.add_argument("--teacher", help="distil from this trained model (run folder, model file or shipped name): "
                   "the targets mix in its probabilities for each training face")
    add_option(g, "--teacher_weight", (T, "teacher_weight"), type=FRACTION,
               help="with --teacher: the teacher's share of each target (default {default})")
    g.add_argument("--no_augment", action="store_true", help="train without augmentation")
    for name, kind, what in [
            ("rotation", float_in(0, 180), "augmentation: largest rotation in degrees"),
            ("shift", float_in(0, 1), "augmentation: largest shift, share of the size"),
            ("shear", float_in(0, 89), "augmentation: largest shear angle in degrees"),
            ("zoom", float_in(0, 1, open_hi=True), "augmentation: zoom drawn from [1 - zoom, 1 + zoom] per axis"),
            ("crop", NON_NEGATIVE, "random crop: pad by this many pixels and cut the original size"),
            ("erasing", FRACTION, "share of images with a random rectangle erased")]:
        add_option(g, f"--{name}", (A, name), type=kind, help=what + " (default {default})")
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
    add_option(g, "--coordinator", (T, "coordinator"), type=coordinator, metavar="HOST:PORT",
               help="with --distribute over several processes: process 0's address (default: $FERA_COORDINATOR, "
               "else JAX's own detection)")
    add_option(g, "--num_processes", (T, "num_processes"), type=COUNT, metavar="N",
               help="with --distribute: how many processes train together (default: $FERA_NUM_PROCESSES, "
               "else JAX's own detection, else 1)")
    add_option(g, "--process_id", (T, "process_id"), type=NON_NEGATIVE, metavar="I",
               help="with --distribute: this process's id, 0 to N - 1; process 0 writes --out_dir "
               "(default: $FERA_PROCESS_ID, else JAX's own detection)")


def run(args) -> int:
    """Train a model (the design's VGG-13 by default) and write every artifact to --out_dir."""
    import json

    from fera.training.train import resume_config, train

    train_cfg = fill(TrainConfig, args, early_stopping_patience="patience")
    if args.resume:  # the run's own settings; this launch may train for longer, be louder, or meet elsewhere
        cfg = resume_config(train_cfg.out_dir, epochs=args.epochs, verbose=args.verbose,
                            **{name: getattr(args, name) for name in LAUNCH})
    else:
        if train_cfg.verbose == 1 and not sys.stdout.isatty() and args.verbose is None:
            train_cfg.verbose = 2  # no progress-bar redraws in logs and pipes
        aug = AugmentConfig(rotation=0, shift=0, shear=0, zoom=0, horizontal_flip=False) if args.no_augment \
            else fill(AugmentConfig, args)
        cfg = RunConfig(data=data_config(args), augment=aug, model=fill(ModelConfig, args, name="model"),
                        train=train_cfg)
    metrics = train(cfg, log=log)
    if args.json:
        print(json.dumps({k: metrics[k] for k in ("best_val_accuracy", "best_epoch", "macro_f1", "evaluated_on")}))
    return 0
