"""Time every notebook, each in a fresh kernel, against the course's time budget.

Usage (from the repository root)::

    python benchmarks/time_notebooks.py                 # all notebooks/*.ipynb, in order
    python benchmarks/time_notebooks.py notebooks/01_language_models.ipynb
    python benchmarks/time_notebooks.py --threads 2     # what a 2-core laptop would see

Prints a table of wall-clock seconds per notebook (budget 180 s each) and the total
(budget 360 s), with the number of output-checked cells (``# NBVAL_CHECK_OUTPUT``)
in each. Exits with status 1 if a notebook fails, or if any time is over budget.
The notebooks on disk are not modified.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

ROOT = Path(__file__).resolve().parent.parent
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
NOTEBOOK_BUDGET_S = 180.0
TOTAL_BUDGET_S = 360.0  # the whole course in under 6 minutes (the course handbook)


@dataclass
class Timing:
    name: str
    seconds: float
    checked_cells: int
    error: str | None = None


def checked_cells(nb: nbformat.NotebookNode) -> int:
    """How many code cells have their output compared by nbval."""
    return sum(1 for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(CHECK_MARK))


def run_notebook(path: Path, cell_timeout: int) -> Timing:
    """Execute ``path`` top to bottom in a new kernel started in its own folder."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellTimeoutError as err:
        error = f"a cell ran longer than {cell_timeout} s: {str(err).splitlines()[0]}"
    except CellExecutionError as err:
        lines = [line for line in ANSI_ESCAPE.sub("", str(err)).splitlines() if line.strip()]
        error = lines[-1] if lines else "a cell raised an error"
    return Timing(path.name, time.perf_counter() - start, checked_cells(nb), error)


def report(timings: list[Timing], budget: float, total_budget: float) -> bool:
    """Print the table; return True when every notebook ran and every time is within budget."""
    width = max([len(t.name) for t in timings] + [8])
    print(f"{'notebook':<{width}}  {'seconds':>8}  {'budget':>7}  {'checked':>7}  status")
    ok = True
    for t in timings:
        status = "ok"
        if t.error:
            status, ok = f"ERROR: {t.error}", False
        elif t.seconds > budget:
            status, ok = "OVER BUDGET", False
        print(f"{t.name:<{width}}  {t.seconds:8.1f}  {budget:7g}  {t.checked_cells:7d}  {status}")
    total = sum(t.seconds for t in timings)
    total_status = "ok" if total <= total_budget else "OVER BUDGET"
    ok = ok and total <= total_budget
    print(f"{'total':<{width}}  {total:8.1f}  {total_budget:7g}  {sum(t.checked_cells for t in timings):7d}  "
          f"{total_status}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebooks/*.ipynb, in name order)")
    parser.add_argument("--budget", type=float, default=NOTEBOOK_BUDGET_S, help="seconds allowed per notebook")
    parser.add_argument("--total-budget", type=float, default=TOTAL_BUDGET_S, help="seconds allowed in all")
    parser.add_argument("--cell-timeout", type=int, default=600, help="seconds before a single cell is stopped")
    parser.add_argument("--threads", type=int, default=None,
                        help="set OMP_NUM_THREADS / MKL_NUM_THREADS for the kernels (default: inherit)")
    args = parser.parse_args(argv)

    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file() or p.suffix != ".ipynb"]
    if missing:
        parser.error(f"not .ipynb files: {missing}")
    if not paths:
        parser.error(f"no notebooks found in {ROOT / 'notebooks'}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)  # inherited by each kernel process

    timings = []
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        timings.append(run_notebook(path.resolve(), args.cell_timeout))
    return 0 if report(timings, args.budget, args.total_budget) else 1


if __name__ == "__main__":
    sys.exit(main())
