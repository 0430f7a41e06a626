"""Attention masks (notebook 03).

Convention (PyTorch SDPA's): a boolean mask is ``True`` where a query (row)
may attend to a key (column). An additive mask holds ``0`` where attention is
allowed and ``-inf`` where it is blocked; it is added to the scores before the
softmax.
"""
from __future__ import annotations

from typing import Sequence

import torch


def _check_length(T: int, name: str = "T") -> None:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"{name} must be a positive int, got {T!r}")


def causal_mask(T: int, device: str | torch.device | None = None) -> torch.Tensor:
    """Bool ``(T, T)``: query i may attend key j exactly when ``j <= i``."""
    _check_length(T)
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: Sequence[int] | torch.Tensor, T: int) -> torch.Tensor:
    """Bool ``(B, 1, T)``: key j of sequence b is real (``True``) when ``j < lengths[b]``.

    The singleton query axis broadcasts over every query row, so padded keys
    are hidden from all queries.
    """
    _check_length(T)
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.dtype.is_floating_point:
        raise ValueError(f"lengths must be a 1-D sequence of ints, got {lengths.tolist()!r}")
    if (lengths < 1).any() or (lengths > T).any():
        raise ValueError(f"every length must be in [1, {T}], got {lengths.tolist()}")
    keys = torch.arange(T)
    return (keys[None, :] < lengths[:, None])[:, None, :]


def combine(*masks: torch.Tensor) -> torch.Tensor:
    """Allowed only where every boolean mask allows (logical AND, broadcast)."""
    if not masks:
        raise ValueError("combine needs at least one mask")
    out = masks[0]
    for m in masks[1:]:
        out = out & m
    return out


def to_additive(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Boolean mask -> additive: ``0.0`` where allowed, ``-inf`` where blocked."""
    if mask.dtype != torch.bool:
        raise TypeError(f"to_additive expects a bool mask, got dtype {mask.dtype}")
    zeros = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return zeros.masked_fill(~mask, float("-inf"))
