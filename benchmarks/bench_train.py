"""Training speed against Hugging Face's GPT2LMHeadModel, and time to a validation loss.

Throughput: ``glmlib.train.train`` (the trainer as shipped) and a plain
training loop around ``transformers.GPT2LMHeadModel`` take turns, each in its
own process, with a 1024 x 1024 float32 matmul as a third contender (the host's
practical peak, for the model FLOPs utilisation). Same configuration (the
``small`` preset: 4 layers, 4 heads, 128 channels, context 64, batch 12,
float32, GELU), same initial weights, same batches, same learning-rate
schedule, same fused AdamW and parameter groups, same gradient clipping.
A turn is six steps back to back; its first step (which shares the cores
with the previous contender's spinning threads) is left out, the other five
give one ratio per round, and the figure is their median and range. Two
copies of GPT2LMHeadModel also take turns, as a check of the harness: their
ratio should be 1.

Time to quality: the ``notebook`` preset and the ``small`` recipe train in
turns of 21 steps until their validation estimate reaches a target.

Other paths of the trainer take turns too: above one thread the trainer with
its batch in one piece (``--no-split-batch``, against the default, which
splits it across the threads), and with ``--compile`` here the trainer with
``--compile`` (its compilation, in its first step, is timed on its own and
left out of its rate).

    python benchmarks/bench_train.py [--steps 80] [--threads 1,all] [--busy 0] [--target 2.0] [--compile]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
from functools import partial
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from glmlib.data import CharTokenizer, get_batch, load_shakespeare, train_val_split
from glmlib.device import cpu_threads
from glmlib.model import GPT
from glmlib.train import TrainConfig, flops_per_token, lr_at, preset, train

from interleave import Lockstep, Spread, StopLoop, Tick, busy_cores, ratios
from table import Row, fmt_rate, print_table

MATMUL_N = 1024
BLOCK = 5  # timed steps per turn, and per ratio


def hf_twin(model: GPT):
    """A ``GPT2LMHeadModel`` with the same configuration and weights as ``model``
    (the mapping of ``tests/test_model.py``; HF's Conv1D stores weights transposed)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    c = model.config
    config = GPT2Config(vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
                        n_head=c.n_head, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                        bos_token_id=None, eos_token_id=None)
    hf = GPT2LMHeadModel(config)
    with torch.no_grad():
        hf.transformer.wte.weight.copy_(model.wte.weight)
        hf.transformer.wpe.weight.copy_(model.wpe.weight)
        for ours, theirs in zip(model.blocks, hf.transformer.h):
            for a, b in [(ours.ln_1, theirs.ln_1), (ours.ln_2, theirs.ln_2)]:
                b.weight.copy_(a.weight)
                b.bias.copy_(a.bias)
            for a, b in [(ours.attn.qkv, theirs.attn.c_attn), (ours.attn.proj, theirs.attn.c_proj),
                         (ours.ffn.fc, theirs.mlp.c_fc), (ours.ffn.proj, theirs.mlp.c_proj)]:
                b.weight.copy_(a.weight.T)
                b.bias.copy_(a.bias)
        hf.transformer.ln_f.weight.copy_(model.ln_f.weight)
        hf.transformer.ln_f.bias.copy_(model.ln_f.bias)
    return hf


def hf_optimizer(hf, cfg: TrainConfig) -> torch.optim.AdamW:
    """``make_optimizer``'s AdamW for the twin: fused, decay on the blocks' matrices only."""
    decay = [p for n, p in hf.named_parameters() if p.dim() >= 2 and ".h." in n]
    ids = {id(p) for p in decay}
    rest = [p for p in hf.parameters() if id(p) not in ids]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=True)


@dataclass
class Record:
    """What one loop of a lockstep run saw."""
    losses: list[float] = field(default_factory=list)
    evals: list[tuple[int, float]] = field(default_factory=list)  # (step, validation estimate)
    attention: str = ""  # GPT2LMHeadModel's attention implementation


def trainer_loop(cfg: TrainConfig, text: str, target: float | None, tick: Tick) -> Record:
    """``train(cfg)`` as a lockstep loop; with ``target`` it stops once the validation estimate is at or below it."""
    record = Record()

    def hook(event: str, state: dict) -> None:
        if event == "step":
            record.losses.append(state["loss"])
            tick("step")
            return
        record.evals.append((state["step"], state["val"]))
        if target is not None and state["val"] <= target:
            raise StopLoop
        tick("pause")
    try:
        train(cfg, callbacks=[hook], text=text)
    except StopLoop:
        pass
    return record


def hf_loop(cfg: TrainConfig, text: str, tick: Tick) -> Record:
    """The trainer's step written around the trainer's model's ``GPT2LMHeadModel`` twin:
    schedule, batch, loss, backward, clipping, fused AdamW."""
    record = Record()
    with cpu_threads(cfg.threads):
        tokenizer = CharTokenizer.from_text(text)
        train_ids = tokenizer.encode_tensor(train_val_split(text)[0])
        torch.manual_seed(cfg.seed)  # the trainer's initial weights
        hf = hf_twin(GPT(cfg.model_config(tokenizer.vocab_size)))
        record.attention = hf.config._attn_implementation
        optimizer = hf_optimizer(hf, cfg)
        batches = torch.Generator().manual_seed(cfg.seed)  # the trainer's batches, in its order
        hf.train()
        tick("pause")
        for step in range(cfg.max_iters):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg)
            x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, batches)
            logits = hf(input_ids=x, use_cache=False).logits
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            value = loss.item()
            if not math.isfinite(value):
                raise RuntimeError(f"GPT2LMHeadModel's loss is {value} at step {step}")
            torch.nn.utils.clip_grad_norm_(hf.parameters(), cfg.grad_clip)
            optimizer.step()
            record.losses.append(value)
            tick("step")
    return record


def matmul_loop(steps: int, n_threads: int, tick: Tick) -> None:
    """``steps`` products of two ``MATMUL_N``-square float32 matrices, one per turn."""
    with cpu_threads(n_threads):
        a, b = torch.randn(MATMUL_N, MATMUL_N), torch.randn(MATMUL_N, MATMUL_N)
        a @ b
        tick("pause")
        for _ in range(steps):
            a @ b
            tick("step")


@dataclass
class Throughput:
    """The trainer and GPT2LMHeadModel at one thread count, measured in turns."""
    threads: int
    busy: int  # cores kept busy by other processes meanwhile
    ours: list[float]  # tokens/s per block
    theirs: list[float]
    again: list[float]  # tokens/s per block of a second GPT2LMHeadModel (the harness check)
    variants: dict[str, list[float]]  # tokens/s per block of the trainer's other paths ("one piece", "compiled")
    matmul: list[float]  # FLOP/s per block
    flops_per_token: float
    loss_gap: float  # largest |loss difference| over the first 20 steps
    attention: str  # GPT2LMHeadModel's attention implementation
    compile_seconds: float | None = None  # the compiled trainer's first step (compilation) less a usual step

    @property
    def ratio(self) -> Spread:
        return ratios(self.ours, self.theirs)

    @property
    def gflops(self) -> Spread:
        """The matmul's rate, GFLOP/s."""
        return Spread([r / 1e9 for r in self.matmul])

    def mfu(self, rates: list[float]) -> Spread:
        return ratios([r * self.flops_per_token for r in rates], self.matmul)


def throughput(n_threads: int, steps: int, text: str, compiled: bool = False, busy: int = 0) -> Throughput:
    """Train both for ``steps`` steps at ``n_threads`` threads, with the matmul in the turns; also
    the trainer in one piece (above one thread) and, with ``compiled``, with ``compile``.
    With ``busy``, that many other processes keep a core each busy all the while."""
    cfg = preset("small", max_iters=steps, eval_interval=steps, eval_iters=1, sample_chars=0, threads=n_threads)
    loops = {"glmlib": partial(trainer_loop, cfg, text, None), "GPT2LMHeadModel": partial(hf_loop, cfg, text),
             "matmul": partial(matmul_loop, steps, n_threads), "GPT2LMHeadModel again": partial(hf_loop, cfg, text)}
    if n_threads > 1:
        loops["one piece"] = partial(trainer_loop, replace(cfg, split_batch=False), text, None)
    if compiled:
        loops["compiled"] = partial(trainer_loop, replace(cfg, compile=True), text, None)
    lockstep = Lockstep(turn=BLOCK + 1)  # each turn's first step warms up, untimed
    with busy_cores(busy):
        records = lockstep.run(loops)
    ours, theirs = records["glmlib"], records["GPT2LMHeadModel"]
    tokens = BLOCK * cfg.batch_size * cfg.block_size
    rate = lambda name, work: [work / s for s in lockstep.turn_times(name)]  # noqa: E731
    gap = max(abs(a - b) for a, b in zip(ours.losses[:20], theirs.losses[:20]))
    first = lockstep.times.get("compiled")
    config = cfg.model_config(CharTokenizer.from_text(text).vocab_size)
    return Throughput(n_threads, busy, rate("glmlib", tokens), rate("GPT2LMHeadModel", tokens),
                      rate("GPT2LMHeadModel again", tokens),
                      {name: rate(name, tokens) for name in ("one piece", "compiled") if name in loops},
                      rate("matmul", BLOCK * 2 * MATMUL_N**3), flops_per_token(config, config.num_params()),
                      gap, theirs.attention,
                      first[0] - statistics.median(first[BLOCK:]) if first else None)


@dataclass
class TimeToQuality:
    """The ``notebook`` preset and the ``small`` recipe trained in turns to a validation loss."""
    target: float
    steps: dict[str, float | None]  # steps to the target, between evaluations by interpolation (None: not reached)
    seconds: dict[str, float | None]  # training seconds to the target, as measured
    ratio: Spread | None  # notebook / small, from their per-step times in the same blocks
    threads: int


def crossing(evals: list[tuple[int, float]], target: float) -> float | None:
    """The step at which the validation estimate reaches ``target``, interpolated linearly
    between the evaluations either side of it; None if it never does."""
    if evals and evals[0][1] <= target:
        return float(evals[0][0])
    for (s0, v0), (s1, v1) in zip(evals, evals[1:]):
        if v1 <= target < v0:
            return s0 + (v0 - target) / (v0 - v1) * (s1 - s0)
    return None


def seconds_to(times: list[float], step: float) -> float:
    """Training seconds up to a fractional step, from the per-step times."""
    whole = int(step)
    return sum(times[:whole]) + (step - whole) * (times[whole] if whole < len(times) else 0.0)


def time_to_quality(target: float, text: str) -> TimeToQuality:
    """Train both recipes in turns until each reaches ``target`` (or ends); compare their times.

    Each stops at its first evaluation at or below the target. The ratio is
    the per-step time ratio of the two in each round of turns (20 steps each
    after a warm-up step), times the ratio of the steps each needs.
    """
    n_threads = torch.get_num_threads()
    common = dict(sample_chars=0, threads=n_threads)  # about 320 validation windows per estimate for both
    cfgs = {"notebook": preset("notebook", eval_interval=60, eval_iters=10, **common),
            "small": preset("small", eval_interval=150, eval_iters=27, **common)}
    lockstep = Lockstep(turn=21)
    records = lockstep.run({name: partial(trainer_loop, cfg, text, target) for name, cfg in cfgs.items()})
    steps = {name: crossing(records[name].evals, target) for name in cfgs}
    seconds = {name: None if n is None else seconds_to(lockstep.times[name], n) for name, n in steps.items()}
    ratio = None
    if None not in steps.values():
        nb, small = (lockstep.turn_times(name) for name in cfgs)
        shared = min(len(nb), len(small))
        ratio = Spread([r * steps["notebook"] / steps["small"] for r in ratios(nb[:shared], small[:shared]).values])
    return TimeToQuality(target, steps, seconds, ratio, n_threads)


def throughput_rows(t: Throughput) -> list[Row]:
    when = f"{t.threads} thread{'s' if t.threads > 1 else ''}" + (f", {t.busy} core busy" if t.busy else "")
    return [
        (f"matmul 1024x1024 float32, GFLOP/s, {when}", "", "", t.gflops.text(".0f", "")),
        (f"training tokens/s vs GPT2LMHeadModel ({t.attention}), {when}", fmt_rate(t.ours), fmt_rate(t.theirs),
         t.ratio.text()),
        *[row for name, flag in (("one piece", "--no-split-batch"), ("compiled", "--compile")) if name in t.variants
          for row in variant_rows(t, name, flag, when)],
        (f"training MFU (of that matmul), {when}", t.mfu(t.ours).text(".0%", ""), t.mfu(t.theirs).text(".0%", ""), ""),
        (f"  same losses: largest gap over the first 20 steps, {when}", f"{t.loss_gap:.1e}", "", ""),
        (f"  harness check: GPT2LMHeadModel vs a second copy of it, {when}", fmt_rate(t.theirs), fmt_rate(t.again),
         ratios(t.theirs, t.again).text()),
    ]


def variant_rows(t: Throughput, name: str, flag: str, when: str) -> list[Row]:
    """Another path of the trainer against GPT2LMHeadModel, and the trainer as shipped against it."""
    rates = t.variants[name]
    rows = [(f"  the trainer with {flag} vs GPT2LMHeadModel, {when}", fmt_rate(rates), fmt_rate(t.theirs),
             ratios(rates, t.theirs).text()),
            (f"  the trainer as shipped vs with {flag}, {when}", fmt_rate(t.ours), fmt_rate(rates),
             ratios(t.ours, rates).text())]
    if name == "compiled" and t.compile_seconds is not None:
        rows.append((f"  {flag}: compilation (its first step less a usual one), {when}",
                     f"{t.compile_seconds:.0f} s", "", ""))
    return rows


def time_to_quality_rows(q: TimeToQuality) -> list[Row]:
    def cell(name: str) -> str:
        steps, seconds = q.steps[name], q.seconds[name]
        return "not reached" if steps is None else f"{seconds:,.0f} s ({steps:,.0f} steps)"
    return [(f"time to validation loss {q.target:.2f}: notebook preset vs small recipe, {q.threads} threads",
             cell("notebook"), cell("small"), q.ratio.text() if q.ratio else "")]


def thread_counts(spec: str) -> list[int]:
    """``"1,all"`` -> ``[1, os.cpu_count()]``."""
    return [os.cpu_count() or 1 if part == "all" else int(part) for part in spec.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80, help="training steps per contender and thread count")
    parser.add_argument("--threads", default="1,all", help="thread counts, e.g. 1,all")
    parser.add_argument("--target", type=float, default=2.0, help="validation loss for time to quality")
    parser.add_argument("--busy", type=int, default=0, help="cores other processes keep busy meanwhile")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--compile", action="store_true", help="also the trainer with --compile (a minute more)")
    args = parser.parse_args()
    text = load_shakespeare()
    rows = []
    for n in thread_counts(args.threads):
        rows += throughput_rows(throughput(n, args.steps, text, args.compile, args.busy))
    if not args.skip_quality:
        rows += time_to_quality_rows(time_to_quality(args.target, text))
    print_table(rows)


if __name__ == "__main__":
    main()
