"""What a face's six detector keypoints say: whether they make a face, which way it is turned, where its parts are.

BlazeFace gives six points per face, in ``KEYPOINT_NAMES`` order (right eye, left eye, nose tip, mouth
centre, right and left ear tragion; right and left as seen by the person photographed). Everything here
works in the face's own frame: x along the line from the right eye to the left eye, y perpendicular to it
(down the face), so a tilted head (roll) reads like an upright one.

``plausible``: the points make a face (eyes apart, nose below the eyes, mouth below the nose, the head not
lying on its side). Measured on the detector's own output (``benchmarks/detect_recall.py``): every face it
found with a score of at least 0.5 in the sample portraits' variants (70 to 200 px, tilted up to 60
degrees, darkened, mirrored, close-ups with a hand over the mouth) passes, except one 45 px face whose
points were scattered.

``yaw_ratio``/``facing``: how far the nose tip sits from the midpoint of the ears, over half the ear span. A
head turned by an angle t moves the nose towards the turn and the ears away from it, about 1.5 tan(t) with
typical proportions (nose tip 0.35 and ears 1.3 eye-distances off the eye plane): 0.4 at 15 degrees, 0.85
at 30. Only large faces, clearly turned or clearly not, get a word (see ``FacingConfig`` for the measurements).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RIGHT_EYE, LEFT_EYE, NOSE, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)


def face_frame(keypoints) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """(origin = the eyes' midpoint, x unit vector right eye -> left eye, y unit vector down the face, eye
    distance in pixels), or None without six usable points."""
    k = np.asarray(keypoints, dtype=np.float64)
    if k.shape != (6, 2) or not np.isfinite(k).all():
        return None
    v = k[LEFT_EYE] - k[RIGHT_EYE]
    ed = float(np.hypot(*v))
    if ed <= 1e-6:
        return None
    ux = v / ed
    return (k[RIGHT_EYE] + k[LEFT_EYE]) / 2, ux, np.array([-ux[1], ux[0]]), ed


def local(keypoints) -> tuple[np.ndarray, float, float] | None:
    """The six points in the face's frame (6, 2), the eye distance, and the roll in degrees (0 = eyes level)."""
    f = face_frame(keypoints)
    if f is None:
        return None
    o, ux, uy, ed = f
    d = np.asarray(keypoints, dtype=np.float64) - o
    return np.stack([d @ ux, d @ uy], axis=1), ed, math.degrees(math.atan2(ux[1], ux[0]))


@dataclass
class GeometryConfig:
    min_eye_width: float = 0.15  # eye distance / box width at least this (frontal faces: 0.35-0.5; turned: less)
    max_roll: float = 65.0  # degrees; a face lying on its side is not accepted
    nose_drop: tuple[float, float] = (0.05, 0.45)  # nose below the eye line, in box heights
    mouth_drop: tuple[float, float] = (0.15, 0.75)  # mouth below the eye line, in box heights
    min_nose_to_mouth: float = 0.04  # the mouth at least this much (box heights) below the nose
    inside: float = 0.3  # eyes, nose and mouth within the box grown by this share of its size


def plausible(keypoints, box_w: float, box_h: float, box_x: float = 0.0, box_y: float = 0.0,
              config: GeometryConfig | None = None) -> bool:
    """True when the six points make a face (see the module doc); True too when there are no points to judge
    (a detector that gives none)."""
    if keypoints is None or len(keypoints) == 0:
        return True
    c = config or GeometryConfig()
    loc = local(keypoints)
    if loc is None or box_w <= 0 or box_h <= 0:
        return False
    p, ed, roll = loc
    k = np.asarray(keypoints, dtype=np.float64)[:4]
    gx, gy = c.inside * box_w, c.inside * box_h
    if not ((k[:, 0] >= box_x - gx) & (k[:, 0] <= box_x + box_w + gx)
            & (k[:, 1] >= box_y - gy) & (k[:, 1] <= box_y + box_h + gy)).all():
        return False
    nose, mouth = p[NOSE, 1] / box_h, p[MOUTH, 1] / box_h
    return (ed / box_w >= c.min_eye_width and abs(roll) <= c.max_roll
            and c.nose_drop[0] <= nose <= c.nose_drop[1] and c.mouth_drop[0] <= mouth <= c.mouth_drop[1]
            and mouth - nose >= c.min_nose_to_mouth)


def yaw_ratio(keypoints) -> float | None:
    """Nose tip minus the ears' midpoint, over half the ear span, along the eye line: 0 facing the camera,
    positive when the nose points to the image's right (the person turned to the viewer's right)."""
    loc = local(keypoints)
    if loc is None:
        return None
    p = loc[0]
    half = (p[LEFT_EAR, 0] - p[RIGHT_EAR, 0]) / 2
    if half <= 1e-6:
        return None
    return float((p[NOSE, 0] - (p[LEFT_EAR, 0] + p[RIGHT_EAR, 0]) / 2) / half)


@dataclass
class FacingConfig:
    # Measured with benchmarks/facing.py (no photo of a turned head ships, so partly by simulation):
    # - The points are steady enough only on faces that fill this much of the detector's input: the face box
    #   height over the frame's longer side (0.18: a 115 px face in a 640 x 480 frame). The frontal sample
    #   portraits at that size or more (12 variants: upright, tilted 25 degrees, dark, mirrored) gave |ratio|
    #   0.16 at most; smaller ones up to 0.73, so they get no word.
    # - Mirroring a pseudo-turned face (the photo mapped on a cylinder and rotated) flipped the sign every time.
    # - The size of the ratio for a given angle is less certain: the cylinder (no nose relief) gave 0.2-0.5
    #   at 20-40 degrees, the 3D model above 0.27 at 10 and 0.57 at 20. So "turned" needs a clear 0.6 (20-25
    #   degrees by the model, more than 40 by the cylinder) and "facing you" under 0.2 (about 7 degrees by the
    #   model, 20 by the cylinder); in between fera says nothing about it.
    min_size: float = 0.18
    facing_below: float = 0.2
    turned_above: float = 0.6


def as_seen(side: str, mirror: bool) -> str:
    """``side`` ("left", "right" or anything else) as the user has it: swapped when the view is mirrored."""
    return {"left": "right", "right": "left"}.get(side, side) if mirror else side


def facing(keypoints, box_h: float, frame_w: int, frame_h: int, mirror: bool = False,
           config: FacingConfig | None = None) -> str | None:
    """"you", "left" or "right" (the viewer's left/right; swapped with ``mirror``), or None when unsure."""
    c = config or FacingConfig()
    if keypoints is None or len(keypoints) == 0 or box_h < c.min_size * max(frame_w, frame_h, 1):
        return None
    r = yaw_ratio(keypoints)
    if r is None:
        return None
    if abs(r) < c.facing_below:
        return "you"
    if abs(r) <= c.turned_above:
        return None
    side = "right" if r > 0 else "left"
    return as_seen(side, mirror)


def facing_words(direction: str | None) -> str | None:
    """"facing you", "turned to your left", "turned to your right" (None stays None)."""
    return None if direction is None else "facing you" if direction == "you" else f"turned to your {direction}"
