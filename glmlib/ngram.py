"""A counting bigram language model (notebook 01).

``P(x_t | x_{t-1}) = (count(x_{t-1}, x_t) + k) / (count(x_{t-1}) + k V)``:
the chain rule with a one-token memory and add-k smoothing.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .data import token_id_list


class BigramLM:
    """Bigram counts over ``vocab_size`` token ids, with add-``k`` smoothing.

    If ``bos``/``eos`` ids are given, every sequence is scored as
    ``<bos> x_1 ... x_n <eos>`` so the first and the end token are predicted too.
    """

    def __init__(self, vocab_size: int, k: float = 1.0, bos: int | None = None,
                 eos: int | None = None) -> None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive int, got {vocab_size!r}")
        if not (isinstance(k, (int, float)) and k >= 0) or isinstance(k, bool):
            raise ValueError(f"smoothing k must be a number >= 0, got {k!r}")
        self.vocab_size, self.k = vocab_size, float(k)
        self.bos, self.eos = self._token("bos", bos), self._token("eos", eos)
        self.counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)  # (prev, next)

    def _token(self, name: str, value: int | None) -> int | None:
        """``value`` if it is ``None`` or a token id in ``[0, vocab_size)``; a clear error otherwise."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < self.vocab_size:
            raise ValueError(f"{name} must be a token id in [0, {self.vocab_size}) or None, got {value!r}")
        return value

    def _wrap(self, ids: Sequence[int]) -> list[int]:
        ids = token_id_list(ids)
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token ids {bad[:5]} out of range [0, {self.vocab_size})")
        return ([self.bos] if self.bos is not None else []) + ids + ([self.eos] if self.eos is not None else [])

    def fit(self, sequences: Sequence[Sequence[int]] | torch.Tensor) -> "BigramLM":
        """Add the bigram counts of each sequence (a 1-D tensor counts as one sequence)."""
        if isinstance(sequences, torch.Tensor) and sequences.dim() == 1:
            sequences = [sequences]
        prev: list[int] = []
        nxt: list[int] = []
        for seq in sequences:  # gather every pair first: one bincount, not one per sequence
            ids = self._wrap(seq)
            prev.extend(ids[:-1])
            nxt.extend(ids[1:])
        if prev:
            pairs = torch.tensor(prev, dtype=torch.long) * self.vocab_size + torch.tensor(nxt, dtype=torch.long)
            self.counts += torch.bincount(pairs, minlength=self.vocab_size ** 2).view(
                self.vocab_size, self.vocab_size).double()
        return self

    @property
    def probs(self) -> torch.Tensor:
        """``(V, V)`` table: row = previous token, column = next token."""
        smoothed = self.counts + self.k
        totals = smoothed.sum(dim=1, keepdim=True)
        return torch.where(totals > 0, smoothed / totals.clamp_min(1e-300),
                           torch.full_like(smoothed, 1.0 / self.vocab_size))

    def token_log_probs(self, ids: Sequence[int]) -> torch.Tensor:
        """``log P(x_t | x_{t-1})`` for every predicted token (natural log)."""
        ids = self._wrap(ids)
        if len(ids) < 2:
            raise ValueError("need at least two tokens (or bos/eos) to score a bigram")
        prev, nxt = torch.tensor(ids[:-1]), torch.tensor(ids[1:])
        return self.probs[prev, nxt].log()

    def log_prob(self, ids: Sequence[int]) -> float:
        """``log P(x)`` by the chain rule: the sum of the per-token log-probabilities."""
        return float(self.token_log_probs(ids).sum())

    def perplexity(self, ids: Sequence[int]) -> float:
        """``exp`` of the mean negative log-likelihood per predicted token."""
        return math.exp(-float(self.token_log_probs(ids).mean()))

    def sample(self, length: int, start: int | None = None,
               generator: torch.Generator | None = None) -> list[int]:
        """Draw up to ``length`` tokens; stops early after ``eos`` if the model has one."""
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be an int >= 0, got {length!r}")
        prev = self._token("start", start) if start is not None else self.bos
        if prev is None:
            raise ValueError("give a start token (the model has no bos token)")
        out: list[int] = []
        probs = self.probs
        for _ in range(length):
            prev = int(torch.multinomial(probs[prev].float(), 1, generator=generator))
            if prev == self.eos:
                break
            out.append(prev)
        return out
