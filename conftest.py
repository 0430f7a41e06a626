"""The test session's shared runs, its short schedules, and how pytest-xdist spreads the tests.

- under pytest-xdist, ``OMP_NUM_THREADS=1`` in each worker and what it starts
  (one torch thread per process: the workers already fill the cores);
- ``GLMLIB_QUICK=1`` for everything the tests start (kernels, ``otter run``):
  notebook 06's live training cell then runs a short schedule (the stored
  outputs, which the prose quotes, stay those of the full run).
- ``notebooks/*.ipynb`` are collected by ``tests/notebook_runs.py``: each
  notebook executed once per test run, its cells checked as ``--nbval-lax``
  checks them; the editions tests grade that same run. ``pytest --nbval-lax
  notebooks/`` (or ``--nbval``) hands the notebooks to nbval instead.
- Under ``-n 2 --dist loadgroup`` (``make test``), tests that share an
  expensive module or session fixture (a JupyterLab, a JupyterHub, the built
  website, a notebook's shared run) stay on one worker, and the longest groups
  start first.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("GLMLIB_QUICK", "1")
# Several pytest-xdist workers share the cores: each worker, and every kernel or grader it starts, on
# one torch thread. Two processes of two spinning OpenMP threads on two cores stall each other (a
# notebook run took 130 s instead of 17); tests that need more threads set them themselves.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(ROOT / "tests"))

import notebook_runs  # noqa: E402

# modules whose tests share a server, a browser or a build made once per module or session
ONE_WORKER_MODULES = ("test_browser.py", "test_browser_generation.py", "test_classroom_hub.py",
                      "test_site.py", "test_install.py", "test_grading.py", "test_autograder_env.py")
# the longest groups, started first (seconds on an idle 2-core host, roughly)
FIRST = ("test_install.py", "test_grading.py", "test_autograder_env.py", "test_classroom_hub.py", "test_site.py",
         "test_browser.py",
         "nb-07", "nb-06", "nb-05", "nb-08", "nb-01", "nb-04")


# The Chinese edition's notebooks (notebooks/zh-CN/) have the English notebooks' code, checked cell by
# cell by tests/test_translations.py, plus one cell that sets the language: two of them are run here, to
# show that cell and the Chinese checker messages at work in a kernel; running the others would repeat
# the English runs (pytest notebooks/zh-CN/ --nbval-lax runs them all).
TRANSLATED_RUNS = ("03_masks.ipynb", "07_generation_and_sampling.ipynb")


def pytest_collect_file(file_path: Path, parent):
    option = parent.config.option
    if file_path.suffix == ".ipynb" and not (getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)):
        translated = file_path.parent.name == "zh-CN" and file_path.parent.parent.name == "notebooks"
        if translated and file_path.name not in TRANSLATED_RUNS and not _named(parent.config, file_path):
            return None
        if ".ipynb_checkpoints" not in file_path.parts:
            return notebook_runs.SharedRunFile.from_parent(parent, path=file_path)
    return None


def _named(config, path: Path) -> bool:
    """Whether the command line names ``path`` or its folder (then every notebook there is run)."""
    named = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    return any(path == n or n in path.parents and n != ROOT / "notebooks" and n != ROOT for n in named)


def _group(item) -> str | None:
    path = Path(str(item.path))
    if path.suffix == ".ipynb":
        return f"nb-{path.stem[:2]}"
    if path.name in ONE_WORKER_MODULES or path.name.startswith("test_browser"):
        return path.name
    if item.originalname == "test_instructor_edition_gets_full_marks":
        return f"nb-{item.callspec.params['stem'][:2]}"  # graded from the notebook's shared run
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups into the node ids
def pytest_collection_modifyitems(config, items):
    if any(getattr(item, "originalname", "") == "test_instructor_edition_gets_full_marks" for item in items):
        config.stash[notebook_runs.GRADE_STASH] = True  # the shared runs are graded as well
    for item in items:
        group = _group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    if hasattr(config, "workerinput"):  # every worker sorts alike, as pytest-xdist requires
        rank = {name: i for i, name in enumerate(FIRST)}
        items.sort(key=lambda item: rank.get(_group(item) or "", len(FIRST)))  # stable: order kept within
