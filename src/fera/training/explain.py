"""`fera explain`: Grad-CAM overlays for the faces in a photo, and the words that say where the heat is.

The heatmaps come from ``fera.training.gradcam``; this module finds and crops the faces (as the assistant
does), draws the overlays and names the region the model looked at, for readers who cannot see them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fera.errors import FeraError, first_line

CROP_AS_IS_MAX = 128  # an image with no side longer than this is a face crop (like FER's 48 x 48), used as is


# Where the six keypoints (fera.runtime.geometry) lie in a face crop, as fractions of its side, when the
# detector's own are not known: the median over the sample portraits' square crops (margin 1.25), and over
# 376 FER-2013 val images (for a small image taken as a crop as it is), as the detector found them.
CROP_LAYOUT = ((0.34, 0.36), (0.66, 0.36), (0.5, 0.56), (0.5, 0.70), (0.17, 0.43), (0.83, 0.43))
FER_LAYOUT = ((0.31, 0.385), (0.69, 0.385), (0.5, 0.59), (0.5, 0.76), (0.13, 0.45), (0.87, 0.45))


def face_regions(keypoints) -> list[tuple[str, tuple[float, float]]]:
    """(region, point) anchors of a face's parts from its keypoints (any units): eyes, brows, forehead,
    nose, cheeks, mouth and chin, placed along the face's own axes, so a tilted face works too."""
    from fera.runtime.geometry import MOUTH, NOSE, face_frame

    o, ux, uy, ed = face_frame(keypoints)
    k = np.asarray(keypoints, dtype=np.float64)
    re, le, nose, mouth = k[0], k[1], k[NOSE], k[MOUTH]
    down = nose - o
    pts = [("eyes", re), ("eyes", le), ("brows", re - 0.3 * ed * uy), ("brows", le - 0.3 * ed * uy),
           ("forehead", o - 0.85 * ed * uy), ("nose", nose), ("nose", (o + nose) / 2),
           ("cheeks", re + down - 0.2 * ed * ux), ("cheeks", le + down + 0.2 * ed * ux),
           ("mouth", mouth), ("mouth", mouth - 0.35 * ed * ux), ("mouth", mouth + 0.35 * ed * ux),
           ("chin", mouth + 0.55 * ed * uy)]
    return [(name, (float(p[0]), float(p[1]))) for name, p in pts]


def heat_words(heatmap: np.ndarray, keypoints=None) -> str:
    """Where the heat lies, named by the face's parts: "the mouth", "the eyes and the brows", "outside the
    face (hair or background)", "no region stood out". ``keypoints``: the face's six points as fractions of
    the crop (x, y in 0..1); default: the usual layout of a detector crop (``CROP_LAYOUT``).

    The heatmap is upsampled as the overlay shows it and only its hot part (above half its peak) counts, so
    thin heat over the wide area around the face does not outweigh a peak; each pixel goes to the nearest
    part (or outside the face, farther than 0.7 eye distances from every part), and the parts with the most
    heat are named: the first, and the second when it holds at least 0.6 as much
    (``benchmarks/gradcam_words.py`` measures how often that is the part under the peak)."""
    total = float(np.asarray(heatmap, dtype=np.float64).sum())
    if total <= 0:
        return "no region stood out"
    from fera.runtime.geometry import face_frame

    kps = np.asarray(CROP_LAYOUT if keypoints is None else keypoints, dtype=np.float64)
    n = 48
    heat = np.asarray(Image.fromarray(np.asarray(heatmap, dtype=np.float32)).resize((n, n), Image.Resampling.BILINEAR),
                      dtype=np.float64)
    heat = np.clip(heat, 0, None)
    if heat.max() < 1.5 * heat.mean():
        return "no region stood out (the heat is spread over the face)"
    heat = np.clip(heat - 0.5 * heat.max(), 0, None)  # the hot part, as the overlay shows it (warm colours)
    ys, xs = (np.mgrid[0:n, 0:n] + 0.5) / n
    anchors = face_regions(kps)
    d = np.stack([np.hypot(xs - x, ys - y) for _, (x, y) in anchors])
    near = d.argmin(axis=0)
    names = np.array([a for a, _ in anchors] + ["outside"])
    near = np.where(d.min(axis=0) > 0.7 * face_frame(kps)[3], len(anchors), near)
    mass: dict[str, float] = {}
    for i, name in enumerate(names):
        mass[name] = mass.get(name, 0.0) + float(heat[near == i].sum())
    top = sorted(mass.items(), key=lambda kv: -kv[1])
    words = [("outside the face (hair or background)" if name == "outside" else f"the {name}")
             for name, m in top[:2] if m >= 0.6 * top[0][1]]
    return " and ".join(words)


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
    from fera.training.gradcam import gradcam, keras_numpy
    from fera.inference import calibrate, preprocess

    names = meta["class_names"]
    if class_name is not None and class_name not in names:
        raise FeraError(f"unknown class {class_name!r}; the model's classes: {', '.join(names)}")
    x = preprocess(faces, meta)
    probs = calibrate(keras_numpy(model(x, training=False)), float(meta.get("temperature", 1.0)))
    cams, idx = gradcam(model, x, probs.argmax(axis=1) if class_name is None else names.index(class_name))
    return cams, probs, idx


def find_faces(image: np.ndarray, whole: bool = False, detector=None, keypoints: bool = False, settings=None):
    """Face crops and their boxes in a photo (the assistant's photo search and crop, by the runtime's ``settings``:
    ``fera.runtime.settings.Settings``, default its defaults), left to right; a small image (a face crop already,
    like FER's) or ``whole`` is one crop as it is. ``detector``: a loaded one to reuse (default: the settings',
    loaded now). ``keypoints``: also each face's six points as fractions of its crop (``FER_LAYOUT`` for a crop
    taken as it is)."""
    from fera.runtime.classify import square_crop, square_geometry
    from fera.runtime.search import Search
    from fera.runtime.settings import Settings, build_detector
    from fera.runtime.wording import left_to_right

    h, w = image.shape[:2]
    if whole or max(h, w) <= CROP_AS_IS_MAX:
        return ([image], [None], [FER_LAYOUT]) if keypoints else ([image], [None])
    s = settings or Settings()
    margin = s.classify.margin
    found = left_to_right(Search(detector or build_detector(s.detect), s.detect).photo(image))
    boxes = [d.clip(w, h) for d in found]
    crops, points = [square_crop(image, b, margin) for b in boxes], []
    for b, d in zip(boxes, found):  # keypoints as fractions of each face's crop
        x0, y0, side = square_geometry(b, margin)
        points.append([((u - x0) / side, (v - y0) / side) for u, v in d.keypoints] or CROP_LAYOUT)
    return (crops, boxes, points) if keypoints else (crops, boxes)


def position(box, image: np.ndarray) -> str | None:
    """"left" / "ahead" / "right" as the assistant says it (None for a crop taken as it is)."""
    from fera.runtime.announce import AnnounceConfig
    from fera.runtime.wording import position as where

    c = AnnounceConfig()
    return None if box is None else where(box, image.shape[1], c.side, c.mirror)


def explain_image(model_ref: str, image_path: str, out: str | None = None, class_name: str | None = None,
                  whole: bool = False) -> list[Explained]:
    """Grad-CAM for every face of a photo; one overlay PNG per face (``out``, or NAME_gradcam.png)."""
    from fera import shipped
    from fera.fileio import atomic_path
    from fera.images import read_rgb
    from fera.training.modelio import load_keras

    if not shipped.is_shipped(model_ref) and not Path(model_ref).expanduser().exists():
        raise shipped.not_found(model_ref, "a .keras/.h5 file or a run folder")  # before any work
    try:
        image = read_rgb(image_path)
    except FileNotFoundError:
        raise FeraError(f"image not found: {image_path}") from None
    except Exception as e:  # noqa: BLE001  (any decoder failure)
        raise FeraError(f"cannot read image {image_path}: {first_line(e)}") from None
    crops, boxes, points = find_faces(image, whole, keypoints=True)
    if not crops:
        raise FeraError(f"no face found in {image_path} (--whole explains the whole image as one face)")
    model, meta = load_keras(model_ref)
    cams, probs, idx = explain_faces(model, meta, crops, class_name)
    names = meta["class_names"]
    base = Path(out) if out else Path(f"{Path(image_path).stem}_gradcam.png")
    results = []
    for i, (crop, box, kps, cam, p, k) in enumerate(zip(crops, boxes, points, cams, probs, idx), start=1):
        path = base if len(crops) == 1 else base.with_name(f"{base.stem}_face{i}{base.suffix or '.png'}")
        label = names[int(k)]
        caption = f"{label} {p[k]:.0%} (calibrated)"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            overlay(crop, cam, caption).save(tmp, format="PNG")
        results.append(Explained(None if box is None else box.to_dict(), position(box, image), label, round(float(p[k]), 4),
                                 names[int(np.argmax(p))], heat_words(cam, kps), str(path)))
    return results
