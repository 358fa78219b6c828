"""`fera report`: one HTML page documenting a run or an evaluation (``fera.training.report``)."""
from __future__ import annotations

EXAMPLES = [("fera report runs/vgg13_fer", "runs/vgg13_fer/report.html: one self-contained page"),
            ("fera report runs/vgg13_fer/eval --out eval.html --pdf", "an evaluation, also as PDF")]


def add_arguments(p) -> None:
    p.add_argument("run", help="a training run folder, or the --out_dir of `fera evaluate`")
    p.add_argument("--out", help="the HTML file to write (default: RUN/report.html)")
    p.add_argument("--data_root", help="the data to evaluate on (default: the one the run or evaluation used)")
    p.add_argument("--pdf", action="store_true", help="also write a PDF beside it (needs Chromium)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args) -> int:
    """Write one self-contained, screen-reader-friendly HTML report of a training run or an evaluation."""
    import json

    from fera.commands.args import log
    from fera.training.report import source_of, write_report

    src = source_of(args.run)
    out = args.out or str(src["dir"] / "report.html")
    rep = write_report(src, out, args.data_root, args.pdf, log=log)
    if args.json:
        print(json.dumps(rep))
    else:
        also = f" and {rep['pdf']}" if "pdf" in rep else ""
        print(f"wrote {rep['html']}{also}: {rep['split']} accuracy {rep['accuracy']:.4f}, macro-F1 "
              f"{rep['macro_f1']:.4f}, ECE {rep['ece']:.4f} on {rep['num_images']} images")
    return 0
