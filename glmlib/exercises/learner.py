"""The learner's side of grading: run a submitted notebook, then answer the grader's calls.

    python -m glmlib.exercises.learner      (started by glmlib.exercises.grading, in a sandbox)

Reads requests on file descriptor 3 and answers on 4 (``glmlib.exercises.remote``).
The first request holds the notebook's code cells: they run in order, as in
a kernel (IPython), each under a time limit; an error in one cell is noted
and the next runs. Then the process answers ``call`` requests, running one
of the learner's functions on the grader's inputs with the exercise's
forbidden shortcuts trapped, until the grader says ``bye``.

Everything here runs next to the learner's code, so nothing here is trusted
for a score: it only notices what the notebook did (changed torch, glmlib or
the checkers; tried the network; deleted or wrote files outside its folder)
and reports it, for the grader to flag.
"""
from __future__ import annotations

import importlib
import inspect
import io
import os
import signal
import sys
import threading
import time
from typing import Any, Callable

import torch

from . import remote
from .checking import Shortcut, ShortcutUsed, forbid, forbidden

REQUESTS, ANSWERS = (int(fd) for fd in os.environ.get("GLMLIB_GRADING_FDS", "3,4").split(","))
WORK = os.getcwd()
OTTER_CELL = ("# Initialize Otter", "grader.check", "grader.export", "grader.check_all")
WATCHED_MODULES = ("builtins", "math", "numpy", "torch", "torch.nn", "torch.nn.functional", "torch.special",
                   "torch.linalg", "torch.autograd", "torch.random", "torch.overrides", "otter")
WATCHED_PREFIXES = ("glmlib",)


class _Tail(io.TextIOBase):
    """Where the notebook's printing goes while grading: only its last few thousand characters are kept."""

    def __init__(self, keep: int = 4000) -> None:
        self.keep, self.text = keep, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.text = (self.text + str(text))[-self.keep:]
        return len(text)


class CellTimeout(BaseException):
    """Raised in a cell or a call that ran past its time (a BaseException: ``except Exception`` lets it by)."""


def _alarm(seconds: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.0))


def _on_alarm(signum: int, frame: Any) -> None:
    raise CellTimeout()


# ------------------------------------------------------------------ what the notebook does

class Watch:
    """Notices a notebook changing what grading relies on, and its attempts to leave its folder."""

    def __init__(self) -> None:
        self.where = "setup"
        self.events: list[dict] = []
        self.baseline = self._snapshot()
        self.bindings: dict[str, Any] = {}

    def note(self, kind: str, what: str) -> None:
        if self.where is None:  # the grading code's own doing
            return
        if len(self.events) < 200 and not any(e["what"] == what for e in self.events):
            self.events.append({"kind": kind, "what": what, "where": self.where})

    # -- objects: torch, glmlib, its checkers, otter
    @staticmethod
    def _watched() -> list[tuple[str, dict]]:
        spaces = []
        for name, module in list(sys.modules.items()):
            if module is None or not (name in WATCHED_MODULES or name.startswith(WATCHED_PREFIXES)):
                continue
            spaces.append((name, vars(module)))
            if not name.startswith(WATCHED_PREFIXES) or name.startswith("glmlib.widgets"):
                continue  # classes: glmlib's own (the explorers' aside); torch's two below
            for attr, value in list(vars(module).items()):
                if isinstance(value, type) and getattr(value, "__module__", "") == name:
                    spaces.append((f"{name}.{attr}", vars(value)))
        spaces += [("torch.Tensor", vars(torch.Tensor)), ("torch.nn.Module", vars(torch.nn.Module))]
        return spaces

    @classmethod
    def _snapshot(cls) -> dict[str, tuple]:
        seen = {}
        for space, names in cls._watched():
            for attr, value in list(names.items()):
                function = inspect.isfunction(value)
                seen[f"{space}.{attr}"] = (value, getattr(value, "__code__", None) if function else None,
                                           getattr(value, "__defaults__", None) if function else None)
        return seen

    def check_objects(self) -> None:
        now = self._snapshot()
        for key, before in list(self.baseline.items()):
            after = now.get(key)
            if after is None:
                self.note("tamper", f"deleted {key}")
            elif any(a is not b for a, b in zip(after, before)):
                if getattr(after[0], "__wrapped__", None) is before[0]:  # torch wraps some functions lazily
                    self.baseline[key] = after
                    continue
                what = "replaced the code of" if after[0] is before[0] else "rebound"
                self.note("tamper", f"{what} {key}")
                self.baseline[key] = after  # said once, where it happened
        self.baseline.update({k: v for k, v in now.items() if k not in self.baseline})  # new lazy attributes
        if torch._C._len_torch_function_stack() or torch._C._len_torch_dispatch_stack():
            self.note("tamper", "left a torch function or dispatch mode active")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            self.note("tamper", "installed a trace or profile hook")

    def check_bindings(self, namespace: dict) -> None:
        """A name the course bound to a module of torch or glmlib (``ex``, ``F``) later bound to another object."""
        for name, value in list(namespace.items()):
            before = self.bindings.get(name)
            if before is not None and value is not before:
                self.note("tamper", f"rebound `{name}` (it was the module {before.__name__})")
            if inspect.ismodule(value) and value.__name__.startswith(("glmlib", "torch", "otter")):
                self.bindings[name] = value
            elif before is not None:
                self.bindings.pop(name)

    # -- the operating system: an audit hook sees files, sockets, processes
    def audit(self, event: str, args: tuple) -> None:
        try:
            if event == "open" and len(args) >= 2 and isinstance(args[0], (str, bytes, os.PathLike)):
                mode = args[1] if isinstance(args[1], str) else ""
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                writes = any(c in mode for c in "wax+") or bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
                path = os.path.abspath(os.fsdecode(args[0]))
                if writes and not path.startswith(WORK + os.sep):
                    self.note("sandbox", f"tried to write {path} (outside its folder)")
                elif writes and ("/tests/" in path or path.endswith((".zip", ".py"))):
                    self.note("tamper", f"wrote {os.path.relpath(path, WORK)} (test and grader files live "
                                        f"outside the notebook's reach; this copy is thrown away)")
            elif event in ("os.remove", "os.unlink", "os.rmdir", "shutil.rmtree", "os.rename", "os.replace"):
                path = os.path.abspath(os.fsdecode(args[0])) if args and isinstance(args[0], (str, bytes)) else "?"
                if not path.startswith(WORK + os.sep):
                    self.note("sandbox", f"tried to delete or move {path} (outside its folder)")
            elif event in ("socket.connect", "socket.bind", "socket.getaddrinfo", "urllib.Request"):
                self.note("sandbox", "tried to use the network (there is none while grading)")
            elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork", "pty.spawn"):
                program = args[1][0] if event == "subprocess.Popen" and args[1:] and args[1] else ""
                program = os.path.basename(os.fsdecode(program)) if isinstance(program, (str, bytes)) else ""
                self.note("sandbox", f"started a process ({event}{': ' + program if program else ''})")
            elif event in ("os.kill", "os.killpg"):
                self.note("sandbox", "sent a signal to a process")
        except Exception:  # an audit hook must never raise into the learner's code
            pass


# ------------------------------------------------------------------ running the notebook

def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance(colors="nocolor")
    shell.user_ns["grader"] = _NoGrader()
    return shell


class _NoGrader:
    """Stands for otter's ``grader`` in the student edition's cells: grading happens elsewhere."""

    def __getattr__(self, name: str) -> Callable:
        return lambda *args, **kwargs: None


def run_cells(shell: Any, cells: list[str], watch: Watch, cell_timeout: float,
              skip: frozenset[str] = frozenset()) -> list[dict]:
    """Run the code cells in order; one record per cell (``ok``, ``error``, ``timeout``, ``skipped``).
    ``skip``: the course's long demonstrations, skipped when a cell is exactly one of them."""
    records = []
    for index, source in enumerate(cells):
        if not source.strip() or source.lstrip().startswith(OTTER_CELL) or source.strip() in skip:
            records.append({"cell": index, "status": "skipped"})
            continue
        watch.where = f"cell {index}"
        status, error = "ok", ""
        began = time.monotonic()
        _alarm(cell_timeout)
        try:
            result = shell.run_cell(source, store_history=False, silent=False)
        except CellTimeout:
            result = None
        finally:
            _alarm(0)
        if result is None or isinstance(result.error_in_exec, CellTimeout):
            status, error = "timeout", f"ran past {cell_timeout:g} s"
        elif not result.success:
            err = result.error_in_exec or result.error_before_exec
            status, error = "error", f"{type(err).__name__}: {err}"[:300]
        records.append({"cell": index, "status": status, "error": error,
                        "seconds": round(time.monotonic() - began, 2)})
        watch.check_objects()
        watch.check_bindings(shell.user_ns)
    watch.where = "after the cells"
    return records


def _stop_other_processes(watch: Watch) -> None:
    """In the sandbox the learner is process 1 of its own namespace: end whatever the notebook started."""
    watch.where = None
    if os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ------------------------------------------------------------------ answering calls

def _resolve(spec: dict) -> Any:
    owner = importlib.import_module(spec["module"])
    for part in filter(None, spec.get("path", "").split(".")):
        owner = getattr(owner, part)
    return owner


def _shortcuts(fn: Callable, specs: list[dict]) -> list[Shortcut]:
    targets = []
    for spec in specs:
        try:
            targets.append((_resolve(spec), spec["attribute"], spec["label"], ""))
        except Exception:  # the learner's session lacks that library: nothing of it to trap
            continue
    return forbidden(fn, targets)


def _callback(reply_fd: int, request_fd: int, watch: Watch, call_timeout: float) -> Callable[[int], Callable]:
    def make(identifier: int) -> Callable:
        def call_back(*args: Any, **kwargs: Any) -> Any:
            remote.write_message(reply_fd, {"kind": "callback", "id": identifier,
                                            "args": remote.pack(args), "kwargs": remote.pack(kwargs)})
            answer = remote.read_message(request_fd)
            if answer.get("kind") == "return":
                return remote.unpack(answer.get("value"))
            raise remote.exception(str(answer.get("type")), str(answer.get("message")))
        return call_back
    return make


def answer_call(request: dict, namespace: dict, watch: Watch, call_timeout: float) -> dict:
    name = request["name"]
    fn = namespace.get(name)
    watch.where = f"a call of {name}"
    make = _callback(ANSWERS, REQUESTS, watch, call_timeout)
    args, kwargs = remote.unpack(request["args"], make), remote.unpack(request["kwargs"], make)
    if not callable(fn):
        return {"kind": "raised", "type": "TypeError", "message": f"{name} is not a function"}
    shortcuts = _shortcuts(fn, request.get("shortcuts", []))
    _alarm(call_timeout)
    try:
        with forbid(shortcuts) as seen:
            value = fn(*args, **kwargs)
        if seen.used:
            raise ShortcutUsed(seen.used)
        reply = {"kind": "result", "value": remote.pack(value), "args": remote.pack(args)}
    except ShortcutUsed as err:
        reply = {"kind": "shortcut", "label": str(err)}
    except CellTimeout:
        reply = {"kind": "raised", "type": "TimeoutError", "message": f"the call ran past {call_timeout:g} s"}
    except BaseException as err:  # the learner's code raised: tell the grader, keep serving
        reply = {"kind": "raised", "type": type(err).__name__, "message": str(err)[:2000]}
    finally:
        _alarm(0)
    return reply  # what the call changed is looked for once per question ("sync"): a scan takes ~0.1 s


def answer_info(request: dict, namespace: dict) -> dict:
    value = namespace.get(request["name"], None)
    present = request["name"] in namespace
    return {"kind": "info", "present": present, "callable": callable(value),
            "value": remote.pack(value) if not callable(value) else None}


def answer_check(request: dict, namespace: dict, watch: Watch, call_timeout: float) -> dict:
    """Run a checker here, next to the learner's code (for checkers that need live objects, such as a
    training loop that changes a model); the grader verifies what it can from the returned ``state``."""
    module = importlib.import_module(request["module"])
    captured: dict[str, Any] = {}
    setup = getattr(module, "loop_setup", None)
    if setup is not None:
        def capturing_setup(*args: Any, **kwargs: Any) -> Any:
            made = setup(*args, **kwargs)
            captured["model"] = made[0]
            return made
        module.loop_setup = capturing_setup
    for cache in ("_verdicts",):  # a checker's memory of earlier verdicts: the notebook could have filled it
        if isinstance(getattr(module, cache, None), list):
            getattr(module, cache).clear()
    watch.where = f"the check of {request['name']}"
    _alarm(call_timeout)
    try:
        result = getattr(module, request["checker"])(namespace.get(request["name"]))
        reply = {"kind": "checked", "status": str(result.status), "message": str(result.message)}
    except CellTimeout:
        reply = {"kind": "checked", "status": "fail", "message": f"the check ran past {call_timeout:g} s"}
    except BaseException as err:
        reply = {"kind": "checked", "status": "fail", "message": f"{type(err).__name__}: {err}"[:2000]}
    finally:
        _alarm(0)
        if setup is not None:
            module.loop_setup = setup
    model = captured.get("model")
    if model is not None:
        reply["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    watch.check_objects()
    return reply


def serve(shell: Any, watch: Watch, call_timeout: float) -> None:
    namespace = shell.user_ns
    while True:
        request = remote.read_message(REQUESTS)
        kind = request.get("kind")
        if kind != "sync":
            watch.events.clear()
        if kind == "bye":
            return
        if kind == "call":
            reply = answer_call(request, namespace, watch, call_timeout)
        elif kind == "info":
            reply = answer_info(request, namespace)
        elif kind == "check":
            reply = answer_check(request, namespace, watch, request.get("timeout", call_timeout))
        elif kind == "sync":  # a question's calls are over: what did they change?
            watch.check_objects()
            reply = {"kind": "synced"}
        else:
            reply = {"kind": "error", "message": f"unknown request {kind!r}"}
        reply["events"] = list(watch.events)
        remote.write_message(ANSWERS, reply)


def _seed_matplotlib(files: Any) -> None:
    """matplotlib's font list from the grader, so that the sandbox does not rebuild it."""
    folder = os.environ.get("MPLCONFIGDIR")
    if not folder or not isinstance(files, dict):
        return
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        if isinstance(name, str) and isinstance(text, str) and os.path.basename(name) == name:
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)


def main() -> None:
    from .sandbox import die_with_parent
    die_with_parent()  # the grader gone, this process (the sandbox's first) and all it started end
    signal.signal(signal.SIGALRM, _on_alarm)
    start = remote.read_message(REQUESTS)
    cells = [str(c) for c in start["cells"]]
    _seed_matplotlib(start.get("matplotlib"))
    watch = Watch()
    sys.addaudithook(watch.audit)
    sink = _Tail()  # the notebook's printed output is not graded: keep little of it
    real_out, real_err = sys.stdout, sys.stderr
    shell = _shell()
    sys.stdout = sys.stderr = sink
    try:
        records = run_cells(shell, cells, watch, float(start.get("cell_timeout", 300)),
                            frozenset(str(s) for s in start.get("skip", [])))
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    _stop_other_processes(watch)
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    remote.write_message(ANSWERS, {"kind": "ready", "cells": records, "events": list(watch.events),
                                   "threads": threads})
    sys.stdout = sys.stderr = _Tail()
    serve(shell, watch, float(start.get("call_timeout", 60)))


if __name__ == "__main__":
    main()
