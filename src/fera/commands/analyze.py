"""`fera analyze`: photos and videos into a table, one row per face per frame (``fera.analyze``)."""
from __future__ import annotations

import json
import sys
from dataclasses import fields

from fera.analyze.collection import Quiet, installed
from fera.analyze.run import Settings
from fera.commands.args import COUNT, add_option
from fera.runtime.classify import ClassifyConfig
from fera.runtime.detect import DETECTORS

EXIT_DONE, EXIT_SKIPPED = 0, 1  # errors are 2 (fera.cli), Ctrl-C 130
EXAMPLES = [
    ("fera analyze photos/ clips/ --out faces.parquet", "one row per face per frame"),
    ("fera analyze clip.mp4 --every 5 --out clip.csv", "every 5th frame, as CSV"),
    ("fera analyze photos/ --out faces.parquet --resume", "after a stop: only what is not done yet"),
    ("find . -name '*.mp4' | fera analyze - --out faces.parquet --workers 2", "paths on stdin, 2 processes"),
    ("fera analyze /data/clips --out /data/faces.parquet --cluster tcp://scheduler:8786", "a Dask cluster")]


def add_arguments(p) -> None:
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
    p.add_argument("--model", help="shipped model name or .onnx file (default: as fera assist, "
                   f"{ClassifyConfig.model} for videos and the most accurate shipped model for photos)")
    p.add_argument("--int8", action="store_true", help="use the model's int8 file when it ships one")
    p.add_argument("--flip", action="store_true", help="average each face with its mirror image")
    add_option(p, "--detector", (Settings, "detector"), choices=DETECTORS,
               help="BlazeFace full range (default {default}; small and far faces too) or short range (faster)")
    add_option(p, "--batch_size", (Settings, "batch_size"), type=COUNT,
               help="faces classified per call, across frames (default {default})")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=COUNT, help="run on a local Dask cluster of this many worker processes")
    where.add_argument("--cluster", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS "
                       "(tcp://host:8786); every worker needs fera[cluster] and the same paths")
    p.add_argument("--json", action="store_true", help="one JSON object per source, then one for the table")


def run(args) -> int:
    """Analyse photos and videos into a table: one row per face per frame (Parquet or CSV).

    Every face the assistant finds, in every analysed frame, becomes a row: the source, frame and time, the
    track id (stable within a video), the box, detector score and facing, every calibrated class probability,
    the top class and its confidence, and the model's name and SHA-256; a frame without a face gets one row that
    says so. Each source is written atomically as it is done, so --resume continues a stopped run; unreadable
    files are skipped and named. Exit code 0: every source analysed; 1: some were skipped; 2: an error."""
    from fera.analyze.collection import analyze

    given = {f.name: getattr(args, f.name) for f in fields(Settings) if getattr(args, f.name, None) is not None}
    summary = analyze(args.paths, args.out, Settings(**given), resume=args.resume, overwrite=args.overwrite,
                      workers=args.workers, cluster=args.cluster, report=Report(args.json))
    return EXIT_SKIPPED if summary["skipped"] else EXIT_DONE


class Report(Quiet):
    """What the user sees: in a terminal, progress bars of sources and frames (tqdm); otherwise one line per
    source (``--json``: one object). Skipped sources are also named on stderr (the bar or JSON hides them)."""

    def __init__(self, json_mode: bool = False, stream=None, quiet: bool = False):
        self.json, self.stream, self.quiet = json_mode, stream, quiet
        self.bar = not quiet and not json_mode and sys.stderr.isatty() and sys.stdout.isatty() and installed("tqdm")
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
