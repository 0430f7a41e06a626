"""The GPT: embeddings, pre-LN decoder blocks, a tied output head (notebook 05).

Also generation with a KV cache (notebook 08) and safe checkpoints:
weights in safetensors (no pickled code), the config and tokenizer in JSON.
"""
from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .attention import KVCache, MultiHeadAttention, dropout
from .data import DATA_DIR, CharTokenizer
from .device import pick_device
from .sampling import sample

PRETRAINED = DATA_DIR / "shakespeare_gpt"


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
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu', got {self.activation!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
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


@contextmanager
def _one_thread(enabled: bool):
    """Run the block on one intra-op CPU thread, then restore the setting.

    One-token steps are so small (a 1 x 160 row times a weight matrix) that
    handing work to a second thread costs more than the arithmetic.
    """
    if not enabled:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
        self(idx, need_weights=True)
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
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(f"the prompt must be a non-empty (B, T) tensor of token ids, got "
                             f"shape {tuple(getattr(idx, 'shape', ()))}")
        sample(torch.zeros(1, 1), temperature, top_k, top_p)  # validate settings up front
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode(), _one_thread(use_cache and idx.device.type == "cpu"):
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


# ---------------------------------------------------------------- checkpoints

def _paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def save_checkpoint(model: GPT, tokenizer: CharTokenizer, path: str | Path,
                    extra: dict | None = None) -> Path:
    """Write ``path.safetensors`` (weights) and ``path.json`` (config, tokenizer, ``extra``)."""
    from safetensors.torch import save_file

    weights_path, meta_path = _paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
             if k != "lm_head.weight"}  # tied to wte.weight
    save_file(state, str(weights_path), metadata={"format": "glmlib-gpt"})
    meta = {"config": asdict(model.config), "tokenizer": tokenizer.to_dict(), **(extra or {})}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return weights_path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[GPT, CharTokenizer, dict]:
    """Load a checkpoint written by :func:`save_checkpoint`; no pickled code is run.

    Raises ``ValueError`` naming the problem for a missing, truncated or
    mismatched file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    device = pick_device(device) if isinstance(device, str) else torch.device(device)
    weights_path, meta_path = _paths(path)
    for p in (weights_path, meta_path):
        if not p.exists():
            raise FileNotFoundError(f"checkpoint file {p} not found")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        config = GPTConfig.from_dict(meta["config"])
        tokenizer = CharTokenizer.from_dict(meta["tokenizer"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{meta_path} is not a valid checkpoint config: {err!r}") from None
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"{meta_path}: tokenizer has {tokenizer.vocab_size} tokens but "
                         f"config.vocab_size is {config.vocab_size}")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file "
                         f"(truncated or corrupt?): {err}") from None
    model = GPT(config)
    expected = {k: v.shape for k, v in model.state_dict().items() if k != "lm_head.weight"}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if state[k].shape != expected[k])
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{label}: {names[:5]}" for label, names in
            (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names)
        raise ValueError(f"{weights_path} does not match its config {asdict(config)}: {details}")
    model.load_state_dict(state, strict=False)
    return model.to(device).eval(), tokenizer, meta


def load_pretrained(device: str | torch.device = "cpu") -> tuple[GPT, CharTokenizer]:
    """The trained Shakespeare model shipped in ``data/``, ready for inference."""
    model, tokenizer, _ = load_checkpoint(PRETRAINED, device)
    return model, tokenizer
