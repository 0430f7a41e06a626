"""Every checkpoint format glmlib has written still loads, unchanged (issue #27).

The fixtures in tests/fixtures/checkpoints were written by glmlib before checkpoints and tokenizers
got their own modules (see the README there); the shipped model in data/ is format 1.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from glmlib.data import CharTokenizer
from glmlib.model import load_checkpoint, load_pretrained, load_train_state

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", ["format1_tiny", "format2_tiny"])
def test_an_old_checkpoint_loads_with_the_same_model_and_tokenizer(name: str) -> None:
    with safe_open(str(FIXTURES / f"{name}.safetensors"), "pt") as f:
        assert "glmlib.checksum" not in (f.metadata() or {})  # written before checksums
    model, tokenizer, record = load_checkpoint(FIXTURES / name)
    assert isinstance(tokenizer, CharTokenizer)
    assert tokenizer.chars == list("\nabcd") and tokenizer.specials == ["<bos>"]
    assert "kind" not in record["tokenizer"]  # the record is returned as it was stored
    assert model.config.vocab_size == 6 and model.config.n_embd == 8
    logits, _ = model(torch.tensor([EXPECTED["idx"]]))
    assert torch.allclose(logits[0, -1], torch.tensor(EXPECTED["last_logits"]), atol=1e-6)


def test_an_old_checkpoints_extra_and_training_state_load() -> None:
    _, _, record = load_checkpoint(FIXTURES / "format2_tiny")
    assert record["iters_done"] == 3 and record["note"].startswith("format 2")
    state = load_train_state(FIXTURES / "format2_tiny")
    assert sorted(state) == ["adamw.wte.weight.exp_avg", "rng.batches"]
    assert torch.equal(state["rng.batches"], torch.arange(4, dtype=torch.uint8))


def test_the_shipped_model_loads_as_before() -> None:
    model, tokenizer = load_pretrained()
    assert isinstance(tokenizer, CharTokenizer) and tokenizer.vocab_size == 75
    assert model.config.n_layer == 6 and model.config.n_embd == 160
    ids = torch.tensor([tokenizer.encode("ROMEO:\n")])
    logits, _ = model(ids)
    assert logits.shape == (1, 7, 75) and torch.isfinite(logits).all()
