"""Masks: the causal rule, padding, the additive form and combination, element by element."""
from __future__ import annotations

import pytest
import torch

from glmlib.masks import causal_mask, combine, padding_mask, to_additive


@pytest.mark.parametrize("T", [1, 2, 5, 9])
def test_causal_mask_allows_exactly_the_past(T: int) -> None:
    m = causal_mask(T)
    assert m.dtype == torch.bool and m.shape == (T, T)
    for i in range(T):
        for j in range(T):
            assert bool(m[i, j]) == (j <= i), (i, j)


def test_padding_mask_hides_padded_keys_from_every_query() -> None:
    lengths, T = [3, 1, 5], 5
    m = padding_mask(lengths, T)
    assert m.dtype == torch.bool and m.shape == (3, 1, T)
    for b, n in enumerate(lengths):
        for j in range(T):
            assert bool(m[b, 0, j]) == (j < n), (b, j)
    # the singleton query axis broadcasts over every query row
    assert torch.equal(m.expand(3, T, T)[:, 4], m[:, 0])


def test_padding_mask_accepts_a_tensor_of_lengths() -> None:
    assert torch.equal(padding_mask(torch.tensor([2, 4]), 4), padding_mask([2, 4], 4))


def test_to_additive_is_zero_where_allowed_and_minus_inf_where_blocked() -> None:
    m = causal_mask(4)
    a = to_additive(m)
    assert a.dtype == torch.float32 and a.shape == m.shape
    assert torch.equal(a[m], torch.zeros(int(m.sum())))
    assert torch.isneginf(a[~m]).all()
    assert to_additive(m, dtype=torch.float64).dtype == torch.float64


def test_combine_is_logical_and_with_broadcasting() -> None:
    T, lengths = 4, [2, 4]
    both = combine(causal_mask(T), padding_mask(lengths, T))
    assert both.shape == (2, T, T)
    for b, n in enumerate(lengths):
        for i in range(T):
            for j in range(T):
                assert bool(both[b, i, j]) == (j <= i and j < n), (b, i, j)


def test_combine_of_one_mask_is_that_mask() -> None:
    m = causal_mask(3)
    assert torch.equal(combine(m), m)


def test_additive_forms_add_up_like_the_boolean_and() -> None:
    c, p = causal_mask(5), padding_mask([3, 5], 5)
    summed = to_additive(c) + to_additive(p)  # -inf + -inf stays -inf
    assert torch.equal(summed, to_additive(combine(c, p)))
