"""The explorers say on screen when a starting value was moved into a control's range."""
from __future__ import annotations

import pytest
import torch

from glmlib.data import CharTokenizer
from glmlib.model import GPT, GPTConfig
from glmlib.widgets import MaskExplorer, SamplingExplorer
from glmlib.widgets._render import _descendants

TOK = CharTokenizer.from_text("abcdefghijklm ")


@pytest.fixture(scope="module")
def gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=8)).eval()


def test_a_clamped_start_value_is_noted_on_screen(gpt: GPT) -> None:
    ex = SamplingExplorer(gpt, TOK, prompt="abc", top_p=0.001, n_chars=5000)
    assert ex.top_p.value == 0.01 and ex.n_chars.value == 2000
    assert ex.state["notes"] == ["top_p 0.001 is outside this control's range [0.01, 1.0]; using 0.01",
                                 "n_chars 5000 is outside this control's range [1, 2000]; using 2000"]
    assert "top_p 0.001" in ex.notes.value and "n_chars 5000" in ex.notes.value
    assert ex.notes in list(_descendants(ex.widget))  # shown, not only recorded
    ex.top_p.value = 0.5  # the learner moves the slider: its note goes, the other stays
    assert ex.state["notes"] == ["n_chars 5000 is outside this control's range [1, 2000]; using 2000"]
    assert "top_p" not in ex.notes.value


def test_values_in_range_give_no_note(gpt: GPT) -> None:
    ex = SamplingExplorer(gpt, TOK, prompt="abc", top_p=0.333, top_k=3, n_chars=50)
    assert ex.state["notes"] == [] and ex.notes.value == ""
    assert ex.top_p.value == 0.333


def test_mask_lengths_are_not_rounded() -> None:
    with pytest.raises(ValueError, match=r"lengths must be whole numbers, got 3\.7"):
        MaskExplorer(T=8, lengths=[3.7])
    assert MaskExplorer(T=8, lengths=[3, 8]).state["lengths"] == [3, 8]


def test_a_query_past_the_text_is_noted_on_screen(gpt: GPT) -> None:
    from glmlib.widgets import AttentionExplorer

    ex = AttentionExplorer(gpt, TOK, text="abcd", query=500)
    assert ex.query.value == 3
    assert ex.state["notes"] == ["query 500 is outside the text's positions [0, 3]; using 3"]
    assert "query 500" in ex.notes.value and ex.notes in list(_descendants(ex.widget))
    ex.query.value = 1
    assert ex.state["notes"] == [] and ex.notes.value == ""
    assert AttentionExplorer(gpt, TOK, text="abcd", query=2).state["notes"] == []
    with pytest.raises(ValueError, match=r"query must be an int.*2\.5"):
        AttentionExplorer(gpt, TOK, text="abcd", query=2.5)
