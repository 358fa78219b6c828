"""Settings: one dataclass per concern, with commented defaults.

Every run writes the resolved settings to ``config.json`` so it can be repeated.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

PRECISIONS = ("float32", "mixed_bfloat16")  # values of TrainConfig.precision
CLASS_WEIGHTINGS = ("balanced", "sqrt", "none")  # values of TrainConfig.class_weight
SCHEDULES = ("plateau", "cosine", "steps")  # values of TrainConfig.schedule
OPTIMIZERS = ("adam", "adamw", "sgd")  # values of TrainConfig.optimizer


@dataclass
class DataConfig:
    data_root: str = ""  # FER-style root (train/, optional val/ and test/) or a FER-2013 CSV
    img_size: tuple[int, int] = (48, 48)  # (height, width) every image is converted to
    batch_size: int = 64  # images per training step
    val_split: float = 0.2  # share of train/ held out (stratified) when there is no val/
    seed: int = 42  # seeds the validation split, shuffling and augmentation
    cache_dir: str | None = None  # decoded-array cache; None = $FERA_CACHE_DIR or ~/.cache/fera
    use_cache: bool = True  # read and write the decoded-array cache
    # FER+ roots only (FER2013Train/ with label.csv): how the 10 votes per face become training targets, the
    # paper's four schemes: "majority" (one class, with more than half of the votes), "crossentropy" (the vote
    # distribution), "probability" (a class drawn from it each time), "multi_target" (every class with 30% of the
    # votes, -log max target * p); val and test are always scored on majority labels
    labels: str = "majority"
    contempt: bool = False  # FER+ roots: keep FER+'s 8th class, contempt (7 classes, FER-2013's, without it)


@dataclass
class AugmentConfig:
    """Random affine augmentation applied to training batches only (like ImageDataGenerator)."""

    rotation: float = 10.0  # max rotation, degrees
    shift: float = 0.1  # max translation, fraction of width/height
    shear: float = 10.0  # max shear angle, degrees
    zoom: float = 0.1  # zoom factor drawn from [1 - zoom, 1 + zoom]
    horizontal_flip: bool = True  # mirror half of the images
    crop: int = 0  # random crop: pad by this many pixels (edge repeated) and cut a window of the original size
    erasing: float = 0.0  # random erasing: share of images with one rectangle (2-25% of the area) set to noise


@dataclass
class ModelConfig:
    name: str = "vgg13"  # a name from the model registry (`fera models`)
    # L2 penalty l2 * sum(w^2) on conv and dense kernels, added to the loss (the design's); with
    # --optimizer adamw it is applied as decoupled weight decay instead (see TrainConfig.optimizer)
    l2: float = 1e-4
    dropout: float = 0.5  # dropout after the dense layers
    # dropout after each conv block's pooling; 0 by default: with 0.25 (the old default) the first
    # epoch on FER-2013 ended at 0.21 val accuracy against 0.26 without (fast, design settings)
    block_dropout: float = 0.0


@dataclass
class TrainConfig:
    out_dir: str = "runs/vgg13_fer"  # where the run's artifacts go
    epochs: int = 20  # maximum number of epochs
    # "adam" (the design's), "adamw" (Adam with decoupled weight decay: --l2 becomes a decay of
    # 2 * l2 * lr per step on the kernels, the shrinkage plain SGD with that L2 penalty gives, and no
    # penalty in the loss) or "sgd" (momentum 0.9, Nesterov; the L2 penalty stays in the loss)
    optimizer: str = "adam"
    lr: float = 1e-3  # learning rate (peak, after the warm-up)
    # the learning rate rises linearly from lr/steps to lr over this many epochs; without it Adam at
    # 1e-3 stalls VGG-13 on FER-2013 at chance level (measured: 0.25 vs 0.42 train accuracy after 3 epochs)
    warmup_epochs: float = 1.0
    early_stopping_patience: int = 10  # epochs without val_accuracy gain before stopping
    # "plateau": the design's ReduceLROnPlateau on val_loss; "cosine": after the warm-up the LR falls
    # along a half cosine from lr to min_lr at the last epoch (better for a fixed, short budget)
    schedule: str = "plateau"
    # "steps": after the warm-up the LR is lr times the factor of the last step reached, (epoch, factor) with
    # epochs counted from 0; the default is the FER+ trainer's (0.05 / 0.025 / 0.005 from epochs 1 / 21 / 41)
    lr_steps: tuple[tuple[int, float], ...] = ((20, 0.5), (40, 0.1))
    label_smoothing: float = 0.0  # share of each one-hot target spread evenly over the classes
    reduce_lr_patience: int = 3  # epochs without val_loss gain before the LR is cut
    reduce_lr_factor: float = 0.5  # LR multiplier on plateau
    min_lr: float = 1e-6  # the LR never goes below this
    # "balanced" (n / (k * n_class), the design's), "sqrt" (their square root) or "none". Balanced
    # weights (disgust x9.4 on FER-2013) slow the first epochs markedly; see README.
    class_weight: str = "balanced"
    # distillation: a trained model (run folder, .keras/.h5, .onnx or shipped name) whose flip-averaged
    # probabilities on the training faces are mixed into the targets, teacher_weight of them; None = none
    teacher: str | None = None
    teacher_weight: float = 0.5
    resume: bool = False  # continue the run in out_dir from its last saved epoch
    overwrite: bool = False  # allow a fresh run in a non-empty out_dir (old artifacts are replaced)
    verbose: int = 1  # Keras progress: 0 silent, 1 progress bar, 2 one line per epoch
    # "float32", or "mixed_bfloat16": bf16 compute with float32 weights, about 1.5x faster on CPUs with
    # bf16 instructions (AVX512-BF16/AMX) and on GPUs; saved models are always float32.
    precision: str = "float32"
    # data-parallel over every device JAX sees (KERAS_BACKEND=jax; fera.training.distribute): batch_size stays
    # the global batch, split over the devices
    distribute: bool = False
    # with distribute, several processes or hosts: process 0's HOST:PORT, the number of processes and this one's
    # id (0 writes out_dir); None = $FERA_COORDINATOR / $FERA_NUM_PROCESSES / $FERA_PROCESS_ID, else JAX's own
    # detection ($JAX_COORDINATOR_ADDRESS, Slurm, Open MPI, Cloud TPU), else one process
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None  # config.json keeps it null: each launch gives its own


def coordinator_address(text: str) -> str:
    """``text`` when it is HOST:PORT of process 0's coordinator (--coordinator, $FERA_COORDINATOR); else ValueError."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in text):
        raise ValueError(f"expected HOST:PORT, e.g. 10.0.0.1:1234 (got {text!r})")
    return text


# The fields of a run's settings that do not change what is learned: where the data, cache and artifacts are,
# whether it resumes or overwrites, how it is shown, and where its processes meet.
BOOKKEEPING = {"data": ("data_root", "cache_dir", "use_cache"), "augment": (), "model": ("name",),
               "train": ("out_dir", "resume", "overwrite", "verbose", "coordinator", "num_processes", "process_id")}


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hyperparameters(self) -> dict:
        """The settings that shape what is learned, flat (data, then model, then training settings; augmentation as
        one record), made from ``to_dict``: every field but the run's bookkeeping (``BOOKKEEPING``: where files
        are, how the run is shown and launched; the model's name is metrics.json's ``model``). metrics.json keeps
        them as ``hyperparameters``; config.json is the whole record."""
        d = self.to_dict()
        flat = {k: v for part in ("data", "model", "train") for k, v in d[part].items() if k not in BOOKKEEPING[part]}
        return {**flat, "augment": d["augment"]}

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        data = dict(d.get("data", {}))
        if "img_size" in data:
            data["img_size"] = tuple(data["img_size"])
        train = dict(d.get("train", {}))
        if "lr_steps" in train:
            train["lr_steps"] = tuple((int(e), float(f)) for e, f in train["lr_steps"])
        return cls(
            data=DataConfig(**data),
            augment=AugmentConfig(**d.get("augment", {})),
            model=ModelConfig(**d.get("model", {})),
            train=TrainConfig(**train),
        )
