"""Notebook 07's exercises: each worked solution passes its checker, each stub says "not yet",
each catalogued wrong answer fails with its own diagnosis, and the checkers' expected values
agree with Hugging Face's logits processors (used here only, never by the checkers)."""
from __future__ import annotations

import math
import sys
import time

import pytest
import torch

import glmlib.exercises.sampling as ex
from glmlib import sampling
from notebook_solutions import questions, run_code
from wrong_answers.nb07 import SETUP, WRONG

QUESTIONS = questions("07")
EXPECTED_POINTS = {"q07_top_k": 1, "q07_top_p": 2, "q07_min_p": 2, "q07_repetition_penalty": 3}


def result_of(question: str, namespace: dict):
    """The CheckResult that the question's test cell would require."""
    call = QUESTIONS[question].test.strip()
    assert call.endswith(".require()"), call
    return eval(call[: -len(".require()")], namespace)


def test_the_notebook_has_the_exercises_it_should():
    assert {name: q.points for name, q in QUESTIONS.items()} == EXPECTED_POINTS
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 2 for answers in WRONG.values())


# ------------------------------------------------ the references are independent and right


def test_top_k_expectations_match_hugging_face():
    from transformers import TopKLogitsWarper

    for case in ex._top_k_cases():
        logits, k = case.args
        theirs = TopKLogitsWarper(top_k=k)(None, logits.reshape(-1, logits.shape[-1]).clone())
        assert torch.equal(case.expected, theirs.reshape(logits.shape)), case.name
        for mistake in case.mistakes:
            assert not torch.equal(mistake.value, case.expected), case.name


def test_top_p_expectations_match_hugging_face():
    from transformers import TopPLogitsWarper

    for case in ex._top_p_cases():
        logits, p = case.args
        theirs = TopPLogitsWarper(top_p=p)(None, logits.reshape(-1, logits.shape[-1]).clone())
        assert torch.equal(case.expected, theirs.reshape(logits.shape)), case.name
        for mistake in case.mistakes:
            assert not torch.equal(mistake.value, case.expected), case.name


def test_the_p1_case_really_trips_float32_running_sums():
    probs = torch.softmax(torch.tensor([0.0, 10.0, -20.0, -10.0]), dim=-1).sort(descending=True).values
    mass_above = probs.cumsum(-1) - probs
    assert (mass_above >= 1.0).sum() >= 1  # so a solution without the p >= 1 case removes tokens


def test_min_p_hand_values_match_hugging_face():
    from transformers import MinPLogitsWarper

    for case in ex._min_p_cases():
        logits, min_p = case.args
        rows = logits.reshape(-1, logits.shape[-1]).clone()
        theirs = MinPLogitsWarper(min_p=min_p, min_tokens_to_keep=1)(None, rows) if min_p > 0 else rows
        assert torch.equal(case.expected, theirs.reshape(logits.shape)), case.name
        # and the thresholds lie well away from every probability, so rounding cannot flip a decision
        probs = torch.softmax(logits, dim=-1)
        bar = min_p * probs.max(dim=-1, keepdim=True).values
        finite = probs > 0
        if 0 < min_p < 1:
            assert ((probs - bar).abs()[finite] > 1e-3).all(), case.name


def test_repetition_hand_values_match_hugging_face():
    from transformers import RepetitionPenaltyLogitsProcessor

    for case in ex._repetition_cases():
        logits, context, penalty = case.args
        theirs = RepetitionPenaltyLogitsProcessor(penalty=penalty)(context, logits.clone())
        assert torch.allclose(case.expected, theirs, atol=1e-6, rtol=0), case.name
        for mistake in case.mistakes:
            assert not torch.allclose(mistake.value, case.expected, atol=1e-5, rtol=0), case.name


# ------------------------------------------------ the checkers behave

def test_forbidden_shortcuts_are_trapped_and_restored():
    from transformers import RepetitionPenaltyLogitsProcessor, TopPLogitsWarper

    original_top_k, original_call = sampling._top_k, TopPLogitsWarper.__call__
    result = ex.check_top_k(lambda logits, k: sampling.warp(logits, top_k=k))
    assert result.status == "fail" and "glmlib.sampling.top_k_filter" in result.message
    result = ex.check_top_p(lambda logits, p: TopPLogitsWarper(top_p=p)(None, logits[None])[0])
    assert result.status == "fail" and "transformers.TopPLogitsWarper" in result.message
    result = ex.check_repetition_penalty(
        lambda logits, context, penalty: RepetitionPenaltyLogitsProcessor(penalty)(context, logits))
    assert result.status == "fail" and "RepetitionPenaltyLogitsProcessor" in result.message
    assert sampling._top_k is original_top_k and TopPLogitsWarper.__call__ is original_call
    assert torch.equal(sampling.top_k_filter(torch.tensor([1.0, 2.0]), 1), torch.tensor([-math.inf, 2.0]))


def test_an_answer_that_changes_its_input_in_place_is_still_judged_fairly():
    def top_k_in_place(logits, k):
        k = min(k, logits.shape[-1])
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        return logits.masked_fill_(logits < kth, -math.inf)

    assert ex.check_top_k(top_k_in_place).passed


@pytest.mark.parametrize("check", [ex.check_top_k, ex.check_top_p, ex.check_min_p, ex.check_repetition_penalty])
def test_garbage_and_non_callables_fail_cleanly(check):
    assert check(lambda *args: "nonsense").status == "fail"
    assert check(lambda *args: torch.zeros(2, 2, 2)).status == "fail"
    assert check(42).status == "fail"
    assert check(None).status == "not yet"


def test_checkers_are_fast():
    ns = run_code(SETUP)
    for q in QUESTIONS.values():
        run_code(q.solution, ns)
    start = time.process_time()  # CPU time: what the checkers cost, not how busy the host is
    for q in QUESTIONS.values():
        run_code(q.test, ns)
    assert time.process_time() - start < 5.0


def test_checkers_do_not_need_transformers():
    """The checker module imports and runs without Hugging Face (it is a test-only dependency)."""
    code = ("import sys; sys.modules['transformers'] = None\n"
            "import torch, glmlib.exercises.sampling as ex\n"
            "r = ex.check_top_k(lambda l, k: l)\n"
            "assert r.status == 'fail', r\n")
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------ correct variants, and slips near a misconception

CORRECT = {
    "q07_top_k": (
        "def top_k(logits, k):\n"
        "    k = min(k, logits.shape[-1])\n"
        "    kth = logits.sort(dim=-1, descending=True).values[..., k - 1 : k]\n"
        "    return torch.where(logits >= kth, logits, float('-inf'))\n"),
    "q07_min_p": (
        "def min_p(logits, min_p):\n"
        "    log_p = torch.log_softmax(logits, dim=-1)\n"
        "    bar = log_p.amax(dim=-1, keepdim=True) + math.log(min_p) if min_p > 0 else -math.inf\n"
        "    return logits.masked_fill(log_p < bar, float('-inf'))\n"),
    "q07_repetition_penalty": (
        "def repetition_penalty(logits, context, penalty):\n"
        "    z = logits.gather(1, context)\n"
        "    return logits.scatter(1, context, torch.where(z > 0, z / penalty, z * penalty))\n"),
}


@pytest.mark.parametrize("question", sorted(CORRECT))
def test_other_correct_formulations_pass(question: str) -> None:
    result = result_of(question, run_code(SETUP + CORRECT[question]))
    assert result.passed, result


def test_an_off_by_one_top_k_is_not_called_nucleus_sampling() -> None:
    """k + 1 tokens in every row is a count slip, not a varying nucleus: the probe tells them apart."""
    code = ("def top_k(logits, k):\n"
            "    k = min(k + 1, logits.shape[-1])\n"
            "    kth = torch.topk(logits, k, dim=-1).values[..., -1:]\n"
            "    return logits.masked_fill(logits < kth, float('-inf'))\n")
    result = result_of("q07_top_k", run_code(SETUP + code))
    assert result.status == "fail" and "nucleus" not in result.message and "kept 3 tokens" in result.message, result
