"""`fera web build` (fera.web.site): the static site, its service worker's list, its manifest, its earcons (the
runtime's own bytes), its load size, and the refusals. The page itself runs in tests/test_browser.py."""
import json
import shutil

import pytest
from conftest import REPO

from fera.cli import main as cli_main
from fera.web import site as web_site
from fera.web.site import SiteConfig, make_site

ORT = REPO / "node_modules" / "onnxruntime-web" / "dist"
needs_ort = pytest.mark.skipif(not (ORT / "ort.wasm.min.mjs").is_file(), reason="npm ci installs onnxruntime-web")


@needs_ort
def test_the_site_has_everything_the_page_needs(tmp_path):
    from fera import shipped
    from fera.inference import OnnxModel
    from fera.runtime.earcons import earcon_names, earcon_wav

    out = make_site().build(tmp_path / "site")
    info = json.loads((out / "site.json").read_text())
    meta = OnnxModel.load(shipped.onnx_path("fast")).meta
    assert info["classifier"]["class_names"] == meta["class_names"]  # read from the model, never written down
    for f in ("index.html", "sw.js", "manifest.webmanifest", "static/js/app.mjs", info["classifier"]["file"],
              info["detector"]["file"], info["runtime"]["wasm"], "vendor/ort/ort-wasm-simd-threaded.wasm"):
        assert (out / f).is_file(), f
    for name in earcon_names(meta["class_names"]):  # the same bytes as the runtime's earcons, per position
        for pos in ("left", "ahead", "right"):
            assert (out / "sounds" / f"{name}-{pos}.wav").read_bytes() == earcon_wav(name, pos)
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == set(info["files"]) | {"site.json", "sw.js"}
    sw = (out / "sw.js").read_text()
    precache = json.loads(sw.split("const PRECACHE = ")[1].split(";")[0])
    lazy = {f for f in files if ".jsep." in f or f.endswith("webgpu.min.mjs")}
    assert set(precache) == {"./"} | files - lazy - {"index.html", "sw.js"}  # offline: all but the WebGPU runtime
    assert info["version"] in sw and info["load_bytes"] == sum(info["files"][f] for f in files - lazy - {"site.json", "sw.js"})
    manifest = json.loads((out / "manifest.webmanifest").read_text())
    assert manifest["start_url"] == "./" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    for f in files:  # relative URLs only, nothing from another origin
        if f.endswith((".html", ".mjs", ".css", ".json", ".webmanifest")) and not f.startswith("vendor/"):
            text = (out / f).read_text()
            assert "http://" not in text and "https://" not in text, f
    assert 'src="/' not in (out / "index.html").read_text() and 'href="/' not in (out / "index.html").read_text()


@needs_ort
def test_fera_web_build_command(tmp_path, capsys):
    assert cli_main(["web", "build", str(tmp_path / "s"), "--no_webgpu"]) == 0
    out = capsys.readouterr().out
    assert "MB on the first load" in out and "python -m http.server" in out
    assert not (tmp_path / "s" / "vendor" / "ort" / "ort.webgpu.min.mjs").exists()
    assert cli_main(["web", "build", str(tmp_path / "s")]) == 2  # not empty
    assert "--overwrite" in capsys.readouterr().err
    assert cli_main(["web", "build", str(tmp_path / "s"), "--overwrite", "--model", "vgg13"]) == 0
    assert json.loads((tmp_path / "s" / "site.json").read_text())["classifier"]["name"] == "vgg13"
    assert cli_main(["web", "build", str(tmp_path / "t"), "--model", "no_such_model"]) == 2
    assert "shipped models" in capsys.readouterr().err


def test_without_the_runtime_the_build_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(web_site, "REPO_GUESS", tmp_path)
    monkeypatch.delenv("FERA_ORT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="npm ci"):
        make_site(SiteConfig(detector="short"))
    s = make_site(SiteConfig(detector="short", require_runtime=False))  # what fera serve falls back to
    assert s.info["runtime"] is None and "index.html" in s.files
    with pytest.raises(Exception, match="no onnxruntime-web in"):
        web_site.find_ort(str(tmp_path))


@needs_ort
def test_int8_is_chosen_when_the_model_ships_one(tmp_path, monkeypatch):
    from fera import shipped

    fake = tmp_path / "fast.int8.onnx"
    shutil.copyfile(shipped.onnx_path("fast"), fake)
    monkeypatch.setattr(shipped, "has_int8", lambda name: True)
    monkeypatch.setattr(shipped, "onnx_path", lambda name, int8=False: fake if int8 else REPO / "src/fera/assets/models/fast.onnx")
    s = make_site(SiteConfig(int8=None, webgpu=False))
    assert s.info["classifier"]["file"] == "models/fast.int8.onnx" and s.info["classifier"]["int8"]
    s = make_site(SiteConfig(int8=False, webgpu=False))
    assert s.info["classifier"]["file"] == "models/fast.onnx"
