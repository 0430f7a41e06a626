"""The shipped model: a consistent, safe checkpoint that reaches its validation loss."""
import json
import math

import pytest
import torch
from safetensors import safe_open

from glmlib.data import load_shakespeare, train_val_split
from glmlib.model import PRETRAINED, GPT, GPTConfig, load_pretrained
from glmlib.train import evaluate

MAX_BYTES = 12 * 1024 * 1024
MAX_VAL_LOSS = 1.60  # nats per character on the validation split


def test_files_are_small_and_match_their_config():
    weights = PRETRAINED.with_suffix(".safetensors")
    meta = json.loads(PRETRAINED.with_suffix(".json").read_text())
    assert weights.stat().st_size < MAX_BYTES
    expected = GPT(GPTConfig(**meta["config"])).state_dict()
    expected.pop("lm_head.weight")  # tied to wte.weight, stored once
    with safe_open(str(weights), "pt") as f:
        stored = {k: f.get_slice(k).get_shape() for k in f.keys()}
    assert stored == {k: list(v.shape) for k, v in expected.items()}
    assert len(meta["tokenizer"]["chars"]) == meta["config"]["vocab_size"]


def test_tokenizer_covers_the_corpus():
    _, tokenizer = load_pretrained()
    assert set(tokenizer.chars) == set(load_shakespeare())


@pytest.mark.slow
def test_reaches_the_validation_loss():
    model, tokenizer = load_pretrained()
    _, val_text = train_val_split(load_shakespeare())
    with torch.inference_mode():
        loss = evaluate(model, tokenizer.encode_tensor(val_text))
    recorded = json.loads(PRETRAINED.with_suffix(".json").read_text())["val_loss"]
    assert loss <= MAX_VAL_LOSS, f"validation loss {loss:.4f} > {MAX_VAL_LOSS}"
    assert math.isclose(loss, recorded, abs_tol=2e-3), f"measured {loss:.4f}, data/ says {recorded:.4f}"


def test_samples_look_like_a_play():
    model, tokenizer = load_pretrained()
    prompt = torch.tensor([tokenizer.encode("ROMEO:\n")])
    out = model.generate(prompt, 400, temperature=0.8, generator=torch.Generator().manual_seed(0))
    text = tokenizer.decode(out[0])
    speakers = [line for line in text.splitlines() if line.endswith(":") and line[:-1].isupper()]
    assert len(speakers) >= 2, text  # new speeches begin with a SPEAKER: line
    def words(s: str) -> list[str]:
        return [w.strip(".,;:!?'-\"").lower() for w in s.split()]

    vocabulary = set(words(load_shakespeare()))
    words = [w for w in words(text) if w]
    real = sum(w in vocabulary for w in words)
    assert real / len(words) > 0.8, text
