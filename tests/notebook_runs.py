"""Each notebook executed once per test run, and that run shared by every test that needs it.

``pytest`` collects ``notebooks/*.ipynb`` with the collector below (see the
root ``conftest.py``): one item per code cell, named ``Cell N`` as nbval names
them, checked as ``--nbval-lax`` checks them (a cell that raises fails, unless
marked ``# NBVAL_RAISES_EXCEPTION``; a ``# NBVAL_CHECK_OUTPUT`` cell must
reproduce its stored output, compared by nbval's own code; ``# NBVAL_SKIP``
cells are not run). The difference: the notebook is executed once, in one
kernel of the current environment started in ``notebooks/``, cell after cell
as nbval does, and the outputs of that run are kept in a folder shared by the
run's pytest-xdist workers, keyed by the notebook's content, glmlib's sources
and the shipped model. The editions tests grade that same run (the instructor
edition's code is the self-study notebook's code) instead of executing the
notebook again.

When that run should also be graded (the editions tests are collected), the
autograder's tests are run in the same kernel after the last cell
(:func:`graded_run`). ``pytest --nbval-lax notebooks/`` still uses nbval itself.

The test harness sets ``GLMLIB_QUICK=1`` (root ``conftest.py``): notebook 06's
live training cell then runs a short schedule; the figures its prose quotes
are those of the stored full run, which the prose-vs-output tests check.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
import zipfile
from collections import defaultdict
from pathlib import Path
from queue import Empty

import nbformat
import pytest
from filelock import FileLock
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel
from nbval.plugin import (IPyNbCell, IPyNbFile, NbCellError, coalesce_streams, find_comment_markers,
                          find_metadata_tags)

ROOT = Path(__file__).resolve().parents[1]
QUICK_ENV = "GLMLIB_QUICK"
OUTPUT_TIMEOUT_S = 60  # waiting for a cell's outputs after its reply (nbval: 5 s; generous on a busy host)
GRADE_STASH = pytest.StashKey[bool]()
_memo: dict[str, dict] = {}


# --------------------------------------------------------------------------- the shared folder and keys

def shared_dir(config) -> Path:
    """A folder of this test run, the same for every pytest-xdist worker of it."""
    base = config._tmp_path_factory.getbasetemp()
    if hasattr(config, "workerinput"):  # a worker's basetemp is <run>/popen-gwN
        base = base.parent
    folder = base / "shared-runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _digest(paths: list[Path], *extra: str) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes())
    for text in extra:
        h.update(text.encode() + b"\0")
    return h.hexdigest()[:20]


@functools.lru_cache(maxsize=1)
def environment_key() -> str:
    """What a notebook run depends on besides the notebook: glmlib's sources, the shipped model, the flag
    (read once per process: a run started with some glmlib is checked against that glmlib)."""
    files = sorted((ROOT / "glmlib").rglob("*.py")) + sorted((ROOT / "data").glob("shakespeare_gpt*"))
    return _digest(files, os.environ.get(QUICK_ENV, ""))


def _cached(config, name: str, key: str, make) -> dict:
    """``make()`` once per run and key across workers (a file lock), kept as JSON."""
    if key in _memo:
        return _memo[key]
    path = shared_dir(config) / f"{name}-{key}.json"
    with FileLock(str(path) + ".lock"):
        if path.exists():
            result = json.loads(path.read_text(encoding="utf-8"))
        else:
            result = make()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(result), encoding="utf-8")
            tmp.replace(path)
    _memo[key] = result
    return result


# --------------------------------------------------------------------------- executing

def cell_options(cell) -> dict:
    """nbval's options of a code cell (comment markers win over metadata tags)."""
    options = defaultdict(bool, find_metadata_tags(cell.metadata))
    options.update(dict(find_comment_markers(cell.source)))
    return options


def _run_cell(kernel: RunningKernel, source: str, timeout: float) -> dict:
    """One cell, as nbval's ``IPyNbCell.runtest`` runs it: its outputs, its error, whether it timed out."""
    msg_id = kernel.execute_cell_input(source, allow_stdin=False)
    timed_out = False
    try:
        kernel.await_reply(msg_id, timeout=timeout)
    except Empty:
        kernel.interrupt()
        timed_out = True
    outs, error = [], None
    while True:
        try:
            msg = kernel.get_message(stream="iopub", timeout=OUTPUT_TIMEOUT_S)
        except Empty:
            kernel.stop()
            return {"outputs": outs, "error": None, "timed_out": timed_out, "lost": True}
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, reply = msg["msg_type"], msg["content"]
        if kind == "status":
            if reply["execution_state"] == "idle":
                break
        elif kind in ("display_data", "execute_result"):
            out = {"output_type": kind, "metadata": reply["metadata"], "data": reply["data"]}
            if kind == "execute_result":
                out["execution_count"] = reply["execution_count"]
            outs.append(out)
        elif kind == "stream":
            outs.append({"output_type": "stream", "name": reply["name"], "text": reply["text"]})
        elif kind == "error":
            error = {"ename": reply["ename"], "evalue": reply["evalue"], "traceback": reply["traceback"]}
            outs.append({"output_type": "error", **error})
    outs = [dict(o) for o in coalesce_streams([nbformat.from_dict(o) for o in outs])]
    return {"outputs": outs, "error": error, "timed_out": timed_out, "lost": False}


def execute(path: Path, cell_timeout: float, startup_timeout: float, epilogue: str | None = None) -> dict:
    """Run every code cell of ``path`` in a fresh kernel (current environment, cwd its folder).

    Returns ``{"cells": [...], "epilogue": {...} | None}``: per code cell its outputs,
    error, whether it timed out or was skipped (``NBVAL_SKIP``); then, in the same
    kernel, ``epilogue`` (code run after the notebook, e.g. the autograder's tests).
    """
    nb = nbformat.read(path, as_version=4)
    kernel = RunningKernel(CURRENT_ENV_KERNEL_NAME, cwd=str(path.parent), startup_timeout=startup_timeout)
    cells: list[dict] = []
    stopped = None
    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if cell_options(cell)["skip"]:
                cells.append({"skipped": True})
            elif stopped:
                cells.append({"not_run": stopped})
            else:
                run = _run_cell(kernel, cell.source, cell_timeout)
                cells.append(run)
                if run["lost"] or not kernel.is_alive():
                    stopped = f"the kernel stopped at code cell {len(cells) - 1}"
        tail = None
        if epilogue is not None:
            tail = {"not_run": stopped} if stopped else _run_cell(kernel, epilogue, cell_timeout)
        return {"cells": cells, "epilogue": tail}
    finally:
        if kernel.is_alive():
            kernel.stop()


def notebook_run(config, path: Path) -> dict:
    """The run of ``path`` that this test run shares (graded when the editions tests are collected)."""
    if config.stash.get(GRADE_STASH, False):
        return graded_run(config, path)
    key = _digest([path], environment_key())
    return _cached(config, path.stem, key, lambda: execute(path, *_timeouts(config)))


def _timeouts(config) -> tuple[float, float]:
    return (config.getoption("nbval_cell_timeout", 2000), config.getoption("nbval_kernel_startup_timeout", 60))


# --------------------------------------------------------------------------- grading that run

GRADE = """
import glob as _glob, json as _json
from otter.nbmeta_config import NBMetadataConfig as _Config
from otter.test_files import create_test_file as _test_file
_points = {{}}
for _path in sorted(_glob.glob({tests!r} + "/*.py")):
    _test = _test_file(_path, _Config())
    _test.run(globals())
    _points[_test.name] = [_test.score, _test.possible, "" if _test.passed_all else _test.summary()[:2000]]
print("GRADED " + _json.dumps(_points))
"""


def shared_release(config) -> Path:
    """The classroom editions, built once per test run (``tools/editions.py``, as ``make student`` does)."""
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    import editions
    folder = shared_dir(config) / "editions"

    def build() -> dict:
        return {"release": str(editions.build(folder / "release"))}
    return Path(_cached(config, "editions", "release", build)["release"])


def autograder_tests(config, stem: str) -> Path:
    """The autograder's own test files of a notebook (hidden cases included), unpacked once."""
    release = shared_release(config)
    target = shared_dir(config) / "autograder-tests" / stem
    with FileLock(str(target) + ".lock"):
        if not target.exists():
            with zipfile.ZipFile(release / "autograder" / f"{stem}.zip") as zf:
                names = [n for n in zf.namelist() if re.match(r"tests/[^/]+\.py$", n)]
                tmp = target.with_name(stem + ".tmp")
                zf.extractall(tmp, names)
                (tmp / "tests").replace(target)
    return target


def graded_run(config, path: Path) -> dict:
    """The shared run of ``path``, then its autograder's tests in the same kernel: ``run["points"]``."""
    tests = autograder_tests(config, path.stem)
    epilogue = GRADE.format(tests=str(tests))
    key = _digest([path, *sorted(tests.glob("*.py"))], environment_key(), epilogue)
    run = _cached(config, path.stem + "-graded", key,
                  lambda: execute(path, *_timeouts(config), epilogue=epilogue))
    return run


def failed_cells(path: Path, run: dict) -> list[int]:
    """The code cells of ``path`` (numbered as nbval numbers them) that raised, unless marked to, or never ran."""
    code = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    return [i for i, (cell, result) in enumerate(zip(code, run["cells"], strict=True))
            if result.get("not_run") or result.get("lost")
            or (result.get("error") and not cell_options(cell)["check_exception"])]


def points_of(run: dict) -> dict[str, list]:
    """``{question: [score, possible, why]}`` from a graded run's last cell."""
    tail = run["epilogue"] or {}
    if tail.get("error") or tail.get("not_run"):
        raise AssertionError(f"grading after the notebook failed: {tail.get('error') or tail.get('not_run')}")
    text = "".join(o.get("text", "") for o in tail["outputs"] if o["output_type"] == "stream")
    (line,) = [line for line in text.splitlines() if line.startswith("GRADED ")]
    return json.loads(line[len("GRADED "):])


# --------------------------------------------------------------------------- pytest collection

class SharedRunFile(IPyNbFile):
    """A notebook whose cells are checked against the run shared by the whole test session."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.compare_outputs = False  # lax: only NBVAL_CHECK_OUTPUT cells are compared

    def collect(self):
        for item in super().collect():
            yield SharedRunCell.from_parent(self, name=item.name, cell_num=item.cell_num, cell=item.cell,
                                            options=item.options)

    def setup(self):
        self.setup_sanitize_files()  # no kernel here: the run is shared

    def teardown(self):
        pass


class SharedRunCell(IPyNbCell):
    """One code cell: its outputs are read from the shared run, then checked as nbval checks them."""

    def runtest(self):
        if self.options["skip"]:
            pytest.skip()
        run = notebook_run(self.config, Path(self.parent.path))
        result = run["cells"][self.cell_num]
        if result.get("not_run"):
            pytest.xfail(f"not run: {result['not_run']}")
        self.test_outputs = result["outputs"]
        timeout = self.config.getoption("nbval_cell_timeout", 2000)
        if result["lost"]:
            self.parent.timed_out = True
            self.raise_cell_error(f"Timeout of {timeout} seconds exceeded while executing cell, or "
                                  f"waiting {OUTPUT_TIMEOUT_S} s for its output; the kernel was stopped")
        error = result["error"]
        if error and not self.options["check_exception"]:
            if error["ename"] == "KeyboardInterrupt" and result["timed_out"]:
                msg = f"Timeout of {timeout:g} seconds exceeded executing cell"
            else:
                msg = "Cell execution caused an exception"
            self.raise_cell_error(msg, "\n" + "\n".join(error["traceback"]))
        outs = [nbformat.from_dict(o) for o in result["outputs"]]
        unrun = self.cell.execution_count is None
        if unrun and self.cell.outputs:
            self.raise_cell_error("Unrun reference cell has outputs")
        if self.options["check"] and not unrun:
            if not self.compare_outputs(outs, coalesce_streams(self.cell.outputs)):
                self.raise_cell_error("Cell outputs differ", "\n".join(self.comparison_traceback))


__all__ = ["NbCellError", "SharedRunFile", "autograder_tests", "failed_cells", "graded_run", "notebook_run", "points_of",
           "shared_release"]
