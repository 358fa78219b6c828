"""``analyze``: `fera analyze` on a collection of photos and videos, in this process or on Dask (the library's
way in; the command line is ``fera.commands.analyze``)."""
from __future__ import annotations

import time
from pathlib import Path

from fera.errors import FeraError, Interrupted


def analyze(paths, out, settings, resume: bool = False, overwrite: bool = False, workers: int | None = None,
            cluster: str | None = None, stdin=None, report=None) -> dict:
    """Analyse ``paths`` into the table ``out``; returns the counts ("rows", "sources", "analysed", "resumed",
    "skipped"). In this process, or on Dask with ``workers`` (a local cluster) or ``cluster`` (an address)."""
    from fera.analyze import inputs, table
    from fera.analyze.run import Task, analyze_source, settings_record

    _need("pyarrow", "analyze")
    table.format_of(out)
    parts = table.parts_dir(out)
    if not (resume or overwrite) and (Path(out).exists() or any(parts.glob("*.parquet"))):
        raise FeraError(f"{out} or {parts} exists: add --resume to finish it or --overwrite to start again")
    report = report or Quiet()
    specs = inputs.require_some(inputs.expand(paths, stdin), paths)
    first = next(specs)
    keys = {k: settings.key(k) for k in {first.kind}}  # an unknown --model fails here, before any work
    if report.bar and "-" not in paths:
        report.total = sum(1 for _ in inputs.expand(paths))
    order: list[str] = []  # part names in the order of the sources; their status alongside
    status = bytearray()
    counts = {"analysed": 0, "resumed": 0, "skipped": 0}

    def tasks():
        for s in _chain(first, specs):
            key = keys[s.kind] if s.kind in keys else keys.setdefault(s.kind, settings.key(s.kind))
            order.append(s.part_name)
            part = parts / s.part_name
            if resume:
                meta = table.read_part_meta(part)
                if meta is not None and meta[0] == {**key, "source": s.path, **s.stat()}:
                    status.append(1)
                    counts["resumed"] += 1
                    report.source({"source": s.path, "kind": s.kind, "status": "resumed", **meta[1]})
                    continue
            status.append(0)
            yield Task(s, str(part), key, len(order) - 1)

    def finished(i: int, r: dict) -> None:
        if r["status"] == "done":
            status[i] = 1
            counts["analysed"] += 1
        else:
            counts["skipped"] += 1
        report.source(r)

    parts.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        if workers or cluster:
            _need("distributed", "cluster")
            from fera.analyze import cluster as dask_run

            with dask_run.connect(cluster, workers) as client:
                for t, r in dask_run.run(client, tasks(), settings):
                    report.frames(r["frames"])
                    finished(t.index, r)
        else:
            for t in tasks():
                finished(t.index, analyze_source(t, settings, progress=report.frames))
    except KeyboardInterrupt:
        report.close()
        raise Interrupted(f"interrupted: the {counts['analysed'] + counts['resumed']} sources done are kept in "
                          f"{parts}; rerun with --resume to finish") from None
    finally:
        table.remove_stale(parts)
    report.close()
    done = [parts / n for n, s in zip(order, status) if s]
    if not done:
        raise FeraError(f"no source could be analysed ({counts['skipped']} skipped)")
    rows = table.combine(done, out, settings_record(settings))
    summary = {"out": str(out), "rows": rows, "sources": len(order), **counts,
               "seconds": round(time.perf_counter() - t0, 2)}
    report.summary(summary)
    return summary


def _chain(first, rest):
    yield first
    yield from rest


def installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a finder that refuses it
        return False


def _need(module: str, extra: str) -> None:
    if not installed(module):
        raise FeraError(f"this needs the Python package {module!r}, which is not installed "
                        f"(pip install 'fera[{extra}]')")


class Quiet:
    """What ``analyze`` tells as it goes, to nobody (``fera.commands.analyze.Report`` tells the user)."""

    bar = False  # a progress bar, which needs the number of sources first
    total: int | None = None

    def frames(self, n: int) -> None:
        pass

    def source(self, r: dict) -> None:
        pass

    def summary(self, s: dict) -> None:
        pass

    def close(self) -> None:
        pass
