"""Checkers and reference solutions for the exercises of notebook 04 (attention)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from ..attention import scaled_dot_product_attention
from .checking import Case, CheckResult, run_cases


def _require_callable(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"pass your function itself (a callable), got {type(fn).__name__}")


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ solutions

def solution_softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis that survives huge logits and ``-inf`` entries.

    Subtracting the row maximum changes nothing mathematically
    (``e^{x-m} / sum e^{x-m} = e^x / sum e^x``) but keeps ``exp`` from overflowing.
    """
    m = x.max(dim=-1, keepdim=True).values
    e = torch.exp(x - m)
    return e / e.sum(dim=-1, keepdim=True)


def solution_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       mask: torch.Tensor | None = None) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d_k)) v`` with an optional bool mask (``True`` = may attend)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v  # (..., T_q, D_v)


def solution_split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """``(B, T, C) -> (B, H, T, D)`` with ``D = C // H``: head h gets channels ``h*D .. h*D+D-1``."""
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def heads_by_splitting(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """The same split computed another way (cut the channels, stack the pieces): the checkers' reference."""
    return torch.stack(x.split(x.shape[-1] // n_head, dim=-1), dim=1)  # (B, H, T, D)


# ------------------------------------------------------------------- checkers

def check_softmax(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(x)`` must equal ``torch.softmax(x, dim=-1)``, also for huge logits and ``-inf``."""
    _require_callable(fn)
    inf = float("inf")
    inputs = {
        "one row": torch.tensor([1.0, 2.0, 3.0]),
        "batch of rows (2, 3, 4)": _randn(2, 3, 4, seed=0),
        "huge logits [1000, 1001, 1002]": torch.tensor([1000.0, 1001.0, 1002.0]),
        "very negative logits": torch.tensor([-1000.0, -1001.0, -1002.0]),
        "masked entries (-inf)": torch.tensor([[0.5, -inf, 1.5], [-inf, -inf, 2.0]]),
        "a single entry": torch.tensor([[7.0]]),
    }
    cases = [Case(name, (x.clone(),), torch.softmax(x, dim=-1)) for name, x in inputs.items()]
    return run_cases("softmax", fn, cases)


def check_attention(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """``fn(q, k, v, mask=None)`` must return the scaled dot-product attention output."""
    _require_callable(fn)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    inputs = {
        "one query, one key": (_randn(1, 3, seed=1), _randn(1, 3, seed=2), _randn(1, 2, seed=3), None),
        "unmasked (T=4, D=8)": (_randn(4, 8, seed=4), _randn(4, 8, seed=5), _randn(4, 8, seed=6), None),
        "causal mask": (_randn(4, 8, seed=7), _randn(4, 8, seed=8), _randn(4, 8, seed=9), causal),
        "batched heads (2, 3, 4, 16), causal": (_randn(2, 3, 4, 16, seed=10), _randn(2, 3, 4, 16, seed=11),
                                                _randn(2, 3, 4, 16, seed=12), causal),
        "3 queries, 5 keys, d_v=2 != d_k=6": (_randn(3, 6, seed=13), _randn(5, 6, seed=14),
                                              _randn(5, 2, seed=15), None),
        "large d_k=256 (scaling matters)": (_randn(3, 256, seed=16), _randn(3, 256, seed=17),
                                            _randn(3, 4, seed=18), None),
    }
    cases = [Case(name, (q.clone(), k.clone(), v.clone()),
                  scaled_dot_product_attention(q, k, v, m)[0],
                  kwargs={"mask": None if m is None else m.clone()})
             for name, (q, k, v, m) in inputs.items()]
    return run_cases("attention", fn, cases)


def check_split_heads(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """``fn(x, n_head)`` must split ``(B, T, C)`` into ``(B, H, T, C // H)`` in the standard order."""
    _require_callable(fn)
    inputs = {
        "B=1, T=2, C=4, H=2": (torch.arange(8.0).view(1, 2, 4), 2),
        "one head (H=1)": (_randn(2, 3, 6, seed=20), 1),
        "one channel per head (H=C=4)": (_randn(1, 3, 4, seed=21), 4),
        "B=2, T=5, C=12, H=3": (_randn(2, 5, 12, seed=22), 3),
    }
    cases = [Case(name, (x.clone(), h), heads_by_splitting(x, h)) for name, (x, h) in inputs.items()]
    return run_cases("split_heads", fn, cases)
