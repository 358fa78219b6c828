"""`fera serve`: the assistant's web page on this computer (``fera.web.server``)."""
from __future__ import annotations

from fera.commands.args import PORT, add_option, fill
from fera.web.server import ServeConfig

EXAMPLES = [("fera serve", "then open http://127.0.0.1:8000/ on this computer"),
            ("fera serve --port 8080 --model fast", "another port; the fast model for photos too")]


def add_arguments(p) -> None:
    add_option(p, "--host", (ServeConfig, "host"), help="address to listen on (default {default}: this computer only)")
    add_option(p, "--port", (ServeConfig, "port"), type=PORT, help="port, 1-65535 (default {default})")
    p.add_argument("--allow_remote", nargs="*", metavar="NAME",
                   help="allow a --host other than loopback (anyone on that network can then use the page); "
                        "NAME: other host names or addresses the browsers will use for this computer")
    p.add_argument("--model", help="model for photos (default: the most accurate shipped one); live uses "
                   f"{ServeConfig.live_model}")


def run(args) -> int:
    """Serve the assistant's accessible web page on this computer (photo upload and live camera)."""
    import sys

    from fera.errors import FeraError
    from fera.web.guard import LOOPBACK
    from fera.web.server import WILDCARDS, serve

    cfg = fill(ServeConfig, args, skip=("allowed_hosts", "runtime"), photo_model="model")
    remote = args.allow_remote is not None
    if cfg.host not in LOOPBACK and not remote:
        raise FeraError(f"--host {cfg.host} would let other computers use fera; add --allow_remote to mean it")
    cfg.allowed_hosts = tuple(args.allow_remote or ()) + (() if cfg.host in LOOPBACK + WILDCARDS else (cfg.host,))
    if cfg.host not in LOOPBACK:
        hosts = cfg.allowed_hosts
        print(f"fera: warning: listening on {cfg.host}: other computers on that network can reach this page"
              + (f" as {', '.join(hosts)}" if hosts else "; name the address they use with --allow_remote NAME, "
                 "until then only requests for 127.0.0.1 are answered"), file=sys.stderr)
    return serve(cfg)
