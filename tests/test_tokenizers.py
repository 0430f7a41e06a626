"""One tokenizer interface (glmlib.tokenizers.Tokenizer), and checkpoints that store which tokenizer (issue #27)."""
from __future__ import annotations

import json
from typing import Iterable

import pytest
import torch

import glmlib.data
from glmlib import tokenizers
from glmlib.checkpoints import load_checkpoint, save_checkpoint
from glmlib.model import GPT, GPTConfig
from glmlib.tokenizers import CharTokenizer, Tokenizer, token_id_list, tokenizer_from_record


class ByteTokenizer(Tokenizer):
    """A stand-in for the next tokenizer (byte-level BPE without merges): one id per UTF-8 byte."""

    kind = "test-bytes"

    @property
    def vocab_size(self) -> int:
        return 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        return bytes(token_id_list(ids)).decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        return {"merges": []}

    @classmethod
    def from_dict(cls, d: dict) -> "ByteTokenizer":
        if d != {"merges": []}:
            raise ValueError(f"a test-bytes tokenizer has no merges, got {d!r}")
        return cls()


@pytest.fixture
def byte_kind():
    tokenizers.register(ByteTokenizer)
    try:
        yield ByteTokenizer
    finally:
        tokenizers.TOKENIZERS.pop(ByteTokenizer.kind)


def tiny(vocab_size: int) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=8)).eval()


def test_the_character_tokenizer_implements_the_interface_where_it_always_was() -> None:
    assert glmlib.data.CharTokenizer is CharTokenizer and issubclass(CharTokenizer, Tokenizer)
    tok = CharTokenizer.from_text("hello", specials=["<bos>"])
    assert tok.to_record() == {"kind": "char", "chars": "ehlo", "specials": ["<bos>"]}
    again = tokenizer_from_record(tok.to_record())
    assert isinstance(again, CharTokenizer) and again.itos == tok.itos and again.same_as(tok)
    assert not again.same_as(CharTokenizer.from_text("hell"))
    assert tokenizer_from_record({"chars": "ab", "specials": []}).itos == ["a", "b"]  # no kind: a char tokenizer
    assert torch.equal(Tokenizer.encode_tensor(tok, "hole"), tok.encode_tensor("hole"))  # the generic path agrees


def test_an_incomplete_tokenizer_cannot_be_made() -> None:
    class NoDecode(Tokenizer):
        kind = "half"
        vocab_size = 3

        def encode(self, text: str) -> list[int]:
            return []

    with pytest.raises(TypeError, match="abstract"):
        NoDecode()


def test_kinds_are_checked() -> None:
    with pytest.raises(ValueError, match=r"unknown tokenizer kind 'bpe-v9'; this glmlib knows \['bpe', .*'char'"):
        tokenizer_from_record({"kind": "bpe-v9", "merges": []})
    with pytest.raises(ValueError, match=r"'bpe' tokenizer's record, not a 'char' one"):
        CharTokenizer.from_dict({"kind": "bpe", "chars": "ab"})
    with pytest.raises(ValueError, match=r"kind 'char' is taken by CharTokenizer"):
        tokenizers.register(type("Other", (ByteTokenizer,), {"kind": "char"}))


def test_a_checkpoint_records_the_tokenizers_kind(tmp_path) -> None:
    tok = CharTokenizer.from_text("abcde")
    save_checkpoint(tiny(5), tok, tmp_path / "ckpt")
    assert json.loads((tmp_path / "ckpt.json").read_text())["tokenizer"] == {"kind": "char", "chars": "abcde",
                                                                            "specials": []}
    _, loaded, record = load_checkpoint(tmp_path / "ckpt")
    assert isinstance(loaded, CharTokenizer) and loaded.same_as(tok) and record["tokenizer"]["kind"] == "char"


def test_another_tokenizer_travels_through_a_checkpoint(tmp_path, byte_kind) -> None:
    model = tiny(256)
    save_checkpoint(model, ByteTokenizer(), tmp_path / "bytes")
    loaded_model, loaded_tok, record = load_checkpoint(tmp_path / "bytes")
    assert type(loaded_tok) is ByteTokenizer and record["tokenizer"] == {"kind": "test-bytes", "merges": []}
    assert loaded_tok.decode(loaded_tok.encode("héllo")) == "héllo"
    ids = torch.tensor([loaded_tok.encode("abc")])
    assert torch.equal(loaded_model(ids)[0], model(ids)[0])


def test_an_unknown_kind_in_a_checkpoint_is_refused_by_name(tmp_path, byte_kind) -> None:
    save_checkpoint(tiny(256), ByteTokenizer(), tmp_path / "bytes")
    tokenizers.TOKENIZERS.pop(ByteTokenizer.kind)  # a glmlib that does not know this kind
    try:
        with pytest.raises(ValueError, match=r"bytes\.safetensors: bad tokenizer: unknown tokenizer kind 'test-bytes'"):
            load_checkpoint(tmp_path / "bytes")
    finally:
        tokenizers.register(ByteTokenizer)


def test_save_refuses_what_is_not_a_tokenizer(tmp_path) -> None:
    with pytest.raises(TypeError, match=r"tokenizer must be a glmlib\.tokenizers\.Tokenizer .*got dict"):
        save_checkpoint(tiny(5), {"chars": "abcde"}, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
