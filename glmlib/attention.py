"""Scaled dot-product attention and multi-head attention (notebook 04)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def check_mask(mask: torch.Tensor) -> None:
    """A mask must be bool (``True`` = may attend) or additive float (``0`` / ``-inf``).

    An integer 0/1 mask is refused: added to the scores it would block nothing,
    and reading 1 as "may attend" would be a guess.
    """
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a tensor, got {type(mask).__name__}")
    if mask.dtype == torch.bool:
        return
    if not mask.dtype.is_floating_point:
        raise TypeError(f"mask must be bool (True = may attend) or an additive float mask "
                        f"(0 = allowed, -inf = blocked), got dtype {mask.dtype}; for a 0/1 mask "
                        f"where 1 means 'may attend', pass mask.bool()")
    if torch.isnan(mask).any() or (mask == float("inf")).any():
        raise ValueError("an additive mask may hold 0, finite biases and -inf, not NaN or +inf")


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
    if mask is not None:
        check_mask(mask)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        scores = scores + _as_additive(mask, scores.dtype)
    weights = torch.softmax(scores, dim=-1)
    weights = torch.nan_to_num(weights, nan=0.0)  # rows with every key blocked
    return weights @ v, weights


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout``, skipped outright when it would do nothing (inference, ``p == 0``)."""
    return F.dropout(x, p, training=True) if training and p > 0 else x


class KVCache:
    """Keys and values seen so far, per layer; :meth:`update` returns them as ``(B, H, T, D)``.

    Each layer's history lives in a buffer with spare room that doubles when
    full, so appending a token writes it in place instead of copying every
    earlier key and value into a new tensor.
    """

    def __init__(self) -> None:
        self._buffers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._lengths: dict[int, int] = {}

    def __len__(self) -> int:
        """Tokens cached so far (in layer 0; all layers agree between forward passes)."""
        return self._lengths.get(0, 0)

    def length(self, layer: int) -> int:
        """Tokens cached so far in ``layer``."""
        return self._lengths.get(layer, 0)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's ``k, v (B, H, T_new, D)`` for ``layer``; return the whole history."""
        old, new = self.length(layer), self.length(layer) + k.shape[-2]
        if layer not in self._buffers or new > self._buffers[layer][0].shape[-2]:
            room = max(new, 2 * old, 16)
            grown = tuple(t.new_empty(*t.shape[:-2], room, t.shape[-1]) for t in (k, v))
            if old:
                for g, b in zip(grown, self._buffers[layer]):
                    g[..., :old, :] = b[..., :old, :]
            self._buffers[layer] = grown
        keys, values = self._buffers[layer]
        keys[..., old:new, :] = k
        values[..., old:new, :] = v
        self._lengths[layer] = new
        return keys[..., :new, :], values[..., :new, :]

    def clear(self) -> None:
        self._buffers.clear()
        self._lengths.clear()


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
        self.last_weights: torch.Tensor | None = None


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
        if mask is not None:
            check_mask(mask)
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, D)
        past = 0
        if kv_cache is not None:
            past = kv_cache.length(layer)
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
                if mask is None or mask.dtype == torch.bool:
                    mask = allowed if mask is None else mask & allowed
                else:  # additive: add -inf where the future is
                    mask = mask + _as_additive(allowed, mask.dtype)
            if need_weights:
                y, w = scaled_dot_product_attention(q, k, v, mask)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        self.last_weights = w.detach() if need_weights else None  # (B, H, T, T_k)
        y = y.transpose(1, 2).reshape(B, T, C)  # concat heads
        return dropout(self.proj(y), self.dropout, self.training)
