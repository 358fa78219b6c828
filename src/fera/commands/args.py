"""How a command is declared (``add_command``), its options bound to settings dataclasses (``add_option``,
``fill``), command-line values with their ranges, and a parser whose errors are one line like every fera error.

``--port 99999``, ``--max_frames -1`` or ``--batch_size 0`` stop at parsing with
``fera: error: argument --port: must be from 1 to 65535 (got 99999); see `fera serve -h```, exit code 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import re
import sys
import textwrap


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line starting ``fera: error:`` (no usage block), exit code 2."""

    def error(self, message: str):
        sys.stderr.write(f"fera: error: {message}; see `{self.prog} -h`\n")
        sys.exit(2)


class Formatter(argparse.HelpFormatter):
    """Help text whose paragraphs are wrapped and whose indented lines (examples, key lists) are kept as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out, para = [], []
        for line in text.splitlines() + [""]:
            if line.strip() and not line[:1].isspace():
                para.append(line.strip())
                continue
            if para:
                out.append(textwrap.fill(" ".join(para), width, initial_indent=indent, subsequent_indent=indent))
                para = []
            out.append(indent + line if line.strip() else "")
        return "\n".join(out).rstrip("\n")


def examples_text(examples) -> str:
    """"examples:" and one indented line per example: a command line, or a (command line, comment) pair."""
    return "examples:\n" + "\n".join(f"  {e}" if isinstance(e, str) else f"  {e[0]}  # {e[1]}" for e in examples)


def add_command(sub, name: str, run, arguments=None, examples=(), epilog: str = ""):
    """The one way a fera command is declared: ``run(args)`` does it (the first line of its docstring is the
    one-line help, the whole docstring the description), ``arguments(parser)`` adds its options, and
    ``examples`` (command lines, or (command line, comment) pairs) end its ``-h``, after ``epilog``."""
    text = "\n\n".join(t for t in (epilog, examples_text(examples) if examples else "") if t)
    doc = inspect.cleandoc(run.__doc__)
    p = sub.add_parser(name, help=doc.splitlines()[0], description=doc, epilog=text or None, formatter_class=Formatter)
    p.set_defaults(func=run)
    if arguments is not None:
        arguments(p)
    return p


def setting_default(cls, name: str):
    """The default of field ``name`` of the settings dataclass ``cls``."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def shown(value) -> str:
    """A default as a user would type it: 48,48 for a size, 0.001 for a float, adam for a string."""
    if isinstance(value, (tuple, list)):  # 48,48 for a size; 20:0.5,40:0.1 for (epoch, factor) steps
        return ",".join(":".join(shown(x) for x in v) if isinstance(v, (tuple, list)) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_option(p, flag: str, setting=None, help: str = "", **kw):
    """``p.add_argument`` whose ``{default}`` in ``help`` is filled from ``setting`` = (dataclass, field name), or
    from ``default=``: the help can never disagree with the code. The option's own default stays None
    when it comes from a dataclass, so a command can tell "not given" from "given"."""
    value = setting_default(*setting) if setting else kw.get("default")
    action = p.add_argument(flag, help=help.replace("{default}", shown(value)), **kw)
    action.setting = setting
    return action


def fill(cls, args, skip=(), **renames):
    """The settings dataclass ``cls`` from the options the user gave (``renames``: field -> option dest, e.g.
    ``model="detector"``; ``skip``: fields no option sets); a field whose option was not given (None) keeps its
    default."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        v = getattr(args, renames.get(f.name, f.name), None)
        if v is not None:
            values[f.name] = v
    return cls(**values)


def log(msg: str) -> None:
    """A command's progress and notices: one line on stderr."""
    print(msg, file=sys.stderr, flush=True)


def bind_default(p, dest: str, cls=None, name: str = "") -> None:
    """Make the "(default ...)" of an option declared elsewhere show the value the code uses: field ``name`` of
    the settings dataclass ``cls`` the option overrides, or without ``cls`` the option's own default."""
    action = next(a for a in p._actions if a.dest == dest)
    value = setting_default(cls, name) if cls else action.default
    action.help = re.sub(r"\(default\b[^):;,]*", lambda _: f"(default {shown(value)}", action.help, count=1)
    action.setting = (cls, name) if cls else None


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
