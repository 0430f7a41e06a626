"""Characters against BPE tokens: one GPT size, the same wall time, scored in bits per character (notebook 09).

Every tokenizer gets a GPT of the same shape (:data:`MODEL`: only the
embedding table, ``vocab_size x n_embd``, grows with the vocabulary) and the
same number of seconds of training. The runs are interleaved: each model
trains for a slice of ``slice_s`` seconds in turn, round after round, so that
a busy moment of the computer slows them all alike. Each then scores the same
validation text, and the scores are compared per *character*, not per token:
a token of a larger vocabulary covers more text, so its loss is larger and
not comparable.

``python -m glmlib.subword_experiment --seconds 120 --out data/subword_experiment.json``
writes the longer run stored with the course; notebook 09 loads it and runs a
short version live.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .bpe import BPETokenizer
from .data import get_batch, load_shakespeare, train_val_split
from .model import GPT, GPTConfig
from .tokenizers import CharTokenizer, Tokenizer
from .train import TrainConfig, make_optimizer

MODEL = dict(block_size=64, n_layer=4, n_head=4, n_embd=128)
"""The model every tokenizer gets (notebook 06's live run): the window is 64 *tokens*."""
OPTIM = dict(batch_size=32, lr=4e-3, min_lr=4e-4, warmup_iters=30, weight_decay=0.1, grad_clip=1.0)
VAL_CHARS = 20_000
"""The validation text: the first characters of the validation split, the same for every tokenizer."""
BPE_TRAIN_CHARS = 1_000_000
"""The BPE merges are learned on the first characters of the training split."""
SAMPLE_CHARS = 240
PROMPT = "ROMEO:\n"


@dataclass
class Run:
    """One tokenizer's model while it trains."""

    name: str
    tokenizer: Tokenizer
    train_ids: torch.Tensor
    model: GPT
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    steps: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)


def bpe_tokenizers(train_text: str, vocab_sizes: list[int]) -> dict[str, BPETokenizer]:
    """One BPE tokenizer per vocabulary size, learned once for the largest (merges are learned in order,
    so the first ``n`` merges of a larger vocabulary are exactly those of a smaller one)."""
    largest = BPETokenizer.train(train_text[:BPE_TRAIN_CHARS], max(vocab_sizes))
    return {f"BPE {v}": largest.with_merges(v - 256) for v in sorted(vocab_sizes)}


def _lr(run: Run, budget: float) -> float:
    """Warmup over the first steps, then cosine decay over the run's share of the wall time."""
    if run.steps < OPTIM["warmup_iters"]:
        return OPTIM["lr"] * (run.steps + 1) / OPTIM["warmup_iters"]
    progress = min(1.0, run.seconds / budget)
    return OPTIM["min_lr"] + 0.5 * (1 + math.cos(math.pi * progress)) * (OPTIM["lr"] - OPTIM["min_lr"])


def _start(name: str, tokenizer: Tokenizer, train_text: str, seed: int) -> Run:
    ids = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **MODEL))
    cfg = TrainConfig(**MODEL, **OPTIM)
    return Run(name, tokenizer, ids, model, make_optimizer(model, cfg), torch.Generator().manual_seed(seed))


def _train_slice(run: Run, until: float, budget: float) -> None:
    """Train ``run`` until its clock reaches ``until`` seconds (one step at least)."""
    model = run.model.train()
    start = time.perf_counter()
    begun = run.seconds
    while True:
        for group in run.optimizer.param_groups:
            group["lr"] = _lr(run, budget)
        x, y = get_batch(run.train_ids, OPTIM["batch_size"], MODEL["block_size"], generator=run.generator)
        _, loss = model(x, y)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), OPTIM["grad_clip"])
        run.optimizer.step()
        run.steps += 1
        run.losses.append(loss.item())
        run.seconds = begun + time.perf_counter() - start
        if run.seconds >= until:
            return


@torch.no_grad()
def bits_per_character(model: GPT, tokenizer: Tokenizer, text: str) -> dict:
    """The model's loss on ``text`` in bits per character, and per token.

    The token ids are cut into non-overlapping windows of ``block_size``; every
    token but the first is predicted once. Bits per character = the summed loss
    of those predictions (nats, / ln 2 for bits) divided by the characters they cover.
    """
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    T = model.config.block_size
    n = (len(ids) - 1) // T
    x, y = ids[: n * T].view(n, T), ids[1 : n * T + 1].view(n, T)
    model.eval()
    total = 0.0
    for i in range(0, n, 64):
        _, loss = model(x[i : i + 64], y[i : i + 64])
        total += loss.item() * y[i : i + 64].numel()
    chars = len(tokenizer.decode(ids[: n * T + 1].tolist())) - len(tokenizer.decode(ids[:1].tolist()))
    return {"nats_per_token": total / (n * T), "bits_per_char": total / math.log(2) / chars,
            "tokens_per_char": len(ids) / len(text)}


@torch.no_grad()
def sample(model: GPT, tokenizer: Tokenizer, n_chars: int = SAMPLE_CHARS, seed: int = 0,
           tokens_per_char: float = 1.0) -> str:
    """About ``n_chars`` characters of seeded text after :data:`PROMPT` (temperature 0.8)."""
    prompt = torch.tensor([tokenizer.encode(PROMPT)])
    n_tokens = int(n_chars * tokens_per_char * 1.2) + 4
    out = model.generate(prompt, n_tokens, temperature=0.8, generator=torch.Generator().manual_seed(seed))
    return tokenizer.decode(out[0].tolist())[: len(PROMPT) + n_chars]


def run_experiment(tokenizers: dict[str, Tokenizer], seconds: float, *, train_text: str, val_text: str,
                   slice_s: float = 2.0, seed: int = 0, progress=None) -> dict:
    """Train one GPT per tokenizer for ``seconds`` each, interleaved; score and sample each.

    Returns a JSON-ready record: per tokenizer its vocabulary size, parameters (and the
    embedding's share), steps, seconds, tokens per character, context in characters,
    bits per character on ``val_text`` and a sample.
    """
    runs = [_start(name, tok, train_text, seed) for name, tok in tokenizers.items()]
    rounds = max(1, math.ceil(seconds / slice_s))
    for r in range(1, rounds + 1):
        for run in runs:
            _train_slice(run, min(seconds, r * slice_s), seconds)
        if progress is not None:
            progress(r, rounds, runs)
    results = {}
    for run in runs:
        scores = bits_per_character(run.model, run.tokenizer, val_text)
        params = run.model.num_params()
        embedding = run.model.wte.weight.numel()
        results[run.name] = {
            "vocab_size": run.tokenizer.vocab_size,
            "params": params,
            "embedding_params": embedding,
            "embedding_share": embedding / params,
            "steps": run.steps,
            "seconds": round(run.seconds, 2),
            "train_tokens": run.steps * OPTIM["batch_size"] * MODEL["block_size"],
            "context_chars": MODEL["block_size"] / scores["tokens_per_char"],
            **scores,
            "sample": sample(run.model, run.tokenizer, seed=seed, tokens_per_char=scores["tokens_per_char"]),
            "final_train_loss": sum(run.losses[-20:]) / len(run.losses[-20:]),
        }
    return {"seconds_per_model": seconds, "slice_s": slice_s, "model": MODEL, "optim": OPTIM,
            "val_chars": len(val_text), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "machine": platform.machine(), "results": results}


def standard_setup(vocab_sizes: list[int], train_chars: int | None = None) -> tuple[dict, str, str]:
    """The course's tokenizers (characters, then BPE of each size), training text and validation text."""
    text = load_shakespeare()
    train_text, val_text = train_val_split(text)
    tokenizers: dict[str, Tokenizer] = {"characters": CharTokenizer.from_text(text)}
    tokenizers.update(bpe_tokenizers(train_text, vocab_sizes))
    return tokenizers, train_text[:train_chars] if train_chars else train_text, val_text[:VAL_CHARS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="training seconds per model")
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="data/subword_experiment.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tokenizers, train_text, val_text = standard_setup(args.vocab_sizes)

    def report(r: int, rounds: int, runs: list[Run]) -> None:
        if r % 10 == 0 or r == rounds:
            print(f"round {r}/{rounds}: " + ", ".join(f"{run.name} {run.steps} steps" for run in runs), flush=True)

    record = run_experiment(tokenizers, args.seconds, train_text=train_text, val_text=val_text, progress=report)
    record["command"] = (f"python -m glmlib.subword_experiment --seconds {args.seconds:g} --vocab-sizes "
                         f"{' '.join(map(str, args.vocab_sizes))} --threads {args.threads}")
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    for name, r in record["results"].items():
        print(f"{name:<11} V={r['vocab_size']:>5} steps={r['steps']:>5} tokens/char={r['tokens_per_char']:.3f} "
              f"bits/char={r['bits_per_char']:.3f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
