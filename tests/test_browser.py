"""fera's page in a real browser: Debian's Chromium driven by Playwright, axe-core injected from npm.

The page runs the models itself (onnxruntime-web); it is served by `fera serve` (tests/conftest.py's
running_server) and, for the offline test, as the static site `fera web build` writes, by Python's http.server.
The page keeps its strict Content-Security-Policy in these tests, so waits watch the page's own record
(``window.fera``: every push is checked, nothing is polled; Playwright's wait_for_function evaluates strings, which
the CSP forbids) or use selectors, each bounded, and axe is evaluated through the DevTools protocol.
"""
import base64
import http.server
import importlib.util
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, running_server
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
ORT = REPO / "node_modules" / "onnxruntime-web" / "dist" / "ort.wasm.min.mjs"
SAMPLES = REPO / "src" / "fera" / "assets" / "samples"
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)", allow_module_level=True)
if not AXE.is_file() or not ORT.is_file():
    pytest.skip("axe-core or onnxruntime-web is not installed (npm ci in the repository; make test does)",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# no request of Chromium's own (updates, safe browsing, metrics ...): every request a test sees is the page's
QUIET = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-domain-reliability", "--no-first-run", "--metrics-recording-only",
         "--autoplay-policy=no-user-gesture-required"]
VIBRATE_STUB = ("window.__vibrated = []; Object.defineProperty(Navigator.prototype, 'vibrate', {configurable: true, "
                "value: function (p) { window.__vibrated.push([].concat(p)); return true; }});")
_spec = importlib.util.spec_from_file_location("make_traces", REPO / "scripts" / "make_traces.py")
traces = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(traces)


@pytest.fixture(scope="module")
def server():
    with running_server() as url:
        yield url


@pytest.fixture(scope="module")
def pw():
    with playwright.sync_playwright() as p:
        yield p


def launch(pw, *args):
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*QUIET, *args])


@pytest.fixture(scope="module")
def browser(pw):
    b = launch(pw)
    yield b
    b.close()


@contextmanager
def opened(browser_, url, **context):
    """A new context and page at ``url``, closed however the test ends."""
    ctx = browser_.new_context(**context)
    try:
        ctx.add_init_script(VIBRATE_STUB)
        page = ctx.new_page()
        page.goto(url)
        yield page
    finally:
        ctx.close()


def y4m(path: Path, seconds: float = 4.0, fps: int = 10, size=(320, 240)) -> Path:
    """A Y4M clip (what Chromium's fake camera plays, looping) from the sample photos: the astronaut's face, then
    Grace Hopper's, each for half the clip, about 110 px high in a 320 x 240 frame."""
    w, h = size
    grey = np.full((h, w, 3), 110, np.uint8)
    scenes = [traces.paste(grey, "astronaut.png", 110, w / 2, h / 2), traces.paste(grey, "grace_hopper.jpg", 110, w / 2, h / 2)]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        n = int(seconds * fps)
        for i in range(n):
            ycc = np.asarray(Image.fromarray(scenes[2 * i // n]).convert("YCbCr"))
            f.write(b"FRAME\n" + ycc[:, :, 0].tobytes() + ycc[::2, ::2, 1].tobytes() + ycc[::2, ::2, 2].tobytes())
    return path


def axe_violations(page) -> list:
    page.evaluate(AXE.read_text())  # through the DevTools protocol: the page's CSP still applies to the page
    return page.evaluate("async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
                         ".violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))}))", WCAG)


def wait_for_record(page, name: str, test: str, what: str, timeout_s: float = 60.0):
    """What the JS expression ``test`` of ``list`` (the page's record ``window.fera[name]``) gives, as soon as it is
    truthy. The page's push onto the list checks it, so nothing is polled; after ``timeout_s`` the test fails
    saying what never happened."""
    value = page.evaluate(
        "([name, ms]) => new Promise((resolve) => {"
        "  const list = window.fera[name], push = list.push;"
        f"  const check = () => {{ const v = ({test}); if (v) resolve(v); }};"
        "  list.push = function (...items) { const n = push.apply(this, items); check(); return n; };"
        "  check();"
        "  setTimeout(() => resolve(null), ms);"
        "})", [name, timeout_s * 1000])
    if not value:
        raise AssertionError(f"{what} within {timeout_s} s; window.fera.{name} = "
                             f"{page.evaluate(f'window.fera.{name}')!r:.500}; alert: {page.text_content('#alert')!r}")
    return value


def wait_event(page, event: str, what: str, timeout_s: float = 90.0):
    return wait_for_record(page, "events", f"list.find((e) => e === '{event}' || e.name === '{event}')", what, timeout_s)


def models_ready(page):
    return wait_event(page, "models-ready", "the page did not load its models")


def describe_photo(page, path, expect="#announcer:not(:empty)"):
    page.set_input_files("#photo-file", str(path))
    page.click("#describe-photo")
    page.wait_for_selector(expect, timeout=90000)


# ---- photos ---------------------------------------------------------------------------------------------------

def test_photo_is_described_on_the_device(browser, server):
    with opened(browser, server) as page:
        models_ready(page)
        assert axe_violations(page) == []  # the page as it loads
        describe_photo(page, SAMPLES / "astronaut.png")
        assert page.text_content("#announcer") == "1 face: ahead appears happy"
        assert "1 face: ahead appears happy" in page.get_attribute("#photo-annotated", "alt")
        assert page.get_attribute("#photo-annotated", "src").startswith("data:image/jpeg")
        assert axe_violations(page) == []  # with the result and the annotated photo
        page.wait_for_selector("#explain-photo:not([hidden]):not([disabled])")
        page.click("#explain-photo")  # what fera serve adds: Grad-CAM, computed on the server
        page.wait_for_selector("#explain-result figure img", timeout=90000)
        assert page.get_attribute("#explain-result img", "alt").startswith("Face 1: Grad-CAM for happy")
        assert axe_violations(page) == []


def test_non_image_gives_an_alert_and_clears_the_previous_photo(browser, server, tmp_path):
    """The old photo, its text alternative and caption go, and Grad-CAM is disabled: a screen reader never meets
    the previous photo's description after a new one failed. Opened as localhost this time."""
    with opened(browser, server.replace("127.0.0.1", "localhost")) as page:
        describe_photo(page, SAMPLES / "grace_hopper.jpg", "#explain-photo:not([disabled])")
        assert page.text_content("#photo-sentence") == "1 face: ahead appears neutral"
        (tmp_path / "notes.png").write_text("not really a photo")
        describe_photo(page, tmp_path / "notes.png", "#alert:not(:empty)")
        assert "not an image" in page.text_content("#alert")
        assert page.is_disabled("#explain-photo") and page.is_hidden("#photo-figure")
        assert page.get_attribute("#photo-annotated", "alt") == "" and page.get_attribute("#photo-annotated", "src") is None
        assert page.text_content("#photo-caption") == "" and page.text_content("#photo-sentence") == ""
        assert axe_violations(page) == []


def test_the_page_detects_and_classifies_as_python_does(browser, server):
    """Detector conformance: on the sample photos and a three-person scene, the page's letterbox input is Python's
    to float precision, its faces Python's within a tenth of a pixel, its face crops Python's exactly and its
    calibrated probabilities Python's within 1e-4 (ONNX Runtime Web against ONNX Runtime)."""
    from fera.runtime.classify import Classifier, ClassifyConfig
    from fera.runtime.detect import BlazeFaceDetector, letterbox

    site = site_info(server)  # the page's classifier file: the int8 one when the model ships one
    detector, clf = BlazeFaceDetector("full"), Classifier(ClassifyConfig(model="fast", int8=site["classifier"]["int8"]))
    scenes = [np.asarray(Image.open(SAMPLES / n).convert("RGB")) for n in ("astronaut.png", "grace_hopper.jpg")]
    scenes.append(traces.group([("astronaut.png", 130, 130, 230), ("grace_hopper.jpg", 150, 330, 250),
                                ("astronaut.png", 110, 530, 220)]))
    with opened(browser, server) as page:
        for rgb in scenes:
            h, w = rgb.shape[:2]
            rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], 2)
            got = page.evaluate("""async ([b64, w, h]) => {
                const [{ loadModels }, { letterbox }, { squareFace }] = await Promise.all([
                  import('./static/js/runtime.mjs'), import('./static/js/detect.mjs'), import('./static/js/classify.mjs')]);
                window.__models = window.__models || await loadModels(await (await fetch('site.json')).json());
                const { detector, classifier } = window.__models;
                const data = Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));
                const frame = { width: w, height: h, data, channels: 4 };
                const faces = await detector.detect(frame);
                const boxes = faces.map((f) => ({ x: Math.max(f.box.x, 0), y: Math.max(f.box.y, 0),
                  w: Math.min(f.box.x + f.box.w, w) - Math.max(f.box.x, 0), h: Math.min(f.box.y + f.box.h, h) - Math.max(f.box.y, 0) }));
                const probs = await classifier.classify(frame, boxes);
                return { tensor: Array.from(letterbox(frame, 192).tensor), faces,
                         crops: boxes.map((b) => Array.from(squareFace(frame, b, classifier.size, classifier.resize))),
                         probs: probs.map((p) => Array.from(p)) };
            }""", [base64.b64encode(rgba.tobytes()).decode(), w, h])
            assert np.abs(np.array(got["tensor"]) - letterbox(rgb, 192)[0].ravel()).max() < 1e-6
            want = detector.detect(rgb)
            assert len(got["faces"]) == len(want) >= 1
            for g, f in zip(got["faces"], want):
                assert np.allclose([g["box"][k] for k in "xywh"], [f.x, f.y, f.w, f.h], atol=0.1), (g, f)
                assert abs(g["score"] - f.score) < 1e-3
                assert np.allclose(g["keypoints"], f.keypoints, atol=0.1)
            boxes = [f.clip(w, h) for f in want]
            for crop, b in zip(got["crops"], boxes):
                want_crop = clf.inputs(rgb, [b])[0]  # square_face at the model's own input size and resize method
                assert np.array_equal(np.array(crop, np.uint8).reshape(want_crop.shape), want_crop)
            assert np.abs(np.array(got["probs"]) - clf(rgb, boxes)).max() < 1e-4


def test_the_webgpu_runtime_gives_the_same_faces(pw, server):
    """WebGPU where the browser has it: Chromium's software WebGPU (SwiftShader) stands in for a phone's GPU; the
    page picks the WebGPU build of onnxruntime-web, and its faces and probabilities are Python's (slowly: the
    software GPU takes seconds a run)."""
    from fera.runtime.classify import Classifier, ClassifyConfig
    from fera.runtime.detect import BlazeFaceDetector

    rgb = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB"))
    h, w = rgb.shape[:2]
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], 2)
    b = launch(pw, "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
               "--use-webgpu-adapter=swiftshader", "--use-angle=swiftshader")
    try:
        with opened(b, server) as page:
            if not page.evaluate("async () => Boolean(navigator.gpu && await navigator.gpu.requestAdapter())"):
                pytest.skip("this Chromium has no WebGPU adapter, not even SwiftShader's")
            got = page.evaluate("""async ([b64, w, h]) => {
                const { loadModels } = await import('./static/js/runtime.mjs');
                const m = await loadModels(await (await fetch('site.json')).json());
                const frame = { width: w, height: h, data: Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0)), channels: 4 };
                const faces = await m.detector.detect(frame);
                const probs = await m.classifier.classify(frame, faces.map((f) => f.box));
                return { backend: m.backend, classifierBackend: m.classifierBackend, faces, probs: probs.map((p) => Array.from(p)) };
            }""", [base64.b64encode(rgba.tobytes()).decode(), w, h])
    finally:
        b.close()
    assert got["backend"] == "webgpu"  # the detector's; an int8 classifier runs on WebAssembly (runtime.mjs says why)
    assert got["classifierBackend"] == ("wasm" if site_info(server)["classifier"]["int8"] else "webgpu")
    want = BlazeFaceDetector("full").detect(rgb)
    assert len(got["faces"]) == len(want) == 1
    assert np.allclose([got["faces"][0]["box"][k] for k in "xywh"], [want[0].x, want[0].y, want[0].w, want[0].h], atol=0.1)
    probs = Classifier(ClassifyConfig(model="fast", int8=site_info(server)["classifier"]["int8"]))(rgb, [want[0].box])
    assert np.abs(np.array(got["probs"]) - probs).max() < 1e-3


# ---- the camera -----------------------------------------------------------------------------------------------

def test_live_camera_announces_plays_earcons_and_vibrates(pw, server, tmp_path):
    """The fake camera plays the sample photos: the live region says the expression, the runtime's own earcon is
    played (the same WAV bytes, ahead) and navigator.vibrate gets the expression's pattern."""
    from fera.runtime.earcons import earcon_wav

    patterns = page_patterns()
    b = launch(pw, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
               f"--use-file-for-fake-video-capture={y4m(tmp_path / 'faces.y4m')}")
    try:
        with opened(b, server) as page:
            models_ready(page)
            page.focus("#camera")
            page.keyboard.press("Enter")  # keyboard only
            page.wait_for_selector("#camera[aria-pressed=true]")
            # the fake camera loops astronaut, Grace Hopper, ...: where the loop is when the page's first frame
            # arrives depends on how long the page took to start, so wait for the astronaut's smile, whichever came first
            said = wait_for_record(page, "live", "list.find((a) => a.includes('appears happy'))",
                                   "the astronaut's smile never reached the live region from the camera", 90)
            assert said == "ahead, appears happy"
            played = wait_for_record(page, "earcons", "list.find((e) => e.name === 'happy')", "no happy earcon played")
            assert played["position"] == "ahead"
            sound = wait_for_record(page, "earconBytes", "list.find((e) => e.url.includes('happy-ahead'))", "no bytes")
            assert bytes(sound["bytes"]) == earcon_wav("happy", "ahead")
            assert patterns["happy"] in page.evaluate("window.__vibrated")  # the stub saw the pattern
            assert axe_violations(page) == []  # camera running
            order = []
            for _ in range(3):  # with the camera on, its controls are enabled: Tab reaches each in turn
                page.keyboard.press("Tab")
                order.append(page.evaluate("document.activeElement.id"))
            assert order == ["describe", "pause", "mute"]
            page.select_option("#verbosity", "3")
            page.focus("#describe")
            page.keyboard.press("Enter")  # describe now
            said = wait_for_record(page, "announcements", "list.find((a) => a.startsWith('1 face'))",
                                   "'describe now' announced nothing")
            assert said.startswith("1 face: ahead, ") and "%" in said  # verbosity 3 adds distance and confidence
            later = wait_for_record(page, "live", "list.find((a) => a.startsWith('ahead, ') && a.includes('appears neutral'))",
                                    "Grace Hopper's neutral face was never announced as a change", 90)
            assert later.startswith("ahead, ") and "appears neutral" in later  # verbosity 3: with distance and %
            assert patterns["neutral"] in page.evaluate("window.__vibrated")
            timings = page.evaluate("window.fera.timings")
            print(f"\npage in Chromium: {len(timings)} frames, median {np.median([t['total'] for t in timings]):.0f} "
                  f"ms a frame")
            page.click("#camera")
            page.wait_for_selector("#camera[aria-pressed=false]")
            assert page.text_content("#live-state") == "Camera off."
    finally:
        b.close()


def site_info(server: str) -> dict:
    """The served site's site.json: which files the page runs (the classifier's int8 flag among them)."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{server}/site.json", timeout=30) as r:
        return json.load(r)


def page_patterns() -> dict:
    import json
    import subprocess

    out = subprocess.run(["node", "--input-type=module", "-e", "import { PATTERNS } from "
                          f"'{(REPO / 'src/fera/web/static/js/vibrate.mjs').as_uri()}'; console.log(JSON.stringify(PATTERNS))"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out)


def test_switches_turn_sounds_and_vibration_off(pw, server, tmp_path):
    b = launch(pw, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
               f"--use-file-for-fake-video-capture={y4m(tmp_path / 'faces.y4m')}")
    try:
        with opened(b, server) as page:
            models_ready(page)
            page.uncheck("#sounds")
            page.uncheck("#vibration")
            page.click("#camera")
            wait_for_record(page, "live", "list.find((a) => a.includes('appears'))", "nothing was announced", 90)
            assert page.evaluate("window.fera.earcons") == [] and page.evaluate("window.__vibrated") == []
    finally:
        b.close()


def test_camera_error_is_an_alert(pw, server):
    b = launch(pw)  # no fake camera: there is none
    try:
        with opened(b, server) as page:
            page.click("#camera")
            page.wait_for_selector("#alert:not(:empty)", timeout=90000)
            assert page.text_content("#alert").endswith("press Start camera again.")
            assert axe_violations(page) == []
    finally:
        b.close()


# ---- offline, any static host ---------------------------------------------------------------------------------

@contextmanager
def static_host(folder: Path):
    """Python's http.server on loopback serving ``folder``: what any static host does."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(folder), **k)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = threading.Thread(target=httpd.serve_forever, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        serving.join(30)
        assert not serving.is_alive(), "the static host did not stop within 30 s"


def test_the_static_site_works_offline_after_the_first_load(browser, tmp_path):
    """`fera web build`'s site on a plain static server: the service worker keeps it; with the network gone, a
    reload still starts, loads the models and describes a photo. No request ever leaves the page's origin."""
    from fera.web.site import make_site

    site = make_site().build(tmp_path / "site")
    with static_host(site) as url, opened(browser, url + "/") as page:
        requests = []
        page.context.on("request", lambda r: requests.append(r.url))
        models_ready(page)
        wait_event(page, "offline-ready", "the service worker did not take the page for offline use")
        page.context.set_offline(True)
        page.reload()
        models_ready(page)
        describe_photo(page, SAMPLES / "astronaut.png")
        assert page.text_content("#announcer") == "1 face: ahead appears happy"
        assert page.text_content("#offline-state").startswith("Saved on this device")
        page.set_viewport_size({"width": 320, "height": 640})
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        assert axe_violations(page) == []
    assert requests and all(r.startswith(url + "/") for r in requests), [r for r in requests if not r.startswith(url)]


# ---- keyboard, layout, and who may use the server ----------------------------------------------------------------

def test_every_control_is_reached_with_tab_and_shows_focus(browser, server):
    with opened(browser, server) as page:
        models_ready(page)
        page.wait_for_selector("#server-links:not([hidden])")  # fera serve adds its API documentation
        seen = []
        for _ in range(18):
            page.keyboard.press("Tab")
            info = page.evaluate("(() => { const e = document.activeElement; const s = getComputedStyle(e); "
                                 "return [e === document.body ? 'body' : e.id || e.textContent.trim(), s.outlineStyle, "
                                 "s.outlineWidth, e.getBoundingClientRect().height]; })()")
            seen.append(info[0])
            if info[0] != "body":  # body: past the last control
                assert info[1] != "none" and info[2] != "0px", info  # visible focus
        for control in ("camera", "mute", "photo-file", "describe-photo", "verbosity", "facing", "speech", "sounds",
                        "vibration", "API documentation"):
            assert control in seen, (control, seen)
        big = page.evaluate("[...document.querySelectorAll('button:not([hidden]), select')].every((e) => "
                            "e.getBoundingClientRect().height >= 44 && e.getBoundingClientRect().width >= 44)")
        assert big  # touch targets


@pytest.mark.parametrize("width", [320, 1280])
def test_reflows_and_passes_axe_at(browser, server, width):
    with opened(browser, server, viewport={"width": width, "height": 800}) as page:
        models_ready(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no horizontal scrolling
        assert page.evaluate("document.querySelectorAll('h1').length") == 1
        assert axe_violations(page) == []


def test_other_websites_cannot_use_fera(pw, server, tmp_path):
    """A page of another website (evil.example, resolved to this computer as DNS rebinding would) gets 403
    for fera's page under its own name, and its WebSocket to fera is refused before any event."""
    port = int(server.rsplit(":", 1)[1])
    (tmp_path / "index.html").write_text(
        "<!doctype html><title></title><script>"
        f"const ws = new WebSocket('ws://127.0.0.1:{port}/api/live');"
        "ws.onopen = () => { document.title = 'opened'; ws.send(JSON.stringify({type: 'describe'})); };"
        "ws.onmessage = (m) => { document.title = 'message ' + m.data; };"
        "ws.onclose = () => { if (!document.title) document.title = 'refused'; };</script>")
    b = launch(pw, "--host-resolver-rules=MAP evil.example 127.0.0.1")
    try:
        with static_host(tmp_path) as evil:
            page = b.new_page()
            r = page.goto(f"http://evil.example:{port}/")  # fera's own page, under another site's name
            assert r.status == 403 and "only requests for this computer" in page.content()
            page.goto(evil.replace("127.0.0.1", "evil.example") + "/")  # another site's page, talking to fera
            # that page has no CSP, so Playwright may wait on its script: the socket's first event names the title
            page.wait_for_function("document.title !== ''", timeout=30000)
            assert page.title() == "refused"
    finally:
        b.close()


def test_server_answers_only_on_loopback(server):
    port = int(server.rsplit(":", 1)[1])
    addrs = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    addrs |= {_outward_address()} - {None, "127.0.0.1"}
    if not addrs:
        pytest.skip("this machine has no address besides loopback")
    for a in addrs:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((a, port)) != 0, f"the server answered on {a}"


def _outward_address():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # UDP: nothing is sent
            return s.getsockname()[0]
    except OSError:
        return None


def test_run_report_has_no_axe_violations(browser, demo_root, tmp_path):
    """The report of `fera report` / `fera evaluate --report` (shipped model, tiny data) in the browser."""
    from fera.cli import main

    out = tmp_path / "eval"
    assert main(["evaluate", "--model", "fast", "--data_root", str(demo_root), "--out_dir", str(out), "--report"]) == 0
    page = browser.new_page()
    try:
        page.goto((out / "report.html").as_uri())
        assert page.title().startswith("fera report: eval")
        assert axe_violations(page) == []
        page.set_viewport_size({"width": 320, "height": 640})
        assert axe_violations(page) == []
    finally:
        page.close()
