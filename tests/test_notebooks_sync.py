"""Every notebook is a jupytext pair (``NN_name.py`` + ``NN_name.ipynb``) whose cells agree.

The ``.py`` (py:percent) file is the source; the ``.ipynb`` is the executed copy that
nbval checks. A pair drifts when one of them is edited without re-syncing; these
tests catch that, and prove that they would by mutating copies of a real pair.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def _stems(suffix: str) -> set[str]:
    return {p.stem for p in NOTEBOOKS.glob(f"*{suffix}")}


STEMS = sorted(_stems(".py") | _stems(".ipynb"))


def cells(path: Path) -> list[tuple[str, str]]:
    """``(cell_type, source)`` of every cell; outputs, metadata and trailing blank lines ignored."""
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.rstrip()) for c in nb.cells]


def drift(py: Path, ipynb: Path) -> list[str]:
    """Human-readable differences between the two files of a pair (empty when in sync)."""
    a, b = cells(py), cells(ipynb)
    problems = []
    if len(a) != len(b):
        problems.append(f"{py.name} has {len(a)} cells but {ipynb.name} has {len(b)}")
    for i, ((type_a, src_a), (type_b, src_b)) in enumerate(zip(a, b)):
        if type_a != type_b:
            problems.append(f"cell {i}: {type_a} in {py.name}, {type_b} in {ipynb.name}")
        elif src_a != src_b:
            line = next((j for j, (x, y) in enumerate(zip(src_a.splitlines(), src_b.splitlines())) if x != y),
                        min(len(src_a.splitlines()), len(src_b.splitlines())))
            problems.append(f"cell {i} ({type_a}) differs from line {line + 1}: "
                            f"{src_a.splitlines()[line:line + 1]!r} vs {src_b.splitlines()[line:line + 1]!r}")
    return problems


def test_notebooks_exist() -> None:
    assert STEMS, f"no notebooks found in {NOTEBOOKS}"


@pytest.mark.parametrize("stem", STEMS)
def test_both_files_of_the_pair_exist(stem: str) -> None:
    missing = [f"{stem}{s}" for s in (".py", ".ipynb") if not (NOTEBOOKS / f"{stem}{s}").exists()]
    assert not missing, (f"missing {missing}: create it with `jupytext --sync notebooks/{stem}.py` "
                         f"(then execute the .ipynb)")


@pytest.mark.parametrize("stem", STEMS)
def test_pair_is_in_sync(stem: str) -> None:
    py, ipynb = NOTEBOOKS / f"{stem}.py", NOTEBOOKS / f"{stem}.ipynb"
    if not (py.exists() and ipynb.exists()):
        pytest.fail(f"{stem}: the pair is incomplete (see test_both_files_of_the_pair_exist)")
    problems = drift(py, ipynb)
    assert not problems, f"{stem} has drifted; re-sync with `jupytext --sync notebooks/{stem}.py`:\n" + \
        "\n".join(problems)


@pytest.mark.parametrize("stem", STEMS)
def test_pair_declares_its_formats_and_kernel(stem: str) -> None:
    paths = [p for p in (NOTEBOOKS / f"{stem}.py", NOTEBOOKS / f"{stem}.ipynb") if p.exists()]
    for path in paths:  # a missing file is reported by test_both_files_of_the_pair_exist
        meta = jupytext.read(path).metadata
        assert meta.get("jupytext", {}).get("formats") == "ipynb,py:percent", \
            f"{path.name}: jupytext formats must be 'ipynb,py:percent', got {meta.get('jupytext')}"
        assert meta.get("kernelspec", {}).get("name") == "python3", \
            f"{path.name}: kernelspec must be python3, got {meta.get('kernelspec')}"


@pytest.mark.parametrize("stem", sorted(_stems(".ipynb")))
def test_checked_cells_have_outputs(stem: str) -> None:
    """A checked cell without a stored output would make nbval compare against nothing."""
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    unexecuted = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert not unexecuted, f"{stem}.ipynb: code cells {unexecuted} were never executed"
    empty = [i for i, c in enumerate(code) if "".join(c["source"]).startswith(CHECK_MARK) and not c["outputs"]]
    assert not empty, f"{stem}.ipynb: checked code cells {empty} have no stored output"
    errors = [i for i, c in enumerate(code) if any(o["output_type"] == "error" for o in c["outputs"])]
    assert not errors, f"{stem}.ipynb: code cells {errors} stored an error"


# ------------------------------------------------- the checks above can fail

@pytest.fixture
def pair_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the first complete pair, to be mutated."""
    stem = next((s for s in STEMS if (NOTEBOOKS / f"{s}.py").exists() and (NOTEBOOKS / f"{s}.ipynb").exists()),
                None)
    assert stem is not None, "no complete notebook pair to copy"
    for suffix in (".py", ".ipynb"):
        shutil.copy(NOTEBOOKS / f"{stem}{suffix}", tmp_path / f"{stem}{suffix}")
    return tmp_path / f"{stem}.py", tmp_path / f"{stem}.ipynb"


def test_unchanged_copy_is_in_sync(pair_copy: tuple[Path, Path]) -> None:
    assert drift(*pair_copy) == []


def test_edited_py_code_is_detected(pair_copy: tuple[Path, Path]) -> None:
    py, ipynb = pair_copy
    nb = jupytext.read(py)
    i = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[i].source += "\nprint('an edit made only in the .py file')"
    jupytext.write(nb, py, fmt="py:percent")
    problems = drift(py, ipynb)
    assert len(problems) == 1 and problems[0].startswith(f"cell {i} (code)"), problems


def test_edited_ipynb_markdown_is_detected(pair_copy: tuple[Path, Path]) -> None:
    py, ipynb = pair_copy
    raw = json.loads(ipynb.read_text(encoding="utf-8"))
    i = next(i for i, c in enumerate(raw["cells"]) if c["cell_type"] == "markdown")
    raw["cells"][i]["source"] = ["# A title changed only in the notebook\n"]
    ipynb.write_text(json.dumps(raw), encoding="utf-8")
    problems = drift(py, ipynb)
    assert len(problems) == 1 and problems[0].startswith(f"cell {i} (markdown)"), problems


def test_added_cell_is_detected(pair_copy: tuple[Path, Path]) -> None:
    py, ipynb = pair_copy
    py.write_text(py.read_text(encoding="utf-8") + "\n# %%\nx = 1\n", encoding="utf-8")
    problems = drift(py, ipynb)
    assert problems and "cells but" in problems[0], problems


def test_changed_cell_type_is_detected(pair_copy: tuple[Path, Path]) -> None:
    py, ipynb = pair_copy
    raw = json.loads(ipynb.read_text(encoding="utf-8"))
    i = next(i for i, c in enumerate(raw["cells"]) if c["cell_type"] == "markdown")
    raw["cells"][i] = {"cell_type": "code", "id": raw["cells"][i].get("id", "changed"), "metadata": {},
                       "execution_count": None, "outputs": [], "source": raw["cells"][i]["source"]}
    ipynb.write_text(json.dumps(raw), encoding="utf-8")
    assert any(p.startswith(f"cell {i}: markdown") for p in drift(py, ipynb))


def test_outputs_and_metadata_are_not_drift(pair_copy: tuple[Path, Path]) -> None:
    py, ipynb = pair_copy
    raw = json.loads(ipynb.read_text(encoding="utf-8"))
    for c in raw["cells"]:
        if c["cell_type"] == "code":
            c["outputs"], c["execution_count"] = [], None
        c.setdefault("metadata", {})["collapsed"] = True
    ipynb.write_text(json.dumps(raw), encoding="utf-8")
    assert drift(py, ipynb) == []


@pytest.mark.parametrize("stem", sorted(_stems(".py")))
def test_links_to_other_notebooks_resolve(stem: str) -> None:
    """Markdown links such as ``[masks](03_masks.ipynb)`` point at notebooks that exist."""
    text = (NOTEBOOKS / f"{stem}.py").read_text(encoding="utf-8")
    targets = set(re.findall(r"\]\(([\w.-]+\.ipynb)\)", text))
    broken = sorted(t for t in targets if not (NOTEBOOKS / t).exists())
    assert not broken, f"{stem}.py links to missing notebooks: {broken}"
