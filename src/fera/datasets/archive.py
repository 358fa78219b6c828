"""Find the FER-2013 CSV in what the user has: the CSV itself, or a zip / tar (.gz, .bz2, .xz) / .gz
archive, possibly nested (Kaggle's competition zip holds fer2013.tar.gz, which holds fer2013/fer2013.csv).
A damaged archive is refused in one line; members that would land outside the folder are refused too.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from fera.datasets.fer2013 import CSV_NAMES
from fera.errors import FeraError, first_line

_MAX_DEPTH = 3
_DAMAGED = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError)


def kind_of(path: Path) -> str:
    """"zip", "gzip", "bz2", "xz", "tar" or "other", from the file's first bytes (not its name)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    for magic, kind in ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz")):
        if head.startswith(magic):
            return kind
    return "tar" if head[257:262] == b"ustar" else "other"


def looks_like_fer_csv(path: Path) -> bool:
    from fera.datasets.fer2013 import csv_header

    return {"emotion", "pixels"} <= set(csv_header(path))


def find_csv(src: Path, work: Path, depth: int = 0) -> Path:
    """The FER-2013 CSV in ``src``, unpacking archives under ``work`` as needed."""
    kind = kind_of(src)
    if kind == "other":
        if looks_like_fer_csv(src):
            return src
        raise FeraError(f"{src.name} is neither a FER-2013 CSV (emotion,pixels,Usage) nor a zip or tar archive")
    if depth >= _MAX_DEPTH:
        raise FeraError(f"{src.name}: archives nested more than {_MAX_DEPTH} deep")
    dest = work / f"unpacked-{depth}"
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _unpack(src, kind, dest)
    except FeraError:
        raise
    except _DAMAGED as e:
        raise FeraError(f"{src.name} is a damaged or incomplete archive ({first_line(e, 100)}); download it "
                        "again") from None
    files = sorted(p for p in dest.rglob("*") if p.is_file())
    for name in CSV_NAMES:
        for p in files:
            if p.name == name and looks_like_fer_csv(p):
                return p
    for p in files:
        if p.suffix.lower() == ".csv" and looks_like_fer_csv(p):
            return p
    for p in files:
        if kind_of(p) != "other":
            try:
                return find_csv(p, work, depth + 1)
            except FeraError as e:
                if "damaged" in str(e):
                    raise
    raise FeraError(f"no FER-2013 CSV (fer2013.csv or icml_face_data.csv) in {src.name}")


def _unpack(src: Path, kind: str, dest: Path) -> None:
    if kind == "zip":
        with zipfile.ZipFile(src) as z:
            for name in z.namelist():
                _check_member(name, src)
            z.extractall(dest)
        return
    try:
        with tarfile.open(src, "r:*") as t:
            _extract_tar(t, dest, src)
        return
    except tarfile.ReadError:
        if kind == "tar":
            raise
    # a single compressed file (fer2013.csv.gz), not a tar
    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
    out = dest / (src.stem if src.suffix.lower() in (".gz", ".bz2", ".xz") else src.name + ".out")
    with opener(src, "rb") as f, open(out, "wb") as g:
        shutil.copyfileobj(f, g, 1 << 20)


def _extract_tar(t: tarfile.TarFile, dest: Path, src: Path) -> None:
    if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+: refuses links and paths outside dest
        t.extractall(dest, filter="data")
        return
    members = t.getmembers()
    for m in members:
        _check_member(m.name, src)
        if not (m.isfile() or m.isdir()):
            raise FeraError(f"{src.name} holds a link or device ({m.name}); refusing to unpack it")
    t.extractall(dest, members=members)


def _check_member(name: str, src: Path) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts:
        raise FeraError(f"{src.name} holds a path outside its folder ({name}); refusing to unpack it")
