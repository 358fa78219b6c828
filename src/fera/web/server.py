"""`fera serve`: the assistant as a local, accessible web page (FastAPI; plain HTML, CSS and JS).

- ``GET /`` and every file under it: the page, exactly the static site ``fera web build`` writes
  (``fera.web.site``): it runs the models in the browser, so one page serves both. ``GET /docs``: the API in plain
  HTML (no assets from the internet). ``GET /api/features``: what this server adds to the page (Grad-CAM).
- ``GET /earcons/NAME.wav?position=left``: the assistant's earcon for a class of the live model or a status
  sound, panned as the runtime pans it (``fera.runtime.earcons``); the page plays these.
- ``POST /api/analyze``: a photo (multipart field ``file``) -> faces, sentence, annotated image.
- ``POST /api/explain``: a photo -> a Grad-CAM overlay per face (needs Keras, the ``train`` extra).
- ``WS /api/live``: binary messages are camera frames (JPEG or PNG); text messages are JSON commands
  (``{"type": "describe"}``, ``{"type": "verbosity", "value": 0-3}``, ``{"type": "reset"}``). Each
  frame is answered with one ``{"type": "frame", ...}`` event, preceded by ``{"type": "announce", ...}``
  events for what the announcer decided to say. Bad messages get ``{"type": "error"}`` and the
  connection stays open.

Frames and photos are held and decoded in memory and never written to disk (``upload.py``); requests
for other hosts or from other web pages are refused (``guard.py``).
"""

import base64
import functools
import io
import json
import time
from dataclasses import dataclass, field, replace

import numpy as np

from fera.errors import FeraError, missing_package
from fera.images import MAX_PIXELS, ImageRefused, read_rgb
from fera.runtime.classify import ClassifyConfig
from fera.runtime.settings import Settings
from fera.runtime.wording import status_text
from fera.web.upload import Refused, read_form

# the page's own policy (its <meta> holds the same, for static hosts) and frame-ancestors, which only a header sets;
# 'wasm-unsafe-eval' lets the page compile WebAssembly (onnxruntime-web), never evaluate JavaScript
CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"  # loopback only; another address needs allow_remote
    port: int = 8000  # requests must be for this port (0: whatever port the server listens on)
    allowed_hosts: tuple[str, ...] = ()  # host names besides loopback that requests may be for (--allow_remote)
    photo_model: str | None = None  # a shipped name or .onnx for photos (default: the most accurate shipped)
    live_model: str = ClassifyConfig.model  # ... for the live camera, and the model of the page (it runs in the browser)
    max_upload_bytes: int = 10 * 2**20  # uploads above this are refused with 413
    max_pixels: int = MAX_PIXELS  # images above this many pixels are refused from their header (decompression bombs)
    max_frame_bytes: int = 2 * 2**20  # one live frame, at most
    runtime: Settings = field(default_factory=Settings)  # the assistant's settings (its classify.model: see above)


STATUS = {"empty": 400, "not_image": 415, "too_large": 413, "damaged": 415}  # fera.images.ImageRefused kinds


def data_url(img, fmt: str = "JPEG") -> str:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=85) if fmt == "JPEG" else img.save(buf, format=fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode()}"


class Models:
    """The detector, the classifiers and the Keras model for Grad-CAM: each loaded once, on first use,
    and shared by every request and connection."""

    def __init__(self, cfg: ServeConfig):
        self.cfg = cfg
        self._detector = self._photo = self._live = self._keras = None

    @property
    def photo_model(self) -> str:
        from fera.runtime.settings import model_for

        return self.cfg.photo_model or model_for(still=True)

    def detector(self):
        from fera.runtime.settings import build_detector

        if self._detector is None:
            self._detector = build_detector(self.cfg.runtime.detect)
        return self._detector

    def _classifier(self, model: str):
        from fera.runtime.settings import build_classifier

        return build_classifier(replace(self.cfg.runtime.classify, model=model))

    def live_classifier(self):
        if self._live is None:
            self._live = self._classifier(self.cfg.live_model)
        return self._live

    def assistant(self, live: bool):
        """A fresh assistant (tracker, smoother, announcer) per live connection; one for every photo. Both share the
        loaded detector and classifiers."""
        from fera.runtime.pipeline import Assistant

        if live:
            return Assistant.create(self.cfg.runtime, detector=self.detector(), classifier=self.live_classifier())
        if self._photo is None:
            self._photo = Assistant.create(self.cfg.runtime, detector=self.detector(),
                                           classifier=self._classifier(self.photo_model))
        return self._photo

    def keras(self):
        """(Keras model, meta) of the photo model, for Grad-CAM."""
        from fera.training.modelio import load_keras

        if self._keras is None:
            self._keras = load_keras(self.photo_model)
        return self._keras


def analyze(assistant, image: np.ndarray) -> dict:
    """What `fera assist` says of a photo, with an annotated copy and its text alternative."""
    from fera.runtime.draw import annotate

    info, faces, sentence = assistant.photo(image)
    records = [assistant.face_record(info, f) for f in faces]
    alt = f"The photo with a box around each face found, labelled: {sentence}"
    return {"sentence": sentence, "width": info.width, "height": info.height, "faces": records,
            "annotated": data_url(annotate(image, faces, assistant, info)), "annotated_alt": alt}


def create_app(cfg: ServeConfig | None = None):
    from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from fera.web.guard import LocalOnly
    from fera.web.site import SiteConfig, make_site, media_type

    cfg = cfg or ServeConfig()
    models = Models(cfg)
    # the page: the static site, served from its sources (a site without the runtime when npm's is missing: the
    # page then says so, and the API below works as before)
    site = make_site(SiteConfig(model=cfg.live_model, require_runtime=False))
    app = FastAPI(title="fera", version="1", docs_url=None, redoc_url=None,
                  description="Describe the faces in photos or a live camera, offline.")
    app.add_middleware(LocalOnly, port=cfg.port, hosts=cfg.allowed_hosts)  # inside the headers below

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    async def read_upload(request: Request, fields: tuple[str, ...] = ()) -> tuple[np.ndarray, dict]:
        data, values = await read_form(request, cfg.max_upload_bytes, fields)
        try:  # non-images are refused (415), oversized ones too (413, from the header)
            return await run_in_threadpool(read_rgb, data, cfg.max_pixels), values
        except ImageRefused as e:
            raise Refused(STATUS[e.kind], str(e)) from None

    def site_file(path: str):
        v = site.files[path]
        headers = {"Cache-Control": "no-cache"}  # revalidated; the service worker keeps the page for offline use
        if isinstance(v, bytes):
            return Response(v, media_type=media_type(path), headers=headers)
        return FileResponse(v, media_type=media_type(path), headers=headers)

    @app.get("/", include_in_schema=False)
    async def index():
        return site_file("index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return site_file("favicon.svg")

    @app.get("/api/features", include_in_schema=False)
    async def features():
        """What this server adds to the page (a static host has none of it): Grad-CAM needs Keras."""
        import importlib.util

        try:
            explain = importlib.util.find_spec("keras") is not None
        except (ImportError, ValueError):
            explain = False
        return {"explain": explain, "docs": True, "analyze": True}

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    async def docs():
        from fera.web.apidocs import render_docs

        return render_docs(app.openapi())

    @app.get("/earcons/{name}.wav", include_in_schema=False)
    async def earcon(name: str, position: str | None = None):
        wav = await run_in_threadpool(earcon_file, models, name, position)
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/analyze", summary="Describe the faces in a photo", openapi_extra=upload_schema(cfg),
              responses=REFUSALS)
    async def api_analyze(request: Request):
        """Faces (box, position, expression, confidence, probabilities), the sentence the assistant
        would say, and an annotated copy of the photo (a JPEG data URL) with its text alternative."""
        image, _ = await read_upload(request)
        return await run_in_threadpool(lambda: analyze(models.assistant(live=False), image))

    @app.post("/api/explain", summary="Grad-CAM overlays for the faces in a photo",
              openapi_extra=upload_schema(cfg, class_name=True), responses=REFUSALS)
    async def api_explain(request: Request):
        """For each face: the class explained, its calibrated probability, where the heat is in words,
        and the overlay as a PNG data URL. Needs Keras (``pip install fera[train]``)."""
        image, values = await read_upload(request, ("class_name",))
        return await run_in_threadpool(lambda: explain(models, image, values.get("class_name") or None))

    @app.websocket("/api/live")
    async def live(ws: WebSocket):
        await ws.accept()
        assistant = await run_in_threadpool(lambda: models.assistant(live=True))
        try:
            while True:
                msg = await ws.receive()
                if msg.get("type") == "websocket.disconnect":
                    break
                for event in await run_in_threadpool(lambda: handle_message(assistant, msg, cfg)):
                    await ws.send_text(json.dumps(event))
        except WebSocketDisconnect:
            pass

    @app.get("/{path:path}", include_in_schema=False)
    async def page_file(path: str):
        if path not in site.files:
            raise Refused(404, f"no such file: /{path[:80]}")
        return site_file(path)

    return app


EARCON_POSITIONS = ("left", "ahead", "right")


def earcon_file(models: Models, name: str, position: str | None) -> bytes:
    """The WAV of an earcon the page may play: a class of the live model or a status sound; else 404."""
    from fera.runtime.earcons import earcon_names

    names = earcon_names(models.live_classifier().class_names)
    if name not in names or position not in (None, *EARCON_POSITIONS):
        raise Refused(404, f"no earcon {name[:40]!r} at {str(position)[:10]!r}; the sounds: {', '.join(names)}")
    return _earcon_wav(name, position)


@functools.lru_cache(maxsize=64)
def _earcon_wav(name: str, position: str | None) -> bytes:
    from fera.runtime.earcons import earcon_wav

    return earcon_wav(name, position)


REFUSALS = {403: {"description": "for another host, or from another web page"},
            413: {"description": "larger than the limits"}, 415: {"description": "not an image fera reads"}}


def upload_schema(cfg: ServeConfig, class_name: bool = False) -> dict:
    """The request body, for /docs and /openapi.json (the routes read it themselves, in memory)."""
    props = {"file": {"type": "string", "format": "binary",
                      "description": f"the photo (at most {cfg.max_upload_bytes / 2**20:g} MB)"}}
    if class_name:
        props["class_name"] = {"type": "string", "description": "explain this class instead of the predicted one"}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": props}}}}}


def explain(models: Models, image: np.ndarray, class_name: str | None) -> dict:
    from fera.training.explain import explain_faces, find_faces, heat_words, overlay

    try:
        model, meta = models.keras()
    except ImportError as e:
        raise Refused(501, missing_package(e)) from None
    crops, boxes = find_faces(image, detector=models.detector())
    if not crops:
        return {"faces": [], "sentence": status_text("no_face")}
    if class_name and class_name not in meta["class_names"]:
        raise Refused(400, f"unknown class {class_name!r}; the model's classes: {', '.join(meta['class_names'])}")
    cams, probs, idx = explain_faces(model, meta, crops, class_name or None)
    out = []
    for n, (crop, cam, p, k) in enumerate(zip(crops, cams, probs, idx), start=1):
        label, heat = meta["class_names"][int(k)], heat_words(cam)
        out.append({"label": label, "probability": round(float(p[k]), 4), "heat": heat,
                    "overlay": data_url(overlay(crop, cam, f"{label} {p[k]:.0%}"), "PNG"),
                    "alt": f"Face {n}: Grad-CAM for {label} ({p[k]:.0%}); the heat is on {heat}"})
    return {"faces": out}


def handle_message(assistant, msg: dict, cfg: ServeConfig) -> list[dict]:
    """One WebSocket message -> the events to send back (never raises)."""
    if msg.get("bytes") is not None:
        t0 = time.perf_counter()
        data = msg["bytes"]
        if len(data) > cfg.max_frame_bytes:
            return [{"type": "error", "message": f"frame larger than {cfg.max_frame_bytes // 2**20} MB ignored"}]
        try:
            image = read_rgb(data, cfg.max_pixels)
        except ImageRefused as e:
            return [{"type": "error", "message": f"frame ignored: {e}"}]
        r = assistant.step(image, time.monotonic())
        events = [announce(d) for d in r.decisions if d.spoken]
        faces = [assistant.face_record(r.frame, f) for f in r.faces]
        return events + [{"type": "frame", "faces": faces, "ms": round((time.perf_counter() - t0) * 1000, 1)}]
    try:
        cmd = json.loads(msg.get("text") or "")
        kind = cmd.get("type")
    except (ValueError, AttributeError):
        return [{"type": "error", "message": "not understood: send JSON commands or image frames"}]
    if kind == "describe":
        return [announce(assistant.describe_now())]
    if kind == "verbosity":
        try:
            return [{"type": "verbosity", "value": assistant.set_verbosity(cmd.get("value"))}]
        except ValueError as e:
            return [{"type": "error", "message": str(e)}]
    if kind == "reset":
        assistant.reset()
        return [{"type": "reset"}]
    return [{"type": "error", "message": f"unknown command {str(kind)[:40]!r}"}]


def announce(d) -> dict:
    return {"type": "announce", "text": d.text, "kind": d.kind, "code": d.code, "label": d.label,
            "position": d.position, "earcon": d.earcon}


WILDCARDS = ("0.0.0.0", "::", "")


def serve(cfg: ServeConfig) -> int:
    """Serve ``create_app(cfg)`` on ``cfg.host``:``cfg.port`` until Ctrl-C; "serving on" is printed once the socket
    listens (a connection made from then on waits until the server takes it)."""
    import os
    import socket
    import sys

    try:
        import uvicorn
    except ImportError:
        raise FeraError("fera serve needs uvicorn and fastapi: pip install fastapi uvicorn python-multipart") from None
    app = create_app(cfg)
    try:  # the socket is fera's: a clear line when it cannot be had, and "serving on" is true when printed
        sock = socket.create_server((cfg.host, cfg.port), family=socket.AF_INET6 if ":" in cfg.host
                                    else socket.AF_INET, backlog=128)
    except OSError as e:
        why = os.strerror(e.errno).lower() if e.errno else str(e)
        raise FeraError(f"cannot listen on {cfg.host}:{cfg.port}: {why} (choose another --port)") from None
    from fera.web.guard import host_name

    page = f"http://{'127.0.0.1' if cfg.host in WILDCARDS else host_name(cfg.host)}:{cfg.port}/"
    with sock:  # connections made from now on wait in the backlog until the server takes them
        print(f"fera: serving on {page} (Ctrl-C stops)", file=sys.stderr, flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=4 * 2**20))
        server.run(sockets=[sock])
    return 0
