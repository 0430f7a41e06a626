"""Generation speed of the shipped model against Hugging Face's GPT2LMHeadModel.generate.

Three contenders take turns, round after round, at each thread count:
``GPT.generate`` with its KV cache, ``GPT.generate`` without it, and
``GPT2LMHeadModel.generate`` with its own cache, holding the same weights.
All sample with the same settings (temperature 0.8, top-k 40) from the same
prompt for the same number of characters; the context stays within the
model's 128 positions, which is as far as GPT-2's learned positions go.
Greedy decoding checks that both models produce the same characters.

``GPT.generate`` runs its cached one-token steps on one thread by design;
at higher thread counts that holds for the cached contender only.

    python benchmarks/bench_generate.py [--chars 120] [--rounds 6] [--threads 1,all]
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

import torch

from glmlib.data import CharTokenizer
from glmlib.device import cpu_threads
from glmlib.model import GPT, load_pretrained

from bench_train import hf_twin, thread_counts
from interleave import Spread, alternate, ratios
from table import Row, fmt_rate, print_table

PROMPT = "JULIET:\n"
SETTINGS = dict(temperature=0.8, top_k=40)


@dataclass
class Generation:
    """Seconds per call of each contender, round by round, at one thread count."""
    threads: int
    chars: int
    times: dict[str, list[float]]
    same_greedy: bool

    def rate(self, name: str) -> Spread:
        """Characters per second."""
        return Spread([self.chars / s for s in self.times[name]])

    def ratio(self, faster: str, slower: str) -> Spread:
        """How many times faster ``faster`` is than ``slower``, round by round."""
        return ratios(self.times[slower], self.times[faster])


def contenders(model: GPT, hf, prompt: torch.Tensor, chars: int) -> dict[str, Callable[[], torch.Tensor]]:
    """The three ways to sample ``chars`` characters after ``prompt``."""
    seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    mask = torch.ones_like(prompt)
    return {
        "cached": lambda: model.generate(prompt, chars, generator=seed(), use_cache=True, **SETTINGS),
        "uncached": lambda: model.generate(prompt, chars, generator=seed(), use_cache=False, **SETTINGS),
        "hf": lambda: hf.generate(prompt, attention_mask=mask, max_new_tokens=chars, do_sample=True,
                                  top_p=1.0, pad_token_id=0, use_cache=True, **SETTINGS),
    }


def same_greedy(model: GPT, hf, prompt: torch.Tensor, chars: int) -> bool:
    """Greedy decoding gives the same characters in both models."""
    ours = model.generate(prompt, chars, temperature=0)
    theirs = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=chars, do_sample=False,
                         pad_token_id=0)
    return torch.equal(ours, theirs)


def load_pair() -> tuple[GPT, object, CharTokenizer]:
    """The shipped model, its GPT2LMHeadModel twin (quiet, in eval mode) and the tokenizer."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    model, tokenizer = load_pretrained()
    return model, hf_twin(model).eval(), tokenizer


def generation(n_threads: int, chars: int, rounds: int) -> Generation:
    """Time the three contenders in ``rounds`` interleaved rounds at ``n_threads`` threads."""
    model, hf, tokenizer = load_pair()
    prompt = torch.tensor([tokenizer.encode(PROMPT)])
    if prompt.shape[1] + chars > model.config.block_size:
        raise ValueError(f"{chars} characters after a {prompt.shape[1]}-character prompt exceed GPT-2's "
                         f"{model.config.block_size} positions")
    calls = contenders(model, hf, prompt, chars)
    with cpu_threads(n_threads), torch.inference_mode():
        same = same_greedy(model, hf, prompt, chars)
        for call in calls.values():  # warm-up
            call()
        times = alternate(calls, rounds)
    return Generation(n_threads, chars, times, same)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", default="1,all", help="thread counts, e.g. 1,all")
    args = parser.parse_args()
    rows = []
    for n in thread_counts(args.threads):
        rows += generation_rows(generation(n, args.chars, args.rounds))
    print_table(rows)


if __name__ == "__main__":
    main()
