"""Tokenizers: text to token ids and back (notebooks 02 and 09).

Every tokenizer implements :class:`Tokenizer`: ``encode``, ``decode``,
``vocab_size`` and its state as a plain dict (``to_dict`` / ``from_dict``).
A checkpoint stores :meth:`Tokenizer.to_record`, the state with a ``"kind"``
naming the class, and :func:`tokenizer_from_record` builds the right one
back. :class:`CharTokenizer` (one id per character) is the tokenizer of the
course so far; a byte-level BPE tokenizer implements the same interface under
its own kind. A record without a kind (every checkpoint written before kinds
existed, the shipped model's too) is a character tokenizer.
"""
from __future__ import annotations

import importlib
import numbers
from abc import ABC, abstractmethod
from collections import Counter
from typing import ClassVar, Iterable, Sequence

import numpy as np
import torch

from .i18n import _


def _is_int(x: object) -> bool:
    """An integer (Python, NumPy or a 0-d integer tensor), not a bool, float or string."""
    if isinstance(x, torch.Tensor):
        return x.dim() == 0 and not (x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool)
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def token_id_list(ids: Iterable[int] | torch.Tensor | np.ndarray, what: str = "token ids") -> list[int]:
    """``ids`` as a list of Python ints, refusing what would need rounding or guessing.

    Takes a 1-D integer tensor or array, or a sequence of ints. A 2-D tensor
    (a batch) is refused rather than joined into one sequence.
    """
    if isinstance(ids, (torch.Tensor, np.ndarray)):
        shape = tuple(ids.shape)
        if len(shape) > 1:
            raise ValueError(f"{what} must be 1-D, got shape {shape}; take one row, e.g. ids[0]")
        t = torch.as_tensor(ids)
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            raise TypeError(f"{what} must be integers, got dtype {t.dtype}")
        return t.reshape(-1).tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"{what} must be a sequence of ints, got {type(ids).__name__} {ids!r:.40}")
    out = list(ids)
    if all(type(i) is int for i in out):  # the common case, checked fast
        return out
    bad = [i for i in out if not _is_int(i)]
    if bad:
        raise TypeError(f"{what} must be ints, got {bad[0]!r} ({type(bad[0]).__name__})")
    return [int(i) for i in out]


class Tokenizer(ABC):
    """What every tokenizer offers: the models and checkpoints rely on nothing else.

    A subclass sets :attr:`kind` (the name stored in checkpoints) and is
    registered with :func:`register` so that :func:`tokenizer_from_record`
    can build it back.
    """

    kind: ClassVar[str]

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """How many token ids there are: ``0 .. vocab_size - 1``."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``; text the tokenizer cannot represent raises ``ValueError``."""

    @abstractmethod
    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """The text of a 1-D sequence of ids (a list, or a tensor such as ``out[0]``)."""

    @abstractmethod
    def to_dict(self) -> dict:
        """The tokenizer's state as JSON values (without its kind)."""

    @classmethod
    @abstractmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        """The inverse of :meth:`to_dict`; bad state raises ``ValueError``."""

    def encode_tensor(self, text: str) -> torch.Tensor:
        """``encode`` as a 1-D int64 tensor (subclasses may do it faster for long texts)."""
        return torch.tensor(self.encode(text), dtype=torch.long)

    def to_record(self) -> dict:
        """What a checkpoint stores: ``{"kind": ..., **to_dict()}``."""
        return {"kind": self.kind, **self.to_dict()}

    def same_as(self, other: object) -> bool:
        """Whether ``other`` is a tokenizer giving the same ids for every text (same kind, same state)."""
        return isinstance(other, Tokenizer) and other.to_record() == self.to_record()


TOKENIZERS: dict[str, type[Tokenizer]] = {}
DEFAULT_KIND = "char"  # a record without a kind was written before kinds existed
# kinds whose module registers them when imported, imported on first need (no import at load time)
_LAZY_KINDS = {"bpe": ".bpe"}


def register(cls: type[Tokenizer]) -> type[Tokenizer]:
    """Make ``cls`` loadable from checkpoints under ``cls.kind`` (usable as a class decorator)."""
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{cls.__name__} needs a class attribute kind, a non-empty str")
    if TOKENIZERS.get(kind, cls) is not cls:
        raise ValueError(f"the tokenizer kind {kind!r} is taken by {TOKENIZERS[kind].__name__}")
    TOKENIZERS[kind] = cls
    return cls


def known_kinds() -> list[str]:
    """Every tokenizer kind this glmlib can load, the lazily imported ones included."""
    for kind, module in _LAZY_KINDS.items():
        if kind not in TOKENIZERS:
            try:
                importlib.import_module(module, __package__)
            except ImportError:  # a kind whose module (or what it needs) is not installed
                continue
    return sorted(TOKENIZERS)


def tokenizer_from_record(record: dict) -> Tokenizer:
    """The tokenizer a checkpoint stored (:meth:`Tokenizer.to_record`); no kind means ``"char"``."""
    if not isinstance(record, dict):
        raise ValueError(f"a tokenizer record is a dict, got {type(record).__name__}")
    kind = record.get("kind", DEFAULT_KIND)
    if kind not in TOKENIZERS and kind in _LAZY_KINDS:
        importlib.import_module(_LAZY_KINDS[kind], __package__)
    if kind not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer kind {kind!r}; this glmlib knows {known_kinds()}")
    return TOKENIZERS[kind].from_dict({k: v for k, v in record.items() if k != "kind"})


@register
class CharTokenizer(Tokenizer):
    """Maps each character to an integer id and back.

    Optional special tokens (e.g. ``"<bos>"``) get the ids after the characters.
    """

    kind = "char"

    def __init__(self, chars: Sequence[str], specials: Sequence[str] = ()) -> None:
        chars, specials = list(chars), list(specials)
        not_chars = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if not_chars:
            raise ValueError(f"chars must be single characters, got {not_chars[:5]!r}")
        if not chars:
            raise ValueError("a tokenizer needs at least one character")
        repeated = sorted(c for c, n in Counter(chars).items() if n > 1)
        if repeated:
            raise ValueError(f"chars must not contain duplicates: {repeated[:10]!r} appear more than once")
        bad = [x for x in specials if not isinstance(x, str) or not x]
        if bad:
            raise ValueError(f"specials must be non-empty strings, got {bad[:5]!r}")
        clash = sorted({x for x, n in Counter(specials).items() if n > 1} | (set(specials) & set(chars)))
        if clash:
            raise ValueError(f"specials {clash!r} repeat a character or another special token")
        self.chars = chars
        self.specials = specials
        self.itos = self.chars + self.specials
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str, specials: Sequence[str] = ()) -> "CharTokenizer":
        if not isinstance(text, str):
            raise TypeError(f"from_text expects a str, got {type(text).__name__}")
        if not text:
            raise ValueError("cannot build a tokenizer from empty text")
        return cls(sorted(set(text)), specials)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        unknown = sorted({c for c in text if c not in self.stoi or c in self.specials})
        if unknown:
            raise ValueError(_("characters not in the vocabulary: {unknown!r}; allowed characters are {allowed!r}",
                               unknown=unknown, allowed="".join(self.chars)))
        return [self.stoi[c] for c in text]

    def encode_tensor(self, text: str) -> torch.Tensor:
        """``encode`` as a 1-D int64 tensor, vectorised for long texts (the corpus)."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        lookup = np.full(max(map(ord, self.chars)) + 1, -1, dtype=np.int64)
        lookup[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        ids = lookup[np.minimum(codes, len(lookup) - 1)]
        if len(codes) and ((codes >= len(lookup)) | (ids < 0)).any():
            self.encode(text)  # raises the error that lists the unknown characters
        return torch.from_numpy(ids)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """The text of a 1-D sequence of ids (a list, or a tensor such as ``out[0]``)."""
        out = []
        for i in token_id_list(ids):
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} out of range [0, {self.vocab_size})")
            out.append(self.itos[i])
        return "".join(out)

    def to_dict(self) -> dict:
        return {"chars": "".join(self.chars), "specials": self.specials}

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        """The inverse of :meth:`to_dict`: ``{"chars": str, "specials": [str, ...]}``."""
        if not isinstance(d, dict) or not isinstance(d.get("chars"), str):
            raise ValueError(f"a tokenizer needs 'chars', a str of characters; got "
                             f"{d.get('chars') if isinstance(d, dict) else d!r:.60}")
        if d.get("kind", cls.kind) != cls.kind:
            raise ValueError(f"this is a {d['kind']!r} tokenizer's record, not a {cls.kind!r} one; "
                             f"build it with glmlib.tokenizers.tokenizer_from_record")
        specials = d.get("specials", [])
        if not isinstance(specials, list):
            raise ValueError(f"tokenizer 'specials' must be a list of str, got {specials!r:.60}")
        return cls(list(d["chars"]), specials)
