"""`fera assist`: run the pipeline on a source and tell the user, line by line, by voice or by sounds.

Photos (an image, a folder, ``-``): one line (or JSON object) per photo with the sentence that
"describe now" would say; spoken in full and in order, prefixed by the photo's name when there are
several. Streams (camera, video): one line per spoken announcement, or with ``--json`` one object per
decision, suppressed ones included with their reason; what is pending when a video ends is said then.
Every speech mode prints the same one line per event, and under ``--json`` stdout holds only JSON.
Keys in a terminal (camera or video): ``fera.runtime.keys.KEYS``. Nothing is written to disk unless asked
(``save_dir``: annotated frames or video, `fera assist --record`). The command line is ``fera.commands.assist``.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fera.errors import FeraError


@dataclass
class Output:
    """Plain lines for people (one per event) or JSON objects for machines, to ``stream``."""

    json_mode: bool = False
    stream: object = None

    def line(self, text: str, stamp: str) -> None:
        """A line for people; under ``--json`` an object ({"event": text}), so stdout stays JSON."""
        if self.json_mode:
            return self.obj({"event": text})
        print(f"{stamp} {text}", file=self.stream or sys.stdout, flush=True)

    def obj(self, record: dict) -> None:
        print(json.dumps(record), file=self.stream or sys.stdout, flush=True)


def clock_stamp(ts: float, live: bool) -> str:
    if live:
        return time.strftime("%H:%M:%S")
    m, s = divmod(ts, 60)
    return f"{int(m // 60):02d}:{int(m % 60):02d}:{s:04.1f}"


def spoken_name(path: str) -> str:
    """A photo's name as it is said: the file name without folder and suffix, "grace_hopper" -> "grace hopper"."""
    return " ".join(Path(path).stem.replace("_", " ").replace("-", " ").split())


def run_photos(assistant, source, out: Output, speaker=None, save_dir: Path | None = None) -> int:
    """Describe each photo; returns the number of photos described. The speaker gets every sentence, in
    order, prefixed by the photo's name when the source holds several photos."""
    from fera.runtime.types import Announcement

    n = 0
    for fr in source:
        info, faces, sentence = assistant.photo(fr.image)
        n += 1
        if out.json_mode:
            out.obj({"source": fr.source, "width": info.width, "height": info.height, "sentence": sentence,
                     "faces": [assistant.face_record(info, f) for f in faces]})
        else:
            print(f"{fr.source}: {sentence}", file=out.stream or sys.stdout, flush=True)
        if speaker is not None:
            said = f"{spoken_name(fr.source)}: {sentence}" if (source.count or 2) > 1 else sentence
            speaker.say(Announcement(text=said, track_id=None, reason="photo", kind="describe", earcon="describe",
                                     name=fr.source), time.monotonic())
        if save_dir is not None:
            from fera.runtime.draw import annotate

            save_dir.mkdir(parents=True, exist_ok=True)
            annotate(fr.image, faces, assistant, info).save(save_dir / f"{n:04d}_{Path(fr.source).stem}.png")
    for s in source.skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    if n == 0:
        raise FeraError(f"no readable photo in {source.name} ({len(source.skipped)} skipped)")
    return n


def run_stream(assistant, source, out: Output, speaker=None, keys=None, save_dir: Path | None = None) -> int:
    """Announce as the stream plays; returns the number of frames processed. At the end of a video (not
    when the user quits) what was about to be said is said."""
    from fera.runtime import wording
    from fera.runtime.speak import words

    writer, n, paused, muted, fr, quit_ = None, 0, False, False, None, False

    def tell(decisions, f) -> None:
        for d in decisions:
            if out.json_mode:
                out.obj({"source": f.source, "frame": f.index, "timestamp": round(f.timestamp, 3), **d.to_dict()})
            elif d.spoken:
                out.line(d.text or words(d.announcement), clock_stamp(f.timestamp, source.live))
            if d.spoken and speaker is not None and not muted:
                speaker.say(d.announcement, time.monotonic())

    try:
        for fr in _frames(source, out, speaker):
            cmd = keys.poll() if keys is not None else None
            if cmd == "q":
                quit_ = True
                break
            if cmd == "p":
                paused = not paused
                out.line(wording.PAUSED if paused else wording.RESUMED, clock_stamp(fr.timestamp, source.live))
            if cmd == "m":
                muted = not muted
                out.line(wording.MUTED if muted else wording.UNMUTED, clock_stamp(fr.timestamp, source.live))
            if cmd == "v":
                v = assistant.set_verbosity((assistant.verbosity + 1) % len(wording.VERBOSITY))
                out.line(wording.verbosity_text(v), clock_stamp(fr.timestamp, source.live))
            if paused:
                continue
            r = assistant.step(fr.image, fr.timestamp)
            n += 1
            tell(list(r.decisions) + ([assistant.describe_now()] if cmd == " " else []), fr)
            if save_dir is not None:
                from fera.runtime.draw import annotate, VideoOut

                writer = writer or VideoOut(save_dir / "annotated.mp4", r.frame.width, r.frame.height,
                                            source.fps or 10.0)
                writer.write(annotate(fr.image, r.faces, assistant, r.frame))
        if fr is not None and not source.live and not quit_:
            tell(assistant.finish(), fr)
    finally:
        if writer is not None:
            writer.close()
        source.close()
    return n


def _frames(source, out: Output, speaker):
    """The source's frames; a camera that is gone for good is said aloud before the error ends the run."""
    from fera.runtime.sources import SourceLost
    from fera.runtime.types import Announcement
    from fera.runtime.wording import SOURCE_LOST

    try:
        yield from source
    except SourceLost:
        if out.json_mode:
            out.obj({"source": source.name, "spoken": True, "text": SOURCE_LOST, "kind": "status",
                     "code": "source_lost"})
        else:
            out.line(SOURCE_LOST, clock_stamp(0.0, True))
        if speaker is not None:
            speaker.say(Announcement(text=SOURCE_LOST, track_id=None, reason="source lost", kind="status",
                                     earcon="no_face"), time.monotonic())
        raise


def assist(spec: str, settings=None, model: str | None = None, json_mode: bool = False,
           save_dir: Path | None = None, max_frames: int | None = None) -> int:
    """`fera assist`: describe the faces of ``spec`` (a camera index, a video, an image, a folder, or ``-``) with
    the assistant of ``settings`` (``fera.runtime.settings.Settings``); ``model``: the classifier (default: the
    live model for cameras and videos, the most accurate shipped one for photos). Speaks by
    ``settings.speech``; prints one line per event (``json_mode``: one JSON object). Returns 0."""
    from dataclasses import replace

    from fera.runtime import speak
    from fera.runtime.keys import Keys, key_list
    from fera.runtime.pipeline import Assistant
    from fera.runtime.settings import Settings, model_for
    from fera.runtime.sources import open_source

    settings = settings or Settings()
    source = open_source(spec, max_frames=max_frames)
    settings = replace(settings, classify=replace(settings.classify, model=model or model_for(source.still)))
    assistant = Assistant.create(settings)
    # photos: every sentence in order (the user asked about each); the lines below are the text output, so a
    # speaker that falls back to text prints nothing itself (one line per event, stdout only JSON with --json)
    speaker = speak.make_speaker(None, settings.speech, log=lambda m: print(f"fera: {m}", file=sys.stderr),
                                 keep_all=source.still, echo=False)
    if speaker.text_mode:
        speaker.close()
        speaker = None
    out = Output(json_mode)
    try:
        if source.still:
            run_photos(assistant, source, out, speaker, save_dir)
        else:
            with Keys() as keys:
                if keys.active:
                    print(f"keys: {key_list()}", file=sys.stderr)
                run_stream(assistant, source, out, speaker, keys, save_dir)
    finally:
        if speaker is not None:
            speaker.wait_idle(None)  # until the last sentence has been played to its end (Ctrl-C stops it)
            speaker.close()
    return 0
