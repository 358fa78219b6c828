"""Where datasets live on disk: FER-style split folders of class folders, and the decoded-data cache."""
from __future__ import annotations

import os
from pathlib import Path

SPLITS = ("train", "val", "test")  # the split folders of a FER-style root, in order


def class_files(d: Path) -> dict[str, list[Path]]:
    """{class: sorted files} for the class sub-folders of ``d``; hidden files and folders are ignored."""
    return {
        c.name: sorted(p for p in c.rglob("*") if p.is_file() and not p.name.startswith("."))
        for c in sorted(d.iterdir()) if c.is_dir() and not c.name.startswith(".")
    }


def cache_dir(configured: str | None = None) -> Path:
    """The decoded-data (and download) cache: ``configured``, else $FERA_CACHE_DIR, else ~/.cache/fera."""
    return Path(configured or os.environ.get("FERA_CACHE_DIR") or Path.home() / ".cache" / "fera")
