"""Fold the exercises' raw Otter-Grader marker cells of the notebook sources into cell metadata.

A one-off conversion (see ``tools/exercise_marks.py`` for the new form). It
edits the jupytext sources (``notebooks/NN_*.py``) as text, so that nothing
but the marker cells and the headers of the exercise cells changes: each raw
marker cell is removed and the cells of each exercise gain ``exercise=...``
in their ``# %%`` line. Every file is checked before it is written:
:func:`exercise_marks.expand` of the new source must give back the old
source's cells exactly.

    python tools/fold_exercise_marks.py notebooks/[0-9][0-9]_*.py
    jupytext --sync notebooks/NN_name.py     # then, for each, to update the .ipynb

``--outputs`` instead rewrites the checkers' results stored in the ``.ipynb``
files (``✅ **name** (pass): ...``) in the form the checkers now display,
``CheckResult._repr_markdown_``, as re-running those cells would.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import exercise_marks  # noqa: E402

CELL_START = re.compile(r"^# %%")
OLD_RESULT = re.compile(r"^(?:✅|⏳|❌) \*\*(?P<exercise>[^*]+)\*\* \((?P<status>pass|not yet|fail)\): "
                        r"(?P<message>.*)\Z", re.DOTALL)


def split_cells(text: str) -> tuple[list[str], list[list[str]]]:
    """The front matter's lines and each cell's lines (its ``# %%`` line first)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if CELL_START.match(line)]
    if not starts:
        return lines, []
    bounds = starts + [len(lines)]
    return lines[:starts[0]], [lines[a:b] for a, b in zip(bounds, bounds[1:])]


def chunk_marker(chunk: list[str]) -> str | None:
    """The Otter marker a raw cell's lines hold, else ``None``."""
    if not chunk[0].startswith("# %% [raw]"):
        return None
    body = [line[2:] if line.startswith("# ") else line for line in chunk[1:] if line.strip()]
    return exercise_marks.marker({"cell_type": "raw", "source": "".join(body)})


def question_mark(chunk: list[str]) -> dict:
    """The exercise mark of a ``BEGIN QUESTION`` cell's lines."""
    import yaml

    body = "".join(line[2:] if line.startswith("# ") else line[1:] for line in chunk[2:])
    config = yaml.safe_load(body) or {}
    return {"question": config.pop("name"), **config}


def with_mark(header: str, mark: object) -> str:
    """A ``# %%`` line with ``exercise=<json>`` added at its end."""
    if f"{exercise_marks.KEY}=" in header:
        raise ValueError(f"already marked: {header.strip()}")
    return header.rstrip("\n") + f" {exercise_marks.KEY}={json.dumps(mark)}\n"


def fold_text(text: str) -> str:
    """The source ``text`` with its marker cells folded into its exercise cells' headers."""
    front, chunks = split_cells(text)
    out: list[list[str]] = []
    pending: dict | None = None
    block: str | None = None
    for chunk in chunks:
        mark = chunk_marker(chunk)
        if mark == "BEGIN QUESTION":
            pending = question_mark(chunk)
        elif mark in ("BEGIN SOLUTION", "BEGIN TESTS"):
            block = mark.split()[1].lower()
        elif mark in ("END SOLUTION", "END TESTS", "END QUESTION"):
            block = None
        elif mark is not None:
            raise ValueError(f"cannot fold the marker {mark!r}")
        elif pending is not None:
            out.append([with_mark(chunk[0], pending)] + chunk[1:])
            pending = None
        elif block:
            out.append([with_mark(chunk[0], block)] + chunk[1:])
        else:
            out.append(chunk)
    return "".join(front) + "".join("".join(chunk) for chunk in out)


def _comparable(nb: nbformat.NotebookNode) -> list[tuple]:
    return [(c.cell_type, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]


def check(old: str, new: str, name: str) -> None:
    """Raise unless expanding ``new`` gives back ``old``'s cells."""
    before = jupytext.reads(old, fmt="py:percent")
    after = exercise_marks.expand(jupytext.reads(new, fmt="py:percent"), name)
    if _comparable(before) != _comparable(after):
        raise SystemExit(f"{name}: the folded source does not expand to the original; nothing written")
    if exercise_marks.markers(jupytext.reads(new, fmt="py:percent")):
        raise SystemExit(f"{name}: marker cells are left")


def fold_file(path: Path) -> bool:
    """Fold one source in place; return whether it changed."""
    old = path.read_text(encoding="utf-8")
    new = fold_text(old)
    if new == old:
        return False
    check(old, new, path.name)
    path.write_text(new, encoding="utf-8")
    return True


def new_result(markdown: str) -> str | None:
    """A stored checker result in the current display form, or ``None`` if it is not one."""
    from glmlib.exercises.checking import CheckResult

    m = OLD_RESULT.match(markdown)
    if not m:
        return None
    return CheckResult(m["exercise"], m["status"], m["message"])._repr_markdown_()


def rewrite_outputs(path: Path) -> int:
    """Rewrite the stored checker results of one ``.ipynb``; return how many changed."""
    nb = nbformat.read(path, as_version=4)
    changed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/markdown")
            text = "".join(text) if isinstance(text, list) else text
            new = new_result(text) if text else None
            if new is not None and new != text:
                out["data"]["text/markdown"] = new
                changed += 1
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--outputs", action="store_true", help="rewrite stored checker results (.ipynb)")
    args = parser.parse_args(argv)
    for path in args.paths:
        if args.outputs:
            print(f"{path}: {rewrite_outputs(path)} checker result(s) rewritten")
        else:
            print(f"{path}: {'folded' if fold_file(path) else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
