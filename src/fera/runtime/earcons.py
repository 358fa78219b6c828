"""Earcons: one short sound per expression and per status, synthesised with numpy (no sound files), panned
left or right by the face's position. ``write_earcons`` writes them all to listen to.

The seven FER-2013 classes have designed sounds; any other class a model has gets its own sound, made by
the same synthesis from its name (the same name always sounds the same), so no class is ever silent."""
from __future__ import annotations

import io
import os
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class EarconConfig:
    """How the earcons sound (``fera.runtime.speak.SpeechConfig`` takes these fields, and their defaults, from here)."""

    earcon_volume: float = 0.5  # peak level of the earcons, 0..1 of full scale
    pan: float = 0.8  # how far "left"/"right" earcons are panned: 0 centre .. 1 one ear only
    sample_rate: int = 22050  # earcon sample rate, Hz


STATUS_SOUNDS = ("no_face", "face_lost", "too_dark", "edge")  # the announcer's status codes ("edge_left": edge)


def earcon_names(class_names) -> tuple[str, ...]:
    """Every sound of a model with these classes: its classes, then the status sounds."""
    return tuple(class_names) + STATUS_SOUNDS


def sound_of(code: str, position: str | None = None) -> tuple[str, str | None]:
    """(sound name, position) for an announcement's earcon code: "edge_left" is the edge sound, at the left."""
    return ("edge", position or code[5:]) if code.startswith("edge_") else (code, position)


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
    """The earcon ``name`` (a class label or one of ``STATUS_SOUNDS``) as mono float samples, peak at most
    1, each under 400 ms."""
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
    return np.concatenate(parts[name] if name in parts else _made(name, T, R))


SCALE = (392.0, 440.0, 493.88, 587.33, 659.26, 783.99, 880.0, 987.77)  # G major pentatonic-ish, G4 to B5
SHAPES = ((1.0, 0.3), (1.0, 0.15, 0.25), (1.0,))  # overtones: warm, hollow, pure


def _made(name: str, T, R) -> list[np.ndarray]:
    """A sound for a class without a designed one, chosen by its name's CRC-32: two different notes of
    ``SCALE`` (a leap up or down), or three with a repeated first, in one of three timbres."""
    h = zlib.crc32(name.encode("utf-8"))
    a, b = h % len(SCALE), (h // len(SCALE)) % (len(SCALE) - 1)
    b += b >= a  # a different note
    shape, three = SHAPES[(h >> 8) % len(SHAPES)], (h >> 12) & 1
    one, two = T(SCALE[a], 0.09, harmonics=shape, gain=0.8), T(SCALE[b], 0.15, harmonics=shape, gain=0.8)
    return [one, R(0.025)] + ([one, R(0.025)] if three else []) + [two]


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


def earcon_wav(name: str, position: str | None = None, config=None) -> bytes:
    """The earcon ``name`` panned to ``position``, as stereo 16-bit WAV bytes; ``config``: an ``EarconConfig`` or
    anything with its fields (a ``SpeechConfig``)."""
    c = config or EarconConfig()
    x = earcon_mono(name, c.sample_rate) * c.earcon_volume
    left, right = pan_gains(position, c.pan)
    return wav_bytes(np.stack([x * left, x * right], axis=1), c.sample_rate)


def write_earcons(folder: str | os.PathLike, class_names, config=None, positions=("ahead",)) -> list[Path]:
    """Write every earcon of a model with ``class_names`` into ``folder`` ("happy.wav", "happy_left.wav" for
    other positions) to listen to."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in earcon_names(class_names):
        for pos in positions:
            paths.append(out / (f"{name}.wav" if pos in (None, "ahead") else f"{name}_{pos}.wav"))
            paths[-1].write_bytes(earcon_wav(name, pos, config))
    return paths
