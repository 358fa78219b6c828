"""The assistant's words as pure functions (fera.runtime.wording), and the text lines built from them."""
import pytest

from fera.runtime import wording
from fera.runtime.announce import AnnounceConfig, Announcer
from fera.runtime.speak import words
from fera.runtime.types import Box, Expression, FrameInfo, TrackedFace
from fera.runtime.wording import FaceWords


def fw(position="left", label="happy", level="appears", confidence=0.82, facing=None, place=None, row="middle",
       distance="talking distance", height=100.0):
    return FaceWords(position=position, place=place or position, row=row, distance=distance, level=level,
                     label=label, confidence=confidence, height=height, facing=facing)


def test_position_place_row_distance_from_plain_numbers():
    box = lambda cx, h=100: Box(cx - h / 2, 240 - h / 2, h, h)  # noqa: E731
    assert [wording.position(box(cx), 640, 0.35) for cx in (100, 320, 600)] == ["left", "ahead", "right"]
    assert [wording.position(box(cx), 640, 0.35, mirror=True) for cx in (100, 320, 600)] == ["right", "ahead", "left"]
    assert wording.position(box(200), 640, side=0.25) == "ahead"
    assert [wording.place(box(cx), 640) for cx in (10, 200, 320, 450, 630)] == list(wording.PLACES)
    assert wording.place(box(10), 640, mirror=True) == "far right"
    assert [wording.row(Box(0, y, 10, 10), 480) for y in (0, 200, 400)] == ["top", "middle", "bottom"]
    assert [wording.distance(box(320, h), 480, 0.4, 0.15) for h in (240, 120, 40)] == [
        "close", "talking distance", "far"]
    assert wording.position(box(0), 0, 0.35) == "left"  # a zero width never divides by zero


def test_levels_adjectives_and_status_words():
    assert [wording.level(c, 0.6, 0.4) for c in (None, 0.2, 0.4, 0.59, 0.6, 1.0)] == [
        "unsure", "unsure", "maybe", "maybe", "appears", "appears"]
    assert wording.level(0.5, appears_min=0.5, maybe_min=0.3) == "appears"
    assert [wording.adjective(k) for k in ("surprise", "fear", "disgust", "happy", "pain")] == [
        "surprised", "afraid", "disgusted", "happy", "pain"]
    assert wording.status_text("edge_left") == "face at the left edge"
    assert wording.status_text("source_lost") == "source lost"
    assert [wording.ordinal(n) for n in (1, 10, 11, 12, 21, 22, 23, 111)] == [
        "first", "tenth", "11th", "12th", "21st", "22nd", "23rd", "111th"]


def test_one_face_pieces_then_joined():
    f = fw(label="fear", level="maybe", confidence=0.5, facing="right")
    assert wording.expression(f) == "maybe afraid" and wording.terse(f) == "maybe afraid"
    assert wording.details(f, 1) == ("maybe afraid",)
    assert wording.details(f, 2) == ("maybe afraid", "turned to your right")
    assert wording.details(f, 3) == ("talking distance", "maybe afraid", "50%", "turned to your right")
    assert [wording.spoken(f, v) for v in range(4)] == [
        "", "Left: maybe afraid", "left, maybe afraid, turned to your right",
        "left, talking distance, maybe afraid, 50%, turned to your right"]
    assert [wording.line(f, v) for v in range(4)] == [
        "left: maybe afraid", "Left: maybe afraid", "left: maybe afraid, turned to your right",
        "left: talking distance, maybe afraid, 50%, turned to your right"]
    unsure = fw(level="unsure", confidence=0.2, facing="you")
    assert wording.details(unsure, 3) == ("talking distance", "not sure", "facing you")  # no % when not sure
    assert wording.spoken(unsure, 2) == "left, not sure"  # facing you is not worth a word at 2
    assert wording.expression(fw(label=None, level="unsure", confidence=None)) == "not sure"


def test_group_lists_few_and_summarises_many():
    three = [fw("left"), fw("ahead", "neutral", confidence=0.7), fw("right", level="unsure", confidence=0.1)]
    assert wording.group(three, 1) == "3 faces: left happy, ahead neutral, right not sure"
    assert wording.group(three, 2) == "3 faces: left appears happy, ahead neutral, right not sure"
    assert wording.group(three, 3).startswith("3 faces: left, talking distance, appears happy, 82%; ahead, ")
    same = [fw("left", place="far left"), fw("left", place="left")]
    assert wording.group(same, 1) == "2 faces: far left happy, left happy"
    twins = [fw("left", place="left"), fw("left", place="left")]
    assert wording.group(twins, 1) == "2 faces: first from the left happy, second from the left happy"
    crowd = [fw(p, height=h, place=p) for p, h in
             (("far left", 50), ("left", 60), ("ahead", 120), ("right", 40), ("far right", 30))]
    crowd[4] = fw("far right", "sad", "maybe", 0.5, place="far right", height=30)
    assert wording.group(crowd, 2) == "5 faces: 4 appear happy, 1 maybe sad; left: happy; nearest, ahead: happy"
    assert wording.group(crowd, 2, max_describe=5).startswith("5 faces: far left appears happy, left happy")


def test_verbosity_0_line_says_the_face_word_not_the_class_name():
    """At verbosity 0 only the earcon plays; its text line (and the voice's fallback words) must say the face
    as every other verbosity does ("afraid", "surprised"), not the class name ("fear")."""
    for v in range(4):
        ann = Announcer(AnnounceConfig(verbosity=v), clock=lambda: 5.0)
        frame = FrameInfo(640, 480, 5.0, 120.0)
        face = TrackedFace(1, Box(40, 180, 120, 120), expression=Expression("fear", 0.9, since=0.0))
        d = ann.update(frame, [face])[0]
        assert d.spoken and d.position == "left"
        assert words(d.announcement).lower() == ("left: afraid" if v < 2 else
                                                  "left: appears afraid" if v == 2 else
                                                  "left: talking distance, appears afraid, 90%")
        assert "fear" not in words(d.announcement)


@pytest.mark.parametrize("text", ["left, appears happy", "Left: happy", ""])
def test_lines_never_come_from_parsing_the_text(text):
    from fera.runtime.types import Announcement

    a = Announcement(text=text, track_id=1, reason="r", kind="expression", earcon="happy", position="left",
                     line="the line")
    assert words(a) == "the line"


def test_fera_explain_says_positions_as_the_assistant_does():
    import numpy as np

    from fera.training.explain import position

    image = np.zeros((480, 640, 3), np.uint8)
    ann = Announcer(AnnounceConfig())
    for cx in (50, 223, 224, 320, 417, 418, 600):
        box = Box(cx - 40, 200, 80, 80)
        face = TrackedFace(1, box)
        assert position(box, image) == ann.words(face, FrameInfo(640, 480)).position, cx
    assert position(None, image) is None
