"""Notebook 03 on a real JupyterHub: one student alone, then three at once.

Starts the classroom's JupyterHub on 127.0.0.1 (classroom/trial.py: the
classroom configuration, one torch thread per student), lets three students
log in, start their servers and pull the course, then times notebook 03 in
turns: student 1 alone, all three at once, alone, at once, ... (every other
round the other way round). A wall time runs from the common start (each
student opens the notebook in a new kernel) until the last student's kernel
has run every cell; each round's ratio (three at once / one alone) is
measured minutes apart at most, so a change in the host's load hits both.
Every run must finish without an error and with its checked outputs as
stored, or nothing is printed.

    python benchmarks/bench_hub.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "classroom"))

import trial  # noqa: E402
from interleave import Spread, ratios  # noqa: E402


def checked_run(hub, students):
    runs, wall = trial.run_together(hub, students)
    for run in runs:
        problems = run.errors + run.mismatches
        if problems or run.after["torch_threads"] != 1:
            raise RuntimeError(f"{run.user}: {problems or run.after}")
    return wall, runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (one alone, three at once)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: need at least 1")
    alone, together, per_student = [], [], []
    started = time.monotonic()
    with trial.TrialHub() as hub:
        students, ready = trial.join_class(hub, ["student1", "student2", "student3"])
        checked_run(hub, students[:1])  # warm-up: first imports, font caches
        for r in range(args.rounds):
            order = ("alone", "together") if r % 2 == 0 else ("together", "alone")
            for kind in order:
                if kind == "alone":
                    alone.append(checked_run(hub, students[:1])[0])
                else:
                    wall, runs = checked_run(hub, students)
                    together.append(wall)
                    per_student.extend(run.seconds for run in runs)
    cores = os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"JupyterHub with the classroom configuration, notebook 03, {args.rounds} round(s); "
          f"{cores} cores, load average {load}")
    print(f"servers started in {statistics.median(ready):.1f} s (median of 3, started at once)")
    print(f"1 student:            {Spread(alone).text('.1f', ' s')} wall")
    print(f"3 students at once:   {Spread(together).text('.1f', ' s')} wall "
          f"(each student's notebook: median {statistics.median(per_student):.1f} s)")
    print(f"3 at once / 1 alone:  {ratios(together, alone).text()}")
    print(f"(whole benchmark: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
