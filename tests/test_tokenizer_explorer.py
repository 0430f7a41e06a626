"""The tokenizer explorer (notebook 09), driven in the kernel: change a control, check what is shown.

The tokens shown at ``n`` merges are checked against ``glmlib.bpe``'s own
``with_merges(n).encode`` (the explorer splits one full encoding instead of
encoding again), the counts for every ``n`` against as many encodings, the
character view against ``CharTokenizer.encode``.
"""
from __future__ import annotations

import base64
import html
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from glmlib.bpe import BPETokenizer
from glmlib.data import CharTokenizer, train_val_split
from glmlib.widgets import TokenizerExplorer, tokenizer_explorer
from glmlib.widgets.tokenizer_explorer import MAX_CHARS, MAX_CHIPS, TABLE_ROWS, YOUR_TEXT, default_bpe, examples

MIXED = "caf\u00e9 na\u00efve \u2014 \u4f60\u597d\uff0c\u4e16\u754c <|endoftext|> x  = 1\n\n"


@pytest.fixture(autouse=True)
def no_figure_leaks():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


@pytest.fixture(scope="module")
def small_bpe(corpus) -> BPETokenizer:
    """60 merges and a special token, learned from a slice of the corpus (fast to train)."""
    train, _ = train_val_split(corpus)
    return BPETokenizer.train(train[:20_000], 256 + 60 + 1, special_tokens=["<|endoftext|>"])


@pytest.fixture(scope="module")
def explorer() -> TokenizerExplorer:
    """The default explorer (the default BPE, trained once per session), shared by tests that reset it."""
    return tokenizer_explorer()


def tokens_shown(ex: TokenizerExplorer) -> list[str]:
    return re.findall(r"<span class='glm-id'>([^<]*)</span>", ex.tokens.value)


def test_the_default_opens_on_english_with_the_default_bpe(explorer):
    ex = explorer
    assert ex.bpe is default_bpe() and tokenizer_explorer().bpe is ex.bpe  # trained once, then shared
    assert ex.bpe.vocab_size == 512 and ex.merges.max == 256 == ex.merges.value
    assert ex.examples.value == "English" and ex.text.value == examples()["English"]
    assert ex.state["message"] == "" and ex.state["mode"] == "bpe"
    assert ex.widget._dom_classes == ("glm-tokenizer-explorer",)
    assert set(examples()) == {"English", "Shakespeare", "Chinese", "code"}


@pytest.mark.parametrize("name", ["English", "Shakespeare", "Chinese", "code"])
def test_the_tokens_at_each_slider_position_are_those_of_with_merges(explorer, name):
    ex = explorer
    ex.mode.value = "bpe"
    ex.examples.value = name
    text = examples()[name]
    assert ex.text.value == text
    for n in (0, 1, 17, 100, 255, 256):
        ex.merges.value = n
        expected = ex.bpe.with_merges(n).encode(text)
        st = ex.state
        assert st["ids"] == expected, (name, n)
        assert b"".join(st["pieces"]) == text.encode("utf-8")
        assert st["n_tokens"] == len(expected) and st["vocab_size"] == 256 + n
        assert st["tokens_per_char"] == pytest.approx(len(expected) / len(text))
        assert st["attention_cost"] == pytest.approx((len(expected) / len(text)) ** 2)
        assert [int(i) for i in tokens_shown(ex)] == expected  # one chip per token, its id under it
        assert f"<b>{len(expected)} tokens</b>" in ex.readout.value
    ex.merges.value = 256


def test_the_curves_hold_the_count_for_every_number_of_merges(small_bpe):
    ex = tokenizer_explorer(MIXED, bpe=small_bpe, merges=30)
    counts = [len(small_bpe.with_merges(n).encode(MIXED)) for n in range(61)]
    assert ex.state["counts"].tolist() == counts
    assert counts[0] == len(MIXED.encode("utf-8")) - len("<|endoftext|>") + 1  # bytes, the special is one
    np.testing.assert_allclose(ex.state["drawn_rate"], np.array(counts) / len(MIXED))
    np.testing.assert_allclose(ex.state["drawn_cost"], (np.array(counts) / len(MIXED)) ** 2)
    for n in (0, 30, 60):  # the special token is numbered after the merges kept, as with_merges does
        ex.merges.value = n
        assert ex.state["ids"] == small_bpe.with_merges(n).encode(MIXED)
        assert ex.state["vocab_size"] == small_bpe.with_merges(n).vocab_size
    ex.close()


def test_moving_the_slider_changes_the_count_and_the_picture_without_a_full_redraw(explorer):
    ex = explorer
    ex.mode.value = "bpe"
    ex.examples.value = "Shakespeare"
    ex.merges.value = 256
    few, picture, draws = ex.state["n_tokens"], bytes(ex.image.value), ex._fig.full_draws
    ex.merges.value = 20
    assert ex.state["n_tokens"] > few  # fewer merges, more tokens
    assert bytes(ex.image.value) != picture
    assert ex._fig.full_draws == draws  # only the curve's marker and titles repainted over the background
    assert "20 merges:" in ex._ax_rate.get_title()
    ex.merges.value = 256


def test_the_character_tokenizer_shows_unknown_characters_without_failing(explorer):
    ex = explorer
    ex.examples.value = "Chinese"
    ex.mode.value = "char"
    st = ex.state
    text = examples()["Chinese"]
    assert st["message"] == "" and st["n_tokens"] == len(text) and st["attention_cost"] == 1.0
    assert ex.merges.disabled
    chars = ex.char_tokenizer
    assert st["unknown"] == sorted({c for c in text if c not in chars.stoi})
    assert "\u4f60" not in chars.stoi and "\u6708" in st["unknown"]
    assert st["ids"] == [chars.stoi.get(c) for c in text]
    shown = tokens_shown(ex)
    assert shown.count("?") == sum(c in st["unknown"] for c in text) and len(shown) == len(text)
    assert "not in it" in ex.readout.value and "glm-unknown" in ex.tokens.value
    ex.examples.value = "Shakespeare"  # every character known: ids as CharTokenizer.encode gives them
    assert ex.state["unknown"] == [] and ex.state["ids"] == chars.encode(ex.text.value)
    ex.mode.value = "bpe"
    assert not ex.merges.disabled


def test_a_character_split_across_tokens_is_shown_as_its_bytes():
    # one merge: the space and the first byte of "é" (c3 a9) -- a token that ends inside a character
    bpe = BPETokenizer([(32, 0xC3)])
    ex = tokenizer_explorer("a \u00e9", bpe=bpe)
    assert ex.state["ids"] == [97, 256, 0xA9]
    chips = ex.tokens.value
    assert "\ufffd" not in chips  # never a replacement character for half a character
    assert "<span class='glm-hex'>c3</span>" in chips and "<span class='glm-hex'>a9</span>" in chips
    titles = [html.unescape(t) for t in re.findall(r"title='([^']*)'", chips)]
    assert "bytes 1-1 of 2 of \u00e9 (U+00E9" in titles[1] and "2 bytes: 20 c3" in titles[1]
    assert "bytes 2-2 of 2 of \u00e9" in titles[2]
    ex.merges.value = 0  # bytes: "é" is two tokens of one byte each, both shown as hex
    assert ex.state["ids"] == [97, 32, 0xC3, 0xA9]
    ex.view.value = "table"
    table = ex.tokens.value
    assert "<td>20 c3</td>" not in table and "<td>c3</td>" in table and "<td>a9</td>" in table
    ex.merges.value = 1
    assert "<td>256</td><td>2</td><td>20 c3</td>" in ex.tokens.value
    ex.close()


def test_a_whole_character_of_several_bytes_in_one_token_is_shown_as_itself(small_bpe):
    bpe = BPETokenizer([(0xE4, 0xBD), (256, 0xA0)])  # the three bytes of 你, merged
    ex = tokenizer_explorer("\u4f60\u597d", bpe=bpe)
    assert ex.state["ids"] == [257, 0xE5, 0xA5, 0xBD]
    assert ">\u4f60</span>" in ex.tokens.value and "e5" in ex.tokens.value
    ex.close()


def test_a_long_text_draws_its_first_tokens_and_counts_them_all(explorer):
    ex = explorer
    ex.mode.value = "bpe"
    ex.merges.value = 0
    ex.text.value = "\u4f60" * MAX_CHARS  # 3 bytes each: 15,000 tokens without merges
    st = ex.state
    assert st["n_tokens"] == 3 * MAX_CHARS and st["tokens_per_char"] == 3.0 and st["attention_cost"] == 9.0
    assert len(tokens_shown(ex)) == MAX_CHIPS and f"and {3 * MAX_CHARS - MAX_CHIPS:,} more tokens" in ex.tokens.value
    ex.view.value = "table"
    assert ex.tokens.value.count("<tr>") == 1 + TABLE_ROWS + 1  # the header, the rows, "and ... more"
    ex.view.value = "chips"
    ex.merges.value = 256
    ex.examples.value = "English"


def test_the_examples_and_the_text_follow_each_other(explorer):
    ex = explorer
    ex.examples.value = "code"
    assert ex.text.value == examples()["code"]
    ex.text.value = "x = 1\n"
    assert ex.examples.value == YOUR_TEXT and ex.state["n_chars"] == 6
    ex.examples.value = "English"
    assert ex.text.value == examples()["English"]


def test_the_shakespeare_example_is_from_the_corpus_the_default_bpe_did_not_learn_from(corpus):
    _, val = train_val_split(corpus)
    passage = examples()["Shakespeare"]
    assert len(passage) > 200 and val.startswith(passage) and passage.endswith("\n")


def test_an_empty_text_has_no_tokens(explorer):
    ex = explorer
    ex.text.value = ""
    assert ex.state["message"] == "" and ex.state["n_tokens"] == 0 and "empty" in ex.readout.value
    ex.mode.value = "char"
    assert ex.state["n_tokens"] == 0
    ex.mode.value = "bpe"
    ex.examples.value = "English"


def test_a_text_typed_in_that_it_cannot_show_becomes_a_message(explorer):
    ex = explorer
    ex.examples.value = "English"
    good = dict(ex.state)
    picture = bytes(ex.image.value)
    ex.text.value = "a" * (MAX_CHARS + 1)
    message = ex.state["message"]
    assert f"{MAX_CHARS + 1:,} characters" in message and f"at most {MAX_CHARS:,}" in message
    assert "#fee" in ex.readout.value and bytes(ex.image.value) == picture
    ex.text.value = "ab\ud800c"  # not a character: no UTF-8 bytes
    assert "lone surrogate U+D800 at character 2" in ex.state["message"]
    ex.text.value = examples()["English"]
    assert ex.state["message"] == "" and ex.state["n_tokens"] == good["n_tokens"]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"text": 42}, TypeError, r"text must be a str, got int"),
    ({"text": "a" * (MAX_CHARS + 1)}, ValueError, rf"the text has {MAX_CHARS + 1:,} characters; the explorer "
                                                  rf"shows at most {MAX_CHARS:,}"),
    ({"text": "\udc80"}, ValueError, r"lone surrogate U\+DC80 at character 0"),
    ({"example": "French"}, ValueError, r"example must be one of \['English', 'Shakespeare', 'Chinese', "
                                        r"'code'\], got 'French'"),
    ({"merges": 257}, ValueError, r"merges must be a whole number from 0 to 256 \(the tokenizer's merges\), "
                                  r"got 257"),
    ({"merges": -1}, ValueError, r"from 0 to 256 .*got -1"),
    ({"merges": 2.0}, ValueError, r"from 0 to 256 .*got 2\.0"),
    ({"merges": True}, ValueError, r"from 0 to 256 .*got True"),
    ({"tokenizer": "word"}, ValueError, r"tokenizer must be 'bpe' or 'char', got 'word'"),
    ({"bpe": CharTokenizer(list("ab"))}, TypeError, r"bpe must be a trained glmlib\.bpe\.BPETokenizer, "
                                                    r"got CharTokenizer"),
    ({"char_tokenizer": "abc"}, TypeError, r"char_tokenizer must be a glmlib\.tokenizers\.CharTokenizer, got str"),
])
def test_bad_arguments_are_refused_naming_the_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        tokenizer_explorer(**kwargs)


def test_numpy_whole_numbers_and_the_ends_of_the_slider_are_taken():
    assert tokenizer_explorer(merges=np.int64(0)).merges.value == 0
    ex = tokenizer_explorer(merges=np.int32(256), tokenizer="char", example="code")
    assert ex.merges.value == 256 and ex.state["mode"] == "char" and ex.merges.disabled
    ex.close()


def test_a_given_character_tokenizer_is_used(small_bpe):
    chars = CharTokenizer(list("abc "))
    ex = tokenizer_explorer("abc dab", bpe=small_bpe, char_tokenizer=chars, tokenizer="char")
    assert ex.state["ids"] == [0, 1, 2, 3, None, 0, 1] and ex.state["unknown"] == ["d"]
    assert ex.state["vocab_size"] == 4
    ex.close()


def test_the_display_carries_the_picture_shown(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle

    def pixels(png: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(png)) as img:
            return np.asarray(img.convert("RGB"))

    picture = pixels(base64.b64decode(bundle["image/png"]))
    assert picture.shape[0] > 200 and picture.shape[1] > 400
    assert np.array_equal(picture, pixels(bytes(explorer.image.value)))
