"""A byte-level byte-pair-encoding (BPE) tokenizer, as GPT-2's (notebook 09).

Text becomes UTF-8 bytes, so the 256 byte values are the base vocabulary
(ids ``0..255``, id = byte value) and any text can be encoded: Chinese,
emoji, code, whatever. Training repeatedly merges the most frequent pair of
adjacent tokens into a new token: the first merge makes id 256, the next 257,
and so on; special tokens (such as ``"<|endoftext|>"``) get the ids after the
merges.

Before counting, text is split by a regular expression like GPT-2's
(:data:`GPT2_PATTERN`, :func:`pretokenize`) into chunks: words with their
leading space, numbers, runs of punctuation, runs of whitespace. Merges never
cross a chunk boundary, so " the" can become one token but "e." cannot.

**Tie-break.** When several pairs are equally frequent, the trainer merges the
pair ``(a, b)`` whose ``(order(a), order(b))`` is smallest, where ``order``
ranks the 256 bytes as GPT-2's byte-to-unicode table sorts them -- first the
printable bytes ``!``..``~``, ``¡``..``¬``, ``®``..``ÿ`` (33-126, 161-172,
174-255) in byte order, then the others (0-32, so space and newline, 127-160
and 173) in byte order -- and merged tokens after all bytes, in the order they
were made (:func:`tie_break_key`). That is the order in which Hugging Face
``tokenizers``' ``BpeTrainer`` numbers a byte-level alphabet, and it breaks ties
by the smallest pair of those numbers, so on the same text the two trainers
learn the same merges. One difference remains: when a merge makes a byte
string that is already a token (``"ab"+"c"`` after ``"a"+"bc"``),
``tokenizers`` reuses the old token and does one more merge for the same
vocabulary size, while this trainer always gives the merge a new id (as
Karpathy's minbpe does); the vocabulary then holds the same bytes twice.

Encoding splits the text the same way, then applies the learned merges in
the order they were learned (lowest rank first) inside each chunk; decoding
joins the bytes of all ids and decodes UTF-8 once (a token may hold half a
character; bytes that are not valid UTF-8 become U+FFFD).

The pre-tokenizer uses the ``regex`` package (``\\p{L}``, ``\\p{N}``), which the
course's environment has as a dependency of ``transformers``.
"""
from __future__ import annotations

import heapq
import re
import warnings
from collections import Counter, defaultdict
from typing import Iterable, Sequence

import regex
import torch

from .tokenizers import Tokenizer, _is_int, register, token_id_list

__all__ = ["GPT2_PATTERN", "pretokenize", "tie_break_key", "BYTE_ORDER", "BPETokenizer"]

# GPT-2's pre-tokenizer (openai/gpt-2 encoder.py; Hugging Face's ByteLevel pre-tokenizer uses the same)
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

_PRINTABLE = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
# The 256 bytes in GPT-2's byte-to-unicode order (printable bytes first): the tie-break order
BYTE_ORDER: tuple[int, ...] = tuple(_PRINTABLE + [b for b in range(256) if b not in set(_PRINTABLE)])
_BYTE_RANK = [0] * 256
for _rank, _b in enumerate(BYTE_ORDER):
    _BYTE_RANK[_b] = _rank
del _rank, _b

_MAX_CACHE = 200_000  # encoded chunks remembered per tokenizer



def merge_pair(ids: list[int], a: int, b: int, new: int) -> list[int]:
    """``ids`` with every non-overlapping ``(a, b)``, left to right, replaced by ``new`` (``aaa`` -> ``Xa``)."""
    out, i, n = [], 0, len(ids)
    while i < n:
        if i < n - 1 and ids[i] == a and ids[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out

def tie_break_key(token_id: int) -> int:
    """Where ``token_id`` stands when equally frequent pairs are compared (smaller merges first).

    A byte's place in :data:`BYTE_ORDER`, or the id itself for a merged token (>= 256).
    """
    return _BYTE_RANK[token_id] if token_id < 256 else token_id


def _compile(pattern: str | None) -> "regex.Pattern | None":
    if pattern is None:
        return None
    if not isinstance(pattern, str) or not pattern:
        raise TypeError(f"pattern must be a non-empty regular expression str or None, got {pattern!r:.60}")
    try:
        return regex.compile(pattern)
    except regex.error as err:
        raise ValueError(f"pattern {pattern!r:.80} is not a valid regular expression: {err}") from None


def _split(text: str, compiled: "regex.Pattern | None") -> list[str]:
    """The chunks of ``text``; what the pattern does not match is kept as chunks too (nothing is lost)."""
    if not text:
        return []
    if compiled is None:
        return [text]
    if not compiled.groups:
        chunks = compiled.findall(text)
        if sum(map(len, chunks)) == len(text):
            return chunks
    chunks, pos = [], 0
    for m in compiled.finditer(text):
        if m.start() > pos:
            chunks.append(text[pos:m.start()])
        if m.end() > m.start():
            chunks.append(m.group())
        pos = max(pos, m.end())
    if pos < len(text):
        chunks.append(text[pos:])
    return chunks


_GPT2 = _compile(GPT2_PATTERN)


def pretokenize(text: str, pattern: str | None = GPT2_PATTERN) -> list[str]:
    """``text`` split into the chunks that merges stay inside (GPT-2's rule by default).

    ``"".join(pretokenize(text)) == text`` always holds. ``pattern=None`` keeps
    the text whole.
    """
    if not isinstance(text, str):
        raise TypeError(f"pretokenize expects a str, got {type(text).__name__}")
    return _split(text, _GPT2 if pattern == GPT2_PATTERN else _compile(pattern))


def _check_specials(special_tokens: Sequence[str]) -> list[str]:
    if isinstance(special_tokens, str) or not isinstance(special_tokens, Iterable):
        raise TypeError(f"special_tokens must be a sequence of str (e.g. ['<|endoftext|>']), "
                        f"got {special_tokens!r:.60}")
    specials = list(special_tokens)
    bad = [s for s in specials if not isinstance(s, str) or not s]
    if bad:
        raise ValueError(f"special tokens must be non-empty strings, got {bad[0]!r:.60}")
    repeated = sorted(s for s, n in Counter(specials).items() if n > 1)
    if repeated:
        raise ValueError(f"special tokens must not repeat: {repeated!r:.80} appear more than once")
    return specials


def _check_int(value: object, name: str) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r:.40} ({type(value).__name__})")
    return int(value)


def _train_merges(chunk_counts: dict[str, int], n_merges: int) -> list[tuple[int, int]]:
    """Up to ``n_merges`` merges learned from chunks and their frequencies.

    Pair counts are kept up to date incrementally: a merge touches only the
    chunks that hold its pair (``where``), and the next pair comes off a heap
    whose stale entries are fixed when they surface.
    """
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    freqs = list(chunk_counts.values())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, w in enumerate(words):
        f = freqs[wi]
        for pair in zip(w, w[1:]):
            counts[pair] += f
            where[pair].add(wi)
    rank = _BYTE_RANK
    heap = [(-c, rank[a], rank[b], a, b) for (a, b), c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < n_merges and heap:
        negc, _, _, a, b = heapq.heappop(heap)
        pair = (a, b)
        current = counts.get(pair, 0)
        if current != -negc:  # a stale entry: a newer one holds a larger count, or re-file a smaller one
            if 0 < current < -negc:
                heapq.heappush(heap, (-current, tie_break_key(a), tie_break_key(b), a, b))
            continue
        new = 256 + len(merges)
        merges.append(pair)
        deltas: dict[tuple[int, int], int] = defaultdict(int)
        for wi in where.pop(pair):
            w = words[wi]
            out = merge_pair(w, a, b, new)
            if len(out) == len(w):
                continue
            f = freqs[wi]
            for p in zip(w, w[1:]):
                deltas[p] -= f
            for p in zip(out, out[1:]):
                deltas[p] += f
                if new in p:
                    where[p].add(wi)
            words[wi] = out
        counts.pop(pair, None)
        deltas.pop(pair, None)
        for p, d in deltas.items():
            if not d:
                continue
            c = counts[p] + d
            if c:
                counts[p] = c
            else:
                del counts[p]
            if d > 0:  # only pairs holding the new token grow
                heapq.heappush(heap, (-c, tie_break_key(p[0]), tie_break_key(p[1]), p[0], p[1]))
    return merges


@register
class BPETokenizer(Tokenizer):
    """Byte-level BPE: the 256 bytes, then one token per learned merge, then special tokens.

    Build one with :meth:`train`, or from its merges (``merges[k] = (a, b)``
    makes id ``256 + k`` from ids ``a`` and ``b`` made before it).

    Attributes: ``merges`` (list of ``(a, b)``, in order), ``vocab`` (id ->
    bytes, special tokens as their UTF-8 text), ``special_tokens`` (str -> id),
    ``pattern`` (the pre-tokenizer's regular expression, or ``None``).
    """

    kind = "bpe"

    def __init__(self, merges: Iterable[tuple[int, int]] = (), *, pattern: str | None = GPT2_PATTERN,
                 special_tokens: Sequence[str] = ()) -> None:
        if isinstance(merges, (str, bytes)) or not isinstance(merges, Iterable):
            raise TypeError(f"merges must be a sequence of (int, int) pairs, got {merges!r:.60}")
        self._regex = _GPT2 if pattern == GPT2_PATTERN else _compile(pattern)
        self.pattern = pattern
        checked: list[tuple[int, int]] = []
        vocab_bytes = [bytes([b]) for b in range(256)]
        for k, m in enumerate(merges):
            if isinstance(m, (str, bytes)) or not isinstance(m, Sequence) or len(m) != 2 \
                    or not all(_is_int(x) for x in m):
                raise TypeError(f"merge {k} must be a pair of ints (a, b), got {m!r:.60}")
            a, b = int(m[0]), int(m[1])
            if not (0 <= a < 256 + k and 0 <= b < 256 + k):
                raise ValueError(f"merge {k} ({a}, {b}) may only join ids made before it: "
                                 f"0 <= id < {256 + k}")
            checked.append((a, b))
            vocab_bytes.append(vocab_bytes[a] + vocab_bytes[b])
        self.merges: list[tuple[int, int]] = checked
        specials = _check_specials(special_tokens)
        first = 256 + len(checked)
        self.special_tokens: dict[str, int] = {s: first + j for j, s in enumerate(specials)}
        vocab_bytes += [s.encode("utf-8") for s in specials]
        self._bytes = vocab_bytes
        self.vocab: dict[int, bytes] = dict(enumerate(vocab_bytes))
        self._ranks = {pair: 256 + k for k, pair in enumerate(checked)}
        # special tokens are found longest first, so "<a><b>" wins over "<a>" where both match
        self._special_re = (re.compile("|".join(map(re.escape, sorted(specials, key=len, reverse=True))))
                            if specials else None)
        self._cache: dict[str, list[int]] = {}
        self._itos: list[str] | None = None

    # -- training -------------------------------------------------------------------------------
    @classmethod
    def train(cls, text: str, vocab_size: int, *, pattern: str | None = GPT2_PATTERN,
              special_tokens: Sequence[str] = ()) -> "BPETokenizer":
        """Learn merges on ``text`` until the vocabulary has ``vocab_size`` tokens.

        ``vocab_size`` counts everything: the 256 bytes, the merges and the
        special tokens, so ``vocab_size - 256 - len(special_tokens)`` merges are
        learned (fewer, with a warning, if the text runs out of pairs). Ties
        between equally frequent pairs: see the module's docstring
        (:func:`tie_break_key`). Special tokens in ``text`` are not counted.
        """
        if not isinstance(text, str):
            raise TypeError(f"train expects text as a str, got {type(text).__name__}")
        vocab_size = _check_int(vocab_size, "vocab_size")
        specials = _check_specials(special_tokens)
        if vocab_size < 256 + len(specials):
            raise ValueError(f"vocab_size must be at least 256 (the bytes) + {len(specials)} (special "
                             f"tokens) = {256 + len(specials)}, got {vocab_size}")
        compiled = _GPT2 if pattern == GPT2_PATTERN else _compile(pattern)
        pieces = [text]
        if specials:
            pieces = re.split("|".join(map(re.escape, sorted(specials, key=len, reverse=True))), text)
        chunk_counts: Counter[str] = Counter()
        for piece in pieces:
            chunk_counts.update(_split(piece, compiled))
        n_merges = vocab_size - 256 - len(specials)
        merges = _train_merges(chunk_counts, n_merges)
        if len(merges) < n_merges:
            warnings.warn(f"the text has only enough pairs for {len(merges)} merges, not {n_merges}: "
                          f"the vocabulary has {256 + len(merges) + len(specials)} tokens, not {vocab_size}",
                          stacklevel=2)
        return cls(merges, pattern=pattern, special_tokens=specials)

    # -- the Tokenizer interface ----------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._bytes)

    @property
    def itos(self) -> list[str]:
        """Each token's text, for labels and display (as ``CharTokenizer.itos``): its bytes as UTF-8,
        a byte that is only part of a character written as an escape such as ``\\xe4``.

        ``"".join(itos[i] for i in ids)`` is ``decode(ids)`` only when no character is split
        across tokens: decode with :meth:`decode`.
        """
        if self._itos is None:
            self._itos = [b.decode("utf-8", errors="backslashreplace") for b in self._bytes]
        return self._itos

    def token_bytes(self, i: int) -> bytes:
        """The bytes token ``i`` stands for (a special token: its UTF-8 text)."""
        i = _check_int(i, "token id")
        if not 0 <= i < self.vocab_size:
            raise ValueError(f"token id {i} out of range [0, {self.vocab_size})")
        return self._bytes[i]

    def _encode_chunk(self, chunk: str) -> list[int]:
        cached = self._cache.get(chunk)
        if cached is not None:
            return cached
        ids = list(chunk.encode("utf-8"))
        ranks = self._ranks
        while len(ids) > 1:
            best = None
            for pair in zip(ids, ids[1:]):
                r = ranks.get(pair)
                if r is not None and (best is None or r < best):
                    best = r
            if best is None:
                break
            a, b = self.merges[best - 256]
            ids = merge_pair(ids, a, b, best)
        if len(self._cache) >= _MAX_CACHE:
            self._cache.clear()
        self._cache[chunk] = ids
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        for chunk in _split(text, self._regex):
            out.extend(self._encode_chunk(chunk))
        return out

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: special tokens as their ids, the rest split and merged by rank."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        if self._special_re is None:
            return self._encode_ordinary(text)
        out: list[int] = []
        pos = 0
        for m in self._special_re.finditer(text):
            out.extend(self._encode_ordinary(text[pos:m.start()]))
            out.append(self.special_tokens[m.group()])
            pos = m.end()
        out.extend(self._encode_ordinary(text[pos:]))
        return out

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """The text of 1-D ids: their bytes joined, then decoded as UTF-8 once (bad bytes -> U+FFFD)."""
        ids = token_id_list(ids)
        n = self.vocab_size
        bad = [i for i in ids if not 0 <= i < n]
        if bad:
            raise ValueError(f"token id {bad[0]} out of range [0, {n})")
        table = self._bytes
        return b"".join([table[i] for i in ids]).decode("utf-8", errors="replace")

    def with_merges(self, n: int) -> "BPETokenizer":
        """The same tokenizer with only its first ``n`` merges (special tokens renumbered after them)."""
        n = _check_int(n, "n (the number of merges)")
        if not 0 <= n <= len(self.merges):
            raise ValueError(f"n must be between 0 and {len(self.merges)} (the merges learned), got {n}")
        return type(self)(self.merges[:n], pattern=self.pattern, special_tokens=list(self.special_tokens))

    def to_dict(self) -> dict:
        return {"merges": [list(m) for m in self.merges], "pattern": self.pattern,
                "special_tokens": list(self.special_tokens)}

    @classmethod
    def from_dict(cls, d: dict) -> "BPETokenizer":
        """The inverse of :meth:`to_dict`: ``{"merges": [[a, b], ...], "pattern": str | None,
        "special_tokens": [str, ...]}``."""
        if not isinstance(d, dict):
            raise ValueError(f"a BPE tokenizer's state is a dict, got {type(d).__name__}")
        if d.get("kind", cls.kind) != cls.kind:
            raise ValueError(f"this is a {d['kind']!r} tokenizer's record, not a {cls.kind!r} one; "
                             f"build it with glmlib.tokenizers.tokenizer_from_record")
        merges = d.get("merges")
        if not isinstance(merges, list):
            raise ValueError(f"a BPE tokenizer needs 'merges', a list of [a, b] id pairs; got {merges!r:.60}")
        specials = d.get("special_tokens", [])
        if not isinstance(specials, list):
            raise ValueError(f"'special_tokens' must be a list of str, got {specials!r:.60}")
        pattern = d.get("pattern", GPT2_PATTERN)
        if pattern is not None and not isinstance(pattern, str):
            raise ValueError(f"'pattern' must be a str or None, got {pattern!r:.60}")
        try:
            return cls([tuple(m) if isinstance(m, list) else m for m in merges],
                       pattern=pattern, special_tokens=specials)
        except TypeError as err:
            raise ValueError(str(err)) from None

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={list(self.special_tokens)!r})")
