"""Scaled dot-product attention and multi-head attention (notebook 04)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _as_additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))
    return mask.to(dtype)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d_k) + mask) v``, written out, returning the weights.

    Shapes: ``q (..., T_q, D)``, ``k (..., T_k, D)``, ``v (..., T_k, D_v)``;
    ``mask`` broadcasts to ``(..., T_q, T_k)``: bool (``True`` = may attend)
    or additive float (``0`` / ``-inf``). A query whose keys are all blocked
    gets all-zero weights (and output) instead of NaN.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k need the same last dim, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v need the same length, got {k.shape[-2]} and {v.shape[-2]}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        scores = scores + _as_additive(mask, scores.dtype)
    weights = torch.softmax(scores, dim=-1)
    weights = torch.nan_to_num(weights, nan=0.0)  # rows with every key blocked
    return weights @ v, weights


class KVCache:
    """Keys and values seen so far, one entry per layer: ``(B, H, T, D)`` each."""

    def __init__(self) -> None:
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return next(iter(self.keys.values())).shape[-2] if self.keys else 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's ``k, v`` for ``layer`` and return the full history."""
        if layer in self.keys:
            k = torch.cat([self.keys[layer], k], dim=-2)
            v = torch.cat([self.values[layer], v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def clear(self) -> None:
        self.keys.clear()
        self.values.clear()


class MultiHeadAttention(nn.Module):
    """Self-attention with ``n_head`` heads: project, split, attend, concat, ``W_o``.

    The fused input projection ``qkv`` stacks ``W_q, W_k, W_v`` as rows, the
    same layout as ``nn.MultiheadAttention.in_proj_weight``.
    """

    def __init__(self, n_embd: int, n_head: int, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.n_embd, self.n_head = n_embd, n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)
        self.last_weights: torch.Tensor | None = None

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        B, T, C = t.shape
        return t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        kv_cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        """``x (B, T, C) -> (B, T, C)``. With ``need_weights`` the weights
        ``(B, H, T, T_k)`` are kept in ``self.last_weights``.

        ``is_causal`` masks the future; with a cache, query i sits at absolute
        position ``past + i`` and may see every key up to there.
        """
        B, T, C = x.shape
        q, k, v = (self._split(t) for t in self.qkv(x).split(C, dim=2))
        past = 0
        if kv_cache is not None:
            past = kv_cache.keys[layer].shape[-2] if layer in kv_cache.keys else 0
            k, v = kv_cache.update(layer, k, v)
        dropout_p = self.dropout if (self.training and not need_weights) else 0.0
        if not need_weights and mask is None and (not is_causal or T == 1):
            # no mask, or one new query that may see the whole cache
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        elif not need_weights and mask is None and past == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        else:
            if is_causal:
                allowed = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
                mask = allowed if mask is None else mask & allowed
            if need_weights:
                y, w = scaled_dot_product_attention(q, k, v, mask)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        self.last_weights = w.detach() if need_weights else None  # (B, H, T, T_k)
        y = y.transpose(1, 2).reshape(B, T, C)  # concat heads
        return self.resid_dropout(self.proj(y))
