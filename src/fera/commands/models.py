"""`fera models`: the shipped models, then the architectures (no Keras needed)."""
from __future__ import annotations

import json

EXAMPLES = [("fera models", "what ships: size, val accuracy, latency"), ("fera models --json", "one JSON object a line")]


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args) -> int:
    """List the models that ship with fera (size, val accuracy, latency), then the architectures."""
    from fera import shipped

    for name in shipped.shipped_names():
        c = shipped.card(name)
        files = {f: round((shipped.MODELS_DIR / f).stat().st_size / 2**20, 1) for f in c["files"]
                 if (shipped.MODELS_DIR / f).is_file()}
        # "network": the registry architecture it was trained as (the shipped fast is a mobile, not the fast one)
        row = {"name": name, "shipped": True, "network": c["architecture"], "val_accuracy": c["val"]["accuracy"],
               "val_macro_f1": c["val"]["macro_f1"], "latency_ms": c["latency_ms"], "files_mib": files,
               "description": c["description"]}
        if args.json:
            print(json.dumps(row))
        else:
            lat = ", ".join(f"{k} {v['p50']:.2f} ms" for k, v in c["latency_ms"].items())
            size = ", ".join(f"{f} {v} MiB" for f, v in files.items())
            acc = "; ".join(f"{n} val accuracy {e['accuracy']:.1%}, macro-F1 {e['macro_f1']:.3f}"
                            for n, e in shipped.evaluations(c).items())
            print(f"{name} (shipped): the {c['architecture']} architecture; {acc}; per face {lat}; {size}")
    for name, doc in architectures():
        print(json.dumps({"name": name, "architecture": True, "description": doc}) if args.json
              else f"{name} (architecture): {doc}")
    return 0


def architectures() -> list[tuple[str, str]]:
    """(name, first line of its docstring) of every ``@register_model`` function in ``fera.training.models``,
    read from the source: importing the registry imports Keras, and listing models must not need it."""
    import ast
    from pathlib import Path

    found = []
    for path in sorted((Path(__file__).parents[1] / "training" / "models").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any(getattr(d, "id", None) == "register_model"
                                                         for d in node.decorator_list):
                found.append((node.name, ((ast.get_docstring(node) or "").strip().splitlines() or [""])[0]))
    return sorted(found)
