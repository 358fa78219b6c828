"""Saving and loading Keras models together with what they need to be used correctly.

Every checkpoint carries a ``fera`` metadata record (class names, input size, preprocessing,
calibration temperature): inside the ``.keras`` zip as ``fera.json`` and as an attribute of
the ``.h5`` file. Nothing is guessed from file names.

Loading by reference (a shipped name, a file or a run folder): ``load_keras`` gives the Keras model and
its meta, ``load_predictor`` a ``fera.inference.Predictor`` (ONNX Runtime for shipped names and .onnx files,
``KerasPredictor`` otherwise).
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fera.errors import FeraError, first_line
from fera.fileio import atomic_path
from fera.inference import BATCH_SIZE, Predicting

META_FILE = "fera.json"  # inside .keras
META_ATTR = "fera"  # on the .h5 root group
FORMAT = 1


# The registry arguments that shape the layers of models fera trains now; files without an
# "architecture" record are older and had no BatchNorm in the head.
ARCHITECTURE = {"head_bn": True}
LEGACY_ARCHITECTURE = {"head_bn": False}
PREPROCESSING = {
    "color": "grayscale",  # ITU-R 601-2 luma, as PIL's convert("L")
    # how a face crop becomes the input (fera.images.RESIZE): "area", box averaging when shrinking; FER faces are
    # already 48x48, so training never resizes and this is the assistant's rule (before FER+: "bilinear")
    "resize": "area",
    "scale": 1 / 255,  # model input = pixel * scale, so in [0, 1]
    "layout": "NHWC",  # (batch, height, width, 1)
}


def make_meta(class_names, img_size, model_name: str, temperature: float = 1.0) -> dict:
    return {
        "format": FORMAT,
        "model": model_name,
        "architecture": dict(ARCHITECTURE),  # create_model(model, **architecture) rebuilds the layers
        "class_names": list(class_names),
        "input_size": [int(img_size[0]), int(img_size[1])],  # height, width
        "preprocessing": dict(PREPROCESSING),  # what fera.images.to_model_input does
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
        from fera import shipped

        raise shipped.not_found(str(ref), "a .keras/.h5 file or a run folder")
    return p


def load_model(ref: str | Path, compile: bool = False):
    """Load (model, meta) from a model file or run directory; meta falls back to the run's label_map.json."""
    import keras

    path = resolve_model_path(ref)
    meta = read_meta(path)
    try:
        model = keras.saving.load_model(path, compile=compile)
    except Exception as e:  # noqa: BLE001  (Keras raises many types for unreadable files)
        raise FeraError(f"cannot load model {path}: {first_line(e)}") from None
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


@dataclass
class KerasPredictor(Predicting):
    """A Keras model and its meta as a ``fera.inference.Predictor`` (the same flip and calibration as ONNX)."""

    model: object
    meta: dict
    batch_size: int = BATCH_SIZE

    def raw(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return np.asarray(self.model.predict(x, batch_size=batch_size or self.batch_size, verbose=0))


def save_keras_weights(model, meta: dict, path: Path) -> None:
    """The weights of a Keras model in fp16 storage (half the size), with its fera metadata (``.weights.npz``)."""
    arrays = {f"w{i:03d}": w.astype(np.float16) for i, w in enumerate(model.get_weights())}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(meta)), **arrays)


def load_keras_weights(path: Path):
    """(Keras model, meta) from a ``.weights.npz``: the model rebuilt from the registry, the weights back in fp32."""
    from fera.training.models import create_model

    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        weights = [z[k].astype(np.float32) for k in sorted(k for k in z.files if k.startswith("w"))]
    h, w = meta["input_size"]
    model = create_model(meta["model"], input_shape=(h, w, 1), num_classes=len(meta["class_names"]),
                         **meta.get("architecture", LEGACY_ARCHITECTURE))
    model.set_weights(weights)
    return model, meta


def load_keras(ref: str | Path):
    """(Keras model, meta) for a shipped name (its fp16-stored weights), a .weights.npz (any .npz that
    ``save_keras_weights`` wrote), a .keras/.h5 file or a run folder."""
    from fera import shipped

    if shipped.is_shipped(str(ref)):
        path = shipped.weights_path(str(ref))
        if not path.is_file():
            raise FeraError(f"no Keras weights for {ref!r}: the shipped model has no {path.name}")
        return load_keras_weights(path)
    p = Path(ref).expanduser()
    if not p.exists():
        raise shipped.not_found(str(ref), "a .keras/.h5 file or a run folder")
    if p.suffix == ".npz":
        return load_keras_weights(p)
    return load_model(p)


def load_predictor(ref: str, batch_size: int = BATCH_SIZE):
    """(Predictor, description) for a shipped name or an .onnx file (ONNX Runtime), or a Keras model file or run
    folder (Keras); ``batch_size``: faces per network call."""
    from fera import shipped

    if shipped.is_shipped(ref) or str(ref).endswith(".onnx"):
        m = shipped.load_onnx(ref)
        m.batch_size = batch_size
        return m, f"{ref} ({m.path.name}, ONNX Runtime)"
    p = Path(ref).expanduser()
    if not p.exists() and (p.suffix or len(p.parts) > 1):
        raise shipped.not_found(ref, "an .onnx, .keras or .h5 file or a run folder")
    if not p.exists():
        raise FeraError(f"no shipped model, model file or run folder named {ref!r} "
                        f"(shipped: {', '.join(shipped.shipped_names()) or 'none'})")
    model, meta = load_model(ref)
    return KerasPredictor(model, meta, batch_size), str(resolve_model_path(ref))
