"""Notebook 08's exercises: each worked solution passes its checker, each stub says "not yet",
each catalogued wrong answer fails with its own diagnosis, and the checkers' expected values
are right (hand-worked head scores recomputed here by a loop, the band-masked reference
against attention computed one query at a time)."""
from __future__ import annotations

import time

import pytest
import torch

import glmlib.exercises.inference as ex
from glmlib.model import window_start
from notebook_solutions import questions, run_code
from wrong_answers.nb08 import SETUP, WRONG

QUESTIONS = questions("08")
EXPECTED_POINTS = {"q08_same_char_score": 2, "q08_window_start": 2, "q08_window_step": 3}


def result_of(question: str, namespace: dict):
    call = QUESTIONS[question].test.strip()
    assert call.endswith(".require()"), call
    return eval(call[: -len(".require()")], namespace)


def test_the_notebook_has_the_exercises_it_should():
    assert {name: q.points for name, q in QUESTIONS.items()} == EXPECTED_POINTS
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 2 for answers in WRONG.values())


# ------------------------------------------------ the references are right


def loop_score(weights: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The same-character score, one query and one key at a time (an independent computation)."""
    flat = weights.reshape(-1, *weights.shape[-2:])
    T = len(ids)
    out = torch.zeros(len(flat), dtype=torch.float64)
    for m, A in enumerate(flat):
        out[m] = sum(float(A[i, j]) for i in range(1, T) for j in range(i) if ids[j] == ids[i]) / (T - 1)
    return out.reshape(weights.shape[:-2]).float()


def test_same_char_hand_values_agree_with_a_loop():
    for case in ex._same_char_cases():
        weights, ids = case.args
        assert torch.allclose(loop_score(weights, ids), case.expected, atol=1e-6), case.name
        assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]))  # rows are distributions
        assert torch.equal(weights.triu(1), torch.zeros_like(weights))  # causal
        for mistake in case.mistakes:
            assert not torch.allclose(mistake.value, case.expected, atol=1e-5), case.name


def test_window_start_cases_and_mistakes():
    for case in ex._window_cases():
        length, block = case.args
        assert case.expected == window_start(length, block)
        for mistake in case.mistakes:
            assert mistake.value != case.expected, case.name
    # the sliding-window values really are what a sliding window gives
    for case in ex._window_cases():
        length, block = case.args
        slides = [m for m in case.mistakes if "slides" in m.message]
        assert all(m.value == max(0, length - block) for m in slides)


def test_band_reference_matches_attention_one_query_at_a_time():
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 3, 9, 4, generator=g) for _ in range(3))
    for window in (1, 3, 20):
        ref = ex._attend(q, k, v, ex._band(9, window))
        for i in range(9):
            lo = max(0, i + 1 - window)
            w = torch.softmax(q[..., i:i + 1, :] @ k[..., lo:i + 1, :].transpose(-2, -1) / 2.0, dim=-1)
            assert torch.allclose(ref[..., i:i + 1, :], w @ v[..., lo:i + 1, :], atol=1e-6)


def test_a_window_step_built_on_sdpa_passes_and_a_full_cache_fails():
    import torch.nn.functional as F

    def with_sdpa(cache_k, cache_v, q, k, v, window):
        cache_k = torch.cat([cache_k, k], dim=-2)[..., -window:, :]
        cache_v = torch.cat([cache_v, v], dim=-2)[..., -window:, :]
        return F.scaled_dot_product_attention(q, cache_k, cache_v), cache_k, cache_v

    def never_slides(cache_k, cache_v, q, k, v, window):
        cache_k, cache_v = torch.cat([cache_k, k], dim=-2), torch.cat([cache_v, v], dim=-2)
        return F.scaled_dot_product_attention(q, cache_k, cache_v), cache_k, cache_v

    assert ex.check_window_step(with_sdpa).passed
    result = ex.check_window_step(never_slides)
    assert result.status == "fail" and "window + 1" in result.message


@pytest.mark.parametrize("check", [ex.check_same_char_score, ex.check_window_start, ex.check_window_step])
def test_garbage_and_non_callables_fail_cleanly(check):
    assert check(lambda *args: "nonsense").status == "fail"
    assert check(42).status == "fail"
    assert check(None).status == "not yet"


def test_window_step_must_return_three_things():
    result = ex.check_window_step(lambda ck, cv, q, k, v, w: q)
    assert result.status == "fail" and "tuple (out, cache_k, cache_v)" in result.message


def test_checkers_are_fast():
    ns = run_code(SETUP)
    for q in QUESTIONS.values():
        run_code(q.solution, ns)
    start = time.process_time()  # CPU time: what the checkers cost, not how busy the host is
    for q in QUESTIONS.values():
        run_code(q.test, ns)
    assert time.process_time() - start < 5.0
