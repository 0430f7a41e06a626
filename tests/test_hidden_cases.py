"""The hidden cases of grading: every seeded input of the checkers drawn afresh from a secret.

A worked solution must pass them whatever the secret (a checker whose
expected values or tolerances held only for the visible seeds would fail an
honest student at grading time), and they must differ from the visible ones.
"""
from __future__ import annotations

import pytest
import torch

from glmlib.exercises import grading
from notebook_solutions import NOTEBOOKS, questions, run_code
from test_exercise_catalogues import CATALOGUES, checker_call

STEMS = sorted(p.stem[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
ALL = [(stem, name) for stem in STEMS for name in questions(stem) if name != "q06_train_loop"]
SALTS = [1, 2**40 + 7]


@pytest.mark.parametrize("stem, name", ALL)
def test_worked_solutions_pass_the_hidden_cases_of_any_grading_run(stem: str, name: str) -> None:
    q = questions(stem)[name]
    env = run_code(CATALOGUES[stem].SETUP + q.solution)
    call, function = checker_call(q.test)
    checker = eval(call.split("(")[0], env)  # ex.check_x, from the notebook's own import
    for salt in SALTS:
        with grading.hidden_cases(salt):
            result = checker(env[function])
        assert result.passed, (salt, result)


def test_the_hidden_draws_depend_on_the_secret_and_leave_torch_as_it_was() -> None:
    generator, seed = torch.Generator, torch.manual_seed
    draws = []
    for salt in SALTS:
        with grading.hidden_cases(salt):
            draws.append(torch.randn(4, generator=torch.Generator().manual_seed(0)))
    assert all(not torch.equal(a, b) for i, a in enumerate(draws) for b in draws[i + 1:])
    assert torch.Generator is generator and torch.manual_seed is seed
    visible = torch.randn(4, generator=torch.Generator().manual_seed(0))
    assert all(not torch.equal(visible, d) for d in draws)
