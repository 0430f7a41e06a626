"""The explorers of glmlib.widgets, driven in the kernel: change a control, check what is drawn.

Each check compares the numbers behind a picture with an independent
computation (the model's own logits and attention maps, glmlib.sampling.warp,
masks written out by hand, the chain rule summed position by position).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from glmlib.data import CharTokenizer
from glmlib.masks import causal_mask, combine, padding_mask, to_additive
from glmlib.model import GPT, GPTConfig, load_pretrained
from glmlib.ngram import BigramLM
from glmlib.sampling import entropy, sample, warp
from glmlib.train import TrainConfig, train
from glmlib.widgets import (AttentionExplorer, ChainRuleView, MaskExplorer, SamplingExplorer,
                            TrainingDashboard, attention_explorer, chain_rule_view, mask_explorer,
                            sampling_explorer, token_log_probs)

CHARS = "\n abdehilmnos"  # 13 characters: the tiny GPT's vocabulary
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"



@pytest.fixture(scope="module")
def gpt(tok) -> GPT:
    """A tiny random GPT (2 layers, 4 heads, block_size 16) with peaked next-token distributions."""
    torch.manual_seed(3)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=4, n_embd=32)).eval()
    with torch.no_grad():
        model.wte.weight.mul_(40)  # plain random init is too flat to exercise top-k and top-p
    return model


@pytest.fixture(scope="module")
def shared_explorer(gpt, tok) -> SamplingExplorer:
    """One sampling explorer reused across parametrized cases (building one costs a full draw)."""
    return sampling_explorer(gpt, tok, prompt="hello ")


@pytest.fixture(autouse=True)
def no_figure_leaks():
    """No explorer may leave a figure open in pyplot."""
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


def next_logits(model, tok, text: str) -> torch.Tensor:
    with torch.no_grad():
        logits, _ = model(torch.tensor([tok.encode(text)]))
    return logits[0, -1]


def is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


def assert_labelled(figure) -> None:
    """Every visible panel has a title; the figure has x and y axis labels."""
    axes = [ax for ax in figure.axes if ax.get_visible() and not hasattr(ax, "_colorbar")]
    assert axes
    for ax in axes:
        assert ax.get_title(), f"a panel has no title: {ax}"
    assert any(ax.get_xlabel() for ax in axes) and any(ax.get_ylabel() for ax in axes)


# --------------------------------------------------------------------------- sampling explorer

SETTINGS = [
    # (temperature, top_k slider, top_p slider): 0 = top-k off, 1.0 = top-p off
    (1.0, 0, 1.0),
    (0.0, 0, 1.0),
    (0.7, 3, 1.0),
    (1.3, 0, 0.5),
    (0.9, 5, 0.8),
    (2.0, 1, 1.0),
    (0.5, 13, 0.3),
]


@pytest.mark.parametrize("temperature,k,p", SETTINGS)
def test_sampling_explorer_draws_what_warp_keeps(shared_explorer, gpt, tok, temperature, k, p):
    ex = shared_explorer
    ex.temperature.value, ex.top_k.value, ex.top_p.value = temperature, k, p
    logits = next_logits(gpt, tok, "hello ")
    expected = warp(logits, temperature, k or None, p if p < 1 else None)
    st = ex.state
    assert st["message"] == ""
    assert st["settings"] == {"temperature": temperature, "top_k": k or None, "top_p": p if p < 1 else None}
    assert st["kept"] == int(torch.isfinite(expected).sum())
    torch.testing.assert_close(st["probs_before"], torch.softmax(logits, -1))
    torch.testing.assert_close(st["probs_after"], torch.softmax(expected, -1))
    assert st["entropy"] == pytest.approx(float(entropy(expected)), abs=1e-6)
    assert st["entropy_before"] == pytest.approx(float(entropy(logits)), abs=1e-6)
    # the picture: bars sorted by probability, kept tokens coloured, removed at zero
    order = torch.argsort(logits, descending=True)
    np.testing.assert_allclose(st["drawn_heights_before"], torch.softmax(logits, -1)[order].numpy(), atol=1e-7)
    np.testing.assert_allclose(st["drawn_heights_after"], torch.softmax(expected, -1)[order].numpy(), atol=1e-7)
    assert int(st["drawn_kept"].sum()) == st["kept"]
    assert np.all(np.diff(st["drawn_heights_before"]) <= 0)
    top_p_input = torch.softmax(warp(logits, temperature, k or None, None), -1)[order]
    np.testing.assert_allclose(st["drawn_cumulative"], torch.cumsum(top_p_input, 0).numpy(), atol=1e-6)


def test_sampling_settings_change_kept_count_and_picture(gpt, tok):
    ex = sampling_explorer(gpt, tok, prompt="hello ")
    full = ex.state["kept"]
    png = ex.image.value
    ex.top_k.value = 2
    assert ex.state["kept"] < full and ex.image.value != png
    ex.top_k.value = 0  # 0 = off
    assert ex.state["kept"] == full
    ex.temperature.value = 0.0  # greedy keeps exactly the argmax
    assert ex.state["kept"] == 1
    assert int(ex.state["probs_after"].argmax()) == int(next_logits(gpt, tok, "hello ").argmax())


def test_sampling_axis_is_fitted_by_default_with_log_and_fixed_choices(gpt, tok):
    ex = sampling_explorer(gpt, tok, prompt="hello ", temperature=2.0)
    st = ex.state
    assert ex.scale.value == st["scale"] == "fitted"
    for heights, (low, top) in ((st["drawn_heights_before"], st["drawn_ylim_before"]),
                                (st["drawn_heights_after"], st["drawn_ylim_after"])):
        assert low == 0 and heights.max() <= top <= 2.5 * heights.max()  # the tallest bar fills the chart
    assert ex._ax_after.get_yscale() == "linear"
    png = ex.image.value
    ex.scale.value = "log"
    assert st["scale"] == "log" and ex._ax_before.get_yscale() == ex._ax_after.get_yscale() == "log"
    low, top = st["drawn_ylim_after"]
    assert 0 < low < float(st["probs_after"].min()) and top >= 1  # the whole tail has a bar
    assert ex.image.value != png
    np.testing.assert_allclose(st["drawn_heights_after"], np.sort(st["probs_after"].numpy())[::-1], rtol=1e-6)
    ex.scale.value = "fixed"  # the flatten / sharpen lesson: one axis for every setting
    assert st["drawn_ylim_before"] == st["drawn_ylim_after"] == (0.0, 1.05)
    ex.temperature.value = 0.3
    assert st["drawn_ylim_after"] == (0.0, 1.05)
    ex.scale.value = "fitted"
    assert st["drawn_ylim_after"][1] < 1.05 or st["drawn_heights_after"].max() > 0.7
    assert sampling_explorer(gpt, tok, prompt="hello ", scale="log").state["scale"] == "log"
    with pytest.raises(ValueError, match="scale"):
        sampling_explorer(gpt, tok, prompt="hello ", scale="wide")


def test_sampling_colours_mean_kept_and_removed_in_both_charts(gpt, tok):
    from matplotlib.colors import to_rgba

    from glmlib.widgets._render import KEPT_COLOR, REMOVED_COLOR

    ex = sampling_explorer(gpt, tok, prompt="hello ", top_k=3)
    kept = ex.state["drawn_kept"]
    colours = {tuple(c) for c in ex._bars_before.get_facecolor()}
    assert colours == {to_rgba(KEPT_COLOR), to_rgba(REMOVED_COLOR)} and kept.sum() == 3
    assert {tuple(c) for c in ex._bars_after.get_facecolor()} == {to_rgba(KEPT_COLOR)}
    legends = {t.get_text(): h for ax in (ex._ax_before, ex._ax_after)
               for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}
    assert to_rgba(legends["kept by the settings"].get_facecolor()) == to_rgba(KEPT_COLOR)
    assert to_rgba(legends["kept (renormalised)"].get_facecolor()) == to_rgba(KEPT_COLOR)
    assert to_rgba(legends["removed"].get_facecolor()) == to_rgba(REMOVED_COLOR)


def test_sampling_explorer_widget_basics(gpt, tok):
    ex = sampling_explorer(gpt, tok, prompt="hello\n ")
    assert isinstance(ex, SamplingExplorer)
    assert "glm-sampling-explorer" in ex.widget._dom_classes
    assert WIDGET_MIME in ex._repr_mimebundle_()
    assert is_png(ex.image.value)
    assert (ex.top_k.min, ex.top_k.max) == (0, tok.vocab_size)
    assert (ex.temperature.min, ex.temperature.max) == (0.0, 2.0)
    assert ex.top_p.max == 1.0 and ex.settings()["top_p"] is None
    labels = ex.state["labels"]
    assert len(labels) == tok.vocab_size and "\u23ce" in labels and "\u2423" in labels
    assert "\n" not in labels and " " not in labels
    assert_labelled(ex._fig.figure)


def test_sample_button_appends_exactly_one_character(gpt, tok):
    ex = sampling_explorer(gpt, tok, prompt="bad ", seed=5)
    ex.sample_button.click()
    assert len(ex.prompt.value) == 5 and ex.prompt.value.startswith("bad ")
    ch = ex.prompt.value[-1]
    assert ch in CHARS and ex.state["last_token"] == ch
    assert ex.state["context"] == ex.prompt.value  # redrawn for the new prompt
    # the same seed gives the same token; greedy gives the argmax
    twin = sampling_explorer(gpt, tok, prompt="bad ", seed=5)
    twin.sample_button.click()
    assert twin.prompt.value == ex.prompt.value
    expected = sample(next_logits(gpt, tok, "bad ")[None], 1.0, generator=torch.Generator().manual_seed(5))
    assert ch == tok.decode(expected)
    greedy = sampling_explorer(gpt, tok, prompt="bad ", temperature=0.0)
    greedy.sample_button.click()
    assert greedy.prompt.value[-1] == tok.decode([int(next_logits(gpt, tok, "bad ").argmax())])


def test_generate_is_seeded_and_matches_model_generate(gpt, tok):
    ex = sampling_explorer(gpt, tok, prompt="no ", temperature=0.8, top_k=5, seed=11)
    ex.n_chars.value = 20
    ex.generate_button.click()
    text = ex.state["generated"]
    assert len(text) == 20 and ex.prompt.value == "no "  # the prompt is left as it was
    expected = gpt.generate(torch.tensor([tok.encode("no ")]), 20, temperature=0.8, top_k=5,
                            generator=torch.Generator().manual_seed(11))
    assert text == tok.decode(expected[0, 3:])
    assert text in ex.generated.value or text.replace("&", "&amp;") in ex.generated.value
    ex.generate_button.click()
    assert ex.state["generated"] == text  # seeded: the same again


def test_greedy_entropy_reads_zero_not_minus_zero(gpt, tok):
    ex = sampling_explorer(gpt, tok, prompt="no ", temperature=0.0)
    assert ex.state["kept"] == 1
    assert "-0.0" not in ex.readout.value and "-0.0" not in ex._ax_after.title.get_text()
    assert "after: <b>0.000</b> nats" in ex.readout.value


@pytest.mark.parametrize("prompt,needle", [("", "empty"), ("hello WORLD", "not in the vocabulary")])
def test_bad_prompt_shows_a_message_and_raises_nothing(gpt, tok, prompt, needle):
    ex = sampling_explorer(gpt, tok, prompt="hello")
    ex.prompt.value = prompt
    assert needle in ex.state["message"]
    assert needle in ex.readout.value
    assert ex.sample_one() is None and ex.prompt.value == prompt  # the button does nothing harmful
    ex.sample_button.click()
    ex.generate_button.click()
    ex.prompt.value = "hello"
    assert ex.state["message"] == "" and ex.state["context"] == "hello"


def test_long_prompt_is_cropped_to_block_size(gpt, tok):
    prompt = "hello bob and his seas\n" * 3  # 69 characters, block_size is 16
    ex = sampling_explorer(gpt, tok, prompt=prompt)
    assert ex.state["cropped"] and ex.state["context"] == prompt[-16:]
    torch.testing.assert_close(ex.state["probs_before"], torch.softmax(next_logits(gpt, tok, prompt[-16:]), -1))
    assert "last 16" in ex.readout.value


@pytest.mark.parametrize("kwargs,error", [
    ({"temperature": -0.5}, ValueError), ({"top_k": 0}, ValueError), ({"top_p": 0.0}, ValueError),
    ({"top_p": 1.5}, ValueError), ({"prompt": 3}, TypeError), ({"seed": "x"}, TypeError),
])
def test_sampling_explorer_rejects_bad_arguments(gpt, tok, kwargs, error):
    with pytest.raises(error):
        sampling_explorer(gpt, tok, **kwargs)


def test_sampling_explorer_rejects_a_mismatched_tokenizer(gpt):
    with pytest.raises(ValueError, match="tokens"):
        sampling_explorer(gpt, CharTokenizer(list("abc")))


# --------------------------------------------------------------------------- attention explorer

def test_attention_heatmap_equals_model_weights_for_each_layer_and_head(gpt, tok):
    text = "hello bob\nand"
    ex = attention_explorer(gpt, tok, text=text)
    assert isinstance(ex, AttentionExplorer)
    maps = gpt.attention_maps(torch.tensor([tok.encode(text)]))  # (L, B, H, T, T)
    pictures = set()
    for layer in range(gpt.config.n_layer):
        for head in range(gpt.config.n_head):
            ex.layer.value, ex.head.value = layer, head
            st = ex.state
            assert (st["layer"], st["head"]) == (layer, head)
            torch.testing.assert_close(st["weights"], maps[layer, 0, head])
            np.testing.assert_allclose(st["drawn"], maps[layer, 0, head].numpy(), atol=1e-7)
            assert st["drawn_titles"] == [f"layer {layer}, head {head}"]
            pictures.add(ex.image.value)
    assert len(pictures) == gpt.config.n_layer * gpt.config.n_head
    assert_labelled(ex._single.figure)


def test_attention_all_heads_and_query(gpt, tok):
    text = "hello bob"
    ex = attention_explorer(gpt, tok, text=text, layer=1)
    maps = gpt.attention_maps(torch.tensor([tok.encode(text)]))
    assert ex.query.max == len(text) - 1 and ex.query.value == len(text) - 1
    ex.query.value = 4
    torch.testing.assert_close(ex.state["query_weights"], maps[1, 0, 0, 4])
    np.testing.assert_allclose(ex.state["drawn_query_bars"], maps[1, 0, 0, 4].numpy(), atol=1e-7)
    assert np.all(ex.state["drawn_query_bars"][5:] == 0)  # causal: no weight on the future
    ex.head.value = "all"
    assert ex.state["weights"].shape == (gpt.config.n_head, len(text), len(text))
    torch.testing.assert_close(ex.state["weights"], maps[1, 0])
    np.testing.assert_allclose(ex.state["drawn"], maps[1, 0].numpy(), atol=1e-7)
    assert ex.state["drawn_titles"] == [f"layer 1, head {h}" for h in range(gpt.config.n_head)]
    assert_labelled(ex._grid.figure)


def test_attention_legend_matches_the_masked_keys_drawn(gpt, tok):
    text = "hello bob"
    ex = attention_explorer(gpt, tok, text=text, query=3)
    band = ex._masked_band
    assert "grey band: future keys, masked" in ex.state["drawn_legend"] == ex._ax_bar.get_xlabel()
    # the band covers exactly the keys after the query, over the bars' full height, and is not blank
    assert ex.state["drawn_masked_keys"] == (3.5, len(text) - 0.5)
    assert band.get_visible() and band.get_height() >= ex._ax_bar.get_ylim()[1] and band.get_alpha() > 0.3
    shown = pixels(ex.image.value)
    bbox = ex._ax_bar.get_window_extent()
    H = shown.shape[0]
    x0, x1 = ex._ax_bar.transData.transform([[5, 0], [8, 0]])[:, 0].astype(int)
    region = shown[int(H - bbox.y1) + 3:int(H - bbox.y0) - 3, x0:x1]
    assert region.mean() < 235  # grey, not the white of an empty axis
    ex.query.value = len(text) - 1  # the last query may look at every key: nothing masked
    assert ex.state["drawn_masked_keys"] is None and not band.get_visible()
    assert "grey" not in ex.state["drawn_legend"] and "every key" in ex.state["drawn_legend"]
    ex.query.value = 0
    assert ex.state["drawn_masked_keys"] == (0.5, len(text) - 0.5) and "grey band" in ex.state["drawn_legend"]


def test_attention_grid_labels_are_readable(gpt, tok):
    from glmlib.widgets.attention_explorer import GRID_TICK_FONT

    text = "hello bob hello"
    ex = attention_explorer(gpt, tok, text=text, head="all")
    assert ex.state["message"] == ""
    ticks = ex._grid.char_ticks
    assert ticks and all(t.fontsize >= GRID_TICK_FONT >= 7 for t in ticks)
    every_x, every_y = ex.state["grid_label_steps"]
    for t in ticks:
        step = every_x if t.axis == "x" else every_y
        assert [label for label in t.labels if label] == [ex.state["labels"][i] for i in range(0, len(text), step)]


def test_attention_new_text_and_bad_text(gpt, tok):
    ex = attention_explorer(gpt, tok, text="hello")
    assert "glm-attention-explorer" in ex.widget._dom_classes
    ex.text.value = "a bad dish"
    assert ex.query.max == 9 and ex.state["weights"].shape == (10, 10)
    assert ex.state["labels"][1] == "\u2423"
    ex.text.value = "UPPER"
    assert "not in the vocabulary" in ex.state["message"]
    ex.text.value = ""
    assert "empty" in ex.state["message"]
    ex.text.value = "a" * 40  # longer than block_size=16: the last 16 characters
    assert ex.state["message"] == "" and ex.state["cropped"] and ex.state["weights"].shape == (16, 16)


@pytest.mark.parametrize("kwargs", [{"layer": 2}, {"layer": -1}, {"head": 4}, {"head": "some"}])
def test_attention_explorer_rejects_bad_arguments(gpt, tok, kwargs):
    with pytest.raises(ValueError):
        attention_explorer(gpt, tok, text="hello", **kwargs)


# --------------------------------------------------------------------------- mask explorer

def hand_mask(T: int, causal: bool, length: int) -> torch.Tensor:
    """Query i may see key j iff j < length (and j <= i when causal), written out."""
    return torch.tensor([[(j < length) and (j <= i or not causal) for j in range(T)] for i in range(T)])


@pytest.mark.parametrize("T,causal,lengths,sequence", [
    (8, True, "8", 0), (8, False, "8, 5", 1), (6, True, "6, 3", 1), (5, True, "2", 0), (1, True, "1", 0),
    (16, False, "16, 9, 4", 2),
])
def test_mask_explorer_matches_glmlib_masks(T, causal, lengths, sequence):
    ex = mask_explorer(T=T, causal=not causal, lengths=lengths)
    ex.causal.value = causal
    ex.sequence.value = sequence
    st = ex.state
    n = [int(x) for x in lengths.split(",")]
    expected = padding_mask(n, T)[sequence].expand(T, T)
    if causal:
        expected = combine(expected, causal_mask(T))
    assert st["message"] == ""
    assert torch.equal(st["mask"], expected)
    assert torch.equal(st["mask"], hand_mask(T, causal, n[sequence]))
    assert torch.equal(st["additive"], to_additive(expected))
    after = st["weights_after"]
    assert torch.all(after[~expected] == 0)
    torch.testing.assert_close(after.sum(-1), torch.ones(T))
    expected_after = torch.softmax(st["scores"].masked_fill(~expected, float("-inf")), -1)
    torch.testing.assert_close(after, expected_after)
    torch.testing.assert_close(st["weights_before"], torch.softmax(st["scores"], -1))
    np.testing.assert_array_equal(st["drawn"][0], expected.numpy().astype(float))
    np.testing.assert_allclose(st["drawn"][3], after.numpy(), atol=1e-7)


def test_mask_explorer_widget_and_bad_lengths():
    ex = mask_explorer(T=8)
    assert isinstance(ex, MaskExplorer) and "glm-mask-explorer" in ex.widget._dom_classes
    png = ex.image.value
    ex.causal.value = False
    assert ex.image.value != png and bool(ex.state["mask"].all())
    ex.lengths.value = "9"
    assert "between 1 and T=8" in ex.state["message"]
    ex.lengths.value = "three"
    assert "whole numbers" in ex.state["message"]
    ex.lengths.value = "8, 2"
    assert ex.state["message"] == "" and list(ex.sequence.options) == [0, 1]
    mask = ex.state["mask"]
    ex.seed.value = 99  # new random scores, same mask
    assert torch.equal(ex.state["mask"], mask)
    ex.T.value = 5  # full-length sequences follow T, shorter ones are capped
    assert ex.lengths.value == "5, 2" and ex.state["mask"].shape == (5, 5)
    assert torch.equal(ex.state["mask"], hand_mask(5, False, 5))
    assert_labelled(ex._fig.figure)
    with pytest.raises(ValueError):
        mask_explorer(T=0)
    with pytest.raises(ValueError):
        mask_explorer(T=4, lengths=[5])


# --------------------------------------------------------------------------- training dashboard

def feed(dash: TrainingDashboard, steps: int, evals: tuple[int, ...]) -> tuple[list, list]:
    fed_steps, fed_evals = [], []
    for s in range(steps + 1):
        if s in evals:
            e = {"step": s, "train": 4.0 - s / 10, "val": 4.1 - s / 10, "sample": f"text <{s}> & more",
                 "seconds": s * 0.1}
            dash("eval", e)
            fed_evals.append(e)
        if s < steps:
            st = {"step": s, "loss": 4.2 - s / 12 + 0.05 * (-1) ** s, "lr": 1e-3 * (s + 1) / steps,
                  "max_iters": steps}
            dash("step", st)
            fed_steps.append(st)
    return fed_steps, fed_evals


def test_dashboard_history_and_curves_equal_what_was_fed():
    dash = TrainingDashboard(max_iters=30, min_interval=0.0)
    fed_steps, fed_evals = feed(dash, 30, (0, 10, 20, 30))
    h = dash.history
    assert h["step"] == [s["step"] for s in fed_steps] and h["loss"] == [s["loss"] for s in fed_steps]
    assert h["lr"] == [s["lr"] for s in fed_steps] and h["eval"] == fed_evals
    x, y = dash.state["loss_curve"]
    np.testing.assert_array_equal(x, [s["step"] for s in fed_steps])
    np.testing.assert_array_equal(y, [s["loss"] for s in fed_steps])
    np.testing.assert_array_equal(dash.state["val_curve"][1], [e["val"] for e in fed_evals])
    np.testing.assert_array_equal(dash.state["train_curve"][0], [0, 10, 20, 30])
    assert dash.progress.value == dash.progress.max == 30
    assert "text &lt;30&gt; &amp; more" in dash.sample.value
    assert "glm-training-dashboard" in dash.widget._dom_classes and is_png(dash.image.value)
    assert_labelled(dash._fig.figure)


def test_dashboard_throttles_step_redraws_but_always_draws_evals():
    dash = TrainingDashboard(max_iters=50, min_interval=3600.0)
    start = dash.state["redraws"]
    feed(dash, 50, (0, 25, 50))
    assert dash.state["redraws"] - start == 3  # the three evaluations only
    assert len(dash.history["step"]) == 50


def test_dashboard_grows_during_a_real_training_run():
    text = ("ROMEO:\nBut soft, what light through yonder window breaks?\n\n"
            "JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n\n") * 20
    cfg = TrainConfig(block_size=8, n_layer=1, n_head=1, n_embd=16, batch_size=4, max_iters=6,
                      warmup_iters=1, eval_interval=3, eval_iters=1, sample_chars=5, threads=1)
    dash = TrainingDashboard()  # headless, max_iters learned from the events
    sizes = []
    result = train(cfg, callbacks=[dash, lambda event, state: sizes.append(len(dash.history["step"]))], text=text)
    assert sizes == sorted(sizes) and sizes[-1] == 6
    assert dash.max_iters == 6 and dash.progress.value == 6
    assert [e["step"] for e in dash.history["eval"]] == [h["step"] for h in result.history] == [0, 3, 6]
    np.testing.assert_array_equal(dash.state["val_curve"][1], [h["val"] for h in result.history])


def test_dashboard_clock_ticks_every_step_and_ends_at_the_printed_time():
    text = ("ROMEO:\nBut soft, what light through yonder window breaks?\n\n"
            "JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n\n") * 20
    cfg = TrainConfig(block_size=8, n_layer=1, n_head=1, n_embd=16, batch_size=4, max_iters=12,
                      warmup_iters=1, eval_interval=6, eval_iters=1, sample_chars=5, threads=1)
    dash = TrainingDashboard(min_interval=3600.0)  # the picture is redrawn only at evaluations
    shown = []  # (event, the clock's reading, the status line) after the dashboard saw each event
    result = train(cfg, callbacks=[dash, lambda event, _: shown.append((event, dash.clock(), dash.status.value))],
                   text=text)
    clocks = [secs for event, secs, _ in shown if event == "step"]
    assert len(clocks) == 12 and dash.state["redraws"] < 12
    assert all(a < b for a, b in zip(clocks, clocks[1:])), f"the clock must move at every step: {clocks}"
    assert clocks == dash.history["seconds"]
    assert all(f"&middot; {secs:.1f} s<" in status for _, secs, status in shown), shown
    # the run's clock: the last evaluation, the status line and the printed time agree
    assert dash.clock() == result.history[-1]["seconds"] == result.seconds
    assert shown[-1][0] == "eval" and f"{result.seconds:.1f} s<" in dash.status.value


def test_dashboard_rejects_bad_input_and_ignores_unknown_events():
    with pytest.raises(ValueError):
        TrainingDashboard(max_iters=0)
    dash = TrainingDashboard()
    dash("checkpoint", {"step": 3})
    assert dash.history["step"] == []
    with pytest.raises(TypeError):
        dash(3, {})


# --------------------------------------------------------------------------- chain rule

def test_token_log_probs_of_a_gpt_is_the_chain_rule(gpt, tok):
    text = "hello bob and "
    lp = token_log_probs(gpt, tok, text)
    assert lp.shape == (len(text) - 1,)  # the first character has no prediction
    by_hand = sum(float(torch.log_softmax(next_logits(gpt, tok, text[:t]), -1)[tok.stoi[text[t]]])
                  for t in range(1, len(text)))
    assert float(lp.sum()) == pytest.approx(by_hand, abs=1e-4)
    view = chain_rule_view(gpt, tok, text)
    assert isinstance(view, ChainRuleView) and "glm-chain-rule-view" in view.widget._dom_classes
    assert view.state["log_prob"] == pytest.approx(by_hand, abs=1e-4)
    assert view.state["prob"] == pytest.approx(math.exp(by_hand), rel=1e-4)
    assert view.state["first_unpredicted"] and len(view.state["labels"]) == len(text) - 1
    title = view._fig.figure.axes[0].get_title()
    assert f"{by_hand:.2f}" in title and "given its first character" in title
    assert_labelled(view._fig.figure)


def test_token_log_probs_of_a_bigram_with_bos_and_eos(tok):
    ids = torch.tensor(tok.encode("hello bob\nbad dish\nno"))
    plain = BigramLM(tok.vocab_size).fit(ids)
    text = "bob hid"
    lp = token_log_probs(plain, tok, text)
    torch.testing.assert_close(lp, plain.token_log_probs(tok.encode(text)))
    assert float(lp.sum()) == pytest.approx(plain.log_prob(tok.encode(text)))
    specials = CharTokenizer(list(CHARS), specials=["<bos>", "<eos>"])
    framed = BigramLM(specials.vocab_size, bos=13, eos=14).fit([tok.encode("hello bob"), tok.encode("no")])
    view = chain_rule_view(framed, specials, text)
    assert len(view.state["log_probs"]) == len(text) + 1  # every character and the end
    assert view.state["labels"][-1] == "<eos>" and not view.state["first_unpredicted"]
    assert view.state["log_prob"] == pytest.approx(framed.log_prob(tok.encode(text)))
    view.text.value = "BAD"
    assert "not in the vocabulary" in view.state["message"]


def test_token_log_probs_rejects_bad_input(gpt, tok):
    with pytest.raises(ValueError, match="at least 2"):
        token_log_probs(gpt, tok, "h")
    with pytest.raises(ValueError, match="block_size"):
        token_log_probs(gpt, tok, "a" * 18)
    with pytest.raises(TypeError):
        token_log_probs("not a model", tok, "hello")
    with pytest.raises(TypeError):
        chain_rule_view(object(), tok, "hello")


# --------------------------------------------------------------------------- quick redraws

def pixels(png: bytes) -> np.ndarray:
    import io

    from matplotlib.image import imread
    return imread(io.BytesIO(png), format="png")


def redraw_matches_fresh(changed, fresh) -> None:
    """An explorer moved to new settings draws exactly what one built with them draws."""
    assert changed.state["message"] == fresh.state["message"] == ""
    a, b = pixels(changed.image.value), pixels(fresh.image.value)
    assert a.shape == b.shape
    assert np.abs(a - b).max() < 2 / 255, f"{(np.abs(a - b) > 2 / 255).sum()} pixels differ"


@pytest.mark.parametrize("head", [1, "all"])
def test_attention_new_text_redraws_like_a_fresh_explorer(gpt, tok, head):
    ex = attention_explorer(gpt, tok, text="hello", head=head)
    for text in ("a bad dish", "ed", "his name", "m" * 16):
        ex.text.value = text
        redraw_matches_fresh(ex, attention_explorer(gpt, tok, text=text, head=head))
    full = ex._grid.full_draws if head == "all" else ex._single.full_draws
    assert full == 1  # one full draw when built; new texts only repaint what changes


def test_chain_rule_new_text_redraws_like_a_fresh_view(gpt, tok):
    view = chain_rule_view(gpt, tok, "hello")
    for text in ("a bad dish", "ed", "his name is mo"):
        view.text.value = text
        redraw_matches_fresh(view, chain_rule_view(gpt, tok, text))
    assert view._fig.full_draws == 1


def test_mask_new_length_redraws_like_a_fresh_explorer():
    mx = mask_explorer(T=8, lengths="8, 5")
    for T in (9, 7, 4, 12, 9):
        mx.T.value = T
        redraw_matches_fresh(mx, mask_explorer(T=T, lengths=mx.lengths.value))


# --------------------------------------------------------------------------- the shipped model

def test_explorers_on_the_shipped_model():
    model, tokenizer = load_pretrained()
    V = model.config.vocab_size
    ex = sampling_explorer(model, tokenizer, top_k=10, top_p=0.9, temperature=0.8)
    expected = warp(next_logits(model, tokenizer, "ROMEO:\n"), 0.8, 10, 0.9)
    assert ex.state["kept"] == int(torch.isfinite(expected).sum()) <= 10
    assert ex.top_k.max == V and len(ex.state["labels"]) == V
    before = ex.image.value
    ex.temperature.value = 1.5
    assert ex.image.value != before and ex.state["message"] == ""
    ex.sample_button.click()
    assert len(ex.prompt.value) == len("ROMEO:\n") + 1
    att = attention_explorer(model, tokenizer)
    att.layer.value, att.head.value = model.config.n_layer - 1, model.config.n_head - 1
    idx = torch.tensor([tokenizer.encode(att.text.value)])
    torch.testing.assert_close(att.state["weights"], model.attention_maps(idx)[-1, 0, -1])


# --------------------------------------------------------------------------- fonts

EMOJI_CAPABLE = {0x231A, 0x231B, 0x2328, 0x23CF, *range(0x23E9, 0x23F4), *range(0x23F8, 0x23FB), 0x24C2,
                 0x25AA, 0x25AB, 0x25B6, 0x25C0, *range(0x25FB, 0x25FF), *range(0x2600, 0x27C0),
                 *range(0x2B05, 0x2B08), 0x2B1B, 0x2B1C, 0x2B50, 0x2B55, 0xFE0F}


def test_every_mark_the_widgets_draw_needs_no_emoji_font():
    """Each non-ASCII character in the widgets' code (status marks, symbols in titles and labels)
    and the stand-ins for newline and space is in DejaVu Sans, the font matplotlib ships, and has
    no emoji form a browser could pick instead."""
    import re
    from pathlib import Path

    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    import glmlib.widgets
    from glmlib.data import visible

    font = FT2Font(font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans")))
    sources = Path(glmlib.widgets.__file__).parent.glob("*.py")
    found = {ord(visible("\n")), ord(visible(" "))}
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if path.name == "tokenizer_explorer.py":  # its Chinese example is text to tokenize, not a mark
            from glmlib.widgets.tokenizer_explorer import CHINESE
            text = "".join(c for c in text if c not in CHINESE or ord(c) < 128)
        found |= {ord(c) for c in text if ord(c) > 127}
        found |= {int(h, 16) for h in re.findall(r"\\u([0-9a-fA-F]{4})", text)}
    found = {c for c in found if not 0xD800 <= c <= 0xDFFF}  # surrogates: named in input checks, never drawn
    assert 0x23CE in found and 0x2423 in found  # the newline and space stand-ins are among them
    for code in sorted(found):
        assert code not in EMOJI_CAPABLE, f"U+{code:04X} ({chr(code)}) may be drawn as an emoji"
        assert font.get_char_index(code), f"U+{code:04X} ({chr(code)}) is not in DejaVu Sans"
