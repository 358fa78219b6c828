"""Do Grad-CAM's words name the part the picture shows hot? (fera.training.explain.heat_words)

    python benchmarks/gradcam_words.py [MODEL]     (default: vgg13, a shipped model)

For the two sample portraits and their mirror images, every class of the model is explained (7 heatmaps
a face, 28 in all). For each heatmap the part under its hottest point (upsampled as the overlay shows it,
the nearest of the face's parts placed from its own detector keypoints, or outside the face) is compared
with the words: how often the words name that part first, and how often at all.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from fera.training import explain  # noqa: E402
from fera.runtime.geometry import face_frame  # noqa: E402
from fera.images import read_rgb  # noqa: E402
from fera.training.modelio import load_keras  # noqa: E402

SAMPLES = Path(explain.__file__).resolve().parent / "assets" / "samples"


def peak_part(cam: np.ndarray, keypoints, n: int = 48) -> str:
    heat = np.asarray(Image.fromarray(cam.astype(np.float32)).resize((n, n), Image.Resampling.BILINEAR))
    y, x = np.unravel_index(int(heat.argmax()), heat.shape)
    px, py = (x + 0.5) / n, (y + 0.5) / n
    anchors = explain.face_regions(keypoints)
    d = [np.hypot(px - ax, py - ay) for _, (ax, ay) in anchors]
    return anchors[int(np.argmin(d))][0] if min(d) <= 0.7 * face_frame(keypoints)[3] else "outside"


def main(model_ref: str = "vgg13") -> None:
    model, meta = load_keras(model_ref)
    first = named = total = 0
    for name in ("astronaut.png", "grace_hopper.jpg"):
        for mirrored in (False, True):
            image = read_rgb(SAMPLES / name)
            image = image[:, ::-1].copy() if mirrored else image
            crops, _, points = explain.find_faces(image, keypoints=True)
            for cls in meta["class_names"]:
                cams, _, _ = explain.explain_faces(model, meta, crops[:1], cls)
                peak, words = peak_part(cams[0], points[0]), explain.heat_words(cams[0], points[0])
                said = [w.removeprefix("the ").split(" (")[0].replace("outside the face", "outside")
                        for w in words.split(" and ")]
                first += said[0] == peak
                named += peak in said
                total += 1
                print(f"{name}{' mirrored' if mirrored else ''} {cls}: peak on {peak}; words: {words}")
    print(f"model {model_ref}: the words name the peak's part first for {first} of {total} heatmaps, "
          f"at all for {named} of {total}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
