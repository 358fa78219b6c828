"""`/docs`: the JSON API as one plain, accessible HTML page, built from the app's OpenAPI schema
(FastAPI's own /docs loads its scripts from the internet, which fera never does)."""
from __future__ import annotations

import html

WEBSOCKET = [
    ("binary message", "one camera frame, JPEG or PNG, at most 2 MB; answered by zero or more "
                       "announce events, then one frame event"),
    ('{"type": "describe"}', "describe every face now; answered by one announce event"),
    ('{"type": "verbosity", "value": 0-3}', "how much the announcements say"),
    ('{"type": "reset"}', "forget the people seen so far"),
    ("announce event", '{"type": "announce", "text": "left, appears happy", "kind", "code", "label", "position"}'),
    ("frame event", '{"type": "frame", "faces": [...], "ms": time spent on the frame}'),
    ("error event", '{"type": "error", "message": ...}; the connection stays open'),
]


def render_docs(spec: dict) -> str:
    e = lambda s: html.escape(str(s))  # noqa: E731
    parts = []
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            parts.append(f"<h2>{e(method.upper())} {e(path)}</h2><p>{e(op.get('summary', ''))}</p>"
                         f"<p>{e(op.get('description', ''))}</p>")
            body = op.get("requestBody", {}).get("content", {})
            for ctype, c in body.items():
                schema = c.get("schema", {})
                if "$ref" in schema:
                    schema = spec.get("components", {}).get("schemas", {}).get(schema["$ref"].rsplit("/", 1)[-1], {})
                rows = "".join(f"<tr><th scope=\"row\">{e(k)}</th><td>{e(v.get('type', v.get('format', '')))}</td>"
                               f"<td>{'yes' if k in schema.get('required', []) else 'no'}</td></tr>"
                               for k, v in schema.get("properties", {}).items())
                parts.append(f"<table><caption>Request body ({e(ctype)})</caption><thead><tr><th scope=\"col\">field"
                             f"</th><th scope=\"col\">type</th><th scope=\"col\">required</th></tr></thead>"
                             f"<tbody>{rows}</tbody></table>")
            codes = ", ".join(f"{c} {r.get('description', '')}" for c, r in op.get("responses", {}).items())
            parts.append(f"<p>Responses: {e(codes)}; refusals come with "
                         "<code>{\"error\": \"...\"}</code>.</p>")
    ws = "".join(f"<tr><th scope=\"row\"><code>{e(a)}</code></th><td>{e(b)}</td></tr>" for a, b in WEBSOCKET)
    parts.append("<h2>WebSocket /api/live</h2><table><caption>Messages</caption><thead><tr><th scope=\"col\">"
                 f"message</th><th scope=\"col\">meaning</th></tr></thead><tbody>{ws}</tbody></table>")
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width, initial-scale=1"><title>fera API</title>'
            '<link rel="stylesheet" href="/static/style.css"></head><body><main><h1>fera API</h1>'
            f"<p>{e(spec.get('info', {}).get('description', ''))} The schema is at "
            '<a href="/openapi.json">/openapi.json</a>.</p>' + "".join(parts) + "</main></body></html>")
