"""The table of `fera analyze`: its columns, the per-source part files and the final Parquet or CSV file.

One row per face per analysed frame; a frame in which no face was found gets one row with ``faces`` 0 and
the face columns empty, so "no face" is never confused with "not analysed" (a source that could not be read
has no row at all and is named as skipped). Each source is written as its own Parquet part file
(``OUT.parts/<key>.parquet``), in row groups as it is analysed and renamed into place only when complete;
the parts are then streamed, one row group at a time, into ``--out``, which also appears atomically. Memory
stays bounded by one row group whatever the size of a source or of the collection.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from fera.errors import FeraError

#: Bump when a column changes: parts written by another version are redone by ``--resume``.
VERSION = 1
META_KEY = b"fera_analyze"  # the part's settings (what --resume compares)
SUMMARY_KEY = b"fera_analyze_summary"  # what the analysis of the source found (frames, notices)
ROW_GROUP = 2048
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def _columns(text: str) -> tuple[tuple[str, str, str], ...]:
    """(name, type, what) per non-blank line of ``text``: a name, a type, then the words that say what it is."""
    return tuple(tuple(line.split(None, 2)) for line in text.strip().splitlines())


#: name, type and meaning of the columns before and after the class probabilities, one per line; the README
#: documents them.
HEAD = _columns("""
source     string  the photo or video, as given or found in a folder
kind       string  photo or video
frame      int64   the frame's index in the video, counted from 0 (0 for a photo)
timestamp  float64 seconds from the start of the video (empty for a photo)
width      int32   the frame's width in pixels
height     int32   the frame's height in pixels
faces      int32   faces found in this frame; 0: no face (one row, face columns empty)
track_id   int32   the person, stable within a video (photos: 1, 2 ... left to right)
confirmed  bool    a person by the assistant's rule (seen in 3 of 5 frames, mean score >= 0.6); photos: true
x          float32 the face box's left edge, pixels
y          float32 the face box's top edge, pixels
w          float32 the face box's width, pixels
h          float32 the face box's height, pixels
face_score float32 the detector's confidence, 0-1
facing     string  you, left or right (the viewer's) when the keypoints say so reliably, else empty
yaw        float32 the keypoints' turn ratio behind facing: 0 frontal, > 0 turned to the image's right
""")
TAIL = _columns("""
expression   string  the class with the highest calibrated probability
confidence   float32 its calibrated probability
model        string  the classifier: a shipped model's name or the .onnx file's name
model_sha256 string  SHA-256 of the classifier's ONNX file
detector     string  BlazeFace full or short range
""")
PROB_PREFIX = "p_"  # one float32 column per class of the model: p_angry, p_happy ... (calibrated)


def format_of(out: str | os.PathLike) -> str:
    """"parquet" or "csv", by the extension of ``--out``."""
    fmt = FORMATS.get(Path(out).suffix.lower())
    if fmt is None:
        raise FeraError(f"--out {out}: give a file ending in .parquet or .csv")
    return fmt


def parts_dir(out: str | os.PathLike) -> Path:
    """Where the finished sources of ``out`` wait until they are combined: OUT.parts beside it."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def column_names(class_names) -> list[str]:
    return [n for n, _, _ in HEAD] + [PROB_PREFIX + c for c in class_names] + [n for n, _, _ in TAIL]


def schema(class_names):
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64(),
             "float32": pa.float32(), "bool": pa.bool_()}
    clash = set(PROB_PREFIX + c for c in class_names) & {n for n, _, _ in HEAD + TAIL}
    if clash or len(set(class_names)) != len(class_names):
        raise FeraError(f"the model's class names {list(class_names)} cannot be columns")
    return pa.schema([(n, types[t]) for n, t, _ in HEAD] + [(PROB_PREFIX + c, pa.float32()) for c in class_names]
                     + [(n, types[t]) for n, t, _ in TAIL])


class PartWriter:
    """One source's part file, written in row groups to a hidden temporary file beside it and renamed into
    place by ``close`` (a kill or an exception leaves no part, so the source counts as not done)."""

    def __init__(self, path: str | os.PathLike, class_names, key: dict):
        import pyarrow.parquet as pq

        from fera.fileio import atomic_path

        self.schema = schema(class_names).with_metadata({META_KEY: json.dumps(key).encode()})
        self.names = self.schema.names
        self._stack = contextlib.ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(path))
        self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        self._cols: dict[str, list] = {n: [] for n in self.names}
        self.rows = 0

    def add(self, row: dict) -> None:
        """One row: a dict by column name (missing columns are empty)."""
        for n, col in self._cols.items():
            col.append(row.get(n))
        self.rows += 1
        if len(self._cols["source"]) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._cols["source"]:
            self._writer.write_table(pa.Table.from_pydict(self._cols, schema=self.schema))
            self._cols = {n: [] for n in self.names}

    def close(self, summary: dict) -> None:
        """Write what is buffered and the source's summary, and put the part in place."""
        try:
            self._flush()
            self._writer.add_key_value_metadata({SUMMARY_KEY: json.dumps(summary).encode()})
            self._writer.close()
        except BaseException:
            self.abort()
            raise
        self._stack.close()

    def abort(self) -> None:
        """Drop the part (the temporary file is removed)."""
        with contextlib.suppress(Exception):
            self._writer.close()
        self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)


def read_part_meta(path: str | os.PathLike) -> tuple[dict, dict] | None:
    """(settings key, summary) of a finished part, or None when there is none or it cannot be read."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        kv = meta.metadata or {}
        return json.loads(kv[META_KEY]), {**json.loads(kv.get(SUMMARY_KEY, b"{}")), "rows": meta.num_rows}
    except Exception:  # noqa: BLE001  (missing, damaged or foreign: the source is simply redone)
        return None


def combine(parts, out: str | os.PathLike, settings: dict | None = None) -> int:
    """Stream the ``parts`` (in order) into ``out`` (Parquet or CSV by its extension), atomically; returns the
    number of rows. Every part must have the same columns (the same classes)."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from fera.fileio import atomic_path

    fmt, rows = format_of(out), 0
    with atomic_path(out) as tmp:
        writer, first = None, None
        try:
            for p in parts:
                pf = pq.ParquetFile(p)
                s = pf.schema_arrow.remove_metadata()
                if first is None:
                    first = s
                    meta = {META_KEY: json.dumps(settings or {}).encode()}
                    writer = (pq.ParquetWriter(tmp, s.with_metadata(meta), compression="zstd") if fmt == "parquet"
                              else pcsv.CSVWriter(tmp, s))
                elif not s.equals(first):
                    raise FeraError(f"{p} has other columns than the first part (another model's classes?): "
                                    "analyse with one --model")
                for i in range(pf.num_row_groups):
                    t = pf.read_row_group(i).replace_schema_metadata(None)
                    writer.write_table(t.cast(first))
                    rows += t.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise FeraError("nothing to write: no source was analysed")
    return rows


def remove_stale(parts: Path) -> int:
    """Remove the temporary files of sources whose analysis was killed (a worker, Ctrl-C); returns how many."""
    n = 0
    for p in parts.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n
