"""Checkers for notebook 07 (generation and sampling).

Exercises: the top-k, top-p and min-p filters, and a repetition penalty.
Expected values come from ``glmlib.sampling`` (tested against Hugging Face's
logits warpers) or were worked out by hand; this module holds no solutions.

Besides the values that known mistakes give on a case, the filters share a
few diagnoses that look at *what* was kept: removed tokens holding 0 instead
of ``-inf``, kept logits that were changed, probabilities returned instead of
logits, a less probable token kept while a more probable one was removed.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Sequence

import torch

from .. import sampling as _sampling
from ..i18n import _, translate
from ..sampling import top_k_filter, top_p_filter
from .checking import (N_, Case, CheckResult, Mistake, Shortcut, ShortcutUsed, all_pass, call_learner, failed,
                       in_case, judge, passed, require_callable, same)

NEG_INF = float("-inf")

Diagnose = Callable[[Case, torch.Tensor], "str | None"]


# ------------------------------------------------------------ shared machinery

def _only(logits: Sequence, keep: Sequence) -> torch.Tensor:
    """``logits`` with ``-inf`` everywhere but at the indices ``keep`` (a list per row for 2-D)."""
    logits = torch.as_tensor(logits, dtype=torch.float32)
    if logits.dim() == 1:
        keep = [keep]
    out = torch.full_like(logits.reshape(-1, logits.shape[-1]), NEG_INF)
    for row, indices in enumerate(keep):
        for i in indices:
            out[row, i] = logits.reshape(-1, logits.shape[-1])[row, i]
    return out.reshape(logits.shape)


def _explain_crash(fn: Callable, hint: str) -> Callable:
    """Wrap ``fn`` for one case: an error it raises is reported together with ``hint``."""
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (NotImplementedError, ShortcutUsed):
            raise
        except Exception as err:
            raise RuntimeError(_("{hint} ({error}: {detail})", hint=hint, error=type(err).__name__,
                                 detail=err)) from err
    return wrapped


def _hf_shortcut(class_name: str, hint: str) -> list[Shortcut]:
    """Trap a Hugging Face logits processor whenever transformers is installed: the learner's code
    may import it only when it runs (inside the function), after the trap was set."""
    try:
        cls = getattr(importlib.import_module("transformers"), class_name)
    except Exception:  # an old or partial transformers: nothing to trap
        return []
    return [Shortcut(cls, "__call__", f"transformers.{class_name}", hint)]


def _copy(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value


def _run(exercise: str, fn: Callable, cases: list[Case], diagnose: Diagnose | None = None,
         shortcuts: Sequence[Shortcut] = (), crash_hints: dict[str, str] | None = None,
         atol: float = 1e-5) -> CheckResult:
    """Like ``run_cases``, plus a structural diagnosis (``diagnose``) when no known mistake matches."""
    problem = require_callable(exercise, fn)
    if problem is not None:  # (a CheckResult is falsy unless it passed: compare with None)
        return problem
    crash_hints = crash_hints or {}
    for case in cases:
        call = _explain_crash(fn, crash_hints[case.name]) if case.name in crash_hints else fn
        fresh = Case(case.name, tuple(_copy(a) for a in case.args), case.expected, dict(case.kwargs))
        got, early = call_learner(exercise, call, fresh, shortcuts)  # the learner may change its inputs
        if early is not None:
            return early
        verdict = judge(exercise, case, got, atol)
        if verdict is None:
            continue
        known = any(same(m.value, got, atol) for m in case.mistakes)
        fits = (isinstance(got, torch.Tensor) and isinstance(case.expected, torch.Tensor)
                and got.shape == case.expected.shape and got.is_floating_point())
        if diagnose is not None and fits and not known:
            message = diagnose(case, got.detach())
            if message:
                return failed(exercise, in_case(case.name, message))
        return verdict
    return passed(exercise, all_pass(len(cases)))


def _rows(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, t.shape[-1])


def _filter_diagnosis(logits: torch.Tensor, expected: torch.Tensor, got: torch.Tensor) -> str | None:
    """What is wrong with a filter's output, judged by what it kept; ``None`` when nothing general fits."""
    if torch.isnan(got).any():
        return _("your result contains NaN; a removed token's logit is float('-inf'), never NaN")
    removed, kept = torch.isneginf(expected), ~torch.isneginf(expected)
    if torch.equal(got[kept], expected[kept]) and removed.any():
        values = got[removed]
        if torch.all(values == 0):
            return _("the removed tokens hold 0 instead of -inf: a logit of 0 still has probability "
                     "e^0 / Z > 0 after the softmax, so a 'removed' token could still be drawn; "
                     "set removed logits to float('-inf')")
        if torch.isfinite(values).all() and torch.all(values == values[0]) and not torch.equal(values, logits[removed]):
            return _("the right tokens are kept, but the removed ones hold {value:.4g} "
                     "instead of -inf; set every removed logit to float('-inf')", value=values[0].item())
    finite = torch.isfinite(expected)
    probs = torch.softmax(expected, dim=-1)
    if torch.allclose(got, probs, atol=1e-5) or torch.allclose(got, probs.log(), atol=1e-5):
        return _("you returned (log-)probabilities; return logits: the kept logits exactly as they "
                 "came in, float('-inf') for the removed ones (the sampler applies the softmax)")
    got_kept = ~torch.isneginf(got)
    if torch.equal(got_kept, kept) and not torch.equal(got[finite], logits[finite]):
        index = tuple(int(i) for i in torch.nonzero(finite & (got != logits))[0])
        return _("you kept the right tokens but changed their logits (at index {index}: "
                 "{was:.4g} became {now:.4g}); return the kept logits "
                 "unchanged: the softmax renormalises them later", index=index, was=logits[index].item(),
                 now=got[index].item())
    for r, (z, k) in enumerate(zip(_rows(logits), _rows(got_kept))):
        if k.any() and (~k).any() and z[~k].max() > z[k].min():
            where = _("in row {r}, ", r=r) if logits.dim() > 1 else ""
            return _("{where}you kept a token with logit {kept:.4g} but removed one with the "
                     "larger logit {removed:.4g}: a filter keeps the most probable tokens "
                     "(if you sorted: in descending order, `descending=True`? and did you put the "
                     "decisions back in the original order, e.g. with `scatter`?)", where=where,
                     kept=z[k].min().item(), removed=z[~k].max().item())
    return None


def _count_difference(expected: torch.Tensor, got: torch.Tensor) -> tuple[int, int, int] | None:
    """The first row that kept another number of tokens than expected: (row, expected count, count kept)."""
    exp_n = (~torch.isneginf(_rows(expected))).sum(-1)
    got_n = (~torch.isneginf(_rows(got))).sum(-1)
    for r in range(len(exp_n)):
        if exp_n[r] != got_n[r]:
            return r, int(exp_n[r]), int(got_n[r])
    return None


def _count_message(logits: torch.Tensor, expected: torch.Tensor, got: torch.Tensor) -> str | None:
    """Which row kept how many tokens, when the counts differ."""
    difference = _count_difference(expected, got)
    if difference is None:
        return None
    r, wanted, kept = difference
    where = _("in row {r} ", r=r) if logits.dim() > 1 else ""
    batch = _(" (each row is filtered on its own, along the last dim)") if logits.dim() > 1 else ""
    if kept == 0:
        return _("{where}no token survived: every row must keep at least one token (the "
                 "most probable one), or there is nothing to sample", where=where)
    return _("{where}you kept {kept} tokens, expected {wanted}{batch}", where=where, kept=kept, wanted=wanted,
             batch=batch)


# ------------------------------------------------------------ top-k

def _top_k_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    tie = torch.tensor([2.0, 1.0, 1.0, 0.0])
    batch = torch.randn(3, 8, generator=g)
    tied = translate(_TIE)
    return [
        Case(_("k=2 of five"), (torch.tensor([1.0, 3.0, 2.0, -1.0, 0.5]), 2),
             top_k_filter(torch.tensor([1.0, 3.0, 2.0, -1.0, 0.5]), 2)),
        Case(_("k=1 keeps only the largest"), (torch.tensor([0.2, -0.3, 0.9, 0.1]), 1),
             top_k_filter(torch.tensor([0.2, -0.3, 0.9, 0.1]), 1)),
        Case(_("a tie at the boundary: [2, 1, 1, 0] with k=2 keeps both 1s"), (tie.clone(), 2),
             top_k_filter(tie, 2),
             mistakes=[Mistake(_only(tie, [0, 1]), tied), Mistake(_only(tie, [0, 2]), tied)]),
        Case(_("k=4 equal to the vocabulary keeps all"), (torch.tensor([0.5, 0.1, 0.3, -0.2]), 4),
             top_k_filter(torch.tensor([0.5, 0.1, 0.3, -0.2]), 4)),
        Case(_k_too_large(), (torch.tensor([0.5, 0.1, 0.3]), 10),
             top_k_filter(torch.tensor([0.5, 0.1, 0.3]), 10)),
        Case(_("a batch of 3 rows, k=3, each row filtered on its own"), (batch, 3), top_k_filter(batch, 3)),
    ]


def _k_too_large() -> str:
    """The name of the case whose k exceeds the vocabulary (its crash gets a hint of its own)."""
    return _("k=10 larger than the vocabulary (V=3) keeps all")


_TIE = N_("a token tied with the k-th largest logit was removed: keep *every* token whose logit is >= "
        "the k-th largest (ties at the boundary kept, as in Hugging Face); picking k indices "
           "(e.g. with topk's indices) drops one of the tied tokens at random")


# Two rows for one k: top-k keeps k tokens of each, a cut on the running total of the probabilities
# (nucleus sampling) keeps one token of the peaked row and most of the flat one.
_NUCLEUS_PROBE = torch.tensor([[6.0, 1.0, 0.5, 0.0, -0.5, -1.0],
                               [0.3, 0.2, 0.1, 0.0, -0.1, -0.2]])


def _kept_counts_if_prefixes(logits: torch.Tensor, got: Any) -> list[int] | None:
    """How many tokens each row kept, when every row kept its most probable tokens (and nothing else)."""
    if not (isinstance(got, torch.Tensor) and got.shape == logits.shape and got.is_floating_point()):
        return None
    counts = []
    for z, kept in zip(_rows(logits), _rows(~torch.isneginf(got))):
        m = int(kept.sum())
        if m and not torch.equal(kept, z >= z.sort(descending=True).values[m - 1]):
            return None
        counts.append(m)
    return counts


def _nucleus_message(fn: Callable, shortcuts: Sequence[Shortcut], case: Case, got: torch.Tensor) -> str | None:
    """A diagnosis when the learner's "top-k" keeps a number of tokens that depends on the distribution."""
    logits, k = case.args
    counts = _kept_counts_if_prefixes(logits, got)
    if not counts or all(m in (k, logits.shape[-1]) for m in counts):
        return None
    probe = Case("probe", (_NUCLEUS_PROBE.clone(), 3), None)
    out, early = call_learner("top_k", fn, probe, shortcuts)
    probe_counts = None if early is not None else _kept_counts_if_prefixes(_NUCLEUS_PROBE, out)
    if not probe_counts or probe_counts[0] == probe_counts[1]:
        return None
    peaked, flat = probe_counts
    peaked_tokens = _("{n} token", n=peaked) if peaked == 1 else _("{n} tokens", n=peaked)
    return _("you kept the {m} most probable tokens, not k = {k}, and with k = 3 your filter keeps "
             "{peaked_tokens} of a peaked row but {flat} of a flat one: that is nucleus "
             "(top-p) sampling under the name top-k, a common mix-up. Top-p keeps the smallest set of likely "
             "tokens whose total probability reaches p, so its size varies; top-k keeps a fixed number, "
             "every token whose logit is >= the k-th largest", m=counts[0], k=k, peaked_tokens=peaked_tokens,
             flat=flat)


def _top_k_diagnosis(case: Case, got: torch.Tensor, nucleus: Callable[[Case, torch.Tensor], str | None]
                     = lambda case, got: None) -> str | None:
    logits, k = case.args
    message = _filter_diagnosis(logits, case.expected, got)
    if message:
        return message
    V = logits.shape[-1]
    got_n = (~torch.isneginf(_rows(got))).sum(-1)
    if k < V and bool((got_n == V - k + 1).all()) and V - k + 1 != k:
        return _("you kept {n} tokens: that is what a threshold at the k-th *smallest* logit "
                 "keeps; did you sort in ascending order? The k-th largest comes from "
                 "`torch.sort(..., descending=True)` or `torch.topk`", n=V - k + 1)
    return nucleus(case, got) or _count_message(logits, case.expected, got)


def check_top_k(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """``fn(logits (..., V), k)``: every logit >= the k-th largest of its row kept, ``-inf`` elsewhere."""
    shortcuts = [Shortcut(_sampling, "_top_k", "glmlib.sampling.top_k_filter",
                          _("compare with the k-th largest logit yourself (torch.topk or torch.sort)"))]
    shortcuts += _hf_shortcut("TopKLogitsWarper", _("compare with the k-th largest logit yourself"))
    crash = {_k_too_large():
             _("k is larger than the vocabulary here (k=10, V=3): such a k must keep every token; "
               "clamp it first, e.g. `k = min(k, logits.shape[-1])`")}

    def diagnose(case: Case, got: torch.Tensor) -> str | None:
        return _top_k_diagnosis(case, got, lambda c, g: _nucleus_message(fn, shortcuts, c, g))

    return _run("top_k", fn, _top_k_cases(), diagnose, shortcuts, crash)


# ------------------------------------------------------------ top-p

_CROSSING = N_("the token whose probability makes the running total reach p was dropped (this is what "
               "keeping `cumsum <= p` does): the nucleus is the smallest set whose total is >= p, so keep "
               "a token while the probability ranked *above* it is still below p")


def _top_p_cases() -> list[Case]:
    g = torch.Generator().manual_seed(70)
    flat = torch.tensor([0.25, 0.2, 0.15, 0.3, 0.1]).log()
    peaked = torch.tensor([0.05, 0.5, 0.1, 0.3, 0.05]).log()
    tail = torch.tensor([0.0, 10.0, -20.0, -10.0])
    batch = 2 * torch.randn(4, 9, generator=g)
    crossing = translate(_CROSSING)
    named = [
        (_("probabilities [0.25, 0.2, 0.15, 0.3, 0.1], p=0.65 keeps 0.3, 0.25 and 0.2"), flat, 0.65,
         [Mistake(_only(flat, [0, 3]), crossing)]),
        (_("probabilities [0.05, 0.5, 0.1, 0.3, 0.05], p=0.7 keeps 0.5 and 0.3"), peaked, 0.7,
         [Mistake(_only(peaked, [1]), crossing)]),
        (_("the same, p=0.85 also keeps 0.1"), peaked, 0.85, [Mistake(_only(peaked, [1, 3]), crossing)]),
        (_("the same, a tiny p=0.01 keeps only the most probable"), peaked, 0.01, []),
        (_("the same, p=1 keeps everything"), peaked, 1.0, []),
        (_("logits [0, 10, -20, -10], p=1 keeps everything"), tail, 1.0, []),
        (_("a batch of 4 rows, p=0.9, each row filtered on its own"), batch, 0.9, []),
    ]
    return [Case(name, (z.clone(), p), top_p_filter(z, p), mistakes=m) for name, z, p, m in named]


def _top_p_diagnosis(case: Case, got: torch.Tensor) -> str | None:
    logits, p = case.args
    message = _filter_diagnosis(logits, case.expected, got)
    if message:
        return message
    got_kept, exp_kept = ~torch.isneginf(got), ~torch.isneginf(case.expected)
    if p >= 1.0 and bool((got_kept <= exp_kept).all()) and got_kept.any(-1).all():
        return _("with p = 1 every token must stay, but some of the least probable were removed: in "
                 "float32 the running total reaches 1.0 before the long tail ends (here at the second "
                 "token), so `mass_above < 1` fails there; treat p >= 1 as 'keep everything'")
    probs = torch.softmax(logits, dim=-1)
    for r, (pr, g_k, e_k) in enumerate(zip(_rows(probs), _rows(got_kept), _rows(exp_kept))):
        if torch.equal(g_k, e_k):
            continue
        where = _("in row {r}, ", r=r) if logits.dim() > 1 else ""
        if not g_k.any():
            return _("{where}no token survived: the most probable token must always be kept (the "
                     "probability ranked above it is 0 < p)", where=where)
        if bool((g_k <= e_k).all()):
            mass = pr[g_k].sum().item()
            return _("{where}the tokens you kept add up to {mass:.3f}, less than p = {p}: {crossing}",
                     where=where, mass=mass, p=p, crossing=translate(_CROSSING))
        if bool((e_k <= g_k).all()):
            m = int(e_k.sum())
            return _("{where}you kept {kept} tokens, but the {m} most probable already add up "
                     "to {mass:.3f} >= p = {p}: keep the *smallest* such set (a token "
                     "stays only while the probability ranked above it is below p)", where=where,
                     kept=int(g_k.sum()), m=m, mass=pr[e_k].sum().item(), p=p)
    return _count_message(logits, case.expected, got)


def check_top_p(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """``fn(logits (..., V), p)``: the nucleus of probability ``p`` of each row kept, ``-inf`` elsewhere."""
    shortcuts = [Shortcut(_sampling, "_top_p", "glmlib.sampling.top_p_filter",
                          _("sort, add up, decide in sorted order and scatter the decisions back yourself"))]
    shortcuts += _hf_shortcut("TopPLogitsWarper", _("sort, add up and decide yourself"))
    return _run("top_p", fn, _top_p_cases(), _top_p_diagnosis, shortcuts)


# ------------------------------------------------------------ min-p
# Expected values worked out by hand: probabilities chosen so that each threshold
# min_p * max(p) lies well away from every probability.

_ABSOLUTE = N_("you compared each probability with min_p itself; min-p scales the bar with the top "
               "token: keep p_i >= min_p * max_j p_j")


def _min_p_cases() -> list[Case]:
    probs = torch.tensor([0.1, 0.5, 0.05, 0.3, 0.05])
    z = probs.log()
    shifted = z + 7.0  # the same distribution: softmax ignores a constant shift
    rows = torch.tensor([[0.0, 0.1, 0.2, 0.3], [0.0, 0.0, 0.0, 5.0]])
    # row 0: p ∝ (1, 1.105, 1.221, 1.350): each >= 0.74 x the top; row 1: e^-5 = 0.0067 x the top
    filtered = torch.tensor([NEG_INF, 1.0, NEG_INF, 0.2, -0.5])
    # filtered: p ∝ (0, 2.718, 0, 1.221, 0.607): ratios to the top 1, 0.449, 0.223
    absolute = translate(_ABSOLUTE)
    named = [
        (_("p = [0.1, 0.5, 0.05, 0.3, 0.05], min_p=0.5: bar 0.25 keeps 0.5 and 0.3"), z, 0.5,
         _only(z, [1, 3]), [Mistake(_only(z, [1]), absolute)]),
        (_("the same, min_p=0.15: bar 0.075 also keeps 0.1"), z, 0.15,
         _only(z, [0, 1, 3]), [Mistake(_only(z, [1, 3]), absolute)]),
        (_("the same logits + 7 (the same distribution), min_p=0.5"), shifted, 0.5,
         _only(shifted, [1, 3]), [Mistake(shifted.clone(), translate(_LOGIT_SPACE))]),
        (_("min_p=1 keeps only the most probable"), z, 1.0, _only(z, [1]), []),
        (_("min_p=0 keeps everything"), z, 0.0, z.clone(), []),
        (_("a flat row keeps all four, a peaked row one (min_p=0.5)"), rows, 0.5,
         _only(rows, [[0, 1, 2, 3], [3]]), [Mistake(torch.full((2, 4), NEG_INF), absolute),
                                            Mistake(_only(rows, [[], [3]]), translate(_BATCH_MAX)),
                                            Mistake(_only(rows, [[0, 1, 2], [3]]), translate(_COLUMN_MAX))]),
        (_("a row that an earlier filter cut (-inf stays -inf), min_p=0.3"), filtered, 0.3,
         _only(filtered, [1, 3]), []),
    ]
    return [Case(name, (x.clone(), m), expected, mistakes=mistakes) for name, x, m, expected, mistakes in named]


_BATCH_MAX = N_("the flat row lost every token: its bar came from the top probability of the whole batch "
                "(`probs.max()`), which here is the peaked row's. Each row has its own top token: take the "
                "maximum along the last axis, `probs.max(dim=-1, keepdim=True).values`")
_COLUMN_MAX = N_("the flat row lost its top token: the maximum was taken over the batch axis (dim=0), one per "
                 "column, not one per row; take it along the last axis, "
                 "`probs.max(dim=-1, keepdim=True).values`")
_LOGIT_SPACE = N_("you compared logits, not probabilities: the rule is on p = softmax(logits), "
                  "p_i >= min_p * max_j p_j (a constant added to every logit changes nothing)")


def _min_p_diagnosis(case: Case, got: torch.Tensor) -> str | None:
    logits = case.args[0]
    message = _filter_diagnosis(logits, case.expected, got)
    if message:
        return message
    message = _count_message(logits, case.expected, got)
    difference = _count_difference(case.expected, got)
    if message and difference is not None and difference[2] == 0:  # "no token survived"
        message += _("; the top token always passes p_max >= min_p * p_max (for min_p <= 1): did you "
                     "compare logits instead of probabilities, or use > instead of >=?")
        if logits.dim() > 1:
            message += _(" Or is the bar not computed row by row (the maximum along the last axis)?")
    return message


def check_min_p(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """``fn(logits (..., V), min_p)``: tokens with probability >= ``min_p`` x the top one kept, ``-inf`` elsewhere."""
    shortcuts = _hf_shortcut("MinPLogitsWarper", _("compare each probability with min_p x the largest"))
    return _run("min_p", fn, _min_p_cases(), _min_p_diagnosis, shortcuts)


# ------------------------------------------------------------ repetition penalty
# Expected values worked out by hand (CTRL's rule, as in Hugging Face's
# RepetitionPenaltyLogitsProcessor): for a token id that occurs in the row's
# context, a positive logit is divided by the penalty, a negative one multiplied.

_NEGATIVE = N_("a negative logit was divided by the penalty, which *raises* it (-1 / 2 = -0.5 is more "
               "likely than -1): multiply negative logits by the penalty, divide positive ones")
_INVERTED = N_("a token from the context became *more* likely: with a penalty > 1, divide positive "
               "logits by it and multiply negative ones")
_EVERY_TOKEN = N_("tokens that do not occur in the context were penalised too: change only the logits "
                  "of token ids that appear in the context")
_POSITIONS = N_("you penalised tokens 0 .. T-1, the *positions* of the context, not the token ids it "
                "holds: index the logits with the ids in `context`")
_REPEATED = N_("a token that occurs c times in the context was penalised c times: penalise each token "
               "id once, however often it occurs")
_ROW_ZERO = N_("every row was penalised with row 0's context: each row of `logits` goes with the same "
               "row of `context`")
_UNION = N_("a row was penalised for tokens that occur only in another row's context: each row of "
            "`logits` goes with its own row of `context`")


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def _ids(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.int64).reshape(len(rows), -1)


def _repetition_cases() -> list[Case]:
    third = 1 / 3
    negative, inverted, every_token, positions, repeated, row_zero, union = (
        translate(m) for m in (_NEGATIVE, _INVERTED, _EVERY_TOKEN, _POSITIONS, _REPEATED, _ROW_ZERO, _UNION))
    return [
        Case(_("V=6, context [0, 1, 5], penalty 2: 2 -> 1, -1 -> -2, 0 stays 0"),
             (_t([[2.0, -1.0, 0.5, 3.0, -2.0, 0.0]]), _ids([[0, 1, 5]]), 2.0),
             _t([[1.0, -2.0, 0.5, 3.0, -2.0, 0.0]]),
             mistakes=[Mistake(_t([[1.0, -0.5, 0.5, 3.0, -2.0, 0.0]]), negative),
              Mistake(_t([[4.0, -0.5, 0.5, 3.0, -2.0, 0.0]]), inverted),
              Mistake(_t([[1.0, -2.0, 0.25, 1.5, -4.0, 0.0]]), every_token),
              Mistake(_t([[1.0, -0.5, 0.25, 1.5, -1.0, 0.0]]), every_token),
              Mistake(_t([[1.0, -2.0, 0.25, 3.0, -2.0, 0.0]]), positions),
              Mistake(_t([[1.0, -0.5, 0.25, 3.0, -2.0, 0.0]]), positions)]),
        Case(_("repeated ids: context [0, 0, 0, 1, 1, 3], penalty 1.5 penalises each id once"),
             (_t([[3.0, -1.5, 1.0, 0.5]]), _ids([[0, 0, 0, 1, 1, 3]]), 1.5),
             _t([[2.0, -2.25, 1.0, third]]),
             mistakes=[Mistake(_t([[3.0 / 1.5 ** 3, -1.5 * 1.5 ** 2, 1.0, third]]), repeated),
              Mistake(_t([[2.0, -1.0, 1.0, third]]), negative),
              Mistake(_t([[3.0 / 1.5 ** 3, -1.5 / 1.5 ** 2, 1.0, third]]), repeated)]),
        Case(_("a batch: row 0 saw [1, 1], row 1 saw [2, 0]; penalty 1.2"),
             (_t([[1.0, 2.0, -1.0], [1.0, 2.0, -1.0]]), _ids([[1, 1], [2, 0]]), 1.2),
             _t([[1.0, 2.0 / 1.2, -1.0], [1.0 / 1.2, 2.0, -1.2]]),
             mistakes=[Mistake(_t([[1.0, 2.0 / 1.2, -1.0], [1.0, 2.0 / 1.2, -1.0]]), row_zero),
              Mistake(_t([[1.0 / 1.2, 2.0 / 1.2, -1.2], [1.0 / 1.2, 2.0 / 1.2, -1.2]]), union),
              Mistake(_t([[1.0, 2.0 / 1.2, -1.0 / 1.2], [1.0 / 1.2, 2.0, -1.0 / 1.2]]), negative)]),
        Case(_("penalty 1 changes nothing"), (_t([[0.3, -0.7, 1.1]]), _ids([[0, 1, 2]]), 1.0),
             _t([[0.3, -0.7, 1.1]])),
        Case(_("penalty 0.5 < 1 encourages repetition: 2 -> 4, -1 -> -0.5"),
             (_t([[2.0, -1.0, 0.5]]), _ids([[0, 1]]), 0.5), _t([[4.0, -0.5, 0.5]]),
             mistakes=[Mistake(_t([[4.0, -2.0, 0.5]]), _(
                 "a negative logit was divided by the penalty, which *moves* it the wrong way: multiply "
                 "negative logits by the penalty, divide positive ones"))]),
        Case(_("an empty context (T=0) changes nothing"),
             (_t([[0.4, -0.2, 0.9]]), torch.zeros(1, 0, dtype=torch.int64), 1.3), _t([[0.4, -0.2, 0.9]])),
    ]


def _repetition_diagnosis(case: Case, got: torch.Tensor) -> str | None:
    logits, context, penalty = case.args
    seen = torch.zeros(logits.shape, dtype=torch.bool)
    for r, row in enumerate(context.tolist()):
        for i in row:
            seen[r, i] = True
    changed = got != logits
    if not changed.any() and penalty != 1.0 and seen.any():
        return _("your function returns the logits unchanged: with penalty {penalty:g}, the logits of the "
                 "tokens that occur in the context must change (a positive one divided by the penalty, a "
                 "negative one multiplied). Did you return `logits` itself, or change a copy and return the "
                 "original?", penalty=penalty)
    outside = changed & ~seen
    if outside.any():
        r, i = (int(x) for x in torch.nonzero(outside)[0])
        return _("token {i} does not occur in row {r}'s context, but its logit changed from "
                 "{was:.4g} to {now:.4g}: only token ids in the context "
                 "are penalised", i=i, r=r, was=logits[r, i].item(), now=got[r, i].item())
    return None


def check_repetition_penalty(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """``fn(logits (B, V), context (B, T) int64, penalty)``: CTRL's penalty on the ids in each row's context."""
    shortcuts = _hf_shortcut("RepetitionPenaltyLogitsProcessor",
                             _("find the ids of each row's context and change their logits yourself"))
    return _run("repetition_penalty", fn, _repetition_cases(), _repetition_diagnosis, shortcuts)
