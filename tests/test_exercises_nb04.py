"""Notebook 04's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import linecache
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import glmlib
from glmlib import attention
from glmlib.exercises import ExerciseFailed
from glmlib.exercises import attention as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb04 import SETUP, WRONG

QUESTIONS = questions("04")
CATALOGUE = [(name, label, code, fragment) for name, answers in WRONG.items()
             for label, (code, fragment) in answers.items()]


def as_file(code: str, name: str = "<learner>") -> str:
    """Register ``code`` with linecache so that ``inspect.getsource`` finds it, as in a notebook."""
    linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
    return code


def run_as_file(code: str, namespace: dict) -> dict:
    exec(compile(as_file(code), "<learner>", "exec"), namespace)
    return namespace


def test_the_notebook_has_four_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q04_softmax", "q04_attention", "q04_multi_head", "q04_previous_char_head"]
    assert [q.points for q in QUESTIONS.values()] == [1, 2, 2, 3]
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

def test_expected_values_come_from_pytorch() -> None:
    """The attention reference is PyTorch's SDPA; it agrees with glmlib's written-out attention."""
    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 5, 4, generator=g)
    mask = torch.ones(5, 5, dtype=torch.bool).tril()
    assert torch.allclose(ex._sdpa(q, k, v, mask), attention.scaled_dot_product_attention(q, k, v, mask)[0], atol=1e-6)
    x = torch.randn(2, 5, 12, generator=g)
    W = [torch.randn(12, 12, generator=g) for _ in range(4)]
    ours = ex._torch_mha(x, *W, 3)
    heads = [torch.softmax((x @ W[0])[..., h * 4:(h + 1) * 4] @ (x @ W[1])[..., h * 4:(h + 1) * 4].mT / 2
                           + torch.zeros(5, 5).masked_fill(~mask, float("-inf")), -1) @ (x @ W[2])[..., h * 4:(h + 1) * 4]
             for h in range(3)]
    assert torch.allclose(ours, torch.cat(heads, -1) @ W[3], atol=1e-4)


def test_softmax_shortcuts_are_restored_after_the_check() -> None:
    env = run_code(SETUP + WRONG["q04_softmax"]["Tensor.softmax"][0])
    assert ex.check_softmax(env["softmax"]).status == "fail"
    x = torch.tensor([0.0, 0.0])
    assert x.softmax(-1).tolist() == [0.5, 0.5]
    assert torch.softmax(x, -1).tolist() == F.softmax(x, -1).tolist() == [0.5, 0.5]
    assert env["scaled_dot_product_attention"] is attention.scaled_dot_product_attention


def test_a_loop_over_heads_is_caught_when_the_source_is_readable() -> None:
    code = ("def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):\n"
            "    D = x.shape[-1] // n_head\n"
            "    q, k, v = x @ W_q, x @ W_k, x @ W_v\n"
            "    outs = []\n"
            "    for h in range(n_head):\n"
            "        c = slice(h * D, (h + 1) * D)\n"
            "        outs.append(F.scaled_dot_product_attention(q[..., c], k[..., c], v[..., c], is_causal=True))\n"
            "    return torch.cat(outs, dim=-1) @ W_o\n")
    assert ex.check_multi_head_attention(run_code(SETUP + code)["multi_head_attention"]).passed
    result = ex.check_multi_head_attention(run_as_file(SETUP + code, {})["multi_head_attention"])
    assert result.status == "fail" and "`for` loop" in result.message, result


def test_previous_char_head_accepts_other_correct_constructions() -> None:
    """Shift the queries instead of the keys, use a larger head: still a previous-character head."""
    code = ("def previous_char_head(T, V):\n"
            "    W_q = torch.zeros(T + V, T + 3)\n"
            "    W_q[:T, :T] = 12.0 * torch.diag(torch.ones(T - 1), diagonal=-1)\n"
            "    W_k = torch.zeros(T + V, T + 3)\n"
            "    W_k[:T, :T] = 12.0 * torch.eye(T)\n"
            "    W_v = torch.cat([torch.zeros(T, V), torch.eye(V)])\n"
            "    return W_q, W_k, W_v\n")
    result = ex.check_previous_char_head(run_code(SETUP + code)["previous_char_head"])
    assert result.passed, result


def test_previous_char_head_rejects_a_barely_too_small_scale_at_long_texts() -> None:
    """s = 7 passes T = 8 and 32 but not T = 64, where the last query has 63 competing keys."""
    code = WRONG["q04_previous_char_head"]["scale too small"][0].replace("s = 1.0", "s = 7.0")
    result = ex.check_previous_char_head(run_code(SETUP + code)["previous_char_head"])
    assert result.status == "fail" and "T=64" in result.message and "too close together" in result.message


def test_previous_char_head_reports_overflow_and_bad_returns() -> None:
    huge = WRONG["q04_previous_char_head"]["scale too small"][0].replace("s = 1.0", "s = 1e30")
    result = ex.check_previous_char_head(run_code(SETUP + huge)["previous_char_head"])
    assert result.status == "fail" and "overflow" in result.message
    result = ex.check_previous_char_head(lambda T, V: torch.zeros(T + V, T))
    assert result.status == "fail" and "three matrices" in result.message


def test_an_error_in_the_learner_code_is_reported_not_raised() -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch somewhere")

    for check in (ex.check_softmax, ex.check_attention, ex.check_multi_head_attention, ex.check_previous_char_head):
        result = check(broken)
        assert result.status == "fail" and "RuntimeError: shape mismatch somewhere" in result.message


def test_a_transpose_of_fixed_axes_gets_a_hint() -> None:
    code = ("def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])\n"
            "    return torch.softmax(s, dim=-1) @ v\n")
    result = ex.check_attention(run_code(SETUP + code)["attention"])
    assert result.status == "fail" and "count axes from the end" in result.message, result


def test_checkers_are_fast_and_leave_the_random_state_alone() -> None:
    env = run_code(SETUP + "".join(q.solution for q in QUESTIONS.values()))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    for name, check in [("softmax", ex.check_softmax), ("attention", ex.check_attention),
                        ("multi_head_attention", ex.check_multi_head_attention),
                        ("previous_char_head", ex.check_previous_char_head)]:
        start = time.perf_counter()
        check(env[name]).require()
        assert time.perf_counter() - start < 3.0, name
    assert torch.equal(torch.get_rng_state(), before)


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


def solution_only_lines(stem: str) -> set[str]:
    """The worked solutions' lines that appear nowhere else in the notebook (as tests/test_editions.py reads them)."""
    source = next(Path(__file__).resolve().parents[1].glob(f"notebooks/04*.py")).read_text()
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
    only = solution_only_lines("04")
    assert len(only) > 5
    leaked = sorted(only & lines)
    assert not leaked, f"solution lines in glmlib: {leaked}"
