"""The checkers' shared machinery: not yet, diagnoses, shortcuts, and raising for graders."""
from __future__ import annotations

import pytest
import torch

from glmlib.exercises import Case, ExerciseFailed, Mistake, Shortcut, run_cases

CASES = [Case("x = [1, 2]", (torch.tensor([1.0, 2.0]),), torch.tensor([2.0, 4.0]),
              mistakes=[Mistake(torch.tensor([1.0, 4.0]), "looks like you squared instead of doubling")])]


def test_a_right_answer_passes_and_require_is_silent() -> None:
    result = run_cases("double", lambda x: 2 * x, CASES)
    assert result.passed and result.status == "pass"
    assert result.require() is None


@pytest.mark.parametrize("stub", [lambda x: (_ for _ in ()).throw(NotImplementedError()),
                                  lambda x: None, lambda x: ...], ids=["raises", "None", "Ellipsis"])
def test_a_stub_is_not_yet_and_require_raises(stub) -> None:
    result = run_cases("double", stub, CASES)
    assert result.status == "not yet" and not result
    with pytest.raises(ExerciseFailed, match="not yet"):
        result.require()


def test_a_known_mistake_is_named() -> None:
    result = run_cases("double", lambda x: x ** 2, CASES)
    assert result.status == "fail"
    assert "squared instead of doubling" in result.message
    with pytest.raises(ExerciseFailed, match="squared"):
        result.require()


def test_a_float_for_a_0d_tensor_is_named_not_shown_as_equal_numbers() -> None:
    cases = [Case("mean", (torch.tensor([0.25, 0.3254]),), torch.tensor(0.2877))]
    result = run_cases("mean", lambda x: float(x.mean()), cases, atol=1e-4)
    assert "returned a Python float" in result.message and "0-d tensor" in result.message


def test_a_wrong_shape_and_a_wrong_dtype_are_named() -> None:
    assert "shape (1, 2)" in run_cases("double", lambda x: (2 * x)[None], CASES).message
    bool_case = [Case("mask", (2,), torch.ones(2, 2, dtype=torch.bool).tril())]
    assert "bool tensor" in run_cases("mask", lambda T: torch.ones(T, T).tril(), bool_case).message


def test_an_unknown_wrong_answer_says_where_it_differs() -> None:
    message = run_cases("double", lambda x: x + torch.tensor([1.0, 0.0]), CASES).message
    assert "largest difference at index (1,)" in message


def test_a_forbidden_shortcut_is_trapped_and_restored() -> None:
    original = torch.softmax
    trap = [Shortcut(torch, "softmax", "torch.softmax", "use exp, sum and max")]
    cases = [Case("row", (torch.tensor([1.0, 2.0]),), torch.softmax(torch.tensor([1.0, 2.0]), -1))]
    result = run_cases("softmax", lambda x: torch.softmax(x, -1), cases, shortcuts=trap)
    assert result.status == "fail" and "torch.softmax" in result.message and "exp, sum and max" in result.message
    assert torch.softmax is original
    assert run_cases("softmax", lambda x: x.exp() / x.exp().sum(), cases, shortcuts=trap).passed


def test_code_that_raises_is_reported_not_raised() -> None:
    result = run_cases("double", lambda x: x @ x @ x, CASES)
    assert result.status == "fail" and "raised RuntimeError" in result.message


def test_something_not_callable_is_named() -> None:
    result = run_cases("double", 42, CASES)
    assert result.status == "fail" and "callable" in result.message
