"""Grading a teacher can trust: hostile submissions, graded in the sandbox.

Each submission here is a student edition (``release/student``) with answers
written into its exercise cells, as a student hands it in, plus the cheat
or the hostile cell under test. What must hold: a cheat scores 0 on its
question and is flagged, honest answers (the worked solutions and answers
written differently) keep full marks, a hostile cell changes nothing outside
the grading folder, and the next submission grades normally.

The sandbox needs Linux and root (as in CI) or user namespaces; elsewhere
these tests are skipped, except in CI, where they fail.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import nbformat
import pytest
import torch

import notebook_runs
from glmlib.exercises import grading, sandbox
from notebook_solutions import questions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RELEASE: list[Path] = []  # the classroom editions of this test run (built once, shared)

pytestmark = pytest.mark.slow  # one worker runs the module (conftest.py: ONE_WORKER_MODULES)


@pytest.fixture(scope="module", autouse=True)
def _sandbox_and_release(request) -> None:
    if sandbox.mode() == "none":
        message = f"grading needs a sandbox: {sandbox.describe()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    RELEASE[:] = [notebook_runs.shared_release(request.config)]


def master(stem: str) -> Path:
    return next(NOTEBOOKS.glob(f"{stem}_*.ipynb"))


def submission(tmp_path: Path, stem: str, answers: dict[str, str], extra: dict[str, list[str]] | None = None,
               name: str = "submission") -> Path:
    """The student edition of notebook ``stem`` with ``answers`` (question -> code) in its exercise cells
    and ``extra`` cells (question -> sources) added before that question's ``grader.check`` cell;
    ``extra["end"]`` goes after the last cell."""
    extra = extra or {}
    nb = nbformat.read(next((RELEASE[0] / "student").glob(f"{stem}_*.ipynb")), as_version=4)
    by_function = {}
    for q in questions(stem).values():
        m = re.search(r"^def (\w+)", q.stub, re.M)
        by_function[m.group(1) if m else q.name] = q.name
    cells = []
    for cell in nb.cells:
        m = re.match(r"grader\.check\(\"(\w+)\"\)", cell.source) if cell.cell_type == "code" else None
        if m:
            cells += [nbformat.v4.new_code_cell(src) for src in extra.get(m.group(1), [])]
        if cell.cell_type == "code" and "raise NotImplementedError" in cell.source:
            d = re.search(r"^def (\w+)", cell.source, re.M)
            question = by_function.get(d.group(1)) if d else None
            if question in answers:
                cell.source = answers[question]
        cells.append(cell)
    cells += [nbformat.v4.new_code_cell(src) for src in extra.get("end", [])]
    nb.cells = cells
    path = tmp_path / f"{name}_{master(stem).name}"
    nbformat.write(nb, path)
    return path


def solutions(stem: str) -> dict[str, str]:
    return {name: q.solution for name, q in questions(stem).items()}


def rows(grade: grading.NotebookGrade) -> dict[str, grading.QuestionGrade]:
    return {r.question: r for r in grade.rows}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ honest work keeps its marks

def test_worked_solutions_and_answers_written_differently_keep_full_marks(tmp_path: Path) -> None:
    mine = solutions("03")
    mine["q03_causal_average"] = '''
def causal_average(x: torch.Tensor) -> torch.Tensor:
    """Each position: the mean of itself and every earlier position, as one matrix product."""
    T = x.shape[-2]
    weights = torch.ones(T, T).tril()
    weights = weights / weights.sum(dim=1, keepdim=True)
    return weights @ x
'''
    mine["q03_local_mask"] = '''
def local_causal_mask(T: int, window: int) -> torch.Tensor:
    i = torch.arange(T).unsqueeze(1)
    j = torch.arange(T).unsqueeze(0)
    return (j <= i) & (i - j < window)
'''
    grade = grading.grade_notebook(submission(tmp_path, "03", mine), master("03"))
    assert grade.error == "" and grade.score == grade.possible == 7, grade
    assert all(r.status == "pass" and not r.flags for r in grade.rows), grade.rows


def test_untouched_stubs_are_not_yet(tmp_path: Path) -> None:
    grade = grading.grade_notebook(submission(tmp_path, "03", {}), master("03"))
    assert grade.score == 0 and grade.error == ""
    assert {r.status for r in grade.rows} == {"not yet"}, grade.rows
    assert all("NotImplementedError" in r.diagnosis or "replace" in r.diagnosis for r in grade.rows)


# ------------------------------------------------------------------ cheats score 0 and are flagged

GLOBAL_CHEATS = [
    "import glmlib.exercises.checking as c\nc.CheckResult.require = lambda self: None",
    "class Always:\n    def __getattr__(self, name):\n        return lambda *a, **k: type('R', (), "
    "{'require': lambda self: None, 'passed': True})()\nex = Always()",
]


@pytest.mark.parametrize("cheat", GLOBAL_CHEATS, ids=["CheckResult.require patched", "ex rebound"])
def test_grader_tampering_on_stubs_scores_zero_and_is_flagged(tmp_path: Path, cheat: str) -> None:
    grade = grading.grade_notebook(submission(tmp_path, "03", {}, {"end": [cheat]}), master("03"))
    assert grade.score == 0, grade
    assert all(any(f.startswith("tamper") for f in r.flags) for r in grade.rows), grade.rows


def test_each_cheat_loses_its_own_question_only(tmp_path: Path) -> None:
    answers = solutions("04")
    # a lookup table of the cases the notebook shows: right on them, wrong on anything else
    answers["q04_softmax"] = '''
import inspect
import glmlib.exercises.attention as _a
_known = {}
for _x in [torch.tensor([1.0, 2.0, 3.0]), _a._randn(3, 3, seed=1, scale=3.0), _a._randn(2, 3, 4, seed=0),
           torch.tensor([1000.0, 1001.0, 1002.0]), torch.tensor([-1000.0, -1001.0, -1002.0]),
           torch.tensor([[1000.0, 1001.0], [0.0, 1.0]]),
           torch.tensor([[0.5, float("-inf"), 1.5], [float("-inf"), float("-inf"), 2.0]]), torch.tensor([[7.0]])]:
    _known[(_x.shape, _x.nan_to_num().sum().item())] = torch.softmax(_x, dim=-1)

def softmax(x):
    return _known.get((x.shape, x.nan_to_num().sum().item()), torch.zeros_like(x))
'''
    # the expected value, read from the checker's frame: there is no checker in the learner's process
    answers["q04_attention"] = '''
import sys

def attention(q, k, v, mask=None):
    frame = sys._getframe(1)
    while frame is not None:
        if "case" in frame.f_locals:
            return frame.f_locals["case"].expected
        frame = frame.f_back
    return torch.zeros(*q.shape[:-1], v.shape[-1])
'''
    # a correct multi-head written with a generator expression over the three projections (not a loop)
    answers["q04_multi_head"] = '''
def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):
    B, T, C = x.shape
    q, k, v = ((x @ W).view(B, T, n_head, C // n_head).transpose(1, 2) for W in (W_q, W_k, W_v))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return out.transpose(1, 2).reshape(B, T, C) @ W_o
'''
    rewrite = ("import os\nos.makedirs('tests', exist_ok=True)\n"
               "open('tests/q04_previous_char_head.py', 'w').write(\"test = {'name': 'q04_previous_char_head', "
               "'points': 50, 'suites': []}\")")
    grade = grading.grade_notebook(submission(tmp_path, "04", answers, {"q04_previous_char_head": [rewrite]}),
                                   master("04"))
    got = rows(grade)
    assert got["q04_softmax"].score == 0 and "hidden case" in got["q04_softmax"].diagnosis, got["q04_softmax"]
    assert any(f.startswith("hidden") for f in got["q04_softmax"].flags)
    assert got["q04_attention"].score == 0, got["q04_attention"]
    assert got["q04_multi_head"].score == 2 and not got["q04_multi_head"].flags, got["q04_multi_head"]
    assert got["q04_previous_char_head"].score == 0, got["q04_previous_char_head"]
    assert any("tests/q04_previous_char_head.py" in f for f in got["q04_previous_char_head"].flags)
    assert grade.possible == 8


FORBIDDEN = {
    "np.cumsum": "import numpy as np\n\ndef causal_average(x):\n"
                 "    n = torch.arange(1, x.shape[-2] + 1).unsqueeze(-1)\n"
                 "    return torch.from_numpy(np.cumsum(x.numpy(), axis=-2)) / n",
    "torch.ops.aten.cumsum": "def causal_average(x):\n    n = torch.arange(1, x.shape[-2] + 1).unsqueeze(-1)\n"
                             "    return torch.ops.aten.cumsum(x, -2) / n",
    "map(lambda ...)": "def causal_average(x):\n    T = x.shape[-2]\n"
                       "    return torch.stack(list(map(lambda t: x[..., :t + 1, :].mean(-2), range(T))), dim=-2)",
}


def test_forbidden_shortcuts_are_trapped_in_the_learners_process(tmp_path: Path) -> None:
    for label, code in FORBIDDEN.items():
        grade = grading.grade_notebook(submission(tmp_path, "03", {"q03_causal_average": code}, name=label[:5]),
                                       master("03"))
        row = rows(grade)["q03_causal_average"]
        assert row.score == 0 and row.status == "fail", (label, row)
        assert re.search(r"NumPy|cumsum|map", row.diagnosis), (label, row.diagnosis)
        if label != "map(lambda ...)":  # a loop is read from the source; the others are caught calling
            assert any(f.startswith("shortcut") for f in row.flags), (label, row.flags)


# ------------------------------------------------------------------ the sandbox

HOSTILE = {
    "home": "open(os.path.expanduser('~root') + '/graded-by-glmlib', 'w').write('x')",
    "delete": "os.remove({victim!r})",
    "network": "import socket\nsocket.create_connection(('pypi.org', 443), timeout=3)",
    "zip": "open({zip!r}, 'wb').write(b'replaced')",
    "loop": "while True:\n    pass",
    "memory": "block = bytearray(30 * 2**30)",
}


def test_hostile_cells_change_nothing_and_grading_goes_on(tmp_path: Path) -> None:
    victim = ROOT / "artifacts" / "grading-victim.txt"
    victim.parent.mkdir(exist_ok=True)
    victim.write_text("keep me")
    zips = sorted((RELEASE[0] / "autograder").glob("*.zip")) + sorted((ROOT / "release").glob("*/*.zip"))
    before = {z: digest(z) for z in zips}
    cells = ["import os"] + [code.format(victim=str(victim), zip=str(zips[0]) if zips else "/nonexistent.zip")
                             for code in HOSTILE.values()]
    path = submission(tmp_path, "00", solutions("00"), {"end": cells})
    grade = grading.grade_notebook(path, master("00"), cell_timeout=5)
    assert grade.error == "" and grade.score == grade.possible == 2, grade
    notes = "\n".join(grade.notes)
    assert "network" in notes and "outside its folder" in notes and "timeout" in notes, notes
    assert "MemoryError" in notes, notes
    assert victim.read_text() == "keep me"
    assert not Path("/root/graded-by-glmlib").exists()
    assert {z: digest(z) for z in zips} == before
    victim.unlink()
    after = grading.grade_notebook(submission(tmp_path, "00", solutions("00"), name="next"), master("00"))
    assert after.score == after.possible == 2 and not after.notes, after


def test_a_notebook_that_ends_its_process_gets_a_clear_row(tmp_path: Path) -> None:
    path = submission(tmp_path, "00", solutions("00"), {"end": ["import os\nos._exit(3)"]})
    grade = grading.grade_notebook(path, master("00"))
    assert grade.score == 0 and "ended early" in grade.error, grade
    assert all(r.diagnosis for r in grade.rows)


def test_a_notebook_past_its_time_is_stopped(tmp_path: Path) -> None:
    path = submission(tmp_path, "00", solutions("00"), {"end": ["import time\nwhile True:\n    try:\n"
                                                                "        time.sleep(1)\n    except BaseException:\n"
                                                                "        pass"]})
    grade = grading.grade_notebook(path, master("00"), notebook_timeout=25, cell_timeout=5)
    assert grade.score == 0 and "time" in grade.error, grade
    assert grade.seconds < 60


def test_hidden_cases_differ_from_the_visible_ones() -> None:
    visible = torch.randn(3, generator=torch.Generator().manual_seed(1))
    with grading.hidden_cases(salt=12345):
        hidden = torch.randn(3, generator=torch.Generator().manual_seed(1))
        again = torch.randn(3, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(visible, hidden) and torch.equal(hidden, again)
    assert torch.equal(visible, torch.randn(3, generator=torch.Generator().manual_seed(1)))


def test_tampering_inside_a_called_function_loses_that_question_only(tmp_path: Path) -> None:
    answers = solutions("03")
    answers["q03_local_mask"] = answers["q03_local_mask"].replace(
        "def local_causal_mask(T: int, window: int) -> torch.Tensor:",
        "def local_causal_mask(T: int, window: int) -> torch.Tensor:\n"
        "    torch.allclose = lambda *args, **kwargs: True  # patched while the grader calls it", 1)
    assert "torch.allclose = " in answers["q03_local_mask"]
    grade = grading.grade_notebook(submission(tmp_path, "03", answers), master("03"))
    got = rows(grade)
    assert got["q03_local_mask"].score == 0, got["q03_local_mask"]
    assert any("torch.allclose" in f for f in got["q03_local_mask"].flags), got["q03_local_mask"].flags
    assert got["q03_padded_additive"].score == 2 and got["q03_causal_average"].score == 3, grade.rows
