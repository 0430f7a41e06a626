"""Generation speed of the shipped model with and without the KV cache.

    python benchmarks/bench_generate.py [--chars 500] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from glmlib.model import load_pretrained


def timed_generate(model, prompt: torch.Tensor, n: int, use_cache: bool) -> tuple[float, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    out = model.generate(prompt, n, temperature=0.8, top_k=40, generator=g, use_cache=use_cache)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model, tokenizer = load_pretrained()
    prompt = torch.tensor([tokenizer.encode("ROMEO:\n")])
    print(f"{model.num_params():,} parameters, context {model.config.block_size}, "
          f"{args.chars} characters, median of {args.repeats}, {torch.get_num_threads()} threads")
    timed_generate(model, prompt, 20, True)  # warm-up
    threads = torch.get_num_threads()
    # generate() runs cached one-token steps on one thread; time the full recompute
    # both ways, so the speed-up is measured against its faster setting. The three
    # settings take turns in every round, so a slow spell on the machine hits all.
    settings = {"without KV cache": (False, threads),
                "without KV cache, 1 thread": (False, 1),
                "with KV cache": (True, threads)}
    times: dict[str, list[float]] = {label: [] for label in settings}
    tokens: dict[str, torch.Tensor] = {}
    for _ in range(args.repeats):
        for label, (use_cache, n_threads) in settings.items():
            torch.set_num_threads(n_threads)
            seconds, tokens[label] = timed_generate(model, prompt, args.chars, use_cache)
            torch.set_num_threads(threads)
            times[label].append(seconds)
    for label, runs in times.items():
        seconds = statistics.median(runs)
        print(f"  {label}: {seconds:.2f} s, {args.chars / seconds:,.0f} tokens/s")
    cached = times["with KV cache"]
    ratios = [min(a, b) / c for a, b, c in zip(times["without KV cache"],
                                                times["without KV cache, 1 thread"], cached)]
    print(f"  speed-up: {statistics.median(ratios):.1f}x median over {args.repeats} rounds "
          f"(range {min(ratios):.1f}-{max(ratios):.1f}x), against the faster uncached run of each round")
    same = all(torch.equal(tokens["with KV cache"], t) for t in tokens.values())
    print(f"  identical tokens: {same}")

if __name__ == "__main__":
    main()
