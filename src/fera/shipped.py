"""The models that ship inside the package, found by name (``--model fast``, ``--model vgg13``).

For each NAME, ``fera/assets/models`` holds:
  NAME.onnx          fp32 ONNX (what the assistant runs), metadata inside
  NAME.int8.onnx     static int8 ONNX, when it agreed with fp32 on >= 99.5% of val
  NAME.weights.npz   the Keras weights (fp16 storage) for Grad-CAM and fine-tuning (``fera.training.modelio``)
  NAME.json          the model card's numbers: data, command, commit, accuracy, calibration, latency
No file is downloaded: everything is in the wheel.
"""
from __future__ import annotations

import json
from pathlib import Path

from fera.errors import FeraError

MODELS_DIR = Path(__file__).parent / "assets" / "models"


def shipped_names() -> list[str]:
    return sorted(p.name[:-5] for p in MODELS_DIR.glob("*.json"))


def most_accurate() -> str:
    """The shipped model with the best val accuracy (the default for photos, where speed matters less), compared
    on one label set: the first of a card's evaluations (FER+, then FER-2013 ...) that every shipped card has, else
    each card's own val accuracy."""
    names = shipped_names()
    if not names:
        raise FeraError("no model ships with this installation")
    cards = {n: card(n) for n in names}
    common = [k for k in cards[names[0]].get("evaluations", {})
              if all(k in c.get("evaluations", {}) for c in cards.values())]
    if common:
        return max(names, key=lambda n: cards[n]["evaluations"][common[0]]["accuracy"])
    return max(names, key=lambda n: cards[n]["val"]["accuracy"])


def card(name: str) -> dict:
    _check(name)
    return json.loads((MODELS_DIR / f"{name}.json").read_text())


def evaluations(c: dict) -> dict:
    """A card's figures per label set ({"FER+": {...}, "FER-2013": {...}}), its val set first; a card from before
    several label sets has only its val figures, under its data's name."""
    return c.get("evaluations") or {c.get("data", {}).get("name", "FER-2013"): c["val"]}


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


def has_int8(name: str) -> bool:
    """Whether the shipped model ``name`` has an int8 file (its card lists one)."""
    return is_shipped(name) and f"{name}.int8.onnx" in card(name)["files"]


def weights_path(name: str) -> Path:
    """The fp16-stored Keras weights of a shipped model (rebuilt by ``fera.training.modelio.load_keras``)."""
    _check(name)
    return MODELS_DIR / f"{name}.weights.npz"


def load_onnx(ref: str, int8: bool = False, threads: int | None = None):
    """An ``OnnxModel`` from a shipped name or an ``.onnx`` path. ``int8``: a shipped name's int8 file when its
    card lists one (its fp32 file otherwise); a path is loaded as it is."""
    from fera.inference import OnnxModel

    if is_shipped(ref):
        return OnnxModel.load(onnx_path(ref, int8 and has_int8(ref)), threads)
    if not Path(ref).expanduser().is_file():
        raise not_found(ref)
    return OnnxModel.load(Path(ref).expanduser(), threads)


def _check(name: str) -> None:
    if not is_shipped(name):
        have = ", ".join(shipped_names()) or "none"
        raise FeraError(f"no shipped model named {name!r} (shipped: {have}); give a model file or run folder")
