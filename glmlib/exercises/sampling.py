"""Checkers for notebook 07 (generation and sampling): top-k, top-p and min-p filters."""
from __future__ import annotations

from typing import Callable

import torch

from ..sampling import top_k_filter, top_p_filter
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
        cases.append(Case(name, (logits.clone(), k), top_k_filter(logits, k)))

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
    if p >= 1.0:  # everything; float32 running sums can reach 1.0 before the tail ends
        return logits.clone()
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
        cases.append(Case(name, (logits.clone(), p), top_p_filter(logits, p)))

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


# ------------------------------------------------------------ min-p

def solution_min_p(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Keep the tokens whose probability is at least ``min_p`` times the largest one's."""
    probs = torch.softmax(logits, dim=-1)
    threshold = min_p * probs.max(dim=-1, keepdim=True).values  # (..., 1)
    return logits.masked_fill(probs < threshold, NEG_INF)


def _min_p_cases() -> list[Case]:
    g = torch.Generator().manual_seed(77)
    cases = []

    def add(name: str, logits: torch.Tensor, min_p: float) -> None:
        cases.append(Case(name, (logits.clone(), min_p), solution_min_p(logits, min_p)))

    probs = torch.tensor([0.1, 0.5, 0.05, 0.3, 0.05])
    add("min_p=0.25: threshold 0.125 keeps 0.5 and 0.3", probs.log(), 0.25)
    add("min_p=0.15: threshold 0.075 also keeps 0.1", probs.log(), 0.15)
    add("min_p=1 keeps only the most probable", probs.log(), 1.0)
    add("min_p=0 keeps everything", probs.log(), 0.0)
    add("a flat row keeps more than a peaked one", torch.tensor([[0.0, 0.1, 0.2, 0.3], [0.0, 0.0, 0.0, 5.0]]), 0.5)
    add("a batch of rows, each filtered on its own", 2 * torch.randn(3, 9, generator=g), 0.2)
    return cases


def check_min_p(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """``fn(logits, min_p)`` must keep tokens with probability >= ``min_p`` x the top one, ``-inf`` elsewhere."""
    return run_cases("min_p", fn, _min_p_cases())
