"""The course runs in the environment that ``make lab`` builds, which holds no test tools.

Every module that a notebook, ``glmlib`` or the classroom tools (``make student``,
``make grade``) import must come from the standard
library, from ``glmlib`` itself, or from a distribution that installing the
course brings in (``pyproject.toml``'s dependencies and theirs, recursively).
A module that only ``requirements-test.txt`` installs would pass every test and
stop a learner's notebook with ``ModuleNotFoundError``: this test catches it
statically, without building a second environment.

The sources must also be free of control characters, which typeset as
"Math input error" (``\\a`` in ``\\approx`` became a bell once) or vanish.
"""
from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
LIBRARY = sorted((ROOT / "glmlib").rglob("*.py"))
# what `make student` and `make grade` run, in the course's environment too (`make site` has the test stack)
CLASSROOM_TOOLS = [ROOT / "tools" / name for name in
                   ("editions.py", "grade.py", "exercise_marks.py", "outputs.py")]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def course_distributions() -> set[str]:
    """The distributions installing the course brings in: ``pyproject.toml``'s dependencies, recursively.

    The first level is read from ``pyproject.toml`` (the source of truth, even
    before a reinstall); the rest from the installed packages' metadata,
    following the extras that a requirement names (``nbconvert[webpdf]``).
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    seen: set[tuple[str, str]] = set()
    todo = [(line, "") for line in project["dependencies"]]
    while todo:
        line, extra = todo.pop()
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = _normal(req.name)
        for wanted in {"", *req.extras}:
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                todo.extend((dep, wanted) for dep in md.requires(name) or [])
    return {"glmlib"} | {name for name, _ in seen}


def imported_modules(source: str) -> dict[str, int]:
    """Top-level modules that ``source`` imports (absolute imports only), with a line of each.

    An import inside ``try: ... except ImportError`` is optional by design and left out.
    """
    tree = ast.parse(source)
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in {"ImportError", "ModuleNotFoundError"}
                for h in node.handlers):
            optional |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.setdefault(node.module.split(".")[0], node.lineno)
    return found


@functools.cache
def _distributions_of_modules() -> dict[str, list[str]]:
    return md.packages_distributions()


def providers(module: str) -> set[str]:
    """The installed distributions that provide the top-level ``module``."""
    return {_normal(d) for d in _distributions_of_modules().get(module, [])}


def foreign_imports(path: Path, course: set[str], base: Path = ROOT) -> list[str]:
    """The imports of ``path`` that the course's own environment could not satisfy."""
    bad = []
    for module, line in imported_modules(path.read_text(encoding="utf-8")).items():
        if module in sys.stdlib_module_names or module == "glmlib" or (path.parent / f"{module}.py").exists():
            continue  # the standard library, the course's package, or a module beside this one
        dists = providers(module)
        if not dists & course:
            where = ", ".join(sorted(dists)) or "no installed distribution"
            bad.append(f"{path.relative_to(base)}:{line}: imports {module!r} (from {where}), "
                       f"which the course's dependencies do not install")
    return bad


@pytest.fixture(scope="module")
def course() -> set[str]:
    return course_distributions()


@pytest.mark.parametrize("path", NOTEBOOKS + LIBRARY + CLASSROOM_TOOLS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_import_is_a_course_dependency(path: Path, course: set[str]) -> None:
    assert not foreign_imports(path, course)


def test_a_test_only_import_is_caught(tmp_path: Path, course: set[str]) -> None:
    """The check itself: a notebook importing pytest or nbval (test tools) fails it."""
    nb = tmp_path / "99_probe.py"
    nb.write_text("import torch\nimport pytest\nfrom nbval import plugin\nimport math\n", encoding="utf-8")
    bad = foreign_imports(nb, course, base=tmp_path)
    assert [b.split(": ", 1)[1].split(" (")[0] for b in bad] == ["imports 'pytest'", "imports 'nbval'"]


def test_an_optional_import_is_not_counted() -> None:
    source = "try:\n    import pytest\nexcept ImportError:\n    pytest = None\nimport numpy\n"
    assert set(imported_modules(source)) == {"numpy"}


def test_the_course_environment_is_not_the_test_environment(course: set[str]) -> None:
    """The test tools are not (indirectly) course dependencies, or the check above would prove nothing."""
    assert {"torch", "jupyterlab", "transformers", "ipywidgets"} <= course
    assert not {"pytest", "nbval", "jupyterhub"} & course


# ------------------------------------------------------------------ control characters

TEXT_SOURCES = sorted([*NOTEBOOKS, *(ROOT / "notebooks").rglob("*.ipynb"), *(ROOT / "website").rglob("*.md"),
                       *(ROOT / "docs").rglob("*.md"), *ROOT.glob("README*.md"), *(ROOT / "classroom").glob("*.md")])
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # all but the newline; a tab too


def texts_of(path: Path) -> str:
    """What a reader sees of ``path``: a notebook's cell sources, or the file's text."""
    if path.suffix == ".ipynb":
        return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", TEXT_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_control_characters(path: Path) -> None:
    """A control character in prose is a typo (``\\a`` of ``\\approx`` read as a bell) that renders wrong."""
    found = [(n, line) for n, line in enumerate(texts_of(path).splitlines(), 1) if CONTROL.search(line)]
    assert not found, f"{path.relative_to(ROOT)}: control characters in " + \
        "; ".join(f"line {n}: {line.strip()[:70]!r}" for n, line in found[:5])


def test_the_control_character_check_sees_a_bell_in_a_notebook(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("above $k \approx 10$")])
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    assert CONTROL.search(texts_of(path))
