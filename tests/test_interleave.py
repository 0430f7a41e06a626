"""The benchmarks' harness: loops in their own processes take turns, never overlap, and report back."""
from __future__ import annotations

import os
import sys
import time
from functools import partial
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from interleave import Lockstep, StopLoop, Tick  # noqa: E402


def stepper(steps: int, tick: Tick, stop_after: int | None = None) -> dict:
    """Steps that each take about 2 ms, with one untimed pause; returns when each step ran and where."""
    spans = []
    tick("pause")  # setup done
    for i in range(steps):
        start = time.time()
        time.sleep(0.002)
        spans.append((start, time.time()))
        if i == 2:
            tick("pause")  # untimed work mid-loop keeps the turn
        if stop_after is not None and i + 1 == stop_after:
            raise StopLoop
        tick("step")
    return {"pid": os.getpid(), "spans": spans}


def failing(tick: Tick) -> None:
    tick("pause")
    tick("step")
    raise ValueError("a deliberate failure in step two")


def test_loops_take_turns_in_their_own_processes():
    lockstep = Lockstep(turn=4, warmup=1)
    results = lockstep.run({"a": partial(stepper, 12), "b": partial(stepper, 8)})
    assert len({results["a"]["pid"], results["b"]["pid"], os.getpid()}) == 3
    assert [len(t) for t in lockstep.turns["a"]] == [4, 4, 4]
    assert [len(t) for t in lockstep.turns["b"]] == [4, 4]
    for name in "ab":  # each step sleeps 2 ms; the one right after the pause has its clock restarted
        times = lockstep.times[name]
        assert all(s < 1.0 for s in times) and sum(s >= 2e-3 for s in times) == len(times) - 1
        assert times[2] < 2e-3
    # turns do not overlap, and they alternate a, b, a, b, a
    spans = sorted([(start, end, name) for name, r in results.items() for start, end in r["spans"]])
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        assert end <= start
    runs = [spans[0][2]]
    for _, _, name in spans[1:]:
        if name != runs[-1]:
            runs.append(name)
    assert runs == ["a", "b", "a", "b", "a"]
    # each full turn's figure leaves out its first step, and the first turn
    assert lockstep.turn_times("a") == [sum(t[1:]) for t in lockstep.turns["a"][1:]]
    assert len(lockstep.turn_times("b", skip=0)) == 2


def test_a_loop_that_stops_early_drops_out():
    lockstep = Lockstep(turn=3)
    results = lockstep.run({"early": partial(stepper, 10, stop_after=4), "full": partial(stepper, 9)})
    assert results["early"] is None  # StopLoop outside the loop's own handling: nothing returned
    assert len(lockstep.times["early"]) == 3 and len(lockstep.times["full"]) == 9


def test_a_failing_loop_is_reported_with_its_traceback():
    with pytest.raises(RuntimeError, match=r"(?s)'bad' loop failed.*ValueError: a deliberate failure"):
        Lockstep(turn=2).run({"good": partial(stepper, 6), "bad": failing})


def crashing(tick: Tick) -> None:
    tick("pause")
    os._exit(3)  # gone without a word, as after a segfault


def test_a_loop_whose_process_dies_is_reported():
    with pytest.raises(RuntimeError, match=r"'gone' loop failed:\nits process ended without a word \(exit code 3\)"):
        Lockstep(turn=2).run({"good": partial(stepper, 6), "gone": crashing})


def test_turn_and_warmup_are_checked():
    with pytest.raises(ValueError, match="warmup=2, turn=2"):
        Lockstep(turn=2, warmup=2)
