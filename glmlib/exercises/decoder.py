"""Checkers for the exercises of notebook 05 (the decoder block).

Expected values: the block's output and what each sublayer writes come from
``glmlib.model.Block`` itself (forward hooks record the sublayers' outputs);
parameter counts from building ``glmlib.model.GPT`` and counting its tensors;
RMSNorm from PyTorch's ``nn.RMSNorm``. The worked solutions live in the
notebook, not here.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import model as _model
from ..i18n import _
from .checking import Case, CheckResult, Mistake, same, forbidden
from .diagnosing import run_diagnosed

Sublayer = Callable[[torch.Tensor], torch.Tensor]


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------ exercise 1: what a pre-LN block writes

class _StandIn(nn.Module):
    """A nonlinear stand-in for a sublayer, callable as ``f(h)`` and as the block calls attention."""

    def __init__(self, C: int) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(C, C), nn.Tanh(), nn.Linear(C, C))

    def forward(self, h: torch.Tensor, **block_kwargs: Any) -> torch.Tensor:
        return self.inner(h)


def _recorded(block: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``glmlib``'s block on ``x``: its output and what its attention and FFN returned (forward hooks)."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [block.attn.register_forward_hook(lambda m, args, out: seen.__setitem__("attn", out)),
             block.ffn.register_forward_hook(lambda m, args, out: seen.__setitem__("ffn", out))]
    try:
        out = block(x)
    finally:
        for h in hooks:
            h.remove()
    return out, seen["attn"], seen["ffn"]


def _block_mistakes(x, attn, ffn, ln_1, ln_2, attn_write) -> list[Mistake]:
    """What common wrong wirings return, built from the same sublayers."""
    mistakes = []
    a = attn(x)  # post-LN: the sublayer reads the raw stream, the sum is normalised
    h = ln_1(x + a)
    f = ffn(h)
    mistakes.append(Mistake((ln_2(h + f), a, f),
                            _("looks like post-LN wiring, LN(x + F(x)): in pre-LN each sublayer reads a normalised "
                              "copy of the stream and its output is added to the stream un-normalised, x + F(LN(x))")))
    f = ffn(ln_2(attn_write))
    mistakes.append(Mistake((f, attn_write, f),
                            _("the residual connections are missing: each sublayer's output must be added to the "
                              "stream (x + ...), so the FFN reads the stream after attention has written into it "
                              "and the block returns the sum")))
    f = ffn(ln_2(x))
    mistakes.append(Mistake((x + attn_write + f, attn_write, f),
                            _("the FFN reads the block's input x: in a (sequential) pre-LN block it reads the stream "
                              "after attention has written into it, normalised by ln_2")))
    a = attn(x)
    f = ffn(x + a)
    mistakes.append(Mistake((x + a + f, a, f),
                            _("the sublayers read the raw stream: pre-LN feeds each sublayer a normalised copy "
                              "(ln_1 for attention, ln_2 for the FFN)")))
    a = attn(ln_2(x))
    f = ffn(ln_1(x + a))
    mistakes.append(Mistake((x + a + f, a, f), _("ln_1 and ln_2 are swapped: ln_1 belongs to attention, ln_2 to "
                                                 "the FFN")))
    return mistakes


def _diagnose_block(case: Case, got: Any) -> str | None:
    out, attn_write, ffn_write = case.expected
    x = case.args[0]
    if not isinstance(got, (tuple, list)) or len(got) != 3 or not all(isinstance(t, torch.Tensor) for t in got):
        return _("return three tensors: (out, attn_write, ffn_write)")
    if any(t.shape != x.shape for t in got):
        return _("each of the three tensors must have the shape of x, {shape}", shape=tuple(x.shape))
    got_out, got_a, got_f = got
    a_ok, f_ok, out_ok = same(attn_write, got_a, 1e-4), same(ffn_write, got_f, 1e-4), same(out, got_out, 1e-4)
    if a_ok and f_ok:
        return _("both writes are right but the output is not: the stream after the block is the input plus "
                 "everything the sublayers wrote, x + attn_write + ffn_write (the two residual connections)")
    if same(ffn_write, got_a, 1e-4) and same(attn_write, got_f, 1e-4):
        return _("attn_write and ffn_write look swapped: return (out, attn_write, ffn_write) in this order")
    if out_ok:
        return _("your output is right, but attn_write / ffn_write are not exactly what attention and the FFN "
                 "add to the stream (out must equal x + attn_write + ffn_write)")
    if a_ok:
        return _("attention's write is right, the FFN's is not: the FFN reads the stream after attention has "
                 "written into it, through ln_2")
    return _("attention's write is not what attention adds to the stream: attention reads a normalised copy of "
             "the block's input (ln_1)")


def _stand_in_block(C: int, seed: int) -> nn.Module:
    """A ``glmlib`` Block whose attention and FFN are distinct nonlinear stand-ins, LNs with real gain/shift."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        block = _model.Block(_model.GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=C)).eval()
        block.attn, block.ffn = _StandIn(C), _StandIn(C)
        for ln in (block.ln_1, block.ln_2):
            nn.init.normal_(ln.weight, 1.0, 0.5)
            nn.init.normal_(ln.bias, 0.0, 0.5)
    return block


@torch.no_grad()
def check_pre_ln_block(fn: Callable[..., Any]) -> CheckResult:
    """``fn(x, attn, ffn, ln_1, ln_2)`` must return ``(out, attn_write, ffn_write)`` of a pre-LN block."""
    cases = []
    for name, (B, T, C, seed) in {_("stand-in sublayers (1, 3, 4)"): (1, 3, 4, 0),
                                  _("stand-in sublayers (2, 5, 8)"): (2, 5, 8, 1)}.items():
        block = _stand_in_block(C, seed)
        x = _randn(B, T, C, seed=seed + 100) * 2
        parts = (block.attn, block.ffn, block.ln_1, block.ln_2)
        expected = _recorded(block, x)
        cases.append(Case(name, (x.clone(), *parts), expected,
                          mistakes=_block_mistakes(x, *parts, attn_write=expected[1])))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        block = _model.Block(_model.GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()
    x = _randn(2, 6, 16, seed=8)

    def attn(h: torch.Tensor) -> torch.Tensor:
        return block.attn(h, is_causal=True)

    parts = (attn, block.ffn, block.ln_1, block.ln_2)
    expected = _recorded(block, x)
    cases.append(Case(_("a real glmlib Block (2, 6, 16)"), (x.clone(), *parts), expected,
                      mistakes=_block_mistakes(x, *parts, attn_write=expected[1])))
    return run_diagnosed("pre_ln_block", fn, cases, _diagnose_block, atol=1e-4)


# ------------------------------------------------------------ exercise 2: parameter count

def _count(cfg: dict) -> int:
    """Build ``glmlib.model.GPT`` (on the meta device: no memory, no random numbers) and count its tensors."""
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        return _model.GPT(_model.GPTConfig(n_head=2, **cfg)).num_params()


def check_param_count(fn: Callable[..., int]) -> CheckResult:
    """``fn(vocab_size, block_size, n_layer, n_embd, bias=True)`` must match the parameters of ``GPT``."""
    configs = {
        _("tiny: V=5, T=4, L=1, C=8"): dict(vocab_size=5, block_size=4, n_layer=1, n_embd=8),
        "V=65, T=32, L=2, C=16": dict(vocab_size=65, block_size=32, n_layer=2, n_embd=16),
        _("no biases: V=10, T=16, L=3, C=32"): dict(vocab_size=10, block_size=16, n_layer=3, n_embd=32, bias=False),
        "V=75, T=128, L=4, C=128": dict(vocab_size=75, block_size=128, n_layer=4, n_embd=128),
        _("no biases: V=7, T=9, L=1, C=6"): dict(vocab_size=7, block_size=9, n_layer=1, n_embd=6, bias=False),
    }
    cases = []
    for name, cfg in configs.items():
        expected = _count(cfg)
        V, T, L, C = cfg["vocab_size"], cfg["block_size"], cfg["n_layer"], cfg["n_embd"]
        bias = cfg.get("bias", True)
        norms = 2 * L + 1  # two LayerNorms per block and the final one
        mistakes = [
            Mistake(expected + V * C, _("the output layer is counted separately, but it shares the token "
                                        "embedding's weights (weight tying): count them once")),
            Mistake(expected - T * C, _("the position embedding (block_size x n_embd) is missing")),
            Mistake(expected - (2 * C if bias else C), _("the final LayerNorm (ln_f) is missing")),
        ]
        if not bias:
            mistakes += [
                Mistake(_count({**cfg, "bias": True}), _("with bias=False the count must drop: the flag is ignored")),
                Mistake(expected + norms * C, _("with bias=False the LayerNorms lose their shift beta too "
                                                "(only the gain gamma stays)")),
                Mistake(expected - norms * C, _("with bias=False the LayerNorms keep their gain gamma; only the "
                                                "shift beta goes")),
            ]
        kwargs = {"bias": cfg.pop("bias")} if "bias" in cfg else {}
        cases.append(Case(name, tuple(cfg.values()), expected, kwargs=kwargs, mistakes=mistakes))
    hint = _("work the count out from the shapes of the layers (the table of section 5)")
    shortcuts = forbidden(fn, [(_model, "GPT", "glmlib.model.GPT", hint),
                               (_model, "GPTConfig", "glmlib.model.GPTConfig", hint)])
    return run_diagnosed("param_count", fn, cases, shortcuts=shortcuts)


# ------------------------------------------------------------ exercise 3: RMSNorm

def _torch_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    norm = nn.RMSNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(weight)
        return norm(x)


def _unbiased_var(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """What ``x.var(dim, keepdim=True)`` (or ``x.var()``) returns, without its warning when one value is alone
    (the C = 1 case, where it is 0 / 0 = NaN)."""
    if dim is None:
        return (x - x.mean()).pow(2).sum() / (x.numel() - 1)
    return (x - x.mean(dim, keepdim=True)).pow(2).sum(dim, keepdim=True) / (x.shape[dim] - 1)


def _rms_mistakes(x: torch.Tensor, weight: torch.Tensor, eps: float) -> list[Mistake]:
    C = x.shape[-1]
    square_mean = x.pow(2).mean(dim=-1, keepdim=True)
    return [
        Mistake(F.layer_norm(x, (C,), weight, None, eps),
                _("you subtracted the mean: that is LayerNorm; RMSNorm does not centre, it only divides by the "
                  "root mean square, sqrt(mean(x^2) + eps)")),
        Mistake(x / (square_mean.sqrt() + eps) * weight,
                _("eps is added outside the square root: y = x / sqrt(mean(x^2) + eps) * weight")),
        Mistake(x / square_mean.sqrt() * weight,
                _("eps is missing (a zero vector gives 0 / 0): y = x / sqrt(mean(x^2) + eps) * weight")),
        Mistake(x / (x.pow(2).sum(dim=-1, keepdim=True) + eps).sqrt() * weight,
                _("you took the square root of the sum of squares (the vector's length): RMSNorm uses the mean, "
                  "the sum divided by C")),
        Mistake(x / (x.pow(2).sum(dim=-1, keepdim=True) / max(C - 1, 1) + eps).sqrt() * weight,
                _("you divided the sum of squares by C - 1: the mean divides by C")),
        Mistake(x / (square_mean + eps).sqrt(), _("the gain `weight` is not applied: multiply by it at the end")),
        Mistake(x / (x.var(dim=-1, keepdim=True, unbiased=False) + eps).sqrt() * weight,
                _("you divided by the standard deviation, which subtracts the mean first: RMSNorm uses mean(x^2) "
                  "itself, with no centring")),
        Mistake(x / (_unbiased_var(x, dim=-1) + eps).sqrt() * weight,
                _("you divided by `x.var()`, the variance, a common mistake: it subtracts the mean first (and, by "
                  "default, divides by C - 1). RMSNorm uses the mean of the squares with no centring, "
                  "`x.pow(2).mean(-1, keepdim=True)`")),
        Mistake(x / (_unbiased_var(x) + eps).sqrt() * weight,
                _("you divided by `x.var()` of the whole tensor: the variance subtracts the mean (and divides by "
                  "n - 1), and without `dim` it mixes every position. RMSNorm uses the mean of the squares of "
                  "each vector, `x.pow(2).mean(-1, keepdim=True)`")),
        Mistake(x / (x.pow(2).mean() + eps).sqrt() * weight,
                _("you normalised by the mean square of the whole tensor: each position's vector is normalised on "
                  "its own, over its channels (the last axis, keepdim=True)")),
        Mistake(x / (x.pow(2).mean(dim=0, keepdim=True) + eps).sqrt() * weight,
                _("you normalised over the first axis: normalise each vector over its channels, the last axis")),
        Mistake(x / (x.pow(2).mean(dim=-2, keepdim=True) + eps).sqrt() * weight if x.dim() > 1 else x,
                _("you normalised over the time axis: normalise each vector over its channels, the last axis")),
        Mistake(x / (square_mean + 1e-6).sqrt() * weight,
                _("eps is not the one passed in: use the `eps` argument")),
    ]


def check_rms_norm(fn: Callable[..., torch.Tensor]) -> CheckResult:
    """``fn(x, weight, eps=1e-6)`` must equal PyTorch's ``nn.RMSNorm`` with that gain and eps."""
    inputs = {
        _("C=4, gain 1"): (_randn(3, 4, seed=0), torch.ones(4), 1e-6),
        _("batched (2, 3, 8), shifted values, with a gain"): (_randn(2, 3, 8, seed=2) * 3 + 1, _randn(8, seed=3), 1e-6),
        _("small values, eps=0.1"): (_randn(2, 5, 4, seed=6) * 0.01, _randn(4, seed=7), 0.1),
        _("a zero vector and a constant one"): (torch.stack([torch.zeros(6), torch.full((6,), 2.5)]),
                                             _randn(6, seed=5), 1e-6),
        _("one channel (C=1)"): (_randn(4, 1, seed=8), torch.tensor([2.0]), 1e-6),
    }
    cases = [Case(name, (x.clone(), w.clone()), _torch_rms_norm(x, w, eps), kwargs={"eps": eps},
                  mistakes=_rms_mistakes(x, w, eps))
             for name, (x, w, eps) in inputs.items()]
    hint = _("divide by the root mean square over the last axis and multiply by the gain")
    shortcuts = forbidden(fn, [(F, "rms_norm", "F.rms_norm", hint), (torch, "rms_norm", "torch.rms_norm", hint),
                               (nn, "RMSNorm", "nn.RMSNorm", hint)])
    return run_diagnosed("rms_norm", fn, cases, atol=1e-4, shortcuts=shortcuts)
