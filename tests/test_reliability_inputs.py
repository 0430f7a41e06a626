"""Inputs that used to be misread without a word: an integer mask, a model left in eval mode."""
from __future__ import annotations

import pytest
import torch

from glmlib.attention import MultiHeadAttention, scaled_dot_product_attention
from glmlib.masks import causal_mask, to_additive
from glmlib.model import GPT, GPTConfig


def qkv(T: int = 4, D: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(2, T, D, generator=g) for _ in range(3))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_an_integer_mask_is_refused_not_added(dtype: torch.dtype) -> None:
    """A 0/1 mask was added to the scores as if additive: it blocked nothing."""
    q, k, v = qkv()
    mask = causal_mask(4).to(dtype)
    with pytest.raises(TypeError, match=rf"bool \(True = may attend\).*{dtype}.*mask\.bool\(\)"):
        scaled_dot_product_attention(q, k, v, mask)
    with pytest.raises(TypeError, match=r"mask\.bool\(\)"):
        MultiHeadAttention(8, 2)(q, mask=mask)
    # what the message suggests gives the causal result
    out, w = scaled_dot_product_attention(q, k, v, mask.bool())
    assert torch.equal(w.triu(1), torch.zeros_like(w))


def test_bool_and_additive_masks_agree() -> None:
    q, k, v = qkv()
    by_bool = scaled_dot_product_attention(q, k, v, causal_mask(4))
    by_add = scaled_dot_product_attention(q, k, v, to_additive(causal_mask(4)))
    torch.testing.assert_close(by_bool, by_add)


def test_an_additive_mask_with_nan_is_refused() -> None:
    q, k, v = qkv()
    with pytest.raises(ValueError, match=r"not NaN or \+inf"):
        scaled_dot_product_attention(q, k, v, torch.full((4, 4), float("nan")))


def test_an_additive_padding_mask_combines_with_the_causal_one() -> None:
    """MultiHeadAttention used ``&`` on it, which fails for a float mask."""
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).eval()
    x = torch.randn(1, 4, 8)
    keys = torch.tensor([True, True, True, False])
    by_bool = mha(x, mask=keys, is_causal=True, need_weights=True)
    by_add = mha(x, mask=to_additive(keys), is_causal=True, need_weights=True)
    torch.testing.assert_close(by_bool, by_add)


def test_attention_maps_keep_training_mode_when_the_input_is_bad() -> None:
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=8, dropout=0.1)).train()
    with pytest.raises(ValueError, match=r"token ids"):
        model.attention_maps(torch.tensor([[0, 9]]))
    assert model.training  # dropout still on for whoever trains it next
