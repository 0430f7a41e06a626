"""Redraw latency of each explorer after a control change, on the shipped model.

For every control, the control is changed programmatically (as a slider drag
or a click would change it) and the time until the new PNG is in the image
widget is measured: the model call if any, the numbers, the drawing and the
PNG encoding. Prints the median and 90th percentile in milliseconds; the
target is a median under 100 ms on a 2-core laptop CPU (1 s for scoring a
2,000-character text in the surprise view; 2 s for opening the tokenizer
explorer, which trains its BPE tokenizer the first time).

    python benchmarks/bench_widgets.py [--repeats 30] [--only generation,surprise,tokenizer]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable, Iterable

import torch

from glmlib.data import load_shakespeare, train_val_split
from glmlib.model import load_pretrained
from glmlib.widgets import (TrainingDashboard, attention_explorer, chain_rule_view, generation_explorer,
                            mask_explorer, sampling_explorer, score_text, surprise_view, tokenizer_explorer)
from glmlib.widgets.tokenizer_explorer import MAX_CHARS, default_bpe, examples

TARGET_MS = 100.0
SCORE_TARGET_MS = 1000.0  # scoring a 2,000-character text
OPEN_TARGET_MS = 2000.0  # opening the tokenizer explorer (training its tokenizer the first time)


def measure(change: Callable[[int], None], repeats: int, warmup: int = 2) -> list[float]:
    """Milliseconds for ``change(i)``, i = 0..repeats-1, after ``warmup`` untimed calls."""
    for i in range(warmup):
        change(i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        change(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def p90(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def cycle(values: Iterable) -> Callable[[int], object]:
    values = list(values)
    return lambda i: values[i % len(values)]


def cases() -> Iterable[tuple[str, Callable[[int], None]]]:
    model, tokenizer = load_pretrained()
    cfg = model.config

    sx = sampling_explorer(model, tokenizer, top_k=20)
    temps = cycle([0.8 + 0.05 * (i % 8) for i in range(8)])  # a slider drag: small steps
    yield "sampling: temperature slider", lambda i: setattr(sx.temperature, "value", temps(i))
    ks = cycle([5, 6, 7, 8, 9, 10, 11, 12])
    yield "sampling: top-k slider", lambda i: setattr(sx.top_k, "value", ks(i))
    ps = cycle([0.80, 0.82, 0.84, 0.86, 0.88, 0.90])
    yield "sampling: top-p slider", lambda i: setattr(sx.top_p, "value", ps(i))
    prompts = cycle(["ROMEO:\n", "JULIET:\n", "KING HENRY:\nWhat", "HAMLET:\nTo be"])
    yield "sampling: new prompt", lambda i: setattr(sx.prompt, "value", prompts(i))
    sx.prompt.value = "ROMEO:\n"
    yield "sampling: sample button", lambda i: sx.sample_button.click()

    ax = attention_explorer(model, tokenizer)
    ALL = "all"
    yield "attention: head dropdown", lambda i: setattr(ax.head, "value", i % cfg.n_head)
    yield "attention: layer dropdown", lambda i: setattr(ax.layer, "value", i % cfg.n_layer)
    T = len(ax.text.value)
    yield "attention: query slider", lambda i: setattr(ax.query, "value", (T - 1) - i % 10)
    yield "attention: one head / all heads", lambda i: setattr(ax.head, "value", ALL if i % 2 == 0 else 0)
    ax.head.value = "all"
    yield "attention: layer, all heads", lambda i: setattr(ax.layer, "value", i % cfg.n_layer)
    ax.head.value = 0
    texts = cycle(["ROMEO:\nBut soft, what light", "JULIET:\nO Romeo, Romeo!", "HAMLET:\nTo be, or not"])
    yield "attention: new text", lambda i: setattr(ax.text, "value", texts(i))
    ax.head.value = "all"
    yield "attention: new text, all heads", lambda i: setattr(ax.text, "value", texts(i))

    mx = mask_explorer(T=8, lengths="8, 5")
    yield "mask: causal checkbox", lambda i: setattr(mx.causal, "value", not mx.causal.value)
    yield "mask: sequence dropdown", lambda i: setattr(mx.sequence, "value", i % 2)
    yield "mask: seed", lambda i: setattr(mx.seed, "value", i)
    Ts = cycle([7, 8, 9, 10])
    yield "mask: T slider", lambda i: setattr(mx.T, "value", Ts(i))

    dash = TrainingDashboard(max_iters=10_000, min_interval=0.0)
    first_loss = float(torch.log(torch.tensor(float(cfg.vocab_size))))

    def train_step(i: int) -> None:
        dash("step", {"step": i, "loss": first_loss - i * 1e-4, "lr": 1e-3, "max_iters": 10_000})

    yield "dashboard: step (redraw)", train_step

    cv = chain_rule_view(model, tokenizer, "ROMEO:\nWhat light is this?")
    sentences = cycle(["ROMEO:\nWhat light is this?", "JULIET:\nGood night, good night!"])
    yield "chain rule: new text", lambda i: setattr(cv.text, "value", sentences(i))

    yield from generation_cases(model, tokenizer)
    yield from surprise_cases(model, tokenizer)


def generation_cases(model, tokenizer) -> Iterable[tuple[str, Callable[[int], None]]]:
    gx = generation_explorer(model, tokenizer, top_p=0.95)
    yield "generation: step button", lambda i: gx.step_button.click()
    yield "generation: undo / step", lambda i: (gx.undo_button if i % 2 else gx.step_button).click()
    temps = cycle([0.8 + 0.05 * (i % 8) for i in range(8)])
    yield "generation: temperature slider", lambda i: setattr(gx.temperature, "value", temps(i))
    ks = cycle([5, 6, 7, 8, 9, 10, 11, 12])
    yield "generation: top-k slider", lambda i: setattr(gx.top_k, "value", ks(i))
    ps = cycle([0.80, 0.82, 0.84, 0.86, 0.88, 0.90])
    yield "generation: top-p slider", lambda i: setattr(gx.top_p, "value", ps(i))
    n = len(gx.state["tokens"])
    yield "generation: step shown slider", lambda i: setattr(gx.view, "value", n - i % 20)
    gx.view.value = n // 2

    def branch(i: int) -> None:  # force another candidate at the step shown: a new branch each time
        others = [t for t in gx.state["candidates"] if t != gx.state["chosen"]]
        gx.force(others[i % 2])

    yield "generation: force a candidate (branch)", branch
    yield "generation: switch path", lambda i: setattr(gx.path_select, "value", i % len(gx.paths))
    gx.reset_button.click()
    yield "generation: step 10 button", lambda i: gx.step10_button.click()


def surprise_cases(model, tokenizer) -> Iterable[tuple[str, Callable[[int], None]]]:
    _, val = train_val_split(load_shakespeare())
    texts = cycle([val[:2000], val[2000:4000], val[4000:6000]])
    yield "surprise: score_text, 2,000 chars", lambda i: score_text(model, tokenizer, texts(i))
    sv = surprise_view(model, tokenizer, text=texts(0))
    yield "surprise: position slider", lambda i: setattr(sv.position, "value", 1 + (37 * i) % 1999)
    yield "surprise: new 2,000-char text", lambda i: setattr(sv.text, "value", texts(i + 1))


def tokenizer_cases() -> Iterable[tuple[str, Callable[[int], None]]]:
    def open_fresh(i: int) -> None:
        default_bpe.cache_clear()  # the first explorer of a session trains the default BPE tokenizer
        tokenizer_explorer().close()

    yield "tokenizer: open (trains its BPE)", open_fresh
    yield "tokenizer: open again (BPE cached)", lambda i: tokenizer_explorer().close()
    tx = tokenizer_explorer(example="Shakespeare")
    merges = cycle([256 - 3 * (i % 12) for i in range(12)])  # a slider drag: small steps
    yield "tokenizer: merges slider", lambda i: setattr(tx.merges, "value", merges(i))
    jumps = cycle([0, 64, 128, 256])
    yield "tokenizer: merges slider, jumps", lambda i: setattr(tx.merges, "value", jumps(i))
    yield "tokenizer: characters / BPE toggle", lambda i: setattr(tx.mode, "value", "char" if i % 2 == 0 else "bpe")
    tx.mode.value = "bpe"
    yield "tokenizer: chips / table", lambda i: setattr(tx.view, "value", "table" if i % 2 == 0 else "chips")
    tx.view.value = "chips"
    names = cycle(["English", "Chinese", "code", "Shakespeare"])
    yield "tokenizer: example dropdown", lambda i: setattr(tx.examples, "value", names(i))
    _, val = train_val_split(load_shakespeare())
    tx.text.value = val[10_000:10_000 + MAX_CHARS]
    yield f"tokenizer: merges slider, {MAX_CHARS:,} chars", lambda i: setattr(tx.merges, "value", merges(i))
    chinese = examples()["Chinese"]
    cx = tokenizer_explorer((chinese * (MAX_CHARS // len(chinese) + 1))[:MAX_CHARS])  # 3 bytes a character
    yield f"tokenizer: merges slider, {MAX_CHARS:,} Chinese", lambda i: setattr(cx.merges, "value", merges(i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--only", default="", help="comma-separated name prefixes, e.g. generation,surprise")
    args = parser.parse_args()
    only = tuple(p.strip() for p in args.only.split(",") if p.strip())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch threads {torch.get_num_threads()}, load average {load:.1f}, {args.repeats} redraws each")
    print(f"{'control':40s} {'median ms':>10s} {'p90 ms':>8s}")
    groups = [cases, tokenizer_cases]  # each builds its explorers only if one of its cases is wanted
    wanted = {cases: not only or any(not p.startswith("tokenizer") for p in only),
              tokenizer_cases: not only or any("tokenizer".startswith(p) or p.startswith("tokenizer")
                                               for p in only)}
    for name, change in (case for group in groups if wanted[group] for case in group()):
        if only and not name.startswith(only):
            continue
        scoring, opening = "2,000" in name, name.startswith("tokenizer: open")
        slow = scoring or opening  # a whole text scored, an explorer opened: own targets, fewer repeats
        times = measure(change, max(3, args.repeats // 6) if slow else args.repeats, warmup=1 if slow else 2)
        median = statistics.median(times)
        target = SCORE_TARGET_MS if scoring else OPEN_TARGET_MS if opening else TARGET_MS
        flag = "" if median < target else "  (over target)"
        print(f"{name:40s} {median:10.1f} {p90(times):8.1f}{flag}", flush=True)


if __name__ == "__main__":
    main()
