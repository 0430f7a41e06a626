"""Checkers for notebook 01 (language models): bigram counts, add-k smoothing, the chain rule."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from .checking import Case, CheckResult, run_cases


def solution_bigram_counts(ids: Sequence[int], vocab_size: int) -> torch.Tensor:
    """``(V, V)`` int64 table: entry ``[a, b]`` counts how often token ``b`` follows token ``a``."""
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)
    for prev, nxt in zip(ids[:-1], ids[1:]):
        counts[prev, nxt] += 1
    return counts


def solution_add_k_probs(counts: torch.Tensor, k: float) -> torch.Tensor:
    """Rows of ``(counts + k)`` normalised to sum to 1; a row with nothing in it becomes uniform."""
    smoothed = counts.double() + k
    totals = smoothed.sum(dim=1, keepdim=True)  # (V, 1)
    uniform = torch.full_like(smoothed, 1.0 / counts.shape[1])
    return torch.where(totals > 0, smoothed / totals.clamp_min(1e-300), uniform)


def solution_sequence_log_prob(probs: torch.Tensor, ids: Sequence[int]) -> float:
    """Chain rule with a one-token memory: ``sum_t log probs[x_{t-1}, x_t]`` (natural log)."""
    return float(sum(math.log(probs[prev, nxt]) for prev, nxt in zip(ids[:-1], ids[1:])))


def _counts_cases() -> list[Case]:
    cases = [
        ("alternating 0 1 0 1 2", [0, 1, 0, 1, 2], 3),
        ("a token followed by itself: 2 2 2 2", [2, 2, 2, 2], 3),
        ("direction matters: 0 then 1 is not 1 then 0", [0, 1], 2),
        ("one token gives no pairs", [1], 4),
        ("empty sequence", [], 2),
        ("vocabulary larger than the tokens used", [4, 0, 4, 3, 0, 4], 6),
    ]
    return [Case(name, (ids, V), solution_bigram_counts(ids, V)) for name, ids, V in cases]


def check_bigram_counts(fn: Callable[[Sequence[int], int], torch.Tensor]) -> CheckResult:
    """``fn(ids, vocab_size)`` must count every adjacent pair ``(prev, next)`` into a ``(V, V)`` table."""
    return run_cases("bigram_counts", fn, _counts_cases())


def _probs_cases() -> list[Case]:
    table = torch.tensor([[0.0, 3.0, 1.0], [2.0, 0.0, 0.0], [1.0, 1.0, 2.0]])
    empty_row = torch.tensor([[0.0, 4.0], [0.0, 0.0]])
    cases = [
        ("k = 0: plain relative frequencies", table, 0.0),
        ("k = 1 (Laplace)", table, 1.0),
        ("k = 0.5", table, 0.5),
        ("large k pulls every row towards uniform", table, 1000.0),
        ("k = 0 and a row that was never seen becomes uniform", empty_row, 0.0),
    ]
    return [Case(name, (c, k), solution_add_k_probs(c, k).float()) for name, c, k in cases]


def check_add_k_probs(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """``fn(counts, k)`` must return the add-k smoothed ``(V, V)`` next-token probabilities."""
    return run_cases("add_k_probs", fn, _probs_cases())


def _log_prob_cases() -> list[Case]:
    probs = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    cases = [
        ("two tokens: just log P(1 | 0)", [0, 1]),
        ("0 1 2 2 0", [0, 1, 2, 2, 0]),
        ("direction matters: 1 0 is scored with P(0 | 1)", [1, 0]),
        ("one token: nothing is predicted, log 1 = 0", [2]),
        ("a long repetitive sequence", [2] * 20 + [0, 1] * 10),
    ]
    return [Case(name, (probs, ids), solution_sequence_log_prob(probs, ids)) for name, ids in cases]


def check_sequence_log_prob(fn: Callable[[torch.Tensor, Sequence[int]], float]) -> CheckResult:
    """``fn(probs, ids)`` must return ``sum_t log probs[ids[t-1], ids[t]]`` as a number."""
    return run_cases("sequence_log_prob", fn, _log_prob_cases())
