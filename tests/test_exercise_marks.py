"""Exercise marks in cell metadata (``tools/exercise_marks.py``): the self-study notebooks show no
Otter-Grader marker cell, and the marks rebuild the markers ``otter assign`` reads; marks or markers
that would leak a solution into the student edition, merge two questions or give otter's traceback
stop ``make student`` with one line naming the notebook, the question and the cell (issue #24)."""
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
        raw("# BEGIN SOLUTION"), md("note"), code("# BEGIN SOLUTION\nanswer\n# END SOLUTION"), raw("# END SOLUTION"),
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


# --------------------------------------------------------------------------- broken marks (issue #24)
NB03 = ROOT / "notebooks" / "03_masks.ipynb"


def notebook_03() -> nbformat.NotebookNode:
    return nbformat.read(NB03, as_version=4)


def solution_cell(nb: nbformat.NotebookNode, question: str) -> tuple[int, nbformat.NotebookNode]:
    """The 1-based position and the code cell of ``question``'s worked solution."""
    start = next(i for i, c in enumerate(nb.cells) if isinstance(c.metadata.get("exercise"), dict)
                 and c.metadata["exercise"]["question"] == question)
    index = next(i for i in range(start + 1, len(nb.cells))
                 if nb.cells[i].metadata.get("exercise") == "solution" and nb.cells[i].cell_type == "code")
    return index + 1, nb.cells[index]


def refusal(nb: nbformat.NotebookNode, name: str = "03_masks.ipynb") -> str:
    with pytest.raises(exercise_marks.MarkError) as error:
        exercise_marks.expand(nb, name)
    message = str(error.value)
    assert "\n" not in message, message  # one line
    return message


@pytest.mark.parametrize("edit", [
    lambda src: src.replace("# BEGIN SOLUTION NO PROMPT\n", "").replace("# END SOLUTION", ""),  # both deleted
    lambda src: src.replace("# BEGIN SOLUTION NO PROMPT", "# BEGIN SOLUTOIN NO PROMPT"),  # misspelt
    lambda src: src.replace("# BEGIN SOLUTION NO PROMPT", "# BEGIN SOLUTION NO PROMT"),
    lambda src: src.replace("# BEGIN SOLUTION NO PROMPT", "#BEGIN SOLUTION"),
], ids=["deleted", "SOLUTOIN", "PROMT", "no space"])
def test_solution_code_outside_its_marker_lines_is_refused(edit) -> None:
    nb = notebook_03()
    position, cell = solution_cell(nb, "q03_local_mask")
    cell.source = edit(cell.source)
    message = refusal(nb)
    assert message.startswith(f"03_masks.ipynb, question 'q03_local_mask', cell {position}: ")
    assert "would reach the student edition" in message or "without its # BEGIN SOLUTION" in message
    assert "missing or misspelt" in message


def test_the_reported_leak_is_named_with_its_line() -> None:
    nb = notebook_03()
    position, cell = solution_cell(nb, "q03_local_mask")
    cell.source = cell.source.replace("# BEGIN SOLUTION NO PROMPT\n", "").replace("# END SOLUTION", "")
    message = refusal(nb)
    assert ("solution code outside its # BEGIN SOLUTION / # END SOLUTION lines would reach the student "
            "edition: 'def local_causal_mask(T: int, window: int) -> torch.Tensor:'") in message


def test_a_solution_without_its_end_line_is_refused() -> None:
    nb = notebook_03()
    position, cell = solution_cell(nb, "q03_causal_average")
    cell.source = cell.source.replace("# END SOLUTION", "")
    assert refusal(nb) == (f"03_masks.ipynb, question 'q03_causal_average', cell {position}: a # BEGIN SOLUTION "
                           "line without its # END SOLUTION in the solution's code")


def test_two_questions_of_one_name_are_refused() -> None:
    nb = notebook_03()
    marks = [c.metadata["exercise"] for c in nb.cells if isinstance(c.metadata.get("exercise"), dict)]
    first = next(i for i, c in enumerate(nb.cells, 1) if c.metadata.get("exercise") is marks[0])
    second = next(i for i, c in enumerate(nb.cells, 1) if c.metadata.get("exercise") is marks[1])
    marks[1]["question"] = marks[0]["question"]
    assert refusal(nb) == (f"03_masks.ipynb, question 'q03_local_mask', cell {second}: a second question named "
                           f"'q03_local_mask' (the first is at cell {first}): otter would merge them; give each "
                           "question its own name")


@pytest.mark.parametrize("points, shown", [("two", "'two'"), (-1, "-1"), (True, "True"), ([], "[]"),
                                           ([1, "x"], "[1, 'x']")])
def test_points_that_are_not_a_number_are_refused(points, shown) -> None:
    nb = notebook_03()
    mark = next(c.metadata["exercise"] for c in nb.cells if isinstance(c.metadata.get("exercise"), dict))
    mark["points"] = points
    message = refusal(nb)
    assert message.endswith(f"points must be a number >= 0 (or a list of them, one per test), got {shown}")
    assert message.startswith("03_masks.ipynb, question 'q03_local_mask', cell ")


def raw_layout(*cells) -> nbformat.NotebookNode:
    """A notebook in otter's own marker layout (raw marker cells, as the site's tests write them)."""
    raw, code = nbformat.v4.new_raw_cell, nbformat.v4.new_code_cell
    made = [raw(c[4:]) if c.startswith("raw:") else code(c) for c in cells]
    return nbformat.v4.new_notebook(cells=made)


WHOLE = ["raw:# BEGIN QUESTION\nname: q01_x\npoints: 2", "stub()", "raw:# BEGIN SOLUTION",
         "# BEGIN SOLUTION\nanswer()\n# END SOLUTION", "raw:# END SOLUTION", "raw:# BEGIN TESTS", "test()",
         "raw:# END TESTS", "raw:# END QUESTION"]


def test_a_whole_question_in_otters_layout_passes() -> None:
    exercise_marks.expand(raw_layout(*WHOLE), "01_x.ipynb")


@pytest.mark.parametrize("cells, expected", [
    ([c for c in WHOLE if c != "raw:# END SOLUTION"],
     "01_x.ipynb, question 'q01_x', cell 5: a BEGIN SOLUTION marker has no END SOLUTION before BEGIN TESTS"),
    (WHOLE[:-1], "01_x.ipynb, question 'q01_x': no END QUESTION"),
    (WHOLE[:-2], "01_x.ipynb, question 'q01_x': a BEGIN TESTS marker has no END TESTS"),
    (["raw:# BEGIN QUESTION\nname: q01_x\npoints: [2"] + WHOLE[1:],
     "01_x.ipynb, cell 1: the question's configuration is not valid YAML"),
    (["raw:# BEGIN QUESTION\npoints: 2"] + WHOLE[1:],
     "01_x.ipynb, cell 1: the question's configuration needs a name (name: q01_x), got {'points': 2}"),
    (["raw:# BEGIN QUESTION\nname: q01_x\npoints: two"] + WHOLE[1:],
     "01_x.ipynb, question 'q01_x', cell 1: points must be a number >= 0"),
    (WHOLE + WHOLE, "01_x.ipynb, question 'q01_x', cell 10: a second question named 'q01_x' (the first is at cell 1)"),
    (["raw:# END SOLUTION"] + WHOLE, "01_x.ipynb, cell 1: an END SOLUTION marker without its BEGIN SOLUTION"),
])
def test_broken_markers_get_one_line_naming_notebook_and_cell(cells, expected) -> None:
    assert refusal(raw_layout(*cells), "01_x.ipynb").startswith(expected)


def test_make_student_stops_before_any_work_with_one_line(tmp_path, monkeypatch, capsys) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    import editions

    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = notebook_03()
    position, cell = solution_cell(nb, "q03_local_mask")
    cell.source = cell.source.replace("# BEGIN SOLUTION NO PROMPT", "# BEGIN SOLUTOIN NO PROMPT")
    nbformat.write(nb, folder / "03_masks.ipynb")
    real_build = editions.build
    monkeypatch.setattr(editions, "build", lambda out: real_build(out, notebooks=folder))
    monkeypatch.setattr(editions, "course_wheel", lambda *a, **k: pytest.fail("the wheel was built first"))
    with pytest.raises(SystemExit) as stop:
        editions.main(["--out", str(tmp_path / "release")])
    message = str(stop.value.code)
    assert message.startswith(f"editions: 03_masks.ipynb, question 'q03_local_mask', cell {position}: solution code")
    assert "\n" not in message and not (tmp_path / "release").exists()
