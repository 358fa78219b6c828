"""`fera assist`: the assistant on a camera, a video or photos (``fera.runtime.app.assist``)."""
from __future__ import annotations

from fera.commands.args import COUNT, FRACTION, add_option, fill
from fera.runtime.announce import AnnounceConfig
from fera.runtime.classify import ClassifyConfig
from fera.runtime.detect import DETECTORS, DetectConfig
from fera.runtime.speak import MODES, SpeechConfig
from fera.runtime.wording import VERBOSITY

EXAMPLES = [
    ("fera assist --source src/fera/assets/samples", "photos: one sentence per photo"),
    ("fera assist --source 0", "camera 0, live; the keys above"),
    ("fera assist --source clip.mp4 --json --speech off", "a video; one JSON object per decision"),
    ("ls photos/*.jpg | fera assist --source -", "image paths on stdin"),
    ("fera assist --source 0 --speech earcons --verbosity 1", "short sounds, terse words")]


def epilog() -> str:
    from fera.runtime.keys import KEYS, key_name

    return "keys while a camera or video runs in a terminal (no Enter needed):\n" + "\n".join(
        f"  {key_name(k):<6} {what}" for k, what in KEYS.items())


def add_arguments(p) -> None:
    add_option(p, "--source", default="0", help="camera index (default {default}), video file, image, folder of "
               "images, or - to read image paths from stdin")
    p.add_argument("--model", help=f"shipped model name or .onnx file (default: {ClassifyConfig.model} for "
                   "camera and video, the most accurate shipped model for photos)")
    p.add_argument("--int8", action="store_true", help="use the model's int8 file when it ships one")
    p.add_argument("--flip", action="store_true", help="average each face with its mirror image")
    add_option(p, "--detector", (DetectConfig, "model"), choices=DETECTORS,
               help="BlazeFace full range (default {default}; small and far faces too) or short range (faster)")
    add_option(p, "--speech", (SpeechConfig, "mode"), choices=MODES, help="auto (voice when espeak-ng and a sound "
               "device exist, else text), tts, earcons, screenreader (text lines only) or off")
    p.add_argument("--audio_dir", help="write spoken WAV files here when there is no sound device")
    add_option(p, "--verbosity", (AnnounceConfig, "verbosity"), type=int, choices=tuple(range(len(VERBOSITY))),
               help=", ".join(f"{level} {words}" for level, words in enumerate(VERBOSITY)))
    p.add_argument("--mirror", action="store_true", help="swap left and right (a selfie camera)")
    add_option(p, "--not_sure_below", (AnnounceConfig, "maybe_min"), type=FRACTION,
               help="calibrated confidence below which a face is 'not sure' (default {default})")
    p.add_argument("--record", action="store_true", help="write annotated photos or an annotated video "
                   "(boxes and words, for a sighted helper) to --save; without it fera writes no frame to disk")
    add_option(p, "--save", default="fera_recordings", help="folder for --record (default {default})")
    p.add_argument("--max_frames", type=COUNT, help="stop a camera or video after this many frames")
    p.add_argument("--json", action="store_true", help="one JSON object per photo, or per decision for "
                   "streams (suppressed ones too, with the reason)")


def settings(args):
    """The runtime's settings these options give (``fera.runtime.settings.Settings``; the classifier's model is
    chosen by the source, see ``fera.runtime.app.assist``)."""
    from fera.runtime.settings import Settings

    return Settings(detect=fill(DetectConfig, args, model="detector"),
                    classify=fill(ClassifyConfig, args, skip=("model",)),
                    announce=fill(AnnounceConfig, args, maybe_min="not_sure_below"),
                    speech=fill(SpeechConfig, args, mode="speech"))


def run(args) -> int:
    """Describe the faces from a camera, a video or photos, offline, by voice, sounds or text lines."""
    from pathlib import Path

    from fera.runtime.app import assist

    return assist(args.source, settings(args), model=args.model, json_mode=args.json,
                  save_dir=Path(args.save) if args.record else None, max_frames=args.max_frames)
