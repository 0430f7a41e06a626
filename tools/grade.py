"""Grade submitted notebooks: one, or a whole class at once.

    python tools/grade.py path/to/04_attention.ipynb
    python tools/grade.py --class submissions/ [--jobs N] [--out FOLDER]

Each submission is matched to its course notebook (``notebooks/NN_name.ipynb``)
by the assignment name stored in its metadata (``otter.assignment_name``), else
by the ``NN_name`` in its file name, and graded by
``glmlib.exercises.grading.grade_notebook``: its code runs in the sandbox, its
answers are checked from here on the visible and on hidden cases.

One notebook: one line per exercise (points, status, the full diagnosis, its
flags; a diagnosis of several lines goes on, indented, under its line), and
the last line is ``score: X / Y``.

A class (``--class FOLDER``): every notebook of every student, where the folder
holds either one subfolder per student (the student is the subfolder's name:
``alice/04_attention.ipynb``) or files named by student (``alice_04_attention.ipynb``,
``alice-04_attention.ipynb``: the student is what comes before ``NN_name``), or
both. Up to ``--jobs`` notebooks are graded at once, each in a worker process
of its own (the grading patches module state, so never two in one process).
The output folder (``--out``, by default ``grades/`` inside the submissions
folder, which the class grading itself skips) receives:

- ``gradebook.csv``: one row per student, notebook and exercise (student,
  notebook, question, points, max, status, flags, reason, file), plus one row
  with status ``error`` (question ``(notebook)``) for a notebook that could
  not be graded as a whole, with the reason: unreadable, not a course
  notebook, timed out, its process died, the grader itself failed;
- ``feedback/STUDENT/NN_name.md``: every diagnosis in full, the notes (cells
  that raised, what the sandbox stopped) and the flags, to hand back;
- ``cache/``: each grading, keyed by a hash of the submission's path (in the
  folder) and bytes, the course notebook, the grader's code
  (``glmlib/exercises/*.py``), the sandbox mode and the time limit. A re-run grades only what is new or changed (an
  interrupted run goes on where it stopped); a grading whose grader crashed
  is not kept, so a re-run tries it again. ``--regrade`` ignores the cache.

Every file is written to a temporary name and renamed, and listed with its hash
in ``.grade-tool.json``: the tool refuses (one sentence, exit status 2) to
write into a folder holding any other file, or one of its files changed since.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import re
import sys
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

from glmlib.exercises import grading, sandbox  # noqa: E402
from glmlib.exercises.grading import NotebookGrade, QuestionGrade  # noqa: E402

GRADEBOOK_COLUMNS = ["student", "notebook", "question", "points", "max", "status", "flags", "reason", "file"]
MARKER = ".grade-tool.json"  # the list of the files this tool wrote into an output folder, with their hashes
LOCK = ".grade-tool.lock"
PARTIAL = ".grade-partial-"  # prefix of a file being written (renamed when complete)
WHOLE = "(notebook)"  # the question column of a row about the whole notebook
UNSAFE_FLAG = "--unsafe-no-sandbox"


# ------------------------------------------------------------------ one submission

@dataclasses.dataclass
class Points:
    """The points of one exercise and, when some were lost, why (the full diagnosis)."""

    question: str
    score: float
    possible: float
    why: str = ""
    status: str = ""
    flags: list[str] = dataclasses.field(default_factory=list)


class GradingError(Exception):
    """The submission cannot be graded (no such file, not a course notebook)."""


def masters(folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """The course notebooks, by stem (``04_attention``). A folder of autograder zips (the
    otter-era ``release/autograder``) stands for the course's own notebooks."""
    found = {p.stem: p for p in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))}
    if not found and any(Path(folder).glob("[0-9][0-9]_*.zip")):
        found = {p.stem: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
    return found


def _stored_name(submission: Path) -> str:
    """The assignment name that ``otter assign`` stored in the notebook ('' if none or unreadable)."""
    try:
        meta = json.loads(submission.read_bytes()).get("metadata", {})
        name = meta.get("otter", {}).get("assignment_name")
        return name if isinstance(name, str) else ""
    except Exception:
        return ""


def _name_match(name: str, known: Iterable[str]) -> re.Match | None:
    """Where a known notebook's stem (``04_attention``) stands in a file name, if it does."""
    for stem in sorted(known, key=len, reverse=True):
        m = re.search(rf"(?<![0-9]){re.escape(stem)}", name)
        if m:
            return m
    return None


def identify(submission: Path, known: dict[str, Path]) -> str:
    """The course notebook ``submission`` is: by its stored assignment name, else by its file name."""
    stored = _stored_name(submission)
    m = _name_match(submission.name, known)
    if stored in known and m and m.group(0) != stored:
        raise GradingError(f"{submission.name}: its file name says {m.group(0)} but the notebook says it is "
                           f"{stored} (otter.assignment_name in its metadata); rename the file to the notebook "
                           f"it holds, then grade it again")
    if stored in known:
        return stored
    if m:
        return m.group(0)
    looked = [c for c in [stored, *re.findall(r"\d\d_[a-z0-9_]+?(?=\.ipynb$|[^a-z0-9_]|$)", submission.name)] if c]
    raise GradingError(f"{submission.name}: cannot tell which notebook this is (looked for "
                       f"{looked or 'an NN_name in its name or metadata'}); known notebooks: "
                       f"{', '.join(known) or 'none'}")


def grade_one(submission: Path, masters_folder: Path = NOTEBOOKS, **options) -> NotebookGrade:
    """Grade one submission (``options`` go to ``grade_notebook``: unsafe, notebook_timeout, slot...)."""
    submission = Path(submission).resolve()
    if not submission.is_file():
        raise GradingError(f"{submission}: no such file")
    known = masters(masters_folder)
    return grading.grade_notebook(submission, known[identify(submission, known)], **options)


def points_of(graded: NotebookGrade) -> list[Points]:
    return [Points(r.question, r.score, r.possible, "" if r.score == r.possible else r.diagnosis,
                   r.status, list(r.flags)) for r in graded.rows]


def grade(submission: Path, masters_folder: Path = NOTEBOOKS, **options) -> list[Points]:
    """The points of each exercise of ``submission`` (see ``grade_one``)."""
    return points_of(grade_one(submission, masters_folder, **options))


def _indented(text: str, indent: str = "    ") -> list[str]:
    return [indent + line for line in text.splitlines()]


def report(points: list[Points], graded: NotebookGrade | None = None) -> str:
    """One line per exercise (points, status, diagnosis, flags), then ``score: X / Y``; nothing cut."""
    width = max((len(p.question) for p in points), default=8)
    lines = []
    if graded is not None and graded.error:
        lines.append(f"notebook not graded as a whole: {graded.error}")
    for p in points:
        why = graded_diagnosis(p, graded)
        first, *rest = why.splitlines() or [""]
        line = f"{p.question:<{width}}  {p.score:g} / {p.possible:g}"
        line += f"  {p.status}" if p.status else ""
        line += f"  {first}" if first else ""
        if p.flags:
            line += f"  [flags: {'; '.join(p.flags)}]"
        lines.append(line.rstrip())
        lines += _indented("\n".join(rest))
    if graded is not None:
        lines += [f"note: {note}" for note in graded.notes]
    total = sum(p.score for p in points)
    possible = sum(p.possible for p in points)
    lines.append(f"score: {total:g} / {possible:g}")
    return "\n".join(lines)


def graded_diagnosis(p: Points, graded: NotebookGrade | None) -> str:
    """The full diagnosis of ``p``: its ``why``, or the grade's own text when it passed."""
    if p.why or graded is None:
        return p.why
    return next((r.diagnosis for r in graded.rows if r.question == p.question), "")


# ------------------------------------------------------------------ a class: what there is to grade

@dataclasses.dataclass
class Task:
    student: str
    file: str  # relative to the submissions folder
    path: Path
    notebook: str = ""  # the course notebook's stem ('' if unknown)
    master: Path | None = None
    key: str = ""
    problem: str = ""  # why it cannot be graded at all

    @property
    def feedback_name(self) -> str:
        return self.notebook or Path(self.file).stem


def _skipped(folder: Path) -> bool:
    return folder.name.startswith(".") or folder.name in ("__MACOSX", "__pycache__") or (folder / MARKER).exists()


def _notebooks_under(folder: Path, skip: set[Path]) -> list[Path]:
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            if path.resolve() not in skip and not _skipped(path):
                found += _notebooks_under(path, skip)
        elif path.suffix == ".ipynb" and not path.name.startswith((".", "~")):
            found.append(path)
    return found


def discover(folder: Path, known: dict[str, Path], skip: Iterable[Path] = ()) -> list[Task]:
    """Every submission in ``folder``: one subfolder per student, or files named by student."""
    folder = folder.resolve()
    skip = {Path(p).resolve() for p in skip}
    tasks = []
    for path in _notebooks_under(folder, skip):
        rel = path.relative_to(folder)
        task = Task("", rel.as_posix(), path)
        try:
            task.notebook = identify(path, known)
            task.master = known[task.notebook]
        except GradingError as err:
            task.problem = str(err)
        if len(rel.parts) > 1:
            task.student = rel.parts[0]
        else:
            m = _name_match(path.name, known)
            prefix = path.name[:m.start()] if m else ("" if task.problem else path.stem)
            task.student = prefix.strip(" _-.")
        tasks.append(task)
    return tasks


def code_fingerprint() -> str:
    """A hash of the grader's code: every module of ``glmlib.exercises``."""
    digest = hashlib.sha256()
    for path in sorted(Path(grading.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_key(task: Task, code: str, settings: str) -> str:
    digest = hashlib.sha256(b"glmlib tools/grade.py cache 1\0")
    for part in (task.file.encode(), task.path.read_bytes(), task.master.read_bytes() if task.master else b"",
                 code.encode(), settings.encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


# ------------------------------------------------------------------ the output folder

class OutputRefused(Exception):
    """The output folder holds files this tool did not write."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Output:
    """An output folder this tool owns: it writes each file whole (temp file, rename), lists it with its
    hash in ``MARKER``, and refuses a folder that holds anything else."""

    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        self.files: dict[str, str] = {}
        self._lock = None

    def claim(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise OutputRefused(f"refusing to write grades into {self.folder}: it is a file, not a folder")
        marker = self.folder / MARKER
        if marker.exists():
            try:
                self.files = dict(json.loads(marker.read_text())["files"])
            except Exception as err:
                raise OutputRefused(f"refusing to write into {self.folder}: its {MARKER} is unreadable "
                                    f"({type(err).__name__}); move the folder away or choose another --out") from err
        foreign, changed = [], []
        if self.folder.is_dir():
            for path in sorted(self.folder.rglob("*")):
                rel = path.relative_to(self.folder).as_posix()
                if path.is_dir() or rel in (MARKER, LOCK) or path.name.startswith(PARTIAL):
                    continue
                if rel not in self.files:
                    foreign.append(rel)
                elif _sha(path.read_bytes()) != self.files[rel]:
                    changed.append(rel)
        if foreign or changed:
            what = ", ".join([*foreign[:3], *(f"{c} (changed since)" for c in changed[:3])])
            more = len(foreign) + len(changed) - min(len(foreign), 3) - min(len(changed), 3)
            raise OutputRefused(
                f"refusing to write into {self.folder}: it holds files this tool did not write, or changed since it "
                f"wrote them ({what}"
                f"{f' and {more} more' if more > 0 else ''}); move them away or choose another --out")
        self.folder.mkdir(parents=True, exist_ok=True)
        import fcntl
        self._lock = open(self.folder / LOCK, "a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            raise OutputRefused(f"refusing to write into {self.folder}: another grading is writing there") from err
        for path in self.folder.rglob(f"{PARTIAL}*"):  # left by an interrupted run of this tool
            path.unlink()
        self._save_marker()

    def _atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{PARTIAL}{os.getpid()}-{path.name}")
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)

    def _save_marker(self) -> None:
        data = {"tool": "glmlib tools/grade.py", "note": "the files this tool wrote here, with their sha256",
                "files": dict(sorted(self.files.items()))}
        self._atomic(self.folder / MARKER, json.dumps(data, indent=1).encode())

    def write(self, rel: str, data: bytes | str) -> Path:
        data = data.encode() if isinstance(data, str) else data
        path = self.folder / rel
        if self.files.get(rel) == _sha(data) and path.exists():
            return path
        self.files[rel] = _sha(data)
        self._save_marker()  # listed before it exists: an interruption leaves no unlisted file
        self._atomic(path, data)
        return path

    def read(self, rel: str) -> bytes | None:
        path = self.folder / rel
        if rel not in self.files or not path.is_file():
            return None
        data = path.read_bytes()
        return data if _sha(data) == self.files[rel] else None

    def close(self) -> None:
        """Let another run write here (the lock is released)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def remove(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / rel).unlink()
        self.files.pop(rel, None)
        self._save_marker()


# ------------------------------------------------------------------ a class: grading in worker processes

_SLOT = 0


def _init_worker(slots, threads: int) -> None:
    global _SLOT
    _SLOT = slots.get()
    sandbox.die_with_parent()  # a worker, and the notebook it grades, end with the run
    with contextlib.suppress(Exception):
        import torch
        torch.set_num_threads(threads)


def _grade_task(payload: dict, grader: Callable[..., NotebookGrade]) -> dict:
    """Runs in a worker: one grading; any exception comes back as a result, not a crash."""
    try:
        graded = grader(Path(payload["path"]), Path(payload["master"]), slot=_SLOT, unsafe=payload["unsafe"],
                        notebook_timeout=payload["timeout"], hide=tuple(payload.get("hide", ())))
        return {"grade": graded.to_json()}
    except Exception as err:
        return {"crash": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}


def _pool(jobs: int) -> ProcessPoolExecutor:
    ctx = multiprocessing.get_context("spawn")
    slots = ctx.Queue()
    for slot in range(jobs):
        slots.put(slot)
    return ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                               initargs=(slots, 1 if jobs > 1 else max(os.cpu_count() or 1, 1)))


def run_gradings(tasks: list[Task], payload: Callable[[Task], dict], jobs: int,
                 grader: Callable[..., NotebookGrade], done: Callable[[Task, dict], None]) -> None:
    """Grade ``tasks``, at most ``jobs`` at once, calling ``done(task, result)`` as each finishes. A worker
    process that dies takes no other grading with it: the gradings it shared the pool with are graded
    again, each alone, and the one whose process dies alone gets a crash result."""
    pending = deque(tasks)
    while pending:
        retry: list[Task] = []
        pool = _pool(jobs)
        in_flight: dict = {}
        try:
            while pending or in_flight:
                while pending and len(in_flight) < jobs:
                    task = pending.popleft()
                    in_flight[pool.submit(_grade_task, payload(task), grader)] = task
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = in_flight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        retry.append(task)
                        continue
                    except Exception as err:  # e.g. a result that could not be sent back
                        result = {"crash": f"{type(err).__name__}: {err}"}
                    done(task, result)
                if retry:
                    retry += in_flight.values()
                    in_flight.clear()
                    break
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True, cancel_futures=True)
        for task in retry:
            alone = _pool(1)
            try:
                result = alone.submit(_grade_task, payload(task), grader).result()
            except BrokenProcessPool:
                result = {"crash": "the grading process died (killed, out of memory, or a crash in "
                                   "the grader itself)"}
            finally:
                alone.shutdown(wait=True)
            done(task, result)


# ------------------------------------------------------------------ a class: gradebook and feedback

def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "_"


def crash_grade(task: Task, reason: str) -> NotebookGrade:
    """A grade for a notebook whose grading failed: every exercise 0 (when the course notebook tells them)."""
    rows = []
    if task.master is not None:
        with contextlib.suppress(Exception):
            rows = [QuestionGrade(q.name, 0.0, q.points, "fail", reason) for q in grading.manifest(task.master)]
    return NotebookGrade(task.notebook, str(task.path), rows, error=reason)


def gradebook_rows(task: Task, graded: NotebookGrade | None) -> list[dict]:
    base = {"student": task.student, "notebook": task.notebook or task.file, "file": task.file}
    if graded is None:
        return [{**base, "question": WHOLE, "points": 0, "max": "", "status": "error", "flags": "",
                 "reason": task.problem}]
    rows = [{**base, "question": r.question, "points": f"{r.score:g}", "max": f"{r.possible:g}",
             "status": r.status, "flags": "; ".join(r.flags), "reason": ""} for r in graded.rows]
    if graded.error:
        rows.append({**base, "question": WHOLE, "points": 0, "max": f"{graded.possible:g}",
                     "status": "error", "flags": "", "reason": graded.error})
    return rows


def _fence(text: str) -> str:
    ticks = max([3, *(len(m) + 1 for m in re.findall(r"`{3,}", text))])
    return f"{'`' * ticks}text\n{text}\n{'`' * ticks}"


def feedback(task: Task, graded: NotebookGrade | None) -> str:
    """The feedback to hand back for one notebook: every diagnosis in full, the notes and the flags."""
    title = task.notebook or task.file
    out = [f"# {title}: {task.student or '(student unknown)'}", "", f"Submission: `{task.file}`", ""]
    if graded is None:
        return "\n".join(out + ["**Not graded:** " + task.problem, ""])
    out += [f"**Score: {graded.score:g} / {graded.possible:g}**", ""]
    if graded.error:
        out += [f"**The notebook as a whole could not be graded:** {graded.error}", ""]
    for r in graded.rows:
        out += [f"## {r.question}: {r.score:g} / {r.possible:g} ({r.status})", ""]
        if r.diagnosis:
            out += [_fence(r.diagnosis), ""]
        if r.flags:
            out += ["Flags (the question scores 0 when one is raised):", ""]
            out += [f"- {flag}" for flag in r.flags] + [""]
    if graded.notes:
        out += ["## Notes", ""] + [f"- {note}" for note in graded.notes] + [""]
    out += [f"Graded in {graded.seconds:g} s; sandbox: {graded.sandbox or 'none'}.", ""]
    return "\n".join(out)


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, GRADEBOOK_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'s' if n != 1 else ''}"


@dataclasses.dataclass
class ClassResult:
    tasks: list[Task]
    grades: dict[str, NotebookGrade | None]  # by task file
    graded: int  # graded in this run
    cached: int  # taken from the cache
    seconds: float
    jobs: int
    out: Path

    @property
    def students(self) -> int:
        return len({t.student for t in self.tasks if t.student})

    def summary(self) -> str:
        cached = f" ({self.cached} unchanged, from the cache)" if self.cached else ""
        return (f"graded {_count(self.graded, 'notebook')}{cached} of {_count(self.students, 'student')} in "
                f"{self.seconds:,.0f} s with {self.jobs} worker{'s' if self.jobs != 1 else ''}")


def grade_class(folder: Path, out: Path | None = None, *, jobs: int | None = None, unsafe: bool = False,
                timeout: float = grading.NOTEBOOK_TIMEOUT, regrade: bool = False,
                masters_folder: Path = NOTEBOOKS, grader: Callable[..., NotebookGrade] = grading.grade_notebook,
                progress: bool = True) -> ClassResult:
    """Grade every notebook of every student in ``folder``; see the module's docstring."""
    start = time.monotonic()
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise GradingError(f"{folder}: no such folder")
    out = Path(out).resolve() if out else folder / "grades"
    known = masters(masters_folder)
    output = Output(out)
    output.claim()
    try:
        return _grade_into(output, folder, known, jobs=jobs, unsafe=unsafe, timeout=timeout, regrade=regrade,
                           grader=grader, progress=progress, start=start)
    finally:
        output.close()


def _grade_into(output: Output, folder: Path, known: dict[str, Path], *, jobs, unsafe, timeout, regrade,
                grader, progress, start) -> ClassResult:
    out = output.folder
    tasks = discover(folder, known, skip=[out])
    code = code_fingerprint()
    settings = f"sandbox={sandbox.mode()} unsafe={unsafe} timeout={timeout:g}"
    grades: dict[str, NotebookGrade | None] = {}
    todo: list[Task] = []
    for task in tasks:
        if task.problem:
            grades[task.file] = None
            continue
        task.key = cache_key(task, code, settings)
        data = None if regrade else output.read(f"cache/{task.key}.json")
        if data is not None:
            with contextlib.suppress(Exception):
                grades[task.file] = NotebookGrade.from_json(json.loads(data)["grade"])
        if task.file not in grades:
            todo.append(task)
    cached = sum(1 for t in tasks if t.file in grades and not t.problem)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))

    def payload(task: Task) -> dict:
        return {"path": str(task.path), "master": str(task.master), "unsafe": unsafe, "timeout": timeout,
                "hide": [str(folder), str(out)]}  # other students' work and the grades: out of its sight

    bar = None
    if progress and todo:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="notebook", desc="grading", file=sys.stderr, dynamic_ncols=True)

    def done(task: Task, result: dict) -> None:
        if "grade" in result:
            graded = NotebookGrade.from_json(result["grade"])
            output.write(f"cache/{task.key}.json", json.dumps(
                {"student": task.student, "file": task.file, "grade": graded.to_json()}, indent=1))
        else:
            graded = crash_grade(task, f"the grader failed on this notebook ({result['crash']}); it is not "
                                       f"cached: a re-run tries it again")
        grades[task.file] = graded
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{task.student}/{task.notebook}", refresh=True)

    try:
        if todo:
            run_gradings(todo, payload, jobs, grader, done)
    finally:
        if bar is not None:
            bar.close()
        _write_results(output, tasks, grades)
    used = {f"cache/{t.key}.json" for t in tasks if t.key}
    for rel in [r for r in output.files if r.startswith("cache/") and r not in used]:
        output.remove(rel)  # a submission since changed or gone
    return ClassResult(tasks, grades, len(todo), cached, time.monotonic() - start, jobs, out)


def _write_results(output: Output, tasks: list[Task], grades: dict[str, NotebookGrade | None]) -> None:
    """The gradebook and the feedback files, from what is graded so far (all of it, after a full run)."""
    order = sorted(tasks, key=lambda t: (t.student, t.notebook or "~", t.file))
    rows, written = [], set()
    names: dict[str, int] = {}
    for task in order:
        if task.file not in grades:
            continue  # interrupted before it was graded
        graded = grades[task.file]
        rows += gradebook_rows(task, graded)
        name = f"feedback/{_safe(task.student or 'no-student')}/{_safe(task.feedback_name)}"
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:  # two submissions of one notebook by one student: both kept
            name += f"-{_safe(Path(task.file).stem)}"
        written.add(f"{name}.md")
        output.write(f"{name}.md", feedback(task, graded))
    output.write("gradebook.csv", _csv(rows))
    for rel in [r for r in output.files if r.startswith("feedback/") and r not in written]:
        output.remove(rel)  # a submission no longer in the folder


# ------------------------------------------------------------------ the command line

def _refuse_unsafe(unsafe: bool) -> str | None:
    """Why grading must not start (None if it may)."""
    if sandbox.mode() == "none" and not unsafe:
        return ("grade: this system cannot sandbox a submission (Linux with util-linux's unshare, setpriv and "
                "prlimit is needed), so grading would run the students' code as you; pass "
                f"{UNSAFE_FLAG} to do that anyway, only for code you trust")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Grade course notebooks in the sandbox. One notebook: one line per exercise, the last "
                    "line 'score: X / Y'. --class FOLDER: every notebook of every student, into a gradebook.")
    parser.add_argument("submission", type=Path, nargs="?", help="one submitted .ipynb")
    parser.add_argument("--class", dest="folder", type=Path, metavar="FOLDER",
                        help="a folder of submissions: one subfolder per student, or files named by student "
                             "(alice_04_attention.ipynb)")
    parser.add_argument("--out", type=Path, help="output folder of --class (default: FOLDER/grades)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks graded at once with --class (default: the number of cores)")
    parser.add_argument("--timeout", type=float, default=grading.NOTEBOOK_TIMEOUT,
                        help="seconds for one notebook, its cells and its checks "
                             f"(default {grading.NOTEBOOK_TIMEOUT:g})")
    parser.add_argument("--regrade", action="store_true", help="with --class: ignore the cache, grade everything")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS,
                        help="the course notebooks (default: notebooks/); a folder of autograder zips stands "
                             "for notebooks/")
    parser.add_argument(UNSAFE_FLAG, dest="unsafe", action="store_true",
                        help="grade even where no sandbox is available (the submissions' code runs as you)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = parser.parse_args(argv)
    if (args.submission is None) == (args.folder is None):
        parser.error("give one submission, or --class FOLDER")
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    refusal = _refuse_unsafe(args.unsafe)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    print(sandbox.describe(), flush=True)
    if args.folder is None:
        try:
            graded = grade_one(args.submission, args.notebooks, unsafe=args.unsafe,
                               notebook_timeout=args.timeout)
        except GradingError as err:
            print(f"grade: {err}", file=sys.stderr)
            return 2
        print(report(points_of(graded), graded))
        return 0
    try:
        result = grade_class(args.folder, args.out, jobs=args.jobs, unsafe=args.unsafe, timeout=args.timeout,
                             regrade=args.regrade, masters_folder=args.notebooks, progress=args.progress)
    except (GradingError, OutputRefused) as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grade: interrupted; what was graded is kept, run the same command again to go on",
              file=sys.stderr)
        return 130
    failed = [t for t in result.tasks if result.grades.get(t.file) is None or result.grades[t.file].error]
    if failed:
        print(f"{len(failed)} notebook(s) not graded as a whole (rows with status 'error' in the gradebook):")
        for t in failed:
            g = result.grades.get(t.file)
            print(f"  {t.student or '(no student)'}: " + (f"{t.file}: {g.error}" if g is not None else t.problem))
    print(f"gradebook: {result.out / 'gradebook.csv'}; feedback: {result.out / 'feedback'}")
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
