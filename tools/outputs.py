"""Output folders of the course's tools (release/, site/): replaced whole, and only when ours.

A tool builds its output in a fresh folder next to the old one and swaps it in
at the end, so an interrupted build leaves the old output as it was. It replaces a folder only if
that folder carries the mark a previous build left in it (or, for a folder built
before the mark existed, every entry the tool always writes); anything else at
that path, such as a folder the user made or a file, is refused with an error
that names it, before any work is done.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MARK = ".written-by-course-tools"  # left in every output folder; its presence says "ours, replaceable"


class OutputError(ValueError):
    """The output path holds something this tool did not write."""


def check_replaceable(out: Path, always_writes: tuple[str, ...]) -> None:
    """Raise OutputError unless ``out`` is absent, an empty folder, or an earlier output of the tool
    (the mark, or every one of ``always_writes``)."""
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder; refusing to replace it (choose another --out)")
    if (out / MARK).is_file() or not any(out.iterdir()):
        return
    if always_writes and all((out / name).exists() for name in always_writes):
        return
    raise OutputError(f"{out} exists and was not written by this tool (no {MARK} in it); refusing to "
                      f"replace it: move it away or choose another --out")


def swap_in(new: Path, out: Path, always_writes: tuple[str, ...]) -> Path:
    """Mark the finished folder ``new`` and put it at ``out``, replacing an earlier output there."""
    check_replaceable(out, always_writes)
    (new / MARK).write_text("This folder is rebuilt whole by the course's tools; files added here are lost.\n")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-old-") as aside:
        if out.exists():  # a fresh name, so no folder of the user's is ever in the way
            out.rename(Path(aside) / out.name)
        new.rename(out)
    return out


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh, empty folder beside ``out`` to build into; removed afterwards, whatever happens
    (after :func:`swap_in` it has moved to ``out``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-new-") as tmp:
        yield Path(tmp) / out.name
