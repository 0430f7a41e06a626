"""Notebook 00's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations


import torch

from glmlib import masks
from glmlib.exercises import welcome as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb00 import SETUP, WRONG

QUESTIONS = questions("00")


def test_the_notebook_has_two_warm_ups() -> None:
    assert list(QUESTIONS) == ["q00_next_token_probs", "q00_causal_row"]
    assert [q.points for q in QUESTIONS.values()] == [1, 1]
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 2 for answers in WRONG.values())


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






