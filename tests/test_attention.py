"""Attention checked against PyTorch's own: ``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention``."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from glmlib.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention
from glmlib.masks import causal_mask, padding_mask, to_additive

B, H, T, D = 3, 2, 6, 8
LENGTHS = [6, 4, 1]


def qkv(seed: int = 0, dtype: torch.dtype = torch.float64, t_q: int = T) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, t_q, D, generator=g, dtype=dtype)
    k = torch.randn(B, H, T, D, generator=g, dtype=dtype)
    v = torch.randn(B, H, T, D, generator=g, dtype=dtype)
    return q, k, v


MASKS = {
    "none": None,
    "causal bool": causal_mask(T),
    "padding bool": padding_mask(LENGTHS, T)[:, None],  # (B, 1, 1, T)
    "causal additive": to_additive(causal_mask(T), torch.float64),
    "padding additive": to_additive(padding_mask(LENGTHS, T)[:, None], torch.float64),
    "causal and padding": causal_mask(T) & padding_mask(LENGTHS, T)[:, None],
}


@pytest.mark.parametrize("name", MASKS)
def test_sdpa_matches_pytorch(name: str) -> None:
    q, k, v = qkv()
    mask = MASKS[name]
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(out, weights @ v, atol=1e-12, rtol=1e-10)
    assert weights.shape == (B, H, T, T)


@pytest.mark.parametrize("name", MASKS)
def test_weights_are_distributions_that_respect_the_mask(name: str) -> None:
    q, k, v = qkv(seed=1)
    mask = MASKS[name]
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, T, dtype=weights.dtype))
    assert (weights >= 0).all()
    if mask is not None:
        allowed = mask if mask.dtype == torch.bool else ~torch.isneginf(mask)
        blocked = ~allowed.expand(B, H, T, T)
        assert torch.equal(weights[blocked], torch.zeros(int(blocked.sum()), dtype=weights.dtype))


def test_sdpa_float32_matches_pytorch() -> None:
    q, k, v = qkv(seed=2, dtype=torch.float32)
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(T))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)


def test_sdpa_with_fewer_queries_than_keys() -> None:
    q, k, v = qkv(seed=3, t_q=2)
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-12, rtol=1e-10)
    assert weights.shape == (B, H, 2, T)


def test_sdpa_divides_by_sqrt_of_head_size() -> None:
    q, k, v = qkv(seed=4)
    _, weights = scaled_dot_product_attention(q, k, v)
    by_hand = torch.softmax(q @ k.transpose(-2, -1) / D ** 0.5, dim=-1)
    torch.testing.assert_close(weights, by_hand, atol=1e-12, rtol=1e-10)


def test_a_query_with_every_key_blocked_gets_zero_weights_not_nan() -> None:
    q, k, v = qkv(seed=5)
    mask = causal_mask(T).clone()
    mask[2] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert not torch.isnan(out).any()
    assert torch.equal(weights[..., 2, :], torch.zeros(B, H, T, dtype=weights.dtype))
    assert torch.equal(out[..., 2, :], torch.zeros(B, H, D, dtype=out.dtype))


# ------------------------------------------------------------ multi-head

C, NH = 16, 4


def paired_modules(seed: int = 0) -> tuple[MultiHeadAttention, nn.MultiheadAttention]:
    """Our module and PyTorch's, holding the same (random) weights and biases."""
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(C, NH, batch_first=True).double().eval()
    with torch.no_grad():
        for p in ref.parameters():  # biases start at 0 in PyTorch; make them count
            p.normal_(0.0, 0.3)
    ours = MultiHeadAttention(C, NH).double().eval()
    with torch.no_grad():
        ours.qkv.weight.copy_(ref.in_proj_weight)
        ours.qkv.bias.copy_(ref.in_proj_bias)
        ours.proj.weight.copy_(ref.out_proj.weight)
        ours.proj.bias.copy_(ref.out_proj.bias)
    return ours, ref


def inputs(seed: int = 0, t: int = T) -> torch.Tensor:
    return torch.randn(B, t, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_matches_pytorch_without_a_mask(need_weights: bool) -> None:
    ours, ref = paired_modules()
    x = inputs()
    y = ours(x, need_weights=need_weights)
    y_ref, w_ref = ref(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
    if need_weights:
        torch.testing.assert_close(ours.last_weights, w_ref, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_matches_pytorch_with_a_causal_mask(need_weights: bool) -> None:
    ours, ref = paired_modules(seed=1)
    x = inputs(seed=1)
    blocked = ~causal_mask(T)  # nn.MultiheadAttention: True means "may NOT attend"
    y_ref, w_ref = ref(x, x, x, attn_mask=blocked, need_weights=True, average_attn_weights=False)
    y_flag = ours(x, is_causal=True, need_weights=need_weights)
    y_mask = ours(x, mask=causal_mask(T), need_weights=need_weights)
    torch.testing.assert_close(y_flag, y_ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(y_mask, y_ref, atol=1e-12, rtol=1e-10)
    if need_weights:
        torch.testing.assert_close(ours.last_weights, w_ref, atol=1e-12, rtol=1e-10)


def test_mha_matches_pytorch_with_padding() -> None:
    ours, ref = paired_modules(seed=2)
    x = inputs(seed=2)
    key_padding = ~padding_mask(LENGTHS, T)[:, 0]  # (B, T), True = padded
    y_ref, w_ref = ref(x, x, x, key_padding_mask=key_padding, need_weights=True,
                       average_attn_weights=False)
    y = ours(x, mask=padding_mask(LENGTHS, T)[:, None], need_weights=True)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(ours.last_weights, w_ref, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("chunks", [[1] * T, [3, 1, 1, 1], [2, 3, 1], [T]])
def test_kv_cache_matches_one_causal_pass(chunks: list[int]) -> None:
    """Feeding the sequence in pieces through a cache gives the full causal result."""
    ours, _ = paired_modules(seed=3)
    x = inputs(seed=3)
    full = ours(x, is_causal=True)
    cache, outs, start = KVCache(), [], 0
    for n in chunks:
        outs.append(ours(x[:, start:start + n], is_causal=True, kv_cache=cache))
        start += n
    assert len(cache) == T
    torch.testing.assert_close(torch.cat(outs, dim=1), full, atol=1e-12, rtol=1e-10)


def test_kv_cache_keeps_every_step_while_its_buffers_grow() -> None:
    """Appending past the spare room (16, then doubling) loses or reorders nothing."""
    cache = KVCache()
    g = torch.Generator().manual_seed(5)
    steps = [torch.randn(2, 3, n, 4, generator=g) for n in (1, 14, 1, 1, 20, 1, 40)]
    for n_done, step in enumerate(steps, start=1):
        keys, values = cache.update(0, step, -step)
        expected = torch.cat(steps[:n_done], dim=-2)
        assert torch.equal(keys, expected) and torch.equal(values, -expected)
    assert len(cache) == cache.length(0) == sum(s.shape[-2] for s in steps)
    assert cache.length(1) == 0


def test_kv_cache_weights_cover_the_whole_history() -> None:
    ours, _ = paired_modules(seed=4)
    x = inputs(seed=4)
    ours(x, is_causal=True, need_weights=True)
    full = ours.last_weights  # (B, H, T, T)
    cache = KVCache()
    ours(x[:, :4], is_causal=True, kv_cache=cache)
    ours(x[:, 4:], is_causal=True, kv_cache=cache, need_weights=True)
    torch.testing.assert_close(ours.last_weights, full[:, :, 4:], atol=1e-12, rtol=1e-10)
