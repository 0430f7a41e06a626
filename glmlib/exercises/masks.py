"""Checkers for the exercises of notebook 03 (masks).

Masks follow the course convention: a boolean mask is ``True`` where a query
(row) may attend to a key (column); an additive mask holds ``0.0`` where
attention is allowed and ``-inf`` where it is blocked.

Expected values: the sliding-window masks are written out by hand below, the
padded masks come from ``glmlib.masks`` (tested against PyTorch), and causal
averages from PyTorch's ``F.scaled_dot_product_attention`` with all scores
equal. The worked solutions live in the notebook, not here.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .. import attention as _attention
from .. import masks as _masks
from ..i18n import _
from .checking import Case, CheckResult, failed, forbidden
from .diagnosing import loops_in, run_diagnosed


def _no_glmlib_masks(fn: object) -> list:
    """Trap every function of ``glmlib.masks``, also under names the notebook imported."""
    hint = _("build the mask from `torch.arange`, comparisons, `torch.tril`/`torch.triu` or `torch.where` "
             "(your own from-scratch functions of sections 2 and 3 are fine)")
    return forbidden(fn, [(_masks, name, f"glmlib.masks.{name}", hint)
                          for name in ("causal_mask", "padding_mask", "combine", "to_additive")])


def _picture(rows: Sequence[str]) -> torch.Tensor:
    """``["10", "11"]`` -> the bool mask it draws (1 = may attend)."""
    return torch.tensor([[c == "1" for c in row] for row in rows])


# ------------------------------------------------------------ exercise 1

# Worked out by hand: row i (query) allows the keys i - window + 1 .. i that exist.
_LOCAL_MASKS = {
    (5, 2): ["10000",
             "11000",
             "01100",
             "00110",
             "00011"],
    (6, 3): ["100000",
             "110000",
             "111000",
             "011100",
             "001110",
             "000111"],
    (4, 1): ["1000",
             "0100",
             "0010",
             "0001"],
    (3, 5): ["100",
             "110",
             "111"],
    (1, 1): ["1"],
    (7, 4): ["1000000",
             "1100000",
             "1110000",
             "1111000",
             "0111100",
             "0011110",
             "0001111"],
}


def _diagnose_local(case: Case, got: torch.Tensor) -> str | None:
    expected: torch.Tensor = case.expected
    if got.dtype != torch.bool:
        return None
    T, window = case.args
    future = got & ~torch.ones(T, T, dtype=torch.bool).tril()
    if future.any():
        i, j = (int(a) for a in future.nonzero()[0])
        return _("row {i} allows key {j} > {i}: is the mask letting queries see the future? "
                 "(rows are queries, columns keys; a query may only look back)", i=i, j=j)
    if not got.diagonal().all():
        i = int((~got.diagonal()).nonzero()[0])
        return _("the diagonal is blocked at row {i}: a query must be allowed to see itself (j = i)", i=i)
    counts, wanted = got.sum(-1), expected.sum(-1)
    if torch.equal(got, torch.ones(T, T, dtype=torch.bool).tril()):
        return _("this is the plain causal mask: every query sees its whole past, but with window={window} "
                 "query i may only see the {window} most recent keys (itself included)", window=window)
    wrong = (counts != wanted).nonzero()
    if len(wrong):
        i = int(wrong[0])
        return _("row {i} allows {got} keys, expected {wanted}: with window={window} query i sees "
                 "min(i + 1, window) keys, itself included (an off-by-one in the window?)", i=i,
                 got=int(counts[i]), wanted=int(wanted[i]), window=window)
    return None


def check_local_causal_mask(fn: Callable[[int, int], torch.Tensor]) -> CheckResult:
    """``fn(T, window)`` must return the bool ``(T, T)`` sliding-window causal mask."""
    cases = [Case(f"T={T}, window={w}", (T, w), _picture(rows)) for (T, w), rows in _LOCAL_MASKS.items()]
    return run_diagnosed("local_causal_mask", fn, cases, _diagnose_local, shortcuts=_no_glmlib_masks(fn))


# ------------------------------------------------------------ exercise 2

def _diagnose_padded(case: Case, got: torch.Tensor) -> str | None:
    expected: torch.Tensor = case.expected
    lengths, T = case.args
    if not got.is_floating_point():
        return None
    allowed_wanted = expected == 0
    blocked = ~allowed_wanted
    if torch.isnan(got).any():
        return _("your mask contains NaN; it should hold only 0.0 and -inf")
    if (got[allowed_wanted] == 0).all() and torch.isfinite(got[blocked]).all() and (got[blocked] < -1e3).all():
        value = got[blocked][0].item() if blocked.any() else float("nan")
        return _("the blocked entries hold a large finite number ({value:.3g}); the additive mask uses "
                 "exactly -inf (`float('-inf')`), so that a blocked weight is exactly 0", value=value)
    if ((got == 0) | (got == float("-inf"))).all():
        allowed = got == 0
        if torch.equal(allowed, blocked):
            return _("0.0 and -inf are swapped: 0.0 where the query may attend, -inf where it is blocked")
        keys = torch.arange(T)
        future = keys[None, :] > keys[:, None]  # (T, T)
        if (allowed & future).any():
            b, i, j = (int(a) for a in (allowed & future).nonzero()[0])
            past = keys[None, :] < keys[:, None]  # (T, T): j < i
            if not (allowed & past).any() and (allowed_wanted & past).any():
                return _("sequence {b}, row {i} allows key {j} > {i} and no row allows an earlier key: is the "
                         "mask letting queries see the future? Yours blocks the past (the upper triangle, "
                         "j >= i), a common mistake; the causal part allows j <= i", b=b, i=i, j=j)
            return _("sequence {b}, row {i} allows key {j} > {i}: is the mask letting queries see the future?",
                     b=b, i=i, j=j)
        diagonal = torch.eye(T, dtype=torch.bool)
        lost = allowed_wanted & diagonal & ~allowed  # (B, T, T): a real query blocked from itself
        if lost.any() and not (allowed & ~allowed_wanted).any():
            b, i, _j = (int(a) for a in lost.nonzero()[0])
            return _("sequence {b}: row {i} blocks key {i}, the query's own position: the causal part allows "
                     "j <= i, the diagonal included (`tril()`, not `tril(-1)`, or `j <= i`, not `j < i`); "
                     "without it row 0 has no key at all, and a row of only -inf gives NaN", b=b, i=i)
        padded_key = keys[None, :] >= torch.as_tensor(lengths)[:, None]  # (B, T): key j is padding
        if (allowed & padded_key[:, None, :]).any():
            b, i, j = (int(a) for a in (allowed & padded_key[:, None, :]).nonzero()[0])
            return _("sequence {b} (length {length}): row {i} may attend the padded key {j}; "
                     "padded keys (columns j >= length) must be blocked for every query", b=b, length=lengths[b],
                     i=i, j=j)
        rows_blocked = (~allowed).all(-1)
        if (rows_blocked & ~blocked.all(-1)).any():
            b, i = (int(a) for a in (rows_blocked & ~blocked.all(-1)).nonzero()[0])
            return _("sequence {b}: row {i} blocks every key. Padding concerns keys (columns), not queries "
                     "(rows): a padded query still sees the real keys, and a row of only -inf gives NaN", b=b, i=i)
    return None


def check_padded_causal_additive(fn: Callable[[Sequence[int], int], torch.Tensor]) -> CheckResult:
    """``fn(lengths, T)`` must return the float ``(B, T, T)`` additive causal-and-padding mask."""
    inputs = {
        _("one padded sequence"): ([2], 5),
        _("batch of three"): ([3, 1, 6], 6),
        _("one full sequence"): ([4], 4),
        _("length 1, T=1"): ([1], 1),
    }
    cases = [Case(name, (list(lengths), T),
                  _masks.to_additive(_masks.combine(_masks.causal_mask(T), _masks.padding_mask(lengths, T))))
             for name, (lengths, T) in inputs.items()]
    return run_diagnosed("padded_causal_additive", fn, cases, _diagnose_padded, shortcuts=_no_glmlib_masks(fn))


# ------------------------------------------------------------ exercise 3

def _average_reference(x: torch.Tensor) -> torch.Tensor:
    """PyTorch's attention with every score equal (q = k = 0) and the causal mask: a causal average."""
    zeros = torch.zeros(*x.shape[:-1], 1)
    return F.scaled_dot_product_attention(zeros, zeros, x, is_causal=True)


def _probe_name() -> str:
    """The name of the case whose input is x = I, in the language of the messages."""
    return _("probe x = I (1, 5, 5): your output is your weight matrix")


def _diagnose_average(case: Case, got: torch.Tensor) -> str | None:
    if case.name == _probe_name():  # x = I, so the output is the weight matrix itself
        weights = got[0]
        T = weights.shape[-1]
        sums = weights.sum(-1)
        future = weights.triu(1)
        if not torch.allclose(weights[0], torch.eye(T)[0], atol=1e-5) and future.abs().sum() > 0:
            return _("the weights in row 0 are not 1 on the diagonal: is the mask letting queries see the future? "
                     "(with x = I the output is your weight matrix; row i may use positions 0..i only)")
        if future.abs().sum() > 0:
            return _("your weights put something above the diagonal: row i may use positions 0..i only")
        if not torch.allclose(sums, torch.ones(T), atol=1e-5):
            i = int((sums - 1).abs().argmax())
            covered = torch.arange(1, T + 1, dtype=sums.dtype)  # row i covers i + 1 positions
            if torch.allclose(sums, covered / T, atol=1e-5):
                why = _("you divided every row by T, but row i covers only i + 1 positions")
            elif torch.allclose(sums, covered, atol=1e-5):
                why = _("the rows pick positions 0..i but are not divided by how many they pick (i + 1)")
            else:
                why = _("divide each row by the number of positions it covers (row i covers i + 1)")
            return _("row {i} of your weights sums to {total:.4g}, not 1, so it does not average: {why}", i=i,
                     total=sums[i].item(), why=why)
        if not torch.allclose(weights.diagonal(), 1 / torch.arange(1, T + 1), atol=1e-5):
            return _("your rows sum to 1 but do not weight positions 0..i equally: each gets 1 / (i + 1)")
    return None


def check_causal_average(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(x)`` for ``x (B, T, C)`` must return the causal running average, as one matrix product."""
    g = torch.Generator().manual_seed(3)
    inputs = {
        _probe_name(): torch.eye(5)[None],
        _("random (2, 4, 3)"): torch.randn(2, 4, 3, generator=g),
        "T=1 (1, 1, 2)": torch.randn(1, 1, 2, generator=g),
        _("random (3, 7, 8)"): torch.randn(3, 7, 8, generator=g),
    }
    cases = [Case(name, (x.clone(),), _average_reference(x)) for name, x in inputs.items()]
    loop = loops_in(fn) if callable(fn) else None
    if loop:
        return failed("causal_average", _("your code uses {loop}; build the whole (T, T) weight matrix at once "
                                          "and average with one matrix product", loop=loop))
    hint = _("build the (T, T) weight matrix and multiply: the point is to see averaging as a matrix product")
    shortcuts = forbidden(fn, [(torch, "cumsum", "torch.cumsum", hint),
                               (torch.Tensor, "cumsum", "Tensor.cumsum", hint),
                               (F, "scaled_dot_product_attention", "F.scaled_dot_product_attention", hint),
                               (_attention, "scaled_dot_product_attention",
                                "glmlib.attention.scaled_dot_product_attention", hint)])
    return run_diagnosed("causal_average", fn, cases, _diagnose_average, shortcuts=shortcuts)
