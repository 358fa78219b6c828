"""FER-2013 from Kaggle through its official client (the optional ``kaggle`` package, imported only here).

Before anything starts, what is missing (credentials, the package, the network) is said in one line
with the way to get the file by hand. The client runs in a child process, so a stalled download is
stopped after 2 x ``timeout`` seconds without new data (30 s more before the first byte); it resumes
on the next run, since the file stays in the download folder until the dataset is in place.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fera.datasets.download import TIMEOUT_S, Progress
from fera.datasets.fer2013 import KAGGLE_COMPETITION, KAGGLE_FILE, KAGGLE_PAGE, KAGGLE_RULES
from fera.errors import FeraError

KAGGLE_HOST = ("www.kaggle.com", 443)  # checked before the client starts
BY_HAND = (f"or by hand: sign in to kaggle.com, accept the competition's rules ({KAGGLE_RULES}), download "
           f"{KAGGLE_FILE} from {KAGGLE_PAGE} and run: fera data get --file {KAGGLE_FILE} --to DIR")
_SCRIPT = """import sys
from kaggle.api.kaggle_api_extended import KaggleApi
api = KaggleApi()
api.authenticate()
api.competition_download_file(sys.argv[1], sys.argv[2], path=sys.argv[3], quiet=True)
"""
_MARKERS = (".part", ".kaggle-partial", ".log")


def credentials_found() -> bool:
    """True when the Kaggle client will find credentials: KAGGLE_USERNAME and KAGGLE_KEY, KAGGLE_API_TOKEN,
    or kaggle.json / access_token / credentials.json in KAGGLE_CONFIG_DIR, ~/.kaggle or ~/.config/kaggle."""
    env = os.environ
    if (env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY")) or env.get("KAGGLE_API_TOKEN"):
        return True
    home = Path.home()
    folders = [Path(env["KAGGLE_CONFIG_DIR"])] if env.get("KAGGLE_CONFIG_DIR") else []
    folders += [home / ".kaggle", Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"]
    names = ("kaggle.json", "access_token", "access_token.txt", "credentials.json")
    return any((d / n).is_file() for d in folders for n in names)


def missing(timeout: float) -> list[str]:
    """What stops a Kaggle download here, one phrase each (empty when nothing does)."""
    problems = []
    if not credentials_found():
        problems.append("no Kaggle credentials (create an API token at https://www.kaggle.com/settings and save "
                        "it as ~/.kaggle/kaggle.json, or set KAGGLE_USERNAME and KAGGLE_KEY, or KAGGLE_API_TOKEN)")
    if importlib.util.find_spec("kaggle") is None:
        problems.append("the kaggle package is not installed (pip install kaggle)")
    try:
        socket.create_connection(KAGGLE_HOST, timeout=min(timeout, 10)).close()
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e) or type(e).__name__)
        problems.append(f"{KAGGLE_HOST[0]} cannot be reached ({why}; offline?)")
    return problems


def download_from_kaggle(folder: Path, *, timeout: float = TIMEOUT_S, stream=None) -> Path:
    """Download Kaggle's fer2013.tar.gz into ``folder``; returns its path."""
    problems = missing(timeout)
    if problems:
        raise FeraError("cannot download FER-2013 from Kaggle: " + "; ".join(problems) + "; " + BY_HAND)
    folder.mkdir(parents=True, exist_ok=True)
    # before the first byte the child starts Python, imports the client, signs in and is redirected
    first, stall = 30 + 2 * timeout, 2 * timeout
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen([sys.executable, "-c", _SCRIPT, KAGGLE_COMPETITION, KAGGLE_FILE, str(folder)],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        bar = Progress(KAGGLE_FILE, None, stream or sys.stderr, done=0)
        size, last = 0, time.monotonic()
        try:
            while child.poll() is None:
                time.sleep(0.5)
                now_size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
                if now_size != size:
                    size, last = now_size, time.monotonic()
                    bar.update(size)
                elif time.monotonic() - last > (stall if size else first):
                    raise FeraError(f"no data from Kaggle for {stall if size else first:g} s; run the same command "
                                    f"again to resume ({BY_HAND})")
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            bar.close()
        out.seek(0)
        log = out.read()
    if child.returncode != 0:
        raise FeraError(_client_error(log))
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.endswith(_MARKERS)]
    if not files:
        raise FeraError(f"the Kaggle client finished but wrote no file into {folder}")
    return max(files, key=lambda p: (p.name.startswith("fer2013"), p.stat().st_mtime))


def _client_error(log: str) -> str:
    """One line for a failed client run, from its output."""
    text = log.lower()
    if re.search(r"\b403 (client error|forbidden)|\bforbidden\b", text):
        return f"Kaggle refused the download (403): accept the competition's rules at {KAGGLE_RULES} and run again"
    if re.search(r"\b401 (client error|unauthorized)|\bunauthorized\b", text):
        return "Kaggle rejected the credentials (401): create a new API token at https://www.kaggle.com/settings"
    if any(w in text for w in ("connectionerror", "max retries", "name resolution", "timed out")):
        return f"the connection to Kaggle failed; run the same command again to resume ({BY_HAND})"
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return f"the Kaggle client failed: {json.dumps(lines[-1][:200]) if lines else 'no output'}; {BY_HAND}"
