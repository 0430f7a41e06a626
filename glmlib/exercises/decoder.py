"""Checkers and reference solutions for the exercises of notebook 05 (the decoder block)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..model import GPT, Block, GPTConfig
from .checking import Case, CheckResult, run_cases

Sublayer = Callable[[torch.Tensor], torch.Tensor]


def _require_callable(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"pass your function itself (a callable), got {type(fn).__name__}")


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ solutions

def solution_layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                        eps: float = 1e-5) -> torch.Tensor:
    """Normalise each vector over its last axis (biased variance), then scale and shift."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def solution_pre_ln_block(x: torch.Tensor, attn: Sublayer, ffn: Sublayer,
                          ln_1: Sublayer, ln_2: Sublayer) -> torch.Tensor:
    """Pre-LN: each sublayer reads a normalised copy and adds its result to the residual stream."""
    x = x + attn(ln_1(x))
    return x + ffn(ln_2(x))


def solution_param_count(vocab_size: int, block_size: int, n_layer: int, n_embd: int,
                         bias: bool = True) -> int:
    """Parameters of ``glmlib.model.GPT`` (tied output head counted once); ``n_head`` plays no part."""
    V, T, L, C = vocab_size, block_size, n_layer, n_embd
    ln = 2 * C if bias else C  # LayerNorm: gain (and shift)
    attn = C * 3 * C + C * C + (4 * C if bias else 0)  # W_q, W_k, W_v, W_o (+ biases)
    ffn = C * 4 * C + 4 * C * C + (5 * C if bias else 0)  # C -> 4C -> C (+ biases)
    return V * C + T * C + L * (2 * ln + attn + ffn) + ln


# ------------------------------------------------------------------- checkers

def check_layer_norm(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """``fn(x, weight, bias, eps=1e-5)`` must equal ``torch.nn.functional.layer_norm``."""
    _require_callable(fn)
    inputs = {
        "C=4, gain 1, shift 0": (_randn(3, 4, seed=0), torch.ones(4), torch.zeros(4), 1e-5),
        "C=2 (biased variance!)": (_randn(5, 2, seed=1), torch.ones(2), torch.zeros(2), 1e-5),
        "batched (2, 3, 8) with gain and shift": (_randn(2, 3, 8, seed=2) * 3 + 1,
                                                  _randn(8, seed=3), _randn(8, seed=4), 1e-5),
        "a constant vector (variance 0)": (torch.full((1, 6), 2.5), torch.ones(6), _randn(6, seed=5), 1e-5),
        "eps=0.1": (_randn(2, 4, seed=6) * 0.1, torch.ones(4), torch.zeros(4), 0.1),
    }
    cases = [Case(name, (x.clone(), w.clone(), b.clone()),
                  F.layer_norm(x, (x.shape[-1],), w, b, eps), kwargs={"eps": eps})
             for name, (x, w, b, eps) in inputs.items()]
    return run_cases("layer_norm", fn, cases, atol=1e-4)


def _stand_ins(C: int, seed: int) -> tuple[Sublayer, Sublayer, nn.LayerNorm, nn.LayerNorm]:
    """Distinct linear maps for attention and FFN, LayerNorms with non-trivial gain and shift."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        attn, ffn = nn.Linear(C, C), nn.Linear(C, C)
        ln_1, ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        for ln in (ln_1, ln_2):
            nn.init.normal_(ln.weight, 1.0, 0.5)
            nn.init.normal_(ln.bias, 0.0, 0.5)
    return attn, ffn, ln_1, ln_2


@torch.no_grad()
def check_pre_ln_block(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """``fn(x, attn, ffn, ln_1, ln_2)`` must compute a pre-LN decoder block with two residuals."""
    _require_callable(fn)
    cases = []
    for name, (B, T, C, seed) in {"stand-in sublayers (1, 3, 4)": (1, 3, 4, 0),
                                  "stand-in sublayers (2, 5, 8)": (2, 5, 8, 1)}.items():
        x = _randn(B, T, C, seed=seed + 100) * 2
        subs = _stand_ins(C, seed)
        cases.append(Case(name, (x.clone(), *subs), solution_pre_ln_block(x, *subs)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        block = Block(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()
    x = _randn(2, 6, 16, seed=8)

    def attn(h: torch.Tensor) -> torch.Tensor:
        return block.attn(h, is_causal=True)

    cases.append(Case("a real glmlib Block", (x.clone(), attn, block.ffn, block.ln_1, block.ln_2), block(x)))
    return run_cases("pre_ln_block", fn, cases)


def check_param_count(fn: Callable[..., int]) -> CheckResult:
    """``fn(vocab_size, block_size, n_layer, n_embd, bias=True)`` must match ``GPT.num_params()``."""
    _require_callable(fn)
    configs = {
        "tiny: V=5, T=4, L=1, C=8": dict(vocab_size=5, block_size=4, n_layer=1, n_embd=8),
        "V=65, T=32, L=2, C=16": dict(vocab_size=65, block_size=32, n_layer=2, n_embd=16),
        "V=75, T=128, L=4, C=128": dict(vocab_size=75, block_size=128, n_layer=4, n_embd=128),
        "no biases: V=10, T=16, L=3, C=32": dict(vocab_size=10, block_size=16, n_layer=3, n_embd=32,
                                                 bias=False),
    }
    cases = []
    for name, cfg in configs.items():
        with torch.random.fork_rng(devices=[]):
            expected = GPT(GPTConfig(n_head=2, **cfg)).num_params()
        kwargs = {"bias": cfg.pop("bias")} if "bias" in cfg else {}
        cases.append(Case(name, tuple(cfg.values()), expected, kwargs=kwargs))
    return run_cases("param_count", fn, cases)
