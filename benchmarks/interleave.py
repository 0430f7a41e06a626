"""Measuring speed as a ratio to a peer, in the same run, interleaved.

The host's speed varies by more than 2x between days, and within minutes
when other work shares its cores, so no figure here is divided by a number
measured at another time. Contenders take turns (A, B, A, B, ...); each
round of turns gives one ratio, and a figure is the median of those ratios
with their range.

:class:`Lockstep` runs step loops (a ``train()`` call, a hand-written
training loop, a matmul) in their own processes, one step each in turn, and
times every step; :func:`alternate` does the same for plain calls, in one
thread.
"""
from __future__ import annotations

import multiprocessing
import statistics
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator


Tick = Callable[[str], None]  # a loop's hook: tick("step") after a step, tick("pause") after untimed work


@dataclass
class Spread:
    """Some measurements: their median and their range."""
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, fmt: str = ".2f", unit: str = "x") -> str:
        """``1.52x [1.40-1.61]``: the median, then the smallest and largest value."""
        return f"{self.median:{fmt}}{unit} [{min(self.values):{fmt}}-{max(self.values):{fmt}}]"


def ratios(numerators: list[float], denominators: list[float]) -> Spread:
    """Round by round ratios ``n_i / d_i`` of two interleaved series."""
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError(f"need two equally long, non-empty series, got {len(numerators)} and {len(denominators)}")
    return Spread([n / d for n, d in zip(numerators, denominators)])


def alternate(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds taken by each call in each of ``rounds`` rounds, the calls taking turns.

    Every other round runs them in reverse order (A B C, C B A, ...), so no
    call always follows the same one.
    """
    times: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(rounds):
        for name in list(calls) if r % 2 == 0 else reversed(list(calls)):
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    return times


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy_cores(n: int) -> Iterator[None]:
    """``n`` processes that keep a core each busy, as other work on a shared machine would."""
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_spin, name="busy-core", daemon=True) for _ in range(n)]
    for proc in procs:
        proc.start()
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.join()


class StopLoop(Exception):
    """Raised inside a loop (by its own hook) to end it early; not an error."""


class Lockstep:
    """Step loops in their own processes, taking turns of a few steps each; every step timed.

    A loop is a picklable function of a tick (a module-level function, or a
    ``functools.partial`` of one) that returns what it recorded. It calls
    ``tick("step")`` after each step and ``tick("pause")`` after work that is
    not to be timed (an evaluation): its clock runs from its last tick to the
    next, and only in its own turn. The loops start one after another (their
    setup, up to their first tick, never overlaps anything), turns begin once
    all have started, and a loop keeps the turn across a pause. A loop that
    returns or raises :class:`StopLoop` drops out of the turns; the first
    that fails ends the run, and :meth:`run` raises with its traceback.

    Why processes: loops on threads of one process share its OpenMP runtime,
    which then sees more worker threads than cores and puts its workers to
    sleep and wakes them again around every multi-threaded operation. That
    slowed any contender running on several threads by half while sparing
    single-threaded work, so the harness, not the code, decided the contest.

    Why turns of several steps: the loop whose turn ends leaves its worker
    threads spinning for a moment, and the next loop's first step shares the
    cores with them (or, after a rest, starts from cold). Training runs its
    steps back to back, so each turn's first ``warmup`` steps are timed but
    left out of :meth:`turn_times`, the figure that compares loops.
    """

    def __init__(self, turn: int = 6, warmup: int = 1) -> None:
        if not 0 <= warmup < turn:
            raise ValueError(f"need 0 <= warmup < turn, got warmup={warmup}, turn={turn}")
        self.turn, self.warmup = turn, warmup
        self.times: dict[str, list[float]] = {}  # every step, in order
        self.turns: dict[str, list[list[float]]] = {}  # the same steps, by turn
        self.results: dict[str, object] = {}

    def turn_times(self, name: str, skip: int = 1) -> list[float]:
        """Seconds of each full turn's steps after its warm-up, leaving out the first ``skip`` turns."""
        return [sum(steps[self.warmup:]) for steps in self.turns[name][skip:] if len(steps) == self.turn]

    def run(self, loops: dict[str, Callable[[Tick], object]]) -> dict[str, object]:
        """Run ``loops`` (name -> loop) to the end; return what each returned. Re-raises the first failure."""
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no OpenMP state inherited
        self.times = {name: [] for name in loops}
        self.turns = {name: [] for name in loops}
        self.results = {}
        pipes, procs, failures = {}, {}, []
        try:
            for name, loop in loops.items():  # one at a time, so no setup overlaps another
                if failures:
                    break
                ours, theirs = context.Pipe()
                proc = context.Process(target=_child, args=(loop, theirs), name=f"lockstep-{name}", daemon=True)
                proc.start()
                theirs.close()
                procs[name] = proc
                pipes[name] = ours
                self._book(name, _receive(ours, proc), pipes, failures)
            while pipes and not failures:  # the first failure ends the run
                for name in [n for n in loops if n in pipes and not failures]:
                    self.turns[name].append([])
                    while name in pipes and len(self.turns[name][-1]) < self.turn:
                        pipes[name].send("go")
                        self._book(name, _receive(pipes[name], procs[name]), pipes, failures)
        finally:
            for conn in pipes.values():
                conn.close()
            for proc in procs.values():
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
        if failures:
            name, text = failures[0]
            raise RuntimeError(f"the {name!r} loop failed:\n{text}")
        return self.results

    def _book(self, name: str, message: tuple, pipes: dict, failures: list) -> None:
        """Book one message of a loop: a timed step, a pause, its result or its failure."""
        kind, value = message
        if kind == "step":
            self.times[name].append(value)
            self.turns[name][-1].append(value)
        elif kind in ("done", "failed"):
            pipes.pop(name).close()
            if self.turns[name] and not self.turns[name][-1]:
                self.turns[name].pop()  # the turn it ended in, without a step
            if kind == "done":
                self.results[name] = value
            else:
                failures.append((name, value))


def _receive(conn, proc) -> tuple:
    """A loop's next message; a process that died without one (a crash, the OOM killer) is a failure."""
    try:
        return conn.recv()
    except EOFError:
        proc.join(timeout=5)
        return "failed", f"its process ended without a word (exit code {proc.exitcode})"


def _child(loop: Callable[[Tick], object], conn) -> None:
    """A loop in its own process: report each tick, wait for the turn, send back the result."""
    clock: list[float | None] = [None]  # None until the first tick: setup is not a step

    def tick(event: str) -> None:
        now = time.perf_counter()
        timed = event == "step" and clock[0] is not None
        conn.send(("step", now - clock[0]) if timed else ("pause", None))
        conn.recv()  # the turn
        clock[0] = time.perf_counter()

    try:
        try:
            result = loop(tick)
        except StopLoop:
            result = None
        conn.send(("done", result))
    except BaseException:  # noqa: BLE001 - reported to the parent, which re-raises
        conn.send(("failed", traceback.format_exc()))
    finally:
        conn.close()
