"""Checkers for notebook 06 (training): cross-entropy, the learning-rate schedule, clipping."""
from __future__ import annotations

import math
from typing import Callable

import torch

from ..train import TrainConfig, lr_at
from .checking import Case, CheckResult, run_cases


# ------------------------------------------------------------ cross-entropy

def solution_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean of ``-log softmax(logits)[target]`` over the rows of ``logits (N, V)``."""
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)  # (N, V)
    picked = log_probs.gather(-1, targets[:, None]).squeeze(-1)  # (N,)
    return -picked.mean()


def _cross_entropy_cases() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    cases = []

    def add(name: str, logits: torch.Tensor, targets: torch.Tensor) -> None:
        expected = torch.nn.functional.cross_entropy(logits, targets)
        cases.append(Case(name, (logits.clone(), targets.clone()), expected))

    add("one row, two tokens", torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([1]))
    add("uniform logits give ln V", torch.zeros(4, 10), torch.tensor([0, 3, 9, 5]))
    add("random logits, 5 rows", torch.randn(5, 7, generator=g), torch.randint(7, (5,), generator=g))
    add("large logits (needs the log-sum-exp trick)", 100.0 * torch.randn(3, 6, generator=g),
        torch.tensor([2, 0, 5]))
    return cases


def check_cross_entropy(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(logits (N, V), targets (N,))`` must return the mean negative log-likelihood (a 0-d tensor)."""
    return run_cases("cross_entropy", fn, _cross_entropy_cases(), atol=1e-4)


# ------------------------------------------------------------ learning-rate schedule

def solution_lr_schedule(step: int, warmup_iters: int, max_iters: int, lr: float, min_lr: float) -> float:
    """Linear warmup over ``warmup_iters`` steps, then cosine decay to ``min_lr`` at ``max_iters``."""
    if step < warmup_iters:
        return lr * (step + 1) / warmup_iters
    span = max(1, max_iters - warmup_iters)
    progress = min(1.0, (step - warmup_iters) / span)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def _lr_cases() -> list[Case]:
    settings = dict(warmup_iters=10, max_iters=110, lr=1e-3, min_lr=1e-4)
    named_steps = [("first step of warmup", 0), ("middle of warmup", 4), ("last step of warmup", 9),
                   ("start of the decay", 10), ("halfway through the decay", 60),
                   ("last step", 110), ("past max_iters", 500)]
    cases = [Case(name, (step,), lr_at(step, TrainConfig(**settings)), dict(settings))
             for name, step in named_steps]
    no_warmup = dict(warmup_iters=0, max_iters=100, lr=6e-4, min_lr=0.0)
    cases.append(Case("no warmup, a quarter of the way", (25,), lr_at(25, TrainConfig(**no_warmup)),
                      dict(no_warmup)))
    return cases


def check_lr_schedule(fn: Callable[..., float]) -> CheckResult:
    """``fn(step, warmup_iters=, max_iters=, lr=, min_lr=)`` must follow warmup + cosine decay."""
    return run_cases("lr_schedule", fn, _lr_cases(), atol=1e-9)


# ------------------------------------------------------------ gradient clipping

def solution_clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``."""
    total = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    return [g * scale for g in grads]


def _flat(fn: Callable[[list[torch.Tensor], float], list[torch.Tensor]]) -> Callable:
    """Wrap ``fn`` so that its list of gradients comes back as one flat tensor to compare."""
    def flat(grads: list[torch.Tensor], max_norm: float) -> torch.Tensor:
        out = fn([g.clone() for g in grads], max_norm)
        if not isinstance(out, (list, tuple)) or len(out) != len(grads):
            raise TypeError(f"expected a list of {len(grads)} tensors, got {type(out).__name__}")
        shapes = [tuple(o.shape) for o in out]
        if shapes != [tuple(g.shape) for g in grads]:
            raise ValueError(f"the gradients changed shape: got {shapes}")
        return torch.cat([o.reshape(-1).float() for o in out])
    return flat


def _clip_cases() -> list[Case]:
    g = torch.Generator().manual_seed(60)
    cases = []

    def add(name: str, grads: list[torch.Tensor], max_norm: float) -> None:
        params = [torch.nn.Parameter(torch.zeros_like(t)) for t in grads]
        for p, t in zip(params, grads):
            p.grad = t.clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)  # PyTorch's own clipping is the reference
        expected = torch.cat([p.grad.reshape(-1).float() for p in params])
        cases.append(Case(name, (grads, max_norm), expected))

    add("norm 5 clipped to 1 (a 3-4-0 vector)", [torch.tensor([3.0, 4.0, 0.0])], 1.0)
    add("already small: unchanged", [torch.tensor([0.1, -0.2]), torch.tensor([[0.05]])], 1.0)
    add("global norm over two tensors, not each alone",
        [torch.tensor([3.0, 0.0]), torch.tensor([[0.0], [4.0]])], 2.5)
    add("random matrices", [5 * torch.randn(4, 3, generator=g), torch.randn(7, generator=g)], 0.5)
    return cases


def check_clip_grad_norm(fn: Callable[[list[torch.Tensor], float], list[torch.Tensor]]) -> CheckResult:
    """``fn(grads, max_norm)`` must return the gradients rescaled to a global norm <= ``max_norm``."""
    return run_cases("clip_grad_norm", _flat(fn), _clip_cases(), atol=1e-5)
