"""The explorers refuse a starting value outside a control's range (naming it), never clamp it silently;
name a temperature too small to show instead of passing torch's error on; take NumPy integers everywhere."""
from __future__ import annotations

import numpy as np
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


@pytest.mark.parametrize("kwargs, message", [
    ({"top_p": 0.001}, r"top_p must be from 0\.01 to 1 in the explorer \(1 or None = off\), got 0\.001"),
    ({"n_chars": 5000}, r"n_chars must be a whole number from 1 to 2000, got 5000"),
    ({"n_chars": 0}, r"n_chars must be a whole number from 1 to 2000, got 0"),
    ({"temperature": 1e-45}, r"temperature must be 0 \(greedy\) or from 0\.01 up to 2 in the explorer, got 1e-45"),
    ({"temperature": 2.5}, r"temperature must be 0 \(greedy\) or from 0\.01 up to 2 in the explorer, got 2\.5"),
])
def test_a_start_value_outside_a_control_is_refused_not_clamped(gpt: GPT, kwargs, message) -> None:
    # The course's convention for bad input: a ValueError naming the value and the allowed range,
    # never a value moved silently to the nearest end of a slider.
    with pytest.raises(ValueError, match=message):
        SamplingExplorer(gpt, TOK, prompt="abc", **kwargs)


def test_start_values_at_the_ends_of_the_controls_are_kept(gpt: GPT) -> None:
    ex = SamplingExplorer(gpt, TOK, prompt="abc", top_p=0.01, n_chars=2000, temperature=0.01)
    assert (ex.top_p.value, ex.n_chars.value, ex.temperature.value) == (0.01, 2000, 0.01)
    assert ex.settings() == {"temperature": 0.01, "top_k": None, "top_p": 0.01}
    ex = SamplingExplorer(gpt, TOK, prompt="abc", top_p=0.333, top_k=3, n_chars=1)
    assert (ex.top_p.value, ex.top_k.value, ex.n_chars.value) == (0.333, 3, 1)
    assert ex.state["message"] == ""


def test_top_k_above_the_vocabulary_keeps_all_as_the_library_does(gpt: GPT) -> None:
    ex = SamplingExplorer(gpt, TOK, prompt="abc", top_k=500)
    assert ex.top_k.value == TOK.vocab_size and ex.state["kept"] == TOK.vocab_size
    assert ex.state["message"] == ""


def test_the_sampling_explorer_takes_the_factory_n_chars(gpt: GPT) -> None:
    from glmlib.widgets import sampling_explorer

    assert sampling_explorer(gpt, TOK, prompt="abc", n_chars=7).n_chars.value == 7
    with pytest.raises(ValueError, match="got 5000"):
        sampling_explorer(gpt, TOK, prompt="abc", n_chars=5000)


def test_a_tiny_temperature_set_from_code_is_named_not_handed_to_torch(gpt: GPT) -> None:
    ex = SamplingExplorer(gpt, TOK, prompt="abc", seed=1)
    ex.temperature.value = 1e-45  # within the slider's [0, 2], but it would read 0.00 and overflow the logits
    assert "temperature must be 0 (greedy) or from 0.01 up to 2 in the explorer, got 1e-45" in ex.state["message"]
    assert ex.sample_one() is None and ex.generate() is None
    for shown in (ex.state["message"], ex.readout.value):
        assert "1e-45" in shown and "inf" not in shown.replace("in the explorer", "")
    ex.temperature.value = 0.0
    assert ex.state["message"] == "" and ex.generate() is not None


def test_the_generation_explorer_at_a_tiny_temperature_names_it(gpt: GPT) -> None:
    from glmlib.widgets import generation_explorer

    ex = generation_explorer(gpt, TOK, prompt="abc", temperature=1e-45)
    message = ex.state["message"]
    assert "temperature must be 0 (greedy) or from 0.01 up to 2 in the explorer, got 1e-45; using 1.0." in message
    assert ex.temperature.value == 1.0
    ex.step_button.click()
    assert ex.state["message"] == "" and len(ex.state["tokens"]) == 1
    ex.temperature.value = 1e-45  # set from code: named when a step is asked for, never torch's error
    ex.step_button.click()
    for shown in (ex.state["message"], ex.readout.value):
        assert "got 1e-45" in shown and "probability tensor" not in shown
    assert len(ex.state["tokens"]) == 1
    ex.temperature.value = 0.0
    ex.step_button.click()
    assert ex.state["message"] == "" and len(ex.state["tokens"]) == 2


def test_the_generation_explorer_names_a_top_p_below_its_slider(gpt: GPT) -> None:
    from glmlib.widgets import generation_explorer

    ex = generation_explorer(gpt, TOK, prompt="abc", top_p=0.001)
    assert "top_p must be from 0.01 to 1 in the explorer (1 or None = off), got 0.001; using off." in ex.state["message"]
    assert ex.top_p.value == 1.0


def test_numpy_integers_are_whole_numbers_in_every_explorer(gpt: GPT) -> None:
    # As glmlib.sampling takes top_k: any numbers.Integral, never a bool.
    from glmlib.widgets import AttentionExplorer, TrainingDashboard, generation_explorer

    ex = SamplingExplorer(gpt, TOK, prompt="abc", top_k=np.int64(3), seed=np.int64(2), n_chars=np.int32(9))
    assert (ex.top_k.value, ex.seed.value, ex.n_chars.value) == (3, 2, 9)
    assert ex.settings()["top_k"] == 3 and type(ex.seed.value) is int
    g = generation_explorer(gpt, TOK, prompt="abc", top_k=np.int64(3), seed=np.uint8(4))
    assert g.state["message"] == "" and (g.top_k.value, g.seed.value) == (3, 4)
    g.step(np.int64(2))
    assert len(g.state["tokens"]) == 2 and g.state["message"] == ""
    g.force(np.int64(1))
    assert g.state["tokens"][-1] == 1 and g.state["message"] == ""
    for bad in (2.5, True, 0):
        g.step(bad)
        assert "step takes a whole number of tokens >= 1" in g.state["message"] and repr(bad) in g.state["message"]
    a = AttentionExplorer(gpt, TOK, text="abcd", layer=np.int64(0), head=np.int16(1), query=np.int64(2))
    assert (a.layer.value, a.head.value, a.query.value) == (0, 1, 2)
    m = MaskExplorer(T=np.int64(6), lengths=[np.int64(6), np.int32(4)], seed=np.int64(3))
    assert m.state["lengths"] == [6, 4] and m.T.value == 6
    assert TrainingDashboard(max_iters=np.int64(10)).progress.max == 10
    for bad in (True, 2.0, "3"):
        with pytest.raises((TypeError, ValueError), match="seed must be an int"):
            SamplingExplorer(gpt, TOK, prompt="abc", seed=bad)
        with pytest.raises(ValueError, match="seed must be an int"):
            MaskExplorer(seed=bad)
    with pytest.raises(TypeError, match="n_chars must be a whole number from 1 to 2000, got 2.0"):
        SamplingExplorer(gpt, TOK, prompt="abc", n_chars=2.0)


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
