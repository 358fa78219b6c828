"""The report page: plain, self-contained HTML for people using screen readers and for everyone else.

Every figure has alt text that states its message, and its numbers are also given as a table, so
nothing is only visual. Headings nest in order; tables have captions and header cells; images are
embedded as data URIs, so the page is one file that opens offline.
"""
from __future__ import annotations

import base64
import datetime
import html

import numpy as np

CSS = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 62rem; margin: 0 auto; padding: 1rem; color: #111; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { border: 1px solid #888; padding: 0.2rem 0.5rem; text-align: right; }
th[scope=row], thead th { background: #eee; text-align: left; }
img { max-width: 100%; height: auto; }
.grid { display: flex; flex-wrap: wrap; gap: 0.75rem; list-style: none; padding: 0; }
.grid figure { margin: 0; width: 13rem; }
a:focus, summary:focus { outline: 3px solid #1a5fb4; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def img(png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="{esc(alt)}">'


def table(caption: str, header: list[str], rows: list[list], row_headers: bool = True) -> str:
    """A table with a caption, column headers and (by default) the first cell of each row as its header."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in header)
    body = []
    for r in rows:
        cells = [f'<th scope="row">{esc(r[0])}</th>' if row_headers else f"<td>{esc(r[0])}</td>"]
        cells += [f"<td>{esc(v)}</td>" for v in r[1:]]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


def _flat(d: dict, prefix: str = "") -> list[list]:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += _flat(v, f"{prefix}{k}.")
        else:
            rows.append([f"{prefix}{k}", v if not isinstance(v, float) else f"{v:g}"])
    return rows


def section(id_: str, title: str, *parts: str) -> str:
    return f'<section aria-labelledby="{id_}"><h2 id="{id_}">{esc(title)}</h2>{"".join(parts)}</section>'


def render(ctx: dict) -> str:
    src, r, cal, names = ctx["source"], ctx["result"], ctx["calibration"], ctx["meta"]["class_names"]
    split, n = ctx["split"], r["num_images"]
    worst = min((c for c in names if r["per_class"][c]["support"]), key=lambda c: r["per_class"][c]["recall"])
    headline = (f"On {split} ({n} images): accuracy {pct(r['accuracy'])}, macro-F1 {r['macro_f1']:.3f}, "
                f"expected calibration error {cal['ece_after']:.3f} (temperature {cal['temperature']:.2f}). "
                f"Lowest recall: {worst} ({pct(r['per_class'][worst]['recall'])}).")
    parts = [section("summary", "Summary", f"<p>{esc(headline)}</p>",
                     f"<p>Model: {esc(ctx['described'])}. Data: {esc(ctx['data'])}.</p>")]
    parts.append(_settings(ctx))
    parts.append(section("data", "Data", table(
        "Images per class and split", ["class", *ctx["counts"]],
        [[c, *(ctx["counts"][s].get(c, 0) for s in ctx["counts"])] for c in names])))
    if ctx["history"]:
        parts.append(_curves(ctx))
    parts.append(_confusion(ctx))
    parts.append(section("per-class", "Per-class precision, recall and F1", table(
        f"Per class on {split}", ["class", "precision", "recall", "F1", "images"],
        [[c, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1-score']:.3f}", v["support"]]
         for c, v in r["per_class"].items()])))
    parts.append(_calibration(ctx))
    parts.append(_mistakes(ctx))
    parts.append(_gradcam(ctx))
    toc = "".join(f'<li><a href="#{i}">{esc(t)}</a></li>' for i, t in _TOC if i in "".join(parts))
    title = f"fera report: {src['name']} ({src['kind']})"
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><header><h1>{esc(title)}</h1><p>Written by fera on {when}. "
            "Figures repeat the numbers given in the tables beside them.</p>"
            f'<nav aria-label="Contents"><h2 id="contents">Contents</h2><ul>{toc}</ul></nav></header>'
            f"<main>{''.join(parts)}</main></body></html>\n")


_TOC = [("summary", "Summary"), ("settings", "Settings"), ("data", "Data"), ("curves", "Learning curves"),
        ("confusion", "Confusion matrix"), ("per-class", "Per-class precision, recall and F1"),
        ("calibration", "Calibration"), ("mistakes", "Most confident mistakes"), ("gradcam", "Grad-CAM")]


def _settings(ctx: dict) -> str:
    src, m = ctx["source"], ctx["source"]["metrics"]
    rows = _flat(src["config"]) if src["config"] else []
    have = {r[0] for r in rows}
    for key in ("backend", "git_commit", "best_epoch", "epochs_run"):
        if key in m and key not in have:
            rows.append([key, m[key]])
    if "wall_seconds" in m:
        rows += _flat({"wall_seconds": m["wall_seconds"]})
    if "hardware" in m:
        rows += _flat({"hardware": m["hardware"]})
    rows.append(["model.temperature", f"{ctx['calibration']['temperature']:g}"])
    rows.append(["model.input_size", " x ".join(map(str, ctx["meta"]["input_size"]))])
    return section("settings", "Settings", table("Settings of this " + src["kind"], ["setting", "value"], rows))


def _curves(ctx: dict) -> str:
    h = ctx["history"]
    best = max(h, key=lambda e: e.get("val_accuracy", -1))
    msg = (f"validation accuracy peaks at {pct(best.get('val_accuracy'))} in epoch {best['epoch']} of {len(h)}")
    keys = [k for k in ("accuracy", "val_accuracy", "loss", "val_loss", "learning_rate") if k in h[0]]
    low = min(h, key=lambda e: e.get("val_loss", np.inf))
    says = {"accuracy": msg, "loss": f"validation loss is lowest ({low.get('val_loss', 0):.3f}) in epoch {low['epoch']}"}
    figs = "".join(f"<figure>{img(ctx['figures'][m], f'{m.capitalize()} per epoch, training and validation: {says[m]}.')}"
                   f"<figcaption>{esc(m.capitalize())} per epoch.</figcaption></figure>"
                   for m in ("accuracy", "loss") if m in ctx["figures"])
    rows = [[e["epoch"], *(f"{e[k]:.4g}" if k in e else "" for k in keys)] for e in h]
    return section("curves", "Learning curves", f"<p>{esc(msg.capitalize())}.</p>", figs,
                   "<details><summary>Numbers per epoch</summary>"
                   + table("Per epoch", ["epoch", *keys], rows) + "</details>")


def _confusion(ctx: dict) -> str:
    names, cm = ctx["meta"]["class_names"], np.array(ctx["result"]["confusion_matrix"])
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    i, j = np.unravel_index(int(off.argmax()), off.shape)
    msg = f"The most frequent confusion: true {names[i]} predicted as {names[j]} ({off[i, j]} images)."
    alt = f"Confusion matrix, counts and share of each true class. {msg} The tables below give every cell."
    header = ["true \\ predicted", *names]
    return section("confusion", "Confusion matrix", f"<p>{esc(msg)}</p>",
                   f"<figure>{img(ctx['figures']['confusion'], alt)}<figcaption>Rows: true class; columns: "
                   "predicted class.</figcaption></figure>",
                   table("Counts (rows: true class, columns: predicted)", header,
                         [[names[a], *cm[a].tolist()] for a in range(len(names))]),
                   table("Share of each true class (rows sum to 100%)", header,
                         [[names[a], *(pct(v) for v in norm[a])] for a in range(len(names))]))


def _calibration(ctx: dict) -> str:
    cal = ctx["calibration"]
    msg = (f"Expected calibration error {cal['ece_before']:.3f} for the network's own probabilities and "
           f"{cal['ece_after']:.3f} after temperature scaling (T = {cal['temperature']:.2f}), which is what fera uses.")
    rows = [[f"{b['low']:.2f}-{b['high']:.2f}", b["count"], pct(b["confidence"]), pct(b["accuracy"])]
            for b in cal["bins_after"] if b["count"]]
    return section("calibration", "Calibration", f"<p>{esc(msg)} A calibrated 70% is right about 70% of the time.</p>",
                   f"<figure>{img(ctx['figures']['reliability'], 'Reliability diagram, before and after temperature scaling. ' + msg)}"
                   "<figcaption>Accuracy against confidence; the diagonal is perfect calibration.</figcaption></figure>",
                   table("Calibrated confidence bins", ["confidence bin", "images", "mean confidence", "accuracy"],
                         rows))


def _mistakes(ctx: dict) -> str:
    items = ctx["mistakes"]
    if not items:
        return section("mistakes", "Most confident mistakes", "<p>No mistakes.</p>")
    figs = ""
    for m in items:
        words = f"true {m['true']}; predicted {m['predicted']} {pct(m['confidence'])}"
        alt = f"A face labelled {m['true']}, predicted {m['predicted']} at {pct(m['confidence'])}"
        figs += f"<li><figure>{img(m['png'], alt)}<figcaption>{esc(words)}</figcaption></figure></li>"
    return section("mistakes", "Most confident mistakes",
                   f"<p>The {len(items)} wrong predictions the model was surest of; some are label noise.</p>",
                   f'<ul class="grid">{figs}</ul>')


def _gradcam(ctx: dict) -> str:
    g = ctx["gradcam"]
    if "skipped" in g:
        return section("gradcam", "Grad-CAM", f"<p>Not shown: {esc(g['skipped'])}.</p>")
    figs = ""
    for i in g["items"]:
        alt = f"Grad-CAM on a {i['label']} face predicted at {pct(i['confidence'])}: the heat is on {i['heat']}"
        words = f"{i['label']} {pct(i['confidence'])}: {i['heat']}"
        figs += f"<li><figure>{img(i['png'], alt)}<figcaption>{esc(words)}</figcaption></figure></li>"
    return section("gradcam", "Grad-CAM",
                   "<p>Where the model looked (red: most) on the faces of each class it classified most confidently "
                   "and correctly. Heatmaps show what the network used, not why a person looks that way.</p>",
                   f'<ul class="grid">{figs}</ul>')
