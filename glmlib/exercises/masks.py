"""Checkers and reference solutions for the exercises of notebook 03 (masks).

Masks follow the course convention: a boolean mask is ``True`` where a query
(row) may attend to a key (column); an additive mask holds ``0.0`` where
attention is allowed and ``-inf`` where it is blocked.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..masks import causal_mask, combine, padding_mask, to_additive
from .checking import Case, CheckResult, run_cases


def _require_callable(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"pass your function itself (a callable), got {type(fn).__name__}")


# ------------------------------------------------------------------ solutions

def solution_causal_mask(T: int) -> torch.Tensor:
    """Bool ``(T, T)``: ``True`` exactly where the key j is not in the future (``j <= i``)."""
    i = torch.arange(T)[:, None]  # query index, one per row
    j = torch.arange(T)[None, :]  # key index, one per column
    return j <= i


def solution_to_additive(mask: torch.Tensor) -> torch.Tensor:
    """Bool mask -> float32 additive mask: ``0.0`` where allowed, ``-inf`` where blocked."""
    return torch.where(mask, torch.tensor(0.0), torch.tensor(float("-inf")))


def solution_causal_padding_mask(lengths: Sequence[int], T: int) -> torch.Tensor:
    """Bool ``(B, T, T)``: query i of sequence b may see key j iff ``j <= i`` and ``j < lengths[b]``."""
    lengths = torch.as_tensor(lengths)
    keys = torch.arange(T)
    causal = keys[None, :] <= keys[:, None]  # (T, T)
    real_key = keys[None, :] < lengths[:, None]  # (B, T)
    return causal[None, :, :] & real_key[:, None, :]  # (B, T, T)


# ------------------------------------------------------------------- checkers

def check_causal_mask(fn: Callable[[int], torch.Tensor]) -> CheckResult:
    """``fn(T)`` must return the bool ``(T, T)`` causal mask (``True`` = may attend)."""
    _require_callable(fn)
    cases = [Case(f"T={T}", (T,), causal_mask(T)) for T in (1, 2, 3, 5, 8)]
    return run_cases("causal_mask", fn, cases)


def check_to_additive(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(mask)`` must turn a bool mask of any shape into its float additive form."""
    _require_callable(fn)
    g = torch.Generator().manual_seed(3)
    masks = {
        "causal 4x4": causal_mask(4),
        "all allowed 2x3": torch.ones(2, 3, dtype=torch.bool),
        "all blocked 3x2": torch.zeros(3, 2, dtype=torch.bool),
        "random (2, 5, 5)": torch.rand(2, 5, 5, generator=g) < 0.5,
    }
    cases = [Case(name, (m.clone(),), to_additive(m)) for name, m in masks.items()]
    return run_cases("to_additive", fn, cases)


def check_causal_padding_mask(fn: Callable[[Sequence[int], int], torch.Tensor]) -> CheckResult:
    """``fn(lengths, T)`` must return the bool ``(B, T, T)`` causal-and-not-padding mask."""
    _require_callable(fn)
    inputs = {
        "one full sequence": ([4], 4),
        "one padded sequence": ([2], 5),
        "batch of three": ([3, 1, 6], 6),
        "length 1, T=1": ([1], 1),
    }
    cases = [Case(name, (list(lengths), T), combine(causal_mask(T), padding_mask(lengths, T)))
             for name, (lengths, T) in inputs.items()]
    return run_cases("causal_padding_mask", fn, cases)
