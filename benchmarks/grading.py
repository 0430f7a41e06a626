"""Grade a generated class: N students x every course notebook, as ``make grade SUBMISSIONS=...`` does.

Usage (from the repository root, after ``make student``)::

    python benchmarks/grading.py                    # 30 students x 9 notebooks, --jobs = the cores
    python benchmarks/grading.py --students 2 --notebooks 00,03 --jobs 2

The submissions are made from the editions in ``release/`` into a temporary
folder (half of the students in a subfolder each, the others as
``studentNN_NN_name.ipynb``), each student's notebook one of:

- ``honest``: the instructor edition (the worked answers): full marks;
- ``stub``: the student edition, every exercise unsolved: 0;
- ``wrong``: the instructor edition with its first exercise replaced by the
  first wrong answer of ``tests/wrong_answers/nbNN.py``: that exercise's points lost;
- ``cheat``: the student edition with a cell that rebinds
  ``CheckResult.require`` to pass everything: 0, each question flagged.

The whole class is graded once with ``tools/grade.py``'s ``grade_class`` (cold:
nothing cached). Prints the wall time, notebooks per minute, the mean seconds of
one grading per notebook, the score distribution (per kind of submission, and a
histogram of the students' totals), and every grade that differs from what its
kind should get (exit status 1 if any does, or if a notebook failed as a whole).
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
import grade  # noqa: E402

KINDS = ["honest", "stub", "honest", "wrong", "honest", "cheat"]  # half honest, the rest a sixth each
CHEAT = ("import glmlib.exercises.checking as c\n"
         "c.CheckResult.require = lambda self: None  # every check passes, in this notebook\n")


def _first_wrong(stem: str, nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, str]:
    """``nb`` (instructor edition) with its first exercise's solution replaced by a catalogued wrong answer."""
    wrong = importlib.import_module(f"wrong_answers.nb{stem[:2]}").WRONG
    nb = nbformat.from_dict(nb)
    pending: list = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "otter_assign_solution_cell" in cell.metadata.get("tags", []):
            pending.append(cell)
        m = re.match(r'grader\.check\("(\w+)"\)', cell.source)
        if m and pending and m.group(1) in wrong:
            code, _ = next(iter(wrong[m.group(1)].values()))
            pending[0].source = code
            for extra in pending[1:]:
                extra.source = ""
            return nb, m.group(1)
        if m:
            pending = []
    raise SystemExit(f"{stem}: no solution cell before a check with a catalogued wrong answer")


def make_class(folder: Path, release: Path, students: int, stems: list[str]) -> dict[tuple[str, str], tuple[str, str]]:
    """Write the submissions; return (student, notebook) -> (kind, the question made wrong or '')."""
    made = {}
    editions = {(e, s): nbformat.read(release / e / f"{s}.ipynb", as_version=4)
                for e in ("instructor", "student") for s in stems}
    for i in range(students):
        student = f"student{i + 1:02d}"
        for j, stem in enumerate(stems):
            kind, lost = KINDS[(i + j) % len(KINDS)], ""
            if kind == "honest":
                nb = editions["instructor", stem]
            elif kind == "stub":
                nb = editions["student", stem]
            elif kind == "wrong":
                nb, lost = _first_wrong(stem, editions["instructor", stem])
            else:
                nb = nbformat.from_dict(editions["student", stem])
                nb.cells.insert(1, nbformat.v4.new_code_cell(CHEAT))
            path = folder / student / f"{stem}.ipynb" if i % 2 == 0 else folder / f"{student}_{stem}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
            made[student, stem] = (kind, lost)
    return made


def expected(kind: str, lost: str, graded) -> dict[str, float]:
    if kind == "honest":
        return {r.question: r.possible for r in graded.rows}
    if kind == "wrong":
        return {r.question: 0.0 if r.question == lost else r.possible for r in graded.rows}
    return {r.question: 0.0 for r in graded.rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30, help="students in the class (default 30)")
    parser.add_argument("--notebooks", default="", help="only these notebooks, by number: e.g. 00,03 (default all)")
    parser.add_argument("--jobs", type=int, default=None, help="gradings at once (default: the cores)")
    parser.add_argument("--release", type=Path, default=ROOT / "release", help="the editions (make student)")
    parser.add_argument("--keep", type=Path, help="generate into this (new) folder and keep it, grades included")
    parser.add_argument(grade.UNSAFE_FLAG, dest="unsafe", action="store_true",
                        help="grade without a sandbox where there is none (the course's own notebooks only)")
    args = parser.parse_args(argv)
    stems = sorted(grade.masters())
    if args.notebooks:
        wanted = {n.strip().zfill(2) for n in args.notebooks.split(",")}
        stems = [s for s in stems if s[:2] in wanted]
    missing = [s for s in stems if not (args.release / "instructor" / f"{s}.ipynb").exists()]
    if missing:
        print(f"no editions of {', '.join(missing)} in {args.release}: run `make student` first", file=sys.stderr)
        return 2
    refusal = grade._refuse_unsafe(args.unsafe)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    jobs = args.jobs or os.cpu_count() or 1
    print(grade.sandbox.describe())
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as temp:
        folder = args.keep or Path(temp) / "submissions"
        folder.mkdir(parents=True, exist_ok=False)
        made = make_class(folder, args.release, args.students, stems)
        print(f"{args.students} students x {len(stems)} notebooks = {len(made)} submissions in {folder}; "
              f"grading with {jobs} worker{'s' if jobs != 1 else ''} on {os.cpu_count()} cores")
        start = time.monotonic()
        result = grade.grade_class(folder, jobs=jobs, unsafe=args.unsafe)
        wall = time.monotonic() - start
        return report(result, made, stems, wall)


def report(result, made, stems: list[str], wall: float) -> int:
    by_task = {(t.student, t.notebook): result.grades.get(t.file) for t in result.tasks}
    seconds = defaultdict(list)
    kinds: dict[str, list[float]] = defaultdict(list)
    totals: Counter = Counter()
    possible: Counter = Counter()
    wrong, failed = [], []
    for (student, stem), (kind, lost) in sorted(made.items()):
        graded = by_task.get((student, stem))
        if graded is None or graded.error:
            failed.append(f"{student} {stem} ({kind}): {graded.error if graded else 'not graded'}")
            continue
        seconds[stem].append(graded.seconds)
        kinds[kind].append(graded.score / graded.possible)
        totals[student] += graded.score
        possible[student] += graded.possible
        got = {r.question: r.score for r in graded.rows}
        want = expected(kind, lost, graded)
        if got != want:
            wrong.append(f"{student} {stem} ({kind}): got {got}, expected {want}")
        if kind == "cheat" and not all(r.flags for r in graded.rows):
            wrong.append(f"{student} {stem} (cheat): a question without a flag")
    print()
    print(f"graded {len(made)} notebooks of {len(totals) or result.students} students in {wall:,.0f} s "
          f"with {result.jobs} workers: {len(made) / wall * 60:.1f} notebooks per minute")
    print("seconds per grading (mean, max): " + ", ".join(
        f"{s[:2]} {sum(v) / len(v):.0f}/{max(v):.0f}" for s, v in sorted(seconds.items())))
    print("score / possible per kind of submission (mean): " + ", ".join(
        f"{k} {sum(v) / len(v):.2f} (n={len(v)})" for k, v in sorted(kinds.items())))
    bins = Counter(min(int(10 * totals[s] / possible[s]), 9) for s in totals if possible[s])
    print("students' totals:")
    for b in range(10):
        print(f"  {10 * b:3d}-{10 * b + 10:3d}%  {'#' * bins[b]} {bins[b] or ''}".rstrip())
    for line in failed:
        print(f"NOT GRADED AS A WHOLE: {line}")
    for line in wrong:
        print(f"UNEXPECTED: {line}")
    print(f"{len(failed)} notebooks not graded as a whole, {len(wrong)} unexpected grades")
    return 1 if failed or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
