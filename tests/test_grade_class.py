"""Grading a whole class: ``tools/grade.py --class FOLDER``.

- real runs (slow; one class graded once per module, the other tests copy it):
  2 students x notebooks 00 and 03 in both layouts (a subfolder per student,
  files named by student), with an honest, a stub, a wrong-answer and a cheating
  notebook, a broken (non-JSON) file and a notebook that is no course notebook:
  the gradebook's rows, the feedback files, a re-run that grades nothing, a
  changed submission graded again;
- the refusals (no sandbox, an output folder holding others' files) and the
  one-notebook errors, without grading;
- the worker pool with a stand-in grader: a grading that raises and one whose
  process dies each get a row, and the run goes on.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import grade  # noqa: E402
import notebook_runs  # noqa: E402

from glmlib.exercises.grading import NotebookGrade, QuestionGrade  # noqa: E402

CHEAT = "import glmlib.exercises.checking as c; c.CheckResult.require = lambda self: None"
WRONG_PADDED = ("def padded_causal_additive(lengths, T):\n"
                "    pos = torch.arange(T)\n"
                "    causal = pos[None, :] <= pos[:, None]\n"
                "    return torch.zeros(len(lengths), T, T).masked_fill(~causal, float('-inf'))\n")


_CONFIG: list = []  # this run's pytest config: the editions are built once per run, when first needed


@pytest.fixture(scope="session", autouse=True)
def _remember_config(request) -> None:
    _CONFIG[:] = [request.config]


def _edition(name: str, stem: str) -> nbformat.NotebookNode:
    """A notebook of the classroom editions this test run builds (as ``make student`` does)."""
    release = notebook_runs.shared_release(_CONFIG[0])
    return nbformat.read(release / name / f"{stem}.ipynb", as_version=4)


def _with_answer(nb: nbformat.NotebookNode, question: str, code: str) -> nbformat.NotebookNode:
    """``nb`` with the code cell before ``grader.check(question)`` replaced by ``code``."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for before, cell in zip(code_cells, code_cells[1:]):
        if re.match(rf'grader\.check\("{question}"\)', cell.source):
            before.source = code
            return nb
    raise AssertionError(f"no check of {question}")


def _cheating(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.cells.insert(1, nbformat.v4.new_code_cell(CHEAT))
    return nb


def _class_folder(folder: Path) -> Path:
    """alice: a subfolder, honest answers; bob: files named by student, 00 a cheat on the stubs and 03 one
    exercise wrong; carol: a broken file; a notebook of no course notebook's."""
    (folder / "alice").mkdir(parents=True)
    nbformat.write(_edition("instructor", "00_welcome"), folder / "alice" / "00_welcome.ipynb")
    nbformat.write(_edition("instructor", "03_masks"), folder / "alice" / "03_masks.ipynb")
    nbformat.write(_cheating(_edition("student", "00_welcome")), folder / "bob_00_welcome.ipynb")
    nbformat.write(_with_answer(_edition("instructor", "03_masks"), "q03_padded_additive", WRONG_PADDED),
                   folder / "bob-03_masks.ipynb")
    (folder / "carol_03_masks.ipynb").write_text("this is not a notebook")
    nbformat.write(nbformat.v4.new_notebook(), folder / "holiday_photos.ipynb")
    return folder


def _options() -> list[str]:
    """Where the system cannot sandbox (not Linux), these trusted notebooks are graded without it."""
    return ["--unsafe-no-sandbox"] if grade.sandbox.mode() == "none" else []


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = grade.main([*map(str, argv), "--no-progress", *_options()])
    out, err = capsys.readouterr()
    return code, out, err


def _gradebook(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return list(csv.DictReader(f))


def _rows(book: list[dict], student: str, notebook: str) -> dict[str, dict]:
    return {r["question"]: r for r in book if r["student"] == student and r["notebook"] == notebook}


# ------------------------------------------------------------------ real runs

@pytest.fixture(scope="module", autouse=True)
def fixed_code_fingerprint():
    """The grader's code as it is when this module starts: ``glmlib/exercises`` edited while the tests run
    (a working copy) would rightly make a re-run grade everything again."""
    fingerprint = grade.code_fingerprint()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grade, "code_fingerprint", lambda: fingerprint)
        yield


def test_the_cache_key_holds_the_submission_the_course_notebook_and_the_grader(tmp_path) -> None:
    known = grade.masters()
    (tmp_path / "alice_00_welcome.ipynb").write_text("{}")
    task, = grade.discover(tmp_path, known)
    key = grade.cache_key(task, "code", "settings")
    assert key == grade.cache_key(task, "code", "settings")
    assert key != grade.cache_key(task, "code changed", "settings")
    assert key != grade.cache_key(task, "code", "another time limit")
    (tmp_path / "alice_00_welcome.ipynb").write_text("{} ")
    assert key != grade.cache_key(task, "code", "settings")
    task.file = "bob_00_welcome.ipynb"
    assert grade.cache_key(task, "code", "settings") != grade.cache_key(
        grade.discover(tmp_path, known)[0], "code", "settings")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> tuple[Path, float]:
    """The class folder, graded once (its grades in FOLDER/grades), the output and the seconds it took."""
    folder = _class_folder(tmp_path_factory.mktemp("class") / "submissions")
    start = time.monotonic()
    code = grade.main(["--class", str(folder), "--jobs", "2", "--no-progress", *_options()])
    assert code == 0
    return folder, time.monotonic() - start


@pytest.mark.slow
@pytest.mark.xdist_group("grade-class")
def test_gradebook_has_a_row_per_question_and_per_failed_notebook(graded_class) -> None:
    folder, _ = graded_class
    book = _gradebook(folder / "grades")
    assert list(book[0]) == grade.GRADEBOOK_COLUMNS
    alice00, alice03 = _rows(book, "alice", "00_welcome"), _rows(book, "alice", "03_masks")
    assert set(alice00) == {"q00_next_token_probs", "q00_causal_row"}
    assert set(alice03) == {"q03_local_mask", "q03_padded_additive", "q03_causal_average"}
    assert all(r["status"] == "pass" and r["points"] == r["max"] and not r["flags"]
               for r in [*alice00.values(), *alice03.values()])
    assert all(r["file"].startswith("alice/") for r in [*alice00.values(), *alice03.values()])

    bob00 = _rows(book, "bob", "00_welcome")  # the stubs, and a cheat that passes everything in the notebook
    assert set(bob00) == set(alice00)
    assert all(r["points"] == "0" and "tamper" in r["flags"] for r in bob00.values()), bob00
    bob03 = _rows(book, "bob", "03_masks")  # one exercise wrong
    assert {q: r["points"] for q, r in bob03.items()} == {
        "q03_local_mask": "2", "q03_padded_additive": "0", "q03_causal_average": "3"}
    assert bob03["q03_padded_additive"]["status"] == "fail"

    carol = _rows(book, "carol", "03_masks")  # not JSON: named by its file, graded as unreadable
    assert carol[grade.WHOLE]["status"] == "error"
    assert "not a readable notebook" in carol[grade.WHOLE]["reason"]
    assert carol[grade.WHOLE]["max"] == "7"
    assert all(carol[q]["points"] == "0" for q in alice03)

    stray = [r for r in book if r["file"] == "holiday_photos.ipynb"]
    assert len(stray) == 1 and stray[0]["status"] == "error"
    assert "cannot tell which notebook" in stray[0]["reason"]
    assert len(book) == 2 + 3 + 2 + 3 + 4 + 1


@pytest.mark.slow
@pytest.mark.xdist_group("grade-class")
def test_feedback_holds_every_diagnosis_in_full_with_notes_and_flags(graded_class) -> None:
    folder, _ = graded_class
    feedback = folder / "grades" / "feedback"
    assert sorted(p.relative_to(feedback).as_posix() for p in feedback.rglob("*.md")) == [
        "alice/00_welcome.md", "alice/03_masks.md", "bob/00_welcome.md", "bob/03_masks.md",
        "carol/03_masks.md", "no-student/holiday_photos.md"]
    assert "**Score: 7 / 7**" in (feedback / "alice" / "03_masks.md").read_text()
    bob03 = (feedback / "bob" / "03_masks.md").read_text()
    assert "**Score: 5 / 7**" in bob03
    assert "## q03_padded_additive: 0 / 2 (fail)" in bob03
    cached = [NotebookGrade.from_json(json.loads(p.read_text())["grade"])
              for p in (folder / "grades" / "cache").glob("*.json")]
    wrong = next(r for g in cached for r in g.rows if r.question == "q03_padded_additive" and r.score == 0
                 and not g.error)
    assert len(wrong.diagnosis) > 40 and wrong.diagnosis in bob03  # whole, not cut
    bob00 = (feedback / "bob" / "00_welcome.md").read_text()
    assert "Flags" in bob00 and "CheckResult.require" in bob00
    assert "not a readable notebook" in (feedback / "carol" / "03_masks.md").read_text()


@pytest.mark.slow
@pytest.mark.xdist_group("grade-class")
def test_a_rerun_grades_nothing_and_a_changed_submission_is_graded_again(graded_class, tmp_path, capsys) -> None:
    folder, first = graded_class
    copy = tmp_path / "submissions"
    shutil.copytree(folder, copy)  # the grades too: the cache's keys hold paths within the folder
    before = (copy / "grades" / "gradebook.csv").read_text()
    start = time.monotonic()
    code, out, _ = _run(capsys, "--class", copy)
    assert code == 0
    assert time.monotonic() - start < max(first / 3, 5.0)
    assert "graded 0 notebooks (5 unchanged, from the cache) of 3 students" in out
    assert (copy / "grades" / "gradebook.csv").read_text() == before

    nbformat.write(_edition("student", "03_masks"), copy / "alice" / "03_masks.ipynb")  # alice starts over
    code, out, _ = _run(capsys, "--class", copy, "--jobs", "1")
    assert code == 0
    assert "graded 1 notebook (4 unchanged, from the cache) of 3 students" in out, out
    alice03 = _rows(_gradebook(copy / "grades"), "alice", "03_masks")
    assert {r["status"] for r in alice03.values()} == {"not yet"}
    assert "**Score: 0 / 7**" in (copy / "grades" / "feedback" / "alice" / "03_masks.md").read_text()
    assert len(list((copy / "grades" / "cache").glob("*.json"))) == 5  # the old grading of alice's 03 dropped


@pytest.mark.slow
def test_one_notebook_prints_each_question_and_the_score_last(tmp_path, capsys) -> None:
    submission = tmp_path / "03_masks.ipynb"
    nbformat.write(_with_answer(_edition("instructor", "03_masks"), "q03_padded_additive", WRONG_PADDED),
                   submission)
    code, out, _ = _run(capsys, submission)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[-1] == "score: 5 / 7"
    line = next(line for line in lines if line.startswith("q03_padded_additive"))
    assert re.match(r"q03_padded_additive\s+0 / 2\s+fail\s+\S", line), line
    assert next(line for line in lines if line.startswith("q03_local_mask")).split()[1:4] == ["2", "/", "2"]


# ------------------------------------------------------------------ refusals and errors (no grading)

def test_no_sandbox_is_refused_in_one_sentence_unless_asked(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(grade.sandbox, "mode", lambda: "none")
    (tmp_path / "alice").mkdir()
    for argv in (["--class", str(tmp_path)], [str(tmp_path / "alice" / "00_welcome.ipynb")]):
        assert grade.main([*argv, "--no-progress"]) == 2
        out, err = capsys.readouterr()
        assert not out
        assert err.count(". ") == 0 and err.strip().endswith("only for code you trust"), err
        assert "cannot sandbox" in err and "--unsafe-no-sandbox" in err
    assert not (tmp_path / "grades").exists()


def test_an_output_folder_with_others_files_is_refused(tmp_path, capsys) -> None:
    (tmp_path / "subs").mkdir()
    mine = tmp_path / "subs" / "grades"
    mine.mkdir()
    (mine / "my_notes.txt").write_text("keep me")
    code = grade.main(["--class", str(tmp_path / "subs"), "--no-progress", "--unsafe-no-sandbox"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "refusing to write into" in err and "my_notes.txt" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in mine.iterdir()) == ["my_notes.txt"]

    other = tmp_path / "elsewhere"  # --out: a folder of this tool's, then a file of it edited
    assert grade.main(["--class", str(tmp_path / "subs" / "grades"), "--out", str(other), "--no-progress",
                       "--unsafe-no-sandbox"]) == 0  # no notebooks at all: an empty gradebook
    capsys.readouterr()
    assert (other / "gradebook.csv").read_text().strip() == ",".join(grade.GRADEBOOK_COLUMNS)
    (other / "gradebook.csv").write_text("student,mark\nalice,A\n")
    assert grade.main(["--class", str(tmp_path / "subs" / "grades"), "--out", str(other), "--no-progress",
                       "--unsafe-no-sandbox"]) == 2
    assert "gradebook.csv (changed since)" in capsys.readouterr().err
    assert (other / "gradebook.csv").read_text() == "student,mark\nalice,A\n"


def test_one_notebook_unknown_or_missing_gets_one_sentence(tmp_path, capsys) -> None:
    stray = tmp_path / "holiday_photos.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), stray)
    assert grade.main([str(stray), "--unsafe-no-sandbox"]) == 2
    assert "cannot tell which notebook this is" in capsys.readouterr().err
    assert grade.main([str(tmp_path / "missing.ipynb"), "--unsafe-no-sandbox"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_students_and_notebooks_are_told_by_folder_or_by_file_name(tmp_path) -> None:
    known = grade.masters()
    for name in ("alice/04_attention.ipynb", "alice/extra/05_decoder_block.ipynb", "bob_04_attention.ipynb",
                 "carol-06_training.ipynb", "dan 07_generation_and_sampling (1).ipynb", "eve.ipynb",
                 ".ipynb_checkpoints/bob_04_attention-checkpoint.ipynb", "grades/x_00_welcome.ipynb"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook()
        if name == "eve.ipynb":
            nb.metadata["otter"] = {"assignment_name": "08_inside_the_model"}
        nbformat.write(nb, path)
    found = {(t.student, t.notebook, t.file) for t in grade.discover(tmp_path, known, skip=[tmp_path / "grades"])}
    assert found == {("alice", "04_attention", "alice/04_attention.ipynb"),
                     ("alice", "05_decoder_block", "alice/extra/05_decoder_block.ipynb"),
                     ("bob", "04_attention", "bob_04_attention.ipynb"),
                     ("carol", "06_training", "carol-06_training.ipynb"),
                     ("dan", "07_generation_and_sampling", "dan 07_generation_and_sampling (1).ipynb"),
                     ("eve", "08_inside_the_model", "eve.ipynb")}


# ------------------------------------------------------------------ the pool, with a stand-in grader

def stand_in_grader(submission: Path, master: Path, *, slot: int = 0, unsafe: bool = False,
                    notebook_timeout: float = 0.0, hide: tuple = ()) -> NotebookGrade:
    """Full marks, except ``crash_*`` (raises while GRADE_TEST_CRASH is set) and ``die_*`` (its process dies)."""
    if submission.name.startswith("crash") and os.environ.get("GRADE_TEST_CRASH"):
        raise RuntimeError("boom")
    if submission.name.startswith("die"):
        os._exit(3)
    time.sleep(0.2)
    return NotebookGrade(master.stem, str(submission), [QuestionGrade("q", 1.0, 1.0, "pass", "fine")],
                         notes=[f"slot {slot}"], sandbox="stand-in")


def test_a_grading_that_raises_or_dies_gets_a_row_and_the_run_goes_on(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRADE_TEST_CRASH", "1")  # the spawned workers inherit it
    names = ["alice_00_welcome", "crash_00_welcome", "bob_00_welcome", "die_03_masks", "carol_03_masks",
             "dan_03_masks"]
    for name in names:
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / f"{name}.ipynb")
    result = grade.grade_class(tmp_path, jobs=2, grader=stand_in_grader, progress=False)
    assert result.graded == len(names)
    book = _gradebook(tmp_path / "grades")
    errors = {r["student"]: r["reason"] for r in book if r["status"] == "error"}
    assert set(errors) == {"crash", "die"}
    assert "RuntimeError: boom" in errors["crash"] and "re-run tries it again" in errors["crash"]
    assert "process died" in errors["die"]
    assert all(r["question"] == grade.WHOLE for r in book if r["status"] == "error")
    fine = {r["student"] for r in book if r["status"] == "pass"}
    assert fine == {"alice", "bob", "carol", "dan"}
    slots = {note for g in result.grades.values() if g is not None for note in g.notes if note.startswith("slot")}
    assert slots <= {"slot 0", "slot 1"}

    monkeypatch.delenv("GRADE_TEST_CRASH")  # a crash is not cached: the re-run grades it again, only it (and die)
    again = grade.grade_class(tmp_path, jobs=2, grader=stand_in_grader, progress=False)
    assert (again.graded, again.cached) == (2, 4)
    assert {r["student"] for r in _gradebook(tmp_path / "grades") if r["status"] == "error"} == {"die"}


def test_a_notebook_whose_name_and_metadata_disagree_is_not_graded_as_either(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(metadata={"otter": {"assignment_name": "03_masks"}})
    path = tmp_path / "alice_04_attention.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(grade.GradingError, match="file name says 04_attention but the notebook says it is 03_masks"):
        grade.identify(path, grade.masters())
    nbformat.write(nbformat.v4.new_notebook(), path)
    assert grade.identify(path, grade.masters()) == "04_attention"  # no stored name: the file name decides
