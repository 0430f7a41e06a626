"""Turning next-token logits into a choice (notebook 07).

The pipeline runs in Hugging Face ``generate``'s order: temperature, then
top-k, then top-p. Removed tokens get logit ``-inf`` (probability exactly 0).
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import torch

NEG_INF = float("-inf")


def check_logits(logits: torch.Tensor) -> None:
    """Logits must be a float tensor with no NaN or ``+inf`` and at least one finite value per row."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        kind = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"logits must be a floating-point tensor, got {kind}")
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits need a vocabulary axis, got shape {tuple(logits.shape)}")
    if torch.isfinite(logits).all():  # the usual case, settled in one pass
        return
    if torch.isnan(logits).any():
        raise ValueError("logits contain NaN; allowed are finite values and -inf")
    if torch.isposinf(logits).any():
        raise ValueError("logits contain +inf; allowed are finite values and -inf")
    if torch.isneginf(logits).all(dim=-1).any():
        raise ValueError("a row of logits is entirely -inf: no token can be chosen")


def _check_temperature(temperature: float) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, Real):
        raise TypeError(f"temperature must be a number >= 0, got {temperature!r}")
    if math.isnan(temperature) or temperature < 0 or math.isinf(temperature):
        raise ValueError(f"temperature must be >= 0 and finite (0 means greedy), got {temperature!r}")
    return float(temperature)


def _check_top_k(k: int | None) -> int | None:
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, Integral):
        raise TypeError(f"top_k must be an int >= 1 or None, got {k!r}")
    if k < 1:
        raise ValueError(f"top_k must be >= 1 (or None for off), got {k!r}")
    return int(k)


def _check_top_p(p: float | None) -> float | None:
    if p is None:
        return None
    if isinstance(p, bool) or not isinstance(p, Real):
        raise TypeError(f"top_p must be a number in (0, 1] or None, got {p!r}")
    if not 0.0 < p <= 1.0:  # also rejects NaN
        raise ValueError(f"top_p must be in (0, 1] (or None for off), got {p!r}")
    return float(p)


def greedy_filter(logits: torch.Tensor) -> torch.Tensor:
    """Keep only the most likely token (the first one on a tie)."""
    best = logits.argmax(dim=-1, keepdim=True)
    out = torch.full_like(logits, NEG_INF)
    return out.scatter(-1, best, logits.gather(-1, best))


def _temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    if temperature == 0.0:
        return greedy_filter(logits)
    scaled = logits / temperature
    overflow = (torch.isinf(scaled) & torch.isfinite(logits)).any(dim=-1, keepdim=True)  # (..., 1)
    if overflow.any():  # so small a T that z / T overflows: take its limit, the top logits equally likely
        top = logits.amax(dim=-1, keepdim=True)
        limit = torch.zeros_like(logits).masked_fill(logits < top, NEG_INF)
        scaled = torch.where(overflow, limit, scaled)
    return scaled


def _top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    if k is None or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, NEG_INF)


def _top_p(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    if p is None or p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_above = torch.cumsum(probs, dim=-1) - probs  # probability ranked above each token
    remove_sorted = mass_above >= p
    remove_sorted[..., 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, NEG_INF)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by ``T``: ``T < 1`` sharpens, ``T > 1`` flattens, ``T == 0`` is greedy."""
    temperature = _check_temperature(temperature)
    check_logits(logits)
    return _temperature(logits, temperature)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep every token whose logit is >= the k-th largest (ties at the boundary kept)."""
    k = _check_top_k(k)
    check_logits(logits)
    return _top_k(logits, k)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most probable tokens whose total probability is >= p.

    A token is kept when the probability of the tokens ranked above it is
    still below ``p``; so the most probable token is always kept.
    """
    p = _check_top_p(p)
    check_logits(logits)
    return _top_p(logits, p)


def warp(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Temperature, then top-k, then top-p. Returns new logits (``-inf`` = removed)."""
    temperature = _check_temperature(temperature)
    top_k, top_p = _check_top_k(top_k), _check_top_p(top_p)
    check_logits(logits)  # once: each step below keeps the logits valid
    return _top_p(_top_k(_temperature(logits, temperature), top_k), top_p)


def sample(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row of ``logits (..., V)``; returns shape ``(...)``.

    ``temperature == 0`` returns the argmax without drawing a random number.
    """
    warped = warp(logits, temperature, top_k, top_p)
    if temperature == 0:
        return warped.argmax(dim=-1)
    probs = torch.softmax(warped, dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])
    ids = torch.multinomial(flat, 1, generator=generator)
    return ids.reshape(probs.shape[:-1])


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of ``softmax(logits)``; removed tokens contribute 0."""
    logp = torch.log_softmax(logits, dim=-1)
    p = logp.exp()
    return -(p * torch.where(p > 0, logp, torch.zeros_like(logp))).sum(dim=-1)
