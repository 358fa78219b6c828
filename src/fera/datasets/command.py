"""The command line of `fera data get|convert|verify` (beside `fera data --data_root X`, the smoke test)."""
from __future__ import annotations

import argparse
import json
import sys

from fera.argtypes import POSITIVE, add_command, add_option
from fera.datasets.fer2013 import EXPECTATIONS
from fera.errors import FeraError


def add_subcommands(data: argparse.ArgumentParser) -> None:
    """Add get, convert and verify under ``data``; without one, `fera data` stays the smoke test."""
    sub = data.add_subparsers(dest="data_command", metavar="{get,convert,verify}",
                              title="subcommands (without one: the smoke test of --data_root)")
    add_command(sub, "get", cmd_get, _get_arguments, examples=[
        ("fera data get --to data/fer2013", "Kaggle's client (pip install kaggle)"),
        ("fera data get --file fer2013.csv --to data/fer2013", "a CSV, zip or tar you already have"),
        "fera data get --url https://example.org/fer2013.tar.gz --sha256 SHA256 --to data/fer2013"])
    add_command(sub, "convert", cmd_convert, _convert_arguments, examples=[
        "fera data convert fer2013.csv --to data/fer2013",
        ("fera data convert fer2013.csv --ferplus fer2013new.csv --to data/ferplus", "FER+ labels and votes")])
    add_command(sub, "verify", cmd_verify, _verify_arguments, examples=[
        ("fera data verify data/fer2013", "official counts, duplicates, unreadable files"),
        ("fera data verify data/ferplus --allow_duplicates --json", "one JSON object; duplicates do not fail")])


def _get_arguments(g) -> None:
    src = g.add_mutually_exclusive_group()
    src.add_argument("--url", help="download from this http(s) address instead of Kaggle (resumable)")
    src.add_argument("--file", help="a fer2013.csv, or a zip / tar archive holding it, already on this computer")
    g.add_argument("--sha256", help="the SHA-256 the downloaded or given file must have")
    add_option(g, "--timeout", type=POSITIVE, default=30.0,
               help="seconds without an answer before giving up (default {default})")
    g.add_argument("--cache_dir", help="where downloads wait until done (default: $FERA_CACHE_DIR or ~/.cache/fera)")
    _conversion_arguments(g)


def _convert_arguments(c) -> None:
    c.add_argument("csv", nargs="?", help="fer2013.csv (or Kaggle's icml_face_data.csv)")
    _conversion_arguments(c)


def _conversion_arguments(p) -> None:
    p.add_argument("--to", help="the folder to create (must be new or empty unless --overwrite)")
    p.add_argument("--ferplus", help="FER+'s fer2013new.csv: majority-vote folders and labels.csv of the votes")
    p.add_argument("--contempt", action="store_true", help="with --ferplus: keep FER+'s contempt class")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --to (only once all is done)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _verify_arguments(v) -> None:
    v.add_argument("dir", nargs="?", help="the dataset folder (train/, val/, test/)")
    add_option(v, "--expect", choices=EXPECTATIONS, default="auto",
               help="counts to compare with: official FER-2013, recorded (dataset.json of a FER+ conversion), "
               "none, or auto: recorded for FER+ folders, else official (default {default})")
    v.add_argument("--allow_duplicates", action="store_true", help="report duplicates without failing")
    v.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_get(args) -> int:
    """Download FER-2013 (Kaggle, --url) or take --file, and convert it into --to.

    Download FER-2013 with Kaggle's client (credentials in ~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY),
    from --url, or take --file (fer2013.csv, a zip or a tar), then write train/ val/ test/ class folders into
    --to. See data/README.md."""
    from fera.datasets.get import get

    if not args.to:
        raise FeraError("fera data get needs --to DIR")
    rep = get(args.to, file=args.file, url=args.url, sha256=args.sha256, ferplus=args.ferplus, contempt=args.contempt,
              overwrite=args.overwrite, timeout=args.timeout, cache_dir=args.cache_dir, log=_log)
    _print_conversion(rep, args.json)
    return 0


def cmd_convert(args) -> int:
    """fer2013.csv -> train/ val/ test/ class folders of PNGs (--ferplus: FER+ labels).

    Write the images of a FER-2013 CSV as PNGs into train/ (Training), val/ (PublicTest) and test/ (PrivateTest)
    class folders, checking the official counts."""
    from fera.datasets.convert import convert

    if not args.csv or not args.to:
        raise FeraError("fera data convert needs the CSV and --to DIR: fera data convert fer2013.csv --to DIR")
    rep = convert(args.csv, args.to, ferplus=args.ferplus, contempt=args.contempt, overwrite=args.overwrite, log=_log)
    _print_conversion(rep, args.json)
    return 0


def _print_conversion(rep: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(rep))
        return
    sizes = ", ".join(f"{s} {sum(c.values()):,}" for s, c in rep["counts"].items())
    print(f"wrote {rep['to']}: {sizes} images in {len(rep['classes'])} classes ({rep['labels']} labels)")
    print("official FER-2013 counts: " + ("match" if rep["official_counts_match"] else
                                          "differ (not the complete FER-2013): " + "; ".join(rep["count_differences"])))
    skipped = rep["skipped_rows"]
    print(f"skipped rows: {skipped['count']}" + (f" ({skipped['examples'][0]}" + (", ..." if skipped["count"] > 1 else "")
                                                 + ")" if skipped["count"] else ""))
    if rep["labels"] == "ferplus":
        dropped = rep["ferplus_dropped"]
        print(f"FER+: {sum(dropped.values()):,} images left out (" + (", ".join(f"{k} {n:,}" for k, n in dropped.items())
              or "none") + f"); the votes of every written image are in {rep['to']}/labels.csv")
    soft = f" --soft_labels {rep['to']}/labels.csv" if rep["labels"] == "ferplus" else ""
    print(f"train with: fera train --data_root {rep['to']}{soft}")


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def cmd_verify(args) -> int:
    """Check class folders: official counts, exact duplicates, unreadable files.

    Count images per split and class against the official FER-2013 counts, find exact duplicates (by decoded
    pixels) within and across splits and unreadable files. Exit 0 only if clean, 1 if not."""
    from fera.datasets.verify import verify

    if not args.dir:
        raise FeraError("fera data verify needs the dataset folder: fera data verify DIR")
    rep = verify(args.dir, expect=args.expect, allow_duplicates=args.allow_duplicates)
    if args.json:
        print(json.dumps(rep))
        return 0 if rep["clean"] else 1
    absent = "".join(f"; {s}/ absent" for s in rep["absent_splits"])
    print(f"{rep['root']}: {rep['images']:,} images in {', '.join(rep['splits'])}{absent}")
    if rep["expected"] == "none":
        print("counts: " + "; ".join(f"{s} {sum(c.values()):,}" for s, c in rep["counts"].items()) + " (not compared)")
    elif rep["count_differences"]:
        print(f"counts differ from the {rep['expected']} counts: " + "; ".join(rep["count_differences"]))
    else:
        print(f"counts match the {rep['expected']} counts")
    bad = rep["unreadable"]
    print(f"unreadable files: {len(bad)}" + (f" ({bad[0]}" + (", ..." if len(bad) > 1 else "") + ")" if bad else ""))
    d = rep["duplicates"]
    if d["groups"]:
        where = [f"{n:,} within {s}" for s, n in d["within"].items() if n] + [f"{d['across_splits']:,} across splits"]
        copies = "".join(f"; {_n(n, f'{s} image')} {'has' if n == 1 else 'have'} a copy in train"
                         for s, n in d["with_a_copy_in_train"].items() if n)
        print(f"exact duplicates: {_n(d['groups'], 'group')} ({_n(d['redundant_files'], 'redundant file')}): "
              f"{', '.join(where)}{copies}; {_n(d['conflicting_labels'], 'group')} with conflicting labels")
        first = rep["duplicate_groups"][0]
        print("  e.g. " + " = ".join(first[:3]) + (f" (and {len(first) - 3} more)" if len(first) > 3 else ""))
    else:
        print("exact duplicates: none")
    print("clean" if rep["clean"] else "not clean: " + ", ".join(rep["problems"]))
    return 0 if rep["clean"] else 1
