"""fera, the Facial Emotion Recognition Assistant. `fera assist` tells a blind or low-vision person, offline, by
voice, short sounds or screen-reader text, the facial expressions of the people in front of a camera, in a video
or in photos. The other commands serve it as a local web page, explain it, and get the data, train, evaluate,
calibrate and export the models behind it. Run `fera COMMAND -h` for a command's options and examples."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from fera.commands import COMMANDS
from fera.commands.args import Formatter, Parser, add_command, examples_text, log
from fera.errors import FeraError, Interrupted, missing_package


def build_parser() -> argparse.ArgumentParser:
    """`fera` and its commands, one module of ``fera.commands`` each."""
    from fera import __version__

    parser = Parser(prog="fera", description=__doc__, formatter_class=Formatter, epilog=examples_text([
        ("fera assist --source 0", "describe the faces in front of camera 0"),
        ("fera assist --source photos/", "one sentence per photo"),
        ("fera serve", "the same in a web page on this computer"), ("fera assist -h", "its options and keys")]))
    parser.add_argument("--version", action="version", version=f"fera {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        command = importlib.import_module(f"fera.commands.{name}")
        epilog = getattr(command, "epilog", None)
        add_command(sub, name, command.run, command.add_arguments, examples=command.EXAMPLES,
                    epilog=epilog() if epilog else "")
    return parser


def _quiet_backends() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")  # the fastest Keras backend on CPUs
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("absl").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    _quiet_backends()
    args = build_parser().parse_args(argv)
    from fera.errors import CtrlC

    ctrl_c = CtrlC.install()  # a Ctrl-C that library code swallowed still ends the command (exit code 130)
    try:
        code = args.func(args)
        ctrl_c.check()
        return code
    except Interrupted as e:
        log(f"fera: {e}")
        return 130
    except FeraError as e:
        log(f"fera: error: {e}")
        return 2
    except ImportError as e:  # a package of an extra that is not installed (Keras, its backend ...)
        log(f"fera: error: {missing_package(e)}")
        return 2
    except KeyboardInterrupt:
        log("fera: interrupted")
        return 130
    except MemoryError:
        log("fera: error: out of memory; try a smaller --batch_size (or --img_size when training)")
        return 2
    except BrokenPipeError as e:
        if _stdout_closed():  # the reader left (`fera models | head -1`): stop quietly, as a SIGPIPE'd tool does
            return 141
        log(f"fera: error: {e.strerror or 'broken pipe'}{f': {e.filename}' if e.filename else ''}")
        return 2
    finally:
        ctrl_c.restore()


def _stdout_closed() -> bool:
    """Whether standard output's reader has gone (its pipe polls as an error); if so, stdout now points at
    os.devnull, so that the flush at exit does not fail a second time (Python's documented recipe for SIGPIPE)."""
    import select

    try:
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        if not any(events & select.POLLERR for _, events in poll.poll(0)):
            return False
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
        return True
    except (OSError, ValueError, AttributeError):  # stdout closed, not a file, or no poll on this system
        return False


if __name__ == "__main__":
    sys.exit(main())
