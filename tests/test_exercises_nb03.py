"""Notebook 03's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import linecache
import time
from pathlib import Path

import pytest
import torch

import glmlib
from glmlib import attention, masks
from glmlib.exercises import ExerciseFailed
from glmlib.exercises import masks as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb03 import SETUP, WRONG

QUESTIONS = questions("03")
CATALOGUE = [(name, label, code, fragment) for name, answers in WRONG.items()
             for label, (code, fragment) in answers.items()]


def as_file(code: str, name: str = "<learner>") -> str:
    """Register ``code`` with linecache so that ``inspect.getsource`` finds it, as in a notebook."""
    linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
    return code


def run_as_file(code: str, namespace: dict) -> dict:
    exec(compile(as_file(code), "<learner>", "exec"), namespace)
    return namespace


def test_the_notebook_has_the_three_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q03_local_mask", "q03_padded_additive", "q03_causal_average"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 3]
    assert set(WRONG) == set(QUESTIONS)


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_worked_solution_passes(name: str) -> None:
    q = QUESTIONS[name]
    run_code(SETUP + q.solution + q.test)


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_worked_solution_passes_when_its_source_is_readable(name: str) -> None:
    """In a notebook Python can read the learner's source; the loop check must not trip on the solution."""
    q = QUESTIONS[name]
    run_as_file(SETUP + q.solution + q.test, {})


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_stub_is_not_yet(name: str) -> None:
    q = QUESTIONS[name]
    call = q.test.strip().removesuffix(".require()")
    env = run_code(SETUP + q.stub)
    result = eval(call, env)
    assert result.status == "not yet", result
    with pytest.raises(ExerciseFailed, match="not yet"):
        run_code(q.test, env)


@pytest.mark.parametrize("name, label, code, fragment", CATALOGUE, ids=[f"{n}: {l}" for n, l, _, _ in CATALOGUE])
def test_wrong_answer_is_named(name: str, label: str, code: str, fragment: str) -> None:
    env = run_code(SETUP + code)
    with pytest.raises(ExerciseFailed) as failure:
        run_code(QUESTIONS[name].test, env)
    assert fragment.lower() in str(failure.value).lower(), str(failure.value)
    assert ": fail:" in str(failure.value)


# ------------------------------------------------------------ what matters beyond pass / fail

def test_hand_drawn_local_masks_agree_with_the_definition_and_glmlib() -> None:
    for (T, window), rows in ex._LOCAL_MASKS.items():
        drawn = ex._picture(rows)
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        assert torch.equal(drawn, (i - window < j) & (j <= i)), (T, window)
        if window >= T:
            assert torch.equal(drawn, masks.causal_mask(T))
        assert torch.equal(drawn & ~masks.causal_mask(T), torch.zeros(T, T, dtype=torch.bool))


def test_causal_average_reference_is_a_running_mean() -> None:
    x = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(0))
    running = torch.stack([x[:, :t + 1].mean(dim=1) for t in range(6)], dim=1)
    assert torch.allclose(ex._average_reference(x), running, atol=1e-6)


def test_glmlib_masks_are_trapped_also_when_imported_by_name_and_restored_after() -> None:
    env = run_code("import torch\nfrom glmlib.masks import causal_mask\n"
                   "def local_causal_mask(T, window):\n"
                   "    return causal_mask(T) & ~causal_mask(T).tril(-window)\n")
    result = ex.check_local_causal_mask(env["local_causal_mask"])
    assert result.status == "fail" and "glmlib.masks.causal_mask" in result.message
    assert env["causal_mask"] is masks.causal_mask  # the notebook's own name is given back
    assert torch.equal(masks.causal_mask(3), torch.ones(3, 3, dtype=torch.bool).tril())
    assert attention.scaled_dot_product_attention.__module__ == "glmlib.attention"
    assert torch.Tensor.cumsum(torch.ones(3), 0).tolist() == [1.0, 2.0, 3.0]


def test_a_loop_is_caught_when_the_source_is_readable() -> None:
    code = ("def causal_average(x):\n"
            "    rows = [x[:, :t + 1].mean(dim=1) for t in range(x.shape[1])]\n"
            "    return torch.stack(rows, dim=1)\n")
    as_text = run_code(SETUP + code)
    assert ex.check_causal_average(as_text["causal_average"]).passed  # no source: not judged on loops
    as_file_env = run_as_file(SETUP + code, {})
    result = ex.check_causal_average(as_file_env["causal_average"])
    assert result.status == "fail" and "list comprehension" in result.message, result


def test_weights_that_sum_to_one_but_are_uneven_are_named() -> None:
    code = ("def causal_average(x):\n"
            "    T = x.shape[1]\n"
            "    w = torch.eye(T)\n"
            "    return w @ x\n")
    result = ex.check_causal_average(run_code(SETUP + code)["causal_average"])
    assert result.status == "fail" and "equally" in result.message, result


def test_an_error_in_the_learner_code_is_reported_not_raised() -> None:
    def broken(*args):
        raise RuntimeError("shape mismatch somewhere")

    for check in (ex.check_local_causal_mask, ex.check_padded_causal_additive, ex.check_causal_average):
        result = check(broken)
        assert result.status == "fail" and "RuntimeError: shape mismatch somewhere" in result.message


def test_checkers_are_fast_and_leave_the_random_state_alone() -> None:
    env = run_code(SETUP + "".join(q.solution for q in QUESTIONS.values()))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    start = time.perf_counter()
    ex.check_local_causal_mask(env["local_causal_mask"]).require()
    ex.check_padded_causal_additive(env["padded_causal_additive"]).require()
    ex.check_causal_average(env["causal_average"]).require()
    assert time.perf_counter() - start < 3.0
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("name", list(WRONG))
def test_each_diagnosis_is_only_given_to_its_own_mistake(name: str) -> None:
    """No wrong answer is told another mistake's diagnosis (a message names one mistake, accurately)."""
    fragments = {label: fragment.lower() for label, (_, fragment) in WRONG[name].items()}
    for label, (code, fragment) in WRONG[name].items():
        env = run_code(SETUP + code)
        message = str(pytest.raises(ExerciseFailed, run_code, QUESTIONS[name].test, env).value).lower()
        others = [other for other, frag in fragments.items() if other != label and frag != fragment.lower()
                  and frag in message]
        assert not others, f"{label}: {message}"


def solution_only_lines(stem: str) -> set[str]:
    """The worked solutions' lines that appear nowhere else in the notebook (as tests/test_editions.py reads them)."""
    source = next(Path(__file__).resolve().parents[1].glob(f"notebooks/03*.py")).read_text()
    found = questions(stem).values()
    solutions = {line.strip() for q in found for line in q.solution.splitlines()
                 if len(line.strip()) > 3 and not line.strip().startswith("#")}
    outside = source
    for q in found:
        for line in q.solution.splitlines():
            outside = outside.replace(line, "", 1) if line.strip() else outside
    return solutions - {line.strip() for line in outside.splitlines()}


def test_no_solution_line_is_in_the_package() -> None:
    package = Path(glmlib.__file__).parent
    lines = {line.strip() for f in package.rglob("*.py") for line in f.read_text().splitlines()}
    only = solution_only_lines("03")
    assert len(only) > 5
    leaked = sorted(only & lines)
    assert not leaked, f"solution lines in glmlib: {leaked}"
