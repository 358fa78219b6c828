"""Live keys in a terminal (``KEYS``: space = describe now, p = pause, v = verbosity, m = mute, q = quit).

The terminal is put in cbreak mode (one key at a time, no Enter needed) and restored on exit;
when stdin is not a terminal there are no keys and ``poll`` always returns None.
"""
from __future__ import annotations

import sys

KEYS = {" ": "describe now", "p": "pause", "v": "verbosity", "m": "mute", "q": "quit"}  # the one list of them


def key_name(key: str) -> str:
    """A key as it is written for people: "space" for " "."""
    return "space" if key == " " else key


def key_list() -> str:
    """The keys in one line: "space describe now, p pause, v verbosity, m mute, q quit"."""
    return ", ".join(f"{key_name(k)} {what}" for k, what in KEYS.items())


class Keys:
    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self._saved = None

    def __enter__(self) -> "Keys":
        try:
            import termios
            import tty

            if self.stream.isatty():
                fd = self.stream.fileno()
                self._saved = termios.tcgetattr(fd)
                tty.setcbreak(fd)
        except (ImportError, OSError, ValueError, AttributeError):
            self._saved = None
        return self

    @property
    def active(self) -> bool:
        return self._saved is not None

    def poll(self) -> str | None:
        """The key pressed since the last call (lower-cased), or None."""
        if not self.active:
            return None
        import select

        ready, _, _ = select.select([self.stream], [], [], 0)
        if not ready:
            return None
        ch = self.stream.read(1)
        return ch.lower() if ch and (ch == " " or ch.lower() in KEYS) else None

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None
