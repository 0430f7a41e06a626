"""Exercise marks: where a notebook's exercises are, kept in cell metadata.

The self-study notebooks show no grading machinery. Each exercise's cells
carry one metadata key, ``exercise``:

- the learner's cell: ``{"question": "q04_attention", "points": 2}`` (any
  other key is passed to Otter-Grader's question configuration as it is);
- the worked solution (its note and its code): ``"solution"``;
- the hidden test: ``"tests"``.

:func:`expand` turns these marks back into Otter-Grader's raw marker cells
(``# BEGIN QUESTION`` ... ``# END QUESTION``), which ``otter assign``
(``tools/editions.py``), the website (``tools/build_site.py``) and the tests
read. :func:`collapse` is its inverse: marker cells folded into marks (how the
notebooks were converted; the tests build their example notebooks with it).
"""
from __future__ import annotations

import copy
import re
from typing import Any

import nbformat
import yaml

KEY = "exercise"
ROLES = ("solution", "tests")
MARKER = re.compile(r"\s*#\s*(BEGIN|END)\s+(QUESTION|SOLUTION|TESTS|PROMPT)\b")


class MarkError(ValueError):
    """The exercise marks of a notebook do not form whole questions."""


def marker(cell: Any) -> str | None:
    """The Otter-Grader marker of a raw cell (``"BEGIN SOLUTION"``, ...), else ``None``."""
    if cell.get("cell_type") != "raw":
        return None
    m = MARKER.match(cell.get("source", ""))
    return f"{m.group(1)} {m.group(2)}" if m else None


def _raw(text: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_raw_cell(text)
    cell.metadata["jupyter"] = {"source_hidden": True}
    cell.pop("id", None)  # ids are given when the notebook is written
    return cell


def _question_cell(mark: dict, name: str) -> nbformat.NotebookNode:
    if not isinstance(mark.get("question"), str):
        raise MarkError(f"{name}: an exercise mark {mark!r} needs a question name")
    config = {"name": mark["question"], **{k: v for k, v in mark.items() if k != "question"}}
    return _raw("# BEGIN QUESTION\n" + yaml.safe_dump(config, sort_keys=False).strip())


def role(cell: Any) -> str | dict | None:
    """A cell's exercise mark: a question's dict, ``"solution"``, ``"tests"``, or ``None``."""
    return cell.get("metadata", {}).get(KEY)


def expand(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` with Otter-Grader's marker cells rebuilt from the exercise marks.

    A question runs from its learner's cell to the last solution or tests cell
    after it; a run of ``"solution"`` (``"tests"``) cells becomes one solution
    (tests) block. The ``exercise`` metadata is dropped from the copy.
    """
    nb = copy.deepcopy(nb)
    cells: list = []
    open_question, block = False, None

    def close_block() -> None:
        nonlocal block
        if block:
            cells.append(_raw(f"# END {block.upper()}"))
            block = None

    for cell in nb.cells:
        mark = cell.metadata.pop(KEY, None)
        if isinstance(mark, str) and mark not in ROLES:
            raise MarkError(f"{name}: unknown exercise mark {mark!r} (expected a question, {ROLES})")
        if mark in ROLES and not open_question:
            raise MarkError(f"{name}: a {mark!r} cell outside a question:\n{cell.source[:200]}")
        if mark != block:
            close_block()
        if open_question and mark is None or isinstance(mark, dict):
            if open_question:
                cells.append(_raw("# END QUESTION"))
            open_question = False
        if isinstance(mark, dict):
            cells.append(_question_cell(mark, name))
            open_question = True
        elif mark in ROLES and block is None:
            block = mark
            cells.append(_raw(f"# BEGIN {mark.upper()}"))
        cells.append(cell)
    close_block()
    if open_question:
        cells.append(_raw("# END QUESTION"))
    if any("id" in cell for cell in nb.cells):  # nbformat 4.5: every cell has an id
        for i, cell in enumerate(cells):
            cell.setdefault("id", f"exercise-marker-{i}")
    nb.cells = cells
    return nb


def collapse(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` with its raw marker cells folded into the exercise marks."""
    nb = copy.deepcopy(nb)
    cells: list = []
    pending: dict | None = None
    block: str | None = None
    for cell in nb.cells:
        mark = marker(cell)
        if mark == "BEGIN QUESTION":
            config = yaml.safe_load("\n".join(cell.source.splitlines()[1:])) or {}
            pending = {"question": config.pop("name"), **config}
        elif mark in ("BEGIN SOLUTION", "BEGIN TESTS"):
            block = mark.split()[1].lower()
        elif mark in ("END SOLUTION", "END TESTS", "END QUESTION"):
            block = None
        elif mark is not None:
            raise MarkError(f"{name}: cannot fold the marker {mark!r}")
        elif pending is not None:
            cell.metadata[KEY] = pending
            pending = None
            cells.append(cell)
        else:
            if block:
                cell.metadata[KEY] = block
            cells.append(cell)
    nb.cells = cells
    return nb


def markers(nb: nbformat.NotebookNode) -> list[str]:
    """The sequence of raw markers of ``nb`` (for comparing two forms of a notebook)."""
    return [m for m in (marker(c) for c in nb.cells) if m]
