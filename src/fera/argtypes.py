"""Command-line values with their ranges, and a parser whose errors are one line like every fera error.

``--port 99999``, ``--max_frames -1`` or ``--batch_size 0`` stop at parsing with
``fera: error: argument --port: must be from 1 to 65535 (got 99999); see `fera serve -h```, exit code 2.
"""
from __future__ import annotations

import argparse
import math
import sys


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line starting ``fera: error:`` (no usage block), exit code 2."""

    def error(self, message: str):
        sys.stderr.write(f"fera: error: {message}; see `{self.prog} -h`\n")
        sys.exit(2)


def _span(lo, hi, open_lo: bool = False, open_hi: bool = False) -> str:
    if hi is None:
        return f"more than {lo:g}" if open_lo else f"at least {lo:g}"
    if open_lo or open_hi:
        return f"{'above' if open_lo else 'at least'} {lo:g} and {'below' if open_hi else 'at most'} {hi:g}"
    return f"from {lo:g} to {hi:g}"


def int_in(lo: int, hi: int | None = None):
    """An argparse type: a whole number in [lo, hi] (no upper bound when ``hi`` is None)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number (got {text!r})") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {_span(lo, hi)} (got {v})")
        return v

    return parse


def float_in(lo: float, hi: float | None = None, open_lo: bool = False, open_hi: bool = False):
    """An argparse type: a finite number between lo and hi (``open_lo``/``open_hi`` exclude the ends)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number (got {text!r})") from None
        bad = (not math.isfinite(v) or v < lo or (open_lo and v == lo)
               or (hi is not None and (v > hi or (open_hi and v == hi))))
        if bad:
            raise argparse.ArgumentTypeError(f"must be {_span(lo, hi, open_lo, open_hi)} (got {text})")
        return v

    return parse


PORT = int_in(1, 65535)
COUNT = int_in(1)  # frames, epochs, images per batch
NON_NEGATIVE = int_in(0)  # seeds, pixels of padding, patience
FRACTION = float_in(0.0, 1.0)  # a share or a probability, ends included
RATE = float_in(0.0, 1.0, open_hi=True)  # dropout, label smoothing: 1 would remove everything
POSITIVE = float_in(0.0, open_lo=True)  # a learning rate
