"""Training speed and the two-minute run of notebook 06.

Prints, for the small reference configuration (4 layers, 4 heads, 128 dims,
context 64, batch 12, float32): tokens/s, ms per iteration and model FLOPs
utilisation (against the best matmul rate measured on this machine); then
trains the ``notebook`` preset and prints its validation loss and time.

    python benchmarks/bench_train.py [--iters 2000] [--skip-notebook-run]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from glmlib.train import flops_per_token, preset, train

REFERENCE_TOKENS_PER_S = 10_200  # nanoGPT, same config, same machine class


def matmul_peak_flops(n: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of a large float32 matmul: the practical peak of this CPU."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--skip-notebook-run", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    peak = matmul_peak_flops()
    print(f"matmul peak: {peak / 1e9:.1f} GFLOP/s")

    cfg = preset("small", max_iters=args.iters, eval_interval=args.iters, eval_iters=10, sample_chars=0)
    result = train(cfg)
    n_params = result.model.num_params()
    fpt = flops_per_token(result.model.config, n_params)
    ms_per_iter = 1000 * result.seconds / cfg.max_iters
    print(f"\nsmall config: {n_params:,} parameters, {cfg.max_iters} iterations in {result.seconds:.1f} s")
    print(f"  {result.tokens_per_second:,.0f} tokens/s, {ms_per_iter:.1f} ms/iter "
          f"({result.tokens_per_second / REFERENCE_TOKENS_PER_S:.2f}x the reference {REFERENCE_TOKENS_PER_S:,} tokens/s)")
    print(f"  MFU: {result.tokens_per_second * fpt / peak:.1%} of the matmul peak")
    print(f"  final val loss (estimate): {result.history[-1]['val']:.4f}")

    if not args.skip_notebook_run:
        cfg = preset("notebook", sample_chars=0)
        result = train(cfg)
        print(f"\nnotebook preset: {result.model.num_params():,} parameters, {cfg.max_iters} iterations")
        print(f"  training time {result.seconds:.1f} s, {result.tokens_per_second:,.0f} tokens/s")
        print(f"  val loss (estimate): {result.history[-1]['val']:.4f}  (target <= 1.85 within 120 s)")


if __name__ == "__main__":
    main()
