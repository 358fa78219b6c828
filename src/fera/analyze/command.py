"""The command line of `fera analyze`, and ``analyze``, what it does (also the library's way in)."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import fields
from pathlib import Path

from fera.argtypes import COUNT, add_option
from fera.errors import FeraError, Interrupted

EXIT_DONE, EXIT_SKIPPED = 0, 1  # errors are 2 (fera.cli), Ctrl-C 130


def add_arguments(p) -> None:
    from fera.analyze.run import Settings

    p.add_argument("paths", nargs="+", metavar="PATH", help="photos, videos, folders of them (searched "
                   "recursively), or - to read one path a line from stdin")
    p.add_argument("--out", required=True, help="the table to write: .parquet or .csv; finished sources wait in "
                   "OUT.parts/ beside it")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="keep the sources OUT.parts/ already holds (made with "
                       "the same model and settings, from the same unchanged file) and do the rest")
    again.add_argument("--overwrite", action="store_true", help="analyse every source again and replace OUT")
    add_option(p, "--every", (Settings, "every"), type=COUNT, help="analyse every Nth frame of a video (default "
               "{default}: all)")
    p.add_argument("--model", help="shipped model name or .onnx file (default: as fera assist, fast for videos "
                   "and the most accurate shipped model for photos)")
    p.add_argument("--int8", action="store_true", help="use the model's int8 file when it ships one")
    p.add_argument("--flip", action="store_true", help="average each face with its mirror image")
    add_option(p, "--detector", (Settings, "detector"), choices=("full", "short"),
               help="BlazeFace full range (default {default}; small and far faces too) or short range (faster)")
    add_option(p, "--batch_size", (Settings, "batch_size"), type=COUNT,
               help="faces classified per call, across frames (default {default})")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=COUNT, help="run on a local Dask cluster of this many worker processes")
    where.add_argument("--cluster", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS "
                       "(tcp://host:8786); every worker needs fera[cluster] and the same paths")
    p.add_argument("--json", action="store_true", help="one JSON object per source, then one for the table")


def cmd_analyze(args) -> int:
    """Analyse photos and videos into a table: one row per face per frame (Parquet or CSV).

    Every face the assistant finds, in every analysed frame, becomes a row: the source, frame and time, the
    track id (stable within a video), the box, detector score and facing, every calibrated class probability,
    the top class and its confidence, and the model's name and SHA-256; a frame without a face gets one row that
    says so. Each source is written atomically as it is done, so --resume continues a stopped run; unreadable
    files are skipped and named. Exit code 0: every source analysed; 1: some were skipped; 2: an error."""
    from fera.analyze.run import Settings

    given = {f.name: getattr(args, f.name) for f in fields(Settings) if getattr(args, f.name, None) is not None}
    summary = analyze(args.paths, args.out, Settings(**given), resume=args.resume, overwrite=args.overwrite,
                      workers=args.workers, cluster=args.cluster, report=Report(args.json))
    return EXIT_SKIPPED if summary["skipped"] else EXIT_DONE


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
    report = report or Report(True, stream=None, quiet=True)
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


def _has(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a finder that refuses it
        return False


def _need(module: str, extra: str) -> None:
    if not _has(module):
        raise FeraError(f"this needs the Python package {module!r}, which is not installed "
                        f"(pip install 'fera[{extra}]')")


class Report:
    """What the user sees: in a terminal, progress bars of sources and frames (tqdm); otherwise one line per
    source (``--json``: one object). Skipped sources are also named on stderr (the bar or JSON hides them)."""

    def __init__(self, json_mode: bool = False, stream=None, quiet: bool = False):
        self.json, self.stream, self.quiet = json_mode, stream, quiet
        self.bar = not quiet and not json_mode and sys.stderr.isatty() and sys.stdout.isatty() and _has("tqdm")
        self.total: int | None = None
        self._bars = None

    def _out(self):
        return self.stream or sys.stdout

    def _open(self):
        if self._bars is None and self.bar:
            from tqdm import tqdm

            self._bars = (tqdm(total=self.total, unit="source", desc="sources", position=0, dynamic_ncols=True),
                          tqdm(unit="frame", desc="frames ", position=1, dynamic_ncols=True))
        return self._bars

    def frames(self, n: int) -> None:
        if self.bar:
            self._open()[1].update(n)

    def source(self, r: dict) -> None:
        if self.quiet:
            return
        if r["status"] == "skipped" and (self.json or self.bar):
            self._write(f"fera: skipped {r['source']}: {r['reason']}", sys.stderr)
        if self.bar:
            bars = self._open()
            bars[0].update(1)
            return
        self._write(json.dumps(r) if self.json else line(r), self._out())

    def _write(self, text: str, stream) -> None:
        if self._bars is not None:
            self._bars[0].write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def summary(self, s: dict) -> None:
        if not self.quiet:
            print(json.dumps(s) if self.json else
                  f"wrote {s['out']}: {s['rows']:,} rows from {s['sources']:,} sources ({s['analysed']:,} analysed, "
                  f"{s['resumed']:,} already done, {s['skipped']:,} skipped)", file=self._out(), flush=True)

    def close(self) -> None:
        if self._bars is not None:
            for b in self._bars:
                b.close()
            self._bars = None


def line(r: dict) -> str:
    """One source as a line: "clip.mp4: 300 frames, 290 faces, 310 rows in 2.1 s"."""
    if r["status"] == "skipped":
        return f"{r['source']}: skipped: {r['reason']}"
    if r["status"] == "resumed":
        return f"{r['source']}: already done ({_n(r['rows'], 'row')})"
    text = (f"{r['source']}: {_n(r['frames'], 'frame')}, {_n(r['faces'], 'face')}, {_n(r['rows'], 'row')} in "
            f"{r['seconds']:.1f} s")
    return text + "".join(f"; {m}" for m in r.get("notices", []))


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
