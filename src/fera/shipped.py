"""The models that ship inside the package, found by name (``--model fast``, ``--model vgg13``).

For each NAME, ``fera/assets/models`` holds:
  NAME.onnx          fp32 ONNX (what the assistant runs), metadata inside
  NAME.int8.onnx     static int8 ONNX, when it agreed with fp32 on >= 99.5% of val
  NAME.weights.npz   the Keras weights (fp16 storage) for Grad-CAM and fine-tuning
  NAME.json          the model card's numbers: data, command, commit, accuracy, calibration, latency
No file is downloaded: everything is in the wheel.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fera.errors import FeraError

MODELS_DIR = Path(__file__).parent / "assets" / "models"


def shipped_names() -> list[str]:
    return sorted(p.name[:-5] for p in MODELS_DIR.glob("*.json"))


def most_accurate() -> str:
    """The shipped model with the best val accuracy (the default for photos, where speed matters less)."""
    names = shipped_names()
    if not names:
        raise FeraError("no model ships with this installation")
    return max(names, key=lambda n: card(n)["val"]["accuracy"])


def card(name: str) -> dict:
    _check(name)
    return json.loads((MODELS_DIR / f"{name}.json").read_text())


def onnx_path(name: str, int8: bool = False) -> Path:
    _check(name)
    p = MODELS_DIR / f"{name}{'.int8' if int8 else ''}.onnx"
    if not p.is_file():
        raise FeraError(f"model {name!r} ships no {'int8' if int8 else 'fp32'} ONNX file")
    return p


def is_shipped(ref: str) -> bool:
    return (MODELS_DIR / f"{ref}.json").is_file()


def not_found(ref: str, other: str = "an .onnx file") -> FeraError:
    """The error for a model that is neither shipped nor a file: it names what is valid."""
    return FeraError(f"model not found: {ref} (shipped models: {', '.join(shipped_names()) or 'none'}; "
                     f"or give {other})")


def load_onnx(ref: str, int8: bool = False, threads: int | None = None):
    """An ``OnnxModel`` from a shipped name or an ``.onnx`` path."""
    from fera.inference import OnnxModel

    if not is_shipped(ref) and not Path(ref).expanduser().is_file():
        raise not_found(ref)
    return OnnxModel.load(onnx_path(ref, int8) if is_shipped(ref) else Path(ref).expanduser(), threads)


def save_keras_weights(model, meta: dict, path: Path) -> None:
    """The weights of a Keras model in fp16 storage (half the size), with its fera metadata."""
    from fera.fileio import atomic_path

    arrays = {f"w{i:03d}": w.astype(np.float16) for i, w in enumerate(model.get_weights())}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(meta)), **arrays)


def load_keras(ref: str):
    """(Keras model, meta) behind a shipped name, rebuilt from the registry and its fp16-stored weights."""
    from fera.training.modelio import LEGACY_ARCHITECTURE
    from fera.training.models import create_model

    path = MODELS_DIR / f"{ref}.weights.npz"
    path = path if path.is_file() else Path(ref)
    if not path.is_file():
        raise FeraError(f"no Keras weights for {ref!r}: not a shipped name nor a .weights.npz file")
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        weights = [z[k].astype(np.float32) for k in sorted(k for k in z.files if k.startswith("w"))]
    h, w = meta["input_size"]
    model = create_model(meta["model"], input_shape=(h, w, 1), num_classes=len(meta["class_names"]),
                         **meta.get("architecture", LEGACY_ARCHITECTURE))
    model.set_weights(weights)
    return model, meta


def _check(name: str) -> None:
    if not is_shipped(name):
        have = ", ".join(shipped_names()) or "none"
        raise FeraError(f"no shipped model named {name!r} (shipped: {have}); give a model file or run folder")
