"""Checkers for notebook 00 (welcome): the shape conventions and the causal mask's polarity.

Expected values come from PyTorch (``torch.softmax``) and from the tested
``glmlib.masks.causal_mask``; the worked solutions live in the notebook.
"""
from __future__ import annotations

from typing import Callable

import torch

from .. import masks
from ..i18n import _
from .checking import (Case, CheckResult, Mistake, all_pass, call_learner, failed, forbidden, in_case, judge,
                       passed, require_callable, run_cases, with_details)


# ------------------------------------------------------------ next-token probabilities

def _logits(B: int, T: int, V: int, seed: int) -> torch.Tensor:
    """Seeded logits of shape ``(B, T, V)``."""
    return 2.0 * torch.randn(B, T, V, generator=torch.Generator().manual_seed(seed))


def _probs_cases() -> list[Case]:
    cases = []
    for name, (B, T, V), seed in [("B=2, T=3, V=5", (2, 3, 5), 0), ("B=3, T=4, V=6", (3, 4, 6), 1),
                                  (_("one sequence of one token: B=1, T=1, V=4"), (1, 1, 4), 2),
                                  ("B=4, T=2, V=3", (4, 2, 3), 3)]:
        logits = _logits(B, T, V, seed)  # (B, T, V)
        expected = torch.softmax(logits[:, -1, :], dim=-1)  # (B, V): PyTorch's softmax at the last position
        mistakes = [
            Mistake(logits[:, -1, :], _("these are the raw logits of the last position: turn them into "
                                        "probabilities with a softmax over the vocabulary (each row must sum to 1)")),
            Mistake(torch.log_softmax(logits[:, -1, :], dim=-1),
                    _("these are log-probabilities (a log-softmax): return the probabilities themselves, "
                      "a softmax over the vocabulary")),
            Mistake(torch.softmax(logits, dim=1)[:, -1, :],
                    _("your softmax runs over the time axis (dim=1, T): the probabilities of the next token "
                      "are a softmax over the vocabulary axis (dim=-1, V)")),
            Mistake(torch.softmax(logits, dim=0)[:, -1, :],
                    _("your softmax runs over the batch axis (dim=0, B): normalise over the vocabulary (dim=-1, V)")),
            Mistake(torch.softmax(logits[:, -1:, :], dim=-1),
                    _("your result still has a time axis of length 1, shape (B, 1, V): index the last position "
                      "with -1 (which drops the axis), not with the slice -1:")),
        ]
        if T > 1:
            mistakes.append(Mistake(torch.softmax(logits[:, 0, :], dim=-1),
                                    _("these are the probabilities at the first position (t = 0): the next "
                                      "token after the whole sequence is predicted at the last position, t = T-1")))
        if B > 1:
            mistakes.append(Mistake(torch.softmax(logits[-1], dim=-1),
                                    _("you took the last sequence of the batch, shape (T, V): axis 0 is the batch B; "
                                      "the last position is on axis 1 (T), so index [:, -1, :]")))
        if B == T:
            mistakes.append(Mistake(torch.softmax(logits[:, :, -1], dim=-1),
                                    _("you took the last vocabulary entry: axis -1 is V; the last position "
                                      "is axis 1 (T)")))
        else:
            mistakes.append(Mistake(torch.softmax(logits[..., -1], dim=-1),
                                    _("you took the last vocabulary entry, shape (B, T): axis -1 is V; the last "
                                      "position is on axis 1 (T), so index [:, -1, :]")))
        cases.append(Case(name, (logits,), expected, mistakes=mistakes))
    return cases


def check_next_token_probs(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(logits)`` must turn ``(B, T, V)`` logits into the ``(B, V)`` next-token probabilities."""
    return run_cases("next_token_probs", fn, _probs_cases())


# ------------------------------------------------------------ one row of the causal mask

def _row_cases() -> list[Case]:
    cases = []
    for name, i, T in [(_("query 0 of 4 (only itself)"), 0, 4), (_("query 2 of 5"), 2, 5),
                       (_("last query of 4 (sees everything)"), 3, 4), ("T = 1", 0, 1), (_("query 5 of 8"), 5, 8)]:
        j = torch.arange(T)
        mistakes = [
            Mistake(j < i, _("query i is not allowed to see itself: the causal row allows keys j <= i, "
                             "the diagonal included")),
            Mistake(j >= i, _("this row allows the future (keys j >= i): a query may attend only to keys "
                              "at or before it, j <= i")),
            Mistake(j > i, _("True marks the blocked keys (j > i) here: in this course True means "
                             "*may attend* (PyTorch's convention), so the row is the opposite")),
            Mistake(j <= i + 1, _("this row lets query i see one key into the future (j = i + 1)")),
        ]
        cases.append(Case(with_details(name, f"i={i}, T={T}"), (i, T), masks.causal_mask(T)[i], mistakes=mistakes))
    return cases


def check_causal_row(fn: Callable[[int, int], torch.Tensor]) -> CheckResult:
    """``fn(i, T)`` must return the bool row ``(T,)`` of the causal mask for query ``i``.

    The row must be built by hand: ``glmlib.masks.causal_mask`` is trapped.
    """
    exercise = "causal_row"
    problem = require_callable(exercise, fn)
    if problem is not None:
        return problem
    shortcuts = forbidden(fn, [(masks, "causal_mask", "causal_mask",
                                _("compare `torch.arange(T)` with `i` to build the row yourself"))])
    cases = _row_cases()
    for case in cases:
        got, early = call_learner(exercise, fn, case, shortcuts)
        if early is not None:
            return early
        if isinstance(got, torch.Tensor) and got.shape == case.expected.shape and got.dtype != torch.bool:
            if got.is_floating_point() and bool(((got == 0) | (got == float("-inf"))).all()):
                return failed(exercise, in_case(case.name, _(
                    "you returned an additive row (0 / -inf, dtype {dtype}); this exercise asks for the boolean "
                    "form: True = may attend", dtype=got.dtype)))
            return failed(exercise, in_case(case.name, _(
                "your row has dtype {dtype}; return a bool tensor (True = may attend), e.g. the result of a "
                "comparison", dtype=got.dtype)))
        verdict = judge(exercise, case, got)
        if verdict is not None:
            return verdict
    return passed(exercise, all_pass(len(cases)))
