"""The GPT: embeddings, pre-LN decoder blocks, a tied output head (notebook 05).

Also generation with a KV cache (notebook 08) and safe checkpoints:
weights in safetensors (no pickled code), the config and tokenizer in JSON
(see the checkpoint section below for the format and why).
"""
from __future__ import annotations

import errno
import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .attention import KVCache, MultiHeadAttention, dropout
from .data import CHECKOUT_DATA, CharTokenizer
from .device import cpu_threads, pick_device
from .sampling import sample

# The shipped model: data/ in a checkout; glmlib/_shipped/ (the same two files, as
# package data) in an installed package. It is only read, never written.
_INSTALLED_DATA = Path(__file__).resolve().parent / "_shipped"
SHIPPED_DIR = _INSTALLED_DATA if (_INSTALLED_DATA / "shakespeare_gpt.json").is_file() else CHECKOUT_DATA
DATA_DIR = SHIPPED_DIR  # the older name
PRETRAINED = SHIPPED_DIR / "shakespeare_gpt"


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
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
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


# ---------------------------------------------------------------- checkpoints
#
# A checkpoint NAME is two files, NAME.safetensors and NAME.json.
#
# Format 2 (written now): the safetensors file is the whole checkpoint, its
# tensors and, in its header metadata, the record (config, tokenizer, extra) as
# JSON text. One file is replaced by one rename, so a save replaces a checkpoint
# whole or not at all; no pair of renames can promise that, and a folder with a
# manifest would change every path users and the notebooks know. NAME.json is a
# readable copy of the record, renamed into place just after the weights.
#
# Format 1 (the model shipped in data/): the record lives only in NAME.json.
# Both formats load; the record inside the safetensors file wins when present.

FORMAT = "glmlib-gpt"
RECORD_KEY = "glmlib.record"
TRAIN_STATE = "train_state."  # prefix of the tensors saved with ``train_state``
RESERVED = ("config", "tokenizer")  # record keys that ``extra`` may not set
WEIGHT_DTYPES = ("F64", "F32", "F16", "BF16")


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``NAME.safetensors`` and ``NAME.json`` for the checkpoint ``NAME``.

    The suffixes are appended to the whole name, so ``run.v1`` and ``run.v2``
    (or ``lr0.001``) name different checkpoints; ``NAME.safetensors`` and
    ``NAME.json`` name the same pair as ``NAME``.
    """
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    if not path.name or path.name in (".", ".."):
        raise ValueError(f"a checkpoint needs a file name, got {str(path)!r}")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _check_json(value: object, where: str) -> None:
    """Raise, naming ``where``, unless ``value`` is plain JSON: finite numbers, str keys."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}; JSON has no NaN or infinity")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; JSON keys must be str")
            _check_json(item, f"{where}[{key!r}]")
    else:
        raise TypeError(f"{where} is a {type(value).__name__} ({value!r:.60}), which JSON cannot hold; "
                        f"convert it first (a tensor with float(x) or x.tolist())")


def _new_file_mode() -> int:
    """The permissions ``open()`` gives a new file: ``0o666`` less the umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _write_temp(target: Path, data: bytes, mode: int) -> Path:
    """``data`` in a new hidden file next to ``target``, flushed to the disk."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; both files get the same, usual mode
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) unless it exists; a file in the way is named."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{parent} is a file, not a folder")
            break
    folder.mkdir(parents=True, exist_ok=True)


def _write_checkpoint(weights: Path, sidecar: Path, tensors: dict[str, torch.Tensor], record: dict) -> None:
    """Both files to temporary files, flushed; then the renames (the weights' is the commit)."""
    from safetensors.torch import save

    text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    blob = save(tensors, metadata={"format": FORMAT, RECORD_KEY: text})
    try:
        _make_folder(weights.parent)
        temps: list[Path] = []
        try:
            mode = _new_file_mode()
            temps.append(_write_temp(weights, blob, mode))
            temps.append(_write_temp(sidecar, text.encode("utf-8"), mode))
            os.replace(temps[0], weights)
            os.replace(temps[1], sidecar)
            _sync_folder(weights.parent)
        finally:
            for tmp in temps:
                tmp.unlink(missing_ok=True)
    except OSError as err:
        raise OSError(err.errno, f"cannot write checkpoint {weights}: {err.strerror or err}") from None


def _model_tensors(model: GPT) -> dict[str, torch.Tensor]:
    """The weights to store: every tensor once (``lm_head.weight`` is ``wte.weight``), finite."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
             if k != "lm_head.weight"}
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if bad:
        raise ValueError(f"the model's weights {bad[:5]} contain NaN or infinite values; not saved")
    return state


def save_checkpoint(model: GPT, tokenizer: CharTokenizer, path: str | os.PathLike,
                    extra: dict | None = None, *, train_state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the checkpoint ``path``: ``path.safetensors`` and its readable copy ``path.json``.

    The record holds the config, the tokenizer and ``extra`` (JSON values; it
    may not set ``config`` or ``tokenizer``). ``train_state`` (named tensors,
    e.g. optimizer moments) is stored too, for :func:`load_train_state`.

    The record goes inside the safetensors header as well as into the
    ``.json`` file: the ``.safetensors`` file alone is then the whole
    checkpoint, and one rename replaces it whole. (Two files cannot be renamed
    as one; a folder with a manifest could, but would change the paths that
    users and the notebooks know.) Everything is checked and both files are
    written to temporary files, flushed, before anything is replaced, so a
    failed or interrupted save leaves the previous checkpoint as it was.
    Returns the path of the ``.safetensors`` file.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a glmlib.model.GPT, got {type(model).__name__}")
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model expects "
                         f"{model.config.vocab_size}")
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict, got {type(extra).__name__}")
    clash = sorted(set(extra) & set(RESERVED))
    if clash:
        raise ValueError(f"extra may not set {clash}: the checkpoint records the model's own config "
                         f"and tokenizer")
    _check_json(extra, "extra")
    tensors = _model_tensors(model)
    for name, value in (train_state or {}).items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise TypeError(f"train_state must map str names to tensors, got {name!r}: {type(value).__name__}")
        tensors[TRAIN_STATE + name] = value.detach().contiguous().cpu()
    record = {"config": asdict(model.config), "tokenizer": tokenizer.to_dict(), **extra}
    weights, sidecar = checkpoint_paths(path)
    _write_checkpoint(weights, sidecar, tensors, record)
    return weights


def _read_header(weights: Path) -> tuple[dict[str, tuple[list[int], str]], dict[str, str]]:
    """``{name: (shape, dtype)}`` and the metadata of a safetensors file, reading only its header."""
    from safetensors import SafetensorError, safe_open

    if not weights.exists():
        raise FileNotFoundError(f"checkpoint file {weights} not found")
    if not weights.is_file():
        raise ValueError(f"{weights} is not a file, so not a checkpoint")
    try:
        with safe_open(str(weights), "pt") as f:
            tensors = {k: (f.get_slice(k).get_shape(), f.get_slice(k).get_dtype()) for k in f.keys()}
            return tensors, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights} is not a readable safetensors file (truncated or corrupt?): {err}") from None


def _load_tensors(weights: Path, names: list[str]) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), "pt") as f:
            return {k: f.get_tensor(k) for k in names}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights} is not a readable safetensors file (truncated or corrupt?): {err}") from None


def _parse_record(text: str, source: Path) -> dict:
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{source} is not a valid checkpoint config: {err!r}") from None
    if not isinstance(record, dict) or not all(isinstance(record.get(k), dict) for k in RESERVED):
        raise ValueError(f"{source} is not a valid checkpoint config: it needs a 'config' and a "
                         f"'tokenizer' object")
    return record


def _read_sidecar(sidecar: Path) -> dict:
    if not sidecar.is_file():
        raise FileNotFoundError(f"checkpoint file {sidecar} not found")
    try:
        text = sidecar.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{sidecar} is not a valid checkpoint config: not UTF-8 text ({err})") from None
    return _parse_record(text, sidecar)


def _read_record(weights: Path, sidecar: Path, metadata: dict[str, str]) -> tuple[dict, Path]:
    """The checkpoint's record and the file it came from (format 2: the weights file)."""
    if metadata.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{weights} is not a glmlib checkpoint: its format is "
                         f"{metadata['format']!r}, expected {FORMAT!r}")
    if RECORD_KEY not in metadata:  # format 1
        return _read_sidecar(sidecar), sidecar
    record = _parse_record(metadata[RECORD_KEY], weights)
    if sidecar.exists():
        try:
            same = _read_sidecar(sidecar) == record
        except (OSError, ValueError):
            same = False
        if not same:
            warnings.warn(f"{sidecar} differs from the record inside {weights} (edited by hand, or "
                          f"a save was interrupted between the two files); using the one in "
                          f"{weights.name}", stacklevel=3)
    return record, weights


def _config_and_tokenizer(record: dict, source: Path) -> tuple[GPTConfig, CharTokenizer]:
    """The record's config and tokenizer, checked; errors name ``source``."""
    try:
        config = GPTConfig.from_dict(record["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: bad config: {err}") from None
    try:
        tokenizer = CharTokenizer.from_dict(record["tokenizer"])
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"{source}: bad tokenizer: {err}") from None
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"{source}: tokenizer has {tokenizer.vocab_size} tokens but "
                         f"config.vocab_size is {config.vocab_size}")
    return config, tokenizer


def _check_shapes(weights: Path, header: dict[str, tuple[list[int], str]], config: GPTConfig) -> list[str]:
    """Compare the stored tensors with what ``config`` needs, before allocating anything.

    The shapes come from a model on the ``meta`` device (no memory). Once
    they match, building the real model needs no more memory than the file
    holds. Returns the names of the weights to load.
    """
    with torch.device("meta"):
        expected = {k: list(v.shape) for k, v in GPT(config).state_dict().items() if k != "lm_head.weight"}
    stored = {k: v for k, v in header.items() if not k.startswith(TRAIN_STATE)}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong = sorted(k for k in set(expected) & set(stored) if stored[k][0] != expected[k])
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{label}: {names[:5]}" for label, names in
            (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names)
        raise ValueError(f"{weights} does not match its config {asdict(config)}: {details}")
    not_float = sorted(k for k, (_, dtype) in stored.items() if dtype not in WEIGHT_DTYPES)
    if not_float:
        raise ValueError(f"{weights}: the weights {not_float[:5]} are not floating point "
                         f"({stored[not_float[0]][1]}); expected one of {WEIGHT_DTYPES}")
    return sorted(expected)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[GPT, CharTokenizer, dict]:
    """Load a checkpoint written by :func:`save_checkpoint`; no pickled code is run.

    Returns the model (in eval mode), its tokenizer and its record (config,
    tokenizer and whatever ``extra`` was saved). Everything is checked before
    the model is built (the config against sane bounds and against the tensor
    shapes in the safetensors header) and after the weights are read (no NaN or
    infinity); a bad file raises ``ValueError`` naming it, a missing one
    ``FileNotFoundError``.
    """
    device = pick_device(device) if isinstance(device, str) else torch.device(device)
    weights, sidecar = checkpoint_paths(path)
    header, metadata = _read_header(weights)
    record, source = _read_record(weights, sidecar, metadata)
    config, tokenizer = _config_and_tokenizer(record, source)
    state = _load_tensors(weights, _check_shapes(weights, header, config))
    bad = sorted(k for k, v in state.items() if not torch.isfinite(v).all())
    if bad:
        raise ValueError(f"{weights}: the weights {bad[:5]} contain NaN or infinite values; "
                         f"this checkpoint cannot be used (saved from a diverged run?)")
    model = GPT(config)
    model.load_state_dict(state, strict=False)  # lm_head.weight is tied to wte.weight
    return model.to(device).eval(), tokenizer, record


def load_train_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``train_state`` tensors saved with the checkpoint ``path`` (empty if none)."""
    weights, _ = checkpoint_paths(path)
    header, _ = _read_header(weights)
    names = [k for k in header if k.startswith(TRAIN_STATE)]
    return {k[len(TRAIN_STATE):]: v for k, v in _load_tensors(weights, names).items()}


def load_pretrained(device: str | torch.device = "cpu") -> tuple[GPT, CharTokenizer]:
    """The trained Shakespeare model shipped in ``data/`` (:data:`PRETRAINED`), ready for inference."""
    model, tokenizer, _ = load_checkpoint(PRETRAINED, device)
    return model, tokenizer
