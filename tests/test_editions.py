"""The classroom editions: built from one source with otter-grader; graded by the course's grader.

- the student edition holds none of the worked solutions, runs top to bottom
  with every exercise unsolved, and scores 0, each checker saying "not yet";
- the instructor edition scores full marks;
- every catalogued wrong answer loses exactly its own exercise's points
  (with the autograder's own test files), and a notebook with some exercises
  wrong loses exactly theirs when graded end to end by ``make grade``
  (``tools/grade.py``: sandboxed, ``tests/test_grading.py``);
- ``pip install .`` installs no solution code.
"""
from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import notebook_runs
from notebook_solutions import NOTEBOOKS, questions, run_code

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import editions  # noqa: E402
import grade  # noqa: E402

STEMS = [p.stem for p in editions.sources()]


def catalogue(stem: str):
    """The wrong-answer catalogue of a notebook (``tests/wrong_answers/nbNN.py``)."""
    return importlib.import_module(f"wrong_answers.nb{stem[:2]}")


@pytest.fixture(scope="session")
def release(request) -> Path:
    """All editions, built once per test run (shared by its workers) exactly as ``make student`` does."""
    return notebook_runs.shared_release(request.config)


def _meaningful(line: str) -> bool:
    line = line.strip()
    return bool(line) and not line.startswith("#") and len(line) > 3


def solution_only_lines(stem: str) -> set[str]:
    """The lines of the worked solutions that appear nowhere else in the source."""
    source = (NOTEBOOKS / f"{stem}.py").read_text(encoding="utf-8")
    solutions = {line.strip() for q in questions(stem).values()
                 for line in q.solution.splitlines() if _meaningful(line)}
    outside = source
    for q in questions(stem).values():
        for line in q.solution.splitlines():
            outside = outside.replace(line, "", 1) if line.strip() else outside
    elsewhere = {line.strip() for line in outside.splitlines()}
    return solutions - elsewhere


def code_of(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells)


# ------------------------------------------------------------------ structure

@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_has_a_stub_a_solution_and_a_test(stem: str) -> None:
    found = questions(stem)
    assert len(found) >= 2, f"{stem} has {len(found)} marked exercises"
    for q in found.values():
        assert q.name.startswith(f"q{stem[:2]}_"), q.name
        assert "NotImplementedError" in q.stub, f"{q.name}: the learner's cell is not a stub"
        assert q.solution.strip() and ".require()" in q.test, q.name


@pytest.mark.parametrize("stem", [s for s in STEMS if s >= "02"])
def test_every_notebook_from_02_has_a_transfer_exercise(stem: str) -> None:
    assert any(q.points >= 3 for q in questions(stem).values()), f"{stem}: no 3-point transfer exercise"


@pytest.mark.parametrize("stem", STEMS)
def test_student_edition_holds_no_solution_line(release: Path, stem: str) -> None:
    lines = solution_only_lines(stem)
    assert lines, f"{stem}: found no solution lines to look for"
    student = code_of(nbformat.read(release / "student" / f"{stem}.ipynb", as_version=4))
    instructor = code_of(nbformat.read(release / "instructor" / f"{stem}.ipynb", as_version=4))
    leaked = sorted(line for line in lines if line in student)
    assert not leaked, f"solution lines in the student edition of {stem}: {leaked[:5]}"
    missing = sorted(line for line in lines if line not in instructor)
    assert not missing, f"the instructor edition of {stem} lacks solution lines: {missing[:5]}"
    nb = nbformat.read(release / "student" / f"{stem}.ipynb", as_version=4)
    assert not any("otter_assign_solution_cell" in c.metadata.get("tags", []) for c in nb.cells)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    for q in questions(stem).values():
        assert f'grader.check("{q.name}")' in student
        assert (release / "student" / "tests" / f"{q.name}.py").exists()


@pytest.mark.parametrize("stem", STEMS)
def test_student_exercise_cells_are_editable(release: Path, stem: str) -> None:
    nb = nbformat.read(release / "student" / f"{stem}.ipynb", as_version=4)
    stubs = [c for c in nb.cells if c.cell_type == "code" and "NotImplementedError" in c.source]
    assert len(stubs) >= len(questions(stem))
    assert all(c.metadata.get("editable", True) for c in stubs)


def test_instructor_guide_covers_every_notebook(release: Path) -> None:
    guide = release / "instructor" / "guide"
    for stem in STEMS:
        page = guide / f"{stem}.md"
        assert page.exists(), f"no instructor guide page {page.name}"
        text = page.read_text(encoding="utf-8").lower()
        for part in ("goals", "90", "discussion"):
            assert part in text, f"{page.name} does not cover {part!r}"
        for q in questions(stem):
            assert q in page.read_text(encoding="utf-8"), f"{page.name} does not describe {q}"


# ------------------------------------------------- grading without executing

def _otter_tests(release: Path, stem: str) -> dict:
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file
    return {name: create_test_file(str(release / "student" / "tests" / f"{name}.py"), NBMetadataConfig())
            for name in questions(stem)}


def _scores(release: Path, stem: str, env: dict) -> dict[str, float]:
    scores = {}
    for name, test in _otter_tests(release, stem).items():
        test.run(env)
        scores[name] = test.score
    return scores


def _environment(stem: str, replace: dict[str, str] | None = None) -> dict:
    """SETUP, then every worked solution in order (or the given replacement code)."""
    env = run_code(catalogue(stem).SETUP)
    for name, q in questions(stem).items():
        run_code((replace or {}).get(name, q.solution), env)
    return env


@pytest.mark.parametrize("stem", STEMS)
def test_each_catalogued_wrong_answer_loses_exactly_its_points(release: Path, stem: str) -> None:
    found = questions(stem)
    full = {name: float(q.points) for name, q in found.items()}
    assert _scores(release, stem, _environment(stem)) == full
    wrong = catalogue(stem).WRONG
    assert set(wrong) == set(found), f"{stem}: catalogue and exercises differ"
    for name, answers in wrong.items():
        assert answers, f"{name} has no catalogued wrong answer"
        for label, (code, _fragment) in answers.items():
            scores = _scores(release, stem, _environment(stem, {name: code}))
            assert scores == {**full, name: 0}, f"{name} / {label}: {scores}"


# ------------------------------------------------------- grading end to end

def _with_answers(nb: nbformat.NotebookNode, replace: dict[str, str]) -> nbformat.NotebookNode:
    """The instructor notebook with some exercises' solution cells replaced."""
    nb = nbformat.from_dict(nb)
    pending: list[nbformat.NotebookNode] = []
    for cell in nb.cells:
        if "otter_assign_solution_cell" in cell.metadata.get("tags", []) and cell.cell_type == "code":
            pending.append(cell)
        m = re.match(r'grader\.check\("(\w+)"\)', cell.source)
        if m:
            if m.group(1) in replace:
                assert pending, f"no solution cell before the check of {m.group(1)}"
                pending[0].source = replace[m.group(1)]
                for extra in pending[1:]:
                    extra.source = ""
            pending = []
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_grading_instructor_full_marks_and_wrong_answers_lose_their_points(
        release: Path, tmp_path: Path, stem: str) -> None:
    found = list(questions(stem).values())
    instructor = nbformat.read(release / "instructor" / f"{stem}.ipynb", as_version=4)
    first_wrong = {q.name: next(iter(catalogue(stem).WRONG[q.name].values()))[0] for q in found}
    wrong = {q.name: first_wrong[q.name] for q in found[::2]}
    mixed = tmp_path / f"{stem}.ipynb"
    nbformat.write(_with_answers(instructor, wrong), mixed)
    points = {p.question: p for p in grade.grade(mixed)}
    for q in found:
        expected = 0 if q.name in wrong else q.points
        assert points[q.name].score == expected, f"{q.name}: {points[q.name]}"
        if q.name in wrong:
            assert points[q.name].why, f"{q.name} lost its points without a reason"


def _code_cells(nb: nbformat.NotebookNode, drop_tests: bool) -> list[str]:
    """Code cells without solution markers, the tests blocks (``drop_tests``) or otter's own cells."""
    cells, in_tests = [], False
    for cell in nb.cells:
        if cell.cell_type == "raw" and re.match(r"#\s+(BEGIN|END)\s+TESTS", cell.source.strip()):
            in_tests = cell.source.strip().split()[1].upper() == "BEGIN"
        if cell.cell_type != "code" or (drop_tests and (in_tests or cell.metadata.get("exercise") == "tests")):
            continue
        if cell.source.startswith(("# Initialize Otter", "grader.check")):
            continue
        code = "\n".join(line for line in cell.source.splitlines()
                         if not re.match(r"\s*# (BEGIN|END) SOLUTION", line)).strip()
        if code:
            cells.append(code)
    return cells


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_instructor_edition_gets_full_marks(release: Path, request, stem: str) -> None:
    """The instructor edition's code is the notebook's; the notebook's one shared run, graded in its
    kernel with the autograder's own tests (hidden cases included), scores full marks.
    (``otter run`` on an instructor edition is covered end to end by the mixed-answers test.)"""
    instructor = nbformat.read(release / "instructor" / f"{stem}.ipynb", as_version=4)
    source = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    assert _code_cells(instructor, drop_tests=False) == _code_cells(source, drop_tests=True)
    run = notebook_runs.graded_run(request.config, NOTEBOOKS / f"{stem}.ipynb")
    failed = notebook_runs.failed_cells(NOTEBOOKS / f"{stem}.ipynb", run)
    assert not failed, f"{stem}: code cells {failed} failed in the shared run"
    points = [grade.Points(name, score, possible, why)
              for name, (score, possible, why) in notebook_runs.points_of(run).items()]
    assert {p.question for p in points} == set(questions(stem))
    assert all(p.score == p.possible for p in points), grade.report(points)
    assert grade.report(points).splitlines()[-1] == (
        f"score: {sum(p.possible for p in points):g} / {sum(p.possible for p in points):g}")


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_student_edition_runs_top_to_bottom_and_scores_zero(release: Path, tmp_path: Path,
                                                            monkeypatch, stem: str) -> None:
    from otter.execute import grade_notebook
    work = tmp_path / "student"
    shutil.copytree(release / "student", work)
    monkeypatch.chdir(work)  # where a student's kernel starts: next to the notebook and tests/
    found = questions(stem)
    results = grade_notebook(str(work / f"{stem}.ipynb"), ignore_errors=False, cwd=str(work),
                             test_dir=str(work / "tests"),
                             tests_glob=[str(work / "tests" / f"{name}.py") for name in found])
    assert set(results.results) == set(found)
    for name, result in results.results.items():
        assert result.score == 0, f"{name} scored {result.score} unsolved"
        assert "not yet" in result.summary().lower(), f"{name}: {result.summary()[:400]}"
    stub_outputs = [str(c.get("outputs", "")) for c in results.notebook.cells
                    if c.cell_type == "code" and "NotImplementedError" in c.source]
    assert sum("not yet" in out.lower() for out in stub_outputs) >= len(found)


def test_make_grade_prints_points_and_score_last(tmp_path: Path, release: Path) -> None:
    """The README's grading command, end to end, on a submission with one exercise wrong."""
    stem = STEMS[0]
    instructor = nbformat.read(release / "instructor" / f"{stem}.ipynb", as_version=4)
    name, answers = next(iter(catalogue(stem).WRONG.items()))
    submission = tmp_path / f"{stem}.ipynb"
    nbformat.write(_with_answers(instructor, {name: next(iter(answers.values()))[0]}), submission)
    done = subprocess.run(["make", "-s", "grade", f"SUBMISSION={submission}"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    total = sum(q.points for q in questions(stem).values())
    lost = questions(stem)[name].points
    assert lines[-1] == f"score: {total - lost:g} / {total:g}"
    assert any(line.startswith(name) and f"0 / {lost:g}" in line for line in lines), lines


def test_grade_names_an_unknown_notebook(tmp_path: Path, release: Path) -> None:
    stray = tmp_path / "holiday_photos.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), stray)
    with pytest.raises(grade.GradingError, match="cannot tell which notebook"):
        grade.grade(stray)
    with pytest.raises(grade.GradingError, match="no such file"):
        grade.grade(tmp_path / "missing.ipynb")


# ------------------------------------------------------ the installed package

def _normalised(code: str) -> list[str]:
    return [" ".join(line.split()) for line in code.splitlines() if _meaningful(line)]


def solution_windows(stem: str, width: int = 3) -> set[tuple[str, ...]]:
    """Every run of ``width`` consecutive solution lines (a solution's fingerprint)."""
    windows = set()
    for q in questions(stem).values():
        lines = _normalised(q.solution)
        for i in range(max(len(lines) - width + 1, 0)):
            windows.add(tuple(lines[i:i + width]))
    return windows


@pytest.mark.slow
def test_installed_package_holds_no_solution_code(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)]
    done = subprocess.run(pip, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (site,) = (venv / "lib").glob("python3*/site-packages")
    files = list((site / "glmlib").rglob("*.py"))
    assert any(f.name == "checking.py" for f in files), "the checkers were not installed"
    assert not (site / "notebooks").exists() and not (site / "tests").exists()
    installed = [_normalised(f.read_text(encoding="utf-8")) for f in files]
    assert not any("def solution_" in line for lines in installed for line in lines)
    found = set()
    for lines in installed:
        found |= {tuple(lines[i:i + 3]) for i in range(len(lines) - 2)}
    fingerprints = set().union(*(solution_windows(stem) for stem in STEMS))
    assert len(fingerprints) > 50, "too few solution fingerprints to look for"
    in_sources = set()
    for stem in STEMS:  # the fingerprints do find the solutions where they are
        lines = _normalised((NOTEBOOKS / f"{stem}.py").read_text(encoding="utf-8"))
        in_sources |= {tuple(lines[i:i + 3]) for i in range(len(lines) - 2)}
    assert fingerprints <= in_sources
    leaked = sorted(fingerprints & found)
    assert not leaked, f"solution code in the installed package: {leaked[:3]}"


# ------------------------------------------------- the student edition, as a learner runs it

LEARNER_STEM = "03_masks"  # three exercises that need nothing but torch and the checkers


def _learner_notebook(release: Path, replace: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The student edition of ``LEARNER_STEM`` cut to what its checks need (the first cell, the
    imports, each exercise's cell and its check), some exercises' cells replaced by ``replace``."""
    nb = nbformat.read(release / "student" / f"{LEARNER_STEM}.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    keep = [cells[0], next(c for c in cells if re.search(r"import glmlib\.exercises\.\w+ as ex", c.source))]
    for before, cell in zip(cells, cells[1:]):
        m = re.match(r'grader\.check\("(\w+)"\)', cell.source)
        if m:
            assert "NotImplementedError" in before.source, f"no stub before the check of {m.group(1)}"
            if m.group(1) in (replace or {}):
                before = nbformat.v4.new_code_cell(replace[m.group(1)])
            keep += [before, cell]
    nb.cells = keep
    return nb


def _run_as_learner(nb: nbformat.NotebookNode, folder: Path, name: str) -> nbformat.NotebookNode:
    """Save ``nb`` as ``folder/name`` and run it top to bottom in a kernel started in ``folder``,
    as JupyterLab starts one for a notebook there (errors kept as outputs, as a learner sees them)."""
    import nbclient
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    nb = nbformat.read(folder / name, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, allow_errors=True,
                            resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def _shown(cell: nbformat.NotebookNode) -> str:
    """Everything a cell shows: streams, results (plain text and markdown), errors with tracebacks."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append("\n".join([out.ename, out.evalue, *out.traceback]))
        else:
            parts += [out.data.get(kind, "") for kind in ("text/plain", "text/markdown", "text/html")]
    return "\n".join(parts)


def _stderr(cell: nbformat.NotebookNode) -> str:
    return "".join(out.text for out in cell.get("outputs", [])
                   if out.output_type == "stream" and out.name == "stderr")


def _checks(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {m.group(1): c for c in nb.cells for m in [re.match(r'grader\.check\("(\w+)"\)', c.source)] if m}


def _one_sentence(text: str) -> str:
    text = text.strip()
    assert text and len(text.splitlines()) == 1 and text.endswith("."), f"not one sentence: {text!r}"
    assert "Traceback" not in text and "Error" not in text, text
    return text


@pytest.mark.slow
def test_student_checks_say_not_yet_for_a_stub_and_diagnose_a_wrong_answer(release: Path, tmp_path: Path) -> None:
    """Under an untouched stub ``grader.check`` says "not yet" (the checker's message), not a failed
    doctest; a wrong answer shows the checker's whole diagnosis; a right one passes. The autograder
    grades that same notebook as before: the stub and the wrong answer 0, the right answer its points."""
    stub, wrong, right = questions(LEARNER_STEM).values()
    wrong_code, fragment = next(iter(catalogue(LEARNER_STEM).WRONG[wrong.name].values()))
    nb = _learner_notebook(release, {wrong.name: wrong_code, right.name: right.solution})
    call = wrong.test.strip().removeprefix(">>>").strip().removesuffix(".require()")
    nb.cells.append(nbformat.v4.new_code_cell(f"print({call}.message)"))  # the checker's own diagnosis
    folder = tmp_path / "student"
    shutil.copytree(release / "student" / "tests", folder / "tests")
    ran = _run_as_learner(nb, folder, f"{LEARNER_STEM}.ipynb")
    assert not any(out.output_type == "error" for c in ran.cells for out in c.get("outputs", [])), \
        [_shown(c) for c in ran.cells if "error" in _shown(c).lower()]
    assert not _shown(ran.cells[0]).strip(), "the first cell spoke although nothing is wrong"
    checks = _checks(ran)

    shown = _shown(checks[stub.name])
    assert f"[NOT YET] {stub.name}" in shown and "replace the `raise NotImplementedError`" in shown, shown
    for noise in ("Traceback", "Test case failed", "ExerciseFailed", "doctest", "❌"):
        assert noise not in shown, f"the check of an untouched stub shows {noise!r}:\n{shown}"

    diagnosis = ran.cells[-1].outputs[0].text.strip()
    assert fragment in diagnosis
    shown = _shown(checks[wrong.name])
    assert "not yet" not in shown.lower() and "[NOT YET]" not in shown
    assert " ".join(diagnosis.split()) in " ".join(shown.split()), f"diagnosis cut short:\n{shown}"

    assert "All test cases passed" in _shown(checks[right.name]), _shown(checks[right.name])

    # graded by the autograder exactly as before
    out = tmp_path / "graded"
    out.mkdir()
    done = subprocess.run([sys.executable, "-m", "otter", "run", "-a",
                           str(release / "autograder" / f"{LEARNER_STEM}.zip"), "-o", str(out), "--no-logo",
                           str(folder / f"{LEARNER_STEM}.ipynb")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    tests = json.loads((out / "results.json").read_text())["tests"]
    scores = {t["name"]: t["score"] for t in tests if t.get("max_score") is not None}
    assert scores == {stub.name: 0, wrong.name: 0, right.name: right.points}, scores


@pytest.mark.slow
def test_a_renamed_or_moved_student_notebook_gets_one_sentence(release: Path, tmp_path: Path) -> None:
    """Renamed next to its tests/, the checks still run and the first cell and each check say, in
    one sentence, to rename it back; away from tests/, the first cell and each check say in one
    sentence what is wrong and what to do: never a traceback."""
    nb = _learner_notebook(release)
    renamed_folder = tmp_path / "renamed"
    shutil.copytree(release / "student" / "tests", renamed_folder / "tests")
    renamed = _run_as_learner(nb, renamed_folder, "my copy of the masks notebook.ipynb")
    moved = _run_as_learner(nb, tmp_path / "Downloads", f"{LEARNER_STEM}.ipynb")
    (tmp_path / "another" / "tests").mkdir(parents=True)  # a tests/ folder, but not this notebook's
    astray = _run_as_learner(nb, tmp_path / "another", f"{LEARNER_STEM}.ipynb")
    for ran in (renamed, moved, astray):
        errors = [_shown(c) for c in ran.cells for out in c.get("outputs", []) if out.output_type == "error"]
        assert not errors, errors

    said = _one_sentence(_stderr(renamed.cells[0]))
    assert f"{LEARNER_STEM}.ipynb" in said and "rename" in said.lower(), said
    for name, cell in _checks(renamed).items():
        assert _one_sentence(_stderr(cell)) == said
        assert f"[NOT YET] {name}" in _shown(cell)

    said = _one_sentence(_stderr(moved.cells[0]))
    assert "tests/" in said and str(tmp_path / "Downloads") in said and "move" in said.lower(), said
    for cell in _checks(moved).values():
        assert _one_sentence(_stderr(cell)) == said
        assert _shown(cell).strip() == said, "a check away from tests/ shows more than the sentence"
    said = _one_sentence(_stderr(astray.cells[0]))
    assert "tests/ folder without them" in said and "move" in said.lower(), said
    assert all(_shown(cell).strip() == said for cell in _checks(astray).values())


# ------------------------------------------------------- the Chinese editions

def _code(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("stem", STEMS)
def test_chinese_editions_have_the_english_code_and_chinese_prose(release: Path, stem: str) -> None:
    tag = "glmlib-language"
    for edition in ("student", "instructor"):
        english = nbformat.read(release / edition / f"{stem}.ipynb", as_version=4)
        chinese = nbformat.read(release / "zh-CN" / edition / f"{stem}.ipynb", as_version=4)
        language = [c for c in chinese.cells if tag in c.metadata.get("tags", [])]
        assert len(language) == 1 and 'set_language("zh-CN")' in language[0].source
        assert _code(chinese)[0] == _code(english)[0], "otter's first cell stays first"
        assert [c.source for c in chinese.cells if c.cell_type == "code" and tag not in c.metadata.get("tags", [])] \
            == _code(english)
        prose = [c.source for c in chinese.cells if c.cell_type == "markdown"]
        assert len(prose) == sum(c.cell_type == "markdown" for c in english.cells)
        assert all(re.search(r"[\u4e00-\u9fff]", p) for p in prose if re.search(r"[A-Za-z]{4}", p)), \
            f"{edition}/{stem}: a Markdown cell without Chinese"
    tests = sorted(p.name for p in (release / "student" / "tests").glob(f"q{stem[:2]}_*.py"))
    assert tests and tests == sorted(p.name for p in (release / "zh-CN" / "student" / "tests").glob(f"q{stem[:2]}_*.py"))
    assert (release / "zh-CN" / "instructor" / "guide" / f"{stem}.md").is_file()


@pytest.mark.slow
def test_a_chinese_submission_is_graded_like_an_english_one_with_chinese_feedback(release: Path,
                                                                                   tmp_path: Path) -> None:
    stem = "03_masks"
    found = list(questions(stem).values())
    instructor = nbformat.read(release / "zh-CN" / "instructor" / f"{stem}.ipynb", as_version=4)
    wrong_name = found[0].name
    wrong_code, fragment = next(iter(catalogue(stem).WRONG[wrong_name].values()))
    submission = tmp_path / f"{stem}.ipynb"
    nbformat.write(_with_answers(instructor, {wrong_name: wrong_code}), submission)
    points = {p.question: p for p in grade.grade(submission)}
    assert points[wrong_name].score == 0
    assert re.search(r"[\u4e00-\u9fff]", points[wrong_name].why), points[wrong_name].why
    assert fragment not in points[wrong_name].why  # the English diagnosis is not what a Chinese learner reads
    for q in found[1:]:
        assert points[q.name].score == q.points, f"{q.name}: {points[q.name]}"
