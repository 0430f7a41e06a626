"""Helpers the checkers of notebooks 03-05 add on top of ``checking``.

- ``run_diagnosed``: ``run_cases`` with one more step: when a wrong answer matches
  none of a case's known ``Mistake`` values, a ``diagnose`` function may still
  recognise what it looks like from its properties (a row that does not sum to
  1, a key in the future) before the plain "expected / got".
- ``loops_in``: whether the learner's source loops, for exercises that ask for
  one tensor expression.
"""
from __future__ import annotations

import ast
import textwrap
from typing import Any, Callable, Sequence

import torch

from ..i18n import _, translate
from .checking import N_, Case, CheckResult, Shortcut, all_pass, call_learner, failed, in_case, judge, passed, \
    require_callable, same, source_of

Diagnose = Callable[[Case, Any], "str | None"]


def run_diagnosed(exercise: str, fn: Callable, cases: list[Case], diagnose: Diagnose | None = None,
                  atol: float = 1e-5, shortcuts: Sequence[Shortcut] = ()) -> CheckResult:
    """``run_cases``, but a wrong answer no known mistake explains goes through ``diagnose`` first."""
    problem = require_callable(exercise, fn)
    if problem is not None:  # a failing CheckResult is falsy
        return problem
    for case in cases:
        got, early = call_learner(exercise, fn, case, shortcuts)
        if early is not None:
            return early
        verdict = judge(exercise, case, got, atol)
        if verdict is None:
            continue
        known = any(same(m.value, got, atol) for m in case.mistakes)
        if not known and diagnose is not None and _comparable(case.expected, got):
            try:
                message = diagnose(case, got)
            except Exception:  # a diagnosis must never hide the plain verdict
                message = None
            if message:
                return failed(exercise, in_case(case.name, message))
        return verdict
    return passed(exercise, all_pass(len(cases)))


def _comparable(expected: Any, got: Any) -> bool:
    """Whether a property diagnosis applies: a tensor of the expected shape (any value otherwise)."""
    if isinstance(expected, torch.Tensor):
        return isinstance(got, torch.Tensor) and got.shape == expected.shape
    return True


# Labels shown in messages ("your code uses a `for` loop"): translated by ``loops_in`` when it returns one.
_LOOPS = {ast.For: N_("a `for` loop"), ast.While: N_("a `while` loop"), ast.ListComp: N_("a list comprehension"),
          ast.GeneratorExp: N_("a generator expression"), ast.SetComp: N_("a set comprehension"),
          ast.DictComp: N_("a dict comprehension")}
# Functions that loop for you: a loop all the same, however it is spelled.
_LOOPING_CALLS = {"map": "`map`", "filter": "`filter`", "reduce": "`reduce`", "accumulate": "`accumulate`",
                  "starmap": "`starmap`"}


def _fixed(node: ast.AST) -> bool:
    """A literal tuple, list or set of names (``(W_q, W_k, W_v)``): a fixed list, not data to loop over."""
    return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and not any(isinstance(e, ast.Starred) for e in node.elts)


def _loop_label(node: ast.AST) -> str | None:
    """What kind of loop ``node`` is, or ``None`` (also for one over a fixed literal list)."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return None if _fixed(node.iter) else _LOOPS[ast.For]
    if isinstance(node, ast.While):
        return _LOOPS[ast.While]
    for kind in (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp):
        if isinstance(node, kind):
            return None if all(_fixed(g.iter) for g in node.generators) else _LOOPS[kind]
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in _LOOPING_CALLS and not all(_fixed(a) for a in node.args[1:] or [ast.Name("x")]):
            return _("{function} (a loop in disguise)", function=_LOOPING_CALLS[name])
    return None


def loops_in(fn: Callable) -> str | None:
    """The first kind of Python loop in ``fn``'s source ("a `for` loop", ...), or ``None``.

    A loop over a fixed literal list (``for W in (W_q, W_k, W_v)``) is not counted: it
    repeats a line, it does not iterate over data. ``map``, ``filter`` and ``reduce``
    are counted: they loop however they are spelled. ``None`` also when Python
    cannot find the source (code typed into an interpreter without a file), so
    this check only ever catches, never blocks.
    """
    source = source_of(fn)
    if not source:
        return None
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        label = _loop_label(node)
        if label:
            return translate(label)
    return None
