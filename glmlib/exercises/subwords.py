"""Checkers for notebook 09 (from characters to subwords).

Three exercises on byte-level BPE: one merge step (count the adjacent pairs,
merge the most frequent, ties broken as ``glmlib.bpe`` breaks them), decoding
ids with a list of merges, and encoding a text with them (the transfer
exercise). The visible cases are worked out by hand and written below as
literals, each with the values the classic slips give on it (merging
overlapping pairs in ``"aaa"``, the wrong tie-break, merges applied in the
wrong order, code points instead of UTF-8 bytes, bytes decoded one token at a
time). The fresh cases draw texts of arbitrary Unicode with a seeded
``torch.Generator``; their expected values come from ``glmlib.bpe`` (the
library's tokenizer, tested against Hugging Face ``tokenizers`` built with the
same merges) or, for a round trip, from the text itself. The worked solutions
live in the notebook, not here.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Sequence

import torch

from .. import bpe as _bpe
from ..bpe import BPETokenizer
from ..i18n import _, translate
from .checking import N_, Case, CheckResult, Mistake, forbidden
from .diagnosing import run_diagnosed

# ------------------------------------------------------------------ fresh texts

# Code point ranges a fresh text draws from: ASCII letters and spaces (so that pairs repeat), accented
# Latin, Chinese, emoji and anything else in Unicode (no surrogates, which UTF-8 cannot encode).
_ALPHABET = "aab ab  ba"
_RANGES = [(0x20, 0x7F), (0xC0, 0x180), (0x4E00, 0x4E40), (0x1F600, 0x1F610), (0x80, 0xD800),
           (0xE000, 0x110000)]


def random_text(seed: int, n: int = 60, wild: bool = True) -> str:
    """A seeded text of ``n`` characters: mostly a small alphabet (repeated pairs), some arbitrary Unicode."""
    g = torch.Generator().manual_seed(seed)
    chars = []
    for _position in range(n):
        kind = int(torch.randint(0, 4 if wild else 1, (1,), generator=g))
        if kind == 0 or not wild:
            chars.append(_ALPHABET[int(torch.randint(0, len(_ALPHABET), (1,), generator=g))])
        else:
            low, high = _RANGES[int(torch.randint(0, len(_RANGES), (1,), generator=g))]
            chars.append(chr(int(torch.randint(low, high, (1,), generator=g))))
    return "".join(chars)


def _as_ids(value: Any, what: str) -> list[int]:
    """A list (or 1-D tensor) of ints as a plain list of ints; a ``TypeError`` naming the problem otherwise."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 1 or value.is_floating_point() or value.dtype == torch.bool:
            raise TypeError(_("{what} must be a list of ints (or a 1-D integer tensor), got a tensor of shape "
                              "{shape} and dtype {dtype}", what=what, shape=tuple(value.shape), dtype=value.dtype))
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        raise TypeError(_("{what} must be a list of token ids, got {kind}: turn bytes into ids "
                          "with list(b)", what=what, kind=type(value).__name__))
    if not isinstance(value, (list, tuple)):
        raise TypeError(_("{what} must be a list of ints, got {kind}", what=what, kind=type(value).__name__))
    out = []
    for v in value:
        if isinstance(v, torch.Tensor) and v.dim() == 0 and not v.is_floating_point():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(_("{what} must hold ints (token ids), got {kind} {value!r:.40}", what=what,
                              kind=type(v).__name__, value=v))
        out.append(v)
    return out


def _forbidden_tokenizers(fn: Callable) -> list:
    """The library's tokenizer and Hugging Face's, which the exercises ask the learner to write."""
    hint = _("write it with lists, dicts and bytes: the point is to see every step")
    # (BPETokenizer.train, a classmethod, is reached through the trainer it calls: swapping a classmethod
    # on its class and back would leave a bound method in the class's place)
    targets = [(BPETokenizer, name, f"BPETokenizer.{name}", hint)
               for name in ("encode", "decode", "_encode_chunk", "_encode_ordinary", "with_merges", "token_bytes")]
    targets += [(_bpe, "_train_merges", _("glmlib.bpe's trainer (BPETokenizer.train)"), hint)]
    try:
        import tokenizers as hf
        targets += [(hf, "Tokenizer", "tokenizers.Tokenizer (Hugging Face)", hint)]
        targets += [(hf.models, "BPE", "tokenizers.models.BPE (Hugging Face)", hint)]
    except ImportError:  # pragma: no cover - the course's environment has it (transformers needs it)
        pass
    return forbidden(fn, targets)


def _reference(merges: Sequence[tuple[int, int]]) -> BPETokenizer:
    """The library's tokenizer with these merges and no pre-split: the whole text is one chunk."""
    return BPETokenizer(list(merges), pattern=None)


def _trained(text: str, n_merges: int) -> BPETokenizer:
    """Merges learned on ``text`` as one chunk (``glmlib.bpe``; its tie-break is the exercise's)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short text may run out of pairs: fewer merges, that is all
        return BPETokenizer.train(text, 256 + n_merges, pattern=None)


# ------------------------------------------------------------------ exercise 1: one merge step

def _ids(text: str) -> list[int]:
    return list(text.encode("utf-8"))


TIE = N_("among equally frequent pairs merge the one with the smallest (tie_break_key(a), tie_break_key(b)): "
         "for letters and digits that is the smallest pair of ids, but the bytes 0-32 (space and newline among "
         "them), 127-160 and 173 come after every other byte, and merged tokens after all bytes")


def _told(message: str, **values: Any) -> str:
    """A message of a module-level table (marked with ``N_``), translated now, its ``{placeholders}`` filled."""
    text = translate(message)
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):  # a broken catalogue entry: the English rather than an error
        return message.format(**values)


# (name, ids, new_id, expected pair, expected ids, [(mistaken pair, mistaken ids, message)]): by hand; the
# names and messages are translated when a check builds its cases ({tie}: the tie-break rule, TIE)
_STEP_CASES: list[tuple[str, list[int], int, tuple[int, int], list[int], list[tuple]]] = [
    (N_("Wikipedia's 'aaabdaaabac'"), _ids("aaabdaaabac"), 256, (97, 97), [256, 97, 98, 100, 256, 97, 98, 97, 99], [
        ((97, 97), [97, 256, 98, 100, 97, 256, 98, 97, 99],
         N_("you merged from the right: in 'aaa' the first two a's merge (scan left to right), giving "
           "[new_id, a]")),
        ((97, 97), _ids("aaabdaaabac"),
         N_("you found the right pair but returned the ids unchanged: replace each occurrence by new_id")),
    ]),
    (N_("'aaa': overlapping pairs"), _ids("aaa"), 256, (97, 97), [256, 97], [
        ((97, 97), [256, 256],
         N_("you merged overlapping pairs: 'aaa' holds (a, a) twice, but after the first two a's merge only "
            "one a is left, so the answer is [new_id, a]; skip past a pair you merged")),
        ((97, 97), [256, 256, 97],
         N_("you merged overlapping pairs and kept every byte too: 'aaa' must become [new_id, a]; after a "
            "merge, skip both ids of the pair")),
        ((97, 97), [97, 256], N_("you merged from the right: scan left to right, so 'aaa' becomes [new_id, a]")),
    ]),
    ("'aaaa'", _ids("aaaa"), 300, (97, 97), [300, 300], [
        ((97, 97), [300, 300, 300],
         N_("you merged overlapping pairs: 'aaaa' becomes two new tokens, [new_id, new_id], not three")),
    ]),
    (N_("'cdab': every pair once"), _ids("cdab"), 256, (97, 98), [99, 100, 256], [
        ((99, 100), [256, 97, 98],
         N_("every pair occurs once and you took the first one seen; {tie}")),
        ((100, 97), [99, 256, 98], N_("every pair occurs once and you took the largest; {tie}")),
    ]),
    (N_("'a a': a space in the tie"), _ids("a a"), 256, (97, 32), [256, 97], [
        ((32, 97), [97, 256],
         N_("both pairs occur once and you took the smallest pair of ids, (32, 97); {tie} "
            "(tie_break_key(32) > tie_break_key(97))")),
    ]),
    (N_("the second merge of 'aaabdaaabac': a tie"), [256, 97, 98, 100, 256, 97, 98, 97, 99], 257, (97, 98),
     [256, 257, 100, 256, 257, 97, 99], [
         ((256, 97), [257, 98, 100, 257, 98, 97, 99],
          N_("(256, 97) and (97, 98) both occur twice and you took the first one seen; {tie}")),
     ]),
    (N_("'aaabcbc': overlapping pairs count"), _ids("aaabcbc"), 256, (97, 97), [256, 97, 98, 99, 98, 99], [
        ((98, 99), [97, 97, 97, 256, 256],
         N_("(a, a) occurs twice in 'aaa' (positions 0-1 and 1-2) and ties with (b, c): count every adjacent "
            "pair, overlapping ones included (str.count and bytes.count skip overlaps); then {tie}")),
    ]),
    (N_("'éé': two-byte characters"), _ids("éé"), 256, (195, 169), [256, 256], [
        ((169, 195), [195, 256, 169],
         N_("(195, 169) occurs twice, once per 'é'; (169, 195) only once: count each pair (ids[i], ids[i+1])")),
    ]),
]


def _step_case(name: str, ids: list[int], new_id: int, pair: tuple[int, int], out: list[int],
               slips: list[tuple]) -> Case:
    tie = translate(TIE)
    return Case(_("{name}: ids={ids}, new_id={new_id}", name=translate(name), ids=ids, new_id=new_id),
                (list(ids), new_id), (pair, out),
                mistakes=[Mistake((p, o), _told(message, tie=tie)) for p, o, message in slips])


def _fresh_step_cases() -> list[Case]:
    """Random texts: the first and second merge that glmlib.bpe learns on each, as one chunk."""
    cases = []
    for seed, wild in ((0, False), (1, True), (2, True)):
        text = random_text(seed, 40, wild)
        tok = _trained(text, 2)
        if len(tok.merges) < 2:
            continue
        first = tok.with_merges(1).encode(text)
        cases.append(Case(_("a fresh text {text!r} (first merge)", text=text), (_ids(text), 256),
                          (tok.merges[0], first)))
        cases.append(Case(_("a fresh text {text!r} (second merge, after the first)", text=text), (first, 257),
                          (tok.merges[1], tok.encode(text))))
    return cases


def _as_step(fn: Callable) -> Callable:
    def wrapped(ids: list[int], new_id: int) -> Any:
        out = fn(list(ids), new_id)
        if out is None or out is Ellipsis:
            return out
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(_("return a pair (pair, new_ids), e.g. ((97, 97), [256, 97]); got {kind}",
                              kind=type(out).__name__))
        pair, new_ids = out
        pair = _as_ids(pair, _("the pair"))
        if len(pair) != 2:
            raise TypeError(_("the pair must be two ids (a, b), got {pair!r}", pair=pair))
        return tuple(pair), _as_ids(new_ids, _("the new ids"))
    return wrapped


def _diagnose_step(case: Case, got: Any) -> str | None:
    """What a wrong merge step on a fresh case looks like, from its counts and its merge."""
    ids, new_id = case.args
    (pair, expected_ids), (got_pair, got_ids) = case.expected, got
    counts = Counter(zip(ids, ids[1:]))
    if got_pair != pair:
        if counts[got_pair] == counts[pair]:
            return _("{got_pair} and {pair} both occur {n} times; {tie}", got_pair=got_pair, pair=pair,
                     n=counts[pair], tie=translate(TIE))
        if counts[got_pair] < counts[pair] and Counter(zip(ids[1:], ids))[got_pair] == counts[pair]:
            return _("your pair {got_pair} is reversed: a pair is (ids[i], ids[i + 1]), the earlier id first; "
                     "count zip(ids, ids[1:])", got_pair=got_pair)
        if counts[got_pair] < counts[pair]:
            return _("{pair} occurs {n} times, more than your {got_pair} ({got_n}): count "
                     "every adjacent pair, overlapping ones included", pair=pair, n=counts[pair], got_pair=got_pair,
                     got_n=counts[got_pair])
        return None
    if got_ids.count(new_id) > expected_ids.count(new_id):
        return _("you made more new tokens than there are non-overlapping pairs: after merging ids[i], ids[i+1], "
                 "continue at i + 2 (in 'aaa' only the first two a's merge)")
    if got_ids == ids:
        return _("you found the right pair but returned the ids unchanged: replace each occurrence by new_id")
    return None


def check_merge_step(fn: Callable[[list[int], int], tuple[tuple[int, int], list[int]]]) -> CheckResult:
    """``fn(ids, new_id)`` must return ``(pair, new_ids)``: the most frequent adjacent pair (ties by
    ``tie_break_key``) and ``ids`` with each occurrence, left to right, replaced by ``new_id``."""
    cases = [_step_case(*c) for c in _STEP_CASES] + _fresh_step_cases()
    return run_diagnosed("merge_step", _as_step(fn), cases, _diagnose_step, shortcuts=_forbidden_tokenizers(fn))


# ------------------------------------------------------------------ exercise 2: decode

_CAT = "猫".encode("utf-8")  # e7 8c ab: one character, three bytes
# merges by hand: 256 = "he", 257 = "hel" (256 + "l"), 258 = the first two bytes of 猫, 259 = 猫,
# 260 = "lo", 261 = " 猫" (space + 259)
_MERGES = [(104, 101), (256, 108), (_CAT[0], _CAT[1]), (258, _CAT[2]), (108, 111), (32, 259)]


def _decode_case(name: str, ids: list[int], merges: list[tuple[int, int]], expected: str,
                 slips: Sequence[tuple[str, str]] = ()) -> Case:
    return Case(_("{name}: ids={ids}, merges={merges}", name=name, ids=ids, merges=merges),
                (list(ids), list(merges)), expected,
                mistakes=[Mistake(value, message) for value, message in slips])


ONE_BY_ONE = N_("you decoded each token on its own: a token may hold part of a character (token 258 holds two "
                "of the three bytes of '猫'), so join the bytes of all tokens first and decode them once")
LATIN = N_("you turned each byte into a character of its own (chr(b), or latin-1): bytes 128 and above are "
           "parts of multi-byte characters; join the bytes and decode them as UTF-8")


SWAPPED = N_("the bytes of each merge are the wrong way round: vocab[256 + k] = vocab[a] + vocab[b], a first")


def _decode_cases() -> list[Case]:
    one_by_one, latin, swapped = translate(ONE_BY_ONE), translate(LATIN), translate(SWAPPED)
    cases = [
        _decode_case(_("bytes only"), list(b"hi!"), [], "hi!"),
        _decode_case(_("a merge of merges"), [257, 260], _MERGES, "hello", [
            ("lehol", swapped),
        ]),
        _decode_case(_("the order inside a merge"), [256, 108, 260], _MERGES, "hello", [
            ("ehlol", swapped),
        ]),
        _decode_case(_("a character split between two tokens"), [258, _CAT[2]], _MERGES, "猫", [
            ("\ufffd\ufffd", one_by_one),
            ("\u00e7\u008c\u00ab", latin),
        ]),
        _decode_case(_("Chinese and English"), [257, 260, 261, 32, 258, _CAT[2]], _MERGES, "hello 猫 猫", [
            ("hello 猫 \ufffd\ufffd", one_by_one),
        ]),
        _decode_case(_("emoji (four bytes each)"), list("🐱!".encode("utf-8")), _MERGES, "🐱!", [
            ("\ufffd" * 4 + "!", _("you decoded each byte on its own: '🐱' is four bytes that only mean "
                                   "something together; join the bytes of all tokens and decode them once")),
            ("\u00f0\u009f\u0090\u00b1!", latin),
        ]),
        _decode_case(_("a text cut inside a character (a model can generate this)"), [104, 258], _MERGES, "h\ufffd", [
            ("h", _("invalid or incomplete UTF-8 must become U+FFFD ('\ufffd'), not vanish: decode with "
                    "errors=\"replace\", not \"ignore\"")),
        ]),
        _decode_case(_("no ids"), [], _MERGES, ""),
    ]
    for seed in (3, 4):  # arbitrary Unicode: decode(encode(text)) is the text itself
        text = random_text(seed, 50)
        tok = _trained(random_text(seed + 100, 200), 24)
        ids = tok.encode(text)
        cases.append(_decode_case(_("a fresh text {text!r}", text=text), ids, tok.merges, text))
    return cases


def _as_text(fn: Callable) -> Callable:
    def wrapped(ids: list[int], merges: list[tuple[int, int]]) -> Any:
        out = fn(list(ids), [tuple(m) for m in merges])
        if isinstance(out, (bytes, bytearray)):
            raise TypeError(_("you returned bytes: decode them into a str with .decode(\"utf-8\", "
                              "errors=\"replace\")"))
        if out is not None and out is not Ellipsis and not isinstance(out, str):
            raise TypeError(_("return the text as a str, got {kind}", kind=type(out).__name__))
        return out
    return wrapped


def _diagnose_decode(case: Case, got: Any) -> str | None:
    ids, merges = case.args
    tok = _reference(merges)
    if got == "".join(tok.token_bytes(i).decode("utf-8", "replace") for i in ids):
        return _("you decoded each token on its own: a token may hold part of a character , so join the bytes "
                 "of all tokens first and decode them once")
    if got == b"".join(tok.token_bytes(i) for i in ids).decode("latin-1"):
        return translate(LATIN)
    return None


def check_decode(fn: Callable[[list[int], list[tuple[int, int]]], str]) -> CheckResult:
    """``fn(ids, merges)`` must return the text: every token's bytes joined, then decoded as UTF-8 once
    (``errors="replace"``)."""
    result = run_diagnosed("decode", _as_text(fn), _decode_cases(), _diagnose_decode,
                           shortcuts=_forbidden_tokenizers(fn))
    if result.status == "fail":
        if "UnicodeDecodeError" in result.message:
            result.message += _(" (the ids of a text cut inside a character are not valid UTF-8, and a model "
                                "can generate such ids: decode with errors=\"replace\", which writes U+FFFD for "
                                "them)")
        elif "bytes must be in range(0, 256)" in result.message:
            result.message += _(" (a merge can join tokens that are merges themselves: the bytes of token "
                                "256 + k are vocab[a] + vocab[b], not bytes([a, b]))")
    return result


# ------------------------------------------------------------------ exercise 3: encode

# (name, text, merges, expected ids, [(mistaken ids, message)]): worked out by hand
WRONG_ORDER = N_("you applied the merges in the wrong order: merge the pair with the *lowest* rank (the "
                 "earliest merge) first, again and again, as training made them")
CODE_POINTS = N_("your ids hold a number above 255 for a non-ASCII character: that is its code point (ord), "
                 "not its bytes; start from the UTF-8 bytes, list(text.encode(\"utf-8\"))")


def _encode_cases() -> list[tuple]:
    code_points = translate(CODE_POINTS)
    return [
        (_("no merges: the UTF-8 bytes"), "hé!", [], [104, 195, 169, 33], [
            ([104, 233, 33], code_points),
        ]),
        ("'aaa'", "aaa", [(97, 97)], [256, 97], [
            ([256, 256], _("you merged overlapping pairs: in 'aaa' only the first two a's merge, giving [256, 97]")),
            ([256, 256, 97], _("you merged overlapping pairs: in 'aaa' only the first two a's merge, giving "
                               "[256, 97]; after a merge, skip both ids of the pair")),
            ([97, 256], _("you merged from the right: scan left to right, 'aaa' becomes [256, 97]")),
        ]),
        (_("the lowest rank first"), "abc", [(98, 99), (97, 98)], [97, 256], [
            ([257, 99], _("{wrong_order}: (b, c) has rank 256, (a, b) rank 257, so 'abc' becomes [a, 256]",
                          wrong_order=translate(WRONG_ORDER))),
        ]),
        (_("merges of merges"), "hello", [(104, 101), (108, 108), (256, 257), (258, 111)], [259], [
            ([256, 257, 111], _("you went through the merges once but in the wrong order, or stopped too early: "
                                "a merge can make a pair that a later merge joins; apply every merge, lowest rank "
                                "first, until none applies")),
        ]),
        (_("a Chinese character, three bytes"), "猫猫", [(0xE7, 0x8C), (256, 0xAB)], [257, 257], [
            ([29483, 29483], code_points),
            ([256, 0xAB, 256, 0xAB], _("you stopped too early: after a merge, look again for the lowest-ranked "
                                       "pair, until none of the merges applies")),
        ]),
        (_("a merge that does not apply"), "ab", [(98, 97)], [97, 98], []),
        (_("the empty text"), "", [(97, 97)], [], []),
    ]


def _fresh_encode_cases() -> list[Case]:
    """Merges learned by glmlib.bpe on one seeded text, applied to another (arbitrary Unicode included)."""
    cases = []
    for seed in (5, 6, 7):
        tok = _trained(random_text(seed + 200, 300), 40)
        text = random_text(seed, 60)
        cases.append(Case(_("a fresh text {text!r} with {n} merges", text=text, n=len(tok.merges)),
                          (text, list(tok.merges)),
                          tok.encode(text)))
    return cases


def _as_encoder(fn: Callable) -> Callable:
    def wrapped(text: str, merges: list[tuple[int, int]]) -> Any:
        out = fn(text, [tuple(m) for m in merges])
        if out is None or out is Ellipsis:
            return out
        return _as_ids(out, _("the ids"))
    return wrapped


def _diagnose_encode(case: Case, got: Any) -> str | None:
    text, merges = case.args
    if any(i > 255 + len(merges) for i in got):
        return translate(CODE_POINTS)
    if any(i < 0 for i in got) or _reference(merges).decode(got) != text:
        return _("your ids do not decode back to the text: check the bytes you start from (UTF-8) and each merge")
    if got == BPETokenizer(list(merges)).encode(text) != case.expected:
        return _("you split the text into words first (GPT-2's pre-split): this exercise takes the whole text as "
                 "one chunk, so merges may cross what the pre-split would cut")
    if len(got) > len(case.expected):
        return _("you stopped too early: your ids decode to the text but hold more tokens than needed; apply the "
                 "lowest-ranked pair present, again and again, until none applies")
    return translate(WRONG_ORDER)


def check_encode(fn: Callable[[str, list[tuple[int, int]]], list[int]]) -> CheckResult:
    """``fn(text, merges)`` must return the ids ``glmlib.bpe`` gives with these merges and no pre-split:
    the UTF-8 bytes, merged by rank (lowest first) until no merge applies."""
    cases = [Case(_("{name}: text={text!r}, merges={merges}", name=name, text=text, merges=merges),
                  (text, list(merges)), ids,
                  mistakes=[Mistake(v, m) for v, m in slips])
             for name, text, merges, ids, slips in _encode_cases()] + _fresh_encode_cases()
    return run_diagnosed("encode", _as_encoder(fn), cases, _diagnose_encode, shortcuts=_forbidden_tokenizers(fn))
