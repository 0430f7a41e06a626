"""No import circles: among glmlib's modules, and among the scripts in benchmarks/ (issue #27).

The graph is read from the source with ``ast``: the imports a module runs when it is
imported (at its top level, in classes, under ``if``/``try``), not those inside functions,
which run later. A module's import of its own parent package is left out (Python imports
the parent first anyway). The core modules are also imported each in a fresh interpreter,
first thing, where an order-dependent circle would break.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path, base: Path, package: str | None) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(([package] if package else []) + parts)


def _load_time_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Import statements outside function bodies (and outside ``if TYPE_CHECKING:``)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def import_graph(base: Path, package: str | None) -> dict[str, set[str]]:
    """``{module: {modules it imports at load time}}`` for the ``.py`` files under ``base``.

    ``package`` is the package ``base`` is (``"glmlib"``), or ``None`` for a folder of
    scripts that import each other by plain name (benchmarks/).
    """
    files = sorted(base.rglob("*.py")) if package else sorted(base.glob("*.py"))
    modules = {_module_name(p, base, package): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _load_time_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    anchor = here.split(".")
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    origin = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one
                targets = [origin] + [f"{origin}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in modules:  # ``import a.b.c`` names a module or its parent
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    edges.add(target)
        graph[name] = edges
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(groups)


def test_the_graph_reader_finds_a_circle(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def later():\n    import c\nfrom a import x\n")
    (tmp_path / "c.py").write_text("import b\n")
    graph = import_graph(tmp_path, None)
    assert graph == {"a": {"b"}, "b": {"a"}, "c": {"b"}}
    assert circles(graph) == [["a", "b"]]
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .one import f\n")
    (pkg / "one.py").write_text("from . import two\nfrom .. import pkg\n")
    (pkg / "two.py").write_text("from .one import f\n")
    graph = import_graph(pkg, "pkg")
    assert graph == {"pkg": {"pkg.one"}, "pkg.one": {"pkg.two"}, "pkg.two": {"pkg.one"}}
    assert circles(graph) == [["pkg.one", "pkg.two"]]


def test_glmlib_has_no_import_circle() -> None:
    graph = import_graph(ROOT / "glmlib", "glmlib")
    assert {"glmlib.model", "glmlib.checkpoints", "glmlib.tokenizers", "glmlib.data"} <= set(graph)
    assert "glmlib.checkpoints" not in graph["glmlib.model"]  # the model file is the model only
    assert circles(graph) == []


def test_benchmarks_have_no_import_circle() -> None:
    graph = import_graph(ROOT / "benchmarks", None)
    assert graph["report"] >= {"bench_train", "bench_generate", "table"}
    assert circles(graph) == []


CORE = ["glmlib.model", "glmlib.checkpoints", "glmlib.tokenizers", "glmlib.data", "glmlib.train"]


@pytest.mark.slow  # five interpreters importing torch: about 7 s on 2 cores
def test_each_core_module_imports_first_in_a_fresh_interpreter() -> None:
    runs = {name: subprocess.Popen([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in CORE}
    failed = {name: run.communicate(timeout=120)[1][-600:] for name, run in runs.items()}
    assert {name: err for name, err in failed.items() if runs[name].returncode} == {}


@pytest.mark.parametrize("name", ["load_pretrained", "load_checkpoint", "save_checkpoint", "load_train_state",
                                  "checkpoint_paths", "PRETRAINED", "DATA_DIR", "SHIPPED_DIR"])
def test_the_checkpoint_names_are_still_importable_from_glmlib_model(name: str) -> None:
    import glmlib.checkpoints
    import glmlib.model

    namespace: dict = {}
    exec(f"from glmlib.model import {name}", namespace)
    assert namespace[name] is getattr(glmlib.checkpoints, name)
    assert name in dir(glmlib.model)
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        glmlib.model.not_there  # noqa: B018
