"""Checkers for notebook 08 (inside the model, faster inference).

Exercises: how "previous-character" a head is, one step of attention with a
KV cache, and where the context window starts once the text is too long.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..model import window_start
from .checking import Case, CheckResult, run_cases


# ------------------------------------------------------------ previous-token score

def solution_previous_token_score(weights: torch.Tensor) -> torch.Tensor:
    """Mean attention from each query ``i >= 1`` to key ``i - 1``: ``(H, T, T) -> (H,)``."""
    return torch.diagonal(weights, offset=-1, dim1=-2, dim2=-1).mean(dim=-1)


def _causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    T = scores.shape[-1]
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def _previous_token_cases() -> list[Case]:
    g = torch.Generator().manual_seed(8)
    T = 6
    previous = torch.zeros(T, T)
    previous[0, 0] = 1.0
    previous[torch.arange(1, T), torch.arange(T - 1)] = 1.0
    uniform = _causal_softmax(torch.zeros(T, T))
    maps = {
        "a perfect previous-character head": previous[None],
        "a head that attends to itself": torch.eye(T)[None],
        "uniform causal attention": uniform[None],
        "three random causal heads": _causal_softmax(torch.randn(3, T, T, generator=g)),
    }
    return [Case(name, (w.clone(),), solution_previous_token_score(w)) for name, w in maps.items()]


def check_previous_token_score(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(weights (H, T, T))`` must return each head's mean weight on the previous key, ``(H,)``."""
    return run_cases("previous_token_score", fn, _previous_token_cases())


# ------------------------------------------------------------ one step with a KV cache

def solution_cache_step(cache_k: torch.Tensor, cache_v: torch.Tensor, q: torch.Tensor,
                        k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Append the new token's ``k, v`` to the cache, then let its query attend to all of it.

    ``cache_k, cache_v (B, H, P, D)``; ``q, k, v (B, H, 1, D)``. Returns
    ``(out (B, H, 1, D), cache_k (B, H, P+1, D), cache_v (B, H, P+1, D))``.
    No mask is needed: the newest token may see every earlier one.
    """
    cache_k = torch.cat([cache_k, k], dim=-2)
    cache_v = torch.cat([cache_v, v], dim=-2)
    weights = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # (B, H, 1, P+1)
    return weights @ cache_v, cache_k, cache_v


def _checked_step(fn: Callable) -> Callable:
    """Wrap ``fn``: check the two caches it returns, hand back ``out`` to compare."""
    def step(cache_k, cache_v, q, k, v) -> torch.Tensor:
        result = fn(cache_k.clone(), cache_v.clone(), q.clone(), k.clone(), v.clone())
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise TypeError(f"expected a tuple (out, cache_k, cache_v), got {type(result).__name__}")
        out, new_k, new_v = result
        for label, got, old, new in (("cache_k", new_k, cache_k, k), ("cache_v", new_v, cache_v, v)):
            wanted = torch.cat([old, new], dim=-2)
            if not isinstance(got, torch.Tensor) or got.shape != wanted.shape or not torch.equal(got, wanted):
                raise ValueError(f"the returned {label} should be the old cache with the new token "
                                 f"appended along dim -2, shape {tuple(wanted.shape)}")
        return out
    return step


def _cache_cases() -> list[Case]:
    g = torch.Generator().manual_seed(80)
    cases = []
    for name, (B, H, P, D) in [("empty cache (the first token)", (1, 1, 0, 4)),
                               ("one head, three cached tokens", (1, 1, 3, 4)),
                               ("a batch of two, four heads, five cached tokens", (2, 4, 5, 8))]:
        q_all, k_all, v_all = (torch.randn(B, H, P + 1, D, generator=g) for _ in range(3))
        # the reference: full causal attention over all P+1 tokens, last row
        full = F.scaled_dot_product_attention(q_all, k_all, v_all, is_causal=True)
        expected = full[..., -1:, :]  # (B, H, 1, D)
        args = (k_all[..., :P, :], v_all[..., :P, :], q_all[..., P:, :], k_all[..., P:, :], v_all[..., P:, :])
        cases.append(Case(name, args, expected))
    return cases


def check_cache_step(fn: Callable) -> CheckResult:
    """``fn(cache_k, cache_v, q, k, v)`` must match the last row of full causal attention."""
    return run_cases("cache_step", _checked_step(fn), _cache_cases(), atol=1e-5)


# ------------------------------------------------------------ the context window

def solution_window_start(length: int, block_size: int) -> int:
    """Replay the rule token by token: when the context would pass ``block_size``,
    restart it from the last ``block_size // 2`` tokens (at least one)."""
    keep = max(1, block_size // 2)
    start = 0
    for n in range(1, length + 1):  # n tokens exist, the next one is wanted
        if n - start > block_size:
            start = n - keep
    return start


def _window_cases() -> list[Case]:
    named = [("shorter than the block", 5, 8), ("exactly one block", 8, 8),
             ("one token too many", 9, 8), ("the window grows again", 11, 8),
             ("full again, just before the next jump", 13, 8), ("the second jump", 14, 8),
             ("long text", 1000, 8), ("odd block size", 40, 5), ("block size 1", 7, 1),
             ("block size 128, 500 tokens", 500, 128)]
    return [Case(name, (length, block), window_start(length, block)) for name, length, block in named]


def check_window_start(fn: Callable[[int, int], int]) -> CheckResult:
    """``fn(length, block_size)`` must give the same start as :func:`glmlib.model.window_start`."""
    return run_cases("window_start", fn, _window_cases())
