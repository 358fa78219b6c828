"""`fera data`: the smoke test of a dataset, and `fera data get|convert|verify` (``fera.datasets``); the data
options, which `fera train` shares."""
from __future__ import annotations

import argparse
import json
import time

from fera.commands.args import NON_NEGATIVE, COUNT, POSITIVE, add_command, add_option, fill, float_in, log
from fera.datasets.download import TIMEOUT_S
from fera.datasets.fer2013 import EXPECTATIONS
from fera.datasets.ferplus import SCHEMES
from fera.errors import FeraError
from fera.training.config import DataConfig

EXAMPLES = [("fera data get --to data/fer2013", "download FER-2013 (see `fera data get -h`)"),
            ("fera data --data_root data/fer2013", "counts, class weights, skipped files, one batch"),
            ("fera data --data_root fer2013.csv --json", "the same for the CSV, as JSON")]


def image_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.replace("x", ",").split(","))
        if h < 8 or w < 8:
            raise ValueError
        return h, w
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHT,WIDTH of at least 8,8, e.g. 48,48 (got {text!r})") from None


def data_options(p) -> None:
    """Options of the commands that load a dataset to train on (`fera data`, `fera train`), defined once."""
    g = p.add_argument_group("data")
    g.add_argument("--data_root", help="FER-style root (train/, optional val/ and test/) or a FER-2013 CSV")
    add_option(g, "--img_size", (DataConfig, "img_size"), type=image_size,
               help="HEIGHT,WIDTH images are converted to (default {default})")
    add_option(g, "--batch_size", (DataConfig, "batch_size"), type=COUNT, help="images per batch (default {default})")
    add_option(g, "--val_split", (DataConfig, "val_split"), type=float_in(0, 1, open_lo=True, open_hi=True),
               help="share of train/ held out when there is no val/ (default {default})")
    add_option(g, "--seed", (DataConfig, "seed"), type=NON_NEGATIVE,
               help="seed for the split, shuffling and augmentation (default {default})")
    add_option(g, "--labels", (DataConfig, "labels"), choices=SCHEMES,
               help="FER+ data: training targets from the 10 votes per face, the paper's schemes: majority, "
               "probability (a class drawn from the votes), crossentropy (the vote distribution) or multi_target; "
               "val and test use majority (default {default})")
    g.add_argument("--contempt", action="store_true", default=None,
                   help="FER+ data: keep contempt as an 8th class (default: FER-2013's 7 classes)")
    g.add_argument("--cache_dir", help="decoded-data cache folder (default: $FERA_CACHE_DIR or ~/.cache/fera)")
    g.add_argument("--no_cache", action="store_true", help="neither read nor write the decoded-data cache")
    g.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def add_arguments(p) -> None:
    data_options(p)
    add_subcommands(p)  # fera data get|convert|verify


def data_config(args) -> DataConfig:
    """The data settings the options give (``fera.training.config.DataConfig``); --data_root is required."""
    cfg = fill(DataConfig, args)
    cfg.use_cache = not args.no_cache
    if not cfg.data_root:
        raise FeraError("--data_root is required")
    return cfg


def run(args) -> int:
    """Smoke-test a dataset (counts, class weights, skipped files, one batch), or get, convert and verify FER-2013."""
    from fera.training.config import AugmentConfig
    from fera.training.data import class_weights, load_dataset

    cfg = data_config(args)
    ds = load_dataset(cfg, log=log)
    from fera.training.augment import Batches  # Keras: only once the data are known to be there

    tr = ds.splits["train"]
    weights = class_weights(tr.y, ds.num_classes, tr.soft)  # from the votes on FER+ data
    t0 = time.perf_counter()
    xb, yb, _ = Batches(tr.x, tr.y, ds.num_classes, cfg.batch_size, seed=cfg.seed, shuffle=True,
                        augment_cfg=AugmentConfig(), class_weight=weights, targets=tr.soft, labels=ds.labels)[0]
    batch_ms = (time.perf_counter() - t0) * 1000
    report = {
        "data_root": ds.source, "classes": ds.class_names, "counts": ds.counts(),
        "val_from_train": ds.val_from_train, "labels": ds.labels, "left_out_by_label_rules": ds.dropped,
        "class_weights": {n: round(weights[i], 4) for i, n in enumerate(ds.class_names)},
        "skipped": {"count": len(ds.skipped), "examples": [f"{p}: {r}" for p, r in ds.skipped[:5]]},
        "batch": {"x_shape": list(xb.shape), "y_shape": list(yb.shape), "x_min": float(xb.min()),
                  "x_max": float(xb.max()), "dtype": str(xb.dtype), "ms": round(batch_ms, 1)},
        "load_seconds": round(ds.load_seconds, 2), "from_cache": ds.from_cache,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    counts = ds.counts()
    width = max(len(c) for c in ds.class_names + ["class"])
    print(f"dataset {ds.source}: {ds.num_classes} classes, loaded in {ds.load_seconds:.2f}s"
          + (" (from cache)" if ds.from_cache else ""))
    print(f"{'class':<{width}}  " + "  ".join(f"{s:>7}" for s in counts) + "   weight")
    for i, c in enumerate(ds.class_names):
        print(f"{c:<{width}}  " + "  ".join(f"{counts[s][c]:>7}" for s in counts) + f"   {weights[i]:.3f}")
    print(f"{'total':<{width}}  " + "  ".join(f"{sum(counts[s].values()):>7}" for s in counts))
    if ds.dropped:
        print(f"FER+ votes: training targets by {ds.labels}, val and test by majority; left out by the rules: "
              + ", ".join(f"{k} {n}" for k, n in ds.dropped.items()) + "; weights from the votes")
    if ds.val_from_train:
        print(f"val: no val/ folder, so {cfg.val_split:.0%} of train/ was held out (stratified, seed {cfg.seed})")
    print(f"skipped files: {len(ds.skipped)}" + "".join(f"\n  {p}: {r}" for p, r in ds.skipped[:5])
          + (f"\n  ... and {len(ds.skipped) - 5} more" if len(ds.skipped) > 5 else ""))
    print(f"one training batch: x {tuple(xb.shape)} {xb.dtype} in [{xb.min():.3f}, {xb.max():.3f}], "
          f"y {tuple(yb.shape)} {'one-hot' if tr.soft is None else ds.labels + ' targets'}, made in {batch_ms:.0f} ms")
    return 0


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
        ("fera data convert fer2013.csv --ferplus fer2013new.csv --to data/ferplus",
         "Microsoft's FER+ layout: PNGs and label.csv of the votes")])
    add_command(sub, "verify", cmd_verify, _verify_arguments, examples=[
        ("fera data verify data/fer2013", "official counts, duplicates, unreadable files"),
        ("fera data verify data/ferplus", "FER+ folders: PNGs against label.csv, counts, duplicates"),
        ("fera data verify data/ferplus --allow_duplicates --json", "one JSON object; duplicates do not fail")])


def _get_arguments(g) -> None:
    src = g.add_mutually_exclusive_group()
    src.add_argument("--url", help="download from this http(s) address instead of Kaggle (resumable)")
    src.add_argument("--file", help="a fer2013.csv, or a zip / tar archive holding it, already on this computer")
    g.add_argument("--sha256", help="the SHA-256 the downloaded or given file must have")
    add_option(g, "--timeout", type=POSITIVE, default=TIMEOUT_S,
               help="seconds without an answer before giving up (default {default})")
    g.add_argument("--cache_dir", help="where downloads wait until done (default: $FERA_CACHE_DIR or ~/.cache/fera)")
    _conversion_arguments(g)


def _convert_arguments(c) -> None:
    c.add_argument("csv", nargs="?", help="fer2013.csv (or Kaggle's icml_face_data.csv)")
    _conversion_arguments(c)


def _conversion_arguments(p) -> None:
    p.add_argument("--to", help="the folder to create (must be new or empty unless --overwrite)")
    p.add_argument("--ferplus", help="FER+'s fer2013new.csv: write Microsoft's FER+ layout instead of class folders "
                   "(FER2013Train/ FER2013Valid/ FER2013Test/: fer<N>.png and label.csv of the 10 votes per face)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --to (only once all is done)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _verify_arguments(v) -> None:
    v.add_argument("dir", nargs="?", help="the dataset folder (train/, val/, test/ class folders, or FER+'s "
                   "FER2013Train/, FER2013Valid/, FER2013Test/)")
    add_option(v, "--expect", choices=EXPECTATIONS, default="auto",
               help="counts to compare with: official (FER-2013's, or FER+'s for FER+ folders), recorded "
               "(the dataset.json of a FER+ conversion), none, or auto: recorded for FER+ conversions, "
               "else official (default {default})")
    v.add_argument("--allow_duplicates", action="store_true", help="report duplicates without failing")
    v.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def cmd_get(args) -> int:
    """Download FER-2013 (Kaggle, --url) or take --file, and convert it into --to.

    Download FER-2013 with Kaggle's client (credentials in ~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY),
    from --url, or take --file (fer2013.csv, a zip or a tar), then write train/ val/ test/ class folders into
    --to (with --ferplus: Microsoft's FER+ layout). See data/README.md."""
    from fera.datasets.get import get

    if not args.to:
        raise FeraError("fera data get needs --to DIR")
    rep = get(args.to, file=args.file, url=args.url, sha256=args.sha256, ferplus=args.ferplus,
              overwrite=args.overwrite, timeout=args.timeout, cache_dir=args.cache_dir, log=log)
    _print_conversion(rep, args.json)
    return 0


def cmd_convert(args) -> int:
    """fer2013.csv -> train/ val/ test/ class folders of PNGs (--ferplus: Microsoft's FER+ layout).

    Write the images of a FER-2013 CSV as PNGs into train/ (Training), val/ (PublicTest) and test/ (PrivateTest)
    class folders, checking the official counts. With --ferplus (fer2013new.csv), write Microsoft's FER+ layout
    instead: FER2013Train/, FER2013Valid/ and FER2013Test/, each with fer<N>.png and a label.csv of the 10 votes
    per face, for `fera train --labels ...`."""
    from fera.datasets.convert import convert

    if not args.csv or not args.to:
        raise FeraError("fera data convert needs the CSV and --to DIR: fera data convert fer2013.csv --to DIR")
    rep = convert(args.csv, args.to, ferplus=args.ferplus, overwrite=args.overwrite, log=log)
    _print_conversion(rep, args.json)
    return 0


def _print_conversion(rep: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(rep))
        return
    ferplus = rep["labels"] == "ferplus"
    if ferplus:
        sizes = ", ".join(f"{f} {n:,}" for f, n in rep["counts"].items())
        print(f"wrote {rep['to']}: {sizes} images with FER+ votes (Microsoft's FER+ layout: PNGs and label.csv)")
    else:
        sizes = ", ".join(f"{s} {sum(c.values()):,}" for s, c in rep["counts"].items())
        print(f"wrote {rep['to']}: {sizes} images in {len(rep['classes'])} classes ({rep['labels']} labels)")
    print("official FER-2013 counts: " + ("match" if rep["official_counts_match"] else
                                          "differ (not the complete FER-2013): " + "; ".join(rep["count_differences"])))
    if ferplus:
        print("official FER+ counts: " + ("match" if rep["ferplus_official_counts_match"] else
                                          "differ: " + "; ".join(rep["ferplus_count_differences"])))
    skipped = rep["skipped_rows"]
    print(f"skipped rows: {skipped['count']}" + (f" ({skipped['examples'][0]}" + (", ..." if skipped["count"] > 1 else "")
                                                 + ")" if skipped["count"] else ""))
    if ferplus:
        none = rep["without_votes"]
        print(f"rows without FER+ votes (not written, as in Microsoft's FER+): {none['count']:,}"
              + (f" ({none['examples'][0]}" + (", ..." if none["count"] > 1 else "") + ")" if none["count"] else ""))
        print(f"train with: fera train --data_root {rep['to']} --labels crossentropy")
    else:
        print(f"train with: fera train --data_root {rep['to']}")


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def cmd_verify(args) -> int:
    """Check class folders or FER+ folders: official counts, exact duplicates, unreadable files.

    Count images per split and class against the official FER-2013 counts, find exact duplicates (by decoded
    pixels) within and across splits and unreadable files. In Microsoft's FER+ layout (FER2013Train/,
    FER2013Valid/, FER2013Test/), also match every PNG with its label.csv row and compare the images and their
    FER+ majority labels per folder with the official FER+ counts (or those recorded by `fera data convert
    --ferplus`). Exit 0 only if clean, 1 if not."""
    from fera.datasets.verify import verify

    if not args.dir:
        raise FeraError("fera data verify needs the dataset folder: fera data verify DIR")
    rep = verify(args.dir, expect=args.expect, allow_duplicates=args.allow_duplicates)
    if args.json:
        print(json.dumps(rep))
        return 0 if rep["clean"] else 1
    absent = "".join(f"; {s}/ absent" for s in rep["absent_splits"])
    ferplus = rep.get("layout") == "ferplus"
    print(f"{rep['root']}: {rep['images']:,} images in {', '.join(rep['splits'])}"
          + (" (Microsoft's FER+ layout)" if ferplus else "") + absent)
    if ferplus:
        _print_ferplus_folders(rep)
    if rep["expected"] == "none":
        totals = rep["counts"].items() if ferplus else ((s, sum(c.values())) for s, c in rep["counts"].items())
        print("counts: " + "; ".join(f"{s} {n:,}" for s, n in totals) + " (not compared)")
    elif rep["count_differences"]:
        print(f"counts differ from the {rep['expected']} counts: " + "; ".join(rep["count_differences"]))
    else:
        print(f"counts match the {rep['expected']} counts")
    bad = rep["unreadable"]
    print(f"unreadable files: {len(bad)}" + (f" ({bad[0]}" + (", ..." if len(bad) > 1 else "") + ")" if bad else ""))
    d = rep["duplicates"]
    if d["groups"]:
        where = [f"{n:,} within {s}" for s, n in d["within"].items() if n] + [f"{d['across_splits']:,} across splits"]
        train = "FER2013Train" if ferplus else "train"
        copies = "".join(f"; {_n(n, f'{s} image')} {'has' if n == 1 else 'have'} a copy in {train}"
                         for s, n in d["with_a_copy_in_train"].items() if n)
        print(f"exact duplicates: {_n(d['groups'], 'group')} ({_n(d['redundant_files'], 'redundant file')}): "
              f"{', '.join(where)}{copies}; {_n(d['conflicting_labels'], 'group')} with conflicting labels")
        first = rep["duplicate_groups"][0]
        print("  e.g. " + " = ".join(first[:3]) + (f" (and {len(first) - 3} more)" if len(first) > 3 else ""))
    else:
        print("exact duplicates: none")
    print("clean" if rep["clean"] else "not clean: " + ", ".join(rep["problems"]))
    return 0 if rep["clean"] else 1


def _print_ferplus_folders(rep: dict) -> None:
    """The FER+ lines of `fera data verify`: each folder's PNGs, rows and majority labels, then what does not match."""
    for f in rep["splits"]:
        rows, majority = rep["label_rows"][f], rep["majority_counts"][f]
        line = f"{f}: {_n(rep['pngs'][f], 'PNG')}, " + (_n(rows, "label.csv row") if rows is not None
                                                          else "label.csv not read")
        if majority:
            line += "; majority: " + ", ".join(f"{c} {n:,}" for c, n in sorted(majority.items(), key=lambda e: -e[1]))
        print(line)
    for message in rep["label_errors"]:
        print(f"bad label.csv: {message}")
    for key, what in (("rows_without_png", "label.csv rows without a PNG"), ("pngs_without_row", "PNGs without a row")):
        d = rep[key]
        named = ", ".join(d["examples"][:3]) + (", ..." if d["count"] > 3 else "")
        print(f"{what}: {d['count']:,}" + (f" ({named})" if d["count"] else ""))
