"""Bad input gets a clear error that names the bad value: one table, one row per mistake."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import pytest
import torch

from glmlib.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention
from glmlib.data import CharTokenizer, get_batch, train_val_split
from glmlib.device import pick_device
from glmlib.masks import causal_mask, padding_mask, to_additive
from glmlib.model import GPT, GPTConfig, load_checkpoint, save_checkpoint
from glmlib.ngram import BigramLM
from glmlib.sampling import sample, top_k_filter, top_p_filter, warp
from glmlib.train import TrainConfig, preset

NAN, INF = float("nan"), float("inf")
TINY = dict(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=8)


class Env:
    """What the rows act on: a tiny model, its tokenizer and checkpoint files spoilt in various ways."""

    def __init__(self, root: Path) -> None:
        torch.manual_seed(0)
        self.model = GPT(GPTConfig(**TINY)).eval()
        self.tok = CharTokenizer.from_text("abcde")
        self.logits = torch.randn(2, 5)
        good = save_checkpoint(self.model, self.tok, root / "good")
        raw, meta = good.read_bytes(), json.loads(good.with_suffix(".json").read_text())
        self.good = root / "good"
        self.truncated = self._write(root / "truncated", raw[: len(raw) // 2], meta)
        mismatched = {**meta, "config": {**meta["config"], "n_embd": 16}}
        self.mismatched = self._write(root / "mismatched", raw, mismatched)
        self.garbage = self._write(root / "garbage", raw, None, "{ this is not json")
        self.missing = root / "nowhere" / "model"

    @staticmethod
    def _write(base: Path, weights: bytes, meta: dict | None, text: str | None = None) -> Path:
        base.with_suffix(".safetensors").write_bytes(weights)
        base.with_suffix(".json").write_text(text if meta is None else json.dumps(meta))
        return base


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    return Env(tmp_path_factory.mktemp("checkpoints"))


def full_cache(model: GPT) -> KVCache:
    """A cache holding a whole context window (block_size tokens)."""
    cache = KVCache()
    with torch.no_grad():
        model(torch.zeros(1, model.config.block_size, dtype=torch.long), kv_cache=cache)
    return cache


def with_value(logits: torch.Tensor, value: float) -> torch.Tensor:
    out = logits.clone()
    out[0, 1] = value
    return out


Row = tuple[str, Callable[[Env], object], type, str]
ROWS: list[Row] = [
    # sampling settings
    ("temperature < 0", lambda e: warp(e.logits, temperature=-0.5), ValueError, r"temperature.*-0\.5"),
    ("temperature NaN", lambda e: sample(e.logits, temperature=NAN), ValueError, r"temperature.*nan"),
    ("temperature inf", lambda e: warp(e.logits, temperature=INF), ValueError, r"temperature.*inf"),
    ("temperature str", lambda e: warp(e.logits, temperature="hot"), TypeError, r"temperature.*'hot'"),
    ("top_k 0", lambda e: warp(e.logits, top_k=0), ValueError, r"top_k.*>= 1.*got 0"),
    ("top_k -1", lambda e: top_k_filter(e.logits, -1), ValueError, r"top_k.*got -1"),
    ("top_k 2.5", lambda e: warp(e.logits, top_k=2.5), TypeError, r"top_k.*int.*2\.5"),
    ("top_k True", lambda e: sample(e.logits, top_k=True), TypeError, r"top_k.*int.*True"),
    ("top_p 0", lambda e: warp(e.logits, top_p=0), ValueError, r"top_p.*\(0, 1\].*got 0"),
    ("top_p 1.5", lambda e: top_p_filter(e.logits, 1.5), ValueError, r"top_p.*1\.5"),
    ("top_p NaN", lambda e: warp(e.logits, top_p=NAN), ValueError, r"top_p.*nan"),
    ("top_p -0.1", lambda e: warp(e.logits, top_p=-0.1), ValueError, r"top_p.*-0\.1"),
    ("NaN logits", lambda e: warp(with_value(e.logits, NAN)), ValueError, r"NaN"),
    ("+inf logits", lambda e: sample(with_value(e.logits, INF)), ValueError, r"\+inf"),
    ("all -inf row", lambda e: sample(torch.full((1, 4), -INF)), ValueError, r"entirely -inf"),
    ("int logits", lambda e: warp(torch.ones(3, dtype=torch.long)), TypeError, r"floating-point.*torch\.int64"),
    ("bad setting in generate", lambda e: e.model.generate(torch.zeros(1, 1, dtype=torch.long), 3, top_k=0),
     ValueError, r"top_k.*got 0"),
    # tokenizer and data
    ("unknown characters", lambda e: e.tok.encode("bad\u00e9 z"), ValueError, r"'\u00e9'.*'z'|'z'.*'\u00e9'"),
    ("encode a list", lambda e: e.tok.encode(["a"]), TypeError, r"str.*list"),
    ("decode id out of range", lambda e: e.tok.decode([0, 9]), ValueError, r"token id 9.*\[0, 5\)"),
    ("tokenizer from empty text", lambda e: CharTokenizer.from_text(""), ValueError, r"empty"),
    ("duplicate characters", lambda e: CharTokenizer(["a", "a"]), ValueError, r"duplicate"),
    ("split fraction 1", lambda e: train_val_split("abc", 1.0), ValueError, r"val_fraction.*1\.0"),
    ("batch from 2-D data", lambda e: get_batch(torch.zeros(2, 9, dtype=torch.long), 1, 4), ValueError,
     r"1-D.*\(2, 9\)"),
    ("batch longer than data", lambda e: get_batch(torch.arange(5), 2, 5), ValueError, r"5 tokens.*block_size=5"),
    # model input
    ("empty prompt to generate", lambda e: e.model.generate(torch.zeros(1, 0, dtype=torch.long), 3),
     ValueError, r"non-empty.*\(1, 0\)"),
    ("negative max_new_tokens", lambda e: e.model.generate(torch.zeros(1, 1, dtype=torch.long), -2),
     ValueError, r"max_new_tokens.*-2"),
    ("over-long idx to forward", lambda e: e.model(torch.zeros(1, 9, dtype=torch.long)), ValueError,
     r"9 tokens.*block_size=8"),
    ("token id out of range", lambda e: e.model(torch.tensor([[0, 1, 5]])), ValueError, r"\[0, 5\).*max 5"),
    ("negative token id", lambda e: e.model(torch.tensor([[-1, 1]])), ValueError, r"\[0, 5\).*min -1"),
    ("float idx", lambda e: e.model(torch.zeros(1, 3)), TypeError, r"int64.*torch\.float32"),
    ("two tokens to decode_step", lambda e: e.model.decode_step(torch.zeros(1, 2, dtype=torch.long), KVCache()),
     ValueError, r"\(B, 1\).*\(1, 2\)"),
    ("decode_step id out of range", lambda e: e.model.decode_step(torch.tensor([[5]]), KVCache()), ValueError,
     r"\[0, 5\).*max 5"),
    ("decode_step past a full cache", lambda e: e.model.decode_step(torch.tensor([[1]]), full_cache(e.model)),
     ValueError, r"9 tokens.*block_size=8"),
    ("1-D idx", lambda e: e.model(torch.zeros(3, dtype=torch.long)), TypeError, r"\(B, T\).*\(3,\)"),
    ("empty idx to forward", lambda e: e.model(torch.zeros(1, 0, dtype=torch.long)), ValueError, r"empty"),
    # configuration
    ("n_embd not divisible by n_head", lambda e: GPTConfig(n_embd=30, n_head=4), ValueError,
     r"n_embd \(30\).*n_head \(4\)"),
    ("zero layers", lambda e: GPTConfig(n_layer=0), ValueError, r"n_layer.*got 0"),
    ("unknown activation", lambda e: GPTConfig(activation="swish"), ValueError, r"activation.*'swish'"),
    ("dropout 1", lambda e: GPTConfig(dropout=1.0), ValueError, r"dropout.*1\.0"),
    ("unknown config field", lambda e: GPTConfig.from_dict({"n_layers": 2}), ValueError, r"n_layers"),
    ("attention heads", lambda e: MultiHeadAttention(10, 3), ValueError, r"10.*3"),
    ("q and k sizes", lambda e: scaled_dot_product_attention(torch.ones(2, 4), torch.ones(2, 3), torch.ones(2, 3)),
     ValueError, r"4 and 3"),
    ("train lr", lambda e: TrainConfig(lr=-1.0), ValueError, r"lr=-1\.0"),
    ("train batch size", lambda e: TrainConfig(batch_size=0), ValueError, r"batch_size.*got 0"),
    ("unknown preset", lambda e: preset("huge"), ValueError, r"'huge'"),
    # masks and the bigram model
    ("causal mask of length 0", lambda e: causal_mask(0), ValueError, r"T must be a positive int, got 0"),
    ("padding longer than T", lambda e: padding_mask([2, 7], 5), ValueError, r"\[1, 5\].*\[2, 7\]"),
    ("additive from float mask", lambda e: to_additive(torch.zeros(2, 2)), TypeError, r"bool.*torch\.float32"),
    ("bigram vocab", lambda e: BigramLM(0), ValueError, r"vocab_size.*got 0"),
    ("bigram smoothing", lambda e: BigramLM(3, k=-1), ValueError, r"k.*got -1"),
    ("bigram id out of range", lambda e: BigramLM(3).fit([[0, 4]]), ValueError, r"\[4\].*\[0, 3\)"),
    # checkpoints
    ("truncated safetensors", lambda e: load_checkpoint(e.truncated), ValueError, r"truncated\.safetensors.*truncated or corrupt"),
    ("config mismatches weights", lambda e: load_checkpoint(e.mismatched), ValueError,
     r"mismatched\.safetensors does not match its config.*'n_embd': 16.*wrong shape"),
    ("garbage JSON", lambda e: load_checkpoint(e.garbage), ValueError, r"garbage\.json is not a valid checkpoint config"),
    ("missing file", lambda e: load_checkpoint(e.missing), FileNotFoundError, r"nowhere.*model\.safetensors.*not found"),
    # devices
    ("bad device string", lambda e: pick_device("gpu"), ValueError, r"'cpu', 'cuda'.*got 'gpu'"),
    ("bad device for a checkpoint", lambda e: load_checkpoint(e.good, device="tpu"), ValueError, r"'tpu'"),
]


@pytest.mark.parametrize("call,error,pattern", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_is_rejected_with_a_clear_message(env: Env, call, error: type, pattern: str) -> None:
    with pytest.raises(error) as info:
        call(env)
    assert type(info.value) is error  # not a subclass: the documented type exactly
    assert re.search(pattern, str(info.value), flags=re.DOTALL), str(info.value)


def test_the_good_checkpoint_loads(env: Env) -> None:
    """The spoilt files above differ from a loadable one only in the way each row names."""
    model, _, _ = load_checkpoint(env.good)
    assert model.config == env.model.config
