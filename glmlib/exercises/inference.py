"""Checkers for notebook 08 (inside the model, faster inference).

Exercises: a head score for attention to earlier copies of the same
character, where the context window starts once the text is too long, and a
sliding-window KV cache. Expected values are worked out by hand (the head
score), come from ``glmlib.model.window_start`` (tested in the library's own
tests), or from PyTorch's ``scaled_dot_product_attention`` with a band mask
(the sliding window); this module holds no solutions.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..i18n import _, translate
from ..model import window_start
from .checking import (N_, Case, CheckResult, Mistake, all_pass, call_learner, failed, in_case, judge, passed,
                       require_callable, show)


def _copy(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value


def _run_cases(exercise: str, fn: Callable, cases: list[Case], atol: float = 1e-5) -> CheckResult:
    """Call ``fn`` on every case (on copies of its inputs); stop at the first wrong answer and say why."""
    problem = require_callable(exercise, fn)
    if problem is not None:  # (a CheckResult is falsy unless it passed: compare with None)
        return problem
    for case in cases:
        fresh = Case(case.name, tuple(_copy(a) for a in case.args), case.expected, dict(case.kwargs))
        got, early = call_learner(exercise, fn, fresh)
        if early is not None:
            return early
        verdict = judge(exercise, case, got, atol)
        if verdict is not None:
            return verdict
    return passed(exercise, all_pass(len(cases)))


# ------------------------------------------------------------ same-character score
# Every map below is written out by hand, and so is every expected score.

def _ids(text: str) -> torch.Tensor:
    alphabet = sorted(set(text))
    return torch.tensor([alphabet.index(c) for c in text])


def _uniform(T: int) -> torch.Tensor:
    """Causal attention spread evenly: row i gives 1 / (i + 1) to each key 0..i."""
    allowed = torch.ones(T, T).tril()
    return allowed / allowed.sum(-1, keepdim=True)


def _pointer(targets: list[int]) -> torch.Tensor:
    """A head whose query i puts all its weight on key ``targets[i]``."""
    return F.one_hot(torch.tensor(targets), len(targets)).float()


_SELF = N_("your score counts the query's own position (j = i), which always holds the same "
           "character: count only earlier keys, j < i")
_ALL_T = N_("you averaged over all T queries; query 0 has no earlier key, so average over the "
            "queries i = 1 .. T-1")
_SUM = N_("you added the queries' scores up; the score is their mean over i = 1 .. T-1")
_LATEST = N_("you counted only the latest earlier copy of the query's character; add the weights on "
             "*every* earlier key j < i that holds the same character")
_UPPER = N_("every score is 0, even for a head that attends to earlier copies: the keys to count are "
            "*below* the diagonal (row = query i, column = key j < i)")


def _same_char_cases() -> list[Case]:
    # "abab": the copy head sends each query to the latest earlier copy of its character
    # (or to itself when there is none); query 1 ('b') has none.
    abab = _ids("abab")
    copy_abab = _pointer([0, 1, 0, 1])
    prev_abab = _pointer([0, 0, 1, 2])
    heads = torch.stack([copy_abab, prev_abab, _uniform(4)])  # (3, 4, 4)
    # uniform on "abab": query 2 gives 1/3 to key 0, query 3 gives 1/4 to key 1
    u = (1 / 3 + 1 / 4) / 3
    # "aaaa", uniform: query i gives i / (i + 1) to the earlier keys, all 'a'
    aaaa = (1 / 2 + 2 / 3 + 3 / 4) / 3
    # "abcab": uniform, query 3 ('a') gives 1/4 to key 0, query 4 ('b') 1/5 to key 1;
    # the copy head scores (0 + 0 + 1 + 1) / 4; the previous-character and self heads 0
    abcab = _ids("abcab")
    grid = torch.stack([torch.stack([_uniform(5), _pointer([0, 1, 2, 0, 1])]),
                        torch.stack([_pointer([0, 0, 1, 2, 3]), torch.eye(5)])])  # (2, 2, 5, 5)
    # "abaXa" with X = 'b': uniform, query 2 gives 1/3 to key 0, query 3 gives 1/4 to key 1,
    # query 4 gives 1/5 to each of keys 0 and 2
    ababa = _ids("ababa")
    own, all_t, total, latest, upper = (translate(m) for m in (_SELF, _ALL_T, _SUM, _LATEST, _UPPER))
    return [
        Case(_("'abab', three heads (copy, previous character, uniform) -> (3,)"), (heads, abab),
             torch.tensor([2 / 3, 0.0, u]),
             mistakes=[Mistake(torch.tensor([1.0, 0.0, (1 / 2 + 2 / 3 + 1 / 2) / 3]), own),
                       Mistake(torch.tensor([1.0, 0.25, (1 + 1 / 2 + 2 / 3 + 1 / 2) / 4]), own),
                       Mistake(torch.tensor([2 / 4, 0.0, (1 / 3 + 1 / 4) / 4]), all_t),
                       Mistake(torch.tensor([2.0, 0.0, 1 / 3 + 1 / 4]), total),
                       Mistake(torch.zeros(3), upper)]),
        Case(_("'aaaa', one uniform map (T, T) -> a 0-d tensor"), (_uniform(4), _ids("aaaa")),
             torch.tensor(aaaa),
             mistakes=[Mistake(torch.tensor(1.0), own), Mistake(torch.tensor(aaaa * 3 / 4), all_t),
                       Mistake(torch.tensor(aaaa * 3), total), Mistake(torch.tensor(0.0), upper),
                       Mistake(torch.tensor((1 / 2 + 1 / 3 + 1 / 4) / 3), latest)]),
        Case(_("'abcab', 2 layers x 2 heads -> (2, 2)"), (grid, abcab),
             torch.tensor([[(1 / 4 + 1 / 5) / 4, 2 / 4], [0.0, 0.0]]),
             mistakes=[Mistake(torch.tensor([[(1 / 4 + 1 / 5) / 5, 2 / 5], [0.0, 0.0]]), all_t),
                       Mistake(torch.tensor([[1 / 4 + 1 / 5, 2.0], [0.0, 0.0]]), total)]),
        Case(_("'ababa', uniform: query 4 has two earlier 'a's"), (_uniform(5), ababa),
             torch.tensor((1 / 3 + 1 / 4 + 2 / 5) / 4),
             mistakes=[Mistake(torch.tensor((1 / 3 + 1 / 4 + 1 / 5) / 4), latest)]),
    ]


def check_same_char_score(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(weights (..., T, T), ids (T,))``: per map, the mean over queries i >= 1 of the weight on
    earlier keys j < i holding the query's character, shape ``(...)``."""
    return _run_cases("same_char_score", fn, _same_char_cases())


# ------------------------------------------------------------ the context window

_SLIDES = N_("your window slides one token at a time (start = length - block_size); the rule jumps: "
             "when the context would exceed block_size, it restarts from the last block_size // 2 "
             "tokens and then grows again")
_EARLY = N_("with exactly block_size tokens the context still fits: restart only when it would "
            "*exceed* block_size (>, not >=)")
_LENGTH = N_("you returned the length of the context; return the index of its first token")
_RESTART = N_("after a restart the context holds the last block_size // 2 tokens: with 9 tokens and "
              "block_size 8 it starts at 9 - 4 = 5")
_EMPTY = N_("the context is empty: with block_size 1, block_size // 2 is 0; a restart keeps "
            "max(1, block_size // 2) tokens")


def _window_cases() -> list[Case]:
    slides, early, length_, restart, empty = (translate(m) for m in
                                              (_SLIDES, _EARLY, _LENGTH, _RESTART, _EMPTY))
    named = [(_("shorter than the block (5 tokens, block 8)"), 5, 8, [(5, length_)]),
             (_("exactly one block (8, 8)"), 8, 8, [(4, early), (8, length_)]),
             (_("one token too many (9, 8)"), 9, 8, [(1, slides), (4, restart)]),
             (_("the window grows again (11, 8)"), 11, 8, [(3, slides)]),
             (_("full again, just before the next jump (13, 8)"), 13, 8, [(8, early)]),
             (_("the second jump (14, 8)"), 14, 8, [(6, slides)]),
             (_("a long text (1000, 8)"), 1000, 8, [(992, slides)]),
             (_("an odd block size (40, 5)"), 40, 5, [(35, slides)]),
             (_("block size 1 (8, 1)"), 8, 1, [(8, empty)]),
             (_("block size 128, 500 tokens"), 500, 128, [(372, slides)])]
    return [Case(name, (length, block), window_start(length, block),
                 mistakes=[Mistake(value, message) for value, message in wrong])
            for name, length, block, wrong in named]


def check_window_start(fn: Callable[[int, int], int]) -> CheckResult:
    """``fn(length, block_size)`` must give the same start as :func:`glmlib.model.window_start`."""
    return _run_cases("window_start", fn, _window_cases())


# ------------------------------------------------------------ a sliding-window KV cache

def _band(T: int, width: int) -> torch.Tensor:
    """Bool ``(T, T)``: query i may attend key j iff ``i - width < j <= i`` (the last ``width`` tokens)."""
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    return (j <= i) & (j > i - width)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor, **kw: Any) -> torch.Tensor:
    """PyTorch's attention with a bool mask; a query with no key at all gets zeros."""
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, **kw)
    return out.masked_fill(~allowed.any(-1)[:, None], 0.0)


_PLUS_ONE = N_("the new query attends to window + 1 keys: trim the cache to the last `window` entries "
               "*before* attending (the window includes the new token itself)")
_MINUS_ONE = N_("the new query attends to only window - 1 keys; the window is the last `window` tokens, "
                "the new one included")
_BEFORE = N_("the new token's query does not see its own key: append the new k and v to the cache "
             "*before* attending (for the first token there is nothing else to attend to)")
_TOP_LEFT = N_("the new query sees only the oldest entry of the cache: `F.scaled_dot_product_attention(..., "
               "is_causal=True)` aligns its causal mask to the top left, so with one query and n keys the query "
               "counts as position 0 and may attend key 0 alone. The one new query may see every key in the "
               "trimmed cache: attend without a mask (is_causal=False)")
_SCALE = N_("the scores are not divided by sqrt(D) (D = q.shape[-1]), as in every attention of this course")


def _cache_problem(label: str, got: Any, wanted: torch.Tensor, everything: torch.Tensor, t: int,
                   window: int) -> str | None:
    """What is wrong with a returned cache after token ``t``; ``None`` when it is right."""
    if not isinstance(got, torch.Tensor):
        return _("the returned {label} is {kind}; return a tensor of shape {shape}", label=label,
                 kind=type(got).__name__, shape=tuple(wanted.shape))
    n, m = got.shape[-2] if got.dim() >= 2 else -1, wanted.shape[-2]
    if got.dim() != wanted.dim() or got.shape[:-2] != wanted.shape[:-2] or got.shape[-1] != wanted.shape[-1]:
        return _("the returned {label} has shape {got}; expected {expected} "
                 "(B, H, entries, D), growing along dim -2", label=label, got=tuple(got.shape),
                 expected=tuple(wanted.shape))
    if n == m and torch.equal(got, wanted):
        return None
    after = _("after token {t} (window {window})", t=t, window=window)
    if n == m + 1 and m == window:
        return _("the returned {label} holds window + 1 = {n} entries {after}; once full it must hold "
                 "exactly the last `window` entries", label=label, n=n, after=after)
    if n == m - 1 and m == window and t > 0:  # (earlier steps grew it, so it was trimmed too far)
        return _("the returned {label} holds window - 1 = {n} entries {after}; it must hold the last {m}",
                 label=label, n=n, after=after, m=m)
    if n == m - 1:
        return _("the returned {label} did not grow {after}: append the new entry along the time axis, "
                 "e.g. torch.cat([cache, new], dim=-2)", label=label, after=after)
    if n > m:
        return _("the returned {label} holds {n} entries {after}: it keeps growing; keep only the last "
                 "`window` entries, dropping the oldest", label=label, n=n, after=after)
    if n < m:
        return _("the returned {label} holds {n} entries {after}; it must hold the last {m}", label=label, n=n,
                 after=after, m=m)
    if torch.equal(got, everything[..., :m, :]):
        return _("the returned {label} kept the *oldest* {m} entries and dropped the newest {after}: "
                 "keep the last `window` entries (the oldest leaves the window)", label=label, m=m, after=after)
    if torch.equal(got, wanted.flip(-2)):
        return _("the returned {label} holds the right entries in reverse order; keep them oldest first, "
                 "newest last", label=label)
    return _("the returned {label} {after} should hold the entries of tokens {first} .. {t}, "
             "oldest first, exactly as they were given; it holds other values", label=label, after=after,
             first=t + 1 - m, t=t)


def _window_run(fn: Callable, name: str, B: int, H: int, D: int, window: int, T: int,
                seed: int) -> CheckResult | None:
    """Feed ``T`` tokens one at a time through ``fn``; ``None`` when every step is right."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, T, D, generator=g) for _tensor in range(3))
    expected = _attend(q, k, v, _band(T, window))  # the reference: full attention restricted to the band
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    before, top_left = translate(_BEFORE), translate(_TOP_LEFT)
    wrong = [(_attend(q, k, v, _band(T, window + 1)), translate(_PLUS_ONE)),
             (_attend(q, k, v, (j < i) & (j >= i - window)), before),
             (_attend(q, k, v, _band(T, window), scale=1.0), translate(_SCALE))]
    if window > 1:
        wrong.append((_attend(q, k, v, _band(T, window - 1)), translate(_MINUS_ONE)))
    cache_k, cache_v = k[..., :0, :], v[..., :0, :]
    for t in range(T):
        step = slice(t, t + 1)
        mistakes = [Mistake(value[..., step, :], message) for value, message in wrong]
        if t > 0:  # (a learner who attends before appending fails at token 0 already, with zeros)
            oldest = v[..., max(0, t + 1 - window):, :][..., :1, :]
            mistakes.insert(0, Mistake(oldest, top_left))
        mistakes.append(Mistake(torch.full((B, H, 1, D), float("nan")), before))
        case = Case(_("{name}, token {t}", name=name, t=t), (cache_k.clone(), cache_v.clone(), q[..., step, :].clone(),
                                          k[..., step, :].clone(), v[..., step, :].clone(), window),
                    expected[..., step, :], mistakes=mistakes)
        got, early = call_learner("window_step", fn, case)
        if early is not None:
            return early
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return failed("window_step", in_case(case.name, _("return a tuple (out, cache_k, cache_v); "
                                                              "got {got}", got=show(got))))
        out, new_k, new_v = got
        lo = max(0, t + 1 - window)
        if (isinstance(new_k, torch.Tensor) and isinstance(new_v, torch.Tensor) and new_k.shape == new_v.shape
                and torch.equal(new_k, v[..., lo:t + 1, :]) and torch.equal(new_v, k[..., lo:t + 1, :])):
            return failed("window_step", in_case(case.name, _("the returned caches are swapped: return "
                                                              "(out, cache_k, cache_v) in that order")))
        for label, new, everything in (("cache_k", new_k, k), ("cache_v", new_v, v)):
            problem = _cache_problem(label, new, everything[..., lo:t + 1, :], everything[..., :t + 1, :],
                                     t, window)
            if problem:
                return failed("window_step", in_case(case.name, problem))
        verdict = judge("window_step", case, out)
        if verdict is not None:
            return verdict
        cache_k, cache_v = new_k.detach(), new_v.detach()
    return None


def check_window_step(fn: Callable) -> CheckResult:
    """``fn(cache_k, cache_v, q, k, v, window) -> (out, cache_k, cache_v)``, token after token, must
    match full attention restricted to the last ``window`` positions (PyTorch's SDPA with a band mask)."""
    problem = require_callable("window_step", fn)
    if problem is not None:
        return problem
    runs = [(_("window 3, one head, D=4, 7 tokens"), 1, 1, 4, 3, 7, 81),
            (_("window 1: only the newest token"), 1, 1, 4, 1, 3, 82),
            (_("window 4, batch of 2, 2 heads, D=8, 9 tokens"), 2, 2, 8, 4, 9, 83),
            (_("window 16, longer than the 6 tokens"), 1, 2, 4, 16, 6, 84)]
    for run in runs:
        verdict = _window_run(fn, *run)
        if verdict is not None:
            return verdict
    steps = sum(run[5] for run in runs)
    return passed("window_step", _("all {n} sequences ({steps} steps) pass", n=len(runs), steps=steps))
