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

from bench_generate import Generation, generation
from bench_train import Throughput, TimeToQuality, thread_counts, throughput, time_to_quality
from glmlib.data import load_shakespeare
from interleave import ratios

Row = tuple[str, str, str, str]  # figure, glmlib, peer, glmlib / peer
HEADER: Row = ("figure", "glmlib", "peer", "ratio")


def fmt_rate(values: list[float], unit: str = "") -> str:
    """The median of ``values`` with thousands separators."""
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 2]:,.0f}{unit}"


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


def generation_rows(g: Generation) -> list[Row]:
    when = f"{g.threads} thread{'s' if g.threads > 1 else ''}"
    rate = lambda name: fmt_rate(g.rate(name).values)  # noqa: E731
    return [
        (f"generate chars/s, KV cache vs GPT2LMHeadModel.generate, {when}", rate("cached"), rate("hf"),
         g.ratio("cached", "hf").text()),
        (f"generate chars/s, no cache vs GPT2LMHeadModel.generate, {when}", rate("uncached"), rate("hf"),
         g.ratio("uncached", "hf").text()),
        (f"generate chars/s, KV cache vs no cache, {when}", rate("cached"), rate("uncached"),
         g.ratio("cached", "uncached").text()),
        (f"  same characters as GPT2LMHeadModel, greedy, {g.chars} chars, {when}", "yes" if g.same_greedy else "NO",
         "", ""),
    ]


def time_to_quality_rows(q: TimeToQuality) -> list[Row]:
    def cell(name: str) -> str:
        steps, seconds = q.steps[name], q.seconds[name]
        return "not reached" if steps is None else f"{seconds:,.0f} s ({steps:,.0f} steps)"
    return [(f"time to validation loss {q.target:.2f}: notebook preset vs small recipe, {q.threads} threads",
             cell("notebook"), cell("small"), q.ratio.text() if q.ratio else "")]


def print_table(rows: list[Row]) -> None:
    """``rows`` under :data:`HEADER` as a Markdown table with aligned columns."""
    rows = [HEADER, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(rows[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows[1:]:
        print(line(r))


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
