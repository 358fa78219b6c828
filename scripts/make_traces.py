"""Replay traces: what the Python assistant saw and decided, frame by frame, as fixtures for the page's runtime.

    python scripts/make_traces.py            # rewrites tests/fixtures/traces/*.json
    python scripts/make_traces.py --check    # exit 1 when a fixture's decisions are not what Python decides now

Each trace is a scene made from the public-domain sample photos (moved, scaled, joined, darkened; a rendered
title card), run through the real BlazeFace detector with a scripted classifier (what expression each face shows
when) or the shipped `fast` model. Recording happens from outside the runtime: the detector and the classifier
are wrapped, and every call they get is written down (per frame: the detector's calls, each with the size of
what it was given and the faces it returned; the classifier's calls, each with the boxes and the calibrated
probabilities). Numbers are rounded when written, and the decisions stored with the trace are the ones the Python
assistant makes when it replays the *written* inputs (``replay``), so the Python and the JavaScript runtimes
(tests/js/conformance.test.mjs) judge exactly the same numbers. tests/test_conformance.py replays every trace
through the Python runtime and requires the stored decisions; the JavaScript suite requires the same decisions
and the same words, so a rule changed on one side only fails one of them.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures" / "traces"
SAMPLES = REPO / "src" / "fera" / "assets" / "samples"
FACES = {"astronaut.png": (180, 60, 290, 200), "grace_hopper.jpg": (160, 80, 370, 380)}  # by eye, x0 y0 x1 y1
CLASS_NAMES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")  # the scripted classifier's
FPS = 15
GREY = np.full((480, 640, 3), 110, np.uint8)
DECISION_FIELDS = ("spoken", "text", "line", "reason", "track_id", "time", "kind", "code", "label", "position",
                   "distance", "confidence", "earcon", "facing")


# ---- scenes ------------------------------------------------------------------------------------------------

def paste(canvas, name, face_h, cx, cy):
    """The sample photo scaled so its face is ``face_h`` px high, its face centred at (cx, cy)."""
    im = Image.open(SAMPLES / name).convert("RGB")
    x0, y0, x1, y1 = FACES[name]
    s = face_h / (y1 - y0)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))))
    out = Image.fromarray(canvas)
    out.paste(im, (int(cx - (x0 + x1) / 2 * s), int(cy - (y0 + y1) / 2 * s)))
    return np.asarray(out)


def title_card(word, t, bg, seconds=6.0):
    """An animated title: orange letters growing from 50 to 200 px and sliding right over ``seconds``."""
    k = min(t / seconds, 1.0)
    font = ImageFont.load_default(size=int(50 + 150 * k))
    im = Image.new("RGB", (640, 480), bg)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = d.textbbox((0, 0), word, font=font)
    d.text((60 + 240 * k - x0, 240 - (y1 - y0) / 2 - y0), word, fill=(255, 140, 0), font=font)
    return np.asarray(im)


def probs(label, p):
    out = np.full(len(CLASS_NAMES), (1 - p) / (len(CLASS_NAMES) - 1), np.float32)
    out[CLASS_NAMES.index(label)] = p
    return out


def group(faces, canvas=GREY):
    for name, h, x, y in faces:
        canvas = paste(canvas, name, h, x, y)
    return canvas


SIX = [("astronaut.png", 95, 110 + 210 * (i % 3), 130 + 220 * (i // 3)) if i % 2 == 0 else
       ("grace_hopper.jpg", 95, 110 + 210 * (i % 3), 130 + 220 * (i // 3)) for i in range(6)]


def scenes():
    """(name, description, frames(t), script(t, box) -> (label, p) or None for the fast model, seconds, options)."""
    astro = lambda t: paste(GREY, "astronaut.png", 200, 320 + 10 * np.sin(t), 240)  # noqa: E731
    grace = lambda t: paste(GREY, "grace_hopper.jpg", 220, 320, 250)  # noqa: E731

    def newcomer(t):
        f = paste(GREY, "astronaut.png", 220, 200, 240)
        return paste(f, "grace_hopper.jpg", 150, max(500, 700 - (t - 3.6) * 400), 260) if t >= 3.6 else f

    def three(t):
        return group([("astronaut.png", 130, 130, 230), ("grace_hopper.jpg", 150, 330, 250),
                      ("astronaut.png", 110, 530, 220)])

    def lost(t):
        return GREY if 3.0 <= t < 6.0 else paste(GREY, "astronaut.png", 200, 320, 240)

    def jump(t):
        return paste(GREY, "grace_hopper.jpg", 170, 200 if t < 3 else 430, 240)

    def darkening(t):
        f = paste(GREY, "astronaut.png", 200, 320, 240).astype(np.float32)
        return np.clip(f * (1.0 if t < 2.5 else 0.25), 0, 255).astype(np.uint8)

    def left_edge(t):
        return paste(GREY, "grace_hopper.jpg", 220, 80 if t >= 2.0 else 320, 250)

    yield ("title_card_go", "a title card's letters: single-frame false faces, never a person",
           lambda t: title_card("GO", t, (15, 15, 25)), lambda t, b: ("sad", 0.5), 6, {})
    yield ("title_card_808", "another title card, on brown", lambda t: title_card("808", t, (90, 60, 40)),
           lambda t, b: ("sad", 0.5), 6, {})
    yield ("smile", "neutral, then smiling from 1.0 s inside the 2 s gap: said when the gap ends; the clip ends",
           astro, lambda t, b: ("happy", 0.86) if t >= 1.0 else ("neutral", 0.85), 3.5, {"finish": True})
    yield ("crying_then_laughing", "happy, afraid (maybe) while crying, laughing from 9.7 s: no 6 s wait",
           grace, lambda t, b: ("happy", 0.8) if t < 2 else ("fear", 0.5) if t < 9.7 else ("happy", 0.9), 12, {})
    yield ("newcomer", "a smaller person walks in from the right at 3.6 s; describe now at 5.5 s", newcomer,
           lambda t, b: ("happy", 0.9) if b.cx < 320 else ("surprise", 0.9), 6, {"describe": [5.5]})
    yield ("group_of_three", "three people at once: one sentence; describe now at 2 and 3 (verbosity 3) s", three,
           lambda t, b: ("happy", 0.9) if b.cx < 250 else ("neutral", 0.7) if b.cx < 450 else
           ("sad", 0.45) if t < 2.5 else ("surprise", 0.9), 3.5,
           {"describe": [2.0, 3.0], "verbosity": {2.9: 3}})
    yield ("group_of_six", "six faces: a count and the faces most worth naming", lambda t: group(SIX),
           lambda t, b: ("happy", 0.9) if b.cy < 240 else ("neutral", 0.5) if b.cx < 400 else ("fear", 0.3), 2.5,
           {"describe": [1.5, 2.4], "verbosity": {2.0: 1}})
    yield ("left_edge", "the person moves to the left edge at 2 s: 'face at the left edge'", left_edge,
           lambda t, b: ("neutral", 0.8), 5, {})
    yield ("edge_at_start", "a new person at the right edge: the person first, then the edge",
           lambda t: paste(GREY, "grace_hopper.jpg", 220, 565, 250), lambda t, b: ("happy", 0.9), 4, {})
    yield ("flip_flop", "happy, sad at 2 s, happy again at 4.5 s: the second happy waits for the 6 s", astro,
           lambda t, b: ("sad", 0.9) if 2.0 <= t < 4.5 else ("happy", 0.9), 8, {})
    yield ("lost_face", "the face goes at 3 s ('face lost') and comes back at 6 s", lost,
           lambda t, b: ("happy", 0.9), 9, {})
    yield ("jump", "the box jumps two face sizes in one frame: the same person, not lost", jump,
           lambda t, b: ("happy", 0.9), 6, {"describe": [5.0]})
    yield ("too_dark", "the scene darkens to a quarter at 2.5 s: 'too dark'", darkening,
           lambda t, b: ("surprise", 0.9), 5, {"describe": [4.5]})
    yield ("mirror_sounds_only", "a selfie camera (mirror) at verbosity 0: sounds only, then terse words on demand",
           lambda t: paste(GREY, "astronaut.png", 180, 170, 240), lambda t, b: ("happy", 0.9), 3,
           {"mirror": True, "verbosity": {0.0: 0}, "describe": [2.5]})
    yield ("turned_head", "scripted detections: a large face facing the camera, then turned to the viewer's right; "
           "the words at verbosity 2 and 3", lambda t: GREY, lambda t, b: ("neutral", 0.9), 6.5,
           {"faces": turned_head, "describe": [2.0, 4.0, 5.0], "verbosity": {4.5: 3}})
    yield ("swap_places", "scripted boxes without keypoints: two people cross, one hidden behind the other",
           lambda t: GREY, lambda t, b: ("happy", 0.9) if b.h > 125 else ("neutral", 0.9), 9,
           {"faces": swapping, "describe": [8.5]})
    yield ("fast_model", "the shipped fast model on the moving astronaut, verbosity 3", astro, None, 3,
           {"verbosity": {0.0: 3}, "describe": [2.8]})


def turned_head(t):
    """One large face (200 px in 640 x 480): keypoints of a frontal face until 3 s, then of a head turned to the
    viewer's right (the nose 70 px off the ears' midpoint, a yaw ratio of 0.78)."""
    from fera.runtime.types import Face

    nose = 320 + (70 if t >= 3.0 else 0)
    kps = ((280, 200), (360, 200), (nose, 250), (320, 300), (230, 215), (410, 215))
    return [Face(220, 140, 200, 200, score=0.9, keypoints=kps)]


def swapping(t):
    """test_replay's two people who swap places: A (larger, happy) walks right, B (neutral) left, B hidden behind A."""
    from fera.runtime.types import Box, Face

    k = min(max((t - 3.0) / 2.0, 0.0), 1.0)
    a, b = (Box(120 + 400 * k - 75, 165, 150, 150), Box(520 - 400 * k - 50, 190, 100, 100))
    faces = [Face(a.x, a.y, a.w, a.h, score=0.9)]
    if a.iou(b) == 0 and not (a.x < b.cx < a.right):
        faces.append(Face(b.x, b.y, b.w, b.h, score=0.9))
    return faces


class ScriptedDetector:
    """Detections written by hand (``faces(t)``), for what no sample photo shows: a turned head, boxes only."""

    input_size, nms_iou = 192, 0.3

    def __init__(self, faces):
        self.faces, self.t = faces, 0.0

    def detect(self, image):
        return self.faces(self.t) if image.shape[:2] == (480, 640) else []


def photos():
    """(name, description, image, script or None for the fast model)."""
    yield "photo_astronaut", "the astronaut photo with the fast model", \
        np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB")), None
    yield "photo_grace_hopper", "Grace Hopper's portrait with the fast model", \
        np.asarray(Image.open(SAMPLES / "grace_hopper.jpg").convert("RGB")), None
    yield "photo_group", "six faces in one photo, scripted", group(SIX), \
        (lambda t, b: ("happy", 0.9) if b.cy < 240 else ("sad", 0.55))


# ---- recording ---------------------------------------------------------------------------------------------

def _r(x, nd):
    return round(float(x), nd)


def face_json(f) -> dict:
    return {"x": _r(f.x, 4), "y": _r(f.y, 4), "w": _r(f.w, 4), "h": _r(f.h, 4), "score": _r(f.score, 6),
            "keypoints": [[_r(u, 4), _r(v, 4)] for u, v in f.keypoints]}


class RecordingDetector:
    """A detector (the real one, or scripted), writing down each call: the size of the image and the faces found."""

    def __init__(self, detector):
        self.detector, self.input_size, self.nms_iou, self.calls = detector, detector.input_size, detector.nms_iou, []

    def detect(self, image):
        found = self.detector.detect(image)
        self.calls.append({"width": int(image.shape[1]), "height": int(image.shape[0]),
                           "faces": [face_json(f) for f in found]})
        return found


class RecordingClassifier:
    """A scripted classifier (``script(t, box)``) or a real one, writing down each call's boxes and probabilities."""

    def __init__(self, script=None, real=None):
        self.script, self.real, self.t, self.calls = script, real, 0.0, []
        self.class_names = list(real.class_names if real is not None else CLASS_NAMES)
        self.model = "scripted" if real is None else getattr(getattr(real, "config", None), "model", "real")

    def __call__(self, image, boxes):
        if self.real is not None:
            p = self.real(image, boxes)
        else:
            p = np.stack([probs(*self.script(self.t, b)) for b in boxes]) if boxes else np.zeros((0, 7), np.float32)
        self.calls.append({"boxes": [[_r(b.x, 4), _r(b.y, 4), _r(b.w, 4), _r(b.h, 4)] for b in boxes],
                           "probs": [[_r(v, 7) for v in row] for row in p]})
        return p


def record_stream(detector, name, description, frames, script, seconds, opts, fast=None) -> dict:
    from fera.runtime.announce import AnnounceConfig
    from fera.runtime.pipeline import Assistant
    from fera.runtime.types import FrameInfo

    scripted = ScriptedDetector(opts["faces"]) if "faces" in opts else None
    det = RecordingDetector(scripted or detector)
    clf = RecordingClassifier(script, fast if script is None else None)
    a = Assistant(det, clf, AnnounceConfig(mirror=opts.get("mirror", False)))
    out = []
    for i in range(int(round(seconds * FPS))):
        t = i / FPS
        det.calls, clf.calls, clf.t = [], [], t
        if scripted is not None:
            scripted.t = t
        image = frames(t)
        frame = {"t": t, "width": image.shape[1], "height": image.shape[0],
                 "brightness": _r(FrameInfo.from_image(image).brightness, 4)}
        for when, v in opts.get("verbosity", {}).items():
            if round(when * FPS) == i:
                frame["verbosity"] = v
                a.set_verbosity(v)
        a.step(image, t)
        frame["detect"], frame["classify"] = det.calls, clf.calls
        if any(round(when * FPS) == i for when in opts.get("describe", [])):
            frame["describe"] = True
        out.append(frame)
    trace = {"name": name, "description": description, "kind": "stream", "class_names": clf.class_names,
             "model": clf.model, "detector": "scripted" if scripted else "BlazeFace full",
             "config": {"mirror": opts.get("mirror", False)}, "finish": opts.get("finish", False), "frames": out}
    return trace


def record_photo(detector, name, description, image, script, fast=None) -> dict:
    from fera.runtime.pipeline import Assistant
    from fera.runtime.types import FrameInfo

    det, clf = RecordingDetector(detector), RecordingClassifier(script, fast if script is None else None)
    Assistant(det, clf, tiled_photos=True).photo(image)
    frame = {"t": 0.0, "width": image.shape[1], "height": image.shape[0],
             "brightness": _r(FrameInfo.from_image(image).brightness, 4), "detect": det.calls, "classify": clf.calls}
    return {"name": name, "description": description, "kind": "photo", "class_names": clf.class_names,
            "model": clf.model, "config": {"mirror": False}, "frames": [frame]}


# ---- replay: the Python decisions from the written inputs ---------------------------------------------------

class ReplayDetector:
    def __init__(self, input_size, nms_iou):
        self.input_size, self.nms_iou, self.calls = input_size, nms_iou, []

    def detect(self, image):
        from fera.runtime.types import Face

        if not self.calls:
            raise AssertionError(f"the runtime asked the detector once more than when the trace was made ({image.shape})")
        call = self.calls.pop(0)
        if (call["width"], call["height"]) != (image.shape[1], image.shape[0]):
            raise AssertionError(f"the detector got a {image.shape[1]} x {image.shape[0]} image; the trace has "
                                 f"{call['width']} x {call['height']}")
        return [Face(d["x"], d["y"], d["w"], d["h"], score=d["score"], keypoints=tuple(map(tuple, d["keypoints"])))
                for d in call["faces"]]


class ReplayClassifier:
    def __init__(self, class_names):
        self.class_names, self.calls = list(class_names), []

    def __call__(self, image, boxes):
        call = self.calls.pop(0)
        got = [[b.x, b.y, b.w, b.h] for b in boxes]
        if not np.allclose(np.array(got).reshape(-1, 4), np.array(call["boxes"]).reshape(-1, 4), atol=1e-3):
            raise AssertionError(f"the classifier got boxes {got}; the trace has {call['boxes']}")
        return np.array(call["probs"], np.float32).reshape(len(boxes), len(self.class_names))


@contextmanager
def recorded_brightness():
    """The pipeline's FrameInfo takes the brightness the trace recorded (the replayed frames are blank)."""
    from fera.runtime import pipeline
    from fera.runtime.types import FrameInfo

    value = [None]

    class Info(FrameInfo):
        @classmethod
        def from_image(cls, image, timestamp=0.0):
            h, w = image.shape[:2]
            return FrameInfo(int(w), int(h), float(timestamp), value[0])

    saved, pipeline.FrameInfo = pipeline.FrameInfo, Info
    try:
        yield value
    finally:
        pipeline.FrameInfo = saved


def decision_json(d, frame: int) -> dict:
    out = {"frame": frame}
    for k in DECISION_FIELDS:
        v = getattr(d, k)
        out[k] = float(v) if isinstance(v, (float, np.floating)) else v
    return out


def replay(trace: dict) -> dict:
    """What the Python assistant decides from the trace's written inputs: {"decisions", "faces"} (streams) or
    {"sentence", "faces"} (photos)."""
    from fera.runtime.announce import AnnounceConfig
    from fera.runtime.pipeline import Assistant

    det, clf = ReplayDetector(192, 0.3), ReplayClassifier(trace["class_names"])
    a = Assistant(det, clf, AnnounceConfig(mirror=trace["config"]["mirror"]), tiled_photos=trace["kind"] == "photo")
    decisions, faces = [], []
    with recorded_brightness() as brightness:
        for i, f in enumerate(trace["frames"]):
            det.calls, clf.calls = list(f["detect"]), list(f["classify"])
            brightness[0] = f["brightness"]
            blank = np.zeros((f["height"], f["width"], 3), np.uint8)
            if trace["kind"] == "photo":
                info, found, sentence = a.photo(blank)
                return {"sentence": sentence, "faces": [[float(x.box.x), x.expression.label,
                                                         float(x.expression.confidence)] for x in found]}
            if "verbosity" in f:
                a.set_verbosity(f["verbosity"])
            r = a.step(blank, f["t"])
            ds = list(r.decisions) + ([a.describe_now()] if f.get("describe") else [])
            decisions += [decision_json(d, i) for d in ds]
            faces.append([[x.track_id, None if x.expression is None else x.expression.label] for x in r.faces])
            if det.calls or clf.calls:
                raise AssertionError(f"frame {i}: the runtime made fewer detector or classifier calls than the trace")
        if trace.get("finish"):
            decisions += [decision_json(d, len(trace["frames"]) - 1) for d in a.finish()]
    return {"decisions": decisions, "faces": faces}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="only check the fixtures' decisions against Python's")
    p.add_argument("--only", nargs="*", help="these traces only")
    args = p.parse_args(argv)
    if args.check:
        bad = [t.name for t in sorted(OUT.glob("*.json"))
               if (lambda tr: replay(tr) != tr["expected"])(json.loads(t.read_text()))]
        print("\n".join(f"differs: {b}" for b in bad) or "every trace's decisions are Python's")
        return 1 if bad else 0
    from fera.runtime.classify import Classifier, ClassifyConfig
    from fera.runtime.detect import BlazeFaceDetector

    detector, fast = BlazeFaceDetector("full"), Classifier(ClassifyConfig(model="fast"))
    OUT.mkdir(parents=True, exist_ok=True)
    made = [record_stream(detector, *s, fast=fast) for s in scenes() if not args.only or s[0] in args.only]
    made += [record_photo(detector, *s, fast=fast) for s in photos() if not args.only or s[0] in args.only]
    for trace in made:
        trace["expected"] = replay(trace)
        (OUT / f"{trace['name']}.json").write_text(json.dumps(trace, separators=(",", ":")) + "\n")
        said = [d["text"] or f"({d['earcon']})" for d in trace["expected"].get("decisions", []) if d["spoken"]]
        print(f"{trace['name']}: {trace['expected'].get('sentence') or ' | '.join(said)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
