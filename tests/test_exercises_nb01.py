"""Notebook 01's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import linecache
import math
import time
from pathlib import Path

import pytest
import torch

import glmlib
from glmlib.exercises import ExerciseFailed
from glmlib.exercises import language_models as ex
from glmlib.ngram import BigramLM
from notebook_solutions import questions, run_code
from wrong_answers.nb01 import SETUP, WRONG

QUESTIONS = questions("01")
CATALOGUE = [(name, label, code, fragment) for name, answers in WRONG.items()
             for label, (code, fragment) in answers.items()]


def run_as_file(code: str, namespace: dict) -> dict:
    """Run ``code`` registered with linecache, as a notebook cell is (so its source is readable)."""
    linecache.cache["<learner>"] = (len(code), None, code.splitlines(keepends=True), "<learner>")
    exec(compile(code, "<learner>", "exec"), namespace)
    return namespace


def test_the_notebook_has_the_three_exercises() -> None:
    assert list(QUESTIONS) == ["q01_bigram_counts", "q01_add_k_probs", "q01_line_log_prob"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 2]
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 3 for answers in WRONG.values())


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

def test_counts_reference_matches_hand_counts() -> None:
    first = ex._counts_cases()[0]  # 0 1 0 1 2: 0->1 twice, 1->0 once, 1->2 once
    assert first.args == ([0, 1, 0, 1, 2], 3)
    assert first.expected.tolist() == [[0, 2, 0], [1, 0, 1], [0, 0, 0]]
    for case in ex._counts_cases():
        ids, V = case.args
        assert case.expected.shape == (V, V)
        assert int(case.expected.sum()) == max(len(ids) - 1, 0)  # n tokens, n - 1 pairs


def test_smoothing_reference_matches_hand_values_and_rows_sum_to_one() -> None:
    laplace = next(c for c in ex._probs_cases() if c.args[1] == 1.0)
    row0 = laplace.expected[0].double()  # counts 0, 3, 1 plus one each, over 4 + 3
    assert torch.allclose(row0, torch.tensor([1 / 7, 4 / 7, 2 / 7], dtype=torch.float64), atol=1e-6)
    empty = next(c for c in ex._probs_cases() if c.args[1] == 0.0 and bool((c.args[0].sum(1) == 0).any()))
    assert torch.allclose(empty.expected[1], torch.full((3,), 1 / 3))
    for case in ex._probs_cases():
        assert torch.allclose(case.expected.sum(dim=1), torch.ones(case.expected.shape[0]), atol=1e-6)


def test_log_prob_reference_matches_a_hand_computation() -> None:
    case = ex._log_prob_cases()[0]
    probs, ids, bos, eos = case.args
    assert ids == [0, 1]
    by_hand = math.log(probs[bos, 0]) + math.log(probs[0, 1]) + math.log(probs[1, eos])
    assert math.isclose(case.expected, by_hand, rel_tol=1e-12)
    # row <bos> of the toy counts is 5, 2, 1, 0, 1 and k = 0.5 over V = 5 tokens
    assert math.isclose(float(probs[bos, 0]), 5.5 / 11.5, rel_tol=1e-12)


def test_worked_solutions_agree_with_bigram_lm_on_real_lines() -> None:
    env = run_code(SETUP + "".join(q.solution for q in QUESTIONS.values()))
    lines = [[0, 3, 3, 1, 2], [2, 2, 0], [4, 1]]
    lm = BigramLM(7, k=0.25, bos=5, eos=6).fit(lines)
    wrapped = [[5, *line, 6] for line in lines]
    counts = sum(env["bigram_counts"](ids, 7) for ids in wrapped)
    assert torch.equal(counts.double(), lm.counts)
    probs = env["add_k_probs"](counts, 0.25)
    assert torch.allclose(probs, lm.probs)
    for line in lines + [[3, 0]]:
        assert math.isclose(env["line_log_prob"](probs, line, 5, 6), lm.log_prob(line), rel_tol=1e-12)


def test_add_k_checker_rejects_in_place_changes_even_with_right_values() -> None:
    def in_place(counts, k):
        counts += k
        totals = counts.sum(dim=1, keepdim=True)
        return torch.where(totals > 0, counts / totals.clamp_min(1e-30), 1.0 / counts.shape[1])

    result = ex.check_add_k_probs(in_place)
    assert result.status == "fail" and "changed the counts" in result.message


def test_a_zero_dim_tensor_is_accepted_for_the_log_prob() -> None:
    def as_tensor(probs, ids, bos, eos):
        seq = torch.tensor([bos, *ids, eos])
        return probs[seq[:-1], seq[1:]].log().sum()  # a 0-d tensor, not a float

    assert ex.check_line_log_prob(as_tensor).passed


def test_an_error_in_the_learner_code_is_reported_not_raised() -> None:
    def broken(*args):
        raise RuntimeError("shape mismatch somewhere")

    for check in (ex.check_bigram_counts, ex.check_add_k_probs, ex.check_line_log_prob):
        result = check(broken)
        assert result.status == "fail" and "RuntimeError: shape mismatch somewhere" in result.message
        assert check(lambda *a: None).status == "not yet"


def test_checkers_are_fast_and_leave_the_random_state_alone() -> None:
    env = run_code(SETUP + "".join(q.solution for q in QUESTIONS.values()))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    start = time.perf_counter()
    ex.check_bigram_counts(env["bigram_counts"]).require()
    ex.check_add_k_probs(env["add_k_probs"]).require()
    ex.check_line_log_prob(env["line_log_prob"]).require()
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
