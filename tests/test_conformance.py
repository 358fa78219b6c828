"""One specification, two implementations: the Python runtime must still make the decisions stored in the replay
traces (tests/fixtures/traces, written by scripts/make_traces.py), which the page's JavaScript runtime must make
too (tests/js/conformance.test.mjs, run here through node's test runner as well as by `make test`). A rule
changed on one side only fails one of the two."""
import importlib.util
import json
import shutil
import subprocess

import pytest
from conftest import REPO

TRACES = sorted((REPO / "tests" / "fixtures" / "traces").glob("*.json"))
spec = importlib.util.spec_from_file_location("make_traces", REPO / "scripts" / "make_traces.py")
make_traces = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_traces)


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_python_makes_the_traces_decisions(path):
    trace = json.loads(path.read_text())
    got, want = make_traces.replay(trace), trace["expected"]
    if trace["kind"] == "photo":
        assert got == want
        return
    said = lambda ds: [(round(d["time"], 2), d["text"] or d["earcon"]) for d in ds if d["spoken"]]  # noqa: E731
    assert said(got["decisions"]) == said(want["decisions"])  # the announcements first: the clearest difference
    assert got == want, "the same announcements, but other suppressed decisions, reasons or people in view"


def test_the_traces_cover_the_replay_cases():
    names = {p.stem for p in TRACES}
    assert {"title_card_go", "smile", "crying_then_laughing", "newcomer", "group_of_three", "group_of_six",
            "left_edge", "lost_face", "photo_astronaut"} <= names


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (apt-get install nodejs)")
def test_the_pages_runtime_makes_the_same_decisions():
    r = subprocess.run(["node", "--test", str(REPO / "tests" / "js")], capture_output=True, text=True, timeout=300,
                       cwd=REPO)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
