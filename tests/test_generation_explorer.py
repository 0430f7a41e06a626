"""The generation explorer, driven in the kernel: press a button or move a control, check the state.

The reference is ``GPT.generate`` itself: a path stepped with fixed settings
and seed must be its output token for token, and the logits behind each
step must be the very logits ``generate`` hands to ``sample`` (recorded by a
spy), across the context-window jumps. Drawn numbers are checked against
``glmlib.sampling.warp`` and plain forward passes.
"""
from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch

import glmlib.model as model_module
from glmlib.data import CharTokenizer
from glmlib.model import GPT, GPTConfig, window_start
from glmlib.sampling import warp
from glmlib.widgets import GenerationExplorer, generation_explorer
from glmlib.widgets._render import CHOSEN_COLOR
from glmlib.widgets.generation_path import (FORCED, GREEDY, SAMPLED, GenerationPath, LogitsSource, Settings,
                                            fill_length)

gx = importlib.import_module("glmlib.widgets.generation_explorer")  # the module, not the function
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"



@pytest.fixture(scope="module")
def gpt(tok) -> GPT:
    """A tiny random GPT (block_size 16, so short paths cross many window jumps), with peaked distributions."""
    torch.manual_seed(3)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=4, n_embd=32)).eval()
    with torch.no_grad():
        model.wte.weight.mul_(25)
    return model


pytestmark = pytest.mark.usefixtures("one_thread", "no_figure_leaks")


@pytest.fixture
def spy(monkeypatch) -> list[torch.Tensor]:
    """The logits ``generate`` passes to ``sample`` at each step (not its up-front settings check)."""
    seen: list[torch.Tensor] = []
    real = model_module.sample

    def recording(logits, *args, **kwargs):
        if logits.shape[-1] > 1:
            seen.append(logits.clone())
        return real(logits, *args, **kwargs)

    monkeypatch.setattr(model_module, "sample", recording)
    return seen


def generate(model, ids: list[int], n: int, settings: Settings, generator: torch.Generator) -> list[int]:
    out = model.generate(torch.tensor([ids]), n, generator=generator, **settings.kwargs())
    return out[0, len(ids):].tolist()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


SETTINGS = [Settings(1.0), Settings(0.0), Settings(0.8, 4), Settings(1.3, None, 0.7), Settings(0.6, 5, 0.9),
            Settings(2.0, 1)]


# --------------------------------------------------------------------------- the path is generate


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s.short())
@pytest.mark.parametrize("prompt", ["a", "hello bob", "he dish and his sea and a lion\n"])
def test_path_is_generate_token_for_token_and_logit_for_logit(gpt, tok, spy, settings, prompt):
    ids = tok.encode(prompt)  # the longest is over block_size (16): generate starts mid-window
    expected = generate(gpt, ids, 70, settings, seeded(7))  # 70 tokens: several window jumps
    path = GenerationPath(LogitsSource(gpt), ids, seed=7)
    for _ in range(70):
        path.step(settings)
    assert path.tokens == expected
    assert len(spy) == 70
    for i, (seen, step) in enumerate(zip(spy, path.steps)):
        assert torch.equal(seen, step.logits), f"step {i + 1}: logits differ from generate's"
    assert {s.how for s in path.steps} == {GREEDY if settings.temperature == 0 else SAMPLED}


def test_fill_length_follows_the_window_rule():
    # generate fills its cache at its first step and whenever window_start changes
    B = 8
    for origin in (1, 5, 8, 9, 20):
        last_fill = None
        for L in range(origin, 60):
            refill = L == origin or window_start(L, B) != window_start(L - 1, B)
            last_fill = L if refill else last_fill
            assert fill_length(L, origin, B) == last_fill, (origin, L)


def test_undo_puts_the_generator_back_and_redoing_matches_generate(gpt, tok, spy):
    ids = tok.encode("bob")
    settings = Settings(1.1, None, 0.95)
    expected = generate(gpt, ids, 60, settings, seeded(3))
    source = LogitsSource(gpt)
    path = GenerationPath(source, ids, seed=3)
    for _ in range(40):
        path.step(settings)
    for _ in range(25):
        undone = path.undo()
        assert undone is not None
    assert len(path) == 15 and path.tokens == expected[:15]
    source._memo.clear()  # recompute through the trimmed cache, not from memory
    for _ in range(45):
        path.step(settings)
    assert path.tokens == expected
    assert all(torch.equal(a, s.logits) for a, s in zip(spy, path.steps))
    while path.undo() is not None:
        pass
    assert len(path) == 0 and path.undo() is None
    assert torch.equal(path.generator.get_state(), seeded(3).get_state())


def test_forced_token_continues_as_generate_from_the_text_so_far(gpt, tok, spy):
    ids = tok.encode("hello ")
    settings = Settings(0.9, 6)
    path = GenerationPath(LogitsSource(gpt), ids, seed=11)
    for _ in range(30):
        path.step(settings)
    branch = path.fork(12)
    assert branch.tokens == path.tokens[:12] and len(path) == 30  # the original is untouched
    forced = tok.stoi["o"]
    branch.force(forced, settings)
    assert branch.steps[-1].how == FORCED and branch.tokens[-1] == forced
    for _ in range(40):
        branch.step(settings)
    # generate from the text so far, with the generator as it was before step 13's draw
    generator = torch.Generator()
    generator.set_state(path.steps[12].rng_before)
    spy.clear()
    prefix = ids + branch.tokens[:13]
    assert branch.tokens[13:] == generate(gpt, prefix, 40, settings, generator)
    assert all(torch.equal(a, s.logits) for a, s in zip(spy, branch.steps[13:]))


def test_step_records_the_model_log_prob_and_rank(gpt, tok):
    path = GenerationPath(LogitsSource(gpt), tok.encode("his"), seed=0)
    path.step(Settings(1.0))
    path.force(tok.stoi["\n"], Settings(1.0))
    for step, n in zip(path.steps, (3, 4)):
        with torch.no_grad():
            logits = gpt(torch.tensor([path.ids[:n]]))[0][0, -1]
        assert step.log_prob == pytest.approx(float(torch.log_softmax(logits, -1)[step.token]), abs=1e-5)
        assert step.rank == 1 + int((logits > logits[step.token]).sum())


def test_path_rejects_bad_input(gpt, tok):
    source = LogitsSource(gpt)
    with pytest.raises(ValueError, match="empty"):
        GenerationPath(source, [], seed=0)
    path = GenerationPath(source, tok.encode("a"), seed=0)
    for bad in (-1, 13, 2.0, True):
        with pytest.raises(ValueError, match=r"\[0, 13\)"):
            path.force(bad, Settings())
    for kwargs in ({"temperature": -1}, {"top_k": 0}, {"top_p": 1.5}):
        with pytest.raises(ValueError):
            Settings(**kwargs)
    with pytest.raises(ValueError, match="n_steps"):
        path.fork(3)


# --------------------------------------------------------------------------- the explorer is generate


@pytest.mark.parametrize("t,k,p,seed", [(1.0, 0, 1.0, 0), (0.7, 5, 1.0, 4), (1.2, 0, 0.8, 9), (0.0, 0, 1.0, 0)])
def test_explorer_steps_through_what_generate_returns(gpt, tok, t, k, p, seed):
    ex = generation_explorer(gpt, tok, prompt="bob and his", temperature=t, top_k=k or None,
                             top_p=p if p < 1 else None, seed=seed)
    ex.step_button.click()
    for _ in range(5):
        ex.step10_button.click()
    ex.step_button.click()
    settings = Settings(t, k or None, p if p < 1 else None)
    expected = generate(gpt, tok.encode("bob and his"), 52, settings, seeded(seed))
    st = ex.state
    assert st["message"] == "" and st["tokens"] == expected
    assert st["generated"] == tok.decode(expected) and st["text"] == "bob and his" + st["generated"]
    assert st["settings"] == settings
    assert st["paths"][0]["generated"] == st["generated"]


def test_explorer_on_the_shipped_model_matches_generate_beyond_the_window(shipped):
    model, tokenizer = shipped
    prompt = "ROMEO:\nBut soft, what light"
    ex = generation_explorer(model, tokenizer, prompt=prompt, temperature=0.9, top_k=30, top_p=0.95, seed=5)
    for _ in range(23):  # 230 tokens: past block_size (128) and two window jumps
        ex.step10_button.click()
    expected = generate(model, tokenizer.encode(prompt), 230, Settings(0.9, 30, 0.95), seeded(5))
    assert ex.state["tokens"] == expected
    assert ex.state["message"] == ""
    assert len(prompt) + 230 > 2 * model.config.block_size


def test_undo_and_reset(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="lion", seed=2)
    ex.step10_button.click()
    first = list(ex.state["tokens"])
    for _ in range(4):
        ex.undo_button.click()
    assert ex.state["tokens"] == first[:6] and ex.state["view"] == 6
    ex.step_button.click()
    ex.step_button.click()
    assert ex.state["tokens"] == first[:8]  # the generator went back too
    ex.reset_button.click()
    assert ex.state["tokens"] == [] and len(ex.paths) == 2 and ex.current == 1
    assert ex.state["paths"][0]["generated"] == tok.decode(first[:8])  # kept for comparison
    assert ex.undo_button.disabled
    ex.undo_button.click()  # nothing to undo: nothing happens
    assert ex.state["tokens"] == [] and ex.state["message"] == ""
    ex.step10_button.click()
    assert ex.state["tokens"] == first  # the same seed again


def test_changing_the_seed_starts_a_new_path_that_matches_generate(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="bad", seed=1)
    ex.seed.value = 5  # nothing generated yet: the path is just reseeded
    assert len(ex.paths) == 1
    ex.step10_button.click()
    assert ex.state["tokens"] == generate(gpt, tok.encode("bad"), 10, Settings(), seeded(5))
    ex.seed.value = 6
    assert len(ex.paths) == 2 and ex.state["tokens"] == []
    ex.step10_button.click()
    assert ex.state["tokens"] == generate(gpt, tok.encode("bad"), 10, Settings(), seeded(6))
    assert "seed 6" in ex.state["paths"][1]["label"] and "seed 5" in ex.state["paths"][0]["label"]


# --------------------------------------------------------------------------- what is drawn


def independent_logits(model, ids: list[int]) -> torch.Tensor:
    """Next-token logits after ``ids`` with the context generate uses, by a plain forward pass."""
    start = window_start(len(ids), model.config.block_size)
    with torch.no_grad():
        return model(torch.tensor([ids[start:]]))[0][0, -1]


@pytest.mark.parametrize("control,value", [("temperature", 0.5), ("temperature", 0.0), ("top_k", 3),
                                           ("top_p", 0.6), ("top_k", 13)])
def test_every_setting_changes_what_is_drawn(gpt, tok, control, value):
    ex = generation_explorer(gpt, tok, prompt="and his ", seed=4)
    for _ in range(3):
        ex.step10_button.click()
    ex.view.value = 17  # an earlier step, past the first window jump
    png, kept_before = ex.image.value, ex.state["kept"]
    drawn_before = ex.state["drawn_after"]
    assert kept_before == tok.vocab_size  # temperature 1, top-k and top-p off: all kept
    setattr(getattr(ex, control), "value", value)
    st = ex.state
    s = ex.settings()
    ids = tok.encode("and his ") + st["tokens"][:16]
    logits = independent_logits(gpt, ids)
    expected = warp(logits, **s.kwargs())
    assert st["view"] == 17 and st["chosen"] == st["tokens"][16]
    torch.testing.assert_close(st["probs_before"], torch.softmax(logits, -1), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(st["probs_after"], torch.softmax(expected, -1), atol=1e-5, rtol=1e-4)
    assert st["kept"] == int(torch.isfinite(expected).sum())
    # the picture: the drawn bars are the probabilities of the drawn tokens, the chosen one marked
    drawn = st["drawn"]
    np.testing.assert_allclose(st["drawn_after"], st["probs_after"][drawn].numpy(), atol=1e-7)
    np.testing.assert_allclose(st["drawn_before"], st["probs_before"][drawn].numpy(), atol=1e-7)
    assert st["drawn_labels"] == [("\u23ce" if tok.itos[t] == "\n" else "\u2423" if tok.itos[t] == " "
                                   else tok.itos[t]) for t in drawn]
    assert [drawn[i] for i in st["drawn_chosen"]] == [st["chosen"]]
    assert np.all(np.diff(st["drawn_after"]) <= 0)  # most probable after warping first
    # kept along the whole path, with the new settings
    kept = [int(torch.isfinite(warp(independent_logits(gpt, tok.encode("and his ") + st["tokens"][:i]),
                                    **s.kwargs())).sum()) for i in range(30)]
    assert list(st["kept_per_step"]) == kept and list(st["drawn_kept"]) == kept
    visible_change = st["kept"] != kept_before or np.abs(st["drawn_after"] - drawn_before).max() > 0.01
    if (control, value) in {("temperature", 0.0), ("top_k", 3), ("top_p", 0.6)}:
        assert visible_change  # these remove tokens here
    if visible_change:
        assert ex.image.value != png
    if control != "temperature" and value < tok.vocab_size:
        assert st["kept"] <= kept_before


def test_path_numbers_and_their_picture(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="ha", temperature=1.5, seed=8)
    for _ in range(3):
        ex.step10_button.click()
    st = ex.state
    ids = tok.encode("ha") + st["tokens"]
    lps = [float(torch.log_softmax(independent_logits(gpt, ids[:2 + i]), -1)[ids[2 + i]]) for i in range(30)]
    np.testing.assert_allclose(st["log_probs"], lps, atol=1e-4)
    assert st["log_prob"] == pytest.approx(sum(lps), abs=1e-3)
    assert st["surprise"] == pytest.approx(-sum(lps) / 30, abs=1e-4)
    assert st["perplexity"] == pytest.approx(math.exp(-sum(lps) / 30), rel=1e-4)
    np.testing.assert_allclose(st["drawn_surprise"], -np.array(lps), atol=1e-4)
    assert st["drawn_buckets"].tolist() == [0 if r == 1 else 1 if r <= 5 else 2 if r <= 10 else 3
                                            for r in st["ranks"]]
    assert f"{sum(lps):.2f}" in ex.readout.value
    assert ex.text.value.count("<span title='step") == 30


def test_view_shows_each_step_and_the_next(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="sea", seed=0)
    assert ex.state["chosen"] is None and ex.state["view"] == 1  # nothing yet: the next step
    ex.step10_button.click()
    assert ex.state["view"] == 10 and ex.view.max == 11
    for view in (1, 5, 10):
        ex.view.value = view
        st = ex.state
        assert st["chosen"] == st["tokens"][view - 1] and st["chosen"] in st["candidates"]
        chosen_buttons = [b for b, mark in zip(ex.candidates, ex.button_marks()) if mark == "chosen"]
        assert [b.token for b in chosen_buttons] == [st["chosen"]]
        assert chosen_buttons[0].style.button_color == CHOSEN_COLOR  # the chosen bar's colour
        assert f"step {view}:" in ex.step_info.value
    ex.view.value = 11
    assert ex.state["chosen"] is None and "next" in ex.step_info.value
    logits = independent_logits(gpt, tok.encode("sea") + ex.state["tokens"])
    torch.testing.assert_close(ex.state["probs_before"], torch.softmax(logits, -1), atol=1e-5, rtol=1e-4)


def test_buttons_show_the_top_candidates_after_warping(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="bob ", top_k=3)
    st = ex.state
    after = st["probs_after"]
    on_buttons = [b.token for b in ex.candidates]
    assert on_buttons == st["candidates"] and len(on_buttons) == gx.N_BUTTONS
    assert set(on_buttons[:3]) == set(torch.topk(after, 3).indices.tolist())
    for b, mark in zip(ex.candidates, ex.button_marks()):
        p = float(after[b.token])
        assert f"{p:.2f}" in b.description
        assert mark == ("" if p > 0 else "removed")  # removed tokens still forceable, marked
        assert b.style.text_decoration == (None if p > 0 else "line-through")


# --------------------------------------------------------------------------- forcing and branches


def test_clicking_a_candidate_at_the_next_step_adds_that_character(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="he ", seed=0)
    ex.step_button.click()
    ex.view.value = 2  # the next step
    button = ex.candidates[-1]  # the least probable candidate on a button
    unlikely, before = button.token, ex.state["text"]
    button.click()
    st = ex.state
    assert st["text"] == before + tok.itos[unlikely]
    assert st["how"] == FORCED and st["view"] == 2 and len(ex.paths) == 1
    assert "<span title='step 2" in ex.text.value and "underline" in ex.text.value
    ex.any_token.value = tok.stoi["m"]
    ex.view.value = 3
    ex.force_button.click()
    assert ex.state["text"] == before + tok.itos[unlikely] + "m"
    assert "forced" in ex.state["paths"][0]["label"]


def test_clicking_a_candidate_at_an_earlier_step_starts_a_branch(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="sea", temperature=0.9, seed=3)
    ex.step10_button.click()
    ex.step10_button.click()
    original = list(ex.state["tokens"])
    ex.view.value = 5
    button = next(b for b in ex.candidates if b.token != original[4])
    other = button.token
    button.click()
    st = ex.state
    assert len(ex.paths) == 2 and ex.current == 1
    assert st["tokens"] == original[:4] + [other] and st["view"] == 5 and st["how"] == FORCED
    assert ex.paths[0].tokens == original  # the path it left is kept
    ex.step10_button.click()
    # continued as generate would from the text so far, the generator as before step 5's draw
    generator = torch.Generator()
    generator.set_state(ex.paths[0].steps[4].rng_before)
    prefix = tok.encode("sea") + original[:4] + [other]
    assert ex.state["tokens"][5:] == generate(gpt, prefix, 10, Settings(0.9), generator)
    # both listed side by side; switching back shows the original
    assert "\u25b8" in ex.comparison.value and ex.comparison.value.count("<tr>") == 2
    labels = [s["label"] for s in ex.state["paths"]]
    assert labels[0].startswith("sampled") and labels[1].startswith("forced")
    ex.path_select.value = 0
    assert ex.current == 0 and ex.state["tokens"] == original
    ex.view.value = 5
    ex.candidates[[b.token for b in ex.candidates].index(original[4])].click()  # already chosen there
    assert len(ex.paths) == 2 and ex.state["tokens"] == original


def test_greedy_sampled_and_forced_paths_side_by_side(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="bob", seed=0)
    for _ in range(2):
        ex.step10_button.click()
    ex.view.value = 3
    ex.candidates[-1].click()  # a forced branch
    ex.path_select.value = 0
    ex.greedy_button.click()
    st = ex.state
    assert [s["label"].split(",")[0].split(" ")[0] for s in st["paths"]] == ["sampled", "forced", "greedy"]
    assert ex.current == 0  # still showing the sampled path
    greedy = st["paths"][2]
    assert greedy["steps"] == 20
    assert ex.paths[2].tokens == generate(gpt, tok.encode("bob"), 20, Settings(0.0), seeded(0))
    # greedy is the most likely continuation step by step, so its log P is usually the highest
    assert greedy["log_prob"] >= st["paths"][1]["log_prob"]
    assert ex.comparison.value.count("<tr>") == 3


def test_paths_are_capped_and_the_shown_one_survives(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="a")
    for _ in range(gx.MAX_PATHS + 3):
        ex.step_button.click()
        ex.reset_button.click()
    assert len(ex.paths) == gx.MAX_PATHS and ex.current == len(ex.paths) - 1
    assert len(ex.path_select.options) == gx.MAX_PATHS


def test_a_path_has_a_length_limit(gpt, tok, monkeypatch):
    monkeypatch.setattr(gx, "MAX_STEPS", 12)
    ex = generation_explorer(gpt, tok, prompt="a")
    ex.step10_button.click()
    ex.step10_button.click()
    assert len(ex.state["tokens"]) == 12 and "at most 12" in ex.state["message"]
    assert ex.step_button.disabled and ex.step10_button.disabled


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("prompt,needle", [("", "empty"), ("hello WORLD", "not in the vocabulary")])
def test_bad_prompt_shows_a_message_and_the_buttons_do_nothing(gpt, tok, prompt, needle):
    ex = generation_explorer(gpt, tok, prompt="hello")
    ex.prompt.value = prompt
    assert needle in ex.state["message"] and needle in ex.readout.value
    if needle != "empty":
        assert "'D'" in ex.state["message"] and "'W'" in ex.state["message"]  # the characters are named
    for button in (ex.step_button, ex.step10_button, ex.undo_button, ex.reset_button, ex.greedy_button,
                   ex.force_button, *ex.candidates):
        button.click()
    ex.temperature.value = 0.5
    ex.seed.value = 3
    assert needle in ex.state["message"]
    ex.prompt.value = "hello"
    assert ex.state["message"] == "" and ex.state["text"] == "hello" and len(ex.paths) == 1


@pytest.mark.parametrize("kwargs,needle", [
    ({"temperature": -0.5}, "temperature"), ({"temperature": 5.0}, "up to 2"), ({"top_k": 0}, "top_k"),
    ({"top_k": 2.5}, "top_k"), ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"), ({"seed": "x"}, "seed"),
    ({"seed": -3}, "seed"), ({"prompt": 3}, "prompt"), ({"prompt": "hello WORLD"}, "not in the vocabulary"),
])
def test_bad_arguments_show_a_message_in_the_widget(gpt, tok, kwargs, needle):
    ex = generation_explorer(gpt, tok, **kwargs)
    assert needle in ex.state["message"] and needle in ex.readout.value
    assert repr(next(iter(kwargs.values()))) in ex.state["message"] or needle == "not in the vocabulary"
    ex.step_button.click()  # nothing crashes


def test_bad_seed_typed_in_shows_a_message(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="a")
    ex.step_button.click()
    ex.seed.value = -1
    assert "seed" in ex.state["message"] and len(ex.paths) == 1
    ex.seed.value = 2 ** 63
    assert "2**63" in ex.state["message"]
    ex.reset_button.click()  # with an unusable seed: the message again, nothing else
    assert "2**63" in ex.state["message"] and len(ex.paths) == 1
    ex.prompt.value = "ab"
    assert "2**63" in ex.state["message"] and ex.path is None
    ex.prompt.value = "a"
    assert "2**63" in ex.state["message"]
    ex.seed.value = 4
    assert ex.state["message"] == "" and len(ex.paths) == 1 and ex.state["text"] == "a"


def test_top_k_above_the_vocabulary_keeps_all(gpt, tok):
    ex = generation_explorer(gpt, tok, top_k=100, prompt="a")
    assert ex.state["message"] == "" and ex.top_k.value == tok.vocab_size
    assert ex.state["kept"] == tok.vocab_size


def test_a_vocabulary_smaller_than_the_row_of_buttons(make_gpt):
    tok = CharTokenizer(list("ab\n"))
    ex = generation_explorer(make_gpt(vocab_size=3), tok, prompt="ab")
    shown = [b for b in ex.candidates if b.token is not None]
    assert sorted(b.token for b in shown) == [0, 1, 2]
    assert all(b.layout.visibility == "hidden" for b in ex.candidates if b.token is None)
    ex.step10_button.click()
    assert len(ex.state["tokens"]) == 10 and ex.state["message"] == ""


def test_wrong_model_or_tokenizer_raises(gpt, tok):
    with pytest.raises(TypeError, match="GPT"):
        generation_explorer(object(), tok)
    with pytest.raises(ValueError, match="tokens"):
        generation_explorer(gpt, CharTokenizer(list("abc")))


# --------------------------------------------------------------------------- the widget


def test_one_colour_per_meaning_in_chart_buttons_and_text(gpt, tok):
    """Blue = kept after warping, grey x / struck-through = removed, navy = chosen; the rank colours
    (green, yellow, orange, pink) only ever mean a rank."""
    from matplotlib.colors import to_hex

    from glmlib.widgets._render import KEPT_COLOR, MODEL_COLOR, REMOVED_COLOR
    from glmlib.widgets.surprise_view import RANK_BUCKETS

    ex = generation_explorer(gpt, tok, prompt="bob ", top_k=3, seed=1)
    ex.step(4)
    ex.view.value = 2
    st = ex.state
    rank_colours = {c for _, _, c in RANK_BUCKETS}
    after = [to_hex(c) for c in ex._bars_after.get_facecolor()]
    chosen_at = st["drawn_chosen"]
    assert {c for i, c in enumerate(after) if i not in chosen_at} == {KEPT_COLOR}
    assert [after[i] for i in chosen_at] == [CHOSEN_COLOR]
    assert {to_hex(c) for c in ex._bars_before.get_facecolor()} == {MODEL_COLOR}
    drawn_after = st["drawn_after"]
    assert st["drawn_removed"] == [i for i, h in enumerate(drawn_after) if h == 0] != []
    legend = {t.get_text(): h for t, h in zip(ex._ax_cand.get_legend().get_texts(),
                                              ex._ax_cand.get_legend().legend_handles)}
    assert to_hex(legend["kept, after warping"].get_facecolor()) == KEPT_COLOR
    assert to_hex(legend["model (temperature 1)"].get_facecolor()) == MODEL_COLOR
    assert to_hex(legend["chosen"].get_facecolor()) == CHOSEN_COLOR
    assert legend["removed by the settings"].get_marker() == ex._removed.get_marker() == "x"
    used = set(after) | {to_hex(c) for c in ex._bars_before.get_facecolor()} | {REMOVED_COLOR}
    assert not used & rank_colours  # no chart colour doubles as a rank colour
    for b in ex.candidates:  # no button borrows a colour style (ipywidgets' warning is orange)
        assert b.button_style == "" and b.style.button_color in (None, CHOSEN_COLOR)


def test_widget_basics(gpt, tok):
    ex = generation_explorer(gpt, tok, prompt="his ")
    assert isinstance(ex, GenerationExplorer)
    assert "glm-generation-explorer" in ex.widget._dom_classes
    assert "glm-generated-text" in ex.text._dom_classes
    assert all("glm-candidate" in b._dom_classes for b in ex.candidates)
    assert WIDGET_MIME in ex._repr_mimebundle_()
    assert ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert (ex.top_k.min, ex.top_k.max) == (0, tok.vocab_size)
    assert (ex.temperature.min, ex.temperature.max) == (0.0, 2.0)
    assert len(ex.any_token.options) == tok.vocab_size
    axes = ex._fig.figure.axes
    assert all(ax.get_title() for ax in axes[:2]) and axes[0].get_ylabel() and axes[1].get_xlabel()
    ex.close()


def test_redraws_repaint_over_cached_backgrounds(gpt, tok):
    """Once each axis layout has been drawn, moving between them is a repaint, not a full draw."""
    ex = generation_explorer(gpt, tok, prompt="his ")
    for _ in range(3):
        ex.step10_button.click()
    values = (0.3, 1.0, 2.0, 0.0)
    for t in values:
        ex.temperature.value = t
    full = ex._fig.full_draws
    for t in values * 2:
        ex.temperature.value = t
    for view in range(1, 31):
        ex.view.value = view
    assert ex._fig.full_draws == full
