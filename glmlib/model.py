"""The GPT: embeddings, pre-LN decoder blocks, a tied output head (notebook 05),
and generation with a KV cache (notebook 08).

Saving and loading models lives in :mod:`glmlib.checkpoints`, tokenizers in
:mod:`glmlib.tokenizers`. Their names that were always imported from here
(``from glmlib.model import load_pretrained``, ``save_checkpoint``,
``load_checkpoint``, ``PRETRAINED``, ...) still are: see :data:`_MOVED` at the
end of this file.
"""
from __future__ import annotations

import importlib
import math
import numbers
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .attention import KVCache, MultiHeadAttention, dropout
from .device import cpu_threads
from .sampling import sample

# Generous upper bounds, far beyond anything this course trains (GPT-2 XL has 48
# layers, 1600 channels, 1.5B parameters). They stop a mistyped or crafted
# config from making ``GPT(config)`` allocate without bound before any check.
LIMITS = {"vocab_size": 1 << 21, "block_size": 1 << 16, "n_layer": 256, "n_head": 256, "n_embd": 1 << 14}
MAX_PARAMS = 2_000_000_000


@dataclass
class GPTConfig:
    vocab_size: int = 77
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    activation: str = "gelu"  # "gelu" (GPT-2) or "relu" (the original Transformer)

    def __post_init__(self) -> None:
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise ValueError(f"GPTConfig.{name} must be an int in [1, {limit:,}], got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")
        if self.activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu', got {self.activation!r}")
        if self.num_params() > MAX_PARAMS:
            raise ValueError(f"this config has {self.num_params():,} parameters, more than the "
                             f"{MAX_PARAMS:,} this library allows: {asdict(self)}")

    def num_params(self) -> int:
        """Parameters of ``GPT(self)``, counted without building it (the tied head once)."""
        V, T, L, C = self.vocab_size, self.block_size, self.n_layer, self.n_embd
        per_block = 12 * C * C + 2 * C + (11 * C if self.bias else 0)  # attention, FFN, two norms
        return V * C + T * C + L * per_block + C + (C if self.bias else 0)

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        if not isinstance(d, dict):
            raise ValueError(f"a GPTConfig is a dict of fields, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown GPTConfig fields {sorted(unknown)}; allowed: {sorted(known)}")
        return cls(**d)


class FeedForward(nn.Module):
    """Position-wise MLP: ``C -> 4C -> C`` with ReLU or GELU in between."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.act = F.gelu if config.activation == "gelu" else F.relu
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(self.proj(self.act(self.fc(x))), self.dropout, self.training)


class Block(nn.Module):
    """Pre-LN decoder block: ``x + attn(ln(x))``, then ``x + ffn(ln(x))``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = MultiHeadAttention(config.n_embd, config.n_head, config.bias, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.ffn = FeedForward(config)

    def forward(self, x: torch.Tensor, need_weights: bool = False,
                kv_cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), is_causal=True, need_weights=need_weights,
                          kv_cache=kv_cache, layer=layer)
        return x + self.ffn(self.ln_2(x))


def window_start(length: int, block_size: int) -> int:
    """Where the context starts when ``length`` tokens exist and the next is wanted.

    Up to ``block_size`` tokens, the whole sequence. Beyond it the window
    cannot slide one token at a time (cached keys carry their absolute
    positions), so it jumps: the context restarts from the last
    ``block_size // 2`` tokens and grows again until full. Cached and uncached
    generation share this rule, so they see the same context.
    """
    if length <= block_size:
        return 0
    keep = max(1, block_size // 2)
    period = block_size - keep + 1
    resets = (length - block_size - 1) // period
    return block_size + 1 + resets * period - keep


class GPT(nn.Module):
    """A decoder-only Transformer language model (GPT-2 layout, learned positions)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections
            if name.endswith("attn.proj.weight") or name.endswith("ffn.proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameters, each counted once (the tied head is not counted twice)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.wpe.weight.numel() if non_embedding else n

    def _check_idx(self, idx: torch.Tensor, offset: int = 0) -> None:
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.dtype != torch.long:
            raise TypeError(f"idx must be a (B, T) tensor of int64 token ids, got "
                            f"{getattr(idx, 'dtype', type(idx).__name__)} {tuple(getattr(idx, 'shape', ()))}")
        T = idx.shape[1]
        if T == 0:
            raise ValueError("the input is empty: give at least one token")
        if offset + T > self.config.block_size:
            raise ValueError(f"sequence of {offset + T} tokens is longer than block_size="
                             f"{self.config.block_size}; crop it (generate does this for you)")
        low, high = (int(v) for v in torch.aminmax(idx)) if idx.numel() else (0, 0)
        if low < 0 or high >= self.config.vocab_size:
            raise ValueError(f"token ids must be in [0, {self.config.vocab_size}), got "
                             f"min {low} max {high}")

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
        kv_cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx (B, T) -> logits (B, T, V)``, and the mean cross-entropy if ``targets``.

        With ``kv_cache``, ``idx`` continues the cached tokens (positions carry on).
        With ``need_weights``, every block keeps its attention weights
        (see :meth:`attention_maps`).
        """
        offset = len(kv_cache) if kv_cache is not None else 0
        self._check_idx(idx, offset)
        T = idx.shape[1]
        pos = torch.arange(offset, offset + T, device=idx.device)
        x = dropout(self.wte(idx) + self.wpe(pos), self.config.dropout, self.training)  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, need_weights=need_weights, kv_cache=kv_cache, layer=i)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> torch.Tensor:
        """Every layer's and head's attention weights: ``(L, B, H, T, T)``."""
        was_training = self.training
        self.eval()
        try:
            self(idx, need_weights=True)
        finally:  # a bad idx must not leave the model in eval mode (dropout off)
            self.train(was_training)
        return torch.stack([b.attn.last_weights for b in self.blocks])

    @torch.no_grad()
    def decode_step(self, token: torch.Tensor, kv_cache: KVCache) -> torch.Tensor:
        """``forward(token, kv_cache=kv_cache)[0]`` for one new token ``(B, 1)``, in inference.

        The same computation written with plain tensor functions: a step is
        about a hundred tiny operations, and going through every submodule's
        call machinery and attribute lookups would add half again to its
        time. ``generate`` calls the unchecked ``_decode`` directly: it only
        feeds back ids it sampled.
        """
        if isinstance(token, torch.Tensor) and token.dim() == 2 and token.shape[1] != 1:
            raise ValueError(f"decode_step takes one new token per sequence, shape (B, 1); got "
                             f"{tuple(token.shape)} (feed several tokens with forward(idx, kv_cache=...))")
        self._check_idx(token, len(kv_cache))
        return self._decode(token, kv_cache, self._block_tensors())

    def _block_tensors(self) -> list[tuple]:
        """Each block's weights and activation, in the order :meth:`_decode` uses them.

        Gathered once per ``generate`` call rather than looked up through the
        modules at every step.
        """
        return [(b.ln_1.weight, b.ln_1.bias, b.attn.qkv.weight, b.attn.qkv.bias, b.attn.proj.weight,
                 b.attn.proj.bias, b.ln_2.weight, b.ln_2.bias, b.ffn.fc.weight, b.ffn.fc.bias, b.ffn.act,
                 b.ffn.proj.weight, b.ffn.proj.bias) for b in self.blocks]

    def _decode(self, token: torch.Tensor, kv_cache: KVCache, blocks: list[tuple]) -> torch.Tensor:
        C, H = self.config.n_embd, self.config.n_head
        B = token.shape[0]
        x = self.wte(token)[:, 0] + self.wpe.weight[len(kv_cache)]  # (B, C)
        for i, (ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b,
                fc_w, fc_b, act, out_w, out_b) in enumerate(blocks):
            h = F.layer_norm(x, (C,), ln1_w, ln1_b)
            q, k, v = F.linear(h, qkv_w, qkv_b).view(B, 3, H, 1, C // H).unbind(1)  # each (B, H, 1, D)
            k, v = kv_cache.update(i, k, v)  # (B, H, T, D)
            y = F.scaled_dot_product_attention(q, k, v).view(B, C)  # heads side by side
            x = x + F.linear(y, proj_w, proj_b)
            h = F.layer_norm(x, (C,), ln2_w, ln2_b)
            x = x + F.linear(act(F.linear(h, fc_w, fc_b)), out_w, out_b)
        x = F.layer_norm(x, (C,), self.ln_f.weight, self.ln_f.bias)
        return F.linear(x, self.lm_head.weight)[:, None]  # (B, 1, V)

    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``idx (B, T)``.

        The context follows :func:`window_start`. With ``use_cache`` each step
        feeds only the newest token to :meth:`decode_step`, which reuses the
        cached keys and values; on a CPU those steps run on one thread.
        """
        # any whole number (a NumPy integer too, as glmlib.sampling takes for top_k), not a bool
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral) \
                or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        max_new_tokens = int(max_new_tokens)
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(f"the prompt must be a non-empty (B, T) tensor of token ids, got "
                             f"shape {tuple(getattr(idx, 'shape', ()))}")
        sample(torch.zeros(1, 1), temperature, top_k, top_p)  # validate settings up front
        was_training = self.training
        self.eval()
        try:
            # one-token steps are so small that a second thread costs more than it saves
            with torch.inference_mode(), cpu_threads(1 if use_cache and idx.device.type == "cpu" else None):
                out = self._generate_loop(idx, max_new_tokens, temperature, top_k, top_p, generator, use_cache)
        finally:
            self.train(was_training)
        return out.clone()  # an ordinary tensor again, usable in training code

    def _generate_loop(self, idx: torch.Tensor, max_new_tokens: int, temperature: float,
                       top_k: int | None, top_p: float | None, generator: torch.Generator | None,
                       use_cache: bool) -> torch.Tensor:
        cache, cache_start = None, -1
        blocks = self._block_tensors() if use_cache else []
        for _ in range(max_new_tokens):
            start = window_start(idx.shape[1], self.config.block_size)
            if not use_cache:
                logits, _ = self(idx[:, start:])
            elif start != cache_start:  # (re)fill the cache with the whole window
                cache, cache_start = KVCache(), start
                logits, _ = self(idx[:, start:], kv_cache=cache)
            else:
                logits = self._decode(idx[:, -1:], cache, blocks)
            nxt = sample(logits[:, -1, :], temperature, top_k, top_p, generator)  # (B,)
            idx = torch.cat([idx, nxt[:, None]], dim=1)
        return idx


# Names that lived in this module before checkpoints and tokenizers got their own
# (issue #27). They are looked up on first use, so ``from glmlib.model import
# load_pretrained`` keeps working while this module imports neither of those at
# load time: glmlib.checkpoints imports this module, and no import circle forms.
_CHECKPOINT_NAMES = ("SHIPPED_DIR", "DATA_DIR", "PRETRAINED", "FORMAT", "RECORD_KEY", "TRAIN_STATE",
                     "RESERVED", "WEIGHT_DTYPES", "checkpoint_paths", "save_checkpoint",
                     "load_checkpoint", "load_train_state", "load_pretrained")
_MOVED = {**dict.fromkeys(_CHECKPOINT_NAMES, "checkpoints"), "CharTokenizer": "tokenizers",
          "CHECKOUT_DATA": "data"}


def __getattr__(name: str) -> object:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__package__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})
