"""Checkers for notebook 01 (language models): bigram counts, add-k smoothing, the chain rule.

Expected values come from ``glmlib.ngram.BigramLM`` (tested against hand-worked
counts and probabilities in ``tests/test_ngram.py``); the values that common
mistakes give are computed here so that each one can be named. The worked
solutions live in the notebook.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from ..i18n import _
from ..ngram import BigramLM
from .checking import (Case, CheckResult, Mistake, all_pass, call_learner, failed, in_case, judge, passed,
                       require_callable, run_cases, with_details)


def _counts_of(ids: Sequence[int], V: int) -> torch.Tensor:
    """The reference counts: ``BigramLM`` without start/end tokens, ``(V, V)`` int64."""
    return BigramLM(V, k=0).fit([list(ids)]).counts.long()


# ------------------------------------------------------------------ exercise 1: counts

def _counts_cases() -> list[Case]:
    cases = []
    for name, ids, V in [
        (_("alternating 0 1 0 1 2 (the pair 0 -> 1 occurs twice)"), [0, 1, 0, 1, 2], 3),
        (_("direction matters: 0 then 1 is not 1 then 0"), [0, 1], 2),
        (_("a token followed by itself: 2 2 2 2"), [2, 2, 2, 2], 3),
        (_("one token gives no pairs"), [1], 4),
        (_("empty sequence"), [], 2),
        (_("vocabulary larger than the tokens used"), [4, 0, 4, 3, 0, 4, 0, 4], 6),
    ]:
        expected = _counts_of(ids, V)
        mistakes = [
            Mistake((expected > 0).long(),
                    _("every pair is counted at most once, but repeated pairs must add up. (Indexing with "
                      "tensors, `counts[prev_ids, next_ids] += 1`, does not accumulate repeated index pairs: use a "
                      "loop over the pairs, `index_put_(..., accumulate=True)` or `torch.bincount`.)")),
            Mistake(expected.T, _("your table is transposed: entry [a, b] must count how often b *follows* a "
                                  "(row = previous token, column = next token)")),
            Mistake(expected + expected.T, _("you counted every pair in both directions: [a, b] counts only "
                                             "b following a")),
        ]
        if len(ids) >= 2:
            mistakes += [
                Mistake(_counts_of(ids[:-1], V), _("the last pair is missing: n tokens give n - 1 pairs, "
                                                   "the last one being (ids[-2], ids[-1])")),
                Mistake(_counts_of(ids[1:], V), _("the first pair is missing: n tokens give n - 1 pairs, "
                                                  "the first one being (ids[0], ids[1])")),
                Mistake(_counts_of(list(ids) + [ids[0]], V),
                        _("you counted a pair from the last token back to the first: nothing follows the last "
                          "token (check for `torch.roll` or an index that wraps around)")),
            ]
        if ids:
            diagonal = torch.diag(torch.bincount(torch.tensor(ids), minlength=V))
            mistakes.append(Mistake(diagonal, _("you paired every token with itself: pair ids[t] with the "
                                                "token after it, ids[t + 1]")))
        cases.append(Case(with_details(name, f"ids={ids}, V={V}"), (list(ids), V), expected, mistakes=mistakes))
    return cases


def check_bigram_counts(fn: Callable[[Sequence[int], int], torch.Tensor]) -> CheckResult:
    """``fn(ids, vocab_size)`` must count every adjacent pair ``(prev, next)`` into a ``(V, V)`` table."""
    return run_cases("bigram_counts", fn, _counts_cases())


# ------------------------------------------------------------------ exercise 2: add-k smoothing

def _smoothed_by_library(counts: torch.Tensor, k: float) -> torch.Tensor:
    """The reference table: ``BigramLM`` given these counts and this ``k``, ``(V, V)`` float64."""
    lm = BigramLM(counts.shape[0], k=k)
    lm.counts = counts.double().clone()
    return lm.probs


def _probs_cases() -> list[Case]:
    table = torch.tensor([[0.0, 3.0, 1.0], [2.0, 0.0, 0.0], [1.0, 1.0, 2.0]])
    empty_row = torch.tensor([[0.0, 4.0, 1.0], [0.0, 0.0, 0.0], [2.0, 1.0, 1.0]])
    cases = []
    for name, c, k in [
        (_("k = 0: plain relative frequencies"), table, 0.0),
        (_("k = 1 (Laplace)"), table, 1.0),
        ("k = 0.5", table, 0.5),
        (_("large k pulls every row towards uniform"), table, 1000.0),
        (_("k = 0 and a row that was never seen becomes uniform"), empty_row, 0.0),
        (_("k = 0.5 and a row that was never seen"), empty_row, 0.5),
    ]:
        V = c.shape[1]
        expected = _smoothed_by_library(c, k)
        n = c.double()
        rows = n.sum(dim=1, keepdim=True)  # (V, 1): N(a)
        mistakes = [
            Mistake(n + k, _("these are smoothed counts, not probabilities: divide each row by its total")),
            Mistake(((n + k) / (n + k).sum(dim=0, keepdim=True)).nan_to_num(nan=1.0 / V),
                    _("you normalised the columns: each *row* (the previous token) must sum to 1")),
            Mistake(expected.T, _("your table is transposed: row a = previous token, column b = next token")),
        ]
        if k > 0:
            mistakes += [
                Mistake((n + k) / (rows + k), _("the rows do not sum to 1: the denominator must be the row total "
                                                "*after* adding k to each of the V entries, N(a) + kV, not N(a) + k")),
                Mistake(torch.where(rows > 0, (n + k * (n > 0)) / (rows + k * (n > 0).sum(dim=1, keepdim=True)),
                                    1.0 / V),
                        _("k was added only to the pairs that were seen: every pair, seen or not, gets k, so "
                          "that no probability is 0")),
                Mistake(torch.where(rows > 0, (n / rows.clamp_min(1) + k) / (1 + k * V), 1.0 / V),
                        _("you smoothed the relative frequencies: add k to the *counts*, then divide by the "
                          "new row total")),
            ]
        if bool((rows == 0).any()) and k == 0:
            mistakes += [
                Mistake(n / rows, _("a row with no counts gives 0 / 0 = NaN: make such a row uniform (1/V), "
                                    "as the prompt asks")),
                Mistake(n / rows.clamp_min(1), _("a row with no counts must be uniform (1/V everywhere), "
                                                 "not all zeros: every row is a probability distribution")),
            ]
        cases.append(Case(with_details(name, f"k={k}"), (c, k), expected.float(), mistakes=mistakes))
    return cases


def check_add_k_probs(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """``fn(counts, k)`` must return the add-k smoothed ``(V, V)`` next-token probabilities.

    The counts passed in must come back unchanged (no in-place ``+=`` on the input).
    """
    exercise = "add_k_probs"
    problem = require_callable(exercise, fn)
    if problem is not None:
        return problem
    cases = _probs_cases()
    for case in cases:
        counts, k = case.args
        given = counts.clone()
        got, early = call_learner(exercise, fn, Case(case.name, (given, k), case.expected))
        if early is not None:
            return early
        if not torch.equal(given, counts):
            return failed(exercise, in_case(case.name, _(
                "your function changed the counts it was given (an in-place `+=` or `add_` on the input, or on "
                "a `.float()` of a float tensor, which is the same tensor): compute on a copy, e.g. `counts + k`")))
        verdict = judge(exercise, case, got)
        if verdict is not None:
            return verdict
    return passed(exercise, all_pass(len(cases)))


# ------------------------------------------------------------------ exercise 3: the chain rule

# A toy vocabulary: tokens 0, 1, 2 are characters, 3 is <bos>, 4 is <eos>. Row = previous token.
_BOS, _EOS = 3, 4
_COUNTS = torch.tensor([
    [1.0, 3.0, 2.0, 0.0, 2.0],  # after 0
    [4.0, 1.0, 1.0, 0.0, 3.0],  # after 1
    [2.0, 2.0, 1.0, 0.0, 1.0],  # after 2
    [5.0, 2.0, 1.0, 0.0, 1.0],  # after <bos>: how lines start (an empty line is possible)
    [0.0, 0.0, 0.0, 0.0, 0.0],  # after <eos>: nothing (never used)
])


def _lm(k: float) -> BigramLM:
    lm = BigramLM(5, k=k, bos=_BOS, eos=_EOS)
    lm.counts = _COUNTS.double().clone()
    return lm


def _pairs(ids: Sequence[int]) -> list[tuple[int, int]]:
    return list(zip(ids[:-1], ids[1:]))


def _log_prob_cases() -> list[Case]:
    cases = []
    for name, ids, k in [
        (_("two characters"), [0, 1], 0.5),
        (_("one character: P(x1 | <bos>) and P(<eos> | x1)"), [2], 0.5),
        (_("an empty line: only P(<eos> | <bos>)"), [], 0.5),
        (_("direction matters: 1 0 is scored with P(0 | 1)"), [1, 0], 0.5),
        (_("a longer line"), [0, 1, 2, 0, 0, 1, 1, 2, 2, 1, 0], 0.5),
        (_("an unsmoothed table (k = 0)"), [0, 2, 1, 1, 0], 0.0),
    ]:
        lm = _lm(k)
        probs = lm.probs  # (5, 5) float64, rows sum to 1
        expected = lm.log_prob(ids)  # the library's chain rule with <bos> and <eos>
        full = [_BOS, *ids, _EOS]
        p = torch.tensor([probs[a, b].item() for a, b in _pairs(full)], dtype=torch.float64)

        def total(seq: list[int], table: torch.Tensor = probs) -> float:
            return float(sum(torch.log(table[a, b]).item() for a, b in _pairs(seq)))  # -inf for a zero

        mistakes = [
            Mistake(total(ids + [_EOS]), _("the first prediction, P(x1 | <bos>), is missing: the chain starts "
                                           "at <bos>, so score the pairs of [bos] + ids + [eos]")),
            Mistake(total([_BOS] + ids), _("the last prediction, P(<eos> | x_n), is missing: a line must also "
                                           "end, so score the pairs of [bos] + ids + [eos]")),
            Mistake(float(p.sum()), _("you added the probabilities: the chain rule multiplies them, so add "
                                      "their *logarithms*")),
            Mistake(float(p.prod()), _("this is the probability P(x) itself: return its natural logarithm "
                                       "(add the logs rather than multiplying the probabilities)")),
            Mistake(math.log(float(p.sum())), _("you took the log of a sum of probabilities: add the logs of "
                                                "the probabilities instead")),
            Mistake(-expected, _("you returned the negative log-likelihood: log P(x) is a log-probability, "
                                 "so it is <= 0")),
            Mistake(expected / math.log(2), _("this is in bits (log base 2): use the natural logarithm "
                                              "(`math.log`, `torch.log`)")),
            Mistake(expected / len(p), _("you averaged the log-probabilities (that is minus the per-token "
                                         "cross-entropy): the log-probability of the line is their sum")),
            Mistake(total(full, probs.T), _("you looked up probs[next, prev]: row = previous token, "
                                            "column = next token")),
        ]
        if ids:
            mistakes.append(Mistake(total(ids), _("only the pairs inside the line are scored: wrap it as "
                                                  "[bos] + ids + [eos] first, to predict the first token and "
                                                  "the end too")))
        else:
            mistakes.append(Mistake(0.0, _("an empty line still has one prediction, P(<eos> | <bos>): wrap "
                                           "the line as [bos] + ids + [eos] and score every pair")))
        cases.append(Case(with_details(name, f"ids={ids}, k={k}"), (probs, list(ids), _BOS, _EOS), expected,
                          mistakes=mistakes))
    return cases


def check_line_log_prob(fn: Callable[[torch.Tensor, Sequence[int], int, int], float]) -> CheckResult:
    """``fn(probs, ids, bos, eos)`` must return ``log P(<bos> ids <eos>)`` under the bigram table."""
    return run_cases("line_log_prob", fn, _log_prob_cases(), atol=1e-6)
