"""Bad input gets a clear error that names the bad value: one table, one row per mistake."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import pytest
import torch
from safetensors.torch import save

from glmlib.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention
from glmlib.data import CharTokenizer, get_batch, train_val_split
from glmlib.device import pick_device
from glmlib.masks import causal_mask, padding_mask, to_additive
from glmlib.model import GPT, GPTConfig, load_checkpoint, save_checkpoint
from glmlib.ngram import BigramLM
from glmlib.sampling import sample, top_k_filter, top_p_filter, warp
from glmlib.train import TrainConfig, preset, train
from glmlib.widgets import mask_explorer

NAN, INF = float("nan"), float("inf")
TINY = dict(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=8)


class Env:
    """What the rows act on: a tiny model, its tokenizer and checkpoint files spoilt in various ways.

    Each spoilt checkpoint is written in both formats: ``legacy_*`` keeps its record in the
    ``.json`` file (format 1, like the shipped model), ``inner_*`` inside the safetensors header
    (format 2, what ``save_checkpoint`` writes now).
    """

    def __init__(self, root: Path) -> None:
        torch.manual_seed(0)
        self.root = root
        self.model = GPT(GPTConfig(**TINY)).eval()
        self.tok = CharTokenizer.from_text("abcde")
        self.logits = torch.randn(2, 5)
        save_checkpoint(self.model, self.tok, root / "good")
        self.good = root / "good"
        self.state = {k: v for k, v in self.model.state_dict().items() if k != "lm_head.weight"}
        self.record = load_checkpoint(self.good)[2]
        raw = (root / "good.safetensors").read_bytes()
        self.truncated = root / "truncated"
        (root / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
        (root / "truncated.json").write_text(json.dumps(self.record))
        self.missing = root / "nowhere" / "model"
        self.a_file = root / "a_file"
        self.a_file.write_text("not a folder")

    def spoilt(self, name: str, fmt: str, config: dict | None = None, tokenizer: dict | None = None,
               text: str | bytes | None = None, state: dict | None = None, metadata: dict | None = None,
               sidecar: bool = True) -> Path:
        """A checkpoint like the good one but with ``config``/``tokenizer`` fields changed, a raw
        record ``text``, other tensors or other header ``metadata``, in format ``legacy`` (with its
        ``.json`` unless not ``sidecar``) or ``inner``."""
        base = self.root / f"{fmt}_{name}"
        record = {**self.record, "config": {**self.record["config"], **(config or {})},
                  "tokenizer": {**self.record["tokenizer"], **(tokenizer or {})}}
        text = json.dumps(record) if text is None else text
        meta = {"format": "glmlib-gpt"} if metadata is None else metadata
        if fmt == "inner":
            meta = {**meta, "glmlib.record": text if isinstance(text, str) else text.decode("latin-1")}
        base.with_suffix(".safetensors").write_bytes(save(self.state if state is None else state, metadata=meta))
        if fmt == "legacy" and sidecar:
            base.with_suffix(".json").write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
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


def nan_model(model: GPT) -> GPT:
    """A copy of ``model`` whose final LayerNorm bias is NaN."""
    twin = GPT(model.config)
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():
        twin.ln_f.bias.fill_(NAN)
    return twin


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
    # ... and what used to be coerced without a word
    ("decode float ids", lambda e: e.tok.decode([1.7, 2.2]), TypeError, r"ints, got 1\.7"),
    ("decode string ids", lambda e: e.tok.decode(["1"]), TypeError, r"ints, got '1'"),
    ("decode a str", lambda e: e.tok.decode("ab"), TypeError, r"sequence of ints, got str"),
    ("decode a float tensor", lambda e: e.tok.decode(torch.tensor([1.0])), TypeError, r"integers.*torch\.float32"),
    ("decode a 2-D tensor", lambda e: e.tok.decode(torch.zeros(2, 3, dtype=torch.long)), ValueError,
     r"1-D, got shape \(2, 3\).*ids\[0\]"),
    ("batches from float data", lambda e: get_batch(torch.arange(10.0), 2, 4), TypeError, r"integer.*torch\.float32"),
    ("batch size 2.5", lambda e: get_batch(torch.arange(10), 2.5, 4), TypeError, r"batch_size.*2\.5"),
    ("multi-character token", lambda e: CharTokenizer(["ab", "c"]), ValueError, r"single characters.*'ab'"),
    ("no characters", lambda e: CharTokenizer([]), ValueError, r"at least one character"),
    ("special equal to a char", lambda e: CharTokenizer(["a", "b"], specials=["a"]), ValueError,
     r"specials \['a'\] repeat"),
    ("split a non-str", lambda e: train_val_split(b"abc"), TypeError, r"str.*bytes"),
    ("split one character", lambda e: train_val_split("a"), ValueError, r"1 characters is too short"),
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
    ("dropout as a string", lambda e: GPTConfig(dropout="0.1"), ValueError, r"dropout.*'0\.1'"),
    ("bias as a string", lambda e: GPTConfig(bias="false"), ValueError, r"bias must be True or False, got 'false'"),
    ("a billion layers", lambda e: GPTConfig(n_layer=10**9), ValueError, r"n_layer.*\[1, 256\].*1000000000"),
    ("too many parameters", lambda e: GPTConfig(n_layer=200, n_embd=8192), ValueError,
     r"parameters, more than the 2,000,000,000"),
    ("unknown config field", lambda e: GPTConfig.from_dict({"n_layers": 2}), ValueError, r"n_layers"),
    ("attention heads", lambda e: MultiHeadAttention(10, 3), ValueError, r"10.*3"),
    ("q and k sizes", lambda e: scaled_dot_product_attention(torch.ones(2, 4), torch.ones(2, 3), torch.ones(2, 3)),
     ValueError, r"4 and 3"),
    ("train lr", lambda e: TrainConfig(lr=-1.0), ValueError, r"lr=-1\.0"),
    ("train batch size", lambda e: TrainConfig(batch_size=0), ValueError, r"batch_size.*got 0"),
    ("unknown preset", lambda e: preset("huge"), ValueError, r"'huge'"),
    ("train max_iters 2.5", lambda e: TrainConfig(max_iters=2.5), ValueError, r"max_iters must be an int >= 0, got 2\.5"),
    ("train lr inf", lambda e: TrainConfig(lr=INF), ValueError, r"lr must be a finite number, got inf"),
    ("train grad_clip NaN", lambda e: TrainConfig(grad_clip=NAN), ValueError, r"grad_clip must be a finite number, got nan"),
    ("train weight decay -1", lambda e: TrainConfig(weight_decay=-1.0), ValueError, r"weight_decay must be >= 0, got -1\.0"),
    ("train threads 0", lambda e: TrainConfig(threads=0), ValueError, r"threads must be an int >= 1, got 0"),
    ("train huge seed", lambda e: TrainConfig(seed=99999999999999999999999), ValueError,
     r"seed must be an int in \[0, 9223372036854775806\], got 99999999999999999999999"),
    ("train out ''", lambda e: TrainConfig(out=""), ValueError, r"out must be a non-empty path, got ''"),
    ("train heads", lambda e: TrainConfig(n_embd=30), ValueError, r"n_embd \(30\).*n_head \(4\)"),
    ("train compile 'yes'", lambda e: TrainConfig(compile="yes"), ValueError, r"compile must be True or False, got 'yes'"),
    ("train overwrite and resume", lambda e: TrainConfig(out="x", overwrite=True, resume=True), ValueError,
     r"overwrite .* or resume .* not both"),
    ("train with a dict", lambda e: train({"lr": 1e-3}), TypeError, r"TrainConfig, got dict"),
    # masks and the bigram model
    ("causal mask of length 0", lambda e: causal_mask(0), ValueError, r"T must be a positive int, got 0"),
    ("padding longer than T", lambda e: padding_mask([2, 7], 5), ValueError, r"\[1, 5\].*\[2, 7\]"),
    ("mask explorer lengths 3.7", lambda e: mask_explorer(lengths=[3.7]), ValueError, r"whole numbers, got 3\.7"),
    ("additive from float mask", lambda e: to_additive(torch.zeros(2, 2)), TypeError, r"bool.*torch\.float32"),
    ("bigram vocab", lambda e: BigramLM(0), ValueError, r"vocab_size.*got 0"),
    ("bigram smoothing", lambda e: BigramLM(3, k=-1), ValueError, r"k.*got -1"),
    ("bigram id out of range", lambda e: BigramLM(3).fit([[0, 4]]), ValueError, r"\[4\].*\[0, 3\)"),
    ("bigram eos -1", lambda e: BigramLM(3, eos=-1), ValueError, r"eos must be a token id in \[0, 3\).*-1"),
    ("bigram bos past the vocabulary", lambda e: BigramLM(3, bos=3), ValueError, r"bos.*\[0, 3\).*3"),
    ("bigram start -1", lambda e: BigramLM(3).sample(4, start=-1), ValueError, r"start.*\[0, 3\).*-1"),
    ("bigram float ids", lambda e: BigramLM(3).fit([[0.5, 1]]), TypeError, r"ints, got 0\.5"),
    ("integer 0/1 mask", lambda e: scaled_dot_product_attention(torch.ones(2, 4), torch.ones(2, 4), torch.ones(2, 4),
                                                                 torch.ones(2, 2, dtype=torch.long)),
     TypeError, r"bool \(True = may attend\).*torch\.int64.*mask\.bool\(\)"),
    ("NaN additive mask", lambda e: scaled_dot_product_attention(torch.ones(2, 4), torch.ones(2, 4), torch.ones(2, 4),
                                                                 torch.full((2, 2), NAN)),
     ValueError, r"NaN or \+inf"),
    # checkpoints
    ("truncated safetensors", lambda e: load_checkpoint(e.truncated), ValueError, r"truncated\.safetensors.*truncated or corrupt"),
    ("missing file", lambda e: load_checkpoint(e.missing), FileNotFoundError, r"nowhere.*model\.safetensors.*not found"),
    ("foreign safetensors file", lambda e: load_checkpoint(e.spoilt("foreign", "legacy", metadata={"format": "pt"})),
     ValueError, r"legacy_foreign\.safetensors is not a glmlib checkpoint.*'pt'"),
    ("NaN weights", lambda e: load_checkpoint(e.spoilt("nan", "inner", state={**e.state, "ln_f.bias": torch.full((8,), NAN)})),
     ValueError, r"inner_nan\.safetensors.*\['ln_f\.bias'\].*NaN"),
    ("integer weights", lambda e: load_checkpoint(e.spoilt("int", "inner", state={**e.state, "ln_f.bias": torch.zeros(8, dtype=torch.long)})),
     ValueError, r"inner_int\.safetensors.*\['ln_f\.bias'\].*not floating point.*I64"),
    ("legacy record missing", lambda e: load_checkpoint(e.spoilt("nojson", "legacy", sidecar=False)),
     FileNotFoundError, r"legacy_nojson\.json not found"),
    *[row for fmt, where in (("legacy", r"\.json"), ("inner", r"\.safetensors")) for row in [
        (f"{fmt}: config mismatches weights", lambda e, f=fmt: load_checkpoint(e.spoilt("mismatched", f, {"n_embd": 16})),
         ValueError, rf"{fmt}_mismatched\.safetensors does not match its config.*'n_embd': 16.*wrong shape"),
        (f"{fmt}: more layers than stored", lambda e, f=fmt: load_checkpoint(e.spoilt("layers", f, {"n_layer": 200})),
         ValueError, rf"{fmt}_layers\.safetensors does not match.*missing: \['blocks\.1\."),
        (f"{fmt}: garbage JSON", lambda e, f=fmt: load_checkpoint(e.spoilt("garbage", f, text="{ this is not json")),
         ValueError, rf"{fmt}_garbage{where} is not a valid checkpoint config"),
        (f"{fmt}: record without a config", lambda e, f=fmt: load_checkpoint(e.spoilt("noconfig", f, text='{"tokenizer": {}}')),
         ValueError, rf"{fmt}_noconfig{where} is not a valid checkpoint config.*'config'"),
        (f"{fmt}: a billion layers", lambda e, f=fmt: load_checkpoint(e.spoilt("deep", f, {"n_layer": 1_000_000_000})),
         ValueError, rf"{fmt}_deep{where}: bad config: GPTConfig\.n_layer.*\[1, 256\].*1000000000"),
        (f"{fmt}: block_size 1e11", lambda e, f=fmt: load_checkpoint(e.spoilt("long", f, {"block_size": 1e11})),
         ValueError, rf"{fmt}_long{where}: bad config: GPTConfig\.block_size.*100000000000\.0"),
        (f"{fmt}: too many parameters", lambda e, f=fmt: load_checkpoint(e.spoilt("wide", f, {"n_layer": 100, "n_embd": 16384})),
         ValueError, rf"{fmt}_wide{where}: bad config: .*parameters, more than"),
        (f"{fmt}: bias as a string", lambda e, f=fmt: load_checkpoint(e.spoilt("bias", f, {"bias": "false"})),
         ValueError, rf"{fmt}_bias{where}: bad config: bias must be True or False, got 'false'"),
        (f"{fmt}: duplicate tokenizer", lambda e, f=fmt: load_checkpoint(e.spoilt("dup", f, tokenizer={"chars": "abcda"})),
         ValueError, rf"{fmt}_dup{where}: bad tokenizer: .*duplicates.*\['a'\]"),
        (f"{fmt}: empty tokenizer", lambda e, f=fmt: load_checkpoint(e.spoilt("empty", f, tokenizer={"chars": ""})),
         ValueError, rf"{fmt}_empty{where}: bad tokenizer: .*at least one"),
        (f"{fmt}: tokenizer chars not a str", lambda e, f=fmt: load_checkpoint(e.spoilt("chars", f, tokenizer={"chars": 5})),
         ValueError, rf"{fmt}_chars{where}: bad tokenizer: .*chars.*5"),
    ]],
    ("non-UTF-8 JSON", lambda e: load_checkpoint(e.spoilt("latin", "legacy", text=json.dumps(e.record).replace(
        '"config"', '"config", "note": "caf\u00e9"', 1).encode("latin-1"))),
     ValueError, r"legacy_latin\.json is not a valid checkpoint config: not UTF-8"),
    ("save: extra sets the tokenizer", lambda e: save_checkpoint(e.model, e.tok, e.root / "x", {"tokenizer": {"chars": "vwxyz"}}),
     ValueError, r"extra may not set \['tokenizer'\]"),
    ("save: a tensor in extra", lambda e: save_checkpoint(e.model, e.tok, e.root / "x", {"val_loss": torch.tensor(1.0)}),
     TypeError, r"extra\['val_loss'\] is a Tensor.*JSON"),
    ("save: NaN in extra", lambda e: save_checkpoint(e.model, e.tok, e.root / "x", {"history": [{"val": NAN}]}),
     ValueError, r"extra\['history'\]\[0\]\['val'\] is nan"),
    ("save: wrong tokenizer", lambda e: save_checkpoint(e.model, CharTokenizer.from_text("abc"), e.root / "x"),
     ValueError, r"tokenizer has 3 tokens.*expects 5"),
    ("save: NaN weights", lambda e: save_checkpoint(nan_model(e.model), e.tok, e.root / "x"), ValueError,
     r"\['ln_f\.bias'\] contain NaN.*not saved"),
    ("save: empty name", lambda e: save_checkpoint(e.model, e.tok, ""), ValueError, r"needs a file name, got '\.'|''"),
    ("save under a file", lambda e: save_checkpoint(e.model, e.tok, e.a_file / "model"), NotADirectoryError,
     r"cannot write checkpoint .*a_file/model\.safetensors"),
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
