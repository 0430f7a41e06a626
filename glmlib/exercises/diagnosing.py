"""Helpers the checkers of notebooks 03-05 add on top of ``checking``.

- ``forbidden``: traps a forbidden function both where it lives (``torch.softmax``)
  and under any name the learner's notebook imported it by
  (``from glmlib.attention import scaled_dot_product_attention``).
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

from .checking import Case, CheckResult, Shortcut, call_learner, failed, judge, passed, \
    require_callable, same, source_of

Diagnose = Callable[[Case, Any], "str | None"]


class _Namespace:
    """A dict seen as an object, so that a ``Shortcut`` can swap one of its entries."""

    def __init__(self, names: dict) -> None:
        object.__setattr__(self, "_names", names)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._names[name] = value


def forbidden(fn: object, targets: Sequence[tuple[object, str, str, str]]) -> list[Shortcut]:
    """Shortcuts for ``(owner, attribute, label, hint)`` targets, plus their aliases in ``fn``'s globals.

    A notebook that ran ``from glmlib.masks import causal_mask`` holds its own
    name for the function; swapping ``glmlib.masks.causal_mask`` alone would
    miss it, so every global of the learner's module bound to the very same
    object is trapped as well.
    """
    shortcuts = [Shortcut(owner, attribute, label, hint) for owner, attribute, label, hint in targets]
    names = getattr(fn, "__globals__", None)
    if isinstance(names, dict):
        originals = [(getattr(owner, attribute), label, hint) for owner, attribute, label, hint in targets]
        namespace = _Namespace(names)
        for name, value in list(names.items()):
            for original, label, hint in originals:
                if value is original:
                    shortcuts.append(Shortcut(namespace, name, label, hint))
    return shortcuts


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
                return failed(exercise, f"case '{case.name}': {message}")
        return verdict
    return passed(exercise, f"all {len(cases)} cases pass")


def _comparable(expected: Any, got: Any) -> bool:
    """Whether a property diagnosis applies: a tensor of the expected shape (any value otherwise)."""
    if isinstance(expected, torch.Tensor):
        return isinstance(got, torch.Tensor) and got.shape == expected.shape
    return True


_LOOPS = {ast.For: "a `for` loop", ast.While: "a `while` loop", ast.ListComp: "a list comprehension",
          ast.GeneratorExp: "a generator expression", ast.SetComp: "a set comprehension",
          ast.DictComp: "a dict comprehension"}


def loops_in(fn: Callable) -> str | None:
    """The first kind of Python loop in ``fn``'s source ("a `for` loop", ...), or ``None``.

    ``None`` also when Python cannot find the source (code typed into an
    interpreter without a file), so this check only ever catches, never blocks.
    """
    source = source_of(fn)
    if not source:
        return None
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        for kind, label in _LOOPS.items():
            if isinstance(node, kind):
                return label
    return None
