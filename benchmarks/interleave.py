"""Measuring speed as a ratio to a peer, in the same run, interleaved.

The host's speed varies by more than 2x between days, and within minutes
when other work shares its cores, so no figure here is divided by a number
measured at another time. Contenders take turns (A, B, A, B, ...); each
round of turns gives one ratio, and a figure is the median of those ratios
with their range.

:class:`Lockstep` runs step loops (a ``train()`` call, a hand-written
training loop, a matmul) on their own threads, one step each in turn, and
times every step; :func:`alternate` does the same for plain calls.
"""
from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from typing import Callable


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


def blocks(times: list[float], size: int, skip: int = 0) -> list[float]:
    """Sums of consecutive runs of ``size`` times, after dropping the first ``skip`` (warm-up)."""
    times = times[skip:]
    return [sum(times[i:i + size]) for i in range(0, len(times) - size + 1, size)]


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


class StopLoop(Exception):
    """Raised inside a loop (by its own hook) to end it early; not an error."""


class Lockstep:
    """Step loops on their own threads, taking turns one step at a time; every step timed.

    A loop calls ``tick("step")`` after each step and ``tick("pause")`` after
    work that is not to be timed (an evaluation): its clock runs from its
    last tick to the next, and only in its own turn. The loops start one
    after another (their setup, up to their first tick, never overlaps
    anything), turns begin once all have started, and a loop keeps the turn
    across a pause. A loop that returns or raises drops out of the turns.
    """

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self._cv = threading.Condition()
        self._order: list[str] = []
        self._ready: set[str] = set()
        self._done: set[str] = set()
        self._turn: str | None = None
        self._clock: dict[str, float] = {}

    def run(self, loops: dict[str, Callable[[Tick], object]]) -> None:
        """Run ``loops`` (name -> function of its tick) to the end; re-raise the first error."""
        self._order = list(loops)
        self.times = {name: [] for name in loops}
        self._turn = self._order[0]
        errors: list[BaseException] = []
        workers = []
        for name, loop in loops.items():
            worker = threading.Thread(target=self._body, args=(name, loop, errors), name=f"lockstep-{name}")
            worker.start()
            workers.append(worker)
            with self._cv:  # the next loop's setup waits until this one is ready
                self._cv.wait_for(lambda: name in self._ready or name in self._done)
        for worker in workers:
            worker.join()
        if errors:
            raise errors[0]

    def _body(self, name: str, loop: Callable[[Tick], object], errors: list[BaseException]) -> None:
        try:
            loop(lambda event: self._tick(name, event))
        except StopLoop:
            pass
        except BaseException as err:  # noqa: BLE001 - handed to the caller of run()
            errors.append(err)
        finally:
            with self._cv:
                self._done.add(name)
                if self._turn == name:
                    self._pass_turn(name)
                self._cv.notify_all()

    def _tick(self, name: str, event: str) -> None:
        now = time.perf_counter()
        with self._cv:
            if event == "step" and name in self._ready:
                self.times[name].append(now - self._clock[name])
                self._pass_turn(name)
            self._ready.add(name)
            self._cv.notify_all()
            everyone = set(self._order)
            self._cv.wait_for(lambda: self._turn == name and self._ready | self._done >= everyone)
        self._clock[name] = time.perf_counter()

    def _pass_turn(self, name: str) -> None:
        """Give the turn to the next loop (in order, cyclically) that is still running."""
        i = self._order.index(name)
        for other in self._order[i + 1:] + self._order[:i + 1]:
            if other not in self._done:
                self._turn = other
                return
        self._turn = None
