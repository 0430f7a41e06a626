"""The exercise checkers of notebooks 06-08: the reference solutions pass, and a
wrong answer or an unfinished stub fails with a message naming the case."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from glmlib import sampling
from glmlib.exercises import inference, sampling as sampling_ex, training
from glmlib.model import window_start
from glmlib.train import TrainConfig, lr_at
from notebook_solutions import shown_solutions


def stub(*args, **kwargs):
    raise NotImplementedError


# --------------------------------------------------------------- wrong answers

def wrong_cross_entropy(logits, targets):  # forgets the normaliser: -z_y
    return -logits.gather(-1, targets[:, None]).mean()


def naive_cross_entropy(logits, targets):  # overflows on large logits
    probs = logits.exp() / logits.exp().sum(-1, keepdim=True)
    return -probs.gather(-1, targets[:, None]).log().mean()


def wrong_lr_schedule(step, warmup_iters, max_iters, lr, min_lr):  # warmup off by one
    if step < warmup_iters:
        return lr * step / warmup_iters
    return training.solution_lr_schedule(step, warmup_iters, max_iters, lr, min_lr)


def per_tensor_clip(grads, max_norm):  # clips each tensor alone, not the global norm
    return [g * min(1.0, max_norm / (float(g.norm()) + 1e-6)) for g in grads]


def strict_top_k(logits, k):  # drops ties at the boundary
    order = logits.argsort(dim=-1, descending=True)
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, order[..., :k], logits.gather(-1, order[..., :k]))


def top_p_without_boundary(logits, p):  # keeps only tokens whose cumulative mass stays below p
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    remove = torch.softmax(sorted_logits, -1).cumsum(-1) > p
    return logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))


def absolute_min_p(logits, min_p):  # compares with min_p itself, not min_p x the top probability
    return logits.masked_fill(torch.softmax(logits, -1) < min_p, float("-inf"))


def self_score(weights):  # looks at the diagonal instead of the one below it
    return torch.diagonal(weights, dim1=-2, dim2=-1).mean(-1)


def cache_step_forgets_new(cache_k, cache_v, q, k, v):  # attends to the old cache only
    keys = torch.cat([cache_k, k], -2)
    values = torch.cat([cache_v, v], -2)
    if cache_k.shape[-2] == 0:
        return v.clone(), keys, values
    w = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1)
    return w @ cache_v, keys, values


def sliding_window_start(length, block_size):  # slides one token at a time
    return max(0, length - block_size)


CHECKERS = [
    (training.check_cross_entropy, training.solution_cross_entropy, wrong_cross_entropy),
    (training.check_cross_entropy, training.solution_cross_entropy, naive_cross_entropy),
    (training.check_lr_schedule, training.solution_lr_schedule, wrong_lr_schedule),
    (training.check_clip_grad_norm, training.solution_clip_grad_norm, per_tensor_clip),
    (sampling_ex.check_top_k, sampling_ex.solution_top_k, strict_top_k),
    (sampling_ex.check_top_p, sampling_ex.solution_top_p, top_p_without_boundary),
    (sampling_ex.check_min_p, sampling_ex.solution_min_p, absolute_min_p),
    (inference.check_previous_token_score, inference.solution_previous_token_score, self_score),
    (inference.check_cache_step, inference.solution_cache_step, cache_step_forgets_new),
    (inference.check_window_start, inference.solution_window_start, sliding_window_start),
]
IDS = [f"{check.__name__}-{wrong.__name__}" for check, _, wrong in CHECKERS]


@pytest.mark.parametrize("check, solution, wrong", CHECKERS, ids=IDS)
def test_reference_solution_passes(check, solution, wrong):
    result = check(solution)
    assert result.passed, result.message
    assert "cases pass" in result.message


@pytest.mark.parametrize("check, solution, wrong", CHECKERS, ids=IDS)
def test_wrong_solution_fails_naming_the_case(check, solution, wrong):
    result = check(wrong)
    assert not result.passed
    assert result.message.startswith("case '"), result.message
    assert repr(result).startswith("FAIL")


@pytest.mark.parametrize("check", sorted({c for c, _, _ in CHECKERS}, key=lambda c: c.__name__))
def test_stub_fails_without_raising(check):
    result = check(stub)
    assert not result.passed
    assert "not implemented yet" in result.message


@pytest.mark.parametrize("check", sorted({c for c, _, _ in CHECKERS}, key=lambda c: c.__name__))
def test_function_returning_garbage_fails_cleanly(check):
    result = check(lambda *args, **kwargs: "nonsense")
    assert not result.passed
    assert result.message.startswith("case '"), result.message


# ------------------------------------------ the references agree with independent code

def test_cross_entropy_solution_matches_pytorch_and_ln_v():
    g = torch.Generator().manual_seed(0)
    logits, targets = 30 * torch.randn(16, 75, generator=g), torch.randint(75, (16,), generator=g)
    assert torch.allclose(training.solution_cross_entropy(logits, targets), F.cross_entropy(logits, targets))
    uniform = training.solution_cross_entropy(torch.zeros(4, 75), torch.tensor([0, 1, 2, 3]))
    assert math.isclose(float(uniform), math.log(75), rel_tol=1e-6)


@pytest.mark.parametrize("step", [0, 3, 9, 10, 37, 100, 150])
def test_lr_solution_matches_glmlib(step):
    cfg = TrainConfig(warmup_iters=10, max_iters=100, lr=3e-3, min_lr=3e-4)
    assert math.isclose(training.solution_lr_schedule(step, 10, 100, 3e-3, 3e-4), lr_at(step, cfg))


def test_clip_solution_matches_pytorch():
    g = torch.Generator().manual_seed(1)
    params = [torch.nn.Parameter(torch.zeros(5, 3)), torch.nn.Parameter(torch.zeros(4))]
    grads = [10 * torch.randn(5, 3, generator=g), torch.randn(4, generator=g)]
    for p, gr in zip(params, grads):
        p.grad = gr.clone()
    torch.nn.utils.clip_grad_norm_(params, 0.7)
    for p, mine in zip(params, training.solution_clip_grad_norm(grads, 0.7)):
        assert torch.allclose(p.grad, mine, atol=1e-6)


@pytest.mark.parametrize("k", [1, 3, 20, 80])
def test_top_k_solution_matches_glmlib(k):
    logits = torch.randn(4, 75, generator=torch.Generator().manual_seed(k))
    assert torch.equal(sampling_ex.solution_top_k(logits, k), sampling.top_k_filter(logits, k))


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.99, 1.0])
def test_top_p_solution_matches_glmlib(p):
    logits = 3 * torch.randn(4, 75, generator=torch.Generator().manual_seed(int(100 * p)))
    assert torch.equal(sampling_ex.solution_top_p(logits, p), sampling.top_p_filter(logits, p))


@pytest.mark.parametrize("block_size", [1, 2, 5, 8, 64, 128])
def test_window_solution_matches_glmlib(block_size):
    for length in range(1, 5 * block_size + 3):
        assert inference.solution_window_start(length, block_size) == window_start(length, block_size)


@pytest.mark.parametrize("min_p", [0.0, 0.05, 0.3, 1.0])
def test_min_p_solution_matches_hugging_face(min_p):
    from transformers import MinPLogitsWarper

    logits = 3 * torch.randn(4, 75, generator=torch.Generator().manual_seed(3))
    theirs = MinPLogitsWarper(min_p=min_p, min_tokens_to_keep=1)(None, logits.clone())
    assert torch.equal(sampling_ex.solution_min_p(logits, min_p), theirs)


# ------------------------------------------- the notebooks show what they check

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISES_OF = {  # notebook -> (checker, name of the learner's function) in notebook order
    "06_training.py": [(training.check_cross_entropy, "cross_entropy"),
                       (training.check_lr_schedule, "lr_schedule"),
                       (training.check_clip_grad_norm, "clip_grad_norm")],
    "07_generation_and_sampling.py": [(sampling_ex.check_top_k, "top_k"), (sampling_ex.check_top_p, "top_p"),
                                      (sampling_ex.check_min_p, "min_p")],
    "08_inside_the_model.py": [(inference.check_previous_token_score, "previous_token_score"),
                               (inference.check_cache_step, "cache_step"),
                               (inference.check_window_start, "my_window_start")],
}


@pytest.mark.parametrize("notebook", list(EXERCISES_OF))
def test_shown_solutions_pass_their_checkers(notebook):
    codes = shown_solutions(NOTEBOOKS / notebook)
    exercises = EXERCISES_OF[notebook]
    assert len(codes) == len(exercises), f"{notebook}: {len(codes)} shown solutions for {len(exercises)} exercises"
    for (check, name), code in zip(exercises, codes):
        namespace: dict = {"torch": torch, "F": F, "math": math}
        exec(compile(code, f"{notebook}:{name}", "exec"), namespace)
        assert name in namespace, f"{notebook}: the shown solution does not define {name}()"
        result = check(namespace[name])
        assert result.passed, f"{notebook}: shown solution of {name}: {result.message}"


@pytest.mark.parametrize("notebook", list(EXERCISES_OF))
def test_notebook_checks_the_stub_and_the_reference(notebook):
    text = (NOTEBOOKS / notebook).read_text(encoding="utf-8")
    for check, name in EXERCISES_OF[notebook]:
        assert re.search(rf"def {name}\(.*?\n(?:    .*\n)*?    raise NotImplementedError", text), \
            f"{notebook}: no stub {name}() raising NotImplementedError"
        assert f"ex.{check.__name__}({name})" in text, f"{notebook}: the stub {name} is not checked"
        solution = check.__name__.replace("check_", "solution_")
        assert f"ex.{check.__name__}(ex.{solution})" in text, f"{notebook}: the reference is not checked"
