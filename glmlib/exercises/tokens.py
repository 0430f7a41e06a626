"""Checkers for notebook 02 (tokens and batches): training pairs, shifted batches, embeddings."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .checking import Case, CheckResult, run_cases


def solution_context_target_pairs(ids: Sequence[int]) -> list[tuple[list[int], int]]:
    """Every ``(context, target)`` pair in ``ids``: the target ``ids[t]`` follows the context ``ids[:t]``."""
    ids = [int(i) for i in ids]
    return [(ids[:t], ids[t]) for t in range(1, len(ids))]


def solution_shifted_batch(data: torch.Tensor, starts: Sequence[int],
                           block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x[b] = data[s : s+T]`` and ``y[b] = data[s+1 : s+T+1]`` for each start ``s``; both ``(B, T)``."""
    x = torch.stack([data[s:s + block_size] for s in starts])  # (B, T)
    y = torch.stack([data[s + 1:s + block_size + 1] for s in starts])  # (B, T)
    return x, y


def solution_one_hot_embed(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Embed ``ids (...)`` as ``one_hot(ids) @ weight``: shape ``(..., C)`` for a ``(V, C)`` weight."""
    one_hot = F.one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype)  # (..., V)
    return one_hot @ weight  # (..., C)


def _as_pairs(fn: Callable) -> Callable:
    """Accept lists, tuples or tensors for the contexts; compare plain ``(list, int)`` pairs."""
    def wrapped(ids: Sequence[int]) -> list[tuple[list[int], int]]:
        out = fn(ids)
        try:
            return [([int(i) for i in ctx], int(tgt)) for ctx, tgt in out]
        except (TypeError, ValueError):
            raise TypeError("return a list of (context, target) pairs, e.g. [([5], 6), ([5, 6], 7)], "
                            f"got {out!r}") from None
    return wrapped


def _pairs_cases() -> list[Case]:
    cases = [("four tokens give three pairs", [5, 6, 7, 8]), ("two tokens give one pair", [3, 9]),
             ("one token gives no pair", [4]), ("empty sequence", []),
             ("repeated tokens", [1, 1, 2, 1, 1])]
    return [Case(name, (ids,), solution_context_target_pairs(ids)) for name, ids in cases]


def check_context_target_pairs(fn: Callable[[Sequence[int]], list]) -> CheckResult:
    """``fn(ids)`` must list the ``len(ids) - 1`` pairs ``(ids[:t], ids[t])`` in order."""
    return run_cases("context_target_pairs", _as_pairs(fn), _pairs_cases())


def _stacked(fn: Callable) -> Callable:
    """Return ``x`` and ``y`` stacked as one ``(2, B, T)`` tensor so they are compared together."""
    def wrapped(data: torch.Tensor, starts: Sequence[int], block_size: int) -> torch.Tensor:
        out = fn(data, starts, block_size)
        if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
            raise TypeError(f"return a pair of tensors (x, y), got {type(out).__name__}")
        x, y = out
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same shape (B, T), got {tuple(x.shape)} and {tuple(y.shape)}")
        return torch.stack((x, y))  # (2, B, T): [0] is x, [1] is y
    return wrapped


def _batch_cases() -> list[Case]:
    data = torch.arange(100, 120)  # token ids that show their own position
    cases = [
        ("two windows of 4", [0, 7], 4),
        ("one window", [3], 5),
        ("the last possible start (y ends at the final token)", [14], 5),
        ("block_size = 1", [0, 1, 2], 1),
        ("overlapping windows", [2, 3, 2], 6),
    ]
    return [Case(f"{name}: starts={s}, block_size={T}", (data, s, T), torch.stack(solution_shifted_batch(data, s, T)))
            for name, s, T in cases]


def check_shifted_batch(fn: Callable[[torch.Tensor, Sequence[int], int], tuple]) -> CheckResult:
    """``fn(data, starts, block_size)`` must return ``(x, y)`` with ``y`` shifted one token to the left.

    On a failure the expected and actual values are shown stacked: ``[0]`` is ``x``, ``[1]`` is ``y``.
    """
    return run_cases("shifted_batch", _stacked(fn), _batch_cases())


def _embed_cases() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 3, generator=g)  # (V=6, C=3)
    cases = [
        ("a single id", torch.tensor(4), w),
        ("a sequence (T,)", torch.tensor([0, 5, 2, 2]), w),
        ("a batch (B, T)", torch.tensor([[1, 2, 3], [3, 2, 1]]), w),
        ("every id once", torch.arange(6), w),
        ("a wider table (C = 8)", torch.tensor([0, 3]), torch.randn(4, 8, generator=g)),
    ]
    return [Case(name, (ids, weight), weight[ids]) for name, ids, weight in cases]


def check_one_hot_embed(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(ids, weight)`` must equal the row lookup ``weight[ids]`` (shape ``(..., C)``)."""
    return run_cases("one_hot_embed", fn, _embed_cases())
