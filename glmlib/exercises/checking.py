"""The shared machinery of the exercise checkers: run cases, diagnose mistakes, grade.

A checker runs the learner's function on several cases whose expected values
come from an independent reference (PyTorch, the library's own tested code,
or numbers worked out by hand), never from a solution shipped in this package.
When an answer is wrong it says what the mistake looks like, not only
"expected / got": each case can list the values that known mistakes produce,
and a few common slips (a float where a tensor was asked, a wrong shape, a
wrong dtype, a forbidden shortcut) are recognised everywhere.

A checker never raises on a wrong or missing answer: it returns a
``CheckResult`` that notebooks display. Grading tools call ``.require()``,
which raises ``ExerciseFailed`` (an ``AssertionError``) with the same message.
"""
from __future__ import annotations

import contextlib
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch

from ..i18n import _, translate


def N_(message: str) -> str:
    """Mark an English text of a module-level table for the catalogue (``tools/i18n.py`` collects it)
    without translating it: the code translates it with ``translate`` when it shows it."""
    return message


NOT_YET = "not yet"
# How a notebook marks each status: plain text, which every font can draw. The status values
# ("pass", "not yet", "fail") are what code compares; only their marks are translated, when shown.
STATUS_MARKS = {"pass": N_("[PASS]"), NOT_YET: N_("[NOT YET]"), "fail": N_("[FAIL]")}
STATUS_WORDS = {"pass": N_("PASS"), NOT_YET: N_("NOT YET"), "fail": N_("FAIL")}


class ExerciseFailed(AssertionError):
    """Raised by ``CheckResult.require()`` for an answer that is missing or wrong."""


class ShortcutUsed(Exception):
    """Raised inside the learner's code when it calls a function the exercise forbids."""


@dataclass
class Mistake:
    """A known wrong answer: the value it gives on a case, and what to tell the learner."""

    value: Any
    message: str


@dataclass
class Case:
    """One input to try: ``args`` for the learner's function and the expected result.

    ``mistakes`` lists the values that common wrong answers return on this
    input, each with a diagnosis shown when the learner's result matches it.
    """

    name: str
    args: tuple
    expected: Any
    kwargs: dict = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)


@dataclass
class Shortcut:
    """A function the exercise asks the learner not to call: ``owner.attribute``."""

    owner: Any
    attribute: str
    label: str
    hint: str


@dataclass
class CheckResult:
    """What a checker found: ``status`` is "pass", "not yet" or "fail", with a message."""

    exercise: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def __bool__(self) -> bool:
        return self.passed

    def require(self) -> None:
        """Raise ``ExerciseFailed`` unless the answer passed (for autograders); print nothing."""
        if not self.passed:
            raise ExerciseFailed(f"{self.exercise}: {self.status}: {self.message}")

    def __repr__(self) -> str:
        word = STATUS_WORDS.get(self.status)
        return f"{translate(word) if word else self.status.upper()} {self.exercise}: {self.message}"

    def _repr_markdown_(self) -> str:
        """The result as a notebook shows it: a status word in brackets, not an emoji, so that it
        reads the same with any font (servers and classroom hubs often have no emoji font)."""
        mark = translate(STATUS_MARKS.get(self.status, STATUS_MARKS["fail"]))
        return f"**{mark}** **{self.exercise}**: {self.message}"


def passed(exercise: str, message: str) -> CheckResult:
    return CheckResult(exercise, "pass", message)


def failed(exercise: str, message: str) -> CheckResult:
    return CheckResult(exercise, "fail", message)


def not_yet(exercise: str, message: str | None = None) -> CheckResult:
    if message is None:
        message = _("replace the `raise NotImplementedError` (or `...`) with your code")
    return CheckResult(exercise, NOT_YET, message)


# ------------------------------------------------------------------ comparing

def same(expected: Any, got: Any, atol: float = 1e-5) -> bool:
    """Whether ``got`` equals ``expected``: exactly for bool/int tensors, to ``atol`` for floats."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return False
        if expected.dtype == torch.bool:
            return got.dtype == torch.bool and bool(torch.equal(got, expected))
        if not expected.is_floating_point():
            return bool(torch.equal(got.to(expected.dtype), expected))
        if not got.is_floating_point():
            got = got.to(expected.dtype)
        return bool(torch.allclose(got.to(expected.dtype), expected, atol=atol, rtol=0, equal_nan=True))
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(expected)
                and all(same(e, g, atol) for e, g in zip(expected, got)))
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor) and got.numel() != 1:
            return False
        try:
            return abs(float(got) - expected) <= atol or (math.isinf(expected) and float(got) == expected)
        except (TypeError, ValueError):
            return False
    return bool(got == expected)


def show(value: Any) -> str:
    """A short description of a value for a message."""
    if isinstance(value, torch.Tensor):
        if value.numel() > 64:
            return _("a tensor of shape {shape}, dtype {dtype}", shape=tuple(value.shape), dtype=value.dtype)
        return _("tensor of shape {shape}, dtype {dtype}:\n{value}", shape=tuple(value.shape), dtype=value.dtype,
                 value=value)
    return repr(value)


def _type_slip(expected: Any, got: Any) -> str | None:
    """Recognise a wrong kind of value (float for tensor, wrong shape, wrong dtype)."""
    if isinstance(expected, torch.Tensor):
        if isinstance(got, (float, int)) and not isinstance(got, bool):
            kind = type(got).__name__
            if expected.dim() == 0:
                return _("you returned a Python {kind}; return a 0-d tensor (keep the computation in "
                         "torch, e.g. `torch.tensor(...)` or a tensor expression, not `.item()`)", kind=kind)
            return _("you returned a Python {kind}; return a tensor of shape {shape}", kind=kind,
                     shape=tuple(expected.shape))
        if not isinstance(got, torch.Tensor):
            return _("you returned {kind}; return a tensor of shape {shape}", kind=type(got).__name__,
                     shape=tuple(expected.shape))
        if got.shape != expected.shape:
            return _("your result has shape {got}; expected shape {expected}", got=tuple(got.shape),
                     expected=tuple(expected.shape))
        if expected.dtype == torch.bool and got.dtype != torch.bool:
            return _("your result has dtype {dtype}; return a bool tensor (True = may attend)", dtype=got.dtype)
        if expected.is_floating_point() and not got.is_floating_point():
            return _("your result has dtype {dtype}; return floating-point values", dtype=got.dtype)
    if isinstance(expected, float) and isinstance(got, torch.Tensor) and got.numel() != 1:
        return _("you returned a tensor of shape {shape}; return a single number", shape=tuple(got.shape))
    if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(got, float):
        return _("you returned the float {got!r}; return an int", got=got)
    return None


def _difference(expected: Any, got: Any) -> str:
    """Where a wrong tensor differs most, to help the learner look."""
    if not (isinstance(expected, torch.Tensor) and isinstance(got, torch.Tensor)
            and got.shape == expected.shape and expected.numel() > 0):
        return ""
    e, g = expected.double(), got.double()
    diff = (e - g).abs().nan_to_num(nan=math.inf)
    both_inf = (e == g)
    diff = diff.masked_fill(both_inf, 0.0)
    if expected.dim() == 0:
        return ""
    index = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    return _(" (largest difference at index {index}: expected {expected:.6g}, got {got:.6g})", index=index,
             expected=e[index].item(), got=g[index].item())


# ------------------------------------------------------------------ shortcuts

_recorded: list[Sequence[Shortcut]] | None = None  # while grading: forbid() records, the learner traps


@contextlib.contextmanager
def recording_shortcuts() -> Iterator[None]:
    """While grading, the learner's functions run in another process (``glmlib.exercises.remote``):
    ``forbid`` then records what to trap there instead of trapping here."""
    global _recorded
    saved, _recorded = _recorded, []
    try:
        yield
    finally:
        _recorded = saved


def active_shortcuts() -> list[Shortcut]:
    """The shortcuts of every ``forbid`` block now open (while grading)."""
    return [s for group in (_recorded or []) for s in group]


def _torch_owned(owner: Any) -> bool:
    name = owner.__name__ if inspect.ismodule(owner) else getattr(owner, "__module__", "") or ""
    return name == "torch" or name.startswith("torch.")


def _op_stem(name: str) -> str:
    """``"torch.nn.functional.softmax"``, ``"aten::_softmax"``, ``"_softmax.default"`` -> ``"softmax"``."""
    name = name.replace("::", ".")
    parts = name.split(".")
    if len(parts) > 1 and parts[-1] in ("default", "int", "Tensor", "Dimname", "out"):
        parts = parts[:-1]
    return parts[-1].lstrip("_")


# An operator PyTorch reaches under another name than the function's: SDPA picks a kernel.
_OP_PREFIX = {"scaled_dot_product_attention": "scaled_dot_product", "nll_loss": "nll_loss",
              "cross_entropy": "cross_entropy"}
# The label is also the trap's identity (it travels between processes while grading): it stays
# English in code and is translated only in the message.
NUMPY_LABEL = N_("a NumPy round trip")
NUMPY_HINT = N_("this exercise is about tensors: keep the computation in torch (no `.numpy()`, `np.asarray(t)` "
                "or NumPy functions applied to tensors)")


class _OperatorTrap:
    """Sees every torch function and every ATen operator the learner's code runs, however it is
    spelled (``torch.softmax``, ``x.softmax``, ``torch.ops.aten._softmax``, an alias, a library that
    calls it), and stops at the first forbidden one; also stops tensors escaping to NumPy."""

    def __init__(self, shortcuts: Sequence[Shortcut], numpy: bool, seen: "Seen") -> None:
        from torch.overrides import TorchFunctionMode
        from torch.utils._python_dispatch import TorchDispatchMode
        stems = {}
        for s in shortcuts:
            if _torch_owned(s.owner):
                stems.setdefault(_OP_PREFIX.get(s.attribute, s.attribute.lstrip("_")), s.label)

        def check(name: str) -> None:
            stem = _op_stem(name)
            for prefix, label in stems.items():
                if stem == prefix or (prefix in _OP_PREFIX.values() and stem.startswith(prefix)):
                    seen.caught(label)
            if numpy and stem in ("numpy", "array__"):
                seen.caught(NUMPY_LABEL)

        class Functions(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                check(_function_name(func))
                return func(*args, **(kwargs or {}))

        class Operators(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                check(func._overloadpacket.__name__)
                return func(*args, **(kwargs or {}))

        self.modes = [Functions(), Operators()] if stems else [Functions()]

    def __enter__(self) -> "_OperatorTrap":
        for mode in self.modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for mode in reversed(self.modes):
            mode.__exit__(None, None, None)


class Seen:
    """The first forbidden call of one run of the learner's code (kept even if the code catches it)."""

    def __init__(self) -> None:
        self.used: str | None = None

    def caught(self, label: str) -> None:
        self.used = self.used or label
        raise ShortcutUsed(label)


def _function_name(func: Any) -> str:
    for attribute in ("_qualified_op_name", "__qualname__", "__name__"):
        name = getattr(func, attribute, None)
        if isinstance(name, str):
            return name
    return ""


@contextlib.contextmanager
def forbid(shortcuts: Sequence[Shortcut], numpy: bool = True) -> Iterator[Seen]:
    """Make each forbidden function raise ``ShortcutUsed`` while the learner's code runs.

    Two nets: the attributes themselves are swapped for a trap (this catches
    library functions such as ``glmlib.train.train``), and for shortcuts owned by
    torch an operator-level trap sees the operator under any spelling. Tensors
    converted to NumPy are stopped too (``numpy=False`` allows them). The ``Seen`` it yields keeps
    the first forbidden call even when the learner's code catches the exception.
    """
    seen = Seen()
    if _recorded is not None:  # grading: the learner's process traps (see recording_shortcuts)
        _recorded.append(list(shortcuts))
        try:
            yield seen
        finally:
            _recorded.pop()
        return
    saved = []
    missing = object()
    try:
        for s in shortcuts:
            getattr(s.owner, s.attribute)  # an AttributeError here names the shortcut that does not exist
            # the raw entry (a classmethod stays a classmethod), or `missing` when inherited
            own = vars(s.owner).get(s.attribute, missing) if isinstance(s.owner, type) else getattr(s.owner,
                                                                                                 s.attribute)
            saved.append((s, own))

            def trap(*args, _s=s, **kwargs):
                seen.caught(_s.label)

            setattr(s.owner, s.attribute, trap)
        with _OperatorTrap(shortcuts, numpy, seen):
            yield seen
    finally:
        for s, own in reversed(saved):
            if own is missing:
                delattr(s.owner, s.attribute)  # inherited: take the trap away, the parent's shows again
            else:
                setattr(s.owner, s.attribute, own)


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


# ------------------------------------------------------------------ running

def call_learner(exercise: str, fn: Callable, case: Case,
                 shortcuts: Sequence[Shortcut] = ()) -> tuple[Any, CheckResult | None]:
    """Call ``fn`` on one case; return its result, or a ready ``CheckResult`` when it did not answer."""
    try:
        with forbid(shortcuts) as seen:
            got = fn(*case.args, **case.kwargs)
        if seen.used:  # a forbidden call the learner's code caught and went past
            raise ShortcutUsed(seen.used)
    except NotImplementedError:
        return None, not_yet(exercise)
    except ShortcutUsed as err:
        label = str(err)
        hint = next((s.hint for s in shortcuts if s.label == label), translate(NUMPY_HINT))
        return None, failed(exercise, _("your code calls `{label}`, which this exercise asks you to "
                                        "write yourself: {hint}", label=translate(label) if label == NUMPY_LABEL
                                        else label, hint=hint))
    except Exception as err:  # the learner's code raised: report it, don't crash
        return None, failed(exercise, _("case '{name}' raised {error}: {detail}", name=case.name,
                                        error=type(err).__name__, detail=err))
    if got is None or got is Ellipsis:
        return None, not_yet(exercise, _("your function returns nothing yet: write its body and "
                                         "`return` the result"))
    return got, None


def judge(exercise: str, case: Case, got: Any, atol: float = 1e-5) -> CheckResult | None:
    """Compare one result with its case; ``None`` when it is right, else a diagnosis."""
    if same(case.expected, got, atol):
        return None
    for mistake in case.mistakes:
        if same(mistake.value, got, atol):
            return failed(exercise, in_case(case.name, mistake.message))
    slip = _type_slip(case.expected, got)
    if slip:
        return failed(exercise, in_case(case.name, slip))
    return failed(exercise, in_case(case.name, _("expected {expected}, got {got}{difference}",
                                                 expected=show(case.expected), got=show(got),
                                                 difference=_difference(case.expected, got))))


def with_details(name: str, details: str) -> str:
    """A case's name followed by its inputs: "two characters: ids=[0, 1], k=0.5"."""
    return _("{name}: {details}", name=name, details=details)


def in_case(name: str, message: str) -> str:
    """``message`` about the case ``name``: "case 'T=4': ..."."""
    return _("case '{name}': {message}", name=name, message=message)


def require_callable(exercise: str, fn: object) -> CheckResult | None:
    """A failing result when ``fn`` is not a function the checker can call."""
    if fn is Ellipsis or fn is None:
        return not_yet(exercise)
    if not callable(fn):
        return failed(exercise, _("pass your function itself (a callable), got {kind}", kind=type(fn).__name__))
    return None


def run_cases(exercise: str, fn: Callable, cases: list[Case], atol: float = 1e-5,
              shortcuts: Sequence[Shortcut] = ()) -> CheckResult:
    """Call ``fn`` on every case; stop at the first wrong answer and say why."""
    problem = require_callable(exercise, fn)
    if problem is not None:
        return problem
    for case in cases:
        got, early = call_learner(exercise, fn, case, shortcuts)
        if early is not None:
            return early
        verdict = judge(exercise, case, got, atol)
        if verdict is not None:
            return verdict
    return passed(exercise, all_pass(len(cases)))


def all_pass(n: int) -> str:
    """The message of a passing check: "all 4 cases pass"."""
    return _("all {n} cases pass", n=n)


def source_of(fn: Callable) -> str:
    """The learner's source code, or "" when Python cannot find it."""
    known = getattr(fn, "learner_source", None)  # a function in the learner's process (grading)
    if isinstance(known, str):
        return known
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def not_yet_line(name: str, score: float, possible: float, message: str, markdown: bool = False) -> str:
    """The student edition's ``grader.check`` line for an exercise still to do, in the chosen language:
    "[NOT YET] q03_local_mask (0 / 2 points): replace the ..." (``tools/editions.py``'s first cell)."""
    mark = translate(STATUS_MARKS[NOT_YET])
    points = _("({score:g} / {possible:g} points)", score=score, possible=possible)
    if markdown:
        return f"**{mark}** **{name}** {points}: {message}"
    return f"{mark} {name} {points}: {message}"
