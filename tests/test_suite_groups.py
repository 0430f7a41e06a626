"""The suite's parallel runs keep each group on one worker (``make test``: ``-n 2 --dist loadgroup``).

The browser, hub and site tests share a server or a build per module, and a
notebook's cells share one run: if pytest-xdist spread a group over both
workers, they would start a second server or race on shared folders. A pytest
release once made xdist's grouping a silent no-op; this catches that.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = '''
import pytest

@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    pass

@pytest.mark.parametrize("i", range(6))
def test_free(i):
    pass
'''

CONFTEST = '''
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if item.originalname == "test_grouped":
            item.add_marker(pytest.mark.xdist_group("one"))
'''


@pytest.mark.slow
def test_a_group_added_at_collection_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2",
                           "--dist", "loadgroup", "-v"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers = {m[1]: m[0] for m in re.findall(r"\[(gw\d)\][^\n]*PASSED (test_probe\.py::test_grouped\[\d\])",
                                               done.stdout)}
    assert len(workers) == 6, done.stdout[-2000:]
    assert len(set(workers.values())) == 1, f"the group ran on several workers: {workers}"


def test_the_root_conftest_groups_before_xdist_reads_the_groups() -> None:
    source = (ROOT / "conftest.py").read_text(encoding="utf-8")
    hook = source.index("def pytest_collection_modifyitems")
    assert "@pytest.hookimpl(tryfirst=True)" in source[max(0, hook - 200):hook]
