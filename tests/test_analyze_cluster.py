"""`fera analyze` on a real local Dask cluster of 2 worker processes: the table equals the single-process one, each
worker loads the model once, and a worker killed in the middle of a source loses only that source, which is redone
(nothing duplicated, nothing lost). The kill is deterministic: the source holds at a frame (Settings.hold) until
the test has killed the worker that holds it; every wait is bounded, and the cluster is closed whatever happens."""
import logging
import os
import signal
import socket
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")
distributed = pytest.importorskip("distributed")
import pyarrow.parquet as pq  # noqa: E402

from fera.analyze import table  # noqa: E402
from fera.analyze.collection import analyze  # noqa: E402
from fera.analyze.run import Settings  # noqa: E402
from fera.cli import main  # noqa: E402
from test_analyze import SAMPLES, face_frame, write_clip  # noqa: E402

pytestmark = pytest.mark.cluster
FAST = Settings(model="fast")
KEY = ("source", "frame", "track_id")


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> list[str]:
    d = tmp_path_factory.mktemp("cluster_media")
    clips = [write_clip(d / f"clip{i}.mp4", (face_frame(t + 5 * i, n=1 + i % 2) for t in range(20))) for i in range(3)]
    photos = [d / "astronaut.png", d / "grace_hopper.jpg"]
    for p in photos:
        p.write_bytes((SAMPLES / p.name).read_bytes())
    return [str(p) for p in clips + photos]


@pytest.fixture(scope="module")
def reference(media, tmp_path_factory) -> list[dict]:
    """The table of the same sources, analysed in this process."""
    out = tmp_path_factory.mktemp("single") / "t.parquet"
    analyze(media, out, FAST)
    return pq.read_table(out).to_pylist()


@pytest.fixture(scope="module")
def cluster():
    """A local Dask cluster of 2 worker processes (nannies restart a killed one), closed at the end."""
    from distributed import LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                     silence_logs=logging.CRITICAL)
    try:
        yield c
    finally:
        c.close(timeout=60)


class Collect:
    """A report that keeps every source's result."""

    bar, total = False, None

    def __init__(self):
        self.results = []

    def source(self, r):
        self.results.append(r)

    def frames(self, n):
        pass

    def summary(self, s):
        pass

    def close(self):
        pass


def same_rows(a: list[dict], b: list[dict]) -> None:
    """Equal tables, whatever the order of their rows; floats to 1e-4 (ONNX Runtime on other thread counts, CSV's
    float64 against Parquet's float32)."""
    assert len(a) == len(b)
    a, b = (sorted(t, key=lambda r: tuple(-1 if r[k] is None else r[k] for k in KEY)) for t in (a, b))
    keys = [tuple(r[k] for k in KEY) for r in a]
    assert len(set(keys)) == len(keys), "a face is in the table twice"
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k, v in x.items():
            if isinstance(v, float) and isinstance(y[k], float) and k != "timestamp":
                assert np.isclose(v, y[k], atol=1e-4), (k, x, y)
            else:
                assert v == y[k], (k, x, y)


def test_the_cluster_gives_the_single_process_table_and_loads_the_model_once_per_worker(
        media, reference, cluster, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    assert main(["analyze", *media, "--out", str(out), "--model", "fast", "--cluster", cluster.scheduler_address,
                 "--json"]) == 0
    capsys.readouterr()
    same_rows(pq.read_table(out).to_pylist(), reference)
    report = Collect()  # the same settings as the command line's run: each worker reuses the model it loaded then
    analyze(media, tmp_path / "again.parquet", Settings(model="fast"), cluster=cluster.scheduler_address,
            report=report)
    assert sorted(r["source"] for r in report.results) == sorted(media)
    assert all(r["status"] == "done" and r["model_loads"] == 1 for r in report.results), report.results


def test_a_local_cluster_of_workers_from_the_command_line(media, reference, tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert main(["analyze", *media[-2:], "--out", str(out), "--model", "fast", "--workers", "2"]) == 0
    assert "2 sources (2 analysed" in capsys.readouterr().out
    import pyarrow.csv as pcsv

    same_rows(pcsv.read_csv(out).to_pylist(), [r for r in reference if r["source"] in media[-2:]])


def test_a_killed_worker_loses_only_its_source_which_is_redone(media, reference, cluster, tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))  # the held worker connects here and waits
    listener.settimeout(300)
    clip = media[1]
    settings = replace(FAST, hold=(clip, 7, f"127.0.0.1:{listener.getsockname()[1]}"), hold_s=300.0)
    report, outcome = Collect(), {}
    out = tmp_path / "t.parquet"

    def work():
        try:
            outcome["summary"] = analyze(media, out, settings, cluster=cluster.scheduler_address, report=report)
        except BaseException as e:  # noqa: BLE001  (reported by the test below)
            outcome["error"] = e

    t = threading.Thread(target=work, daemon=True)
    t.start()
    conn = None
    try:
        try:
            conn, _ = listener.accept()  # a worker reached frame 7 of the clip
        except TimeoutError:
            raise AssertionError(f"no worker held frame 7 of {clip} within 300 s "
                                 f"(the analysis {'is still running' if t.is_alive() else 'ended first'})") from None
        listener.close()  # the retry of the clip finds nobody listening and goes on
        conn.settimeout(60)
        pid = int(conn.makefile().readline())
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        t.join(timeout=300)
        assert not t.is_alive(), "the analysis did not finish within 300 s of the kill"
    finally:
        if conn is not None:
            conn.close()  # a test that failed before the kill lets the held worker go on
        listener.close()
        t.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    s = outcome["summary"]
    assert (s["analysed"], s["skipped"], s["sources"]) == (len(media), 0, len(media))
    redone = [r for r in report.results if r["source"] == clip]
    assert len(redone) == 1 and redone[0]["status"] == "done"
    assert not redone[0]["worker"].endswith(f":{pid}"), "the killed worker cannot have finished it"
    same_rows(pq.read_table(out).to_pylist(), reference)
    parts = table.parts_dir(out)
    assert len(list(parts.glob("*.parquet"))) == len(media) and not list(parts.glob(".tmp-*"))
    assert Path(clip).name in {Path(r["source"]).name for r in pq.read_table(out).to_pylist()}
