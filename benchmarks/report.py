"""Every performance figure of the course in one table, each measured against a peer in this run.

    python benchmarks/report.py [--threads 1,all] [--steps 80] [--busy 1] [--skip-quality] [--compile]

Training throughput against Hugging Face's GPT2LMHeadModel (and the model
FLOPs utilisation against a float32 matmul timed in the same turns),
generation against GPT2LMHeadModel.generate, and the time the ``notebook``
preset needs to reach a validation loss against the ``small`` recipe. Each
ratio is the median of round-by-round ratios, with their range in brackets;
absolute rates are medians too, and they are the host's, not the code's:
only the ratios carry over to another machine.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import torch

from bench_generate import generation, generation_rows
from bench_train import thread_counts, throughput, throughput_rows, time_to_quality, time_to_quality_rows
from glmlib.data import load_shakespeare
from table import Row, print_table

def host() -> str:
    """The date, the processor, its cores and the library versions."""
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"transformers {transformers.__version__}")


def load() -> str:
    """The 1-minute load average, or '?' where the system does not tell."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,all", help="thread counts, e.g. 1,all")
    parser.add_argument("--steps", type=int, default=80, help="training steps per contender and thread count")
    parser.add_argument("--rounds", type=int, default=6, help="generation rounds per thread count")
    parser.add_argument("--chars", type=int, default=120, help="characters per generation")
    parser.add_argument("--target", type=float, default=2.0, help="validation loss for time to quality")
    parser.add_argument("--busy", type=int, default=1,
                        help="training throughput again at all threads with this many cores kept busy (0: not)")
    parser.add_argument("--busy-steps", type=int, default=36, help="training steps per contender with cores busy")
    parser.add_argument("--skip-quality", action="store_true", help="leave out the time to quality (minutes)")
    parser.add_argument("--compile", action="store_true",
                        help="also the trainer with --compile (a minute or two more, for the compilation)")
    args = parser.parse_args()
    start, load_before = time.perf_counter(), load()
    text = load_shakespeare()
    rows: list[Row] = []
    for n in thread_counts(args.threads):
        rows += throughput_rows(throughput(n, args.steps, text, args.compile))
    if args.busy:
        rows += throughput_rows(throughput(thread_counts("all")[0], args.busy_steps, text, busy=args.busy))
    for n in thread_counts(args.threads):
        rows += generation_rows(generation(n, args.chars, args.rounds))
    if not args.skip_quality:
        rows += time_to_quality_rows(time_to_quality(args.target, text))
    print(f"{host()}; load average {load_before} at the start, {load()} at the end; "
          f"{time.perf_counter() - start:.0f} s in all")
    print("median [range] of round-by-round ratios; absolute rates are this host's, only ratios carry over\n")
    print_table(rows)


if __name__ == "__main__":
    main()
