"""Generation one step at a time, exactly as ``GPT.generate`` does it (for the generation explorer).

``GPT.generate`` computes each next-token distribution with a KV cache: it
fills the cache with one forward pass over the whole window when generation
starts and whenever the window jumps (:func:`glmlib.model.window_start`),
feeds one token at a time through the decoder in between, runs on one CPU
thread, and draws with :func:`glmlib.sampling.sample` from its generator.
A :class:`GenerationPath` does the same, one step at a time, through the
public pieces (``forward(..., kv_cache=...)``, ``decode_step``, ``sample``).
So a path stepped with fixed settings from a seeded generator is, token for
token and logit for logit, what ``generate`` returns; a test checks it.

On top of that a path can undo a step (the generator goes back to where it
was) and force a token (no random number is drawn). After a forced token the
path continues exactly as ``generate`` would from the text so far: as if the
forced token had been typed at the end of the prompt.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from ..attention import KVCache
from ..device import cpu_threads
from ..i18n import _
from ..model import GPT, window_start
from ..sampling import sample, warp
from ._checks import is_whole
from ._render import separator

SAMPLED, GREEDY, FORCED = "sampled", "greedy", "forced"


@dataclass(frozen=True)
class Settings:
    """Sampling settings as ``generate`` takes them (``None`` = off; temperature 0 = greedy)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        warp(torch.zeros(1), self.temperature, self.top_k, self.top_p)  # the library's own checks

    def kwargs(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p}

    def short(self) -> str:
        """E.g. ``τ 0.80, k 10, p off`` (``greedy`` for temperature 0), in the chosen language."""
        t = _("greedy") if self.temperature == 0 else f"τ {self.temperature:.2f}"
        k = f"k {self.top_k}" if self.top_k is not None else _("k off")
        p = f"p {self.top_p:.2f}" if self.top_p is not None else _("p off")
        return separator(", ").join((t, k, p))


@dataclass(frozen=True)
class Step:
    """One generated token and everything needed to show or undo it."""

    token: int
    how: str  # SAMPLED, GREEDY or FORCED
    settings: Settings  # the settings in force when it was chosen
    logits: torch.Tensor  # (1, V) the next-token logits it was chosen from, on the model's device
    rng_before: torch.Tensor  # the generator's state before this step (undo restores it)
    log_prob: float  # log P(token | text before it) under the model itself (temperature 1), nats
    rank: int  # 1 = the model's most probable token

    @classmethod
    def make(cls, token: int, how: str, settings: Settings, logits: torch.Tensor,
             rng_before: torch.Tensor) -> "Step":
        """A step, with the token's log-probability and rank under ``logits (1, V)``."""
        row = logits[0].float()  # (V,)
        log_prob = float(torch.log_softmax(row, -1)[token])
        rank = 1 + int((row > row[token]).sum())
        return cls(token, how, settings, logits, rng_before, log_prob, rank)


class _Cache(KVCache):
    """A KV cache that remembers which tokens it holds and can forget the newest ones."""

    def __init__(self, start: int = -1, fill: int = -1) -> None:
        super().__init__()
        self.start, self.fill = start, fill  # window start; length at which it was filled
        self.ids: list[int] = []  # the tokens whose keys and values it holds

    def reset(self, start: int, fill: int) -> None:
        """Empty, for the window starting at ``start`` filled at length ``fill``."""
        self.clear()
        self.start, self.fill, self.ids = start, fill, []

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` tokens; the next update overwrites the rest in place."""
        for layer, length in self._lengths.items():
            self._lengths[layer] = min(length, n)
        del self.ids[n:]


@contextmanager
def inference(model: GPT) -> Iterator[None]:
    """Eval mode, no autograd, and on a CPU one intra-op thread: the conditions ``generate`` runs in."""
    was_training = model.training
    if was_training:
        model.eval()
    try:
        with cpu_threads(1 if next(model.parameters()).device.type == "cpu" else None), torch.inference_mode():
            yield
    finally:
        if was_training:
            model.train()


def fill_length(length: int, origin: int, block_size: int) -> int:
    """The sequence length at which ``generate`` last (re)filled its cache, when ``length`` tokens exist.

    ``generate`` called with ``origin`` tokens fills the cache at the first
    step and whenever :func:`window_start` changes; in between it decodes
    one token at a time.
    """
    start = window_start(length, block_size)
    fill = length
    while fill > origin and window_start(fill - 1, block_size) == start:
        fill -= 1
    return fill


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class LogitsSource:
    """Next-token logits of ``model``, computed exactly as ``generate`` computes them.

    Results are remembered (least recently used first out), so undoing and
    redoing a step, or switching back to a branch, costs no model call.
    """

    def __init__(self, model: GPT, memo_size: int = 512) -> None:
        self.model = model
        self.block_size = model.config.block_size
        self.device = next(model.parameters()).device
        self._memo: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._memo_size = memo_size
        self.model_calls = 0  # forward passes and decode steps run so far

    def logits(self, ids: list[int], origin: int, cache: _Cache) -> torch.Tensor:
        """Logits ``(1, V)`` for the token after ``ids``, as ``generate`` started at length ``origin``
        computes them.

        ``cache`` is the caller's own; it is reused when it holds a prefix of
        this window, and refilled otherwise.
        """
        L = len(ids)
        start = window_start(L, self.block_size)
        fill = fill_length(L, origin, self.block_size)
        key = (fill - start, tuple(ids[start:]))  # all the result depends on: the window, where it was filled
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        with inference(self.model):
            logits = self._compute(ids, start, fill, cache)
        self._memo[key] = logits
        if len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
        return logits

    def _compute(self, ids: list[int], start: int, fill: int, cache: _Cache) -> torch.Tensor:
        L = len(ids)
        window = ids[start:L]
        held = cache.ids if (cache.start, cache.fill) == (start, fill) else []
        reusable = min(_common_prefix(held, window), L - 1 - start)
        if L == fill or reusable < fill - start:  # (re)fill, as generate does at this length
            logits = self._fill(ids[start:fill], cache, start, fill)
            if L == fill:
                return logits
            reusable = fill - start
        cache.truncate(reusable)
        for token in window[reusable:]:  # one token at a time through the cached decoder
            logits = self._decode(token, cache)
        return logits

    def _fill(self, window: list[int], cache: _Cache, start: int, fill: int) -> torch.Tensor:
        cache.reset(start, fill)
        idx = torch.tensor([window], dtype=torch.long, device=self.device)  # (1, T)
        logits, _loss = self.model(idx, kv_cache=cache)  # (1, T, V)
        cache.ids = list(window)
        self.model_calls += 1
        return logits[:, -1, :].clone()  # (1, V)

    def _decode(self, token: int, cache: _Cache) -> torch.Tensor:
        idx = torch.tensor([[token]], dtype=torch.long, device=self.device)  # (1, 1)
        logits = self.model.decode_step(idx, cache)  # (1, 1, V)
        cache.ids.append(token)
        self.model_calls += 1
        return logits[:, -1, :].clone()  # (1, V)


class GenerationPath:
    """A prompt and the tokens generated after it, step by step, with undo and forced tokens.

    ``seed`` seeds the path's own ``torch.Generator`` (on the model's
    device), as one would pass ``generator=torch.Generator().manual_seed(seed)``
    to ``generate``.
    """

    def __init__(self, source: LogitsSource, prompt_ids: list[int], seed: int) -> None:
        if not prompt_ids:
            raise ValueError("the prompt is empty: give at least one character")
        self.source = source
        self.prompt_ids = list(prompt_ids)
        self.seed = seed
        self.generator = torch.Generator(device=source.device).manual_seed(seed)
        self.steps: list[Step] = []
        self._cache = _Cache()

    # ----------------------------------------------------------------- what it holds

    @property
    def ids(self) -> list[int]:
        """Prompt and generated token ids."""
        return self.prompt_ids + [s.token for s in self.steps]

    @property
    def tokens(self) -> list[int]:
        """The generated token ids."""
        return [s.token for s in self.steps]

    def __len__(self) -> int:
        return len(self.steps)

    def origin(self, n_steps: int | None = None) -> int:
        """Where ``generate`` would start for step ``n_steps + 1``: after the last forced token, else
        after the prompt."""
        n = len(self.steps) if n_steps is None else n_steps
        forced = [i for i in range(n) if self.steps[i].how == FORCED]
        return len(self.prompt_ids) + (forced[-1] + 1 if forced else 0)

    def next_logits(self) -> torch.Tensor:
        """Logits ``(1, V)`` for the next token, as ``generate`` would compute them now."""
        return self.source.logits(self.ids, self.origin(), self._cache)

    def log_probs(self) -> list[float]:
        """Each generated token's log-probability under the model (temperature 1), nats."""
        return [s.log_prob for s in self.steps]

    # ----------------------------------------------------------------- moves

    def step(self, settings: Settings) -> Step:
        """Choose the next token as ``generate`` would with ``settings`` (drawing from the generator)."""
        logits = self.next_logits()
        rng_before = self.generator.get_state()
        with inference(self.source.model):
            token = int(sample(logits, **settings.kwargs(), generator=self.generator)[0])
        how = GREEDY if settings.temperature == 0 else SAMPLED
        return self._append(Step.make(token, how, settings, logits, rng_before))

    def force(self, token: int, settings: Settings) -> Step:
        """Append ``token`` whatever its probability; no random number is drawn."""
        V = self.source.model.config.vocab_size
        if not is_whole(token) or not 0 <= token < V:
            raise ValueError(f"a forced token must be an id in [0, {V}), got {token!r}")
        token = int(token)
        logits = self.next_logits()
        return self._append(Step.make(token, FORCED, settings, logits, self.generator.get_state()))

    def undo(self) -> Step | None:
        """Remove the last step and put the generator back where it was; ``None`` if there is none."""
        if not self.steps:
            return None
        last = self.steps.pop()
        self.generator.set_state(last.rng_before)
        return last

    def fork(self, n_steps: int) -> "GenerationPath":
        """A new path with the first ``n_steps`` steps, its generator as it was after them."""
        if not 0 <= n_steps <= len(self.steps):
            raise ValueError(f"n_steps must be in [0, {len(self.steps)}], got {n_steps!r}")
        twin = GenerationPath(self.source, self.prompt_ids, self.seed)
        twin.steps = self.steps[:n_steps]
        state = self.steps[n_steps].rng_before if n_steps < len(self.steps) else self.generator.get_state()
        twin.generator.set_state(state)
        return twin

    def _append(self, step: Step) -> Step:
        self.steps.append(step)
        return step


def perplexity(log_probs: list[float]) -> float:
    """``exp`` of the mean surprise (``-log p``) per token; ``nan`` for no tokens."""
    if not log_probs:
        return math.nan
    return math.exp(-sum(log_probs) / len(log_probs))
