"""`fera assist`: run the pipeline on a source and tell the user, line by line, by voice or by sounds.

Photos (an image, a folder, ``-``): one line (or JSON object) per photo with the sentence that
"describe now" would say; spoken in full and in order, prefixed by the photo's name when there are
several. Streams (camera, video): one line per spoken announcement, or with ``--json`` one object per
decision, suppressed ones included with their reason; what is pending when a video ends is said then.
Every speech mode prints the same one line per event, and under ``--json`` stdout holds only JSON.
Keys in a terminal (camera or video): space = describe now, p = pause, v = verbosity, m = mute, q = quit.
Nothing is written to disk unless ``--record`` is given (annotated frames / video into ``--save DIR``).
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
                out.line("paused" if paused else "resumed", clock_stamp(fr.timestamp, source.live))
            if cmd == "m":
                muted = not muted
                out.line("muted" if muted else "sound on", clock_stamp(fr.timestamp, source.live))
            if cmd == "v":
                v = assistant.set_verbosity((assistant.verbosity + 1) % 4)
                out.line(f"verbosity {v}", clock_stamp(fr.timestamp, source.live))
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

    try:
        yield from source
    except SourceLost:
        if out.json_mode:
            out.obj({"source": source.name, "spoken": True, "text": "camera disconnected", "kind": "status",
                     "code": "source_lost"})
        else:
            out.line("camera disconnected", clock_stamp(0.0, True))
        if speaker is not None:
            speaker.say(Announcement(text="camera disconnected", track_id=None, reason="source lost", kind="status",
                                     earcon="no_face"), time.monotonic())
        raise


def add_arguments(p) -> None:
    """`fera assist` options (defined here, next to the loop that uses them)."""
    from fera.argtypes import COUNT, FRACTION
    from fera.runtime.speak import MODES

    p.add_argument("--source", default="0", help="camera index (default 0), video file, image, folder of "
                   "images, or - to read image paths from stdin")
    p.add_argument("--model", default=None, help="shipped model name or .onnx file (default: fast for "
                   "camera and video, the most accurate shipped model for photos)")
    p.add_argument("--int8", action="store_true", help="use the model's int8 file when it ships one")
    p.add_argument("--flip", action="store_true", help="average each face with its mirror image")
    p.add_argument("--detector", choices=("full", "short"), default="full",
                   help="BlazeFace full range (default; small and far faces too) or short range (faster)")
    p.add_argument("--speech", choices=MODES, default="auto", help="auto (voice when espeak-ng and a sound "
                   "device exist, else text), tts, earcons, screenreader (text lines only) or off")
    p.add_argument("--audio_dir", help="write spoken WAV files here when there is no sound device")
    p.add_argument("--verbosity", type=int, choices=(0, 1, 2, 3), default=2,
                   help="0 earcons only, 1 terse, 2 default, 3 adds distance and confidence")
    p.add_argument("--mirror", action="store_true", help="swap left and right (a selfie camera)")
    p.add_argument("--not_sure_below", type=FRACTION, default=None,
                   help="calibrated confidence below which a face is 'not sure' (default 0.4)")
    p.add_argument("--record", action="store_true", help="write annotated photos or an annotated video "
                   "(boxes and words, for a sighted helper) to --save; without it fera writes no frame to disk")
    p.add_argument("--save", default="fera_recordings", help="folder for --record (default fera_recordings)")
    p.add_argument("--max_frames", type=COUNT, default=None, help="stop a camera or video after this many frames")
    p.add_argument("--json", action="store_true", help="one JSON object per photo, or per decision for "
                   "streams (suppressed ones too, with the reason)")


def cmd_assist(args) -> int:
    """Describe the faces from a camera, a video or photos, offline, by voice, sounds or text lines."""
    from fera.runtime.announce import AnnounceConfig
    from fera.runtime.classify import ClassifyConfig
    from fera.runtime.keys import Keys
    from fera.runtime.pipeline import Assistant, DetectConfig
    from fera.runtime.sources import open_source
    from fera.runtime.speak import SpeechConfig, TextSpeaker, make_speaker

    source = open_source(args.source, max_frames=args.max_frames)
    from fera import shipped

    model = args.model or (shipped.most_accurate() if source.still else "fast")
    announce = AnnounceConfig(verbosity=args.verbosity, mirror=args.mirror)
    if args.not_sure_below is not None:
        announce.maybe_min = args.not_sure_below
    assistant = Assistant.create(DetectConfig(model=args.detector),
                                 ClassifyConfig(model=model, int8=args.int8, flip=args.flip), announce)
    # photos: every sentence in order (the user asked about each); the lines below are the text output, so a
    # speaker that falls back to text prints nothing itself (one line per event, stdout only JSON with --json)
    speaker = make_speaker(args.speech, SpeechConfig(audio_dir=args.audio_dir),
                           log=lambda m: print(f"fera: {m}", file=sys.stderr), keep_all=source.still, echo=False)
    if isinstance(speaker, TextSpeaker) or getattr(speaker, "text_mode", False):
        speaker.close()
        speaker = None
    out = Output(args.json)
    save = Path(args.save) if args.record else None
    try:
        if source.still:
            run_photos(assistant, source, out, speaker, save)
        else:
            with Keys() as keys:
                if keys.active:
                    print("keys: space describe now, p pause, v verbosity, m mute, q quit", file=sys.stderr)
                run_stream(assistant, source, out, speaker, keys, save)
    finally:
        if speaker is not None:
            wait = getattr(speaker, "wait_idle", None)
            if wait:
                wait(None)  # until the last sentence has been played to its end (Ctrl-C stops it)
            speaker.close()
    return 0
