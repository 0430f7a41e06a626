"""Notebook 04's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from glmlib import attention
from glmlib.exercises import attention as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb04 import SETUP, WRONG

QUESTIONS = questions("04")


def test_the_notebook_has_four_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q04_softmax", "q04_attention", "q04_multi_head", "q04_previous_char_head"]
    assert [q.points for q in QUESTIONS.values()] == [1, 2, 2, 3]
    assert set(WRONG) == set(QUESTIONS)


# ------------------------------------------------------------ what matters beyond pass / fail

def test_expected_values_come_from_pytorch() -> None:
    """The attention reference is PyTorch's SDPA; it agrees with glmlib's written-out attention."""
    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 5, 4, generator=g)
    mask = torch.ones(5, 5, dtype=torch.bool).tril()
    assert torch.allclose(ex._sdpa(q, k, v, mask), attention.scaled_dot_product_attention(q, k, v, mask)[0], atol=1e-6)
    x = torch.randn(2, 5, 12, generator=g)
    W = [torch.randn(12, 12, generator=g) for _ in range(4)]
    ours = ex._torch_mha(x, *W, 3)
    heads = [torch.softmax((x @ W[0])[..., h * 4:(h + 1) * 4] @ (x @ W[1])[..., h * 4:(h + 1) * 4].mT / 2
                           + torch.zeros(5, 5).masked_fill(~mask, float("-inf")), -1) @ (x @ W[2])[..., h * 4:(h + 1) * 4]
             for h in range(3)]
    assert torch.allclose(ours, torch.cat(heads, -1) @ W[3], atol=1e-4)


def test_softmax_shortcuts_are_restored_after_the_check() -> None:
    env = run_code(SETUP + WRONG["q04_softmax"]["Tensor.softmax"][0])
    assert ex.check_softmax(env["softmax"]).status == "fail"
    x = torch.tensor([0.0, 0.0])
    assert x.softmax(-1).tolist() == [0.5, 0.5]
    assert torch.softmax(x, -1).tolist() == F.softmax(x, -1).tolist() == [0.5, 0.5]
    assert env["scaled_dot_product_attention"] is attention.scaled_dot_product_attention


def test_a_loop_over_heads_is_caught_when_the_source_is_readable() -> None:
    code = ("def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):\n"
            "    D = x.shape[-1] // n_head\n"
            "    q, k, v = x @ W_q, x @ W_k, x @ W_v\n"
            "    outs = []\n"
            "    for h in range(n_head):\n"
            "        c = slice(h * D, (h + 1) * D)\n"
            "        outs.append(F.scaled_dot_product_attention(q[..., c], k[..., c], v[..., c], is_causal=True))\n"
            "    return torch.cat(outs, dim=-1) @ W_o\n")
    result = ex.check_multi_head_attention(run_code(SETUP + code)["multi_head_attention"])
    assert result.status == "fail" and "`for` loop" in result.message, result


def test_previous_char_head_accepts_other_correct_constructions() -> None:
    """Shift the queries instead of the keys, use a larger head: still a previous-character head."""
    code = ("def previous_char_head(T, V):\n"
            "    W_q = torch.zeros(T + V, T + 3)\n"
            "    W_q[:T, :T] = 12.0 * torch.diag(torch.ones(T - 1), diagonal=-1)\n"
            "    W_k = torch.zeros(T + V, T + 3)\n"
            "    W_k[:T, :T] = 12.0 * torch.eye(T)\n"
            "    W_v = torch.cat([torch.zeros(T, V), torch.eye(V)])\n"
            "    return W_q, W_k, W_v\n")
    result = ex.check_previous_char_head(run_code(SETUP + code)["previous_char_head"])
    assert result.passed, result


def test_previous_char_head_rejects_a_barely_too_small_scale_at_long_texts() -> None:
    """s = 7 passes T = 8 and 32 but not T = 64, where the last query has 63 competing keys."""
    code = WRONG["q04_previous_char_head"]["scale too small"][0].replace("s = 1.0", "s = 7.0")
    result = ex.check_previous_char_head(run_code(SETUP + code)["previous_char_head"])
    assert result.status == "fail" and "T=64" in result.message and "too close together" in result.message


def test_previous_char_head_reports_overflow_and_bad_returns() -> None:
    huge = WRONG["q04_previous_char_head"]["scale too small"][0].replace("s = 1.0", "s = 1e30")
    result = ex.check_previous_char_head(run_code(SETUP + huge)["previous_char_head"])
    assert result.status == "fail" and "overflow" in result.message
    result = ex.check_previous_char_head(lambda T, V: torch.zeros(T + V, T))
    assert result.status == "fail" and "three matrices" in result.message


def test_a_transpose_of_fixed_axes_gets_a_hint() -> None:
    code = ("def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])\n"
            "    return torch.softmax(s, dim=-1) @ v\n")
    result = ex.check_attention(run_code(SETUP + code)["attention"])
    assert result.status == "fail" and "count axes from the end" in result.message, result


# ------------------------------------------------------------ correct variants: none loses a point

CORRECT = {
    "softmax": [
        "def softmax(x):\n"
        "    return torch.exp(x - torch.logsumexp(x, dim=-1, keepdim=True))\n",
        "def softmax(x):\n"
        "    return (x - x.logsumexp(-1, keepdim=True)).exp()\n",
        "def softmax(x):\n"
        "    m = x.amax(dim=-1, keepdim=True)\n"
        "    e = (x - m).exp()\n"
        "    return e / e.sum(dim=-1, keepdim=True)\n",
    ],
    "attention": [
        "def attention(q, k, v, mask=None):\n"
        "    s = q @ k.mT * q.shape[-1] ** -0.5\n"
        "    if mask is not None:\n"
        "        s = torch.where(mask, s, float('-inf'))\n"
        "    return torch.softmax(s, dim=-1) @ v\n",
        "def attention(q, k, v, mask=None):\n"
        "    s = torch.einsum('...qd,...kd->...qk', q / math.sqrt(q.shape[-1]), k)\n"
        "    if mask is not None:\n"
        "        s = s + torch.zeros(mask.shape).masked_fill(~mask, float('-inf'))\n"
        "    return s.softmax(-1) @ v\n",
    ],
    "multi_head_attention": [
        # the idiom of notebooks 04 and 05: one generator expression over the three projections
        "def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):\n"
        "    B, T, C = x.shape\n"
        "    q, k, v = ((x @ W).view(B, T, n_head, C // n_head).transpose(1, 2) for W in (W_q, W_k, W_v))\n"
        "    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)\n"
        "    return out.transpose(1, 2).reshape(B, T, C) @ W_o\n",
        "def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):\n"
        "    B, T, C = x.shape\n"
        "    D = C // n_head\n"
        "    q = (x @ W_q).view(B, T, n_head, D).transpose(1, 2)\n"
        "    k = (x @ W_k).view(B, T, n_head, D).transpose(1, 2)\n"
        "    v = (x @ W_v).view(B, T, n_head, D).transpose(1, 2)\n"
        "    s = q @ k.transpose(-2, -1) / math.sqrt(D)\n"
        "    s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float('-inf'))\n"
        "    out = torch.softmax(s, dim=-1) @ v\n"
        "    return out.transpose(1, 2).reshape(B, T, C) @ W_o\n",
        "def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):\n"
        "    B, T, C = x.shape\n"
        "    allowed = torch.ones(T, T, dtype=torch.bool).tril()\n"
        "    q, k, v = [(x @ W).unflatten(-1, (n_head, -1)).transpose(1, 2) for W in [W_q, W_k, W_v]]\n"
        "    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)\n"
        "    return out.transpose(1, 2).flatten(2) @ W_o\n",
    ],
}
CORRECT_CASES = [(name, i) for name, codes in CORRECT.items() for i in range(len(codes))]
CHECKERS = {"softmax": ex.check_softmax, "attention": ex.check_attention,
            "multi_head_attention": ex.check_multi_head_attention}


@pytest.mark.parametrize("name, i", CORRECT_CASES, ids=[f"{n}-{i}" for n, i in CORRECT_CASES])
def test_correct_variants_pass(name: str, i: int) -> None:
    """Stable formulations (logsumexp), other idioms (einsum, where, a comprehension over the projections)."""
    result = CHECKERS[name](run_code(SETUP + CORRECT[name][i])[name])
    assert result.passed, result


def test_a_weight_just_below_the_bar_is_not_printed_as_the_bar() -> None:
    assert ex._floor4(0.94999) == "0.9499" and ex._floor4(0.95) == "0.9500"
    code = WRONG["q04_previous_char_head"]["scale too small"][0].replace("s = 1.0", "s = 7.0")
    result = ex.check_previous_char_head(run_code(SETUP + code)["previous_char_head"])
    assert "below the 0.95 required" in result.message, result
