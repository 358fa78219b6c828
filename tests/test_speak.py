"""Speech output: espeak-ng rendering, the one-slot queue (newest wins, stale dropped), earcons, text lines."""
import io
import itertools
import re
import shutil
import threading
import time
import wave

import numpy as np
import pytest

from fera.errors import FeraError
from fera.runtime import speak
from fera.runtime.speak import EarconSpeaker, SpeechConfig, TextSpeaker, TtsSpeaker, make_speaker, render_speech
from fera.runtime.earcons import earcon_names, earcon_wav, pan_gains, write_earcons
from fera.runtime.types import Announcement

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")  # a FER-2013 model's classes
EARCONS = earcon_names(CLASS_NAMES)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def ann(text="left, appears happy", earcon="happy", position="left", kind="expression",
        line="left: appears happy"):
    """An announcement as the announcer makes it: the text line is given by ``line`` (the announcer's
    ``fera.runtime.wording.line``), never derived from the text."""
    return Announcement(text=text, track_id=1, reason="spoken: test", kind=kind, earcon=earcon, position=position,
                        line=line)


def read_wav(data: bytes):
    """(sample rate, channels, int16 samples shaped (frames, channels))."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as w:
        assert w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return w.getframerate(), w.getnchannels(), x


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def no_audio(monkeypatch):
    """Pretend there is no sound device, whatever this machine has."""
    monkeypatch.setattr(speak, "find_player", lambda config=None: None)


# ---- espeak-ng ---------------------------------------------------------------------------------------

@needs_espeak
def test_espeak_renders_the_sentence_to_a_wav():
    rate, channels, x = read_wav(render_speech("left, appears happy"))
    assert (rate, channels) == (22050, 1)
    duration = len(x) / rate
    assert 0.5 <= duration <= 4.0, duration
    assert np.abs(x).max() > 3000  # really speech, not silence
    assert np.sqrt(np.mean(x.astype(float) ** 2)) > 300
    # a faster rate gives a shorter utterance
    fast = read_wav(render_speech("left, appears happy", SpeechConfig(rate_wpm=350)))[2]
    assert len(fast) < 0.8 * len(x)


def test_failing_or_missing_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(speak, "espeak_path", lambda: shutil.which("false") or "/bin/false")  # exits 1
    with pytest.raises(FeraError, match="espeak-ng failed"):
        render_speech("hello")
    monkeypatch.setattr(speak, "espeak_path", lambda: None)
    with pytest.raises(FeraError, match="apt-get install espeak-ng"):
        render_speech("hello")


@needs_espeak
def test_tts_without_device_writes_wav_files_atomically(tmp_path, no_audio):
    logs = []
    s = TtsSpeaker(SpeechConfig(audio_dir=str(tmp_path / "audio")), log=logs.append, threaded=False)
    s.say(ann())
    assert s.step() and not logs and s.played == 1
    files = sorted((tmp_path / "audio").iterdir())
    assert [f.name for f in files if f.name.startswith(".")] == []  # no temporary file left behind
    assert len(files) == 1 and re.fullmatch(r"00001-\d{8}-\d{6}-happy\.wav", files[0].name)
    s.say(Announcement(text="1 face: ahead appears happy", track_id=None, reason="photo", kind="describe",
                       earcon="describe", name="/x/Grace Hopper.jpg"))
    assert s.step() and re.fullmatch(r"00002-\d{8}-\d{6}-Grace_Hopper-describe\.wav",
                                     sorted(p.name for p in (tmp_path / "audio").iterdir())[-1])
    rate, _, x = read_wav(files[0].read_bytes())
    assert 0.5 <= len(x) / rate <= 4.0


# ---- queue: newest wins, nothing stale -----------------------------------------------------------------

WAIT_S = 30  # the longest any wait on the speaker thread may take: a bound for a stuck thread, never a pace


class SlowPlayer:
    """Blocks in each call until released (``release`` stays set once set); records what it played."""

    def __init__(self):
        self.played, self.started, self.release, self.stuck = [], threading.Event(), threading.Event(), False

    def __call__(self, wav, announcement):
        self.played.append(announcement)
        self.started.set()
        if not self.release.wait(WAIT_S):  # noted, not raised: the speaker would take it for a broken player
            self.stuck = True


def _idle(s):
    assert s.wait_idle(WAIT_S), f"the speaker was still busy {WAIT_S} s after its last announcement"


def _closed(s, player):
    s.close()
    if s._thread is not None:
        s._thread.join(WAIT_S)
        assert not s._thread.is_alive(), f"the speaker thread was still running {WAIT_S} s after close()"
    assert not player.stuck, "the test never released the player"


def test_newest_wins_while_the_player_is_busy():
    player, clock = SlowPlayer(), FakeClock(10.0)
    s = EarconSpeaker(player=player, clock=clock)
    first, *others = [ann(earcon=e) for e in ("happy", "sad", "fear", "surprise")]
    s.say(first, now=10.0)
    assert player.started.wait(WAIT_S), "the speaker thread never started playing"
    for a in others:  # three announcements while the player is busy
        s.say(a, now=clock())
    player.release.set()
    _idle(s)
    _closed(s, player)
    assert [a.earcon for a in player.played] == ["happy", "surprise"]
    assert (s.played, s.replaced, s.dropped) == (2, 2, 0)


def test_an_announcement_that_waited_too_long_is_dropped():
    player, clock = SlowPlayer(), FakeClock(0.0)
    s = EarconSpeaker(player=player, clock=clock)
    s.say(ann(earcon="happy"), now=0.0)
    assert player.started.wait(WAIT_S), "the speaker thread never started playing"
    s.say(ann(earcon="sad"), now=0.5)
    clock.t = 2.5  # "sad" has waited 2 s when the player becomes free
    player.release.set()
    _idle(s)
    assert [a.earcon for a in player.played] == ["happy"] and s.dropped == 1
    s.say(ann(earcon="fear"), now=2.6)  # a fresh one is still played
    _idle(s)
    _closed(s, player)
    assert [a.earcon for a in player.played] == ["happy", "fear"]
    s.say(ann(earcon="angry"))  # after close: ignored, no thread left
    assert len(player.played) == 2 and not s._thread.is_alive()


def test_wait_idle_waits_for_the_sound_playing_and_gives_up_on_time():
    """wait_idle returns once the last sound has been played to its end, not as soon as the queue is empty; and
    with a timeout it returns False while the sound still plays."""
    player = SlowPlayer()
    s = EarconSpeaker(player=player, clock=FakeClock(0.0))
    s.say(ann(earcon="happy"), now=0.0)
    assert player.started.wait(WAIT_S), "the speaker thread never started playing"
    assert not s._queue and s.wait_idle(0) is False  # nothing waits, but the sound still plays
    player.release.set()
    _idle(s)
    assert s.played == 1
    _closed(s, player)


def test_slow_player_deterministic_without_thread():
    clock, played = FakeClock(0.0), []

    def player(wav, a):  # each sound "takes" 1.4 s; three more announcements arrive meanwhile
        played.append(a.earcon)
        if a.earcon == "happy":
            for i, e in enumerate(("sad", "fear", "angry")):
                s.say(ann(earcon=e), now=clock() + 0.1 * i)
        clock.t += 1.4

    s = EarconSpeaker(player=player, clock=clock, threaded=False)
    s.say(ann(earcon="happy"), now=0.0)
    assert s.step() and s.step() and not s.step()
    assert played == ["happy", "angry"]  # "angry" waited 1.2 s: young enough
    assert s._thread is None and (s.replaced, s.dropped) == (2, 0)
    s.say(ann(earcon="neutral"), now=clock() - 1.6)  # made 1.6 s ago: too old, never played
    assert s.step() and played == ["happy", "angry"] and s.dropped == 1
    s.say(ann(earcon="neutral"), now=clock() - 1.5)  # exactly the limit: still played
    assert s.step() and played[-1] == "neutral"


def test_keep_all_plays_every_announcement_in_order_however_long_it_waited():
    """Photos: the user asked about each one; nothing is replaced or dropped as stale."""
    clock, played = FakeClock(0.0), []

    def player(wav, a):  # each sentence "takes" 2.5 s of playing
        played.append(a.earcon)
        clock.t += 2.5

    s = EarconSpeaker(player=player, clock=clock, threaded=False, keep_all=True)
    for e in ("happy", "sad", "fear", "angry"):
        s.say(ann(earcon=e), now=0.0)
    while s.step():
        pass
    assert played == ["happy", "sad", "fear", "angry"] and (s.replaced, s.dropped) == (0, 0)


def test_without_echo_a_text_fallback_prints_nothing(no_audio):
    """fera assist prints every line itself: a speaker that falls back to text must not print it again."""
    out = io.StringIO()
    s = EarconSpeaker(log=lambda m: None, stream=out, echo=False)
    s.say(ann())
    s.close()
    assert s.text_mode and out.getvalue() == ""


# ---- fallback ------------------------------------------------------------------------------------------

def test_falls_back_to_text_with_one_notice(no_audio):
    logs, out = [], io.StringIO()
    s = EarconSpeaker(log=logs.append, stream=out)
    for e in ("happy", "sad", "fear"):
        s.say(ann(text="", earcon=e, line=""))
    s.close()
    assert len(logs) == 1 and "text" in logs[0]
    assert s.text_mode and [line.split(" ", 1)[1] for line in out.getvalue().splitlines()] == [
        "left: happy", "left: sad", "left: afraid"]  # the face's word, as every verbosity says it


def test_broken_player_falls_back_to_text_once():
    logs, out = [], io.StringIO()

    def broken(wav, a):
        raise OSError("device busy")

    s = EarconSpeaker(player=broken, log=logs.append, stream=out, threaded=False)
    s.say(ann())
    s.step()
    s.say(ann(earcon="sad", text="left, appears sad", line="left: appears sad"))
    s.say(ann(earcon="fear", text="left, maybe afraid", line="left: maybe afraid"))
    assert s.text_mode and len(logs) == 1 and "device busy" in logs[0]
    assert [line.split(" ", 1)[1] for line in out.getvalue().splitlines()] == [
        "left: appears happy", "left: appears sad", "left: maybe afraid"]


# ---- earcons -------------------------------------------------------------------------------------------

def test_seven_distinct_short_stereo_earcons_without_clicks():
    waves = {}
    for name in EARCONS:
        rate, channels, x = read_wav(earcon_wav(name))
        assert channels == 2 and rate == 22050
        assert 0.1 <= len(x) / rate <= 0.4, (name, len(x) / rate)
        assert np.abs(x).max() > 3000, name  # audible
        edge = 0.01 * 32767
        assert np.abs(x[:5]).max() <= edge and np.abs(x[-5:]).max() <= edge, name  # faded: no click
        assert np.abs(np.diff(x.astype(float), axis=0)).max() < 0.5 * 32767, name  # no jumps inside
        waves[name] = x[:, 0].astype(float)
    n = max(len(w) for w in waves.values())
    spectra = {k: np.abs(np.fft.rfft(np.pad(w, (0, n - len(w))))) for k, w in waves.items()}
    for a, b in itertools.combinations(CLASS_NAMES, 2):
        assert len(waves[a]) != len(waves[b]) or not np.allclose(waves[a], waves[b]), (a, b)
        sa, sb = spectra[a], spectra[b]
        similarity = sa @ sb / (np.linalg.norm(sa) * np.linalg.norm(sb))
        assert similarity < 0.9, (a, b, similarity)  # different pitches / timbres, not just shifted


def test_earcons_are_panned_with_constant_power():
    def rms(pos):
        x = read_wav(earcon_wav("happy", pos))[2].astype(float)
        return np.sqrt(np.mean(x ** 2, axis=0))

    (ll, lr), (al, ar), (rl, rr) = rms("left"), rms("ahead"), rms("right")
    assert ll > 3 * lr and rr > 3 * rl  # louder on its own side
    assert al == pytest.approx(ar, rel=1e-3)
    for left, right in ((ll, lr), (rl, rr)):  # same total power wherever it is
        assert left ** 2 + right ** 2 == pytest.approx(al ** 2 + ar ** 2, rel=0.01)
    for pos in ("left", "ahead", "right", None):
        g = pan_gains(pos, 0.8)
        assert g[0] ** 2 + g[1] ** 2 == pytest.approx(1.0)


def test_status_earcons_and_edge_side(tmp_path):
    played = []
    s = EarconSpeaker(player=lambda wav, a: played.append(wav), threaded=False)
    s.say(Announcement(text="", track_id=None, reason="spoken: status edge_left", kind="status", earcon="edge_left"))
    s.step()
    assert played == [earcon_wav("edge", "left")]
    paths = write_earcons(tmp_path, CLASS_NAMES, positions=("ahead", "left"))
    assert len(paths) == 2 * len(EARCONS) == 22
    assert {p.name for p in paths} >= {"happy.wav", "happy_left.wav", "no_face.wav", "edge_left.wav"}
    assert all(read_wav(p.read_bytes())[1] == 2 for p in paths)


# ---- text ----------------------------------------------------------------------------------------------

def test_text_speaker_lines():
    out, wall = io.StringIO(), 1_700_000_000.0
    s = TextSpeaker(out, wall=lambda: wall)
    s.say(ann())
    s.say(ann(text="", earcon="surprise", position="right", line=""))  # verbosity 0: the face's word for the earcon
    s.say(Announcement(text="no face", track_id=None, reason="spoken: status no_face", kind="status", earcon="no_face"))
    s.say(Announcement(text="", track_id=None, reason="spoken: status too_dark", kind="status", earcon="too_dark"))
    s.say(Announcement(text="2 faces: left appears happy, right sad", track_id=None, reason="on demand", kind="describe", earcon="describe"))
    hhmmss = time.strftime("%H:%M:%S", time.localtime(wall))
    assert out.getvalue() == "".join(f"{hhmmss} {t}\n" for t in (
        "left: appears happy", "right: surprised", "no face", "too dark", "2 faces: left appears happy, right sad"))
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()
    quiet = TextSpeaker(None)
    quiet.say(ann())
    assert quiet.lines == 1


# ---- choosing ------------------------------------------------------------------------------------------

def test_make_speaker_without_audio(no_audio, tmp_path, monkeypatch):
    logs, out = [], io.StringIO()
    auto = make_speaker("auto", log=logs.append, stream=out)
    assert isinstance(auto, TextSpeaker) and auto.stream is out and len(logs) == 1
    auto.say(ann())
    assert out.getvalue().endswith(" left: appears happy\n")
    sr = make_speaker("screenreader", log=logs.append, stream=out)
    off = make_speaker("off", log=logs.append, stream=out)
    assert isinstance(sr, TextSpeaker) and sr.stream is out and isinstance(off, TextSpeaker) and off.stream is None
    ear = make_speaker("earcons", log=logs.append, stream=out)
    assert isinstance(ear, EarconSpeaker) and ear.text_mode and len(logs) == 2
    ear_dir = make_speaker("earcons", SpeechConfig(audio_dir=str(tmp_path)), log=logs.append, threaded=False)
    ear_dir.say(ann(text="", line=""))
    ear_dir.step()
    assert not ear_dir.text_mode and len(logs) == 2 and len(list(tmp_path.glob("*-happy.wav"))) == 1
    with pytest.raises(FeraError, match="speech mode"):
        make_speaker("loud")
    if shutil.which("espeak-ng"):
        tts = make_speaker("tts", log=logs.append, stream=out)
        assert isinstance(tts, TtsSpeaker) and tts.text_mode and len(logs) == 3
    monkeypatch.setattr(speak, "espeak_path", lambda: None)
    with pytest.raises(FeraError, match="espeak-ng"):
        make_speaker("tts", log=logs.append)
    logs.clear()
    assert isinstance(make_speaker("auto", log=logs.append, stream=out), TextSpeaker)
    assert logs == ["espeak-ng is not installed: announcements are printed as text lines"]


def test_auto_picks_the_voice_when_espeak_and_a_device_exist(monkeypatch):
    monkeypatch.setattr(speak, "espeak_path", lambda: "/usr/bin/espeak-ng")
    monkeypatch.setattr(speak, "find_player", lambda config=None: ["aplay", "-q"])
    logs = []
    s = make_speaker("auto", log=logs.append)
    assert isinstance(s, TtsSpeaker) and not s.text_mode and logs == []
    s.close()


def test_classes_without_a_designed_earcon_get_their_own_distinct_sound(tmp_path):
    made = ("calm", "pain", "contempt", "Pain", "")
    waves = {n: read_wav(earcon_wav(n))[2][:, 0].astype(float) for n in made + CLASS_NAMES}
    for name in made:
        x = waves[name]
        assert 0.1 <= len(x) / 22050 <= 0.4 and np.abs(x).max() > 3000, name  # short and audible, never silent
        assert np.abs(x[:5]).max() <= 0.01 * 32767 and np.abs(x[-5:]).max() <= 0.01 * 32767, name  # no clicks
        assert earcon_wav(name) == earcon_wav(name)  # deterministic
    for a, b in itertools.combinations(waves, 2):
        assert len(waves[a]) != len(waves[b]) or not np.allclose(waves[a], waves[b]), (a, b)
    assert sorted(p.name for p in write_earcons(tmp_path, ["calm", "pain"])) == [
        "calm.wav", "edge.wav", "face_lost.wav", "no_face.wav", "pain.wav", "too_dark.wav"]
