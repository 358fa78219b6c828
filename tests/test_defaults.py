"""Every runtime default is written once, in its stage's dataclass (``fera.runtime.settings``): the pieces that
build or mirror a stage (the detector, the assistant's search, the web server, the page's JavaScript runtime)
take theirs from it, and a second definition that disagrees fails here."""
import dataclasses
import json
import re
import shutil
import subprocess

import pytest
from conftest import REPO

from fera.runtime.announce import AnnounceConfig
from fera.runtime.classify import ClassifyConfig
from fera.runtime.detect import BlazeFaceDetector, DetectConfig
from fera.runtime.settings import Settings
from fera.runtime.smooth import SmoothConfig
from fera.runtime.track import TrackConfig

JS = REPO / "src" / "fera" / "web" / "static" / "js"


def camel(name: str) -> str:
    return re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)


def defaults(cls) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls)}


def test_the_detector_and_the_search_take_detect_configs_defaults():
    det = BlazeFaceDetector()
    c = DetectConfig()
    assert (det.model, det.min_score, det.nms_iou) == (c.model, c.min_score, c.nms_iou)
    from fera.runtime.search import Search

    assert Search(det).tiled is c.tiled_photos


def test_settings_are_one_dataclass_per_concern_with_the_stages_defaults():
    s = Settings()
    for name, cls in [("detect", DetectConfig), ("classify", ClassifyConfig), ("track", TrackConfig),
                      ("smooth", SmoothConfig), ("announce", AnnounceConfig)]:
        assert getattr(s, name) == cls()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (apt-get install nodejs)")
@pytest.mark.parametrize("module, const, cls", [("announce", "ANNOUNCE", AnnounceConfig), ("track", "TRACK", TrackConfig),
                                                ("smooth", "SMOOTH", SmoothConfig)])
def test_the_pages_runtime_has_the_same_defaults(module, const, cls):
    """The page keeps a copy of each stage's defaults (it runs without Python): the copy is the dataclass's."""
    out = subprocess.run(["node", "--input-type=module", "-e", f"import {{ {const} }} from "
                          f"'{(JS / f'{module}.mjs').as_uri()}'; console.log(JSON.stringify({const}))"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert json.loads(out) == {camel(k): v for k, v in defaults(cls).items()}


def test_the_pages_crop_margin_is_the_classifiers():
    text = (JS / "classify.mjs").read_text()
    assert f"export const MARGIN = {ClassifyConfig.margin};" in text
