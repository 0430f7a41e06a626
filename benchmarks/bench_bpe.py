"""BPE training and encoding speed of glmlib.bpe against Hugging Face ``tokenizers``, in one run.

Training: a vocabulary of 1,024 (768 merges) on the whole Shakespeare corpus,
pre-tokenization included, by ``BPETokenizer.train`` and by ``tokenizers``'
``BpeTrainer`` with GPT-2's byte-level pre-tokenizer; both learn the same merges
(checked here). Encoding: a slice of the corpus through each, with the same
vocabulary and merges, the same ids checked; glmlib starts each round with an
empty chunk cache. The contenders take turns, round after round; each ratio is
the median of the round-by-round ratios, with their range.

``tokenizers`` runs on one thread here (``RAYON_NUM_THREADS=1``, set before it is
imported), as glmlib does; ``--hf-threads 0`` leaves it all cores.

    python benchmarks/bench_bpe.py [--vocab-size 1024] [--rounds 3] [--encode-chars 1000000]
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--encode-chars", type=int, default=1_000_000)
    parser.add_argument("--hf-threads", type=int, default=1, help="tokenizers' threads; 0: all cores")
    return parser.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.hf_threads > 0:
    os.environ["RAYON_NUM_THREADS"] = str(ARGS.hf_threads)  # read when tokenizers starts its pool

import tokenizers  # noqa: E402
from tokenizers import models, pre_tokenizers, trainers  # noqa: E402

from glmlib.bpe import BYTE_ORDER, BPETokenizer  # noqa: E402
from glmlib.data import load_shakespeare  # noqa: E402

from interleave import alternate, ratios  # noqa: E402
from table import Row, print_table  # noqa: E402


def _byte_chars() -> dict[int, str]:
    """GPT-2's byte-to-unicode table: printable bytes stand for themselves, the others for 256+."""
    extra = [b for b in range(256) if b not in BYTE_ORDER[:188]]
    table = {b: chr(b) for b in BYTE_ORDER[:188]}
    table.update({b: chr(256 + n) for n, b in enumerate(extra)})
    return table


B2U = _byte_chars()


def hf_train(text: str, vocab_size: int) -> "tokenizers.Tokenizer":
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def hf_merges(tok: "tokenizers.Tokenizer") -> list[tuple[str, str]]:
    merges = json.loads(tok.to_str())["model"]["merges"]
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]


def bpe_rows(vocab_size: int, rounds: int, encode_chars: int) -> list[Row]:
    text = load_shakespeare()
    results: dict[str, object] = {}
    times = alternate({"glmlib": lambda: results.__setitem__("glmlib", BPETokenizer.train(text, vocab_size)),
                       "tokenizers": lambda: results.__setitem__("hf", hf_train(text, vocab_size))}, rounds)
    ours, hf = results["glmlib"], results["hf"]
    as_str = lambda i: "".join(B2U[b] for b in ours.vocab[i])  # noqa: E731
    same_merges = [(as_str(a), as_str(b)) for a, b in ours.merges] == hf_merges(hf)

    sample = text[:encode_chars]
    encoded: dict[str, list[int]] = {}
    enc_times = alternate({
        "glmlib": lambda: encoded.__setitem__("glmlib", ours.with_merges(len(ours.merges)).encode(sample)),
        "tokenizers": lambda: encoded.__setitem__("hf", hf.encode(sample).ids)}, rounds)
    same_ids = [_our_id(hf.id_to_token(i), ours) for i in encoded["hf"]] == encoded["glmlib"]

    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    train_ratio = ratios(times["tokenizers"], times["glmlib"])  # > 1: glmlib is faster
    enc_rate = lambda ts: f"{encode_chars / med(ts) / 1e6:.2f} M chars/s"  # noqa: E731
    threads = os.environ.get("RAYON_NUM_THREADS", "all")
    return [
        (f"train vocab {vocab_size} on {len(text):,} chars, s (same merges: {same_merges}; tokenizers "
         f"threads: {threads})", f"{med(times['glmlib']):.2f} s", f"{med(times['tokenizers']):.2f} s",
         f"{train_ratio.text()} (peer time / glmlib time)"),
        (f"encode {encode_chars:,} chars (same ids: {same_ids})", enc_rate(enc_times["glmlib"]),
         enc_rate(enc_times["tokenizers"]),
         f"{ratios(enc_times['tokenizers'], enc_times['glmlib']).text()} (glmlib speed / peer speed)"),
    ]


_LOOKUP: dict[int, dict[str, int]] = {}


def _our_id(token: str, ours: BPETokenizer) -> int:
    """Our id of the token ``tokenizers`` writes as ``token`` (byte-level characters; its ids differ)."""
    table = _LOOKUP.get(id(ours))
    if table is None:
        table = _LOOKUP[id(ours)] = {"".join(B2U[b] for b in bs): i for i, bs in ours.vocab.items()}
    return table[token]


def main() -> None:
    args = ARGS
    print(f"# BPE: glmlib.bpe vs tokenizers {tokenizers.__version__}, python {sys.version.split()[0]}, "
          f"{args.rounds} rounds each, taking turns")
    print_table(bpe_rows(args.vocab_size, args.rounds, args.encode_chars))


if __name__ == "__main__":
    main()
