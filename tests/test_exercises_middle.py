"""The checkers of notebooks 03-05 accept the reference solutions and reject wrong ones by name."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from glmlib.exercises import attention as ex_attention
from glmlib.exercises import decoder as ex_decoder
from glmlib.exercises import masks as ex_masks


# ---------------------------------------------------------- typical mistakes

def transposed_causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).triu()  # lets queries see the future


def strict_causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril(diagonal=-1)  # forgets the diagonal


def finite_additive(mask):
    return torch.zeros(mask.shape).masked_fill(~mask, -1e4)  # -1e4 is not -inf


def flipped_additive(mask):
    return torch.zeros(mask.shape).masked_fill(mask, float("-inf"))  # wrong polarity


def causal_only_mask(lengths, T):
    return torch.ones(len(lengths), T, T, dtype=torch.bool).tril()  # ignores padding


def naive_softmax(x):
    return torch.exp(x) / torch.exp(x).sum(dim=-1, keepdim=True)  # overflows at 1000


def unscaled_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1)  # no 1/sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def maskless_attention(q, k, v, mask=None):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def reshape_only_split(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, n_head, T, C // n_head)  # right shape, channels scrambled


def unbiased_layer_norm(x, weight, bias, eps=1e-5):
    var = x.var(dim=-1, keepdim=True)  # unbiased (divides by C - 1)
    return (x - x.mean(dim=-1, keepdim=True)) / torch.sqrt(var + eps) * weight + bias


def post_ln_block(x, attn, ffn, ln_1, ln_2):
    x = ln_1(x + attn(x))
    return ln_2(x + ffn(x))


def no_residual_block(x, attn, ffn, ln_1, ln_2):
    x = attn(ln_1(x))
    return ffn(ln_2(x))


def head_counted_twice(vocab_size, block_size, n_layer, n_embd, bias=True):
    tied = ex_decoder.solution_param_count(vocab_size, block_size, n_layer, n_embd, bias)
    return tied + vocab_size * n_embd


def ignores_bias_flag(vocab_size, block_size, n_layer, n_embd, bias=True):
    return ex_decoder.solution_param_count(vocab_size, block_size, n_layer, n_embd, True)


def stub(*args, **kwargs):
    raise NotImplementedError


# (checker, reference, [(wrong solution, name of the case it must fail on)])
EXERCISES = [
    (ex_masks.check_causal_mask, ex_masks.solution_causal_mask,
     [(transposed_causal_mask, "T=2"), (strict_causal_mask, "T=1")]),
    (ex_masks.check_to_additive, ex_masks.solution_to_additive,
     [(finite_additive, "causal 4x4"), (flipped_additive, "causal 4x4")]),
    (ex_masks.check_causal_padding_mask, ex_masks.solution_causal_padding_mask,
     [(causal_only_mask, "one padded sequence")]),
    (ex_attention.check_softmax, ex_attention.solution_softmax,
     [(naive_softmax, "huge logits [1000, 1001, 1002]")]),
    (ex_attention.check_attention, ex_attention.solution_attention,
     [(unscaled_attention, "unmasked (T=4, D=8)"), (maskless_attention, "causal mask")]),
    (ex_attention.check_split_heads, ex_attention.solution_split_heads,
     [(reshape_only_split, "B=1, T=2, C=4, H=2")]),
    (ex_decoder.check_layer_norm, ex_decoder.solution_layer_norm,
     [(unbiased_layer_norm, "C=4, gain 1, shift 0")]),
    (ex_decoder.check_pre_ln_block, ex_decoder.solution_pre_ln_block,
     [(post_ln_block, "stand-in sublayers (1, 3, 4)"), (no_residual_block, "stand-in sublayers (1, 3, 4)")]),
    (ex_decoder.check_param_count, ex_decoder.solution_param_count,
     [(head_counted_twice, "tiny: V=5, T=4, L=1, C=8"), (ignores_bias_flag, "no biases: V=10, T=16, L=3, C=32")]),
]
IDS = [checker.__name__ for checker, _, _ in EXERCISES]


@pytest.mark.parametrize("checker, reference, wrong", EXERCISES, ids=IDS)
def test_reference_passes(checker, reference, wrong):
    result = checker(reference)
    assert result.passed, result.message
    assert "PASS" in repr(result)


@pytest.mark.parametrize("checker, reference, wrong", EXERCISES, ids=IDS)
def test_wrong_solutions_fail_naming_the_case(checker, reference, wrong):
    for fn, case in wrong:
        result = checker(fn)
        assert not result.passed, f"{fn.__name__} should fail"
        assert f"case '{case}'" in result.message, result.message
        assert "expected" in result.message


@pytest.mark.parametrize("checker, reference, wrong", EXERCISES, ids=IDS)
def test_stub_reports_not_implemented(checker, reference, wrong):
    result = checker(stub)
    assert not result.passed
    assert "not implemented yet" in result.message
    assert "FAIL" in repr(result)


@pytest.mark.parametrize("checker, reference, wrong", EXERCISES, ids=IDS)
def test_an_exception_is_reported_not_raised(checker, reference, wrong):
    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch somewhere")

    result = checker(broken)
    assert not result.passed
    assert "raised RuntimeError: shape mismatch somewhere" in result.message
    assert "case '" in result.message


@pytest.mark.parametrize("checker, reference, wrong", EXERCISES, ids=IDS)
def test_a_non_callable_is_a_type_error(checker, reference, wrong):
    with pytest.raises(TypeError, match="callable"):
        checker("not a function")


def test_checkers_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    ex_decoder.check_pre_ln_block(ex_decoder.solution_pre_ln_block)
    ex_decoder.check_param_count(ex_decoder.solution_param_count)
    assert torch.equal(torch.get_rng_state(), before)


def test_checkers_do_not_see_learner_mutations():
    """A solution that writes into its inputs must not change the expected answers."""
    def in_place_layer_norm(x, weight, bias, eps=1e-5):
        out = F.layer_norm(x, (x.shape[-1],), weight, bias, eps)
        x.zero_()
        return out

    assert ex_decoder.check_layer_norm(in_place_layer_norm).passed
    assert ex_decoder.check_layer_norm(ex_decoder.solution_layer_norm).passed


def test_reference_solutions_agree_with_glmlib():
    from glmlib import masks

    assert torch.equal(ex_masks.solution_causal_mask(6), masks.causal_mask(6))
    m = masks.causal_mask(5)
    assert torch.equal(ex_masks.solution_to_additive(m), masks.to_additive(m))
    lengths = [2, 5, 3]
    ref = masks.combine(masks.causal_mask(5), masks.padding_mask(lengths, 5))
    assert torch.equal(ex_masks.solution_causal_padding_mask(lengths, 5), ref)
