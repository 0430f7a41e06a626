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
    threads = torch.get_num_threads()
    results = {}
    # generate() runs cached one-token steps on one thread; time the full recompute
    # both ways, so the speed-up is measured against its faster setting
    for label, use_cache, n_threads in (("without KV cache", False, threads),
                                        ("without KV cache, 1 thread", False, 1),
                                        ("with KV cache", True, threads)):
        torch.set_num_threads(n_threads)
        runs = [timed_generate(model, prompt, args.chars, use_cache) for _ in range(args.repeats)]
        torch.set_num_threads(threads)
        results[label] = (statistics.median(t for t, _ in runs), runs[0][1])
        seconds = results[label][0]
        print(f"  {label}: {seconds:.2f} s, {args.chars / seconds:,.0f} tokens/s")
    uncached = min(results["without KV cache"][0], results["without KV cache, 1 thread"][0])
    print(f"  speed-up: {uncached / results['with KV cache'][0]:.1f}x (against the faster uncached run)")
    same = all(torch.equal(results["with KV cache"][1], r[1]) for r in results.values())
    print(f"  identical tokens: {same}")


if __name__ == "__main__":
    main()
