"""Notebook 01's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import math

import torch

from glmlib.exercises import language_models as ex
from glmlib.ngram import BigramLM
from notebook_solutions import questions, run_code
from wrong_answers.nb01 import SETUP, WRONG

QUESTIONS = questions("01")


def test_the_notebook_has_the_three_exercises() -> None:
    assert list(QUESTIONS) == ["q01_bigram_counts", "q01_add_k_probs", "q01_line_log_prob"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 2]
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 3 for answers in WRONG.values())


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






