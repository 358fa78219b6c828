"""`fera data get`: FER-2013 from Kaggle, a URL or a file the user has -> a trainable folder in one step.

The source (Kaggle's fer2013.tar.gz, a download, or a local CSV / zip / tar) is checked (the
SHA-256 given with --sha256; archive CRCs; the CSV against the published MD5), unpacked and
converted (convert.py: class folders, or with --ferplus Microsoft's FER+ layout) inside a hidden
temporary folder that becomes ``--to`` only at the end.
Downloads live in the download cache until then, so an interrupted one resumes.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from fera.datasets.archive import find_csv
from fera.datasets.convert import file_digest, write_folders
from fera.datasets.download import TIMEOUT_S, download
from fera.datasets import layout
from fera.datasets.fer2013 import PUBLISHED_MD5
from fera.errors import FeraError
from fera.fileio import atomic_dir, check_target_dir


def get(to: str | Path, *, file: str | Path | None = None, url: str | None = None, sha256: str | None = None,
        ferplus: str | Path | None = None, overwrite: bool = False, timeout: float = TIMEOUT_S,
        cache_dir: str | None = None, log=None, stream=None) -> dict:
    """Obtain FER-2013 and write the class folders (with ``ferplus``: the FER+ folders) to ``to``; returns
    convert's report plus where it came from."""
    to = Path(to).expanduser()
    check_target_dir(to, overwrite)  # before any download
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise FeraError("--sha256 needs the 64 hexadecimal digits of a SHA-256 checksum")
    if ferplus is not None and not Path(ferplus).expanduser().is_file():
        raise FeraError(f"FER+ label file not found: {ferplus}")
    if timeout <= 0:
        raise FeraError(f"--timeout must be positive (got {timeout:g})")
    downloads = layout.cache_dir(cache_dir) / "downloads"
    if file is not None:
        src, origin = Path(file).expanduser(), "file"
        if not src.is_file():
            raise FeraError(f"file not found: {src}")
    elif url is not None:
        name = os.path.basename(url.split("?")[0].rstrip("/")) or "download"
        dest = downloads / f"{hashlib.sha1(url.encode()).hexdigest()[:12]}-{name}"
        if dest.is_file() and log:  # complete, from a run that failed later (e.g. a wrong --ferplus)
            log(f"{name}: using the download of an earlier run")
        src = dest if dest.is_file() else download(url, dest, timeout=timeout, stream=stream, label=name)
        origin = "url"
    else:
        from fera.datasets.kaggle_source import download_from_kaggle

        src, origin = download_from_kaggle(downloads / "kaggle", timeout=timeout, stream=stream), "kaggle"
    downloaded = origin != "file"
    if sha256 is not None:
        digest = file_digest(src, "sha256")
        if digest != sha256:
            if downloaded:
                src.unlink(missing_ok=True)
            raise FeraError(f"checksum mismatch: {src.name} has SHA-256 {digest}, not {sha256}"
                            + ("; the download was deleted, run again to fetch it afresh" if downloaded else ""))
        if log:
            log(f"{src.name}: SHA-256 checked")
    with atomic_dir(to, overwrite) as tmp:
        work = tmp / ".unpack"
        try:
            csv_path = find_csv(src, work)
        except FeraError:
            if downloaded:  # damaged or not FER-2013: never resumed or reused
                src.unlink(missing_ok=True)
            raise
        md5 = file_digest(csv_path, "md5")
        published = PUBLISHED_MD5.get(md5)
        if origin == "kaggle" and published is None:
            src.unlink(missing_ok=True)
            raise FeraError(f"{csv_path.name} from Kaggle is not the published file (MD5 {md5}); "
                            "the download was deleted, run again")
        if log:
            log(f"{csv_path.name}: " + (f"the published {published} (MD5 checked)" if published else
                                        f"not byte-identical to the published {' or '.join(PUBLISHED_MD5.values())} "
                                        "(MD5 differs); converting it, the official counts are checked"))
        report = write_folders(csv_path, tmp, ferplus=ferplus, log=log, md5=md5)
        if work in csv_path.parents:  # keep the unpacked CSV with the folders: CSV training, FER+ later
            os.replace(csv_path, tmp / csv_path.name)
            report["csv"] = str(to / csv_path.name)
        shutil.rmtree(work, ignore_errors=True)
    if downloaded:
        src.unlink(missing_ok=True)
    return {**report, "to": str(to), "origin": origin, "sha256_checked": sha256 is not None}
