"""Notebook 05's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from glmlib import model
from glmlib.exercises import decoder as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb05 import SETUP, WRONG

QUESTIONS = questions("05")


def test_the_notebook_has_the_three_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q05_block_writes", "q05_param_count", "q05_rms_norm"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 3]
    assert set(WRONG) == set(QUESTIONS)


# ------------------------------------------------------------ what matters beyond pass / fail

def test_block_reference_is_glmlib_block_and_its_writes_add_up() -> None:
    block = ex._stand_in_block(8, seed=3)
    x = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out, a, f = ex._recorded(block, x)
        assert torch.allclose(a, block.attn(block.ln_1(x)), atol=1e-6)
        assert torch.allclose(f, block.ffn(block.ln_2(x + a)), atol=1e-6)
        assert torch.allclose(out, x + a + f, atol=1e-6)
        assert torch.equal(out, block(x))


def test_param_count_reference_counts_real_tensors() -> None:
    for cfg in (dict(vocab_size=5, block_size=4, n_layer=1, n_embd=8),
                dict(vocab_size=10, block_size=16, n_layer=3, n_embd=32, bias=False)):
        torch.manual_seed(0)
        built = model.GPT(model.GPTConfig(n_head=2, **cfg))
        assert ex._count(cfg) == sum(p.numel() for p in built.parameters())
        assert ex._count(cfg) == model.GPTConfig(n_head=2, **cfg).num_params()


def test_rms_norm_reference_is_the_formula() -> None:
    x = torch.randn(3, 5, 6, generator=torch.Generator().manual_seed(0)) * 2 + 1
    w = torch.randn(6, generator=torch.Generator().manual_seed(1))
    by_hand = x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + 0.01) * w
    assert torch.allclose(ex._torch_rms_norm(x, w, 0.01), by_hand, atol=1e-6)
    assert torch.allclose(F.rms_norm(x, (6,), w, 0.01), by_hand, atol=1e-6)


def test_the_block_checker_names_swapped_writes_and_wrong_shapes() -> None:
    swapped = ("def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
               "    a = attn(ln_1(x))\n"
               "    f = ffn(ln_2(x + a))\n"
               "    return x + a + f, f, a\n")
    result = ex.check_pre_ln_block(run_code(SETUP + swapped)["pre_ln_block"])
    assert result.status == "fail" and "look swapped" in result.message, result
    flat = ("def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    return x[0], x[0], x[0]\n")
    result = ex.check_pre_ln_block(run_code(SETUP + flat)["pre_ln_block"])
    assert result.status == "fail" and "shape of x" in result.message, result


def test_traps_are_lifted_after_the_check() -> None:
    env = run_code(SETUP + WRONG["q05_param_count"]["counted by building the model"][0])
    assert ex.check_param_count(env["param_count"]).status == "fail"
    assert env["GPT"] is model.GPT and env["GPTConfig"] is model.GPTConfig
    assert model.GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=8).num_params() > 0
    assert isinstance(nn.RMSNorm(3), nn.Module)





