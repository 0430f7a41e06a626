"""Notebook 05's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import linecache
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import glmlib
from glmlib import model
from glmlib.exercises import ExerciseFailed
from glmlib.exercises import decoder as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb05 import SETUP, WRONG

QUESTIONS = questions("05")
CATALOGUE = [(name, label, code, fragment) for name, answers in WRONG.items()
             for label, (code, fragment) in answers.items()]


def as_file(code: str, name: str = "<learner>") -> str:
    """Register ``code`` with linecache so that ``inspect.getsource`` finds it, as in a notebook."""
    linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
    return code


def run_as_file(code: str, namespace: dict) -> dict:
    exec(compile(as_file(code), "<learner>", "exec"), namespace)
    return namespace


def test_the_notebook_has_the_three_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q05_block_writes", "q05_param_count", "q05_rms_norm"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 3]
    assert set(WRONG) == set(QUESTIONS)


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_worked_solution_passes(name: str) -> None:
    q = QUESTIONS[name]
    run_code(SETUP + q.solution + q.test)


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_worked_solution_passes_when_its_source_is_readable(name: str) -> None:
    """In a notebook Python can read the learner's source; the loop check must not trip on the solution."""
    q = QUESTIONS[name]
    run_as_file(SETUP + q.solution + q.test, {})


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_stub_is_not_yet(name: str) -> None:
    q = QUESTIONS[name]
    call = q.test.strip().removesuffix(".require()")
    env = run_code(SETUP + q.stub)
    result = eval(call, env)
    assert result.status == "not yet", result
    with pytest.raises(ExerciseFailed, match="not yet"):
        run_code(q.test, env)


@pytest.mark.parametrize("name, label, code, fragment", CATALOGUE, ids=[f"{n}: {l}" for n, l, _, _ in CATALOGUE])
def test_wrong_answer_is_named(name: str, label: str, code: str, fragment: str) -> None:
    env = run_code(SETUP + code)
    with pytest.raises(ExerciseFailed) as failure:
        run_code(QUESTIONS[name].test, env)
    assert fragment.lower() in str(failure.value).lower(), str(failure.value)
    assert ": fail:" in str(failure.value)


# ------------------------------------------------------------ what matters beyond pass / fail

def test_block_reference_is_glmlib_block_and_its_writes_add_up() -> None:
    block = ex._stand_in_block(8, seed=3)
    x = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out, a, f = ex._recorded(block, x)
        assert torch.allclose(a, block.attn(block.ln_1(x)), atol=1e-6)
        assert torch.allclose(f, block.ffn(block.ln_2(x + a)), atol=1e-6)
        assert torch.allclose(out, x + a + f, atol=1e-6)
        assert torch.equal(out, block(x))


def test_param_count_reference_counts_real_tensors() -> None:
    for cfg in (dict(vocab_size=5, block_size=4, n_layer=1, n_embd=8),
                dict(vocab_size=10, block_size=16, n_layer=3, n_embd=32, bias=False)):
        torch.manual_seed(0)
        built = model.GPT(model.GPTConfig(n_head=2, **cfg))
        assert ex._count(cfg) == sum(p.numel() for p in built.parameters())
        assert ex._count(cfg) == model.GPTConfig(n_head=2, **cfg).num_params()


def test_rms_norm_reference_is_the_formula() -> None:
    x = torch.randn(3, 5, 6, generator=torch.Generator().manual_seed(0)) * 2 + 1
    w = torch.randn(6, generator=torch.Generator().manual_seed(1))
    by_hand = x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + 0.01) * w
    assert torch.allclose(ex._torch_rms_norm(x, w, 0.01), by_hand, atol=1e-6)
    assert torch.allclose(F.rms_norm(x, (6,), w, 0.01), by_hand, atol=1e-6)


@pytest.mark.parametrize("name", list(WRONG))
def test_each_diagnosis_is_only_given_to_its_own_mistake(name: str) -> None:
    """No wrong answer is told another mistake's diagnosis (a message names one mistake, accurately)."""
    fragments = {label: fragment.lower() for label, (_, fragment) in WRONG[name].items()}
    for label, (code, fragment) in WRONG[name].items():
        env = run_code(SETUP + code)
        message = str(pytest.raises(ExerciseFailed, run_code, QUESTIONS[name].test, env).value).lower()
        others = [other for other, frag in fragments.items() if other != label and frag != fragment.lower()
                  and frag in message]
        assert not others, f"{label}: {message}"


def test_the_block_checker_names_swapped_writes_and_wrong_shapes() -> None:
    swapped = ("def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
               "    a = attn(ln_1(x))\n"
               "    f = ffn(ln_2(x + a))\n"
               "    return x + a + f, f, a\n")
    result = ex.check_pre_ln_block(run_code(SETUP + swapped)["pre_ln_block"])
    assert result.status == "fail" and "look swapped" in result.message, result
    flat = ("def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    return x[0], x[0], x[0]\n")
    result = ex.check_pre_ln_block(run_code(SETUP + flat)["pre_ln_block"])
    assert result.status == "fail" and "shape of x" in result.message, result


def test_an_error_in_the_learner_code_is_reported_not_raised() -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch somewhere")

    for check in (ex.check_pre_ln_block, ex.check_param_count, ex.check_rms_norm):
        result = check(broken)
        assert result.status == "fail" and "RuntimeError: shape mismatch somewhere" in result.message


def test_traps_are_lifted_after_the_check() -> None:
    env = run_code(SETUP + WRONG["q05_param_count"]["counted by building the model"][0])
    assert ex.check_param_count(env["param_count"]).status == "fail"
    assert env["GPT"] is model.GPT and env["GPTConfig"] is model.GPTConfig
    assert model.GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=8).num_params() > 0
    assert isinstance(nn.RMSNorm(3), nn.Module)


def test_checkers_are_fast_and_leave_the_random_state_alone() -> None:
    env = run_code(SETUP + "".join(q.solution for q in QUESTIONS.values()))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    for name, check in [("pre_ln_block", ex.check_pre_ln_block), ("param_count", ex.check_param_count),
                        ("rms_norm", ex.check_rms_norm)]:
        start = time.perf_counter()
        check(env[name]).require()
        assert time.perf_counter() - start < 3.0, name
    assert torch.equal(torch.get_rng_state(), before)

def solution_only_lines(stem: str) -> set[str]:
    """The worked solutions' lines that appear nowhere else in the notebook (as tests/test_editions.py reads them)."""
    source = next(Path(__file__).resolve().parents[1].glob(f"notebooks/03*.py")).read_text()
    found = questions(stem).values()
    solutions = {line.strip() for q in found for line in q.solution.splitlines()
                 if len(line.strip()) > 3 and not line.strip().startswith("#")}
    outside = source
    for q in found:
        for line in q.solution.splitlines():
            outside = outside.replace(line, "", 1) if line.strip() else outside
    return solutions - {line.strip() for line in outside.splitlines()}


def test_no_solution_line_is_in_the_package() -> None:
    package = Path(glmlib.__file__).parent
    lines = {line.strip() for f in package.rglob("*.py") for line in f.read_text().splitlines()}
    only = solution_only_lines("05")
    assert len(only) > 5
    leaked = sorted(only & lines)
    assert not leaked, f"solution lines in glmlib: {leaked}"
