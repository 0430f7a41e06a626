"""Notebook 03's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations


import torch

from glmlib import attention, masks
from glmlib.exercises import masks as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb03 import SETUP, WRONG

QUESTIONS = questions("03")


def test_the_notebook_has_the_three_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q03_local_mask", "q03_padded_additive", "q03_causal_average"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 3]
    assert set(WRONG) == set(QUESTIONS)


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
    result = ex.check_causal_average(run_code(SETUP + code)["causal_average"])
    assert result.status == "fail" and "list comprehension" in result.message, result


def test_weights_that_sum_to_one_but_are_uneven_are_named() -> None:
    code = ("def causal_average(x):\n"
            "    T = x.shape[1]\n"
            "    w = torch.eye(T)\n"
            "    return w @ x\n")
    result = ex.check_causal_average(run_code(SETUP + code)["causal_average"])
    assert result.status == "fail" and "equally" in result.message, result










