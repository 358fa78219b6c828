"""The runtime's settings, one dataclass per concern, each defined once beside the stage it sets, and the stages
built from them. ``fera.runtime.pipeline.Assistant.create`` is the one factory of an assistant (``fera assist``,
``fera serve``, ``fera analyze`` and the benchmarks build theirs with it; ``fera explain`` searches for faces with
the detector and search of these settings).

| concern | dataclass | where |
| --- | --- | --- |
| finding faces (detector and search) | ``DetectConfig`` | ``fera.runtime.detect`` |
| classifying them | ``ClassifyConfig`` | ``fera.runtime.classify`` |
| following people | ``TrackConfig`` | ``fera.runtime.track`` |
| smoothing expressions | ``SmoothConfig`` | ``fera.runtime.smooth`` |
| what to say, when | ``AnnounceConfig`` | ``fera.runtime.announce`` |
| how to say it | ``SpeechConfig`` (``EarconConfig``) | ``fera.runtime.speak`` (``earcons``) |

The commands' options are bound to these fields (``fera.commands``): their help shows these defaults, and an
option not given leaves the field's default. The web page's JavaScript runtime keeps a copy of the stages'
defaults (``static/js``), which the tests compare with these.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fera.runtime.announce import AnnounceConfig
from fera.runtime.classify import ClassifyConfig
from fera.runtime.detect import DetectConfig
from fera.runtime.smooth import SmoothConfig
from fera.runtime.speak import SpeechConfig
from fera.runtime.track import TrackConfig


@dataclass
class Settings:
    """Everything the assistant is set by; each field's defaults are its dataclass's."""

    detect: DetectConfig = field(default_factory=DetectConfig)  # finding faces
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)  # their expressions
    track: TrackConfig = field(default_factory=TrackConfig)  # following people
    smooth: SmoothConfig = field(default_factory=SmoothConfig)  # steadying expressions
    announce: AnnounceConfig = field(default_factory=AnnounceConfig)  # what to say, when
    speech: SpeechConfig = field(default_factory=SpeechConfig)  # how to say it


def model_for(still: bool) -> str:
    """The classifier when none is named: the most accurate shipped model for photos (speed matters less), the live
    model (``ClassifyConfig.model``) for cameras and videos."""
    from fera import shipped

    return shipped.most_accurate() if still else ClassifyConfig.model


def build_detector(config: DetectConfig | None = None):
    """The face detector ``config`` describes (BlazeFace through ONNX Runtime; loaded on its first frame)."""
    from fera.runtime.detect import BlazeFaceDetector

    c = config or DetectConfig()
    return BlazeFaceDetector(c.model, c.min_score, c.nms_iou, threads=c.threads)


def build_classifier(config: ClassifyConfig | None = None):
    """The expression classifier ``config`` describes (a shipped model or an .onnx file, loaded now)."""
    from fera.runtime.classify import Classifier

    return Classifier(config or ClassifyConfig())
