"""Checkers for notebook 00 (welcome): shape bookkeeping and a causal mask row."""
from __future__ import annotations

from typing import Callable

import torch

from ..masks import causal_mask
from .attention import heads_by_splitting, solution_split_heads  # noqa: F401 (notebook 00 shows it)
from .checking import Case, CheckResult, run_cases


def solution_causal_row(i: int, T: int) -> torch.Tensor:
    """Bool ``(T,)``: which keys query ``i`` may attend to (``True`` for ``j <= i``)."""
    return torch.arange(T) <= i


def _split_cases() -> list[Case]:
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)  # (B=2, T=3, C=8)
    single = torch.arange(1 * 1 * 6, dtype=torch.float32).view(1, 1, 6)
    wide = torch.arange(1 * 4 * 4, dtype=torch.float32).view(1, 4, 4)
    cases = [
        ("B=2, T=3, C=8, H=2", x, 2),
        ("one head (H=1): D = C", x, 1),
        ("one channel per head (H=C)", wide, 4),
        ("B=1, T=1, C=6, H=3", single, 3),
    ]
    return [Case(name, (t, h), heads_by_splitting(t, h)) for name, t, h in cases]


def check_split_heads(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """``fn(x, n_head)`` must turn ``(B, T, C)`` into ``(B, H, T, D)``, heads taking consecutive channels."""
    return run_cases("split_heads", fn, _split_cases())


def _row_cases() -> list[Case]:
    cases = [("query 0 of 4 (only itself)", 0, 4), ("query 2 of 5", 2, 5),
             ("last query of 4 (sees everything)", 3, 4), ("T = 1", 0, 1), ("query 5 of 8", 5, 8)]
    return [Case(name, (i, T), causal_mask(T)[i]) for name, i, T in cases]


def _bool_only(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Wrap ``fn`` so a non-bool answer is reported instead of silently converted."""
    def wrapped(*args: object) -> torch.Tensor:
        out = fn(*args)
        if isinstance(out, torch.Tensor) and out.dtype != torch.bool:
            raise TypeError(f"return a bool tensor (True = may attend), got dtype {out.dtype}")
        return out
    return wrapped


def check_causal_row(fn: Callable[[int, int], torch.Tensor]) -> CheckResult:
    """``fn(i, T)`` must return the bool row ``(T,)`` of the causal mask for query ``i``."""
    return run_cases("causal_row", _bool_only(fn), _row_cases())
