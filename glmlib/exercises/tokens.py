"""Checkers for notebook 02 (tokens and batches).

Four exercises: an ``encode`` that maps unknown characters to a given id and
reports them; the ``(context, target)`` examples of a sequence under a block
size; a batcher whose windows never cross a document boundary (the transfer
exercise); and the gradient of an embedding table. Expected values are worked
out by hand (written below as literals) or come from PyTorch (autograd through
``F.embedding``); the values that common mistakes give are listed with each
case, so that a wrong answer gets a diagnosis. The worked solutions live in
the notebook.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from ..i18n import _, translate
from .checking import (N_, Case, CheckResult, Mistake, Shortcut, _type_slip, all_pass, call_learner, failed,
                       in_case, judge, not_yet, passed, require_callable, run_cases, same, with_details)

# ------------------------------------------------------------------ exercise 1: encode with <unk>

_SMALL = {"a": 0, "b": 1, "c": 2, " ": 3}  # unk_id 4
_WITH_SPECIALS = {"x": 0, "y": 1, "<bos>": 2, "<unk>": 3}  # unk_id 3 (not len(stoi) = 4)

# (name, text, stoi, unk_id, expected ids, expected unknown characters), worked out by hand
_ENCODE_CASES: list[tuple[str, str, dict, int, list[int], list[str]]] = [
    (N_("every character known"), "a cab", _SMALL, 4, [0, 3, 2, 0, 1], []),
    (N_("one unknown character at the end"), "abd", _SMALL, 4, [0, 1, 4], ["d"]),
    (N_("unknown characters repeated, in an order that is not sorted"), "dad, bad!", _SMALL, 4,
     [4, 0, 4, 4, 3, 1, 0, 4, 4], ["d", ",", "!"]),
    (N_("unk_id is not len(stoi)"), "xyz<", _WITH_SPECIALS, 3, [0, 1, 3, 3], ["z", "<"]),
    (N_("a special token spelled out is five ordinary characters"), "<bos>", _WITH_SPECIALS, 3,
     [3, 3, 3, 3, 3], ["<", "b", "o", "s", ">"]),
    (N_("the empty text"), "", _SMALL, 4, [], []),
]


def _as_ids_and_unknown(fn: Callable) -> Callable:
    """Accept a list or a 1-D tensor of ids and a list (or string) of characters; compare plain lists."""
    def wrapped(text: str, stoi: dict, unk_id: int) -> tuple[list[int], list[str]]:
        out = fn(text, dict(stoi), unk_id)
        if out is None or out is Ellipsis:
            return out
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(_("return a pair (ids, unknown), e.g. ([0, 4], ['d']); got {kind}",
                              kind=type(out).__name__))
        ids, unknown = out
        if isinstance(unknown, (set, frozenset)):
            raise TypeError(_("return the unknown characters as a list in the order they first appear; "
                              "a set has no order"))
        if isinstance(ids, torch.Tensor):
            if ids.is_floating_point() or ids.dtype == torch.bool:
                raise TypeError(_("your ids tensor has dtype {dtype}: token ids are integers (an embedding "
                                  "table is indexed with them), e.g. a list of ints or an int64 tensor",
                                  dtype=ids.dtype))
            ids = ids.tolist()
        try:
            return [_token_id(i) for i in ids], [str(c) for c in unknown]
        except (TypeError, ValueError):
            raise TypeError(_("ids must be a list of ints and unknown a list of characters, got {out!r}",
                              out=out)) from None
    return wrapped


def _token_id(value: Any) -> int:
    """``value`` as a token id: an int (or an integer 0-d tensor), never a float or a bool."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point() \
            and value.dtype != torch.bool:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(_("token ids are integers, got {kind} {value!r}", kind=type(value).__name__, value=value))
    return value


def _encode_cases() -> list[Case]:
    cases = []
    for name, text, stoi, unk, ids, unknown in _ENCODE_CASES:
        seen_each_time = [c for c in text if c not in stoi]
        mistakes = [
            Mistake(([i for i in ids if i != unk], unknown),
                    _("your ids are shorter than the text: every character, known or not, must give exactly one "
                      "id (unk_id for an unknown one), or every later position shifts")),
            Mistake((ids, seen_each_time), _("an unknown character is listed once for every time it occurs: "
                                             "list each distinct unknown character once")),
            Mistake((ids, sorted(unknown)), _("the unknown characters are right but in the wrong order: list "
                                              "them in the order they first appear in the text")),
            Mistake(([len(stoi) if i == unk else i for i in ids], unknown),
                    _("unknown characters must get the id you were given, unk_id, not len(stoi)")),
            Mistake(([-1 if i == unk else i for i in ids], unknown),
                    _("unknown characters must get the id you were given, unk_id, not -1")),
            Mistake((ids, []), _("the ids are right but you reported no unknown characters: return the "
                                 "distinct characters that were not in stoi")),
        ]
        cases.append(Case(with_details(translate(name), f"text={text!r}, unk_id={unk}"), (text, stoi, unk),
                          (ids, unknown), mistakes=mistakes))
    return cases


def check_encode_with_unk(fn: Callable[[str, dict, int], tuple[list[int], list[str]]]) -> CheckResult:
    """``fn(text, stoi, unk_id)`` must return ``(ids, unknown)``: one id per character (``unk_id``
    for a character not in ``stoi``) and the distinct unknown characters in order of first appearance."""
    return run_cases("encode_with_unk", _as_ids_and_unknown(fn), _encode_cases())


# ------------------------------------------------------------------ exercise 2: (context, target) pairs

# (name, ids, block_size, expected pairs), worked out by hand
_PAIR_CASES: list[tuple[str, list[int], int, list[tuple[list[int], int]]]] = [
    (N_("block_size longer than the sequence: contexts grow from the start"), [5, 6, 7, 8], 8,
     [([5], 6), ([5, 6], 7), ([5, 6, 7], 8)]),
    (N_("block_size 2: contexts keep the last two tokens"), [5, 6, 7, 8, 9], 2,
     [([5], 6), ([5, 6], 7), ([6, 7], 8), ([7, 8], 9)]),
    (N_("block_size 1: a bigram model's examples"), [1, 2, 3, 4], 1, [([1], 2), ([2], 3), ([3], 4)]),
    (N_("repeated tokens, block_size 3"), [1, 1, 2, 1, 1], 3,
     [([1], 1), ([1, 1], 2), ([1, 1, 2], 1), ([1, 2, 1], 1)]),
    (N_("one token gives no example"), [4], 3, []),
    (N_("the empty sequence"), [], 3, []),
]


def _as_pairs(fn: Callable) -> Callable:
    """Accept lists, tuples or tensors for the contexts; compare plain ``(list, int)`` pairs."""
    def wrapped(ids: Sequence[int], block_size: int) -> list[tuple[list[int], int]]:
        out = fn(list(ids), block_size)
        if out is None or out is Ellipsis:
            return out
        if isinstance(out, torch.Tensor):
            raise TypeError(_("return a list of (context, target) pairs, e.g. [([5], 6), ([5, 6], 7)], not a "
                              "tensor"))
        try:
            pairs = [(ctx.tolist() if isinstance(ctx, torch.Tensor) else ctx, tgt) for ctx, tgt in out]
        except (TypeError, ValueError):
            raise TypeError(_("return a list of (context, target) pairs, e.g. [([5], 6), ([5, 6], 7)], "
                              "got {out!r}", out=out)) from None
        floats = [v for ctx, tgt in pairs for v in (*ctx, tgt) if isinstance(v, float)
                  or (isinstance(v, torch.Tensor) and v.is_floating_point())]
        if floats:
            raise TypeError(_("your pairs hold the float {value!r}: token ids are integers; keep them as "
                              "the ints of `ids`", value=floats[0]))
        try:
            return [([int(i) for i in ctx], int(tgt)) for ctx, tgt in pairs]
        except (TypeError, ValueError):
            raise TypeError(_("return a list of (context, target) pairs, e.g. [([5], 6), ([5, 6], 7)], "
                              "got {out!r}", out=out)) from None
    return wrapped


def _pairs_cases() -> list[Case]:
    cases = []
    for name, ids, T, pairs in _PAIR_CASES:
        n = len(ids)
        mistakes = [
            Mistake([(ids[:t], ids[t]) for t in range(1, n)],
                    _("your contexts grow past block_size: the model sees at most the last block_size tokens "
                      "before the target, ids[t - block_size : t]")),
            Mistake([(ids[max(0, t - T - 1):t], ids[t]) for t in range(1, n)],
                    _("your contexts hold block_size + 1 tokens: keep only the last block_size")),
            Mistake([(ids[max(0, t - T + 1):t], ids[t]) for t in range(1, n)],
                    _("your contexts hold block_size - 1 tokens (and some are empty): keep the last block_size")),
            Mistake([(ids[t - T:t], ids[t]) for t in range(1, n)],
                    _("when t < block_size, ids[t - block_size : t] starts at a *negative* index, which Python "
                      "counts from the end of the list: clamp the start with max(0, t - block_size)")),
            Mistake([(ids[:min(t, T)], ids[t]) for t in range(1, n)],
                    _("your contexts are the *first* tokens of the sequence: take the last block_size tokens "
                      "just before the target")),
            Mistake([(ids[max(0, t - T):t], ids[t]) for t in range(0, n)],
                    _("you included a pair with an empty context: the first target is ids[1], predicted from "
                      "ids[:1] (a sequence of n tokens gives n - 1 examples)")),
            Mistake([(ids[max(0, t - T):t], ids[t]) for t in range(1, n - 1)],
                    _("the last example, whose target is ids[-1], is missing: n tokens give n - 1 examples")),
            Mistake([(ids[max(0, t - T):t + 1], ids[t]) for t in range(1, n)],
                    _("your contexts include the target itself: the context is what comes *before* ids[t]")),
        ]
        cases.append(Case(with_details(translate(name), f"ids={ids}, block_size={T}"), (ids, T), pairs,
                          mistakes=mistakes))
    return cases


def check_context_target_pairs(fn: Callable[[Sequence[int], int], list]) -> CheckResult:
    """``fn(ids, block_size)`` must list the ``len(ids) - 1`` pairs ``(ids[max(0, t-T):t], ids[t])``."""
    return run_cases("context_target_pairs", _as_pairs(fn), _pairs_cases())


# ------------------------------------------------------------------ exercise 3: batches inside documents

_BASE = 50  # data[i] = _BASE + i, so a window's values say where it was cut from


# (name, doc_lengths, block_size, batch_size, seed, valid starts worked out by hand, {mistake: the starts
# that mistake lists, worked out by hand; a "loose" list may end with a start whose y runs past the data})
_DOC_CASES: list[tuple[str, list[int], int, int, int, list[int], dict[str, list[int]]]] = [
    (N_("three documents"), [5, 3, 6], 2, 6, 0, [0, 1, 2, 5, 8, 9, 10, 11],
     {"loose": [0, 1, 2, 3, 5, 6, 8, 9, 10, 11, 12], "strict": [0, 1, 8, 9, 10],
      "relative": [0, 1, 2, 0, 0, 1, 2, 3], "ignore": list(range(12))}),
    (N_("a document too short for any window"), [4, 2, 7], 3, 5, 1, [0, 6, 7, 8, 9],
     {"loose": [0, 1, 6, 7, 8, 9, 10], "strict": [6, 7, 8], "relative": [0, 0, 1, 2, 3],
      "ignore": list(range(10))}),
    (N_("one document: the same as get_batch"), [10], 4, 4, 2, [0, 1, 2, 3, 4, 5],
     {"loose": [0, 1, 2, 3, 4, 5, 6], "strict": [0, 1, 2, 3, 4]}),
    (N_("documents of exactly block_size + 1 tokens: one window each"), [3, 3, 3], 2, 4, 3, [0, 3, 6],
     {"loose": [0, 1, 3, 4, 6, 7], "relative": [0, 0, 0], "ignore": list(range(7))}),
    (N_("block_size 1"), [2, 1, 3], 1, 3, 4, [0, 3, 4],
     {"loose": [0, 1, 2, 3, 4, 5], "strict": [3], "relative": [0, 0, 1], "ignore": list(range(5))}),
]
_NO_WINDOW = (N_("no document long enough: raise ValueError"), [2, 3, 1], 3, 2, 5)

_DOC_MISTAKES = {  # translated when a case is built
    "loose": N_("a window's y runs one token into the next document: x *and* y need block_size + 1 tokens inside "
                "one document, so a start s is valid only while s + block_size + 1 <= the document's end"),
    "strict": N_("you left out the last window of each document: a start s is valid while s + block_size + 1 <= "
                 "the document's end, so y may end exactly on the document's last token"),
    "relative": N_("your starts are counted from the beginning of each document: add the document's offset in "
                   "data (the sum of the lengths of the documents before it)"),
    "ignore": N_("your windows ignore the document boundaries (any start from 0 to len(data) - block_size - 1, "
                 "as in get_batch): keep only the starts whose window stays inside one document"),
}


def _draw(data: torch.Tensor, starts: list[int], batch_size: int, block_size: int,
          seed: int) -> torch.Tensor | None:
    """The prescribed draw from a list of starts: ``(x, y)`` stacked as ``(2, B, T)``.

    ``None`` when a drawn window would run past the end of the data (code with
    that list of starts raises instead of returning a batch).
    """
    pick = torch.randint(len(starts), (batch_size,), generator=torch.Generator().manual_seed(seed))  # (B,)
    s = torch.tensor(starts, dtype=torch.long)[pick]  # (B,)
    if int(s.max()) + block_size + 1 > len(data):
        return None
    windows = data[s[:, None] + torch.arange(block_size + 1)]  # (B, T + 1): the tokens of x and y
    return torch.stack((windows[:, :-1], windows[:, 1:]))  # (2, B, T)


def _batch_of(fn: Callable, data: torch.Tensor, doc_lengths: list[int], batch_size: int, block_size: int,
              seed: int) -> Any:
    """Call the learner's batcher with a fresh seeded generator; ``(x, y)`` stacked as ``(2, B, T)``."""
    out = fn(data.clone(), list(doc_lengths), batch_size, block_size, torch.Generator().manual_seed(seed))
    if out is None or out is Ellipsis:
        return out
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
        raise TypeError(_("return a pair of tensors (x, y), got {kind}", kind=type(out).__name__))
    x, y = out
    if x.shape != (batch_size, block_size) or y.shape != (batch_size, block_size):
        raise ValueError(_("x and y must both have shape (batch_size, block_size) = {shape}, got {x_shape} and "
                           "{y_shape}", shape=(batch_size, block_size), x_shape=tuple(x.shape),
                           y_shape=tuple(y.shape)))
    if x.dtype != data.dtype or y.dtype != data.dtype:
        raise TypeError(_("x and y hold token ids: keep data's dtype, {dtype} (an embedding table is indexed "
                          "with integers); got {x_dtype} and {y_dtype}", dtype=data.dtype, x_dtype=x.dtype,
                          y_dtype=y.dtype))
    return torch.stack((x, y))  # (2, B, T): [0] is x, [1] is y


def _explain_windows(got: torch.Tensor, doc_lengths: list[int], block_size: int) -> str:
    """What is wrong with a batch that matches no catalogued mistake: look at every window."""
    x, y = got[0].long() - _BASE, got[1].long() - _BASE  # positions in data
    ends = torch.tensor(doc_lengths).cumsum(0)  # (D,): each document's end
    N = int(ends[-1])
    steps = torch.arange(block_size)
    for b in range(x.shape[0]):
        s = int(x[b, 0])
        if not (0 <= s and s + block_size <= N and torch.equal(x[b], s + steps)):
            return _("x[{b}] is not a contiguous slice data[s : s + block_size] of the data", b=b)
        if not torch.equal(y[b], s + 1 + steps):
            return _("y[{b}] is not x[{b}] shifted by one token: y[b, t] must be the token after x[b, t], "
                     "data[s + 1 : s + block_size + 1]", b=b)
        first, last = int(torch.searchsorted(ends, s, right=True)), int(torch.searchsorted(ends, s + block_size,
                                                                                            right=True))
        if first != last:
            return _("window {b} starts at {start} in document {first} but its last target is in document "
                     "{last}: every window, x and y, must stay inside one document", b=b, start=s, first=first,
                     last=last)
    return _("every window stays inside one document, but they are not the windows the prescribed draw picks: "
             "make `starts` the list of *every* valid start, in increasing order, and draw once with "
             "`torch.randint(len(starts), (batch_size,), generator=generator)`")


def check_doc_batch(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> CheckResult:
    """``fn(data, doc_lengths, batch_size, block_size, generator)`` must draw ``(x, y)`` windows that
    never cross a document boundary, with the prescribed ``torch.randint`` draw over the valid starts."""
    exercise = "doc_batch"
    problem = require_callable(exercise, fn)
    if problem is not None:
        return problem
    for name, lengths, T, B, seed, starts, wrong in _DOC_CASES:
        data = _BASE + torch.arange(sum(lengths))  # (N,)
        drawn = {kind: _draw(data, s, B, T, seed) for kind, s in wrong.items()}
        case = Case(with_details(translate(name), f"doc_lengths={lengths}, block_size={T}, batch_size={B}"),
                    (fn, data, lengths, B, T, seed), _draw(data, starts, B, T, seed),
                    mistakes=[Mistake(value, translate(_DOC_MISTAKES[kind])) for kind, value in drawn.items()
                              if value is not None])
        raised: list[Exception] = []  # what the learner's code raised, to explain it (whatever the language)

        def batch_of(*args: Any) -> Any:
            try:
                return _batch_of(*args)
            except Exception as err:
                raised.append(err)
                raise

        got, early = call_learner(exercise, batch_of, case)
        if early is not None:
            error = raised[-1] if raised else None
            detail = str(error) if error is not None else ""
            if "only integer tensors of a single element" in detail:
                return failed(exercise, _("{message}. A Python list cannot be indexed with a tensor of "
                                          "indices: make `starts` a tensor first, `torch.tensor(starts)[pick]`",
                                          message=early.message))
            if type(error).__name__ == "IndexError" or "stack expects" in detail:
                return failed(exercise, _("{message}. A window ran past the end of the data: is a start "
                                          "near the end of the last document allowed although its y would need "
                                          "a token after it? A start s is valid only while s + block_size + 1 "
                                          "<= the end of its document", message=early.message))
            return early
        verdict = judge(exercise, case, got)
        if verdict is not None:
            plain = (not any(same(m.value, got) for m in case.mistakes)  # judge said only "expected ..., got ..."
                     and _type_slip(case.expected, got) is None)
            if isinstance(got, torch.Tensor) and got.shape == case.expected.shape and plain:
                return failed(exercise, in_case(case.name, _explain_windows(got, lengths, T)))
            return verdict
    name, lengths, T, B, seed = _NO_WINDOW
    data = _BASE + torch.arange(sum(lengths))
    where = with_details(translate(name), f"doc_lengths={lengths}, block_size={T}")
    try:
        out = fn(data, list(lengths), B, T, torch.Generator().manual_seed(seed))
    except NotImplementedError:
        return not_yet(exercise)
    except ValueError:
        pass
    except Exception as err:  # noqa: BLE001 (the learner's code raised something else)
        return failed(exercise, in_case(where, _(
            "no document has block_size + 1 tokens, so there is no valid window; raise a ValueError that says so "
            "(your code raised {error}: {detail})", error=type(err).__name__, detail=err)))
    else:
        return failed(exercise, in_case(where, _(
            "no document has block_size + 1 tokens, so there is no valid window; raise a ValueError that says so "
            "(your code returned {kind})", kind=type(out).__name__)))
    return passed(exercise, all_pass(len(_DOC_CASES) + 1))


# ------------------------------------------------------------------ exercise 4: the embedding's gradient

def _autograd_grad(ids: torch.Tensor, grad_out: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """The reference: PyTorch's autograd through ``F.embedding``, ``(V, C)``."""
    weight = torch.zeros(vocab_size, grad_out.shape[-1], dtype=grad_out.dtype, requires_grad=True)
    F.embedding(ids, weight).backward(grad_out)
    return weight.grad.detach()


def _grad_cases() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    specs = [
        (_("a sequence (T,) with no repeated token"), torch.tensor([0, 3, 1]), 5, 2),
        (_("a sequence in which token 2 occurs three times"), torch.tensor([2, 2, 0, 2]), 4, 3),
        (_("a batch (B, T) with repeats across sequences"), torch.tensor([[1, 2, 1], [0, 1, 3]]), 5, 2),
        (_("a larger batch (4, 8), V=7, C=5"), torch.randint(7, (4, 8), generator=g), 7, 5),
    ]
    cases = []
    for name, ids, V, C in specs:
        grad_out = torch.randn(*ids.shape, C, generator=g)  # (..., C)
        expected = _autograd_grad(ids, grad_out, V)  # (V, C)
        flat_ids, flat_grad = ids.reshape(-1), grad_out.reshape(-1, C)  # (N,), (N, C)
        last_wins = torch.zeros(V, C)
        for n, i in enumerate(flat_ids.tolist()):  # a write per occurrence: the last one stays
            last_wins[i] = flat_grad[n]
        counts = torch.bincount(flat_ids, minlength=V).clamp_min(1)[:, None]  # (V, 1)
        mistakes = [
            Mistake(last_wins, _("a token that occurs several times must get the *sum* of the gradients of all "
                                 "its occurrences; yours keeps only one. (`grad[ids] = ...` and `grad[ids] += ...` "
                                 "with repeated ids write instead of adding: use `index_add_`, "
                                 "`index_put_(..., accumulate=True)` or the one-hot product.)")),
            Mistake(expected / counts, _("you averaged the gradients of a repeated token: the occurrences add up")),
            Mistake(expected.T, _("your result is (C, V): the gradient has the shape of the table, (V, C)")),
        ]
        if ids.dim() == 2:
            one_hot = F.one_hot(ids, V).float()  # (B, T, V)
            mistakes.append(Mistake(one_hot.transpose(1, 2) @ grad_out,
                                    _("you have one gradient table per sequence, shape (B, V, C): the table is "
                                      "shared by all sequences, so sum over the batch too (flatten ids to (N,) "
                                      "and grad_out to (N, C))")))
        details = _("ids shape {shape}, V={V}, C={C}", shape=tuple(ids.shape), V=V, C=C)
        cases.append(Case(with_details(name, details), (ids, grad_out, V), expected, mistakes=mistakes))
    return cases


def check_embedding_grad(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """``fn(ids, grad_out, vocab_size)`` must return ``dL/dW`` ``(V, C)`` for ``emb = W[ids]``, without autograd."""
    hint = _("compute the gradient directly: row i of dL/dW is the sum of grad_out over the positions where "
             "ids == i")
    shortcuts = [Shortcut(torch.Tensor, "backward", "Tensor.backward", hint),
                 Shortcut(torch.autograd, "backward", "torch.autograd.backward", hint),
                 Shortcut(torch.autograd, "grad", "torch.autograd.grad", hint)]
    return run_cases("embedding_grad", fn, _grad_cases(), atol=1e-5, shortcuts=shortcuts)
