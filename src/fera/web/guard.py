"""Who may use `fera serve`: only the page fera itself serves, at an address of this computer.

Every HTTP request and every WebSocket handshake is checked before any route runs:

- ``Host`` must be ``127.0.0.1``, ``localhost`` or ``[::1]`` (or a host named with ``--allow_remote``)
  at the server's own port. A web page that points its own domain at 127.0.0.1 (DNS rebinding) sends
  its domain here, so it is refused even though the browser thinks the request is same-origin.
- ``Origin``, when the browser sends one, must be this page's own (``http://`` + the Host). A page
  from another website (including a sandboxed one, whose Origin is ``null``) is refused; a multipart
  POST or a WebSocket needs no CORS preflight, so this check, not the browser, is what stops it.
  Programs that send no Origin (curl, scripts on this computer) are let through.

A refused request gets 403 and one sentence (``{"error": ...}``); a refused WebSocket handshake gets
403 before it is upgraded, so no event is ever sent.
"""
from __future__ import annotations

import json
import re

LOOPBACK = ("127.0.0.1", "localhost", "::1")  # the addresses that are this computer
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9.\-]+)(?::([0-9]{1,5}))?$")


def split_host(value: str) -> tuple[str, int] | None:
    """("127.0.0.1", 8000) from "127.0.0.1:8000"; port 80 when none is given; None when malformed."""
    m = _HOST.match(value.strip().lower())
    if not m:
        return None
    return m.group(1), int(m.group(2)) if m.group(2) else 80


def host_name(address: str) -> str:
    """How a browser writes ``address`` in a Host header (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address.lower()


LOOPBACK_HOSTS = tuple(host_name(h) for h in LOOPBACK)  # as Host headers write them: "[::1]"


class LocalOnly:
    """ASGI middleware: refuse requests for other hosts or from other origins (see the module doc)."""

    def __init__(self, app, port: int | None = None, hosts: tuple[str, ...] = ()):
        self.app, self.port = app, port
        self.hosts = set(LOOPBACK_HOSTS) | {host_name(h) for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        why = self.refusal(scope)
        if why is None:
            return await self.app(scope, receive, send)
        body = json.dumps({"error": why}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # closing before accepting is a 403 too
            await send({"type": "websocket.close", "code": 1008})

    def refusal(self, scope) -> str | None:
        """None when the request may go on, else the sentence that says why not."""
        headers = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
        port = self.port or (scope.get("server") or (None, None))[1]
        home = f"http://127.0.0.1:{port}/"
        host_header = headers.get("host", "")
        host = split_host(host_header)
        if host is None or host[0] not in self.hosts or host[1] != port:
            return (f"fera answers only requests for this computer's page ({home}), not for "
                    f"{host_header[:80]!r}: open {home} (another host name needs fera serve --allow_remote NAME)")
        origin = headers.get("origin")
        if origin is not None and not (origin.lower().startswith("http://") and split_host(origin[7:]) == host):
            return f"fera refuses requests from other web pages (this one came from {origin[:80]!r}); open {home}"
        return None
