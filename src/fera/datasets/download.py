"""Resumable HTTP(S) downloads with timeouts and a progress bar (standard library only).

Bytes go to ``<dest>.part``; an interrupted download (network error, stall, Ctrl-C) keeps it, and the
next call asks the server for the rest (a Range request, guarded by If-Range with the ETag or
Last-Modified date it saw). Only a complete file is renamed to ``dest``.
"""
from __future__ import annotations

import http.client
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from fera.errors import FeraError

CHUNK = 1 << 16


TIMEOUT_S = 30.0  # seconds without an answer before a download (or Kaggle's client) gives up: `fera data get --timeout`


def download(url: str, dest: Path, *, timeout: float = TIMEOUT_S, stream=None, label: str | None = None) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``); FeraError in one line on any failure. ``label``
    names the file in the progress lines (default: dest's name)."""
    part, meta_file = dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")
    dest.parent.mkdir(parents=True, exist_ok=True)
    meta = _read_meta(meta_file)
    have = part.stat().st_size if part.is_file() and meta.get("url") == url else 0
    headers = {"User-Agent": "fera", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        if meta.get("validator"):
            headers["If-Range"] = meta["validator"]
    host = urllib.request.urlparse(url).netloc or url
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have and have == meta.get("total"):  # the .part is already complete
            return _finish(part, meta_file, dest)
        raise FeraError(f"HTTP {e.code} {e.reason} from {url}") from None
    except urllib.error.URLError as e:
        raise FeraError(f"cannot reach {host} ({_why(e.reason)}): check the address and your network "
                        "(offline?), or download the file by hand and pass it with --file") from None
    except (TimeoutError, socket.timeout):
        raise FeraError(f"no answer from {host} within {timeout:g} s; run the same command again "
                        "(or raise --timeout)") from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise FeraError(f"cannot download {url}: {_why(e)}") from None
    with resp:
        start = _resume_offset(resp, have)
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
        meta_file.write_text(json.dumps({"url": url, "validator": validator, "total": total}))
        done = start
        bar = Progress(label or dest.name, total, stream or sys.stderr, done=start)
        try:
            with open(part, "r+b" if start else "wb") as f:
                f.seek(start)
                f.truncate()
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    bar.update(done)
        except (TimeoutError, socket.timeout):
            raise FeraError(f"download stalled: no data from {host} for {timeout:g} s after {_mib(done)} of "
                            f"{_mib(total)}; run the same command again to resume") from None
        except (OSError, http.client.HTTPException) as e:
            raise FeraError(f"download interrupted after {_mib(done)} of {_mib(total)} ({_why(e)}); "
                            "run the same command again to resume") from None
        finally:
            bar.close()
    if total is not None and done != total:
        raise FeraError(f"download interrupted after {_mib(done)} of {_mib(total)}; run the same command again "
                        "to resume")
    return _finish(part, meta_file, dest)


def _resume_offset(resp, have: int) -> int:
    """Where the body starts: ``have`` for a 206 that continues the .part, 0 when the server sends it all."""
    if resp.status != 206:
        return 0
    content_range = resp.headers.get("Content-Range", "")  # "bytes 1000-4999/5000"
    try:
        first = int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        raise FeraError(f"the server answered a resume with an unreadable Content-Range ({content_range!r})") from None
    if first != have:
        raise FeraError(f"the server resumed at byte {first}, not {have}; delete the partial download and retry")
    return first


def _finish(part: Path, meta_file: Path, dest: Path) -> Path:
    part.replace(dest)
    meta_file.unlink(missing_ok=True)
    return dest


def _read_meta(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _why(e) -> str:
    if isinstance(e, socket.gaierror):
        return "the name does not resolve"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, (TimeoutError, socket.timeout)):
        return "timed out"
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return text.splitlines()[0][:120]


def _mib(n: int | None) -> str:
    return "an unknown size" if n is None else f"{n / 2**20:.1f} MiB"


class Progress:
    """A download's progress on ``stream``: a bar redrawn in place on a terminal; otherwise (logs, screen
    readers) one line at each quarter, or every 25 MiB when the size is unknown."""

    def __init__(self, name: str, total: int | None, stream, done: int = 0):
        self.name, self.total, self.stream, self.start = name, total, stream, done
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.t0, self.drawn_at, self.done = time.monotonic(), 0.0, done
        self.step = self._step(done)
        if done:
            self._line(f"{name}: resuming at {_mib(done)}")

    def _step(self, n: int) -> int:
        return n * 4 // self.total if self.total else n // (25 << 20)

    def _text(self) -> str:
        rate = (self.done - self.start) / max(time.monotonic() - self.t0, 1e-6) / 2**20
        if self.total:
            pct = 100 * self.done / self.total
            bar = "#" * int(pct / 5)
            return f"{self.name}: [{bar:<20}] {pct:3.0f}% {_mib(self.done)} of {_mib(self.total)}, {rate:.1f} MiB/s"
        return f"{self.name}: {_mib(self.done)}, {rate:.1f} MiB/s"

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def update(self, done: int) -> None:
        self.done = done
        if self.tty:
            now = time.monotonic()
            if now - self.drawn_at >= 0.2 or done == self.total:
                self.drawn_at = now
                print("\r" + self._text(), end="", file=self.stream, flush=True)
        elif self._step(done) > self.step:
            self.step = self._step(done)
            self._line(self._text())

    def close(self) -> None:
        if self.tty and self.drawn_at:
            print(file=self.stream, flush=True)
