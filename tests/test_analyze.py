"""`fera analyze`: the table's columns (Parquet and CSV), what the assistant sees, no-face rows, skipped files and
the exit code, --resume, --every, streaming in row groups, atomic parts. Clips are made here from the sample
photos (a few dozen frames); every analysis uses the `fast` model, loaded once per test process."""
import io
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pyarrow")
import pyarrow.csv as pcsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from fera.analyze import table  # noqa: E402
from fera.analyze.collection import analyze  # noqa: E402
from fera.analyze.run import Settings  # noqa: E402
from fera.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "src" / "fera" / "assets" / "samples"
FAST = Settings(model="fast")
CROPS = {"astronaut.png": (130, 30, 330, 230), "grace_hopper.jpg": (50, 60, 350, 360)}


def face_frame(t: int, n: int = 2) -> np.ndarray:
    """``n`` sample faces (200 x 200 crops) on a grey 640 x 480 frame, moved 2 px right per frame ``t``."""
    canvas = np.full((480, 640, 3), 110, np.uint8)
    for i, name in enumerate(["astronaut.png", "grace_hopper.jpg"][:n]):
        face = np.asarray(Image.open(SAMPLES / name).convert("RGB").crop(CROPS[name]).resize((200, 200)))
        x = 20 + i * 260 + 2 * t
        canvas[140:340, x:x + 200] = face
    return canvas


def write_clip(path: Path, frames) -> Path:
    import cv2

    frames = list(frames)
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
    assert out.isOpened()
    for f in frames:
        out.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    out.release()
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("media")
    good = d / "good"
    good.mkdir()
    write_clip(good / "two_people.mp4", (face_frame(t) for t in range(24)))
    write_clip(good / "empty_room.mp4", (np.full((240, 320, 3), 90 + t, np.uint8) for t in range(10)))
    for name in CROPS:
        shutil.copy(SAMPLES / name, good / name)
    ramp = np.linspace(0, 255, 240 * 320).reshape(240, 320).astype(np.uint8)
    Image.fromarray(np.stack([ramp, ramp[::-1], ramp], axis=-1)).save(good / "gradient.png")
    bad = d / "bad"
    bad.mkdir()
    (bad / "truncated.jpg").write_bytes((SAMPLES / "grace_hopper.jpg").read_bytes()[:600])
    (bad / "noise.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return {"dir": d, "good": good, "bad": bad, "clip": good / "two_people.mp4", "empty": good / "empty_room.mp4",
            "gradient": good / "gradient.png"}


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def by_source(rs: list[dict]) -> dict:
    out: dict = {}
    for r in rs:
        out.setdefault(Path(r["source"]).name, []).append(r)
    return out


def test_parquet_and_csv_have_the_documented_columns_and_the_same_rows(media, tmp_path):
    a = analyze([str(media["good"])], tmp_path / "t.parquet", FAST)
    b = analyze([str(media["good"])], tmp_path / "t.csv", FAST)
    assert a["sources"] == b["sources"] == 5 and a["skipped"] == 0 and a["rows"] == b["rows"]
    pt, ct = pq.read_table(tmp_path / "t.parquet"), pcsv.read_csv(tmp_path / "t.csv")
    names = table.column_names(["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"])
    assert pt.schema.names == ct.schema.names == names
    assert pt.schema.field("track_id").type == "int32" and pt.schema.field("p_happy").type == "float"
    readme = (REPO / "README.md").read_text().split("## Analysing collections")[1].split("\n## ")[0]
    for name, _, _ in table.HEAD + table.TAIL:
        assert f"| `{name}` |" in readme, f"column {name} is not documented in the README"
    assert "`p_<class>`" in readme
    p, c = pt.to_pylist(), ct.to_pylist()
    for x, y in zip(p, c):
        assert x["source"] == y["source"] and x["frame"] == y["frame"] and x["track_id"] == y["track_id"]
        assert (x["p_happy"] is None and y["p_happy"] is None) or math.isclose(x["p_happy"], y["p_happy"],
                                                                               rel_tol=1e-6)
    got = by_source(p)
    assert [r["frame"] for r in got["two_people.mp4"]][:4] == [0, 0, 1, 1]  # 2 faces per frame, in frame order
    sha = __import__("hashlib").sha256((REPO / "src/fera/assets/models/fast.onnx").read_bytes()).hexdigest()
    for r in p:
        assert r["model"] == "fast" and r["model_sha256"] == sha and r["detector"] == "full"
        if r["faces"]:
            probs = [r[f"p_{n}"] for n in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")]
            assert math.isclose(sum(probs), 1.0, abs_tol=1e-4) and r["confidence"] == max(probs)
            assert r["expression"] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"][
                int(np.argmax(probs))]


@pytest.mark.parametrize("pieces", ["the analysis's own", "Assistant.create's"])
def test_video_rows_are_what_the_assistant_sees(media, tmp_path, pieces):
    """Boxes, track ids and calibrated probabilities of the confirmed faces are those of Assistant.step: with the
    analysis's detector and classifier to 1e-5, and within ONNX Runtime's rounding for other thread counts (a box
    a hair off can move the square crop by a pixel) with the assistant's own (`fera assist`'s)."""
    from fera.analyze.run import engine
    from fera.runtime.classify import ClassifyConfig
    from fera.runtime.pipeline import Assistant
    from fera.runtime.settings import Settings
    from fera.runtime.sources import open_source

    analyze([str(media["clip"])], tmp_path / "t.parquet", FAST)
    table_rows = rows(tmp_path / "t.parquet")
    ids = {r["track_id"] for r in table_rows}
    assert ids == {1, 2}, "two people, one id each for the whole clip"
    if pieces == "Assistant.create's":
        assistant, box_tol, p_tol = Assistant.create(Settings(classify=ClassifyConfig("fast"))), 0.05, 0.01
    else:
        eng = engine("fast", FAST)
        assistant, box_tol, p_tol = Assistant(eng.assistant.detector, eng.classifier), 1e-3, 1e-5
    seen = 0
    for fr in open_source(str(media["clip"])):
        step = assistant.step(fr.image, fr.timestamp)
        mine = {r["track_id"]: r for r in table_rows if r["frame"] == fr.index and r["confirmed"]}
        assert set(mine) == {f.track_id for f in step.faces}, fr.index
        for f in step.faces:
            r, b = mine[f.track_id], f.box.clip(640, 480)
            assert np.allclose([r["x"], r["y"], r["w"], r["h"]], [b.x, b.y, b.w, b.h], atol=box_tol)
            assert np.allclose([r[f"p_{n}"] for n in assistant.classifier.class_names], f.probs, atol=p_tol)
            seen += 1
    assert seen >= 40  # confirmed from the 3rd frame on, 2 faces a frame


def test_a_source_without_faces_gets_a_row_saying_so(media, tmp_path):
    analyze([str(media["gradient"]), str(media["empty"])], tmp_path / "t.parquet", FAST)
    got = by_source(rows(tmp_path / "t.parquet"))
    (photo,) = got["gradient.png"]
    assert photo["faces"] == 0 and photo["track_id"] is None and photo["expression"] is None
    assert photo["frame"] == 0 and photo["timestamp"] is None and photo["kind"] == "photo"
    assert photo["model"] == "fast" and photo["width"] == 320
    video = got["empty_room.mp4"]
    assert [r["frame"] for r in video] == list(range(10)) and all(r["faces"] == 0 for r in video)
    assert all(r["p_happy"] is None for r in video)


def test_bad_files_are_skipped_counted_and_named_and_the_exit_code_says_so(media, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    args = [str(media["gradient"]), str(media["bad"] / "truncated.jpg"), str(media["bad"] / "noise.mp4"),
            str(tmp_path / "missing.png"), str(media["clip"]), "--out", str(out), "--model", "fast"]
    assert main(["analyze", *args]) == 1
    text = capsys.readouterr().out
    for name in ("truncated.jpg", "noise.mp4", "missing.png"):
        assert re.search(rf"{name}: skipped: \S", text), text
    assert "5 sources (2 analysed, 0 already done, 3 skipped)" in text
    assert set(by_source(rows(out))) == {"gradient.png", "two_people.mp4"}
    assert main(["analyze", str(media["gradient"]), "--out", str(tmp_path / "ok.csv"), "--model", "fast"]) == 0


def test_resume_skips_what_is_done_and_redoes_a_removed_part(media, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    argv = ["analyze", str(media["good"]), "--out", str(out), "--model", "fast", "--json"]
    assert main(argv) == 0
    first = rows(out)
    capsys.readouterr()
    assert main(argv) == 2  # neither --resume nor --overwrite: the table is not replaced
    assert "add --resume" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert [x["status"] for x in lines[:-1]] == ["resumed"] * 5 and lines[-1]["analysed"] == 0
    assert rows(out) == first
    parts = sorted(table.parts_dir(out).glob("*.parquet"))
    assert len(parts) == 5
    victim = next(p for p in parts if pq.read_table(p)["kind"][0].as_py() == "video")
    victim.unlink()
    assert main([*argv, "--resume"]) == 0
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert sorted(x["status"] for x in lines[:-1]) == ["done"] + ["resumed"] * 4
    assert rows(out) == first
    assert main([*argv, "--resume", "--every", "2"]) == 0  # other settings: every part is redone
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert lines[-1]["analysed"] == 5 and lines[-1]["resumed"] == 0


def test_every_samples_frames(media, tmp_path):
    analyze([str(media["clip"])], tmp_path / "all.parquet", FAST)
    analyze([str(media["clip"])], tmp_path / "third.parquet", Settings(model="fast", every=3))
    every = {(r["frame"], r["track_id"]): r for r in rows(tmp_path / "all.parquet")}
    third = rows(tmp_path / "third.parquet")
    assert sorted({r["frame"] for r in third}) == list(range(0, 24, 3))
    for r in third:  # the same faces in the same frames (detection does not depend on the other frames)
        assert np.allclose([r["x"], r["w"]], [every[r["frame"], r["track_id"]]["x"],
                                              every[r["frame"], r["track_id"]]["w"]], atol=1e-3)


def test_paths_from_stdin_and_duplicates_once(media, tmp_path):
    stdin = io.StringIO(f"{media['gradient']}\n\n{media['clip']}\n{media['gradient']}\n")
    s = analyze(["-"], tmp_path / "t.parquet", FAST, stdin=stdin)
    assert s["sources"] == 2 and s["analysed"] == 2


def test_a_long_source_streams_in_row_groups_and_small_batches(media, tmp_path, monkeypatch):
    from fera.analyze import rows as rows_mod

    analyze([str(media["clip"])], tmp_path / "one.parquet", FAST)
    monkeypatch.setattr(table, "ROW_GROUP", 8)
    monkeypatch.setattr(rows_mod, "MAX_FRAMES", 3)
    analyze([str(media["clip"])], tmp_path / "small.parquet", Settings(model="fast", batch_size=4))
    (part,) = table.parts_dir(tmp_path / "small.parquet").glob("*.parquet")
    assert pq.ParquetFile(part).num_row_groups == 6  # 48 rows, 8 at a time
    a, b = rows(tmp_path / "one.parquet"), rows(tmp_path / "small.parquet")
    assert [(r["frame"], r["track_id"]) for r in a] == [(r["frame"], r["track_id"]) for r in b]
    assert np.allclose([r["p_happy"] for r in a], [r["p_happy"] for r in b], atol=1e-5)


def test_a_source_that_fails_midway_leaves_no_part(media, tmp_path, monkeypatch):
    from fera.analyze import rows as rows_mod

    calls = {"n": 0}
    real = rows_mod.VideoRows.add

    def failing(self, fr):
        calls["n"] += 1
        if calls["n"] == 10:
            raise MemoryError("out of memory in the middle")
        return real(self, fr)

    monkeypatch.setattr(rows_mod.VideoRows, "add", failing)
    out = tmp_path / "t.parquet"
    s = analyze([str(media["clip"]), str(media["gradient"])], out, FAST)
    assert s["skipped"] == 1 and s["analysed"] == 1
    parts = table.parts_dir(out)
    assert [pq.read_table(p)["source"][0].as_py() for p in parts.iterdir()] == [str(media["gradient"])]
    assert set(by_source(rows(out))) == {"gradient.png"}


@pytest.mark.parametrize("argv, message", [
    (["--out", "t.xlsx"], "give a file ending in .parquet or .csv"),
    (["--out", "t.csv", "--model", "nosuch"], "model not found: nosuch"),
])
def test_bad_options_are_one_line_and_exit_2(media, tmp_path, capsys, argv, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(media["gradient"]), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fera: error:") and message in err and "Traceback" not in err


def test_nothing_to_analyse_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["analyze", str(tmp_path / "empty"), "--out", str(tmp_path / "t.parquet")]) == 2
    assert "no photo or video in" in capsys.readouterr().err
    (tmp_path / "x.png").write_bytes(b"not a png")
    assert main(["analyze", str(tmp_path / "x.png"), "--out", str(tmp_path / "t.parquet"), "--model", "fast"]) == 2
    assert "no source could be analysed (1 skipped)" in capsys.readouterr().err
    assert not (tmp_path / "t.parquet").exists()


def test_analyze_needs_no_training_stack_and_names_a_missing_extra(media, tmp_path):
    from test_no_training_stack import TRAINING, fera

    r = fera("analyze", media["gradient"], "--out", tmp_path / "t.csv", "--model", "fast")
    assert r.returncode == 0 and "blocked import" not in r.stderr, r.stderr
    assert (tmp_path / "t.csv").is_file()
    for blocked, argv, extra in ((("pyarrow",), [], "fera[analyze]"),
                                 (("distributed", "dask"), ["--workers", "2"], "fera[cluster]")):
        r = fera("analyze", media["gradient"], "--out", tmp_path / "u.csv", *argv, blocked=TRAINING + blocked)
        assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("fera: error:"), r.stderr
        assert extra in r.stderr and "Traceback" not in r.stderr
