"""Read the exercises of a notebook source: stub, worked solution and test of each question.

The sources mark exercises in cell metadata, from which Otter-Grader's block
markers are rebuilt (tools/exercise_marks.py, docs/instructor/authoring.md);
this module reads them back so that the tests
can run a worked solution or a catalogued wrong answer through its checker.
"""
from __future__ import annotations

import hashlib
import linecache
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import yaml

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
sys.path.append(str(NOTEBOOKS.parent / "tools"))
import exercise_marks  # noqa: E402  (the exercise marks in cell metadata -> otter's marker cells)


@dataclass
class Question:
    """One exercise: its name and points, the learner's cell, the solution code and the test code."""

    name: str
    points: float
    stub: str
    solution: str
    test: str


def _marker(cell: Any) -> str | None:
    if cell.cell_type != "raw":
        return None
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    m = re.match(r"#\s+(BEGIN|END)\s+(QUESTION|SOLUTION|TESTS|PROMPT)", first, re.I)
    return f"{m.group(1).upper()} {m.group(2).upper()}" if m else None


def _strip_markers(code: str) -> str:
    keep = [line for line in code.splitlines()
            if not re.match(r"\s*#\s*(BEGIN SOLUTION|END SOLUTION|NBVAL_\w+)", line)]
    return "\n".join(keep).strip() + "\n"


def notebook_path(stem: str) -> Path:
    """``"04"`` or ``"04_attention"`` -> the jupytext source of that notebook."""
    matches = sorted(NOTEBOOKS.glob(f"{stem}*.py"))
    if len(matches) != 1:
        raise FileNotFoundError(f"no single notebook source matches {stem!r}: {matches}")
    return matches[0]


def questions(notebook: str | Path) -> dict[str, Question]:
    """Every question of a notebook source, in order, by name."""
    path = notebook if isinstance(notebook, Path) else notebook_path(notebook)
    nb = exercise_marks.expand(jupytext.read(path), path.name)
    found: dict[str, Question] = {}
    current: Question | None = None
    block: str | None = None
    for cell in nb.cells:
        marker = _marker(cell)
        if marker == "BEGIN QUESTION":
            config = yaml.safe_load("\n".join(cell.source.splitlines()[1:]))
            current = Question(config["name"], config.get("points", 1), "", "", "")
            found[current.name] = current
            block = "question"
        elif marker == "END QUESTION":
            current, block = None, None
        elif marker in ("BEGIN SOLUTION", "BEGIN TESTS"):
            block = marker.split()[1].lower()
        elif marker in ("END SOLUTION", "END TESTS"):
            block = "question"
        elif current is not None and cell.cell_type == "code":
            if block == "question" and not current.stub:
                current.stub = cell.source
            elif block == "solution":
                current.solution += _strip_markers(cell.source)
            elif block == "tests":
                current.test += _strip_markers(cell.source)
    return found


def run_code(code: str, namespace: dict | None = None, filename: str | None = None) -> dict:
    """Execute ``code`` in ``namespace`` (a fresh one by default) and return the namespace.

    The code gets a file name of its own, made from a hash of its text, and is
    registered with ``linecache`` under it, as Jupyter's kernel does with a
    notebook cell: a checker reads the learner's source exactly as it would in
    a notebook (running the test code afterwards does not overwrite the
    learner's cell), and the same code run twice is the same cell run twice.
    """
    namespace = {} if namespace is None else namespace
    filename = filename or f"<learner-{hashlib.sha1(code.encode()).hexdigest()[:12]}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), namespace)
    return namespace
