"""Face detector recall, false faces and speed on hard variants of the sample photos, close-ups and title cards.

    python benchmarks/detect_recall.py [--runs 50]

Each public-domain sample portrait is placed on a 640 x 480 frame in 24 variants: four sizes
(face about 200, 100, 70 and 45 px high), each upright, turned 25 degrees either way, darkened to a
quarter of its brightness, and mirrored. Ten frames hold no face (flat, noise, gradients, the
photos' face-free lower halves). For BlazeFace short range, full range, full range keeping only
faces whose keypoints make a face (what fera uses for video, with the zoomed-out pass when a frame
has none), and full range with the photo search (tiles, zoomed out, keypoints): faces found (a
detection whose centre lies in the true face box), false faces, and milliseconds per 640 x 480
frame (p50; the photo search: photos only).

Then: close-ups (the face 1.0 to 2.2 frame heights tall, running off the frame, a hand drawn over
the mouth) found by one pass and with the zoomed-out pass; false faces on 192 static title cards
(16 words, 3 sizes, 4 colour schemes, rendered with Pillow's font) for each search; and 16 animated
title cards (letters growing and sliding for 6 s at 15 fps): frames with a false face, and tracks
the tracker confirmed as people (before confirmation, each such frame started a track that was said).
A static card whose false face scores >= 0.6 in every frame is still confirmed: the count is printed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fera.runtime.detect import BlazeFaceDetector, detect_frame, detect_padded, detect_tiled, keep_faces
from fera.runtime.track import Tracker

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "fera" / "assets" / "samples"
# where the face is in each photo (x0, y0, x1, y1), by eye
FACES = {"astronaut.png": (180, 60, 290, 200), "grace_hopper.jpg": (160, 80, 370, 380)}


def variants():
    """(frame, true face box or None, label)"""
    out = []
    for name, (x0, y0, x1, y1) in FACES.items():
        photo = Image.open(SAMPLES / name).convert("RGB")
        face_h = y1 - y0
        for target in (200, 100, 70, 45):
            s = target / face_h
            im = photo.resize((max(1, round(photo.width * s)), max(1, round(photo.height * s))))
            box = np.array([x0, y0, x1, y1]) * s
            for kind in ("upright", "left 25", "right 25", "dark", "mirrored", "dark mirrored"):
                v, b = im, box.copy()
                if kind.startswith("left") or kind.startswith("right"):
                    v = im.rotate(25 if kind.startswith("left") else -25, resample=Image.BILINEAR, expand=False,
                                  center=((b[0] + b[2]) / 2, (b[1] + b[3]) / 2), fillcolor=(100, 100, 100))
                if "mirrored" in kind:
                    v = ImageOps.mirror(v)
                    b = np.array([v.width - b[2], b[1], v.width - b[0], b[3]])
                arr = np.asarray(v)
                if "dark" in kind:
                    arr = (arr * 0.25).astype(np.uint8)
                frame = np.full((480, 640, 3), 100, np.uint8)
                fx, fy = (640 - 0) // 2 - int((b[0] + b[2]) / 2), 240 - int((b[1] + b[3]) / 2)
                xs, ys = max(fx, 0), max(fy, 0)
                cx0, cy0 = xs - fx, ys - fy
                w = min(arr.shape[1] - cx0, 640 - xs)
                h = min(arr.shape[0] - cy0, 480 - ys)
                frame[ys:ys + h, xs:xs + w] = arr[cy0:cy0 + h, cx0:cx0 + w]
                out.append((frame, b + [fx, fy, fx, fy], f"{name} {target}px {kind}"))
    rng = np.random.default_rng(0)
    blanks = [np.full((480, 640, 3), v, np.uint8) for v in (0, 128, 255)]
    blanks += [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(3)]
    blanks += [np.repeat(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], 480, 0).repeat(3, 2),
               np.repeat(np.linspace(0, 255, 480, dtype=np.uint8)[:, None, None], 640, 1).repeat(3, 2)]
    for name in FACES:
        lower = np.asarray(Image.open(SAMPLES / name).convert("RGB"))[-200:]
        frame = np.full((480, 640, 3), 100, np.uint8)
        frame[140:140 + lower.shape[0], 64:64 + lower.shape[1]] = lower
        blanks.append(frame)
    return out + [(b, None, "no face") for b in blanks]


WORDS = ["FERA", "TITLE", "GOOD", "LOOK", "BOO", "MOON", "COOL", "8", "GO", "NEWS", "DOGS", "808", "OK", "B", "@", "&"]
COLOURS = [((15, 15, 25), (255, 140, 0)), ((90, 60, 40), (255, 160, 20)), ((200, 190, 170), (230, 110, 0)),
           ((0, 0, 0), (255, 255, 255))]


def card(word, size, bg, fg, x=None, y=None):
    """A 640 x 480 title card: ``word`` in Pillow's own font, ``size`` px, centred unless x, y are given."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    im = Image.new("RGB", (640, 480), bg)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = d.textbbox((0, 0), word, font=font)
    x = (640 - (x1 - x0)) / 2 if x is None else x
    y = (480 - (y1 - y0)) / 2 if y is None else y
    d.text((x - x0, y - y0), word, fill=fg, font=font)
    return np.asarray(im)


def closeups():
    """(frame, true face box, label): the face 1.0-2.2 frame heights tall, centred, a hand over the mouth."""
    from PIL import ImageDraw

    out = []
    for name, (x0, y0, x1, y1) in FACES.items():
        photo = Image.open(SAMPLES / name).convert("RGB")
        for k in (1.0, 1.3, 1.6, 1.9, 2.2):
            h = 480 * k
            s = h / (y1 - y0)
            im = photo.resize((round(photo.width * s), round(photo.height * s)))
            frame = Image.new("RGB", (640, 480), (100, 100, 100))
            frame.paste(im, (int(320 - (x0 + x1) / 2 * s), int(240 - (y0 + y1) / 2 * s)))
            d, w, my = ImageDraw.Draw(frame), 0.55 * h, 240 + 0.3 * h
            d.ellipse([320 - w / 2, my - 0.18 * h, 320 + w / 2, my + 0.25 * h], fill=(205, 150, 120))
            for i in range(4):
                fx = 320 - w / 2 + i * w / 4
                d.rounded_rectangle([fx + 4, my - 0.3 * h, fx + w / 4 - 4, my], radius=10, fill=(205, 150, 120))
            out.append((np.asarray(frame), np.array([160, 80, 480, 400]), f"{name} close-up {k}"))
    return out


def title_cards(det):
    """(static false faces per search, animated: frames with a false face, confirmed tracks)."""
    static = [card(w, size, bg, fg) for w in WORDS for size in (70, 140, 240) for bg, fg in COLOURS]
    counts = {name: sum(len(find(f)) for f in static) for name, find in (
        ("one pass", det.detect), ("keypoints", lambda f: keep_faces(det.detect(f))),
        ("video (keypoints, zoomed out when none)", lambda f: detect_frame(det, f)),
        ("zoomed-out pass alone", lambda f: detect_padded(det, f)), ("photo search", lambda f: detect_tiled(det, f)))}
    held = 0  # a static card shown for a second: its false face is there in every frame
    for f in static:
        found, tracker = detect_frame(det, f), Tracker()
        held += bool(found) and any(t.confirmed for i in range(15) for t in tracker.update(found, now=i / 15))
    counts["held 1 s, confirmed as a person"] = held
    frames_hit, confirmed = 0, 0
    for word in WORDS:
        tracker, people = Tracker(), set()
        for i in range(90):
            k = i / 90
            f = card(word, int(50 + 150 * k), (15, 15, 25), (255, 140, 0), 60 + 240 * k, 200)
            found = detect_frame(det, f)
            frames_hit += bool(found)
            people |= {t.track_id for t in tracker.update(found, now=i / 15) if t.confirmed}
        confirmed += len(people)
    return len(static), counts, frames_hit, confirmed


def score(find, frames):
    found, false, missed = 0, 0, []
    for frame, box, label in frames:
        dets = find(frame)
        hit = [d for d in dets if box is not None and box[0] <= d.x + d.w / 2 <= box[2] and box[1] <= d.y + d.h / 2 <= box[3]]
        found += bool(hit)
        false += len(dets) - min(len(hit), 1)
        if box is not None and not hit:
            missed.append(label)
    return found, false, missed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50, help="timed runs per detector")
    args = ap.parse_args()
    frames = variants()
    n_faces = sum(b is not None for _, b, _ in frames)
    print(f"{n_faces} frames with one face, {len(frames) - n_faces} without; 640 x 480")
    print(f"{'detector':>12} {'found':>8} {'false':>6} {'ms p50':>7}  missed")
    full = BlazeFaceDetector("full")
    for name, find in (("short", BlazeFaceDetector("short").detect), ("full", full.detect),
                       ("full video", lambda f: detect_frame(full, f)), ("full photo", lambda f: detect_tiled(full, f))):
        found, false, missed = score(find, frames)
        frame = frames[0][0]
        for _ in range(5):
            find(frame)
        t = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            find(frame)
            t.append((time.perf_counter() - t0) * 1000)
        print(f"{name:>12} {found:>4}/{n_faces:<3} {false:>6} {np.median(t):>7.2f}  {'; '.join(missed) or '-'}")
    close = closeups()
    print(f"\n{len(close)} close-ups (face 1.0-2.2 frame heights, a hand over the mouth): found by")
    for name, find in (("one pass", full.detect), ("video", lambda f: detect_frame(full, f)),
                       ("photo", lambda f: detect_tiled(full, f))):
        found, false, missed = score(find, close)
        print(f"  {name:>8}: {found}/{len(close)}, false {false}; missed: {'; '.join(missed) or '-'}")
    n, counts, hit, confirmed = title_cards(full)
    print(f"\nfalse faces on {n} static title cards: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"{len(WORDS)} animated title cards (90 frames each): {hit} frames with a false face (video search); "
          f"{confirmed} confirmed as a person")
    return 0


if __name__ == "__main__":
    sys.exit(main())
