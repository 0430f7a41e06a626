"""Generation speed of the shipped model with and without the KV cache.

    python benchmarks/bench_generate.py [--chars 500] [--repeats 3]
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
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model, tokenizer = load_pretrained()
    prompt = torch.tensor([tokenizer.encode("ROMEO:\n")])
    print(f"{model.num_params():,} parameters, context {model.config.block_size}, "
          f"{args.chars} characters, median of {args.repeats}, {torch.get_num_threads()} threads")
    timed_generate(model, prompt, 20, True)  # warm-up
    results = {}
    for use_cache in (False, True):
        runs = [timed_generate(model, prompt, args.chars, use_cache) for _ in range(args.repeats)]
        results[use_cache] = (statistics.median(t for t, _ in runs), runs[0][1])
        seconds = results[use_cache][0]
        print(f"  {'with' if use_cache else 'without'} KV cache: {seconds:.2f} s, "
              f"{args.chars / seconds:,.0f} tokens/s")
    print(f"  speed-up: {results[False][0] / results[True][0]:.1f}x")
    print(f"  identical tokens: {torch.equal(results[False][1], results[True][1])}")


if __name__ == "__main__":
    main()
