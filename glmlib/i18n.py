"""The language of what glmlib says to a learner: checker messages and explorer labels.

English is the source: every message is written in English in the code, wrapped in
``_("...")`` with named ``{placeholders}``. A translation catalogue per module,
``glmlib/locale/<lang>/<module>.po`` (gettext's format, read with Babel), gives the
other languages; anything it lacks falls back to the English text.

One setting chooses the language: ``set_language("zh-CN")`` (the first code cell of
every Chinese notebook calls it), else the environment variable ``GLMLIB_LANG``
(``make lab-zh`` sets it), else English.
"""
from __future__ import annotations

import contextlib
import functools
import os
import string
from pathlib import Path
from typing import Iterator

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "en_us": "en", "en_gb": "en", "english": "en",
            "zh": "zh-CN", "zh-cn": "zh-CN", "zh_cn": "zh-CN", "zh-hans": "zh-CN", "zh_hans": "zh-CN"}
_chosen: str | None = None


def normalize(language: str) -> str:
    """The course's name for ``language`` ("zh_CN", "zh-cn", "zh" -> "zh-CN"), or a ValueError."""
    if not isinstance(language, str):
        raise TypeError(f"language must be a string such as 'en' or 'zh-CN', not {type(language).__name__}")
    name = _ALIASES.get(language.strip().lower().split(".")[0])
    if name is None:
        raise ValueError(f"language {language!r} is not one of the course's: "
                         + ", ".join(f"{k!r} ({v})" for k, v in LANGUAGES.items()))
    return name


def set_language(language: str) -> str:
    """Choose the language of checker messages and explorer labels for this process."""
    global _chosen
    _chosen = normalize(language)
    return _chosen


@contextlib.contextmanager
def language(name: str) -> Iterator[str]:
    """Messages in ``name`` inside the ``with`` block, the previous setting restored after it."""
    global _chosen
    saved = _chosen
    _chosen = normalize(name)
    try:
        yield _chosen
    finally:
        _chosen = saved


def get_language() -> str:
    """The language chosen by ``set_language``, else ``GLMLIB_LANG``, else English.

    An unknown ``GLMLIB_LANG`` falls back to English rather than breaking every import.
    """
    if _chosen is not None:
        return _chosen
    try:
        return normalize(os.environ.get("GLMLIB_LANG", "") or "en")
    except ValueError:
        return "en"


def catalogue_dir(language: str) -> Path:
    """Where ``language``'s catalogues live: ``glmlib/locale/zh_CN`` (gettext's folder names)."""
    return LOCALE_DIR / normalize(language).replace("-", "_")


@functools.lru_cache(maxsize=None)
def catalogue(language: str) -> dict[str, str]:
    """English message -> translation, from every ``.po`` of ``language`` (fuzzy and empty ones left out)."""
    if normalize(language) == "en":
        return {}
    from babel.messages.pofile import read_po  # only when a translation is asked for

    table: dict[str, str] = {}
    for path in sorted(catalogue_dir(language).glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f):
                if message.id and message.string and not message.fuzzy and isinstance(message.id, str):
                    table[message.id] = message.string
    return table


def placeholders(template: str) -> set[str]:
    """The named fields of a ``str.format`` template (``"{got} of {n}"`` -> {"got", "n"})."""
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template)
            if field}


def translate(message: str, language: str | None = None) -> str:
    """``message`` in ``language`` (default: the chosen one), or the English text itself."""
    return catalogue(language or get_language()).get(message, message)


def _(message: str, /, **values: object) -> str:
    """Translate the English ``message``, then fill its ``{placeholders}`` from ``values``.

    A translation that cannot be filled (a broken catalogue entry) gives the English text
    rather than an error in the middle of a checker.
    """
    text = translate(message)
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return message.format(**values)
