"""Checkers for notebook 07 (generation and sampling): top-k, top-p, distinct n-grams."""
from __future__ import annotations

from typing import Callable

import torch

from .checking import Case, CheckResult, run_cases

NEG_INF = float("-inf")


# ------------------------------------------------------------ top-k

def solution_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep every logit >= the k-th largest in its row (ties kept); the rest become ``-inf``."""
    if k >= logits.shape[-1]:
        return logits.clone()
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, NEG_INF)


def _top_k_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    cases = []

    def add(name: str, logits: torch.Tensor, k: int) -> None:
        cases.append(Case(name, (logits.clone(), k), solution_top_k(logits, k)))

    add("k=2 of five", torch.tensor([1.0, 3.0, 2.0, -1.0, 0.5]), 2)
    add("k=1 keeps only the largest", torch.tensor([0.2, -0.3, 0.9, 0.1]), 1)
    add("tie at the boundary: both kept", torch.tensor([2.0, 1.0, 1.0, 0.0]), 2)
    add("k larger than the vocabulary keeps all", torch.tensor([0.5, 0.1, 0.3]), 10)
    add("a batch of rows, each filtered on its own", torch.randn(3, 8, generator=g), 3)
    return cases


def check_top_k(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """``fn(logits, k)`` must keep the k largest logits of each row (ties kept), ``-inf`` elsewhere."""
    return run_cases("top_k", fn, _top_k_cases())


# ------------------------------------------------------------ top-p

def solution_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most probable tokens whose probability adds up to >= ``p``."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_above = torch.cumsum(probs, dim=-1) - probs  # probability ranked above each token
    remove_sorted = mass_above >= p
    remove_sorted[..., 0] = False  # the most probable token always stays
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, NEG_INF)


def _top_p_cases() -> list[Case]:
    g = torch.Generator().manual_seed(70)
    cases = []

    def add(name: str, logits: torch.Tensor, p: float) -> None:
        cases.append(Case(name, (logits.clone(), p), solution_top_p(logits, p)))

    probs = torch.tensor([0.05, 0.5, 0.1, 0.3, 0.05])
    add("p=0.7 keeps 0.5 and 0.3", probs.log(), 0.7)
    add("p=0.85 also keeps 0.1", probs.log(), 0.85)
    add("tiny p keeps only the most probable", probs.log(), 0.01)
    add("p=1 keeps everything", probs.log(), 1.0)
    add("a batch of rows, each filtered on its own", 2 * torch.randn(4, 9, generator=g), 0.9)
    return cases


def check_top_p(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """``fn(logits, p)`` must keep the nucleus of probability ``p`` in each row, ``-inf`` elsewhere."""
    return run_cases("top_p", fn, _top_p_cases())


# ------------------------------------------------------------ distinct n-grams

def solution_distinct_n(text: str, n: int) -> float:
    """The number of different length-``n`` substrings divided by the number of them (0 if none)."""
    grams = [text[i:i + n] for i in range(len(text) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _distinct_cases() -> list[Case]:
    named = [("all different", "abcdef", 2), ("one repeated character", "aaaaa", 1),
             ("a repeating pattern", "abababab", 2), ("words", "to be or not to be", 3),
             ("text shorter than n", "ab", 3), ("n equal to the length", "abc", 3)]
    return [Case(name, (text, n), solution_distinct_n(text, n)) for name, text, n in named]


def check_distinct_n(fn: Callable[[str, int], float]) -> CheckResult:
    """``fn(text, n)`` must return the fraction of distinct character n-grams in ``text``."""
    return run_cases("distinct_n", fn, _distinct_cases(), atol=1e-9)
