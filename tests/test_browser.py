"""fera's web page in a real browser: Debian's Chromium driven by Playwright, axe-core injected from npm.

The page keeps its strict Content-Security-Policy in these tests, so waits use selectors (Playwright's
``wait_for_function`` evaluates strings, which the CSP forbids) and axe is evaluated through the
DevTools protocol, like any page script would not be.
"""
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, running_server
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SAMPLES = REPO / "src" / "fera" / "assets" / "samples"
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)", allow_module_level=True)
if not AXE.is_file():
    pytest.skip("axe-core is not installed (npm install in the repository; make test does)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="module")
def server():
    with running_server() as url:
        yield url


def y4m(path: Path, frames: int = 45) -> Path:
    """A 640 x 480 Y4M video (what Chromium's fake camera plays, looping) of the astronaut's portrait."""
    canvas = np.full((480, 640, 3), 100, np.uint8)
    canvas[90:390, 170:470] = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB").resize((300, 300)))
    ycc = np.asarray(Image.fromarray(canvas).convert("YCbCr"))
    y = ycc[:, :, 0].tobytes()
    u, v = (ycc[::2, ::2, i].tobytes() for i in (1, 2))
    with open(path, "wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            f.write(b"FRAME\n" + y + u + v)
    return path


@pytest.fixture(scope="module")
def pw():
    with playwright.sync_playwright() as p:
        yield p


def launch(pw, *args):
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", *args])


def axe_violations(page) -> list:
    page.evaluate(AXE.read_text())  # through the DevTools protocol: the page's CSP still applies to the page
    result = page.evaluate("async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
                           ".violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))}))", WCAG)
    return result


def wait_for_record(page, name: str, test: str, what: str, timeout_s: float = 30.0):
    """What the JS expression ``test`` of ``list`` (the page's record ``window.fera[name]``: announcements, earcons)
    gives, as soon as it is truthy. The page's push onto the list checks it, so nothing is polled; after
    ``timeout_s`` the test fails saying what never happened (the page's CSP rules out wait_for_function)."""
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
                             f"{page.evaluate(f'window.fera.{name}')!r:.500}")
    return value


@pytest.fixture(scope="module")
def browser(pw):
    b = launch(pw)
    yield b
    b.close()


def test_photo_upload_is_announced_in_the_live_region(browser, server):
    page = browser.new_page()
    page.goto(server)
    assert axe_violations(page) == []  # the page as it loads
    page.set_input_files("#photo-file", str(SAMPLES / "astronaut.png"))
    page.click("#describe-photo")
    page.wait_for_selector("#announcer:not(:empty)", timeout=30000)
    assert page.text_content("#announcer") == "1 face: ahead appears happy"
    assert "1 face: ahead appears happy" in page.get_attribute("#photo-annotated", "alt")
    assert axe_violations(page) == []  # with the result and the annotated photo
    page.click("#explain-photo")
    page.wait_for_selector("#explain-result figure img", timeout=60000)
    assert page.get_attribute("#explain-result img", "alt").startswith("Face 1: Grad-CAM for happy")
    assert axe_violations(page) == []


def test_non_image_upload_gives_an_alert(browser, server, tmp_path):
    page = browser.new_page()
    page.goto(server)
    (tmp_path / "notes.png").write_text("not really a photo")
    page.set_input_files("#photo-file", str(tmp_path / "notes.png"))
    page.click("#describe-photo")
    page.wait_for_selector("#alert:not(:empty)")
    assert "not an image" in page.text_content("#alert")
    assert axe_violations(page) == []


def test_a_failed_upload_clears_the_previous_photo(browser, server, tmp_path):
    """The old photo, its text alternative and caption go, and Grad-CAM is disabled: a screen reader never
    meets the previous photo's description after a new one failed. Opened as localhost this time."""
    page = browser.new_page()
    page.goto(server.replace("127.0.0.1", "localhost"))
    page.set_input_files("#photo-file", str(SAMPLES / "astronaut.png"))
    page.click("#describe-photo")
    page.wait_for_selector("#explain-photo:not([disabled])", timeout=30000)
    assert "appears happy" in page.get_attribute("#photo-annotated", "alt")
    (tmp_path / "notes.png").write_text("not really a photo")
    page.set_input_files("#photo-file", str(tmp_path / "notes.png"))
    page.click("#describe-photo")
    page.wait_for_selector("#alert:not(:empty)")
    assert page.is_disabled("#explain-photo") and page.is_hidden("#photo-figure")
    assert page.get_attribute("#photo-annotated", "alt") == "" and page.get_attribute("#photo-annotated", "src") is None
    assert page.text_content("#photo-caption") == "" and page.text_content("#photo-sentence") == ""
    assert axe_violations(page) == []


def test_other_websites_cannot_use_fera(pw, server, tmp_path):
    """A page of another website (evil.example, resolved to this computer as DNS rebinding would) gets 403
    for fera's page under its own name, and its WebSocket to fera is refused before any event."""
    import http.server
    import threading

    port = int(server.rsplit(":", 1)[1])
    (tmp_path / "index.html").write_text(
        "<!doctype html><title></title><script>"
        f"const ws = new WebSocket('ws://127.0.0.1:{port}/api/live');"
        "ws.onopen = () => { document.title = 'opened'; ws.send(JSON.stringify({type: 'describe'})); };"
        "ws.onmessage = (m) => { document.title = 'message ' + m.data; };"
        "ws.onclose = () => { if (!document.title) document.title = 'refused'; };</script>")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # listening once made
    serving = threading.Thread(target=evil.serve_forever, daemon=True)
    serving.start()
    b = launch(pw, "--host-resolver-rules=MAP evil.example 127.0.0.1")
    try:
        page = b.new_page()
        r = page.goto(f"http://evil.example:{port}/")  # fera's own page, under another site's name
        assert r.status == 403 and "only requests for this computer" in page.content()
        page.goto(f"http://evil.example:{evil.server_address[1]}/")  # another site's page, talking to fera
        # that page has no CSP, so Playwright may wait on its script: the socket's first event names the title
        page.wait_for_function("document.title !== ''", timeout=30000)
        assert page.title() == "refused"
    finally:
        b.close()
        evil.shutdown()
        evil.server_close()
        serving.join(30)
        assert not serving.is_alive(), "the other site's server did not stop within 30 s"


def test_every_control_is_reached_with_tab_and_shows_focus(browser, server):
    page = browser.new_page()
    page.goto(server)
    seen = []
    for _ in range(14):
        page.keyboard.press("Tab")
        info = page.evaluate("(() => { const e = document.activeElement; const s = getComputedStyle(e); "
                             "return [e === document.body ? 'body' : e.id || e.textContent.trim(), s.outlineStyle, "
                             "s.outlineWidth]; })()")
        seen.append(info[0])
        if info[0] != "body":  # body: past the last control
            assert info[1] != "none" and info[2] != "0px", info  # visible focus
    for control in ("photo-file", "describe-photo", "camera", "mute", "verbosity", "speech", "API documentation"):
        assert control in seen, (control, seen)
    page.keyboard.press("Shift+Tab")  # and back


def test_live_camera_announces_and_reports_round_trip(pw, server, tmp_path):
    video = y4m(tmp_path / "face.y4m")
    b = launch(pw, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
               f"--use-file-for-fake-video-capture={video}")
    try:
        page = b.new_page()
        page.goto(server)
        page.focus("#camera")
        page.keyboard.press("Enter")  # keyboard only
        page.wait_for_selector("#camera[aria-pressed=true]")
        said = wait_for_record(page, "announcements", "list.find((a) => a.includes('appears'))",
                               "no expression was announced from the camera", 60)
        assert said == "ahead, appears happy"
        assert axe_violations(page) == []  # camera running
        order = []
        for _ in range(5):  # with the camera on, every control is enabled: Tab reaches each in turn
            page.keyboard.press("Tab")
            order.append(page.evaluate("document.activeElement.id"))
        assert order == ["describe", "pause", "mute", "verbosity", "speech"]
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("ArrowDown")  # verbosity 2 -> 3, from the keyboard
        assert page.evaluate("document.getElementById('verbosity').value") == "3"
        for _ in range(3):  # back over mute and pause
            page.keyboard.press("Shift+Tab")
        assert page.evaluate("document.activeElement.id") == "describe"
        page.keyboard.press("Enter")  # describe now
        said = wait_for_record(page, "announcements", "list.find((a) => a.startsWith('1 face'))",
                               "'describe now' announced nothing")
        assert said.startswith("1 face: ahead, ") and "%" in said  # verbosity 3 adds distance and confidence
        rtts = page.evaluate("window.fera.rtts")
        assert len(rtts) >= 5
        print(f"\nlive frame round trip in Chromium: median {np.median(rtts):.0f} ms, "
              f"p95 {np.percentile(rtts, 95):.0f} ms over {len(rtts)} frames")
        page.click("#camera")
        page.wait_for_selector("#camera[aria-pressed=false]")
        assert page.text_content("#live-state") == "Camera off."
    finally:
        b.close()


def test_the_page_plays_the_runtimes_earcons(browser, server):
    """A sound-only announcement (verbosity 0) plays the very WAV the runtime renders, panned the same way."""
    from fera.runtime.earcons import earcon_wav

    page = browser.new_page()
    page.goto(server)
    page.evaluate("announce('', 'happy', 'left'); announce('', 'edge_right', null)")
    got = wait_for_record(page, "earcons", "list.length === 2 && list", "the two earcons were not both fetched")
    assert {e["url"]: bytes(e["bytes"]) for e in got} == {
        "/earcons/happy.wav?position=left": earcon_wav("happy", "left"),
        "/earcons/edge.wav?position=right": earcon_wav("edge", "right")}
    assert page.evaluate("window.fera.announcements") == ["happy", "edge_right"]
    assert not any("not played" in li for li in page.eval_on_selector_all("#log li", "els => els.map(e => e.textContent)"))


def test_camera_error_is_an_alert(pw, server):
    b = launch(pw)  # no fake camera: there is none
    try:
        page = b.new_page()
        page.goto(server)
        page.click("#camera")
        page.wait_for_selector("#alert:not(:empty)", timeout=30000)
        assert page.text_content("#alert").endswith("press Start camera again.")
        assert axe_violations(page) == []
    finally:
        b.close()


def test_reflows_at_320_px(browser, server):
    page = browser.new_page(viewport={"width": 320, "height": 640})
    page.goto(server)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320  # no horizontal scrolling
    assert axe_violations(page) == []


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
    page.goto((out / "report.html").as_uri())
    assert page.title().startswith("fera report: eval")
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 320, "height": 640})
    assert axe_violations(page) == []
