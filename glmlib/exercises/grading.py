"""Grade a submitted notebook: its code runs sandboxed, its answers are checked out of its reach.

``grade_notebook(submission, master)`` does, for one notebook:

1. reads from the course's own notebook (``master``, never the submission)
   which exercises it has, their points and which checker grades each;
2. starts the learner's process in the sandbox (``glmlib.exercises.sandbox``),
   which runs the submission's code cells (``glmlib.exercises.learner``);
3. runs each checker *here*, in the grader's process, on the learner's
   function through a pipe (``glmlib.exercises.remote``): the learner's code
   never shares a process with the checker, its cases or its verdict, so
   rebinding ``ex``, patching ``CheckResult`` or torch, or looking up the
   expected values in the checker's memory changes nothing here;
4. runs every checker twice: on the cases the notebook shows, and on hidden
   cases drawn afresh for this grading run (every seeded random input of the
   checkers reseeded from a secret), so that a table of the visible answers
   fails; a question passes only when both pass;
5. flags what the learner's process noticed (``tamper``: it changed torch,
   glmlib or the checkers, rebound a course name such as ``ex``, wrote a test
   file; ``sandbox``: it tried the network, files outside its folder, other
   processes) and scores a tampering question 0; a question that called a
   forbidden function (``shortcut``) or passed only the visible cases
   (``hidden``) is flagged too.

Trusted here: this module, the checkers and torch in the grader's process.
Not trusted: anything that runs next to the learner's code, including what
its process reports; it can only lose a learner points, never give them.
"""
from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import hashlib
import importlib
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import torch

from .. import i18n
from ..i18n import _
from . import remote, sandbox
from .checking import CheckResult, failed, recording_shortcuts

GRADING_ENV = {"GLMLIB_QUICK": "1", "GLMLIB_GRADING": "1"}  # the course's long cells shorten themselves
CELL_TIMEOUT = 240.0  # seconds per cell
CALL_TIMEOUT = 60.0  # seconds per call of a learner's function
NOTEBOOK_TIMEOUT = 900.0  # seconds for a whole notebook, cells and checks
MEMORY = 6 * 2**30  # bytes of address space for the learner's process


# ------------------------------------------------------------------ what a notebook's exercises are

@dataclasses.dataclass(frozen=True)
class Question:
    """One graded exercise, as the course's own notebook defines it."""

    name: str
    points: float
    module: str  # e.g. "glmlib.exercises.attention"
    checker: str  # e.g. "check_softmax"
    function: str  # the learner's name it checks, e.g. "softmax"


class ManifestError(ValueError):
    """The course notebook's exercises cannot be read (a broken master, not a student's fault)."""


_TEST = re.compile(r"\s*(\w+)\.(check_\w+)\((\w+)\)\.require\(\)\s*")


def manifest(master: Path) -> list[Question]:
    """The exercises of a course notebook (``notebooks/NN_name.ipynb``), from its exercise marks."""
    import nbformat
    nb = nbformat.read(master, as_version=4)
    aliases: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            for m in re.finditer(r"^import (glmlib\.exercises\.\w+) as (\w+)", cell.source, re.M):
                aliases[m.group(2)] = m.group(1)
    questions, current = [], None
    for cell in nb.cells:
        mark = cell.metadata.get("exercise")
        if isinstance(mark, dict):
            current = mark
        elif mark == "tests" and current is not None:
            m = _TEST.fullmatch(cell.source)
            if not m or m.group(1) not in aliases:
                raise ManifestError(f"{master.name}: the test of {current.get('question')} is not "
                                    f"`ex.check_x(name).require()`: {cell.source!r}")
            questions.append(Question(str(current["question"]), float(current.get("points", 1)),
                                      aliases[m.group(1)], m.group(2), m.group(3)))
            current = None
    if not questions:
        raise ManifestError(f"{master.name}: no exercises")
    return questions


# ------------------------------------------------------------------ what grading found

@dataclasses.dataclass
class QuestionGrade:
    question: str
    score: float
    possible: float
    status: str  # "pass", "not yet", "fail"
    diagnosis: str = ""
    flags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class NotebookGrade:
    notebook: str  # e.g. "04_attention"
    submission: str
    rows: list[QuestionGrade]
    error: str = ""  # the notebook as a whole: unreadable, timed out, its process died
    notes: list[str] = dataclasses.field(default_factory=list)  # cells that raised, what the sandbox saw
    seconds: float = 0.0
    sandbox: str = ""
    cell_seconds: list[float] = dataclasses.field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(r.score for r in self.rows)

    @property
    def possible(self) -> float:
        return sum(r.possible for r in self.rows)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "NotebookGrade":
        rows = [QuestionGrade(**row) for row in data.pop("rows")]
        return cls(rows=rows, **data)


# ------------------------------------------------------------------ hidden cases

class _SaltedGenerator(torch.Generator):
    """A ``torch.Generator`` whose seeds are mixed with the grading run's secret."""

    salt = 0

    def manual_seed(self, seed: int) -> "_SaltedGenerator":
        return super().manual_seed(_mix(seed, self.salt))


def _mix(seed: int, salt: int) -> int:
    digest = hashlib.blake2b(f"{salt}:{int(seed)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


@contextlib.contextmanager
def hidden_cases(salt: int) -> Iterator[None]:
    """Every seeded input the checkers draw, drawn afresh: the cases the notebook never showed."""
    saved_generator, saved_seed = torch.Generator, torch.manual_seed
    _SaltedGenerator.salt = salt
    torch.Generator = _SaltedGenerator
    torch.manual_seed = lambda seed: saved_seed(_mix(seed, salt))
    try:
        yield
    finally:
        torch.Generator, torch.manual_seed = saved_generator, saved_seed


# ------------------------------------------------------------------ checkers that need live objects

def _verify_train_loop(reply: dict) -> str | None:
    """The grader's own measure of the model the learner's loop trained (in the learner's process)."""
    from . import training
    state = reply.get("state")
    if not isinstance(state, dict):
        return _("no trained model came back from the check")
    with torch.random.fork_rng(devices=[]):
        model, _cfg, val_ids, _text, _tok = training.loop_setup()
    try:
        model.load_state_dict(state, strict=True)
    except Exception as err:
        return _("the trained model could not be read back ({error})", error=type(err).__name__)
    measured = training.evaluate(model, val_ids)
    if not measured < training.TRAIN_LOOP_TARGET:
        return _("the grader measured a validation loss of {measured:.3f} for the trained model, not below "
                 "{target:.2f}", measured=measured, target=training.TRAIN_LOOP_TARGET)
    return None


IN_LEARNER = {("glmlib.exercises.training", "check_train_loop"): (_verify_train_loop, 600.0)}


# ------------------------------------------------------------------ grading one notebook

def _source_of(cells: list[str], name: str) -> str:
    """The last top-level ``def name`` among the submission's cells (read here, from the file)."""
    found = ""
    for source in cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                found = ast.get_source_segment(source, node) or found
    return found


def skipped_when_grading(master: Path) -> list[str]:
    """The sources of the course cells marked ``grading: skip`` (long demonstrations no exercise needs):
    a submission's cell is skipped only when it is exactly such a cell, never an exercise's."""
    import nbformat
    nb = nbformat.read(master, as_version=4)
    return [c.source.strip() for c in nb.cells if c.cell_type == "code" and c.metadata.get("grading") == "skip"
            and not c.metadata.get("exercise")]


def _code_cells(submission: Path) -> list[str]:
    import nbformat
    nb = nbformat.read(submission, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def language_of(submission: Path) -> str:
    """The language of a submission's edition (the Chinese ones say so in their metadata): its
    feedback is written in it. Only the feedback's language: a student who edits it changes nothing else."""
    import nbformat
    try:
        stated = nbformat.read(submission, as_version=4).metadata.get("glmlib", {}).get("language", "en")
        return i18n.normalize(stated)
    except Exception:
        return "en"


def _check(question: Question, session: remote.Session, cells: list[str], salt: int) -> CheckResult:
    """The question's checker on the learner's function: the visible cases, then the hidden ones."""
    info = session.request({"kind": "info", "name": question.function})
    if not info.get("present"):
        return failed(question.name, _("the notebook defines no `{function}` (renamed, or its cell did not run?)",
                                       function=question.function))
    fn: Any = remote.Remote(session, question.function, _source_of(cells, question.function))
    if not info.get("callable"):
        fn = remote.unpack(info.get("value"))  # `...` or None: "not yet"; anything else: not a function
    special = IN_LEARNER.get((question.module, question.checker))
    if special is not None and info.get("callable"):
        verify, timeout = special
        reply = session.request({"kind": "check", "module": question.module, "checker": question.checker,
                                 "name": question.function, "timeout": timeout}, timeout=timeout + 30)
        result = CheckResult(question.name, str(reply.get("status")), str(reply.get("message")))
        if result.passed:
            problem = verify(reply)
            if problem:
                return failed(question.name, _("{problem} (checked by the grader)", problem=problem))
        return result
    checker = getattr(importlib.import_module(question.module), question.checker)
    with recording_shortcuts():
        result = checker(fn)
        if result.passed:
            with hidden_cases(salt):
                hidden = checker(fn)
            if not hidden.passed:
                if i18n.get_language() == "en" and "case '" in hidden.message:
                    message = hidden.message.replace("case '", "hidden case (fresh inputs) '", 1)
                else:  # the case's name is worded otherwise in another language: say it in front
                    message = _("a hidden case (fresh inputs): {message}", message=hidden.message)
                result = CheckResult(hidden.exercise, hidden.status, message)
                session.events.append({"kind": "hidden", "where": "the hidden cases",
                                       "what": "right on every case the notebook shows, wrong on fresh inputs "
                                               "(answers written for the visible cases?)"})
    return result


def _learner_command(slot: int, unsafe: bool, memory: int, fds: tuple[int, int], hide: list[Path]
                     ) -> tuple[list[str], dict[str, str], str]:
    env = {"GLMLIB_GRADING_FDS": f"{fds[0]},{fds[1]}","HOME": sandbox.WORK, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "IPYTHONDIR": f"{sandbox.WORK}/.ipython", "MPLCONFIGDIR": f"{sandbox.WORK}/.matplotlib",
           **GRADING_ENV}
    python = [sys.executable, "-I", "-B", "-m", "glmlib.exercises.learner"]
    current = sandbox.mode()
    if current == "none":
        if not unsafe:
            raise sandbox.SandboxUnavailable(
                "this system cannot sandbox a submission (Linux with util-linux's unshare, setpriv and "
                "prlimit is needed; see the instructor guide); grading would run the students' code as you. "
                "Pass --unsafe-no-sandbox to do that anyway, only for code you trust")
        return python, {**os.environ, **env}, "none"
    argv = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *python]
    command, outer = sandbox.wrap(argv, slot=slot, memory_bytes=memory, hide=hide)
    return command, {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **outer}, current


def grade_notebook(submission: Path, master: Path, *, slot: int = 0, unsafe: bool = False, hide: tuple = (),
                   notebook_timeout: float = NOTEBOOK_TIMEOUT, cell_timeout: float = CELL_TIMEOUT,
                   call_timeout: float = CALL_TIMEOUT, memory: int = MEMORY, salt: int | None = None
                   ) -> NotebookGrade:
    """Grade ``submission`` against the exercises of the course notebook ``master``.

    ``hide``: folders the submission must not see (the sandbox also hides its own folder, which may
    hold other students' work, and your home folder).
    """
    start = time.monotonic()
    questions = manifest(master)
    grade = NotebookGrade(master.stem, str(submission), [])

    def close(error: str = "") -> NotebookGrade:
        graded = {r.question for r in grade.rows}
        for q in questions:
            if q.name not in graded:
                grade.rows.append(QuestionGrade(q.name, 0.0, q.points, "fail", error or "not graded"))
        grade.error = grade.error or error
        grade.seconds = round(time.monotonic() - start, 1)
        return grade

    try:
        cells = _code_cells(submission)
    except Exception as err:
        return close(f"not a readable notebook ({type(err).__name__}: {err})")
    to_learner, learner_in = os.pipe()
    learner_out, from_learner = os.pipe()
    try:
        hidden = [Path(submission).resolve().parent, *map(Path, hide)]
        command, env, grade.sandbox = _learner_command(slot, unsafe, memory, (to_learner, from_learner), hidden)
    except BaseException:
        for fd in (to_learner, learner_in, learner_out, from_learner):
            os.close(fd)
        raise
    salt = secrets.randbits(62) if salt is None else salt
    scratch = tempfile.TemporaryDirectory(prefix="glmlib-grade-") if grade.sandbox == "none" else None
    process = subprocess.Popen(
        command, env=env, cwd=scratch.name if scratch else "/",
        pass_fds=(to_learner, from_learner), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=sandbox.die_with_parent)
    os.close(to_learner)
    os.close(from_learner)
    session = remote.Session(learner_in, learner_out, call_timeout)
    deadline = start + notebook_timeout
    try:
        remote.write_message(learner_in, {"kind": "start", "cells": cells, "cell_timeout": cell_timeout,
                                          "call_timeout": call_timeout, "matplotlib": _matplotlib_cache(),
                                          "skip": skipped_when_grading(master)})
        ready = session.answer(timeout=max(deadline - time.monotonic(), 1.0))
        grade.cell_seconds = [float(r.get("seconds", 0)) for r in ready.get("cells", [])]
        for record in ready.get("cells", []):
            if record.get("status") in ("error", "timeout"):
                grade.notes.append(f"cell {record.get('cell')}: {record.get('status')}: {record.get('error')}")
        events = list(session.events)
        owners = _question_of_cell(cells, questions)
        feedback_language = language_of(submission)
        for q in questions:
            if time.monotonic() > deadline:
                return close(f"the notebook ran past {notebook_timeout:g} s")
            session.events, session.shortcuts = [], []
            with i18n.language(feedback_language):
                result = _check(q, session, cells, salt)
            session.request({"kind": "sync"})  # the learner's process looks for what the calls changed
            shortcuts = [{"kind": "shortcut", "where": f"a call of {q.function}", "what": f"called {label}"}
                         for label in dict.fromkeys(session.shortcuts)]
            grade.rows.append(_row(q, result, events + session.events + shortcuts, owners))
        with contextlib.suppress(Exception):
            remote.write_message(learner_in, {"kind": "bye"})
    except (remote.LearnerGone, BrokenPipeError) as err:
        reason = ("ran past its time" if time.monotonic() >= deadline - 1 else
                  _ending(process, str(err)))
        return close(f"the notebook's process {reason}")
    except remote.ProtocolError as err:
        return close(f"the notebook's process broke the grading protocol ({err})")
    finally:
        _stop(process)
        for fd in (learner_in, learner_out):
            with contextlib.suppress(OSError):
                os.close(fd)
        if scratch:
            scratch.cleanup()
    grade.notes += sorted({f"{e.get('where')}: {e['what']}" for e in events if e.get("kind") == "sandbox"})
    return close()


@functools.lru_cache(maxsize=1)
def _matplotlib_cache() -> dict[str, str]:
    """matplotlib's font list, built here once: each sandbox would otherwise rebuild it (seconds)."""
    try:
        import matplotlib
        import matplotlib.font_manager  # noqa: F401  (builds the list if missing)
        folder = Path(matplotlib.get_cachedir())
        return {p.name: p.read_text() for p in folder.glob("fontlist-*.json")}
    except Exception:
        return {}


def _ending(process: subprocess.Popen, why: str) -> str:
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return f"stopped answering ({why})"
    if code in (-9, 137):
        return "was killed (out of memory, or it ended itself)"
    return f"ended early (exit status {code}; the notebook may call exit)"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _question_of_cell(cells: list[str], questions: list[Question]) -> dict[int, str]:
    """Which question each cell belongs to: the cells from the one defining its function to its
    ``grader.check("q")`` cell. Every other cell (the course's, one added between questions or
    before the first) belongs to no question: what it does counts against all of them."""
    owner: dict[int, str] = {}
    functions = {q.name: q.function for q in questions}
    for index, source in enumerate(cells):
        m = re.search(r"grader\.check\(\s*['\"](\w+)['\"]", source)
        if not m or m.group(1) not in functions:
            continue
        defines = re.compile(rf"^def {re.escape(functions[m.group(1)])}\b", re.M)
        first = next((i for i in range(index, -1, -1) if defines.search(cells[i])), None)
        if first is not None:
            for i in range(first, index + 1):
                owner[i] = m.group(1)
    return owner


def _row(q: Question, result: CheckResult, events: list[dict], owners: dict[int, str]) -> QuestionGrade:
    """A cell's tampering counts against its own question; outside any question, against every one."""
    flags = []
    for e in events:
        where = str(e.get("where", ""))
        m = re.fullmatch(r"cell (\d+)", where)
        mine = (not m) or owners.get(int(m.group(1)), q.name) == q.name  # no owner: every question
        if e.get("kind") == "tamper" and mine:
            flags.append(f"tamper: {where}: {e.get('what')}")
        elif e.get("kind") in ("shortcut", "hidden"):
            flags.append(f"{e['kind']}: {e.get('what')}")
    score = q.points if result.passed and not flags else 0.0
    status = result.status if score or not flags else "fail"
    return QuestionGrade(q.name, score, q.points, status, result.message, sorted(set(flags)))
