"""Notebook 00's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import linecache
import time
from pathlib import Path

import pytest
import torch

import glmlib
from glmlib import masks
from glmlib.exercises import ExerciseFailed
from glmlib.exercises import welcome as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb00 import SETUP, WRONG

QUESTIONS = questions("00")
CATALOGUE = [(name, label, code, fragment) for name, answers in WRONG.items()
             for label, (code, fragment) in answers.items()]


def run_as_file(code: str, namespace: dict) -> dict:
    """Run ``code`` registered with linecache, as a notebook cell is (so its source is readable)."""
    linecache.cache["<learner>"] = (len(code), None, code.splitlines(keepends=True), "<learner>")
    exec(compile(code, "<learner>", "exec"), namespace)
    return namespace


def test_the_notebook_has_two_warm_ups() -> None:
    assert list(QUESTIONS) == ["q00_next_token_probs", "q00_causal_row"]
    assert [q.points for q in QUESTIONS.values()] == [1, 1]
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 2 for answers in WRONG.values())


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_worked_solution_passes(name: str) -> None:
    q = QUESTIONS[name]
    run_code(SETUP + q.solution + q.test)
    run_as_file(SETUP + q.solution + q.test, {})


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_stub_is_not_yet(name: str) -> None:
    q = QUESTIONS[name]
    env = run_code(SETUP + q.stub)
    result = eval(q.test.strip().removesuffix(".require()"), env)
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

def test_next_token_reference_is_pytorch_softmax_of_the_last_position() -> None:
    for case in ex._probs_cases():
        (logits,) = case.args
        B, T, V = logits.shape
        assert case.expected.shape == (B, V)
        assert torch.allclose(case.expected.sum(dim=-1), torch.ones(B))
        by_hand = logits[:, T - 1].exp() / logits[:, T - 1].exp().sum(dim=-1, keepdim=True)
        assert torch.allclose(case.expected, by_hand, atol=1e-6)
        for mistake in case.mistakes:  # every named mistake is really wrong on its case
            assert not (isinstance(mistake.value, torch.Tensor) and mistake.value.shape == case.expected.shape
                        and torch.allclose(mistake.value, case.expected)), mistake.message


def test_causal_row_reference_is_the_lower_triangle() -> None:
    for case in ex._row_cases():
        i, T = case.args
        assert torch.equal(case.expected, torch.ones(T, T).tril().bool()[i])


def test_a_row_built_by_stacking_is_the_causal_mask() -> None:
    env = run_code(SETUP + QUESTIONS["q00_causal_row"].solution)
    rows = torch.stack([env["causal_row"](i, 6) for i in range(6)])
    assert torch.equal(rows, masks.causal_mask(6))


def test_the_causal_mask_trap_gives_the_names_back() -> None:
    env = run_code(SETUP + "def causal_row(i, T):\n    return causal_mask(T)[i]\n")
    result = ex.check_causal_row(env["causal_row"])
    assert result.status == "fail" and "causal_mask" in result.message
    assert env["causal_mask"] is masks.causal_mask  # the notebook's own name is restored
    assert torch.equal(masks.causal_mask(3), torch.ones(3, 3).tril().bool())
    via_module = run_code("import torch\nimport glmlib.masks\n"
                          "def causal_row(i, T):\n    return glmlib.masks.causal_mask(T)[i]\n")
    assert ex.check_causal_row(via_module["causal_row"]).status == "fail"


def test_a_float_row_with_the_right_values_is_not_accepted() -> None:
    result = ex.check_causal_row(lambda i, T: (torch.arange(T) <= i).float())
    assert result.status == "fail" and "bool" in result.message


def test_an_error_in_the_learner_code_is_reported_not_raised() -> None:
    def broken(*args):
        raise RuntimeError("shape mismatch somewhere")

    for check in (ex.check_next_token_probs, ex.check_causal_row):
        result = check(broken)
        assert result.status == "fail" and "RuntimeError: shape mismatch somewhere" in result.message
        assert check(...).status == "not yet"
        assert check(lambda *a: None).status == "not yet"


def test_checkers_are_fast_and_leave_the_random_state_alone() -> None:
    env = run_code(SETUP + "".join(q.solution for q in QUESTIONS.values()))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    start = time.perf_counter()
    ex.check_next_token_probs(env["next_token_probs"]).require()
    ex.check_causal_row(env["causal_row"]).require()
    assert time.perf_counter() - start < 3.0
    assert torch.equal(torch.get_rng_state(), before)


def test_no_solution_line_is_in_the_package() -> None:
    package = Path(glmlib.__file__).parent
    lines = {line.strip() for f in package.rglob("*.py") for line in f.read_text().splitlines()}
    for q in QUESTIONS.values():
        for line in q.solution.splitlines():
            line = line.strip()
            if len(line) > 3 and not line.startswith(("#", "ex.check", "def ", '"""')):
                assert line not in lines, f"{q.name}: {line!r} is in glmlib"
