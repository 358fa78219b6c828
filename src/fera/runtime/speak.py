"""Speaking announcements: an espeak-ng voice, earcons (short sounds) or plain text lines.

Audio speakers keep one pending utterance at most (newest wins), never say anything older than ``max_age_s``
and play on a background thread, so the camera loop never blocks. Without a sound device they write WAV files
into ``audio_dir``, else say once that they fall back to text lines. Standard library and numpy only.
"""
from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, TextIO

import numpy as np

from fera.errors import FeraError
from fera.runtime.announce import STATUS_TEXT
from fera.runtime.types import CLASS_NAMES, Announcement

MODES = ("auto", "tts", "earcons", "screenreader", "off")
EARCONS = CLASS_NAMES + ("no_face", "face_lost", "too_dark", "edge")  # expressions, then status sounds
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
    earcon_volume: float = 0.5  # peak level of the earcons, 0..1 of full scale
    pan: float = 0.8  # how far "left"/"right" earcons are panned: 0 centre .. 1 one ear only
    sample_rate: int = 22050  # earcon sample rate, Hz


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Speaker(Protocol):
    def say(self, announcement: Announcement, now: float | None = None) -> None: ...
    def close(self) -> None: ...


# ---- text ------------------------------------------------------------------------------------------

def words(a: Announcement) -> str:
    """The announcement in words, "left: appears happy"; from the earcon code when the text is empty."""
    body, pos = a.text, a.position
    if not body:
        body = STATUS_TEXT.get(a.earcon or "", (a.earcon or a.kind).replace("_", " "))
        return f"{pos}: {body}" if pos else body
    return f"{body[:len(pos)]}: {body[len(pos) + 2:]}" if pos and body.lower().startswith(pos + ", ") else body


class TextSpeaker:
    """Plain lines, one per announcement, to ``stream`` (None: discard, the ``off`` mode): "12:03:04 left: appears
    happy" (local time of ``wall()``); no colour, no cursor tricks, so screen readers read each once."""

    def __init__(self, stream: TextIO | None = None, wall: Callable[[], float] = time.time):
        self.stream, self.wall, self.lines = stream, wall, 0

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
    """Base of the audio speakers: one pending slot (newest wins), stale ones dropped, a playback thread.

    ``player(wav, announcement)`` replaces the sound output (tests: a fake slow player); ``clock`` is the clock of
    ``say``'s ``now``; ``threaded=False``: nothing plays until ``step()``. Counters: ``played``, ``replaced``
    (overwritten while waiting), ``dropped`` (too old when the player became free)."""

    def __init__(self, config: SpeechConfig | None = None, *, player: Player | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 log: Callable[[str], None] | None = None, stream: TextIO | None = None, threaded: bool = True):
        self.config = config or SpeechConfig()
        self.clock, self.wall, self.log, self.threaded = clock, wall, log or _stderr, threaded
        self._text = TextSpeaker(sys.stdout if stream is None else stream, wall)
        self._cond, self._thread = threading.Condition(), None
        self._pending: tuple[Announcement, float] | None = None
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
        """Queue ``announcement`` (made at ``now`` on ``clock``), replacing the one waiting; never blocks."""
        if self._sink is None:
            return self._text.say(announcement, now)
        with self._cond:
            if self._closed:
                return
            self.replaced += self._pending is not None
            self._pending = (announcement, self.clock() if now is None else now)
            if self.threaded and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fera-speaker", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def step(self) -> bool:
        """Take the waiting utterance, if any, and play it in this thread; True when one was taken."""
        with self._cond:
            if self._pending is None:
                return False
            (a, t), self._pending, self._busy = self._pending, None, True
        try:
            self._play(a, t)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return True

    def _fresh(self, t: float) -> bool:
        stale = self.clock() - t > self.config.max_age_s
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
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
            self.step()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is waiting or playing; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def _write_file(self, wav: bytes, a: Announcement) -> None:
        """audio_dir/00001-20250101-120304-happy.wav, written atomically (a reader never sees half a file)."""
        self._files += 1
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.wall()))
        path = Path(self.config.audio_dir) / f"{self._files:05d}-{stamp}-{a.earcon or a.kind or 'speech'}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(wav)
        os.replace(tmp, path)

    def close(self) -> None:
        """Stop: drop what waits, cut the sound playing, end the thread."""
        with self._cond:
            self._closed, self._pending = True, None
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


# ---- earcons ---------------------------------------------------------------------------------------

def _tone(sr: int, f0: float, dur: float, f1: float | None = None, harmonics=(1.0, 0.2), gain: float = 1.0,
          tremolo: float = 0.0) -> np.ndarray:
    """A note of ``dur`` s at ``f0`` Hz (gliding exponentially to ``f1``), with overtones, faded in and out."""
    n = int(round(dur * sr))
    t = np.arange(n) / sr
    f = np.full(n, f0) if f1 is None else f0 * (f1 / f0) ** (t / dur)
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = sum(a * np.sin(k * phase) for k, a in enumerate(harmonics, 1)) / sum(abs(a) for a in harmonics)
    if tremolo:
        x = x * (0.7 + 0.3 * np.sin(2 * np.pi * tremolo * t))
    a, r, env = max(min(int(0.005 * sr), n // 4), 1), max(min(int(0.03 * sr), n // 3), 1), np.ones(n)
    env[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)  # raised-cosine fades, 0 at both ends: no clicks
    env[n - r:] = (0.5 - 0.5 * np.cos(np.pi * np.arange(r) / r))[::-1]
    return gain * x * env


def earcon_mono(name: str, sr: int = 22050) -> np.ndarray:
    """The earcon ``name`` (see ``EARCONS``) as mono float samples, peak at most 1, each under 400 ms."""
    T, R = (lambda *a, **k: _tone(sr, *a, **k)), (lambda d: np.zeros(int(round(d * sr))))
    buzz, pure, tick = (1.0, 0.5, 0.33, 0.25, 0.2), (1.0,), _tone(sr, 1760.0, 0.03, harmonics=(1.0,))
    tap = _tone(sr, 262.0, 0.07, harmonics=(1.0, 0.1), gain=0.7)
    parts = {
        "happy": [T(523.25, 0.14), R(0.03), T(659.26, 0.18)],  # rising major third C5-E5
        "sad": [T(392.0, 0.17, gain=0.7), R(0.03), T(329.63, 0.19, gain=0.7)],  # falling minor third G4-E4, soft
        "surprise": [T(500.0, 0.18, 1500.0)],  # quick upward glide
        "neutral": [T(440.0, 0.25, harmonics=pure, gain=0.6)],  # one soft tone
        "angry": [T(150.0, 0.09, harmonics=buzz), R(0.04), T(150.0, 0.09, harmonics=buzz)],  # two low buzzes
        "disgust": [T(330.0, 0.3, 250.0, harmonics=(1.0, 0, 0.5, 0, 0.3), tremolo=12.0)],  # sagging, wobbly
        "fear": [T(932.33 if i % 2 else 880.0, 0.045, harmonics=pure, gain=0.8) for i in range(6)],  # fast trill
        "no_face": [tap, R(0.06), tap],  # two soft low taps
        "face_lost": [T(700.0, 0.28, 350.0, harmonics=(1.0, 0.3))],  # falling glide
        "too_dark": [T(110.0, 0.35, harmonics=(1.0, 0.5, 0.25))],  # low hum
        "edge": [tick, R(0.04), tick, R(0.04), tick],  # three high ticks
    }
    return np.concatenate(parts[name])


def pan_gains(position: str | None, pan: float = 0.8) -> tuple[float, float]:
    """Constant-power (left, right) gains, left² + right² = 1; "ahead" or None in the middle."""
    theta = ({"left": -pan, "right": pan}.get(position or "", 0.0) + 1) * np.pi / 4
    return float(np.cos(theta)), float(np.sin(theta))


def wav_bytes(samples: np.ndarray, sr: int) -> bytes:
    """16-bit PCM WAV of float samples in -1..1, shape (n,) mono or (n, channels)."""
    x = np.asarray(samples, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setparams((x.shape[1], 2, sr, 0, "NONE", "not compressed"))
        w.writeframes(np.round(np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def earcon_wav(name: str, position: str | None = None, config: SpeechConfig | None = None) -> bytes:
    """The earcon ``name`` panned to ``position``, as stereo 16-bit WAV bytes."""
    c = config or SpeechConfig()
    x = earcon_mono(name, c.sample_rate) * c.earcon_volume
    left, right = pan_gains(position, c.pan)
    return wav_bytes(np.stack([x * left, x * right], axis=1), c.sample_rate)


def write_earcons(folder: str | os.PathLike, config: SpeechConfig | None = None, positions=("ahead",)) -> list[Path]:
    """Write every earcon into ``folder`` ("happy.wav", "happy_left.wav" for other positions) to listen to."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in EARCONS:
        for pos in positions:
            paths.append(out / (f"{name}.wav" if pos in (None, "ahead") else f"{name}_{pos}.wav"))
            paths[-1].write_bytes(earcon_wav(name, pos, config))
    return paths


class EarconSpeaker(QueuedSpeaker):
    """Plays the announcement's earcon panned by position ("edge_left": the edge sound, left); text with no
    sound (an on-demand description) is spoken by espeak-ng when installed, else printed as a line."""

    def __init__(self, config: SpeechConfig | None = None, **kw):
        super().__init__(config, **kw)
        self._cache: dict[tuple[str, str | None], bytes] = {}

    def render(self, announcement: Announcement) -> bytes | None:
        code, pos = announcement.earcon or "", announcement.position
        name, pos = ("edge", pos or code[5:]) if code.startswith("edge_") else (code, pos)
        if name in EARCONS:
            if (name, pos) not in self._cache:
                self._cache[name, pos] = earcon_wav(name, pos, self.config)
            return self._cache[name, pos]
        text, voice = announcement.text.strip(), espeak_path() is not None
        if text and not voice:
            self._text.say(announcement)  # a description, and no voice to say it
        return render_speech(text, self.config) if text and voice else None


# ---- choice ----------------------------------------------------------------------------------------

def make_speaker(mode: str = "auto", config: SpeechConfig | None = None, log: Callable[[str], None] | None = None,
                 *, stream: TextIO | None = None, **kw) -> Speaker:
    """The speaker for ``--speech MODE``: auto (the voice when espeak-ng and a sound device exist, else text
    lines after a one-line notice), tts, earcons, screenreader (text lines) or off (nothing)."""
    config, log, out = config or SpeechConfig(), log or _stderr, sys.stdout if stream is None else stream
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
