"""Grade a submitted notebook with its Otter-Grader autograder and print the points.

    python tools/grade.py path/to/04_attention.ipynb

The notebook is matched to ``release/autograder/NN_name.zip`` by the
assignment name that ``otter assign`` stored in it (or by its file name),
graded with ``otter run`` (which executes it), and the points of each
exercise are printed; the last line is ``score: X / Y``.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADERS = ROOT / "release" / "autograder"


@dataclass
class Points:
    """The points of one exercise and, when some were lost, why."""

    question: str
    score: float
    possible: float
    why: str = ""


class GradingError(Exception):
    """The submission cannot be graded (unknown notebook, unreadable file, grader failure)."""


def assignment_of(submission: Path, autograders: Path = AUTOGRADERS) -> Path:
    """The autograder zip for ``submission``: by its stored assignment name, else its file name."""
    try:
        nb = nbformat.read(submission, as_version=4)
    except Exception as err:
        raise GradingError(f"{submission}: not a readable notebook ({err})") from err
    name = nb.metadata.get("otter", {}).get("assignment_name")
    candidates = [name] if name else []
    candidates += [m.group(0) for m in [re.search(r"\d\d_[a-z_]+?(?=(\.ipynb)?$)", submission.stem)] if m]
    for candidate in candidates:
        zipfile = autograders / f"{candidate}.zip"
        if zipfile.exists():
            return zipfile
    known = ", ".join(sorted(p.stem for p in autograders.glob("*.zip"))) or "none (run `make student`)"
    raise GradingError(f"{submission}: cannot tell which notebook this is (looked for {candidates}); "
                       f"known notebooks: {known}")


def _why(output: str) -> str:
    """The checker's diagnosis from otter's test output (the ExerciseFailed line)."""
    for line in output.splitlines():
        m = re.search(r"ExerciseFailed: (.*)", line)
        if m:
            return m.group(1).strip()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def grade(submission: Path, autograders: Path = AUTOGRADERS) -> list[Points]:
    """Run ``otter run`` on ``submission`` and return the points of each exercise."""
    submission = submission.resolve()
    if not submission.is_file():
        raise GradingError(f"{submission}: no such file")
    zipfile = assignment_of(submission, autograders)
    with tempfile.TemporaryDirectory(prefix="grade-") as out:
        done = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(zipfile), "-o", out,
                               "--no-logo", str(submission)], capture_output=True, text=True)
        results = Path(out) / "results.json"
        if done.returncode != 0 or not results.exists():
            raise GradingError(f"otter run failed on {submission.name}:\n{done.stdout}\n{done.stderr}")
        tests = json.loads(results.read_text())["tests"]
    points = []
    for test in tests:
        if test.get("max_score") is None:
            continue  # otter's summary of the public tests, not an exercise
        score, possible = float(test["score"]), float(test["max_score"])
        points.append(Points(test["name"], score, possible,
                             "" if score == possible else _why(test.get("output", ""))))
    return points


def report(points: list[Points]) -> str:
    """One line per exercise, then ``score: X / Y``."""
    width = max((len(p.question) for p in points), default=8)
    lines = []
    for p in points:
        line = f"{p.question:<{width}}  {p.score:g} / {p.possible:g}"
        if p.why:
            line += f"  ({p.why[:160]})"
        lines.append(line)
    total = sum(p.score for p in points)
    possible = sum(p.possible for p in points)
    lines.append(f"score: {total:g} / {possible:g}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade a course notebook; the last line is 'score: X / Y'.")
    parser.add_argument("submission", type=Path, help="the submitted .ipynb")
    parser.add_argument("--autograders", type=Path, default=AUTOGRADERS,
                        help="folder of the autograder zips (default: release/autograder)")
    args = parser.parse_args(argv)
    try:
        print(report(grade(args.submission, args.autograders)))
    except GradingError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
