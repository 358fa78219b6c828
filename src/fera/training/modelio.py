"""Saving and loading Keras models together with what they need to be used correctly.

Every checkpoint carries a ``fera`` metadata record (class names, input size, preprocessing,
calibration temperature): inside the ``.keras`` zip as ``fera.json`` and as an attribute of
the ``.h5`` file. Nothing is guessed from file names.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from fera.errors import FeraError
from fera.fileio import atomic_path

META_FILE = "fera.json"  # inside .keras
META_ATTR = "fera"  # on the .h5 root group
FORMAT = 1


# The registry arguments that shape the layers of models fera trains now; files without an
# "architecture" record are older and had no BatchNorm in the head.
ARCHITECTURE = {"head_bn": True}
LEGACY_ARCHITECTURE = {"head_bn": False}


def make_meta(class_names, img_size, model_name: str, temperature: float = 1.0) -> dict:
    return {
        "format": FORMAT,
        "model": model_name,
        "architecture": dict(ARCHITECTURE),  # create_model(model, **architecture) rebuilds the layers
        "class_names": list(class_names),
        "input_size": [int(img_size[0]), int(img_size[1])],  # height, width
        "preprocessing": {
            "color": "grayscale",  # ITU-R 601-2 luma, as PIL's convert("L")
            "resize": "bilinear",
            "scale": 1 / 255,  # model input = pixel * scale, so in [0, 1]
            "layout": "NHWC",  # (batch, height, width, 1)
        },
        "temperature": float(temperature),  # calibration: softmax(logits / T); 1.0 = uncalibrated
    }


def save_model(model, path: str | Path, meta: dict) -> None:
    """Write ``model`` (architecture and weights, no optimizer) and ``meta`` atomically to .keras or .h5."""
    import keras

    path = Path(path)
    if getattr(model, "optimizer", None) is not None:  # a float32 inference copy: a third of the size
        config = json.loads(json.dumps(model.get_config()).replace('"mixed_bfloat16"', '"float32"'))
        inference = keras.Model.from_config(config)
        inference.set_weights(model.get_weights())
        model = inference
    with atomic_path(path) as tmp:
        if path.suffix == ".keras":
            model.save(tmp)
            with zipfile.ZipFile(tmp, "a") as z:
                z.writestr(META_FILE, json.dumps(meta, indent=2))
        elif path.suffix == ".h5":
            import h5py

            model.save(tmp)
            with h5py.File(tmp, "a") as f:
                f.attrs[META_ATTR] = json.dumps(meta)
        else:
            raise ValueError(f"unsupported model file type: {path.name}")


def save_training_state(model, folder: Path) -> None:
    """Weights and optimizer variables (Adam moments, step, learning rate) of a compiled model, atomically."""
    with atomic_path(folder / "last.weights.h5") as tmp:
        model.save_weights(tmp)  # Keras stores the optimizer's variables alongside the layers'


def load_training_state(model, folder: Path) -> None:
    """Put back what ``save_training_state`` wrote into a freshly built and compiled ``model``."""
    model.optimizer.build(model.trainable_variables)  # create the slots so they can be filled
    try:
        model.load_weights(folder / "last.weights.h5")
    except ValueError as e:
        raise FeraError(f"the checkpoint in {folder} does not fit this model ({e}); start a new run") from None


def read_meta(path: str | Path) -> dict | None:
    path = Path(path)
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read(META_FILE)) if META_FILE in z.namelist() else None
        if path.suffix == ".h5":
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get(META_ATTR)
            return json.loads(raw) if raw is not None else None
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise FeraError(f"cannot read model file {path}: {e}") from None
    raise FeraError(f"not a Keras model file (.keras or .h5): {path}")


def resolve_model_path(ref: str | Path) -> Path:
    """A model file, or a run directory (its best_model.keras, else best_model.h5)."""
    p = Path(ref).expanduser()
    if p.is_dir():
        for name in ("best_model.keras", "best_model.h5"):
            if (p / name).is_file():
                return p / name
        raise FeraError(f"no best_model.keras or best_model.h5 in {p}")
    if not p.is_file():
        raise FeraError(f"model not found: {ref}")
    return p


def load_model(ref: str | Path, compile: bool = False):
    """Load (model, meta) from a model file or run directory; meta falls back to the run's label_map.json."""
    import keras

    path = resolve_model_path(ref)
    meta = read_meta(path)
    try:
        model = keras.saving.load_model(path, compile=compile)
    except Exception as e:  # noqa: BLE001  (Keras raises many types for unreadable files)
        raise FeraError(f"cannot load model {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if meta is None:
        meta = _meta_from_run_dir(path, model)
    return model, meta


def _meta_from_run_dir(path: Path, model) -> dict:
    label_map = path.parent / "label_map.json"
    if not label_map.is_file():
        raise FeraError(f"{path} carries no class names and there is no label_map.json beside it")
    names = json.loads(label_map.read_text())
    _, h, w, _ = model.input_shape
    return make_meta([names[str(i)] for i in range(len(names))], (h, w), model.name)
