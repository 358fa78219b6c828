"""Run the whole test suite (`make test`, the README's test command) N times, each in a fresh clone, optionally
while other processes keep every core busy, and say how many runs passed and which tests failed. Not a test.

    python scripts/stress_suite.py -n 3 --load      # 3 runs with both cores kept busy
    python scripts/stress_suite.py -n 5             # 5 runs on a quiet machine

Each run: `git clone` of the repository at the HEAD it had when the script started (committed work only, the same
commit for every run) into a temporary folder, with .venv and node_modules linked to this checkout's (so nothing is
downloaded or installed) and ../shared beside it as CI has it, then `make test` in the clone, with make told to
treat the install steps as done (`-o`), and PYTHONPATH set to the clone's src/ so the clone's code is tested (this
checkout's editable install points at its own src/). `--load` starts one busy-looping process per core for the
whole time. Every process started here is ended here, by its id.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PASS_HEADER = re.compile(r"^== make test, pass (\d) of \d \((.*?)\)")
FAILED = re.compile(r"^(FAILED|ERROR) (\S+)")
SUMMARY = re.compile(r"^=*\s*(.*\b(passed|failed|error|errors|skipped)\b.* in [\d.]+s.*?)\s*=*$")
NODE_COUNT = re.compile(r"^# (pass|fail) (\d+)$")  # node --test's TAP summary lines
NODE_FAILED = re.compile(r"^not ok \d+ - (.+)$")


def start_load(cores: int) -> list[subprocess.Popen]:
    """One process per core, each spinning until it is ended."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
            for _ in range(cores)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def fresh_clone(venv: Path, node_modules: Path | None, parent: Path, shared: Path | None, commit: str) -> Path:
    """A clone of this repository at ``commit`` (every run tests the same one, whatever is committed meanwhile)."""
    clone = parent / "clone"
    if shared is not None:  # ../shared beside the clone, as CI has it
        (parent / "shared").symlink_to(shared)
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(REPO), str(clone)], check=True, timeout=300)
    subprocess.run(["git", "checkout", "--quiet", commit], cwd=clone, check=True, timeout=300)
    (clone / ".venv").symlink_to(venv)
    if node_modules is not None:
        (clone / "node_modules").symlink_to(node_modules)
    return clone


def summarize(text: str) -> tuple[dict, list]:
    """Each pass's summary line (pytest's, or node's TAP counts) and the failing test ids, from make test's output."""
    passes, failed, current, counts = {}, [], "setup", {}
    for line in text.splitlines():
        if m := PASS_HEADER.match(line):
            current = m.group(2)
            passes[current] = "no summary (crashed?)"
        elif m := FAILED.match(line):
            failed.append(f"{current}: {m.group(2)}")
        elif (m := SUMMARY.match(line)) and current in passes:
            passes[current] = m.group(1)
        elif (m := NODE_FAILED.match(line)) and current in passes:
            failed.append(f"{current}: {m.group(1)}")
        elif (m := NODE_COUNT.match(line)) and current in passes:
            counts[m.group(1)] = m.group(2)
            if len(counts) == 2:
                passes[current] = f"{counts['pass']} passed, {counts['fail']} failed (node)"
                counts = {}
    return passes, failed


def run_suite(clone: Path, log: Path, timeout_s: float, workers: int) -> dict:
    """`make test` in ``clone``; returns its exit code, time, per-pass summaries and failing test ids."""
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}
    env.pop("KERAS_BACKEND", None)
    cmd = ["make", "-o", ".venv/.installed", "-o", ".venv/.installed-tf", "-o", "node_modules/.installed",
           "test", f"WORKERS={workers}"]
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # make and everything it started (its own session)
            proc.wait(30)
            code = "timeout"
    seconds = time.monotonic() - t0
    passes, failed = summarize(log.read_text(errors="replace"))
    return {"code": code, "seconds": seconds, "passes": passes, "failed": failed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("-n", "--runs", type=int, default=3, help="how many runs (default 3)")
    ap.add_argument("--load", action="store_true", help="keep every core busy with other processes meanwhile")
    ap.add_argument("--load_procs", type=int, default=os.cpu_count() or 2,
                    help="busy processes for --load (default: one per core)")
    ap.add_argument("--venv", type=Path, default=REPO / ".venv", help="the virtual environment to use (default .venv)")
    ap.add_argument("--node_modules", type=Path, default=REPO / "node_modules",
                    help="axe-core for the browser tests (default node_modules; without it they skip)")
    ap.add_argument("--workers", type=int, default=2, help="pytest-xdist workers, as make test's WORKERS (default 2)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds one run may take (default 3600)")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                    help="the data folder to put beside each clone as ../shared, as CI does (default: the one beside "
                    "this checkout; the tests that need it skip where there is none)")
    ap.add_argument("--logs", type=Path, default=None, help="keep each run's output here (default: a temp folder)")
    args = ap.parse_args(argv)
    if not (args.venv / "bin" / "python").is_file():
        ap.error(f"no virtual environment at {args.venv} (make install, or --venv)")
    node_modules = args.node_modules if (args.node_modules / "axe-core").is_dir() else None
    if node_modules is None:
        print(f"note: no axe-core in {args.node_modules}: the browser tests will be skipped", flush=True)
    if shutil.which("make") is None or shutil.which("git") is None:
        ap.error("needs make and git")
    shared = args.shared.resolve() if args.shared.is_dir() else None
    if shared is None:
        print(f"note: no {args.shared}: the tests that need ../shared will be skipped", flush=True)
    logs = args.logs or Path(tempfile.mkdtemp(prefix="fera-stress-logs-"))
    logs.mkdir(parents=True, exist_ok=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
    print(f"{args.runs} run(s) of make test on a fresh clone of {REPO} at {head[:7]}"
          + (f", with {args.load_procs} busy processes" if args.load else ", no extra load") + f"; logs in {logs}",
          flush=True)
    # as from a terminal: started as a background job (`... &` in a script), this process and everything it starts
    # would have SIGINT ignored, and the suite's Ctrl-C tests would test nothing
    signal.signal(signal.SIGINT, signal.default_int_handler)
    load = start_load(args.load_procs) if args.load else []
    results = []
    try:
        for i in range(1, args.runs + 1):
            with tempfile.TemporaryDirectory(prefix="fera-stress-") as tmp:
                clone = fresh_clone(args.venv.resolve(), node_modules and node_modules.resolve(), Path(tmp),
                                    shared, head)
                r = run_suite(clone, logs / f"run{i}.log", args.timeout, args.workers)
            results.append(r)
            ok = r["code"] == 0
            print(f"run {i}: {'passed' if ok else 'FAILED'} (exit {r['code']}) in {r['seconds']:.0f} s", flush=True)
            for name, summary in r["passes"].items():
                print(f"  {name}: {summary}", flush=True)
            for f in r["failed"]:
                print(f"  failed: {f}", flush=True)
    finally:
        stop(load)
    green = sum(r["code"] == 0 for r in results)
    print(f"\n{green} of {len(results)} runs passed" + (" under load" if args.load else ""))
    counts = collections.Counter(f for r in results for f in r["failed"])
    for test, n in counts.most_common():
        print(f"  {n} x {test}")
    return 0 if green == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
