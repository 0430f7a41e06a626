"""The shared machinery of the exercise checkers: run cases, explain failures."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch


@dataclass
class Case:
    """One input to try: ``args`` for the learner's function and the expected result."""

    name: str
    args: tuple
    expected: Any
    kwargs: dict = field(default_factory=dict)


@dataclass
class CheckResult:
    """What a checker found: ``passed``, and a message naming the failing case."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.exercise}: {self.message}"

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.passed else "❌"
        return f"{mark} **{self.exercise}**: {self.message}"


def _same(expected: Any, got: Any, atol: float) -> bool:
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return False
        if expected.dtype == torch.bool or not expected.is_floating_point():
            return bool(torch.equal(got.to(expected.dtype), expected))
        return bool(torch.allclose(got.to(expected.dtype), expected, atol=atol, rtol=0, equal_nan=True))
    if isinstance(expected, float):
        try:
            return abs(float(got) - expected) <= atol
        except (TypeError, ValueError):
            return False
    return got == expected


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}:\n{value}"
    return repr(value)


def run_cases(exercise: str, fn: Callable, cases: list[Case], atol: float = 1e-5) -> CheckResult:
    """Call ``fn`` on every case; stop at the first wrong answer and say why."""
    for case in cases:
        try:
            got = fn(*case.args, **case.kwargs)
        except NotImplementedError:
            return CheckResult(exercise, False, "not implemented yet: replace the `raise NotImplementedError`")
        except Exception as err:  # the learner's code raised: report it, don't crash
            return CheckResult(exercise, False, f"case '{case.name}' raised {type(err).__name__}: {err}")
        if not _same(case.expected, got, atol):
            return CheckResult(exercise, False,
                               f"case '{case.name}': expected {_show(case.expected)}, got {_show(got)}")
    return CheckResult(exercise, True, f"all {len(cases)} cases pass")
