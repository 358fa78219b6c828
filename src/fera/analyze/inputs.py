"""The sources of `fera analyze`: files, folders (searched recursively for photos and videos) and ``-`` (one path a
line on stdin), listed lazily so a collection of any size is never held in memory. Each source is one photo or
one video, and one part of the table."""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from fera.errors import FeraError
from fera.images import IMAGE_SUFFIXES
from fera.runtime.sources import VIDEO_SUFFIXES


@dataclass(frozen=True)
class SourceSpec:
    path: str  # as given or found (the table's ``source`` column)
    kind: str  # "photo" or "video" (by the suffix, as `fera assist` decides; anything else is tried as a photo)
    key: str  # SHA-256 of the absolute path: the name of its part file

    @property
    def part_name(self) -> str:
        return f"{self.key[:32]}.parquet"

    def stat(self) -> dict:
        """Size and modification time, so that --resume redoes a file that changed (empty when unreadable)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return {}
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def spec(path: str) -> SourceSpec:
    kind = "video" if Path(path).suffix.lower() in VIDEO_SUFFIXES else "photo"
    return SourceSpec(path, kind, hashlib.sha256(os.path.abspath(path).encode("utf-8", "surrogateescape")).hexdigest())


def _media(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES


def _folder(root: str) -> Iterator[str]:
    """Photos and videos under ``root``, in sorted order, one folder listing in memory at a time."""
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if _media(f):
                yield os.path.join(d, f)


def _paths(args: Iterable[str], stdin) -> Iterator[str]:
    for a in args:
        if a == "-":
            for line in stdin or sys.stdin:
                if line.strip():
                    yield line.rstrip("\r\n").strip()
        else:
            yield a


def expand(args: Iterable[str], stdin=None) -> Iterator[SourceSpec]:
    """Every source of ``args`` once, in order: a folder's photos and videos, a file (a missing or unreadable one
    too: it is reported as skipped when analysed), the paths read from stdin for ``-``."""
    seen: set[str] = set()  # the sources so far (one hash each): a file given twice is analysed once
    for p in _paths(args, stdin):
        for f in (_folder(p) if os.path.isdir(p) else (p,)):
            s = spec(f)
            if s.key not in seen:
                seen.add(s.key)
                yield s


def require_some(specs: Iterator[SourceSpec], args) -> Iterator[SourceSpec]:
    """``specs``, or a clear error when there is not a single one (an empty folder, an empty stdin)."""
    first = next(specs, None)
    if first is None:
        raise FeraError(f"no photo or video in {' '.join(args)}")
    yield first
    yield from specs
