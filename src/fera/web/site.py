"""The page as a static site: `fera web build DIR` writes it, `fera serve` serves the very same files.

The site holds the page (``static/``: HTML, CSS and the JavaScript runtime, plain ES modules), onnxruntime-web
(WebAssembly with SIMD; WebGPU where the browser has it) copied from the npm package, the face detector and one
expression classifier (fera's own shipped ``.onnx``; the int8 file when the model ships one), the runtime's earcons
pre-rendered (``sounds/``) as the WAV bytes ``fera.runtime.earcons`` makes (every sound at the left, ahead and
at the right), a web app manifest with icons, a service worker that keeps all of it on the device, and
``site.json`` (which files, their sizes, the version). Every URL in it is relative, so any static host serves
it, at its root or below.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fera.errors import FeraError
from fera.runtime.classify import ClassifyConfig
from fera.runtime.detect import DetectConfig

STATIC = Path(__file__).resolve().parent / "static"
REPO_GUESS = Path(__file__).resolve().parents[3]  # the source checkout, when fera runs from one
ORT_FILES = {"wasm": ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"),
             "webgpu": ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm")}
POSITIONS = ("left", "ahead", "right")
RESIZES = ("bilinear", "area")  # what the page's image.mjs computes as fera.images does
TYPES = {".html": "text/html; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json",
         ".webmanifest": "application/manifest+json", ".wasm": "application/wasm", ".onnx": "application/octet-stream",
         ".wav": "audio/wav", ".svg": "image/svg+xml",
         ".png": "image/png", ".txt": "text/plain; charset=utf-8", "": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class SiteConfig:
    model: str = ClassifyConfig.model  # the classifier: a shipped name or an .onnx file (default: the live model)
    int8: bool | None = None  # the shipped int8 file: None = when the model ships one, False = never
    detector: str = DetectConfig.model  # BlazeFace "full" or "short" range
    webgpu: bool = True  # also ship the WebGPU build of the runtime (fetched only by browsers with WebGPU)
    ort_dir: str | None = None  # onnxruntime-web's dist/ folder (default: node_modules, or $FERA_ORT_DIR)
    require_runtime: bool = True  # False: a site without the runtime is still made (its page says what is missing)


def find_ort(explicit: str | None = None) -> Path | None:
    """onnxruntime-web's ``dist`` folder: ``explicit``, else ``$FERA_ORT_DIR``, else ``node_modules`` of the working
    directory or of fera's source checkout (``npm ci`` installs it there); None when there is none."""
    if explicit:
        if (Path(explicit) / ORT_FILES["wasm"][0]).is_file():
            return Path(explicit)
        raise FeraError(f"no onnxruntime-web in {explicit} (its dist/ folder has {', '.join(ORT_FILES['wasm'])})")
    for c in (os.environ.get("FERA_ORT_DIR"), Path.cwd() / "node_modules" / "onnxruntime-web" / "dist",
              REPO_GUESS / "node_modules" / "onnxruntime-web" / "dist"):
        if c and (Path(c) / ORT_FILES["wasm"][0]).is_file():
            return Path(c)
    return None


@dataclass
class Site:
    """The site's files: path in the site -> a file to copy or the bytes to write."""

    config: SiteConfig
    files: dict[str, Path | bytes] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.info["version"]

    def content(self, path: str) -> bytes:
        v = self.files[path]
        return v if isinstance(v, bytes) else v.read_bytes()

    def size(self, path: str) -> int:
        v = self.files[path]
        return len(v) if isinstance(v, bytes) else v.stat().st_size

    def build(self, out: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the site into ``out`` (a new or empty folder, or any folder with ``overwrite``)."""
        out = Path(out)
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise FeraError(f"{out} is not empty: choose a new folder or add --overwrite")
        tmp = out.with_name(f".{out.name}.building")
        shutil.rmtree(tmp, ignore_errors=True)
        for path, v in self.files.items():
            dest = tmp / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(v, bytes):
                dest.write_bytes(v)
            else:
                shutil.copyfile(v, dest)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return out


def media_type(path: str) -> str:
    return TYPES.get(Path(path).suffix, "application/octet-stream")


def make_site(config: SiteConfig | None = None) -> Site:
    """The files of the site for ``config`` (nothing is written; ``Site.build`` writes them)."""
    config = config or SiteConfig()
    from fera import shipped
    from fera.inference import OnnxModel
    from fera.runtime.detect import DETECTOR_DIR, MODELS
    from fera.runtime.earcons import earcon_names, earcon_wav

    site = Site(config)
    f = site.files
    for p in sorted(STATIC.rglob("*")):
        if p.is_file() and p.name != "sw.js" and "__pycache__" not in p.parts:
            rel = p.relative_to(STATIC).as_posix()
            f[rel if rel in ("index.html", "favicon.svg") else f"static/{rel}"] = p
    # the classifier: fera's own file, with its metadata (class names, preprocessing, temperature) inside
    if shipped.is_shipped(config.model):
        int8 = config.int8 is not False and shipped.has_int8(config.model)
        src = shipped.onnx_path(config.model, int8)
    elif Path(config.model).expanduser().is_file():
        src, int8 = Path(config.model).expanduser(), config.model.endswith(".int8.onnx")
    else:
        raise shipped.not_found(config.model)
    meta = OnnxModel.load(src, threads=1).meta
    resize = meta.get("preprocessing", {}).get("resize", "bilinear")
    if resize not in RESIZES:
        raise FeraError(f"{src.name} resizes faces by {resize!r}; the page computes {', '.join(RESIZES)} only")
    name = config.model if shipped.is_shipped(config.model) else src.stem
    f[f"models/{src.name}"] = src
    spec = MODELS[config.detector]
    f[f"models/{spec.filename}"] = DETECTOR_DIR / spec.filename
    f["models/BLAZEFACE_LICENSE.txt"] = DETECTOR_DIR / "LICENSE"
    # the runtime, from the npm package
    ort = find_ort(config.ort_dir)
    runtime = None
    if ort is None and config.require_runtime:
        raise FeraError("the page's runtime, onnxruntime-web, is not installed: run `npm ci` in fera's source "
                        "folder (package.json pins it), or give its dist/ folder with --ort DIR")
    if ort is not None:
        gpu = config.webgpu and all((ort / n).is_file() for n in ORT_FILES["webgpu"])
        kinds = ("wasm", "webgpu") if gpu else ("wasm",)
        for kind in kinds:
            for n in ORT_FILES[kind]:
                f[f"vendor/ort/{n}"] = ort / n
        lic = ort.parent / "LICENSE"
        notice = b"onnxruntime-web: MIT License, Copyright (c) Microsoft Corporation\n"  # its npm package has no file
        f["vendor/ort/LICENSE.txt"] = lic if lic.is_file() else notice
        package = ort.parent / "package.json"
        version = json.loads(package.read_text()).get("version") if package.is_file() else None
        runtime = {"dir": "vendor/ort/", "wasm": f"vendor/ort/{ORT_FILES['wasm'][0]}", "version": version,
                   "webgpu": f"vendor/ort/{ORT_FILES['webgpu'][0]}" if "webgpu" in kinds else None}
    # the earcons: the runtime's own bytes, keyed by the model's class names and the status sounds
    names = earcon_names(meta["class_names"])
    for n in names:
        for pos in POSITIONS:
            f[f"sounds/{n}-{pos}.wav"] = earcon_wav(n, pos)
    f["icons/icon-192.png"], f["icons/icon-512.png"] = icon(192), icon(512)
    f["manifest.webmanifest"] = json.dumps(MANIFEST, indent=1).encode()
    lazy = {f"vendor/ort/{n}" for n in ORT_FILES["webgpu"]}  # fetched (and then kept) only where WebGPU is used
    sizes = {p: site.size(p) for p in f}
    version = _version(site)
    precache = ["./"] + sorted(p for p in f if p not in lazy and p != "index.html") + ["site.json"]  # not sw.js
    load = sum(s for p, s in sizes.items() if p not in lazy)
    clf = {"name": name, "file": f"models/{src.name}", "int8": int8, "class_names": meta["class_names"],
           "bytes": sizes[f"models/{src.name}"]}
    info = {"version": version, "classifier": clf,
            "detector": {"model": config.detector, "file": f"models/{spec.filename}", "input_size": spec.input_size},
            "runtime": runtime, "earcons": {"names": list(names), "positions": list(POSITIONS)},
            "model_bytes": sizes[f"models/{src.name}"] + sizes[f"models/{spec.filename}"],
            "runtime_bytes": sum(s for p, s in sizes.items() if p.startswith("vendor/") and p not in lazy),
            "webgpu_bytes": sum(s for p, s in sizes.items() if p in lazy),
            "earcon_bytes": sum(s for p, s in sizes.items() if p.startswith("sounds/")),
            "load_bytes": load, "files": sizes}
    f["site.json"] = json.dumps(info, indent=1).encode()
    f["sw.js"] = ((STATIC / "sw.js").read_text().replace("__VERSION__", version)
                  .replace("__PRECACHE__", json.dumps(precache))).encode()
    site.info = info
    return site


def _version(site: Site) -> str:
    h = hashlib.sha256()
    for p in sorted(site.files):
        h.update(p.encode() + b"\0" + hashlib.sha256(site.content(p)).digest())
    return h.hexdigest()[:16]


MANIFEST = {
    "name": "fera: describe faces", "short_name": "fera", "lang": "en",
    "description": "Tells you the facial expressions of the people in front of your camera, on this device, offline.",
    "start_url": "./", "scope": "./", "display": "standalone", "orientation": "any",
    "background_color": "#ffffff", "theme_color": "#0b4f9c",
    "icons": [{"src": "icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any maskable"},
              {"src": "icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"}],
}


def icon(size: int) -> bytes:
    """The app icon: a plain face (two eyes, a smile) on fera's blue, with room for a maskable crop."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (size, size), (11, 79, 156))
    d, s = ImageDraw.Draw(im), size / 100
    d.ellipse([22 * s, 22 * s, 78 * s, 78 * s], outline="white", width=max(2, round(5 * s)))
    for x in (40, 60):
        d.ellipse([(x - 4) * s, 38 * s, (x + 4) * s, 46 * s], fill="white")
    d.arc([35 * s, 45 * s, 65 * s, 66 * s], 20, 160, fill="white", width=max(2, round(4 * s)))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def describe_size(site: Site) -> str:
    """The load size in words: total, models, runtime, earcons; and what WebGPU adds."""
    i, mb = site.info, (lambda b: f"{b / 1e6:.1f} MB")  # noqa: E731
    rest = i["load_bytes"] - i["model_bytes"] - i["runtime_bytes"] - i["earcon_bytes"]
    clf = i["classifier"]
    text = (f"{mb(i['load_bytes'])} on the first load: models {mb(i['model_bytes'])} (classifier "
            f"{clf['file'].rsplit('/', 1)[1]} {mb(clf['bytes'])}), runtime {mb(i['runtime_bytes'])}, "
            f"earcons {mb(i['earcon_bytes'])}, page {mb(rest)}")
    if i["webgpu_bytes"]:
        text += f"; browsers with WebGPU fetch {mb(i['webgpu_bytes'])} more instead of the WebAssembly runtime's files"
    return text


if __name__ == "__main__":  # ``python -m fera.web.site build DIR``: the same as ``fera web build DIR``
    from fera.cli import main

    sys.exit(main(["web", *sys.argv[1:]]))
