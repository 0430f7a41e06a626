"""Exercise marks in cell metadata (``tools/exercise_marks.py``): the self-study notebooks show no
Otter-Grader marker cell, and the marks rebuild the markers ``otter assign`` reads."""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "tools"))
import exercise_marks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_marker_cell_is_visible_and_the_marks_make_whole_questions(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert exercise_marks.markers(nb) == [], f"{path.name}: Otter-Grader marker cells a learner would see"
    assert not [c for c in nb.cells if c.cell_type == "raw"], f"{path.name}: raw cells"
    expanded = exercise_marks.markers(exercise_marks.expand(nb, path.name))
    questions = sum(1 for m in expanded if m == "BEGIN QUESTION")
    assert questions >= 2
    assert expanded == ["BEGIN QUESTION", "BEGIN SOLUTION", "END SOLUTION", "BEGIN TESTS", "END TESTS",
                        "END QUESTION"] * questions


def test_collapse_and_expand_are_inverse() -> None:
    raw, code, md = nbformat.v4.new_raw_cell, nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    nb = nbformat.v4.new_notebook(cells=[
        md("intro"), raw("# BEGIN QUESTION\nname: q01_x\npoints: 2\nmanual: false"), code("stub"),
        raw("# BEGIN SOLUTION"), md("note"), code("answer"), raw("# END SOLUTION"),
        raw("# BEGIN TESTS"), code("test"), raw("# END TESTS"), raw("# END QUESTION"), md("after")])
    folded = exercise_marks.collapse(nb)
    assert [c.metadata.get("exercise") for c in folded.cells] == [
        None, {"question": "q01_x", "points": 2, "manual": False}, "solution", "solution", "tests", None]
    again = exercise_marks.expand(folded)
    assert [(c.cell_type, c.source) for c in again.cells] == [(c.cell_type, c.source) for c in nb.cells]
    assert all("exercise" not in c.metadata for c in again.cells)


def test_a_mark_outside_a_question_is_named() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", metadata={"exercise": "tests"})])
    with pytest.raises(exercise_marks.MarkError, match="outside a question"):
        exercise_marks.expand(nb, "05_x.ipynb")
    nb.cells[0].metadata["exercise"] = "solutions"
    with pytest.raises(exercise_marks.MarkError, match="unknown exercise mark 'solutions'"):
        exercise_marks.expand(nb, "05_x.ipynb")
