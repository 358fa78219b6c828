"""`fera explain`: Grad-CAM overlays for the faces in a photo, and the words that say where the heat is.

The heatmaps come from ``fera.gradcam``; this module finds and crops the faces (as the assistant
does), draws the overlays and names the region the model looked at, for readers who cannot see them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fera.errors import FeraError

CROP_AS_IS_MAX = 128  # an image with no side longer than this is a face crop (like FER's 48 x 48), used as is


def load_keras_any(ref: str):
    """(Keras model, meta) for a shipped name, a .keras/.h5 file or a run folder."""
    from fera import shipped

    if shipped.is_shipped(ref):
        return shipped.load_keras(ref)
    if not Path(ref).expanduser().exists():
        raise shipped.not_found(ref, "a .keras/.h5 file or a run folder")
    from fera.modelio import load_model

    return load_model(ref)


def heat_words(heatmap: np.ndarray) -> str:
    """Where the heat lies, in words: "the lower middle of the face (mouth)", "no region stood out"."""
    total = float(heatmap.sum())
    if total <= 0:
        return "no region stood out"
    h, w = heatmap.shape
    ys, xs = np.mgrid[0:h, 0:w]
    cy, cx = float((heatmap * (ys + 0.5)).sum() / total / h), float((heatmap * (xs + 0.5)).sum() / total / w)
    row = "upper" if cy < 0.4 else "lower" if cy > 0.6 else "central"
    col = "left" if cx < 0.4 else "right" if cx > 0.6 else "middle"
    part = {"upper": "eyes and brows", "central": "nose and cheeks", "lower": "mouth and chin"}[row]
    where = f"the {row} {col}" if (row, col) != ("central", "middle") else "the centre"
    return f"{where} of the face ({part}, as seen in the picture)"


def overlay(face: np.ndarray, heatmap: np.ndarray, caption: str, size: int = 192, alpha: float = 0.45) -> Image.Image:
    """The face (grey) under the heatmap in colour, upsampled to ``size``, with ``caption`` below."""
    from matplotlib import colormaps

    grey = Image.fromarray(face).convert("L").resize((size, size), Image.Resampling.BILINEAR).convert("RGB")
    heat = Image.fromarray((np.clip(heatmap, 0, 1) * 255).astype(np.uint8)).resize((size, size),
                                                                                      Image.Resampling.BILINEAR)
    coloured = (colormaps["jet"](np.asarray(heat) / 255.0)[..., :3] * 255).astype(np.uint8)
    mixed = Image.blend(grey, Image.fromarray(coloured), alpha)
    font = ImageFont.load_default(size=max(10, size // 14))
    canvas = Image.new("RGB", (size, size + size // 6), "white")
    canvas.paste(mixed, (0, 0))
    ImageDraw.Draw(canvas).text((4, size + 3), caption, fill="black", font=font)
    return canvas


@dataclass
class Explained:
    box: dict | None  # the face in the photo (x, y, w, h), None when the image was taken as a crop
    position: str | None  # "left" / "ahead" / "right" in the photo
    label: str  # the class explained
    probability: float  # its calibrated probability
    predicted: str  # the model's top class
    heat: str  # where the heat is, in words
    file: str | None = None  # the overlay written


def explain_faces(model, meta: dict, faces: list[np.ndarray], class_name: str | None = None):
    """(heatmaps, calibrated probabilities, class indices) for face crops."""
    from fera.gradcam import gradcam, keras_numpy
    from fera.inference import calibrate, preprocess

    names = meta["class_names"]
    if class_name is not None and class_name not in names:
        raise FeraError(f"unknown class {class_name!r}; the model's classes: {', '.join(names)}")
    x = preprocess(faces, meta)
    probs = calibrate(keras_numpy(model(x, training=False)), float(meta.get("temperature", 1.0)))
    cams, idx = gradcam(model, x, probs.argmax(axis=1) if class_name is None else names.index(class_name))
    return cams, probs, idx


def find_faces(image: np.ndarray, whole: bool = False, detector=None):
    """Face crops and their boxes in a photo (the assistant's detector, tiles and crop); a small image
    (a face crop already, like FER's) or ``whole`` is one crop as it is. ``detector``: a loaded one to
    reuse (default: BlazeFace full range, loaded now)."""
    from fera.runtime.classify import ClassifyConfig, square_crop
    from fera.runtime.detect import BlazeFaceDetector, detect_tiled
    from fera.runtime.types import Box

    h, w = image.shape[:2]
    if not whole and max(h, w) > CROP_AS_IS_MAX:
        found = detect_tiled(detector or BlazeFaceDetector("full"), image)
        boxes = sorted((Box(d.x, d.y, d.w, d.h).clip(w, h) for d in found), key=lambda b: b.cx)
        return [square_crop(image, b, ClassifyConfig().margin) for b in boxes], boxes
    return [image], [None]


def position(box, image: np.ndarray) -> str | None:
    """"left" / "ahead" / "right" as the assistant says it (None for a crop taken as it is)."""
    from fera.runtime.announce import Announcer
    from fera.runtime.types import FrameInfo

    return None if box is None else Announcer().position(box, FrameInfo(image.shape[1], image.shape[0]))


def explain_image(model_ref: str, image_path: str, out: str | None = None, class_name: str | None = None,
                  whole: bool = False) -> list[Explained]:
    """Grad-CAM for every face of a photo; one overlay PNG per face (``out``, or NAME_gradcam.png)."""
    from fera import shipped
    from fera.fileio import atomic_path
    from fera.runtime.sources import read_image

    if not shipped.is_shipped(model_ref) and not Path(model_ref).expanduser().exists():
        raise shipped.not_found(model_ref, "a .keras/.h5 file or a run folder")  # before any work
    try:
        image = read_image(image_path)
    except FileNotFoundError:
        raise FeraError(f"image not found: {image_path}") from None
    except Exception as e:  # noqa: BLE001  (any decoder failure)
        raise FeraError(f"cannot read image {image_path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    crops, boxes = find_faces(image, whole)
    if not crops:
        raise FeraError(f"no face found in {image_path} (--whole explains the whole image as one face)")
    model, meta = load_keras_any(model_ref)
    cams, probs, idx = explain_faces(model, meta, crops, class_name)
    names = meta["class_names"]
    base = Path(out) if out else Path(f"{Path(image_path).stem}_gradcam.png")
    results = []
    for i, (crop, box, cam, p, k) in enumerate(zip(crops, boxes, cams, probs, idx), start=1):
        path = base if len(crops) == 1 else base.with_name(f"{base.stem}_face{i}{base.suffix or '.png'}")
        label = names[int(k)]
        caption = f"{label} {p[k]:.0%} (calibrated)"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            overlay(crop, cam, caption).save(tmp, format="PNG")
        results.append(Explained(None if box is None else box.to_dict(), position(box, image), label, round(float(p[k]), 4),
                                 names[int(np.argmax(p))], heat_words(cam), str(path)))
    return results


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, help="a shipped model name (see `fera models`), a .keras/.h5 file or "
                   "a run folder (Grad-CAM needs the Keras model, not an .onnx)")
    p.add_argument("--image", required=True, help="a photo (every face found is explained) or a face crop (an image of at "
                   f"most {CROP_AS_IS_MAX} px, used as it is)")
    p.add_argument("--out", help="the overlay PNG to write (several faces: _face1, _face2 ... are added; "
                   "default: IMAGE_gradcam.png here)")
    p.add_argument("--class", dest="class_name", help="explain this class instead of the predicted one")
    p.add_argument("--whole", action="store_true", help="take the whole image as one face crop, without detection")
    p.add_argument("--json", action="store_true", help="one JSON object per face")


def cmd_explain(args) -> int:
    """Grad-CAM: a heatmap of where the model looked, for each face in a photo, with words for where it is."""
    if str(args.model).endswith(".onnx"):
        raise FeraError("Grad-CAM needs gradients: give a shipped name, a .keras/.h5 file or a run folder, not .onnx")
    for i, r in enumerate(explain_image(args.model, args.image, args.out, args.class_name, args.whole), start=1):
        if args.json:
            print(json.dumps(r.__dict__))
        else:
            where = f" ({r.position})" if r.position else ""
            also = "" if r.label == r.predicted else f"; the model's top class is {r.predicted}"
            print(f"face {i}{where}: {r.label} {r.probability:.0%}{also}; the heat is on {r.heat}; wrote {r.file}")
    return 0
