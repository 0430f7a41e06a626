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
read. :func:`check` (run by :func:`expand`) refuses, in one line naming the
notebook, the question and the cell, what otter would get wrong silently or with
a traceback: solution code outside its ``# BEGIN SOLUTION`` / ``# END SOLUTION``
lines (it would reach the student edition), two questions of one name (otter
merges them), a block without its END, a configuration that is not YAML or
whose ``points`` is not a number. :func:`collapse` is its inverse: marker cells folded into marks (how the
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
# the lines of a solution cell between which otter strips the code (everything else reaches the student)
SOLUTION_BEGIN = re.compile(r"[ \t]*# BEGIN SOLUTION(?: NO PROMPT)?[ \t]*")
SOLUTION_END = re.compile(r"[ \t]*# END SOLUTION[ \t]*")


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
    position = {id(cell): i for i, cell in enumerate(nb.cells, 1)}  # for check's messages

    def close_block() -> None:
        nonlocal block
        if block:
            cells.append(_raw(f"# END {block.upper()}"))
            block = None

    for cell in nb.cells:
        mark = cell.metadata.pop(KEY, None)
        if isinstance(mark, str) and mark not in ROLES:
            raise MarkError(f"{name}, cell {position[id(cell)]}: unknown exercise mark {mark!r} "
                            f"(expected a question, {ROLES})")
        if mark in ROLES and not open_question:
            raise MarkError(f"{name}, cell {position[id(cell)]}: a {mark!r} cell outside a question: "
                            f"{_first_line(cell.source)!r}")
        if mark != block:
            close_block()
        if open_question and mark is None or isinstance(mark, dict):
            if open_question:
                cells.append(_raw("# END QUESTION"))
            open_question = False
        if isinstance(mark, dict):
            cells.append(_question_cell(mark, name))
            position[id(cells[-1])] = position[id(cell)]  # its question is named on the learner's cell
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
    check(cells, name, position)
    nb.cells = cells
    return nb


def _first_line(text: str) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _points_problem(points: Any) -> str | None:
    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and value == value

    if points is None or number(points) or (isinstance(points, list) and points and all(map(number, points))):
        return None
    return f"points must be a number >= 0 (or a list of them, one per test), got {points!r}"


def check(cells: list, name: str = "notebook", position: dict[int, int] | None = None) -> None:
    """Refuse, with one line naming ``name``, the question and the cell, the marker cells otter would
    turn into a leak or a traceback. ``position`` maps ``id(cell)`` to its place in the notebook as
    written (the marker cells :func:`expand` adds have none)."""
    position = position or {}
    question: str | None = None
    block: str | None = None
    seen: dict[str, int] = {}

    def where(cell: Any, index: int) -> str:
        place = position.get(id(cell))
        cell_text = f"cell {place}" if place is not None else f"the marker before cell {index + 1}"
        return f"{name}, question {question!r}, {cell_text}" if question else f"{name}, {cell_text}"

    def refuse(cell: Any, index: int, problem: str) -> None:
        raise MarkError(f"{where(cell, index)}: {problem}")

    for index, cell in enumerate(cells):
        mark = marker(cell)
        if mark == "BEGIN QUESTION":
            if block:
                refuse(cell, index, f"a BEGIN {block} marker has no END {block} before the next question")
            if question:
                refuse(cell, index, f"question {question!r} has no END QUESTION before the next question")
            body = "\n".join(cell.get("source", "").splitlines()[1:])
            try:
                config = yaml.safe_load(body)
            except yaml.YAMLError as exc:
                problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
                refuse(cell, index, f"the question's configuration is not valid YAML ({problem}): {body[:60]!r}")
            if not isinstance(config, dict) or not isinstance(config.get("name"), str) or not config["name"]:
                refuse(cell, index, f"the question's configuration needs a name (name: q01_x), got {config!r}")
            question = config["name"]
            if question in seen:
                refuse(cell, index, f"a second question named {question!r} (the first is at cell "
                                    f"{seen[question]}): otter would merge them; give each question its own name")
            seen[question] = position.get(id(cell), index + 1)
            problem = _points_problem(config.get("points"))
            if problem:
                refuse(cell, index, problem)
        elif mark is not None:
            begin, kind = mark.split()
            if begin == "BEGIN":
                if question is None:
                    refuse(cell, index, f"a {mark} marker outside a question")
                if block:
                    refuse(cell, index, f"a BEGIN {block} marker has no END {block} before {mark}")
                block = kind
            elif kind == "QUESTION":
                if block:
                    refuse(cell, index, f"a BEGIN {block} marker has no END {block} before END QUESTION")
                if question is None:
                    refuse(cell, index, "an END QUESTION marker without its BEGIN QUESTION")
                question = None
            elif block != kind:
                refuse(cell, index, f"an {mark} marker without its BEGIN {kind}"
                                    + (f" (BEGIN {block} is open)" if block else ""))
            else:
                block = None
        elif block == "SOLUTION" and cell.get("cell_type") == "code":
            problem = _solution_cell_problem(cell.get("source", ""))
            if problem:
                refuse(cell, index, problem)
    if block:
        raise MarkError(f"{name}, question {question!r}: a BEGIN {block} marker has no END {block}")
    if question:
        raise MarkError(f"{name}, question {question!r}: no END QUESTION")


def _solution_cell_problem(source: str) -> str | None:
    """What in a solution block's code cell otter would hand to students, or ``None``: every line
    of code must lie between a ``# BEGIN SOLUTION`` line and its ``# END SOLUTION`` line."""
    inside = False
    for line in source.splitlines():
        if SOLUTION_BEGIN.fullmatch(line):
            if inside:
                return "a second # BEGIN SOLUTION line before # END SOLUTION in the solution's code"
            inside = True
        elif SOLUTION_END.fullmatch(line):
            if not inside:
                return ("an # END SOLUTION line without its # BEGIN SOLUTION in the solution's code "
                        "(is that line missing or misspelt?)")
            inside = False
        elif not inside and line.strip() and not line.lstrip().startswith("#"):
            return (f"solution code outside its # BEGIN SOLUTION / # END SOLUTION lines would reach the "
                    f"student edition: {line.strip()[:60]!r} (are those lines missing or misspelt?)")
    if inside:
        return "a # BEGIN SOLUTION line without its # END SOLUTION in the solution's code"
    return None


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
