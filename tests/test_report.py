"""`fera report` and `fera evaluate --report`: one self-contained page a screen reader can navigate."""
import json
from html.parser import HTMLParser

import pytest

from fera.cli import main

pytestmark = pytest.mark.train
SECTIONS = ["summary", "settings", "data", "curves", "confusion", "per-class", "calibration", "mistakes", "gradcam"]


class Page(HTMLParser):
    """Collects what an accessibility check looks at."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.imgs, self.headings, self.ids, self.links = [], [], [], set(), []
        self.tables = []  # per table: [has caption, number of th with scope]
        self.lang = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "img":
            self.imgs.append(a)
        if tag in ("h1", "h2", "h3", "h4"):
            self.headings.append(int(tag[1]))
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a":
            self.links.append(a.get("href", ""))
        if tag == "table":
            self.tables.append([False, 0])
        if tag == "caption":
            self.tables[-1][0] = True
        if tag == "th" and a.get("scope") in ("col", "row"):
            self.tables[-1][1] += 1


def check_accessible(text):
    page = Page(text)
    assert page.lang == "en" and "title" in page.tags and "main" in page.tags
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(page.headings, page.headings[1:]))  # no skipped heading level
    assert page.imgs and all(i.get("alt", "").strip() for i in page.imgs)  # every image says what it shows
    assert all(i["src"].startswith("data:image/png;base64,") for i in page.imgs)  # self-contained
    assert page.tables and all(cap and th >= 2 for cap, th in page.tables)  # tables are tables
    assert all(link[1:] in page.ids for link in page.links if link.startswith("#"))
    assert "http://" not in text and "https://" not in text  # nothing fetched from anywhere
    return page


def test_report_of_a_run(trained_run, tmp_path, capsys):
    out = tmp_path / "r" / "report.html"
    assert main(["report", str(trained_run), "--out", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    trained = json.loads((trained_run / "metrics.json").read_text())
    assert rep["split"] == "val" and rep["accuracy"] == pytest.approx(trained["val_accuracy"], abs=1e-6)
    text = out.read_text()
    page = check_accessible(text)
    assert all(s in page.ids for s in SECTIONS)
    assert f"accuracy {100 * trained['val_accuracy']:.1f}%" in text
    assert sum("Grad-CAM on a " in i["alt"] for i in page.imgs) >= 1
    assert any(i["alt"].startswith("Confusion matrix") for i in page.imgs)
    assert "Numbers per epoch" in text and "train.epochs" in text


def test_evaluate_writes_the_same_report_for_a_held_out_set(trained_run, demo_root, tmp_path, capsys, monkeypatch):
    import keras

    from fera.training import evaluate, modelio

    calls = {"data": 0, "model": 0, "predict": 0}

    def counted(kind, f):
        def wrapper(*a, **kw):
            calls[kind] += 1
            return f(*a, **kw)
        return wrapper

    monkeypatch.setattr(evaluate, "load_eval_data", counted("data", evaluate.load_eval_data))
    monkeypatch.setattr(modelio, "load_model", counted("model", modelio.load_model))
    monkeypatch.setattr(keras.Model, "predict", counted("predict", keras.Model.predict))
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(trained_run), "--data_root", str(demo_root), "--out_dir", str(out),
                 "--report", "--json"]) == 0
    assert calls == {"data": 1, "model": 1, "predict": 1}  # the report reuses the evaluation
    monkeypatch.undo()
    rep = json.loads(capsys.readouterr().out)
    assert rep["split"] == "test" and rep["report"] == str(out / "report.html")
    page = check_accessible((out / "report.html").read_text())
    assert "curves" not in page.ids and {"summary", "confusion", "gradcam"} <= page.ids
    # `fera report` on the evaluation folder writes it again from what metrics.json names
    assert main(["report", str(out), "--out", str(tmp_path / "again.html")]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_report_needs_a_run_or_an_evaluation(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fera: error: ") and "neither a trained model" in err[0]


def test_pdf_without_chromium_is_one_line_and_keeps_the_html(trained_run, tmp_path, monkeypatch, capsys):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "r.html"
    assert main(["report", str(trained_run), "--out", str(out), "--pdf"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fera: error: no PDF converter") and out.is_file()


def test_pdf_with_chromium(trained_run, tmp_path, capsys):
    import shutil

    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)")
    assert main(["report", str(trained_run), "--out", str(tmp_path / "r.html"), "--pdf"]) == 0
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
