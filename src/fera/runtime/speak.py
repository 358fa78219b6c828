"""Speaking announcements: an espeak-ng voice, earcons (short sounds) or plain text lines.

Audio speakers play on a background thread, so the camera loop never blocks. For live input they keep one
pending utterance at most (newest wins) and never say anything older than ``max_age_s``; for photos the user
asked about (``keep_all``) every sentence is played, in order. Without a sound device they write WAV files into
``audio_dir``, else say once that they fall back to text lines. Standard library and numpy only.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, TextIO

from fera.errors import FeraError
from fera.fileio import write_bytes
from fera.runtime.earcons import STATUS_SOUNDS, EarconConfig, earcon_wav, sound_of
from fera.runtime.types import Announcement
from fera.runtime.wording import STATUS_TEXT, adjective, status_text

MODES = ("auto", "tts", "earcons", "screenreader", "off")  # --speech; SpeechConfig.mode is the default
Player = Callable[[bytes, Announcement], None]  # plays (or stores) one WAV; gets the announcement too
NO_ESPEAK = "espeak-ng not found: install it (apt-get install espeak-ng) or use --speech screenreader"
TEXT_NOTICE = "announcements are printed as text lines"


@dataclass
class SpeechConfig:
    voice: str = "en-us"  # espeak-ng voice (list them with `espeak-ng --voices`)
    rate_wpm: int = 175  # speaking rate, words per minute (espeak-ng's default; 80..450; many prefer 250+)
    max_age_s: float = 1.5  # never say anything older than this: it is dropped, not spoken late
    audio_dir: str | None = None  # no audio device: write the WAV files here instead of falling back to text
    player: str | None = None  # audio player command, e.g. "aplay -q"; None: pw-play/paplay/aplay by device
    earcon_volume: float = EarconConfig.earcon_volume  # the earcons' sound (fera.runtime.earcons.EarconConfig)
    pan: float = EarconConfig.pan
    sample_rate: int = EarconConfig.sample_rate
    mode: str = "auto"  # one of MODES: the voice when espeak-ng and a sound device exist, else text lines


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Speaker(Protocol):
    """What `fera assist` calls on a speaker: ``say`` (never blocks), ``text_mode`` (True when it prints text lines
    instead of sound, so the caller's own lines are enough), ``wait_idle`` (until all is said) and ``close``."""

    @property
    def text_mode(self) -> bool: ...

    def say(self, announcement: Announcement, now: float | None = None) -> None: ...

    def wait_idle(self, timeout: float | None = None) -> bool: ...

    def close(self) -> None: ...


# ---- text ------------------------------------------------------------------------------------------

def words(a: Announcement) -> str:
    """The announcement as a text line: the face's line ("left: appears happy"), else its text, else the
    words for its earcon code (verbosity 0: "no face", "right: surprised")."""
    if a.line or a.text:
        return a.line or a.text
    code = a.earcon or a.kind
    body = status_text(code) if code in STATUS_TEXT or a.kind == "status" else adjective(code)
    return f"{a.position}: {body}" if a.position else body


class TextSpeaker:
    """Plain lines, one per announcement, to ``stream`` (None: discard, the ``off`` mode): "12:03:04 left: appears
    happy" (local time of ``wall()``); no colour, no cursor tricks, so screen readers read each once."""

    text_mode = True

    def __init__(self, stream: TextIO | None = None, wall: Callable[[], float] = time.time):
        self.stream, self.wall, self.lines = stream, wall, 0

    def wait_idle(self, timeout: float | None = None) -> bool:
        return True  # each line is written when it is said

    def say(self, announcement: Announcement, now: float | None = None) -> None:
        self.lines += 1
        if self.stream is not None:
            self.stream.write(f"{time.strftime('%H:%M:%S', time.localtime(self.wall()))} {words(announcement)}\n")
            self.stream.flush()

    def close(self) -> None:
        pass


# ---- audio output ----------------------------------------------------------------------------------

def find_player(config: SpeechConfig | None = None) -> list[str] | None:
    """The command (the WAV path is appended) that plays to a usable sound device; None when there is none."""
    if config is not None and config.player:
        argv = shlex.split(config.player)
        return argv if argv and shutil.which(argv[0]) else None
    run = os.environ.get("XDG_RUNTIME_DIR", "")
    pipewire = bool(run) and os.path.exists(os.path.join(run, "pipewire-0"))
    pulse = bool(os.environ.get("PULSE_SERVER")) or bool(run) and os.path.exists(os.path.join(run, "pulse", "native"))
    alsa = os.access("/dev/snd", os.R_OK | os.X_OK) and any(n.startswith("pcmC") for n in os.listdir("/dev/snd"))
    mac = sys.platform == "darwin"
    for exe, ok in (("pw-play", pipewire), ("paplay", pulse or pipewire), ("aplay", alsa), ("afplay", mac)):
        if ok and shutil.which(exe):
            return [exe, "-q"] if exe == "aplay" else [exe]
    return None


class CommandPlayer:
    """Plays WAV bytes with an external player (``aplay -q FILE``); ``stop()`` cuts the sound short."""

    def __init__(self, argv: list[str]):
        self.argv, self._proc = argv, None

    def __call__(self, wav: bytes, announcement: Announcement | None = None) -> None:
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "a.wav").write_bytes(wav)
            self._proc = p = subprocess.Popen(self.argv + [str(Path(d) / "a.wav")], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE)
            err = p.communicate(timeout=30)[1].decode(errors="replace").strip()
        if p.returncode not in (0, -15):  # -15: cut short by stop()
            raise OSError(f"{self.argv[0]} exited with {p.returncode}: {err}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()


def espeak_path() -> str | None:
    return shutil.which("espeak-ng")


def render_speech(text: str, config: SpeechConfig | None = None) -> bytes:
    """``text`` spoken by espeak-ng (``espeak-ng -w FILE``), as WAV bytes (mono, 16-bit, 22050 Hz)."""
    c, exe = config or SpeechConfig(), espeak_path()
    if exe is None:
        raise FeraError(NO_ESPEAK)
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "say.wav")
        r = subprocess.run([exe, "-v", c.voice, "-s", str(int(c.rate_wpm)), "-w", path, "--stdin"],
                           input=text.encode(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
        if r.returncode != 0 or not os.path.exists(path):
            raise FeraError(f"espeak-ng failed (voice {c.voice!r}): {r.stderr.decode(errors='replace').strip()}")
        return Path(path).read_bytes()


class QueuedSpeaker:
    """Base of the audio speakers: a playback thread, one pending slot (newest wins, stale ones dropped) or, with
    ``keep_all``, a queue.

    ``player(wav, announcement)`` replaces the sound output (tests: a fake slow player); ``clock`` is the clock of
    ``say``'s ``now``; ``threaded=False``: nothing plays until ``step()``. ``keep_all``: a queue that plays every
    announcement in order, however long it waited (photos). ``echo=False``: text lines of the fallback are not
    printed (the caller prints every line itself). Counters: ``played``, ``replaced`` (overwritten while
    waiting), ``dropped`` (too old when the player became free)."""

    def __init__(self, config: SpeechConfig | None = None, *, player: Player | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 log: Callable[[str], None] | None = None, stream: TextIO | None = None, threaded: bool = True,
                 keep_all: bool = False, echo: bool = True):
        self.config = config or SpeechConfig()
        self.clock, self.wall, self.log, self.threaded = clock, wall, log or _stderr, threaded
        self.keep_all = keep_all
        self._text = TextSpeaker((sys.stdout if stream is None else stream) if echo else None, wall)
        self._cond, self._thread = threading.Condition(), None
        self._queue: deque[tuple[Announcement, float]] = deque()
        self._busy = self._closed = self._told = False
        self.played = self.replaced = self.dropped = self._files = 0
        argv = None if player else find_player(self.config)
        self._sink: Player | None = player or (CommandPlayer(argv) if argv else None)
        if self._sink is None and self.config.audio_dir:
            self._sink = self._write_file
        if self._sink is None:
            self._to_text(f"no audio device found: {TEXT_NOTICE}")

    @property
    def text_mode(self) -> bool:
        return self._sink is None

    def _to_text(self, why: str) -> None:
        """Fall back to text lines for good, saying why once."""
        if not self._told:
            self.log(why)
        self._sink, self._told = None, True

    def render(self, announcement: Announcement) -> bytes | None:
        raise NotImplementedError

    def say(self, announcement: Announcement, now: float | None = None) -> None:
        """Queue ``announcement`` (made at ``now`` on ``clock``), replacing the one waiting unless ``keep_all``;
        never blocks."""
        if self._sink is None:
            return self._text.say(announcement, now)
        with self._cond:
            if self._closed:
                return
            if not self.keep_all:
                self.replaced += len(self._queue)
                self._queue.clear()
            self._queue.append((announcement, self.clock() if now is None else now))
            if self.threaded and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fera-speaker", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def step(self) -> bool:
        """Take the waiting utterance, if any, and play it in this thread; True when one was taken."""
        with self._cond:
            if not self._queue:
                return False
            (a, t), self._busy = self._queue.popleft(), True
        try:
            self._play(a, t)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return True

    def _fresh(self, t: float) -> bool:
        stale = not self.keep_all and self.clock() - t > self.config.max_age_s
        self.dropped += stale
        return not stale

    def _play(self, a: Announcement, t: float) -> None:
        if not self._fresh(t):
            return
        try:
            wav = self.render(a)
            if wav is None or not self._fresh(t):
                return
            if self._sink is None:  # fell back to text meanwhile
                return self._text.say(a, t)
            self._sink(wav, a)
            self.played += 1
        except Exception as e:  # a broken voice or player: go on in text
            self._to_text(f"audio output failed ({e}): {TEXT_NOTICE}")
            self._text.say(a, t)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return
            self.step()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is waiting or playing (None: however long that takes); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _write_file(self, wav: bytes, a: Announcement) -> None:
        """audio_dir/00001-20250101-120304-happy.wav (a photo's: 00002-...-grace_hopper-describe.wav), written
        atomically (a reader never sees half a file)."""
        self._files += 1
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.wall()))
        name = re.sub(r"[^\w.-]+", "_", Path(a.name).stem)[:60] + "-" if a.name else ""
        path = Path(self.config.audio_dir) / f"{self._files:05d}-{stamp}-{name}{a.earcon or a.kind or 'speech'}.wav"
        write_bytes(path, wav)

    def close(self) -> None:
        """Stop: drop what waits, cut the sound playing, end the thread."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        if isinstance(self._sink, CommandPlayer):
            self._sink.stop()
        if self._thread is not None:
            self._thread.join(timeout=2.0)


class TtsSpeaker(QueuedSpeaker):
    """Speaks the announcement text with espeak-ng (at verbosity 0, the earcon's name: "left: happy")."""

    def __init__(self, config: SpeechConfig | None = None, **kw):
        if espeak_path() is None:
            raise FeraError(NO_ESPEAK)
        super().__init__(config, **kw)

    def render(self, announcement: Announcement) -> bytes | None:
        text = announcement.text.strip() or words(announcement)
        return render_speech(text, self.config) if text else None


# ---- earcons (the sounds themselves: fera.runtime.earcons) ----------------------------------------

class EarconSpeaker(QueuedSpeaker):
    """Plays the announcement's earcon panned by position ("edge_left": the edge sound, left): an expression's
    label (whatever classes the model has) or a status sound; text with no sound (an on-demand description)
    is spoken by espeak-ng when installed, else printed as a line."""

    def __init__(self, config: SpeechConfig | None = None, **kw):
        super().__init__(config, **kw)
        self._cache: dict[tuple[str, str | None], bytes] = {}

    def render(self, announcement: Announcement) -> bytes | None:
        name, pos = sound_of(announcement.earcon or "", announcement.position)
        if name in STATUS_SOUNDS or (announcement.kind == "expression" and name):
            if (name, pos) not in self._cache:
                self._cache[name, pos] = earcon_wav(name, pos, self.config)
            return self._cache[name, pos]
        text, voice = announcement.text.strip(), espeak_path() is not None
        if text and not voice:
            self._text.say(announcement)  # a description, and no voice to say it
        return render_speech(text, self.config) if text and voice else None


# ---- choice ----------------------------------------------------------------------------------------

def make_speaker(mode: str | None = None, config: SpeechConfig | None = None, log: Callable[[str], None] | None = None,
                 *, stream: TextIO | None = None, **kw) -> Speaker:
    """The speaker for ``--speech MODE`` (default: ``config.mode``): auto (the voice when espeak-ng and a sound
    device exist, else text lines after a one-line notice), tts, earcons, screenreader (text lines) or off
    (nothing)."""
    config, log, out = config or SpeechConfig(), log or _stderr, sys.stdout if stream is None else stream
    mode = config.mode if mode is None else mode
    if mode == "auto":
        if espeak_path() is not None and find_player(config) is not None:
            return TtsSpeaker(config, log=log, stream=out, **kw)
        log(f"{'espeak-ng is not installed' if espeak_path() is None else 'no audio device found'}: {TEXT_NOTICE}")
        return TextSpeaker(out)
    if mode in ("tts", "earcons"):
        return (TtsSpeaker if mode == "tts" else EarconSpeaker)(config, log=log, stream=out, **kw)
    if mode in ("screenreader", "off"):
        return TextSpeaker(out if mode == "screenreader" else None)  # off: the CLI prints its own lines
    raise FeraError(f"unknown speech mode {mode!r}; choose one of {', '.join(MODES)}")
