"""The runtime's pure-logic stages (tracker, smoother, announcer) with a fake clock; no models, no camera."""
import itertools
import json
import math
import re

import numpy as np
import pytest

from fera.runtime.announce import AnnounceConfig, Announcer
from fera.runtime.smooth import SmoothConfig, Smoother
from fera.runtime.track import TrackConfig, Tracker
from fera.runtime.types import Box, Expression, Face, FrameInfo, TrackedFace

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")  # a FER-2013 model's classes
W, H = 640, 480
FRAME = FrameInfo(W, H, brightness=120.0)
DARK = FrameInfo(W, H, brightness=10.0)


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def face(tid, cx=320.0, h=120.0, label="happy", conf=0.82):
    """A square face box centred at (cx, 240), with a smoothed expression (label None: not classified)."""
    return TrackedFace(tid, Box(cx - h / 2, 240 - h / 2, h, h), expression=label and Expression(label, conf))


def make(**kw):
    clock = Clock()
    return Announcer(AnnounceConfig(**kw), clock), clock


def run(ann, clock, until, faces, frame=FRAME, fps=10):
    """Frames from clock.t to ``until``, both included; faces(t) and frame(t) give each frame's content."""
    out, start = [], clock.t
    for i in range(int(round((until - start) * fps)) + 1):
        clock.t = round(start + i / fps, 6)
        out += ann.update(frame(clock.t) if callable(frame) else frame, faces(clock.t))
    return out


def spoken(decisions, times=True):
    return [(d.text, pytest.approx(d.time)) if times else d.text for d in decisions if d.spoken]


# ---- announcer: timing -------------------------------------------------------------------------------

def test_change_held_700ms_is_spoken_not_before():
    ann, clock = make()
    ds = run(ann, clock, 2.0, lambda t: [face(1)])
    assert spoken(ds) == [("ahead, appears happy", 0.7)]
    d = next(d for d in ds if d.spoken)
    assert (d.track_id, d.kind, d.code, d.label) == (1, "expression", "spoken", "happy")
    early = [d for d in ds if d.time < 0.7]
    assert early and all(d.code == "held_too_short" for d in early)


@pytest.mark.parametrize("repeats, ms", [(True, [0, 100, 0, 100]), (False, [0, 0])])
def test_200ms_flicker_silent_then_held_change_spoken(repeats, ms):
    ann, clock = make(report_repeats=repeats)
    run(ann, clock, 10.0, lambda t: [face(1)])  # happy said at 0.7, rate limits long over
    ds = run(ann, clock, 20.0, lambda t: [face(1, label="sad" if 10.1 <= t < 10.3 or 15 <= t < 15.2 else "happy")])
    assert spoken(ds) == []
    assert [d.reason for d in ds] == [f"suppressed: changed {m} ms ago" for m in ms]  # two flickers
    ds = run(ann, clock, 25.0, lambda t: [face(1, label="sad" if t >= 20.1 else "happy")])
    assert spoken(ds) == [("ahead, appears sad", 20.8)]


def test_rate_limits_defer_a_new_expression_and_hold_back_a_flip_flop():
    ann, clock = make()
    run(ann, clock, 1.0, lambda t: [face(1)])  # happy said at 0.7
    ds = run(ann, clock, 2.9, lambda t: [face(1, label="sad")])  # sad from 1.0, held by 1.7
    assert spoken(ds) == [("ahead, appears sad", 2.7)]  # deferred by the 2 s gap, not dropped, not 6 s late
    codes = [(round(d.time, 1), d.code, d.reason) for d in ds if not d.spoken]
    assert codes == [(1.0, "held_too_short", "suppressed: changed 0 ms ago"),
                     (1.7, "global_rate_limit", "suppressed: global rate limit (waits)")]  # < 2 s since 0.7
    # back to happy from 3.0: a flip-flop; happy is not said again for this person until 6 s after 0.7
    ds = run(ann, clock, 10.0, lambda t: [face(1, label="happy")])
    assert spoken(ds) == [("ahead, appears happy", 6.7)]
    assert [d.code for d in ds if not d.spoken] == ["held_too_short", "person_rate_limit"]
    # a third, new expression does not wait for the per-person limit
    ds = run(ann, clock, 12.0, lambda t: [face(1, label="surprise")])
    assert spoken(ds) == [("ahead, appears surprised", 10.7)]  # held 0.7 s from 10.0; the gap from 6.7 is over


@pytest.mark.parametrize("faces, frame, said", [
    # person 2, much larger, arrives at 1.0 and becomes primary: held by 1.7, global gap until 2.7
    (lambda t: [face(1, cx=300), face(2, cx=340, h=200, label="surprise")], FRAME, "ahead, appears surprised"),
    (lambda t: [face(1)], DARK, "too dark"),  # dark from 1.0, held 0.5 s by 1.5: a status counts too
])
def test_global_rate_limit_across_people_and_status(faces, frame, said):
    ann, clock = make()
    run(ann, clock, 1.0, lambda t: [face(1, cx=300)])  # person 1 said at 0.7
    assert spoken(run(ann, clock, 5.0, faces, frame)) == [(said, 2.7)]


# ---- announcer: who is announced -------------------------------------------------------------------

@pytest.mark.parametrize("primary, steps", [
    ("largest", [((200, 105), (440, 100), 1), ((200, 105), (440, 110), 1),  # slightly larger: no flip
                 ((200, 105), (440, 104), 1), ((200, 105), (440, 130), 2)]),  # clearly larger: flips
    ("central", [((300, 120), (350, 120), 1), ((330, 120), (318, 120), 1),  # a bit more central: no flip
                 ((560, 120), (320, 120), 2)]),
])
def test_primary_hysteresis(primary, steps):
    ann, clock = make(primary=primary)
    for i, (a, b, want) in enumerate(steps):
        run(ann, clock, i, lambda t: [face(1, *a), face(2, *b)])
        assert ann.primary == want


def test_everyone_is_said_on_arrival_then_only_the_primary_changes():
    ann, clock = make()
    ds = run(ann, clock, 5.0, lambda t: [face(1, cx=150, h=150), face(2, cx=500, h=90, label="sad")])
    assert spoken(ds) == [("2 faces: left appears happy, right sad", 0.7)]  # two new people at once: one sentence
    ds = run(ann, clock, 10.0, lambda t: [face(1, cx=150, h=150), face(2, cx=500, h=90, label="neutral")])
    assert spoken(ds) == [] and [d.reason for d in ds] == ["suppressed: not primary"]  # once, not every frame
    ann, clock = make()
    ds = run(ann, clock, 5.0, lambda t: [face(1, cx=150, h=150)] + ([face(2, cx=500, h=90)] if t >= 2 else []))
    assert spoken(ds) == [("left, appears happy", 0.7), ("right, appears happy", 2.7)]  # a newcomer, once held
    objs = [json.loads(json.dumps(d.to_dict())) for d in ds]  # what --json prints
    assert [o["reason"] for o in objs][:2] == ["suppressed: changed 0 ms ago", "spoken: new face, held 700 ms"]
    assert all({"spoken", "text", "reason", "track_id", "time", "facing"} <= set(o) for o in objs)


# ---- announcer: wording ----------------------------------------------------------------------------

@pytest.mark.parametrize("verbosity, label, conf, text", [
    (2, "happy", 0.82, "ahead, appears happy"), (2, "happy", 0.6, "ahead, appears happy"),
    (2, "happy", 0.5, "ahead, maybe happy"), (2, "sad", 0.4, "ahead, maybe sad"),
    (2, "neutral", 0.9, "ahead, appears neutral"), (1, "neutral", 0.9, "Ahead: neutral"),
    (1, "happy", 0.5, "Ahead: maybe happy"), (3, "fear", 0.47, "ahead, talking distance, maybe afraid, 47%"),
    (2, "surprise", 0.9, "ahead, appears surprised"), (2, "disgust", 0.5, "ahead, maybe disgusted"),
    (1, "fear", 0.9, "Ahead: afraid"),
])
def test_appears_and_maybe_wording(verbosity, label, conf, text):
    ann, clock = make(verbosity=verbosity)
    assert spoken(run(ann, clock, 1.0, lambda t: [face(1, label=label, conf=conf)]), False) == [text]


def test_below_threshold_silent_unprompted_not_sure_on_demand():
    ann, clock = make()
    ds = run(ann, clock, 5.0, lambda t: [face(1, conf=0.3)])
    assert [(d.spoken, d.reason) for d in ds] == [(False, "suppressed: below threshold")]
    assert ann.describe_now().text == "1 face: ahead not sure"


def test_position_distance_and_mirror():
    ann, mir = Announcer(AnnounceConfig()), Announcer(AnnounceConfig(mirror=True))
    for cx, plain, mirrored in [(80, "left", "right"), (320, "ahead", "ahead"), (580, "right", "left")]:
        assert (ann.words(face(1, cx=cx), FRAME).position, mir.words(face(1, cx=cx), FRAME).position) == (plain, mirrored)
    assert [ann.words(face(1, h=h), FRAME).distance for h in (240, 120, 40)] == ["close", "talking distance", "far"]
    ann, clock = make(mirror=True, verbosity=3)
    ds = run(ann, clock, 1.0, lambda t: [face(1, cx=140, h=200)])
    assert spoken(ds, False) == ["right, close, appears happy, 82%"]


@pytest.mark.parametrize("verbosity, text", [
    (0, ""), (1, "Left: happy"), (2, "left, appears happy"), (3, "left, talking distance, appears happy, 82%")])
def test_verbosity_levels(verbosity, text):
    ann, clock = make(verbosity=verbosity)
    [d] = [d for d in run(ann, clock, 1.0, lambda t: [face(1, cx=100)]) if d.spoken]
    assert d.text == text
    assert (d.earcon, d.label, d.position, d.distance) == ("happy", "happy", "left", "talking distance")
    assert (d.announcement.earcon, d.announcement.text, d.announcement.position) == ("happy", text, "left")


# ---- announcer: describe now -----------------------------------------------------------------------

THREE = [face(7, cx=560, label="fear", conf=0.3), face(3, cx=90, label="happy", conf=0.82),
         face(5, cx=320, label="neutral", conf=0.7)]


@pytest.mark.parametrize("kw, text", [
    ({}, "3 faces: left appears happy, ahead neutral, right not sure"),
    ({"mirror": True}, "3 faces: left not sure, ahead appears neutral, right happy"),
    ({"verbosity": 1}, "3 faces: left happy, ahead neutral, right not sure"),
    ({"verbosity": 0}, "3 faces: left happy, ahead neutral, right not sure"),  # asked for: words anyway
    ({"verbosity": 3}, "3 faces: left, talking distance, appears happy, 82%; "
                       "ahead, talking distance, appears neutral, 70%; right, talking distance, not sure"),
])
def test_describe_now_three_faces_left_to_right(kw, text):
    ann, clock = make(**kw)
    ann.update(FRAME, THREE)
    d = ann.describe_now()  # the faces of the last update
    assert (d.spoken, d.kind, d.reason, d.text) == (True, "describe", "spoken: on demand", text)


@pytest.mark.parametrize("xs, text", [
    ((90, 320, 560), "3 faces: left appears happy, ahead happy, right happy"),  # left/ahead/right tell them apart
    ((40, 200, 320, 600), "4 faces: far left appears happy, left happy, ahead happy, far right happy"),
    ((250, 300, 350, 420), "4 faces: first from the left appears happy, second from the left happy, "
                           "third from the left happy, fourth from the left happy"),  # five places are too few
])
def test_describe_now_positions_tell_faces_apart(xs, text):
    ann, clock = make()
    assert ann.describe_now(FRAME, [face(i, cx=x) for i, x in enumerate(xs)]).text == text


def test_describe_now_summary_counts_every_face_and_names_by_confidence_and_nearness():
    ann, clock = make()
    # six faces left to right: the largest is unsure; two confident smiles are small, one is mid-sized
    faces = [face(1, cx=40, h=60, conf=0.95), face(2, cx=140, h=70, label="neutral", conf=0.7),
             face(3, cx=250, h=150, label="fear", conf=0.3), face(4, cx=360, h=110, conf=0.9),
             face(5, cx=470, h=60, conf=0.92), face(6, cx=590, h=80, label="sad", conf=0.5)]
    # named: confidence x nearness (0.9 x sqrt(110/150) and 0.95 x sqrt(60/150)), not the largest box (unsure)
    assert ann.describe_now(FRAME, faces).text == ("6 faces: 3 appear happy, 1 neutral, 1 maybe sad, 1 not sure; "
                                                   "far left: happy; ahead: happy")
    faces[4] = face(5, cx=470, h=160, conf=0.82)  # now the nearest face is a confident smile: it is named
    assert ann.describe_now(FRAME, faces).text == ("6 faces: 3 appear happy, 1 neutral, 1 maybe sad, 1 not sure; "
                                                   "ahead: happy; nearest, right: happy")
    assert (ann.describe_now(FRAME, []).text, ann.describe_now(DARK, []).text) == ("no face", "too dark")


def test_describe_now_counts_as_announcement():
    ann, clock = make()
    ann.update(FRAME, [face(1)])
    ann.describe_now()
    assert spoken(run(ann, clock, 10.0, lambda t: [face(1)])) == []  # happy was just described
    ann, clock = make()
    ann.update(FRAME, [face(1, label=None)])
    ann.describe_now()  # "1 face: ahead not sure" at 0.0 holds unprompted speech back for 2 s
    assert spoken(run(ann, clock, 5.0, lambda t: [face(1)])) == [("ahead, appears happy", 2.0)]


# ---- announcer: status -----------------------------------------------------------------------------

def test_no_face_and_too_dark_once_per_change():
    ann, clock = make()
    assert spoken(run(ann, clock, 10.0, lambda t: [])) == [("no face", 0.5)]
    run(ann, clock, 12.0, lambda t: [face(1, label=None)])  # a face for a while (not classified yet)
    assert spoken(run(ann, clock, 20.0, lambda t: []), False) == ["no face"]
    ann, clock = make()
    ds = run(ann, clock, 10.0, lambda t: [face(1, label=None)], frame=lambda t: DARK if t >= 1 else FRAME)
    assert spoken(ds) == [("too dark", 1.5)]
    ann, clock = make(verbosity=0)  # earcons only: no words, the status code names the sound
    [d] = [d for d in run(ann, clock, 1.0, lambda t: []) if d.spoken]
    assert (d.text, d.earcon, d.label, d.kind) == ("", "no_face", "no_face", "status")


def test_face_lost_when_announced_person_disappears():
    ann, clock = make()
    run(ann, clock, 5.0, lambda t: [face(1)])  # said at 0.7
    assert spoken(run(ann, clock, 15.0, lambda t: [])) == [("face lost", 5.0)]  # and no "no face" after
    ann, clock = make()  # a face never announced leaves: "no face", not "face lost"
    run(ann, clock, 0.3, lambda t: [face(1)])
    assert spoken(run(ann, clock, 5.0, lambda t: []), False) == ["no face"]
    ann, clock = make()  # others remain
    other = face(2, cx=450, h=80, label="neutral", conf=0.3)
    run(ann, clock, 5.0, lambda t: [face(1, cx=200, h=200), other])
    assert spoken(run(ann, clock, 6.0, lambda t: [other]), False) == ["face lost"]


@pytest.mark.parametrize("mirror, x, text", [
    (False, 0, "face at the left edge"), (False, 560, "face at the right edge"), (True, 0, "face at the right edge")])
def test_edge_status_once_per_change(mirror, x, text):
    ann, clock = make(mirror=mirror)
    edge, mid = [TrackedFace(1, Box(x, 200, 80, 80))], [TrackedFace(1, Box(280, 200, 80, 80))]
    # said once; 200 ms away from the edge does not repeat it
    assert spoken(run(ann, clock, 10.0, lambda t: mid if 5.0 <= t < 5.2 else edge), False) == [text]
    run(ann, clock, 12.0, lambda t: mid)  # back in the middle for long: cleared
    assert spoken(run(ann, clock, 20.0, lambda t: edge), False) == [text]


def test_a_new_person_cut_by_the_edge_is_said_before_the_edge():
    # a close face running off the left edge: fera said "face at the left edge" first and the person only
    # 2 s later (the global gap); the person comes first, the edge after the gap while it still holds
    close = Box(0, 20, 560, 440)
    ann, clock = make()
    assert spoken(run(ann, clock, 5.0, lambda t: [TrackedFace(1, close, expression=Expression("neutral", 0.9))])) == [
        ("ahead, appears neutral", 0.7), ("face at the left edge", 2.7)]
    ann, clock = make()  # an expression too unsure to say does not hold the edge back
    assert spoken(run(ann, clock, 5.0, lambda t: [TrackedFace(1, close, expression=Expression("neutral", 0.2))])) == [
        ("face at the left edge", 0.5)]


# ---- announcer: words never said -------------------------------------------------------------------

FORBIDDEN = re.compile(r"\b(is|are|feels?|looks?)\s+(" + "|".join(CLASS_NAMES) + r"|angry|scared|afraid)\b"
                       r"|\b(age|aged|years?|old|young|gender|male|female|man|woman|boy|girl|race|ethnic\w*|"
                       r"white|black|asian|name|identity)\b", re.I)


def test_no_feeling_identity_age_gender_words():
    rng = np.random.default_rng(0)
    said = []
    for verbosity, mirror in itertools.product(range(4), (False, True)):
        ann, clock = make(verbosity=verbosity, mirror=mirror, report_repeats=True)
        for step in range(600):
            clock.t = step * 0.1
            faces = [face(i, cx=float(rng.uniform(0, W)), h=float(rng.uniform(20, 300)),
                          label=str(rng.choice(CLASS_NAMES)), conf=float(rng.uniform(0, 1)))
                     for i in range(int(rng.integers(0, 5)))]
            said += [d.text for d in ann.update(DARK if rng.random() < 0.05 else FRAME, faces)]
            if step % 25 == 0:
                said.append(ann.describe_now().text)
    assert len(set(said)) > 100
    assert [t for t in said if FORBIDDEN.search(t) or " is " in f" {t} "] == []


def track(tracker, boxes, t):
    return {tf.track_id: tf for tf in tracker.update([Face(b.x, b.y, b.w, b.h) for b in boxes], now=t)}


def test_tracker_keeps_id_while_moving_and_new_id_for_new_face():
    tr = Tracker()
    assert all(list(track(tr, [Box(50 + 15 * i, 100 + 3 * i, 100, 100)], i / 30)) == [1] for i in range(30))
    out = track(tr, [Box(500, 190, 100, 100), Box(20, 300, 80, 80)], 1.0)
    assert sorted(out) == [1, 2] and out[2].box == Box(20, 300, 80, 80) and out[1].box.x == 500
    moved = Box(555, 190, 100, 100)  # a fast move: IoU 0.29, below iou_min; centres 0.55 box widths apart
    assert Box(500, 190, 100, 100).iou(moved) < TrackConfig().iou_min
    assert list(track(tr, [moved, Box(20, 300, 80, 80)], 1.03)) == [1, 2]  # the centre-distance fallback
    assert list(track(tr, [Box(300, 0, 100, 100)], 1.06)) == [1, 2, 3]  # far jump: another person


def test_tracker_follows_boxes_best_overlap_first():
    tr = Tracker()
    track(tr, [Box(50, 100, 100, 100), Box(400, 100, 100, 100)], 0.0)
    out = track(tr, [Box(410, 105, 100, 100), Box(45, 100, 100, 100)], 0.1)  # list order swapped
    assert (out[1].box.x, out[2].box.x) == (45, 410)
    tr = Tracker()
    track(tr, [Box(0, 0, 100, 100), Box(40, 0, 100, 100)], 0.0)
    out = track(tr, [Box(35, 0, 100, 100), Box(-5, 0, 100, 100)], 0.03)  # each overlaps both tracks
    assert (out[1].box.x, out[2].box.x) == (-5, 35)


def test_tracker_drops_after_max_missed_frames_and_time():
    tr = Tracker(TrackConfig(max_missed=3, max_age_s=10.0, confirm_hits=1))  # a person from the first frame
    track(tr, [Box(100, 100, 100, 100)], 0.0)
    assert [(list(out), out[1].missed) for out in (track(tr, [], i * 0.03) for i in (1, 2, 3))] == \
        [([1], 1), ([1], 2), ([1], 3)]  # still reported while missed
    assert track(tr, [], 0.12) == {}
    assert list(track(tr, [Box(100, 100, 100, 100)], 0.15)) == [2]  # returns as a new person
    tr = Tracker(TrackConfig(max_missed=100, max_age_s=0.5, confirm_hits=1))
    track(tr, [Box(100, 100, 100, 100)], 0.0)
    assert (list(track(tr, [], 0.4)), track(tr, [], 0.6)) == ([1], {})


def test_tracker_keeps_the_detectors_score_and_keypoints():
    kps = ((120.0, 130.0), (160.0, 130.0), (140.0, 150.0), (140.0, 170.0), (105.0, 135.0), (175.0, 135.0))
    det = Face(100.0, 100.0, 90.0, 90.0, score=0.9, keypoints=kps)  # what a detector returns
    tr = Tracker(clock=Clock())
    assert [f.track_id for f in tr.update([det])] == [1] and tr.update([])[0].missed == 1
    out = tr.update([Face(102, 101, 90, 90, score=0.7)])
    assert [(f.track_id, f.missed, f.hits, f.score, f.keypoints) for f in out] == [(1, 0, 2, 0.7, ())]
    again = tr.update([det])[0]
    assert (again.score, again.keypoints, again.box) == (0.9, kps, Box(100.0, 100.0, 90.0, 90.0))
    assert type(again.box) is Box  # the track holds the box alone


def test_box_and_frame_helpers():
    a, b = Box(0, 0, 10, 10), Box(5, 0, 10, 10)
    assert (a.iou(b), a.iou(Box(20, 20, 5, 5))) == (pytest.approx(50 / 150), 0.0)
    assert a.centre == (5, 5) and a.area == 100 and a.centre_distance(b) == 5
    assert Box.from_xyxy(1, 2, 4, 6) == Box(1, 2, 3, 4)
    assert Box(-5, -5, 20, 20).clip(10, 10) == Box(0, 0, 10, 10)
    assert FrameInfo.from_image(np.full((48, 64, 3), 30, np.uint8), 1.5) == FrameInfo(64, 48, 1.5, 30.0)


def onehot(name):
    return np.eye(len(CLASS_NAMES))[CLASS_NAMES.index(name)]


def smooth_run(sm, fps, seconds, probs, t0=0.0):
    for i in range(1, int(round(fps * seconds)) + 1):
        e = sm.update([TrackedFace(1, Box(0, 0, 10, 10), probs=probs)], now=t0 + i / fps)[0].expression
    return e


@pytest.mark.parametrize("fps", [10, 20, 30, 60])
def test_smoother_time_constant_is_frame_rate_independent(fps):
    sm = Smoother(CLASS_NAMES, config=SmoothConfig(tau_s=0.3, switch_margin=0.0))
    sm.update([TrackedFace(1, Box(0, 0, 10, 10), probs=onehot("neutral"))], now=0.0)
    e = smooth_run(sm, fps, 0.3, onehot("happy"))  # after one time constant: 63% of the way
    assert e.probs[CLASS_NAMES.index("happy")] == pytest.approx(1 - math.exp(-1), abs=1e-9)
    assert e.probs[CLASS_NAMES.index("neutral")] == pytest.approx(math.exp(-1), abs=1e-9)
    assert e.label == "happy" and e.probs.sum() == pytest.approx(1.0)
    assert sm.alpha(0.3) == pytest.approx(1 - math.exp(-1))


def test_smoother_hysteresis_margin():
    sm = Smoother(CLASS_NAMES, config=SmoothConfig(tau_s=0.0, switch_margin=0.1))

    def step(t, happy, sad):
        q = happy * onehot("happy") + sad * onehot("sad") + (1 - happy - sad) * onehot("neutral")
        return sm.update([TrackedFace(1, Box(0, 0, 1, 1), probs=q)], now=t)[0].expression

    assert step(0.0, 0.5, 0.3).label == "happy"
    e = step(0.1, 0.42, 0.48)  # sad on top, but by less than the margin
    assert (e.label, e.confidence) == ("happy", pytest.approx(0.42))
    assert step(0.2, 0.35, 0.55).label == "sad"  # by 0.2: switches
    assert step(0.3, 0.46, 0.44).label == "sad"  # and does not switch straight back


def test_smoother_short_flicker_does_not_change_label():
    sm = Smoother(CLASS_NAMES)  # defaults: tau 0.3 s, margin 0.1
    smooth_run(sm, 30, 2.0, onehot("happy"))
    assert smooth_run(sm, 30, 0.1, onehot("sad"), t0=2.0).label == "happy"  # 100 ms of another class
    assert smooth_run(sm, 30, 1.0, onehot("sad"), t0=2.1).confidence > 0.9  # a lasting change wins


def test_smoother_unclassified_frames_and_forgetting():
    sm = Smoother(class_names=["a", "b"])
    f = TrackedFace(1, Box(0, 0, 1, 1))
    assert sm.update([f], now=0.0)[0].expression is None
    sm.update([TrackedFace(1, f.box, probs=np.array([0.2, 0.8]))], now=0.1)
    e = sm.update([f], now=0.2)[0].expression  # not classified this frame: keeps the last expression
    assert (e.label, e.confidence) == ("b", pytest.approx(0.8))
    sm.update([], now=0.3)  # track gone: forgotten
    e = sm.update([TrackedFace(1, f.box, probs=np.array([0.9, 0.1]))], now=0.4)[0].expression
    assert (e.label, e.confidence) == ("a", pytest.approx(0.9))
    with pytest.raises(ValueError, match="3 probabilities for 2 classes"):
        sm.update([TrackedFace(1, f.box, probs=np.ones(3) / 3)], now=0.5)


def test_pipeline_flicker_silent_and_change_spoken():
    clock = Clock()
    tracker, smoother, ann = Tracker(clock=clock), Smoother(CLASS_NAMES, clock=clock), Announcer(AnnounceConfig(), clock)
    said = []
    for i in range(12 * 30):
        clock.t = t = i / 30
        label = "sad" if 5.0 <= t < 5.2 or t >= 8.0 else "happy"  # a 200 ms flicker, then a lasting change
        tracks = tracker.update([Face(260 + 20 * math.sin(t), 180, 120, 120)])
        for tf in tracks:
            tf.probs = 0.85 * onehot(label) + 0.15 / 7  # what a classifier would give
        said += [(d.text, d.time) for d in ann.update(FRAME, smoother.update(tracks)) if d.spoken]
    assert [s[0] for s in said] == ["ahead, appears happy", "ahead, appears sad"]
    assert said[0][1] == pytest.approx(0.7, abs=0.05) and 8.7 < said[1][1] < 9.3


def test_box_iou_is_the_vectorised_iou_of_one_pair():
    """Box.iou (the tracker's) and iou_xyxy (non-maximum suppression's) are one function."""
    from fera.runtime.types import iou_xyxy

    rng = np.random.default_rng(3)
    boxes = [Box(*rng.uniform(-20, 100, 2), *rng.uniform(0, 60, 2)) for _ in range(60)] + [Box(5, 5, 0, 0)]
    arr = np.array([b.xyxy for b in boxes])
    for a in boxes:
        assert [a.iou(b) for b in boxes] == pytest.approx(iou_xyxy(np.array(a.xyxy), arr).tolist(), abs=1e-12)
        assert all(0.0 <= a.iou(b) <= 1.0 and a.iou(b) == pytest.approx(b.iou(a)) for b in boxes)
    assert Box(0, 0, 10, 10).iou(Box(0, 0, 10, 10)) == 1.0 and Box(5, 5, 0, 0).iou(Box(5, 5, 0, 0)) == 0.0


def test_decisions_and_announcements_are_built_by_keyword():
    from fera.runtime.types import Announcement, Decision

    with pytest.raises(TypeError):
        Decision(False, "", "", None, 0.0, "status")  # noqa  (positional: which string was the reason?)
    with pytest.raises(TypeError):
        Announcement("text", None, "photo", "describe")  # noqa
    d = Decision(spoken=True, text="no face", reason="spoken: status no_face", track_id=None, time=1.0,
                 kind="status", code="spoken", label="no_face", earcon="no_face")
    assert d.announcement == Announcement(text="no face", track_id=None, reason="spoken: status no_face",
                                          kind="status", earcon="no_face")
    assert "line" not in d.to_dict() and d.to_dict()["text"] == "no face"
