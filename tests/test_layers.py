"""The boundary between the two sides shows in the folder listing and holds in the code: the assistant's
modules (``fera/runtime``, ``inference``, ``images``, ``shipped``) and the web page (``fera/web``) never import
``fera.training`` or a training framework when they are imported. The web page's Grad-CAM route is the one
place that reaches the training side, inside the function that serves it (it answers "needs the training
install" without it; tests/test_no_training_stack.py runs everything with those packages unimportable)."""
import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fera"
TRAINING = ("fera.training", "keras", "tensorflow", "torch", "jax")
RUNTIME_SIDE = sorted([*SRC.glob("runtime/*.py"), *SRC.glob("web/*.py"),
                       SRC / "inference.py", SRC / "images.py", SRC / "shipped.py"])
# (file, function): the only lazy imports of the training side allowed on the runtime side.
ALLOWED_LAZY = {("web/server.py", "keras"), ("web/server.py", "explain")}


def _imports(tree: ast.AST):
    """(module name, enclosing function name or None) of every import in ``tree``."""
    def walk(node, func):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.Import):
                yield from ((a.name, func) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                yield child.module, func
            yield from walk(child, inner)
    yield from walk(tree, None)


def _is_training(name: str) -> bool:
    return any(name == t or name.startswith(t + ".") for t in TRAINING)


@pytest.mark.parametrize("path", RUNTIME_SIDE, ids=lambda p: str(p.relative_to(SRC)))
def test_runtime_side_never_imports_the_training_side(path):
    rel = str(path.relative_to(SRC))
    found = [(name, func) for name, func in _imports(ast.parse(path.read_text())) if _is_training(name)]
    at_import = [name for name, func in found if func is None]
    assert not at_import, f"{rel} imports {at_import} at module level"
    lazy = {(rel, func) for name, func in found} - ALLOWED_LAZY
    assert not lazy, f"training imports inside {sorted(lazy)}; the runtime side must not need them"


def test_training_package_holds_the_keras_modules():
    """Every module that imports a training framework at its top lives under fera/training (the folder says
    which side)."""
    outside = []
    for path in SRC.rglob("*.py"):
        if "training" in path.relative_to(SRC).parts:
            continue
        top = [name for name, func in _imports(ast.parse(path.read_text())) if func is None]
        if any(_is_training(n) and not n.startswith("fera.") for n in top):
            outside.append(str(path.relative_to(SRC)))
    assert not outside, f"Keras-side modules outside fera/training: {outside}"


def test_the_checker_sees_lazy_and_module_level_imports():
    code = "import keras\ndef f():\n    from fera.training.explain import x\n"
    assert list(_imports(ast.parse(code))) == [("keras", None), ("fera.training.explain", "f")]


@pytest.mark.parametrize("path", sorted(SRC.glob("datasets/*.py")), ids=lambda p: p.name)
def test_datasets_import_nothing_from_training(path):
    """fera/datasets owns FER-2013's and FER+'s formats, splits and the cache; the arrow points down from
    training to datasets, never up (not even inside a function)."""
    found = [name for name, _ in _imports(ast.parse(path.read_text())) if _is_training(name)]
    assert not found, f"datasets/{path.name} imports {found}"


def test_argparse_lives_in_the_commands_layer():
    """Commands apart from the library: only fera/cli.py and fera/commands/ parse options."""
    outside = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                     if p.parent.name != "commands" and p.name != "cli.py"
                     and any(n == "argparse" for n, _ in _imports(ast.parse(p.read_text()))))
    assert not outside, f"argparse outside the commands layer: {outside}"


def _module_name(path: Path) -> str:
    parts = ["fera", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """fera module -> the fera modules it imports, at its top or inside a function (``from fera.x import y``
    counts as fera.x.y when that is a module, else fera.x); relative imports resolved against its package."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):  # a lazy import in a loop is a cycle too
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One example path per import cycle found by a depth-first search."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_no_import_cycle():
    """No fera module imports a module that imports it back, directly or around a loop, at the top or lazily."""
    cycles = _cycles(_import_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
