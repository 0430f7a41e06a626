"""The surprise view and score_text: every character's rank and log-probability under the model.

The reference is one plain forward pass per character, over the context
generation would use there (``window_start``): the batched scoring must agree
with it, and the view must draw what the scores say.
"""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from glmlib.data import CharTokenizer, load_shakespeare, train_val_split
from glmlib.model import GPT, GPTConfig, window_start
from glmlib.widgets import SurpriseView, score_text, surprise_view
from glmlib.widgets.surprise_view import MAX_CHARS, N_DRAWN, RANK_BUCKETS, rank_bucket, window_rows

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"



@pytest.fixture(scope="module")
def gpt(tok) -> GPT:
    torch.manual_seed(5)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=4, n_embd=32)).eval()
    with torch.no_grad():
        model.wte.weight.mul_(20)
    return model


pytestmark = pytest.mark.usefixtures("one_thread", "no_figure_leaks")


def reference(model, ids: list[int], positions: list[int] | None = None
              ) -> tuple[list[float], list[int], torch.Tensor]:
    """Log-probability, rank and distribution of each character at ``positions`` (default: all after
    the first), one forward pass each."""
    lps, ranks, dists = [], [], []
    with torch.no_grad():
        for t in positions or range(1, len(ids)):
            start = window_start(t, model.config.block_size)
            logits = model(torch.tensor([ids[start:t]]))[0][0, -1]
            logp = torch.log_softmax(logits, -1)
            lps.append(float(logp[ids[t]]))
            ranks.append(1 + int((logits > logits[ids[t]]).sum()))
            dists.append(logp.exp())
    return lps, ranks, torch.stack(dists)


TEXT = "he dish and his sea\nand a lion on a hill\nbob is mad\nhe hid in his den and lids and bison\n" * 2


@pytest.fixture(scope="module")
def expected(gpt, tok) -> tuple[list[float], list[int], torch.Tensor]:
    """The reference scores of TEXT under the tiny GPT."""
    return reference(gpt, tok.encode(TEXT))


# --------------------------------------------------------------------------- scoring


@pytest.mark.parametrize("batch_rows", [1, 3, 64])
def test_score_text_is_one_forward_pass_per_character(gpt, tok, expected, batch_rows):
    score = score_text(gpt, tok, TEXT, batch_rows=batch_rows)  # 184 characters, block_size 16
    lps, ranks, dists = expected
    np.testing.assert_allclose(score.log_probs.numpy(), lps, atol=1e-5)
    assert score.ranks.tolist() == ranks
    torch.testing.assert_close(score.log_dists.exp(), dists, atol=1e-6, rtol=1e-5)
    assert score.mean_surprise == pytest.approx(-sum(lps) / len(lps), abs=1e-6)
    assert score.perplexity == pytest.approx(math.exp(-sum(lps) / len(lps)), rel=1e-6)
    assert score.starts.tolist() == [window_start(t, 16) for t in range(1, len(TEXT))]


def test_score_text_on_the_shipped_model_agrees_with_forward(shipped):
    model, tokenizer = shipped
    _, val = train_val_split(load_shakespeare())
    text = val[:400]  # past block_size (128): five windows
    score = score_text(model, tokenizer, text)
    # each window's first, second and last positions, and a few inside
    positions = [1, 2, 60, 127, 128, 129, 130, 192, 193, 194, 195, 258, 259, 260, 300, 399]
    lps, ranks, _ = reference(model, tokenizer.encode(text), positions)
    at = [t - 1 for t in positions]
    np.testing.assert_allclose(score.log_probs[at].numpy(), lps, atol=1e-4)
    assert score.ranks[at].tolist() == ranks
    assert 1.5 < score.perplexity < 8  # real Shakespeare is predictable to a trained model


def test_windows_cover_every_position_once_within_block_size():
    for n, B in ((2, 16), (17, 16), (18, 16), (500, 16), (2000, 128)):
        rows, row_of = window_rows(n, B)
        assert len(row_of) == n - 1
        for t in range(1, n):
            s, e = rows[row_of[t - 1]]
            assert s == window_start(t, B) and s < t <= e and e - s <= B
        assert len(rows) == len({window_start(t, B) for t in range(1, n)})


def test_rank_buckets():
    assert rank_bucket(np.array([1, 2, 5, 6, 10, 11, 75])).tolist() == [0, 1, 1, 2, 2, 3, 3]
    assert [name for _, name, _ in RANK_BUCKETS] == ["top-1", "top-5", "top-10", "beyond top-10"]


def test_bucket_fractions_add_up(gpt, tok):
    score = score_text(gpt, tok, TEXT)
    fr = score.bucket_fractions()
    assert sum(fr.values()) == pytest.approx(1.0)
    assert fr["top-1"] == pytest.approx(float((score.ranks == 1).float().mean()))


@pytest.mark.parametrize("text,error,needle", [("", ValueError, "at least 2"), ("a", ValueError, "at least 2"),
                                               ("hello WORLD", ValueError, "'D'"), (5, TypeError, "str")])
def test_score_text_rejects_bad_text(gpt, tok, text, error, needle):
    with pytest.raises(error, match=needle):
        score_text(gpt, tok, text)


def test_shuffled_text_is_more_surprising_than_real_text(shipped):
    model, tokenizer = shipped
    _, val = train_val_split(load_shakespeare())
    real = val[:600]
    chars = list(real)
    random.Random(0).shuffle(chars)
    real_score = score_text(model, tokenizer, real)
    shuffled_score = score_text(model, tokenizer, "".join(chars))
    assert shuffled_score.perplexity > 3 * real_score.perplexity
    assert real_score.bucket_fractions()["top-1"] > 2 * shuffled_score.bucket_fractions()["top-1"]


# --------------------------------------------------------------------------- the view


def test_view_draws_the_scores(gpt, tok):
    view = surprise_view(gpt, tok, text=TEXT)
    st = view.state
    score = st["score"]
    assert st["message"] == "" and st["perplexity"] == pytest.approx(score.perplexity)
    np.testing.assert_allclose(st["drawn_surprise"], -score.log_probs.numpy(), atol=1e-6)
    assert st["drawn_buckets"].tolist() == rank_bucket(score.ranks).tolist()
    colors = [RANK_BUCKETS[b][2] for b in rank_bucket(score.ranks)]
    html = view.colored.value
    assert html.count("<span title='") == len(TEXT)  # the first character too, uncoloured
    for t in (1, 50, len(TEXT) - 1):
        assert f"{t}: " in html and colors[t - 1] in html
    assert f"{score.perplexity:.2f}" in view.readout.value


@pytest.mark.parametrize("position", [1, 17, 100, len(TEXT) - 1])
def test_selecting_a_position_shows_the_distribution_there(gpt, tok, expected, position):
    view = surprise_view(gpt, tok, text=TEXT)
    png = view.image.value
    view.position.value = position
    st = view.state
    ids = tok.encode(TEXT)
    lps, ranks, dists = expected
    assert st["position"] == position and st["char"] == TEXT[position]
    assert st["rank"] == ranks[position - 1]
    assert st["log_prob"] == pytest.approx(lps[position - 1], abs=1e-5)
    torch.testing.assert_close(st["probs"], dists[position - 1], atol=1e-6, rtol=1e-5)
    order = st["drawn_order"]
    np.testing.assert_allclose(st["drawn_heights"], dists[position - 1][order].numpy(), atol=1e-6)
    assert ids[position] in order
    assert f"position {position}:" in view.detail.value
    if position != 1:
        assert view.image.value != png


def test_the_texts_character_bar_has_the_colour_of_its_rank(gpt, tok):
    """The distribution's bar for the text's character is coloured as its rank is everywhere else
    (the text above, the surprise bars), never a colour of its own; the other bars are the model's."""
    from matplotlib.colors import to_hex

    from glmlib.widgets._render import MODEL_COLOR
    from glmlib.widgets.surprise_view import TARGET_LABEL

    view = surprise_view(gpt, tok, text=TEXT)
    seen = set()
    for position in range(1, len(TEXT)):
        view.position.value = position
        st = view.state
        target = tok.stoi[st["char"]]
        colours = [to_hex(c) for c in st["drawn_colors"]]
        bucket = int(rank_bucket(np.array([st["rank"]]))[0])
        for token, colour in zip(st["drawn_order"], colours):
            assert colour == (RANK_BUCKETS[bucket][2] if token == target else MODEL_COLOR)
        assert colours.count(MODEL_COLOR) == len(colours) - 1
        assert view._dist_bars.get_edgecolor()[st["drawn_order"].index(target)][:3].tolist() == [0, 0, 0]
        assert list(view._target_mark.get_xdata()) == [st["drawn_order"].index(target)]  # marked, even at p ~ 0
        seen.add(bucket)
    assert len(seen) >= 3, "the text should reach several rank buckets"
    assert TARGET_LABEL in view._ax_dist.get_xlabel() and "rank colour" in TARGET_LABEL


def test_the_texts_character_is_drawn_even_beyond_the_top_twenty(shipped):
    model, tokenizer = shipped
    view = surprise_view(model, tokenizer, text="ROMEO:\nWhat light is thisQ")
    view.position.value = len(view.text.value) - 1
    st = view.state
    assert st["rank"] > N_DRAWN, "the test needs a character ranked beyond the drawn bars"
    assert len(st["drawn_order"]) == N_DRAWN and st["drawn_order"][-1] == tokenizer.stoi["Q"]
    assert f"rank {st['rank']}" in view.detail.value


def test_new_text_and_examples(gpt, tok):
    view = surprise_view(gpt, tok, text=TEXT, examples={"short": "bob is a bison", "sea": "a sea\nis sea"})
    assert view.examples.layout.display != "none"
    assert view.examples.options == ("(your text)", "short", "sea")
    view.position.value = 100
    view.examples.value = "sea"
    st = view.state
    assert view.text.value == "a sea\nis sea" and st["score"].text == "a sea\nis sea"
    assert view.position.max == len("a sea\nis sea") - 1 and st["position"] == view.position.max
    view.text.value = "bob is a bison"  # typed in: the dropdown no longer names an example
    assert st["score"].text == "bob is a bison" and view.examples.value == "(your text)"
    view.examples.value = "short"
    assert st["score"].text == "bob is a bison" and view.examples.value == "short"
    assert surprise_view(gpt, tok).examples.layout.display == "none"


@pytest.mark.parametrize("text,needle", [("", "at least 2"), ("x", "not in the vocabulary"),
                                         ("hello WORLD", "not in the vocabulary"),
                                         ("a" * (MAX_CHARS + 1), "at most")])
def test_bad_text_shows_a_message_and_raises_nothing(gpt, tok, text, needle):
    view = surprise_view(gpt, tok, text="bob")
    view.text.value = text
    assert needle in view.state["message"] and needle in view.readout.value
    if "WORLD" in text:
        assert "'D'" in view.state["message"] and "'W'" in view.state["message"]
    view.position.value = 1  # nothing to select: nothing happens
    view.text.value = "bob"
    assert view.state["message"] == "" and view.state["score"].text == "bob"


def test_bad_arguments(gpt, tok):
    assert "str" in surprise_view(gpt, tok, text=3).state["message"]
    with pytest.raises(TypeError, match="GPT"):
        surprise_view(object(), tok)
    with pytest.raises(ValueError, match="tokens"):
        surprise_view(gpt, CharTokenizer(list("abc")))
    with pytest.raises(TypeError, match="examples"):
        surprise_view(gpt, tok, examples={"a": 3})


def test_widget_basics(gpt, tok):
    view = surprise_view(gpt, tok, text=TEXT)
    assert isinstance(view, SurpriseView)
    assert "glm-surprise-view" in view.widget._dom_classes
    assert "glm-surprise-text" in view.colored._dom_classes
    assert WIDGET_MIME in view._repr_mimebundle_()
    assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    axes = view._fig.figure.axes
    assert all(ax.get_title() for ax in axes) and all(ax.get_ylabel() for ax in axes)
    full = view._fig.full_draws
    for p in list(range(1, 60)) * 2:
        view.position.value = p
    assert view._fig.full_draws - full <= 5  # selecting a position repaints
    view.close()
