"""Every exercise of every notebook, through its own checker, outside the notebook.

For each question: the worked solution passes; the untouched stub is "not
yet"; code that raises is reported, not raised; each catalogued wrong answer
(``tests/wrong_answers/nbNN.py``) fails with its own diagnosis and no other
mistake's; checkers are quick and leave the global random state alone.
Notebook-specific properties of the checkers (their references, their traps)
are tested in ``test_exercises_nbNN.py``.
"""
from __future__ import annotations

import importlib
import inspect
import re
import time

import pytest
import torch

from glmlib.exercises import ExerciseFailed
from notebook_solutions import NOTEBOOKS, questions, run_code

STEMS = sorted(p.stem[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
QUESTIONS = {stem: questions(stem) for stem in STEMS}
CATALOGUES = {stem: importlib.import_module(f"wrong_answers.nb{stem}") for stem in STEMS}
ALL = [(stem, name) for stem in STEMS for name in QUESTIONS[stem]]
WRONG = [(stem, name, label) for stem in STEMS for name, answers in CATALOGUES[stem].WRONG.items()
         for label in answers]


# Mistakes whose wrong outputs coincide on the case that catches them, so that the
# checker's message names both candidates ("did you sort ascending, or not scatter
# the decisions back?"). Listed here, with the reason, instead of hidden.
SHARED_DIAGNOSES = {
    ("q07_top_p", "sorted in ascending order"): "both keep a less probable token than one removed",
    ("q07_top_p", "decisions made in sorted order, never scattered back"): "the same symptom",
    ("q07_min_p", "compares logits instead of probabilities"): "both keep no token at all",
    ("q07_min_p", "strict > removes the top token at min_p = 1"): "the same symptom",
    ("q08_window_step", "attends before trimming (window + 1 keys)"): "the hint says trim *before* attending",
}


def checker_call(test: str) -> tuple[str, str]:
    """``ex.check_softmax(softmax).require()`` -> (``ex.check_softmax(softmax)``, ``softmax``)."""
    m = re.fullmatch(r"\s*((?:\w+\.)*check_\w+\((\w+)\))\.require\(\)\s*", test)
    assert m, f"unexpected test code {test!r}"
    return m.group(1), m.group(2)


def failure_of(stem: str, name: str, code: str) -> str:
    env = run_code(CATALOGUES[stem].SETUP + code)
    with pytest.raises(ExerciseFailed) as failure:
        run_code(QUESTIONS[stem][name].test, env)
    return str(failure.value)


def test_learner_code_keeps_its_own_source_as_in_a_notebook() -> None:
    """A checker that reads the learner's source (the loop rules of 03 and 04) sees the learner's cell,
    not the test code run after it: each run has its own file name, as each notebook cell has."""
    env = run_code("def learner(x):\n    return [x for _ in range(2)]\n")
    run_code("result = learner(1)\n", env)
    assert inspect.getsource(env["learner"]) == "def learner(x):\n    return [x for _ in range(2)]\n"


@pytest.mark.parametrize("stem", STEMS)
def test_catalogue_covers_every_exercise(stem: str) -> None:
    assert QUESTIONS[stem], f"notebook {stem} has no marked exercise"
    assert set(CATALOGUES[stem].WRONG) == set(QUESTIONS[stem])
    assert all(CATALOGUES[stem].WRONG.values()), "a question without a catalogued wrong answer"


@pytest.mark.parametrize("stem, name", ALL)
def test_worked_solution_passes_quickly_leaving_the_random_state(stem: str, name: str) -> None:
    q = QUESTIONS[stem][name]
    env = run_code(CATALOGUES[stem].SETUP + q.solution)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    start = time.process_time()  # CPU time: what the checker costs, not how busy the host is
    run_code(q.test, env)
    limit = 60.0 if name == "q06_train_loop" else 5.0  # the training loop trains a model
    assert time.process_time() - start < limit, f"the checker took more than {limit:g} s of CPU"
    assert torch.equal(torch.get_rng_state(), before), "the checker changed the global random state"


@pytest.mark.parametrize("stem, name", ALL)
def test_stub_is_not_yet(stem: str, name: str) -> None:
    q = QUESTIONS[stem][name]
    call, _ = checker_call(q.test)
    env = run_code(CATALOGUES[stem].SETUP + q.stub)
    assert eval(call, env).status == "not yet"
    with pytest.raises(ExerciseFailed, match="not yet"):
        run_code(q.test, env)


@pytest.mark.parametrize("stem, name", ALL)
def test_code_that_raises_is_reported_not_raised(stem: str, name: str) -> None:
    q = QUESTIONS[stem][name]
    call, learner = checker_call(q.test)
    env = run_code(CATALOGUES[stem].SETUP + q.stub)

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch somewhere")

    env[learner] = broken
    result = eval(call, env)
    assert result.status == "fail" and "RuntimeError" in result.message, result


@pytest.mark.parametrize("stem, name, label", WRONG, ids=[f"{s}-{n}: {l}" for s, n, l in WRONG])
def test_wrong_answer_gets_its_own_diagnosis(stem: str, name: str, label: str) -> None:
    answers = CATALOGUES[stem].WRONG[name]
    code, fragment = answers[label]
    message = failure_of(stem, name, code).lower()
    assert ": fail:" in message, message
    assert fragment.lower() in message, message
    if (name, label) in SHARED_DIAGNOSES:
        return
    others = [other for other, (_, frag) in answers.items()
              if frag.lower() != fragment.lower() and frag.lower() not in fragment.lower()
              and frag.lower() in message]
    assert not others, f"{label} is told another mistake's diagnosis ({others}): {message}"
