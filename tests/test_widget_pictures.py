"""Every explorer's display carries a picture of its current state next to the live widget.

A renderer without a kernel (the course website, a notebook preview) cannot
draw a widget; it shows the ``image/png`` entry instead of ``VBox(...)`` text.
These tests decode that picture and compare its pixels with what the widget
itself shows.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from glmlib.model import GPT, GPTConfig
from glmlib.widgets import (TrainingDashboard, attention_explorer, chain_rule_view, generation_explorer,
                            mask_explorer, sampling_explorer, surprise_view)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"



@pytest.fixture(scope="module")
def gpt(tok) -> GPT:
    torch.manual_seed(3)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=4, n_embd=32)).eval()


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as img:
        return np.asarray(img.convert("RGB"))


def bundle_picture(explorer) -> np.ndarray:
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_MIME in bundle, "the live widget must stay in the display"
    assert bundle["text/plain"].startswith("VBox(")
    return pixels(base64.b64decode(bundle["image/png"]))


MAKERS = {
    "mask": lambda gpt, tok: mask_explorer(T=6),
    "sampling": lambda gpt, tok: sampling_explorer(gpt, tok, prompt="hello "),
    "attention": lambda gpt, tok: attention_explorer(gpt, tok, text="hello mild"),
    "generation": lambda gpt, tok: generation_explorer(gpt, tok, prompt="hello "),
    "surprise": lambda gpt, tok: surprise_view(gpt, tok, text="hello mild seas"),
    "chain rule": lambda gpt, tok: chain_rule_view(gpt, tok, "\nhello"),
    "dashboard": lambda gpt, tok: TrainingDashboard(max_iters=10),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_the_picture_is_what_the_widget_shows(name, gpt, tok, no_figure_leaks):
    explorer = MAKERS[name](gpt, tok)
    picture = bundle_picture(explorer)
    shown = pixels(bytes(explorer.image.value))
    assert picture.shape == shown.shape and picture.shape[0] > 100 and picture.shape[1] > 100
    assert np.array_equal(picture, shown)
    assert np.unique(picture.reshape(-1, 3), axis=0).shape[0] > 3
    explorer.close()


def test_the_picture_follows_the_controls(no_figure_leaks):
    explorer = mask_explorer(T=6)
    before = bundle_picture(explorer)
    explorer.T.value = 12
    after = bundle_picture(explorer)
    assert not (before.shape == after.shape and np.array_equal(before, after))
    assert np.array_equal(after, pixels(bytes(explorer.image.value)))
    explorer.close()


def test_the_stored_picture_is_smaller_than_the_live_one(no_figure_leaks):
    explorer = mask_explorer(T=8)
    assert len(explorer.picture()) < len(bytes(explorer.image.value))
    explorer.close()


def test_display_publishes_widget_and_picture(monkeypatch, no_figure_leaks):
    shown = []

    def fake_display(obj, raw=False, display_id=None):
        shown.append((obj, raw, display_id))
        return "handle"

    monkeypatch.setattr("IPython.display.display", fake_display)
    explorer = mask_explorer(T=4)
    explorer._ipython_display_()
    (obj, raw, display_id), = shown
    assert raw is True and display_id is True
    assert {WIDGET_MIME, "image/png", "text/plain"} <= set(obj)
    assert explorer._display_handle == "handle"
    explorer.close()


class Handle:
    def __init__(self) -> None:
        self.updates: list[dict] = []

    def update(self, obj, raw=False) -> None:
        assert raw is True
        self.updates.append(obj)


def test_the_dashboard_stores_its_final_picture(no_figure_leaks):
    dash = TrainingDashboard(max_iters=4, min_interval=0.0)
    empty = pixels(dash.picture())
    dash._display_handle = handle = Handle()
    for step in range(4):
        dash("step", {"step": step, "loss": 3.0 - 0.3 * step, "lr": 1e-3})
    dash("eval", {"step": 2, "train": 2.5, "val": 2.6, "sample": "ab"})
    assert handle.updates == [], "only the finished run replaces the stored picture"
    dash("eval", {"step": 4, "train": 2.1, "val": 2.2, "sample": "abc"})
    (update,) = handle.updates
    final = pixels(base64.b64decode(update["image/png"]))
    assert np.array_equal(final, pixels(bytes(dash.image.value)))
    assert not np.array_equal(final, empty), "the stored picture shows the curves, not the empty start"
    assert WIDGET_MIME in update
    dash.close()


def test_refresh_before_display_does_nothing(no_figure_leaks):
    dash = TrainingDashboard(max_iters=1)
    dash.refresh_picture()  # never displayed: no handle, no error
    assert dash._display_handle is None
    dash.close()
