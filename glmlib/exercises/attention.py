"""Checkers for the exercises of notebook 04 (attention).

Expected values come from PyTorch: ``torch.softmax``,
``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention``. The values
that common mistakes give are computed from the same references with the
mistake put into their inputs (``scale=1.0`` for a forgotten ``1/sqrt(d_k)``,
the negated mask for a flipped polarity, ``W_o = I`` for a forgotten output
projection, ...). The worked solutions live in the notebook, not here.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import attention as _attention
from ..i18n import _, translate
from .checking import N_, Case, CheckResult, Mistake, call_learner, failed, forbidden, in_case, passed, \
    require_callable
from .diagnosing import loops_in, run_diagnosed

NAN = float("nan")


def _randn(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------ exercise 1: softmax

def _naive(x: torch.Tensor) -> torch.Tensor:
    e = torch.exp(x)
    return e / e.sum(dim=-1, keepdim=True)


def _softmax_mistakes(x: torch.Tensor) -> list[Mistake]:
    whole = torch.exp(x - x.max())
    mistakes = [
        Mistake(_naive(x), _("exp overflows (or underflows) here and gives NaN: softmax is shift invariant, so "
                             "subtract each row's maximum before `torch.exp`")),
        Mistake(whole / whole.sum(), _("your result is normalised over the whole tensor: normalise each row, "
                                       "i.e. sum over the last axis (`dim=-1, keepdim=True`)")),
        Mistake(whole / whole.sum(dim=-1, keepdim=True),
                _("you subtracted the maximum of the whole tensor: rows far below it underflow to 0 / 0; "
                  "subtract each row's own maximum (`x.max(dim=-1, keepdim=True).values`)")),
    ]
    if x.dim() >= 2:
        first = torch.exp(x - x.max(dim=0, keepdim=True).values)
        mistakes.append(Mistake(first / first.sum(dim=0, keepdim=True),
                                _("your softmax runs over the first axis: it must run over the last one (`dim=-1`)")))
        row_max = x.max(dim=-1).values  # (..., ) without keepdim: broadcasts against the wrong axis
        if row_max.shape[-1:] == x.shape[-1:]:
            shifted = torch.exp(x - row_max)
            mistakes.append(Mistake(shifted / shifted.sum(dim=-1, keepdim=True),
                                    _("the row maxima broadcast along the wrong axis: keep the reduced axis "
                                      "with `keepdim=True` so that each row subtracts its own maximum")))
    return mistakes


SOFTMAX_ATOL = 1e-4
"""How close to ``torch.softmax`` a softmax must be: float32 rounding of stable formulations, with room."""


def check_softmax(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(x)`` must equal ``torch.softmax(x, dim=-1)``, also for huge logits and ``-inf``."""
    inf = float("inf")
    inputs = {
        _("one row"): torch.tensor([1.0, 2.0, 3.0]),
        _("square batch (3, 3)"): _randn(3, 3, seed=1, scale=3.0),
        _("batch of rows (2, 3, 4)"): _randn(2, 3, 4, seed=0),
        _("huge logits [1000, 1001, 1002]"): torch.tensor([1000.0, 1001.0, 1002.0]),
        _("very negative logits [-1000, -1001, -1002]"): torch.tensor([-1000.0, -1001.0, -1002.0]),
        _("rows far apart [[1000, 1001], [0, 1]]"): torch.tensor([[1000.0, 1001.0], [0.0, 1.0]]),
        _("masked entries (-inf)"): torch.tensor([[0.5, -inf, 1.5], [-inf, -inf, 2.0]]),
        _("a single entry"): torch.tensor([[7.0]]),
    }
    cases = [Case(name, (x.clone(),), torch.softmax(x, dim=-1), mistakes=_softmax_mistakes(x))
             for name, x in inputs.items()]
    hint = _("subtract the row maximum, exponentiate and divide by the row sum")
    shortcuts = forbidden(fn, [(torch, "softmax", "torch.softmax", hint),
                               (F, "softmax", "F.softmax", hint),
                               (torch.Tensor, "softmax", "Tensor.softmax", hint),
                               (torch.special, "softmax", "torch.special.softmax", hint),
                               (torch, "log_softmax", "torch.log_softmax", hint),
                               (F, "log_softmax", "F.log_softmax", hint),
                               (torch.Tensor, "log_softmax", "Tensor.log_softmax", hint)])
    # float32 tolerance: a stable formulation such as exp(x - logsumexp(x)) rounds logsumexp(x) to the
    # float32 grid, whose spacing near 1000 is 6.1e-5, so it may differ from torch.softmax by 3e-5
    result = run_diagnosed("softmax", fn, cases, atol=SOFTMAX_ATOL, shortcuts=shortcuts)
    if result.status == "fail" and "must match the size of tensor" in result.message:
        result.message += _(" (a reduction without `keepdim=True` drops its axis, so the result no longer "
                            "broadcasts against x row by row)")
    return result


# ------------------------------------------------------------ exercise 2: attention

def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
          scale: float | None = None) -> torch.Tensor:
    """PyTorch's own attention, with the batch axes of q, k, v and mask broadcast to one shape."""
    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2],
                                   *([] if mask is None else [mask.shape[:-2]]))
    q, k, v = (t.expand(*batch, *t.shape[-2:]) for t in (q, k, v))
    if mask is not None:
        mask = mask.expand(*batch, q.shape[-2], k.shape[-2])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


def _attention_mistakes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        mask: torch.Tensor | None) -> list[Mistake]:
    d_k, d_v, T_k = q.shape[-1], v.shape[-1], k.shape[-2]
    mistakes = [
        Mistake(_sdpa(q, k, v, mask, scale=1.0),
                _("the scores are not scaled: divide q k^T by sqrt(d_k) (the measurement of section 3 shows why)")),
        Mistake(_sdpa(q, k, v, mask, scale=1.0) / math.sqrt(d_k),
                _("you scaled after the softmax, a common mistake: dividing the weights by sqrt(d_k) leaves each "
                  "row summing to 1/sqrt(d_k) instead of 1, and the softmax still saturates. Divide the scores "
                  "q k^T by sqrt(d_k) *before* the softmax")),
        Mistake(_softmax_over_queries(q, k, v, mask),
                _("the softmax runs over the queries (dim=-2): each *query's* weights over the keys must sum to "
                  "1, so normalise along the keys, the last axis (`dim=-1`)")),
        Mistake(_sdpa(q, k, v, mask, scale=1 / d_k),
                _("the scores are divided by d_k: divide by its square root, sqrt(d_k)")),
        Mistake(_sdpa(q, k, v, mask, scale=math.sqrt(d_k)),
                _("the scores are multiplied by sqrt(d_k): divide by it instead")),
    ]
    if d_v != d_k:
        mistakes.append(Mistake(_sdpa(q, k, v, mask, scale=1 / math.sqrt(d_v)),
                                _("the scores are scaled by sqrt(d_v), the size of the values: use the size of the "
                                  "queries and keys, sqrt(d_k) = sqrt(q.shape[-1])")))
    if T_k != d_k:
        mistakes.append(Mistake(_sdpa(q, k, v, mask, scale=1 / math.sqrt(T_k)),
                                _("the scores are scaled by the square root of the number of keys: use the size of "
                                  "each query and key vector, sqrt(d_k) = sqrt(q.shape[-1])")))
    if mask is not None:
        mistakes.append(Mistake(_sdpa(q, k, v), _("the mask is ignored: every query sees every key, the future "
                                                  "included; fill the blocked scores with -inf before the softmax")))
        flipped = _sdpa(q, k, v, ~mask)
        fully_blocked = ~(~mask).expand(flipped.shape[:-1] + (k.shape[-2],)).any(-1)  # rows with no key left
        message = _("the mask polarity is flipped: you blocked the keys where the mask is True; True means "
                    "\"may attend\", so fill -inf where the mask is False (`~mask`)")
        mistakes.append(Mistake(flipped, message))
        mistakes.append(Mistake(flipped.masked_fill(fully_blocked[..., None], NAN), message))
        eye = torch.eye(T_k).expand(*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), T_k, T_k)
        unmasked_weights = _sdpa(q, k, eye)
        mistakes.append(Mistake((unmasked_weights * mask) @ v,
                                _("the mask is applied after the softmax: the blocked weights are zeroed but the "
                                  "rows no longer sum to 1; add -inf to the scores before the softmax instead")))
    return mistakes


def _softmax_over_queries(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                          mask: torch.Tensor | None) -> torch.Tensor:
    """Attention with the right scale and mask but the softmax over the queries (``dim=-2``)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-2) @ v


def _diagnose_attention(case: Case, got: torch.Tensor) -> str | None:
    """Recognise -inf written into the weights after the softmax: inf and NaN in the rows with a blocked key."""
    mask = case.kwargs.get("mask")
    if mask is None or torch.isfinite(got).all() or not torch.isfinite(case.expected).all():
        return None
    q, k, _v = case.args
    rows_with_a_block = (~mask).expand(*got.shape[:-1], k.shape[-2]).any(-1)  # (..., T_q)
    bad_rows = ~torch.isfinite(got).all(-1)
    if torch.equal(bad_rows, rows_with_a_block):
        return _("your output holds inf or NaN in exactly the rows that have a blocked key: did you write "
                 "-inf into the attention *weights*, once the softmax had run? -inf belongs in the scores, "
                 "before the softmax, where exp(-inf) = 0 gives a blocked key a weight of exactly 0; in the "
                 "weights it multiplies the values into inf and NaN")
    return _("your output holds inf or NaN: a -inf reached the weights or the values; fill blocked *scores* "
             "with -inf before the softmax, and check that every row keeps at least one key")


def _k_dot_T(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """What ``k.T`` gives on a batch: it reverses every axis, the batch axis included."""
    return torch.softmax(q @ k.permute(2, 1, 0) / math.sqrt(q.shape[-1]), dim=-1) @ v


def check_attention(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """``fn(q, k, v, mask=None)`` must return the scaled dot-product attention output."""
    causal4 = torch.ones(4, 4, dtype=torch.bool).tril()
    causal5 = torch.ones(5, 5, dtype=torch.bool).tril()
    padded = causal5 & (torch.arange(5) < torch.tensor([[3], [5]]))[:, None, :]  # (2, 5, 5)
    inputs = {
        _("one query, one key (2-D)"): (_randn(1, 3, seed=1), _randn(1, 3, seed=2), _randn(1, 2, seed=3), None),
        _("unmasked (T=4, d_k=8)"): (_randn(4, 8, seed=4), _randn(4, 8, seed=5), _randn(4, 8, seed=6), None),
        _("causal mask (T=4, d_k=8)"): (_randn(4, 8, seed=7, scale=2), _randn(4, 8, seed=8, scale=2),
                                     _randn(4, 8, seed=9), causal4),
        _("3 queries, 5 keys, d_v=2 != d_k=6"): (_randn(3, 6, seed=13), _randn(5, 6, seed=14),
                                              _randn(5, 2, seed=15), None),
        _("a batch of 4 sequences, T=4, d_k=4"): (_randn(4, 4, 4, seed=19), _randn(4, 4, 4, seed=20),
                                               _randn(4, 4, 4, seed=21), None),
        _("batched heads (2, 3, 4, 16), causal"): (_randn(2, 3, 4, 16, seed=10), _randn(2, 3, 4, 16, seed=11),
                                                _randn(2, 3, 4, 16, seed=12), causal4),
        _("causal and padding mask (2, 5, 5)"): (_randn(2, 5, 8, seed=22), _randn(2, 5, 8, seed=23),
                                              _randn(2, 5, 3, seed=24), padded),
        _("large d_k=256 (scaling matters)"): (_randn(3, 256, seed=16), _randn(3, 256, seed=17),
                                            _randn(3, 4, seed=18), None),
    }
    cases = []
    for name, (q, k, v, m) in inputs.items():
        mistakes = _attention_mistakes(q, k, v, m)
        if q.dim() == 3 and q.shape[0] == q.shape[-1]:
            mistakes.append(Mistake(_k_dot_T(q, k, v),
                                    _("on a batch, `k.T` reverses every axis, the batch axis included: transpose "
                                      "only the last two, `k.transpose(-2, -1)` (or `k.mT`)")))
        cases.append(Case(name, (q.clone(), k.clone(), v.clone()), _sdpa(q, k, v, m),
                          kwargs={"mask": None if m is None else m.clone()}, mistakes=mistakes))
    hint = _("compute the scores, mask them, softmax, and mix the values")
    shortcuts = forbidden(fn, [(F, "scaled_dot_product_attention", "F.scaled_dot_product_attention", hint),
                               (_attention, "scaled_dot_product_attention",
                                "glmlib.attention.scaled_dot_product_attention", hint)])
    result = run_diagnosed("attention", fn, cases, _diagnose_attention, shortcuts=shortcuts)
    if result.status == "fail" and "Dimension out of range" in result.message:
        result.message += _(" (the inputs may have any number of leading axes, none included: count axes from "
                           "the end, e.g. `k.transpose(-2, -1)`)")
    return result


# ------------------------------------------------------------ exercise 3: multi-head attention

def _torch_mha(x: torch.Tensor, W_q: torch.Tensor, W_k: torch.Tensor, W_v: torch.Tensor, W_o: torch.Tensor,
               n_head: int, causal: bool = True) -> torch.Tensor:
    """PyTorch's ``nn.MultiheadAttention`` with these weights (acting as ``x @ W``) and no biases."""
    C = x.shape[-1]
    with torch.random.fork_rng(devices=[]):  # its random initialisation must not move the learner's seed
        ref = nn.MultiheadAttention(C, n_head, bias=False, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([W_q.T, W_k.T, W_v.T]))
        ref.out_proj.weight.copy_(W_o.T)
        blocked = ~torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril() if causal else None
        out, _weights = ref(x, x, x, attn_mask=blocked, need_weights=False)  # its bool mask: True = blocked
    return out


def _scrambled_heads(x, W_q, W_k, W_v, W_o, n_head: int, split_right: bool, merge_right: bool) -> torch.Tensor:
    """A wrong multi-head attention: ``reshape`` straight to ``(B, H, T, D)`` and/or back, without transposing."""
    shape = x.shape  # (B, T, C)
    per_head = (shape[0], n_head, shape[1], shape[2] // n_head)  # (B, H, T, D)
    if split_right:  # heads cut out of the channels and stacked: the right split, written differently
        q, k, v = (torch.stack((x @ W).chunk(n_head, dim=-1), dim=1) for W in (W_q, W_k, W_v))
    else:
        q, k, v = ((x @ W).reshape(per_head) for W in (W_q, W_k, W_v))
    heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
    concat = torch.cat(heads.unbind(dim=1), dim=-1) if merge_right else heads.reshape(shape)
    return concat @ W_o


def _masked_heads(x, W_q, W_k, W_v, W_o, n_head: int, allowed: torch.Tensor, nan_rows: bool) -> torch.Tensor:
    """Multi-head attention split and merged right, but with the bool mask ``allowed`` (T, T) instead of the
    causal one; a query with no key left gets NaN (a hand-written softmax) or 0 (PyTorch's SDPA)."""
    B, T, C = x.shape
    q, k, v = ((x @ W).view(B, T, n_head, C // n_head).transpose(1, 2) for W in (W_q, W_k, W_v))
    heads = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, H, T, D)
    if nan_rows:
        heads = heads.masked_fill(~allowed.any(-1)[:, None], NAN)
    return heads.transpose(1, 2).reshape(B, T, C) @ W_o


def _heads_not_transposed(x, W_q, W_k, W_v, W_o, n_head: int, merge_transposed: bool) -> torch.Tensor:
    """A wrong multi-head attention: ``view(B, T, H, D)`` without ``transpose(1, 2)``, so that attention runs
    over the heads of each position (T acts as a batch axis, H as the sequence)."""
    B, T, C = x.shape
    q, k, v = ((x @ W).view(B, T, n_head, C // n_head) for W in (W_q, W_k, W_v))
    heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, T, H, D)
    if merge_transposed:
        heads = heads.transpose(1, 2)
    return heads.reshape(B, T, C) @ W_o


# Shared by several mistakes; translated when the cases are built.
_NO_TRANSPOSE = N_("the heads were never moved in front of the time axis: on `(B, T, H, D)` attention runs over "
                 "the *heads* of each position, not over the positions. After `view(B, T, H, D)`, "
                 "`transpose(1, 2)` to `(B, H, T, D)` before attending, and back before merging")
_BLOCKS_PAST = N_("your mask blocks the past and lets each query see the future (keys j >= i), a common mistake: "
                "the causal mask allows keys j <= i, the lower triangle (`tril`, True = may attend), or "
                "`is_causal=True`")
_ONLY_FUTURE = N_("your mask lets each query see only the future (keys j > i): `triu(diagonal=1)` marks the "
                "*blocked* keys (the opposite polarity, seen in notebook 03), but SDPA's True means *may attend*. "
                "Use the lower triangle `tril()` (or `is_causal=True`); the last query, with no key left, gives "
                "NaN or 0")
_NO_DIAGONAL = N_("your mask blocks the diagonal: each query must see itself too (keys j <= i, `tril()`, not "
                "`tril(-1)`); query 0, with no key left, gives NaN or 0")


def _diagnose_multi_head(case: Case, got: torch.Tensor) -> str | None:
    if torch.isnan(got).any():
        t = int(torch.isnan(got).any(-1).nonzero()[0][-1])
        return _("position {t} of your output is NaN: a query whose every key is blocked has nothing to "
                 "attend to. Is your mask blocking the past or the diagonal? Query i may see keys 0..i", t=t)
    return None


def check_multi_head_attention(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """``fn(x, W_q, W_k, W_v, W_o, n_head)`` must equal ``nn.MultiheadAttention`` (causal, no biases)."""
    shapes = {"B=1, T=3, C=4, H=2": (1, 3, 4, 2), "B=2, T=5, C=12, H=3": (2, 5, 12, 3),
              _("one head: B=2, T=3, C=6, H=1"): (2, 3, 6, 1),
              _("one channel per head: B=1, T=4, C=4, H=4"): (1, 4, 4, 4)}
    cases = []
    for seed, (name, (B, T, C, H)) in enumerate(shapes.items()):
        g = torch.Generator().manual_seed(100 + seed)
        x = torch.randn(B, T, C, generator=g)
        W_q, W_k, W_v, W_o = (torch.randn(C, C, generator=g) for _n in range(4))
        D = C // H
        ws = (W_q, W_k, W_v, W_o)
        mistakes = [
            Mistake(_torch_mha(x, W_q * math.sqrt(D / C), W_k, W_v, W_o, H),
                    _("the scores are scaled by sqrt(C) = sqrt({C}): each head's scores are divided by the square "
                      "root of the head size, sqrt(D) = sqrt(C / H) = sqrt({D})", C=C, D=D)),
            Mistake(_torch_mha(x, W_q * math.sqrt(D), W_k, W_v, W_o, H),
                    _("the scores are not scaled: divide each head's scores by sqrt(D), D = C // n_head")),
            Mistake(_torch_mha(x, *ws, H, causal=False),
                    _("no causal mask: every query sees the future; pass `is_causal=True` or a causal mask")),
            Mistake(_torch_mha(x, W_q, W_k, W_v, torch.eye(C), H),
                    _("W_o is missing: after concatenating the heads, mix them with `@ W_o`")),
            Mistake(_torch_mha(x, W_q.T, W_k.T, W_v.T, W_o.T, H),
                    _("the weights are used transposed: here a projection is `x @ W` (nn.Linear would store W.T)")),
        ]
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        for allowed, message in ((j >= i, _BLOCKS_PAST), (j > i, _ONLY_FUTURE), (j < i, _NO_DIAGONAL)):
            mistakes += [Mistake(_masked_heads(x, *ws, H, allowed, nan_rows), translate(message))
                         for nan_rows in (False, True)]
        mistakes += [Mistake(_heads_not_transposed(x, *ws, H, merge), translate(_NO_TRANSPOSE))
                     for merge in (False, True)]
        if 1 < H:
            mistakes += [
                Mistake(_scrambled_heads(x, *ws, H, split_right=False, merge_right=False),
                        _("right shapes, but the heads mix positions: `reshape(B, H, T, D)` cuts the memory in the "
                          "wrong order; split the channels, `view(B, T, H, D)`, then swap T and H with "
                          "`transpose(1, 2)` (and undo both to merge)")),
                Mistake(_scrambled_heads(x, *ws, H, split_right=False, merge_right=True),
                        _("the merge is right but the split mixes positions: `reshape(B, H, T, D)` cuts the memory "
                          "in the wrong order; split the channels, `view(B, T, H, D)`, then `transpose(1, 2)`")),
                Mistake(_scrambled_heads(x, *ws, H, split_right=True, merge_right=False),
                        _("the split is right but the merge is not: `(B, H, T, D)` must go back to `(B, T, H, D)` "
                          "with `transpose(1, 2)` before the reshape to `(B, T, C)`")),
            ]
        cases.append(Case(name, (x.clone(), *(w.clone() for w in ws), H), _torch_mha(x, *ws, H),
                          mistakes=mistakes))
    loop = loops_in(fn) if callable(fn) else None
    if loop:
        return failed("multi_head_attention", _("your code uses {loop}: split all heads at once with a reshape "
                                                "and a transpose, attend in every head in one batched call, merge",
                                                loop=loop))
    hint = _("split with view/reshape and transpose, attend (your `attention` or F.scaled_dot_product_attention), "
             "merge")
    shortcuts = forbidden(fn, [(nn, "MultiheadAttention", "nn.MultiheadAttention", hint),
                               (F, "multi_head_attention_forward", "F.multi_head_attention_forward", hint),
                               (_attention, "MultiHeadAttention", "glmlib.attention.MultiHeadAttention", hint)])
    return run_diagnosed("multi_head_attention", fn, cases, _diagnose_multi_head, atol=1e-4, shortcuts=shortcuts)


# ------------------------------------------------------------ exercise 4: a previous-character head

PREVIOUS_WEIGHT = 0.95


def _text_embedding(T: int, V: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random character ids (T,) and their embeddings ``[one_hot(position), one_hot(character)]`` (T, T + V)."""
    ids = torch.randint(V, (T,), generator=torch.Generator().manual_seed(seed))
    return ids, torch.cat([torch.eye(T), F.one_hot(ids, V).float()], dim=-1)


def _matrices(got: Any, T: int, V: int) -> tuple[tuple[torch.Tensor, ...] | None, str | None]:
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return None, _("return three matrices, (W_q, W_k, W_v); got {kind}", kind=type(got).__name__)
    if not all(isinstance(w, torch.Tensor) for w in got):
        return None, _("each of W_q, W_k, W_v must be a tensor")
    W_q, W_k, W_v = (w.float() for w in got)
    C = T + V
    if W_q.dim() != 2 or W_k.dim() != 2 or W_q.shape[0] != C or W_k.shape[0] != C:
        return None, _("W_q and W_k must be matrices with T + V = {C} rows (one per input channel); "
                       "got shapes {q_shape} and {k_shape}", C=C, q_shape=tuple(W_q.shape), k_shape=tuple(W_k.shape))
    if W_q.shape[1] != W_k.shape[1]:
        return None, _("W_q and W_k need the same number of columns d, got {q_columns} and {k_columns}",
                       q_columns=W_q.shape[1], k_columns=W_k.shape[1])
    if tuple(W_v.shape) != (C, V):
        return None, _("W_v must have shape (T + V, V) = {shape}, got {got}", shape=(C, V), got=tuple(W_v.shape))
    return (W_q, W_k, W_v), None


def _floor4(w: float) -> str:
    """``w`` rounded *down* to four decimals, so that a weight just below the bar never prints as the bar."""
    return f"{math.floor(w * 1e4) / 1e4:.4f}"


def _previous_head_verdict(got: Any, T: int, V: int, seed: int) -> str | None:
    """``None`` when the head attends to the previous position and copies its character, else why not."""
    matrices, problem = _matrices(got, T, V)
    if problem:
        return problem
    W_q, W_k, W_v = matrices
    ids, x = _text_embedding(T, V, seed)
    q, k, v = x @ W_q, x @ W_k, x @ W_v  # (T, d), (T, d), (T, V)
    weights = F.scaled_dot_product_attention(q, k, torch.eye(T), is_causal=True)  # (T, T): v = I gives the weights
    if not torch.isfinite(weights).all():
        return _("the attention weights contain NaN or inf: your scores overflow; a scale of a few tens is plenty")
    on_previous = weights[torch.arange(1, T), torch.arange(T - 1)]  # (T - 1,): w[i, i - 1]
    low = (on_previous < PREVIOUS_WEIGHT).nonzero()
    if len(low):
        i = int(low[0]) + 1
        scores = q @ k.T  # (T, T), unmasked
        top = int(weights[i].argmax())
        if i + 1 < T and int(scores[i].argmax()) == i + 1 and scores[i, i + 1] > scores[i, :i + 1].max():
            return _("query {i} scores the NEXT position ({next}) highest, which the causal mask blocks, so its "
                     "weight spreads over the keys it may see: shift the keys the other way", i=i, next=i + 1)
        if torch.allclose(weights[i, :i + 1], weights[i, :i + 1].mean().expand(i + 1), atol=1e-6):
            return _("query {i} spreads its weight evenly over keys 0..{i}: the scores do not depend on the "
                     "position; W_q and W_k must compare the position channels (the first T = {T} of x)", i=i, T=T)
        if top == i:
            return _("query {i} attends to itself, the current position (weight {weight:.2f}), "
                     "not to the previous one: key j must match the query of position j + 1", i=i,
                     weight=weights[i, i].item())
        if top == i - 1:
            return _("the previous position gets the most weight, but only {weight} at query {i} (T = {T}), below "
                     "the {required} required: the scores are too close together; scale W_q or W_k up. Remember "
                     "the 1/sqrt(d) and that query i has i other keys competing",
                     weight=_floor4(on_previous[i - 1].item()), i=i, T=T, required=PREVIOUS_WEIGHT)
        return _("query {i} puts most of its weight on key {top}, not on the previous position {previous}", i=i,
                 top=top, previous=i - 1)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (T, V)
    wanted = F.one_hot(torch.cat([ids[:1], ids[:-1]]), V).float()  # the previous character (itself at 0)
    if not torch.isfinite(out).all() or (out - wanted).abs().max() > 0.1:
        return _("the weights are right, but the output at position i is not the one-hot of the character at "
                "i - 1: W_v must copy the character channels of x (its last V) into the V outputs")
    return None


def check_previous_char_head(fn: Callable[[int, int], Any]) -> CheckResult:
    """``fn(T, V)`` must return ``(W_q, W_k, W_v)`` for a head that attends to the previous character."""
    exercise = "previous_char_head"
    problem = require_callable(exercise, fn)
    if problem is not None:
        return problem
    sizes = [(8, 5), (2, 3), (32, 65), (64, 65)]
    for seed, (T, V) in enumerate(sizes):
        case = Case(f"T={T}, V={V}", (T, V), None)
        got, early = call_learner(exercise, fn, case)
        if early is not None:
            return early
        try:
            verdict = _previous_head_verdict(got, T, V, seed)
        except Exception as err:  # a shape the checks above did not foresee: report, never crash
            verdict = _("the head could not be computed with your matrices: {error}: {detail}",
                        error=type(err).__name__, detail=err)
        if verdict:
            return failed(exercise, in_case(case.name, verdict))
    return passed(exercise, _("all {n} cases pass: at least {required} of every query's weight is on the previous "
                              "position, and the output is the previous character", n=len(sizes),
                              required=PREVIOUS_WEIGHT))
