"""Reliability, round three (issue #24): a text without a newline, a run that ends on a worse model,
cache and save errors in one line, tokenizer kinds, NumPy integers, and training on your own text."""
from __future__ import annotations

import pytest
import torch

import glmlib.train as train_module
from glmlib.train import TrainConfig, train

TINY = dict(block_size=8, n_layer=1, n_head=2, n_embd=16, batch_size=4, max_iters=4, lr=3e-3, min_lr=3e-4,
            warmup_iters=1, eval_interval=2, eval_iters=1, device="cpu", seed=3, threads=1)


# ------------------------------------------------------------------ bug 4: a text without a newline

NO_NEWLINE = "the quick brown fox jumps over the lazy dog; " * 12


@pytest.mark.parametrize("sample_chars", [0, 20])
def test_a_text_without_a_newline_trains(sample_chars: int) -> None:
    assert "\n" not in NO_NEWLINE
    samples = []
    result = train(TrainConfig(**TINY, sample_chars=sample_chars),
                   callbacks=[lambda e, s: e == "eval" and samples.append(s["sample"])], text=NO_NEWLINE)
    assert [h["step"] for h in result.history] == [0, 2, 4]
    assert all(len(s) == sample_chars and set(s) <= set(NO_NEWLINE) for s in samples)


def test_the_sample_prompt_is_not_encoded_without_samples(monkeypatch) -> None:
    encoded: list[str] = []
    real = train_module.CharTokenizer.encode
    monkeypatch.setattr(train_module.CharTokenizer, "encode", lambda self, t: encoded.append(t) or real(self, t))
    train(TrainConfig(**TINY, sample_chars=0), text=NO_NEWLINE)
    assert encoded == []


def test_samples_of_a_text_with_newlines_still_start_from_one() -> None:
    text = "to be or not\nto be, that is\nthe question\n" * 10
    samples = []
    train(TrainConfig(**TINY, sample_chars=12), callbacks=[lambda e, s: e == "eval" and samples.append(s)],
          text=text)
    assert all(len(s["sample"]) == 12 for s in samples)
