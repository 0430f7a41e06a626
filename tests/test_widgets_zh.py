"""The explorers in Chinese: every label a learner reads is translated under ``zh-CN``, English otherwise.

Each explorer is driven through the same steps twice, in English and in Chinese (the
same seeds, so the same numbers and the same generated text). After every step the
widget tree is walked and every text a learner reads is collected: control
descriptions, option labels, button texts, tooltips, placeholders, and the text and
``title`` tooltips of the HTML the explorer writes. A text with English words in the
English run must, in the Chinese run, differ and contain Chinese, and have no English
words left apart from code names, the learner's own text, what the model generated
and terms the course keeps in English (top-k, top-p, BPE, UTF-8, log P, ...). The
figures are not checked: their text stays English (the course ships no CJK font).

Fast and in the kernel: tiny random models, a small BPE tokenizer, no browser.
"""
from __future__ import annotations

import html
import re
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest
import torch
from babel.messages.pofile import read_po

import glmlib
from glmlib import i18n
from glmlib.bpe import BPETokenizer
from glmlib.data import CharTokenizer, train_val_split
from glmlib.model import GPT, GPTConfig
from glmlib.ngram import BigramLM
from glmlib.widgets import (TrainingDashboard, attention_explorer, chain_rule_view, generation_explorer,
                            mask_explorer, sampling_explorer, surprise_view, tokenizer_explorer)

CJK = re.compile(r"[\u4e00-\u9fff]")
# what stays in English: terms the course keeps (terminology.tsv), maths and units, code-like bits
KEPT = re.compile(r"top-(?:k|p|\d+)|\bBPE\b|\bUTF-8\b|\bGPT\b|\bKV\b|\blog [Pp]\b|\bid\b|\bhex\b"
                  r"|\b\w*_\w*\b|\b[0-9a-f]{2}(?: [0-9a-f]{2})*\b|U\+[0-9A-F]{4}|\d+(?:\.\d+)?e[-+]\d+")
WORD = re.compile(r"[A-Za-z]{2,}")

Snapshot = list[tuple[str, str]]  # (where in the widget tree, text)
Scenario = Callable[..., Iterator[tuple[str, Any, list[str]]]]  # yields (step, explorer, content texts)


# --------------------------------------------------------------------------- reading a widget tree

def html_texts(value: str) -> list[str]:
    """The text an HTML widget shows (tags removed, entities read) and each ``title`` tooltip in it."""
    value = re.sub(r"<style>.*?</style>", "", value, flags=re.S)
    titles = [html.unescape(t) for t in re.findall(r"title='([^']*)'", value)]
    shown = html.unescape(re.sub(r"<[^>]+>", " ", value))
    return ([shown] if shown.strip() else []) + titles


def texts(root: widgets.Widget) -> Snapshot:
    """Every text a learner reads in the tree under ``root``, with where it is."""
    found: Snapshot = []

    def walk(w: widgets.Widget, where: str) -> None:
        kind = f"{where}:{type(w).__name__}"
        for attr in ("description", "tooltip", "placeholder"):
            value = getattr(w, attr, None)
            if isinstance(value, str) and value.strip():
                found.append((f"{kind}.{attr}", value))
        for i, tip in enumerate(getattr(w, "tooltips", None) or ()):
            found.append((f"{kind}.tooltips[{i}]", tip))
        for i, label in enumerate(getattr(w, "_options_labels", None) or ()):
            found.append((f"{kind}.options[{i}]", label))
        if isinstance(w, widgets.HTML) and w.value:
            found.extend((f"{kind}.value", t) for t in html_texts(w.value))
        for i, child in enumerate(getattr(w, "children", ())):
            walk(child, f"{where}/{i}")

    walk(root, "")
    return found


def english_words(text: str, content: set[str]) -> set[str]:
    """Words of ``text`` that a translation should have turned into Chinese (not a word, or a piece of one
    such as a BPE token, of the ``content``)."""
    return {w for w in WORD.findall(KEPT.sub(" ", text)) if not any(w in c for c in content)}


def content_words(strings: list[str]) -> set[str]:
    """Words of the learner's text and of what the model wrote: shown as they are in any language."""
    return {w for s in strings for w in WORD.findall(s)}


def run(scenario: Scenario, *args: Any) -> list[tuple[str, Snapshot, set[str]]]:
    """The scenario's steps, each with its texts and the content words so far (a panel may still show
    an earlier prompt); every explorer closed after."""
    out, seen, words = [], [], set()
    for step, explorer, content in scenario(*args):
        words |= content_words(content + _inputs(explorer.widget))
        out.append((step, texts(explorer.widget), set(words)))
        seen.append(explorer)
    for explorer in {id(e): e for e in seen}.values():
        explorer.close()
    return out


def _inputs(root: widgets.Widget) -> list[str]:
    """What the learner typed: the values of text boxes."""
    found = []
    for child in getattr(root, "children", ()):
        found += _inputs(child)
    if isinstance(root, (widgets.Text, widgets.Textarea)):
        found.append(root.value)
    return found


def assert_translated(english: list[tuple[str, Snapshot, set[str]]],
                      chinese: list[tuple[str, Snapshot, set[str]]]) -> int:
    """Each English text with words to translate is, at the same place and step, Chinese; returns how
    many texts were checked."""
    assert [step for step, _t, _c in english] == [step for step, _t, _c in chinese]
    checked = 0
    for (step, en, en_content), (_step, zh, zh_content) in zip(english, chinese):
        assert [where for where, _t in en] == [where for where, _t in zh], f"{step}: not the same widgets"
        content = en_content | zh_content
        for (where, en_text), (_where, zh_text) in zip(en, zh):
            if not english_words(en_text, content):
                continue
            checked += 1
            assert zh_text != en_text and CJK.search(zh_text), \
                f"{step}, {where}: not translated: {en_text[:300]!r}: {sorted(english_words(en_text, content))}"
            left = english_words(zh_text, content)
            assert not left, f"{step}, {where}: English left in {zh_text[:300]!r}: {sorted(left)}"
    return checked


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(autouse=True)
def no_figure_leaks():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


@pytest.fixture
def english(monkeypatch):
    """English, whatever the environment says; the earlier choice back afterwards."""
    monkeypatch.setattr(i18n, "_chosen", i18n._chosen)  # restored at teardown
    monkeypatch.delenv("GLMLIB_LANG", raising=False)
    glmlib.set_language("en")


@pytest.fixture
def chinese(monkeypatch):
    """``glmlib.set_language("zh-CN")`` for one test; the earlier choice (English) back afterwards."""
    monkeypatch.setattr(i18n, "_chosen", i18n._chosen)  # restored at teardown
    yield lambda: glmlib.set_language("zh-CN")
    glmlib.set_language("en")


@pytest.fixture(scope="module")
def gpt(tok) -> GPT:
    """A tiny random GPT (block_size 16) with peaked distributions, as in test_widgets."""
    torch.manual_seed(3)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=4, n_embd=32)).eval()
    with torch.no_grad():
        model.wte.weight.mul_(40)
    return model


@pytest.fixture(scope="module")
def small_bpe(corpus) -> BPETokenizer:
    train, _val = train_val_split(corpus)
    return BPETokenizer.train(train[:20_000], 256 + 60)


# --------------------------------------------------------------------------- the scenarios

def sampling_steps(gpt: GPT, tok: CharTokenizer) -> Iterator[tuple[str, Any, list[str]]]:
    ex = sampling_explorer(gpt, tok, prompt="hello ", top_k=3)

    def shown() -> list[str]:
        return [ex.state.get("generated", ""), ex.state.get("last_token", "")]

    yield "built", ex, shown()
    ex.temperature.value = 0.0
    yield "greedy", ex, shown()
    ex.temperature.value, ex.top_p.value, ex.scale.value = 0.8, 0.5, "log"
    yield "settings", ex, shown()
    ex.generate_button.click()
    yield "generated", ex, shown()
    ex.sample_button.click()
    yield "sampled", ex, shown()
    ex.prompt.value = "hello bob is a bold lad "  # longer than block_size: the model sees only the end
    yield "cropped", ex, shown()
    ex.temperature.value = 0.001  # set from code: the explorer cannot show it
    yield "bad temperature", ex, shown()
    ex.temperature.value = 1.0
    ex.prompt.value = ""
    yield "empty prompt", ex, shown()


def attention_steps(gpt: GPT, tok: CharTokenizer) -> Iterator[tuple[str, Any, list[str]]]:
    ex = attention_explorer(gpt, tok, text="hello bob", query=40)  # moved into range, with a note
    yield "built", ex, []
    ex.head.value = "all"
    yield "all heads", ex, []
    ex.layer.value, ex.head.value, ex.query.value = 1, 2, 3
    yield "one head", ex, []
    ex.text.value = "hello bob is a bold lad in a hall"
    yield "cropped", ex, []
    ex.text.value = ""
    yield "empty text", ex, []


def mask_steps() -> Iterator[tuple[str, Any, list[str]]]:
    ex = mask_explorer(T=8, lengths="8, 5")
    yield "built", ex, []
    ex.causal.value = False
    ex.sequence.value = 1
    yield "padding only", ex, []
    ex.lengths.value = "8, five"
    yield "not numbers", ex, []
    ex.lengths.value = "8, 12"
    yield "too long", ex, []


def chain_rule_steps(gpt: GPT, tok: CharTokenizer) -> Iterator[tuple[str, Any, list[str]]]:
    ex = chain_rule_view(gpt, tok, "hello bob")
    yield "GPT", ex, []
    ex.text.value = "h"
    yield "too short", ex, []
    ex.text.value = "hello bob is a bold lad in a hall"
    yield "too long", ex, []
    bigram = chain_rule_view(BigramLM(tok.vocab_size).fit([tok.encode("hello bob is a bold lad")]), tok, "bob")
    yield "bigram", bigram, []


def dashboard_steps() -> Iterator[tuple[str, Any, list[str]]]:
    dash = TrainingDashboard(max_iters=4, min_interval=0.0)
    yield "waiting", dash, []
    for step in range(4):
        dash("step", {"step": step, "loss": 3.0 - 0.1 * step, "lr": 1e-3, "max_iters": 4, "seconds": 0.5 * step})
    yield "steps", dash, []
    sample = "hello bob is a bold lad"
    dash("eval", {"step": 4, "train": 2.5, "val": 2.6, "sample": sample, "seconds": 2.0})
    yield "evaluated", dash, [sample]


def generation_steps(gpt: GPT, tok: CharTokenizer) -> Iterator[tuple[str, Any, list[str]]]:
    ex = generation_explorer(gpt, tok, prompt="hello ", temperature=0.001, seed=0)  # a starting value refused

    def shown() -> list[str]:
        st = ex.state
        return [st.get("text", ""), st.get("generated", "")] + [p["generated"] for p in st.get("paths", [])]

    yield "built", ex, shown()
    ex.temperature.value = 1.0
    ex.step_button.click()
    yield "one step", ex, shown()
    ex.step10_button.click()
    yield "eleven steps", ex, shown()
    ex.view.value = 3
    yield "earlier step", ex, shown()
    next(b for b in ex.candidates if b.token != ex.state["chosen"]).click()  # a branch
    yield "branch", ex, shown()
    ex.any_token.value = tok.stoi["z"] if "z" in tok.stoi else 0
    ex.view.value = ex.view.max
    ex.force_button.click()  # forced at the next step
    ex.top_k.value, ex.top_p.value = 2, 0.5
    yield "forced", ex, shown()
    ex.greedy_button.click()
    yield "greedy path", ex, shown()
    ex.temperature.value = 0.0
    ex.step_button.click()
    ex.temperature.value = 0.9
    ex.step_button.click()  # settings changed along the way
    yield "mixed", ex, shown()
    ex.undo_button.click()
    ex.reset_button.click()
    yield "reset", ex, shown()
    ex.step(0)
    yield "bad step", ex, shown()
    ex.prompt.value = ""
    yield "empty prompt", ex, shown()


def surprise_steps(gpt: GPT, tok: CharTokenizer) -> Iterator[tuple[str, Any, list[str]]]:
    examples = {"short": "hello bob", "sea": "a sea is as bad as a hill"}
    ex = surprise_view(gpt, tok, text="hello bob is a bold lad", examples=examples)
    yield "built", ex, list(examples)
    ex.examples.value = "sea"
    yield "example", ex, list(examples)
    ex.position.value = 5
    yield "position", ex, list(examples)
    ex.select(999)
    yield "bad position", ex, list(examples)
    ex.text.value = "h"
    yield "too short", ex, list(examples)


def tokenizer_steps(small_bpe: BPETokenizer, tok: CharTokenizer) -> Iterator[tuple[str, Any, list[str]]]:
    from glmlib.widgets.tokenizer_explorer import MAX_CHARS, examples

    texts_shown = list(examples().values())
    ex = tokenizer_explorer(bpe=small_bpe, char_tokenizer=tok, example="Chinese", merges=40)
    yield "built", ex, texts_shown  # Chinese characters split into bytes across tokens
    ex.view.value = "table"
    yield "table", ex, texts_shown
    ex.examples.value = "English"
    ex.mode.value = "char"  # characters the 13-character vocabulary lacks
    yield "characters", ex, texts_shown
    ex.mode.value, ex.view.value = "bpe", "chips"
    ex.text.value = "hello bob is a bold lad " * 200  # more tokens than chips and table rows
    yield "long", ex, texts_shown
    ex.view.value = "table"
    yield "long table", ex, texts_shown
    ex.text.value = ""
    yield "empty", ex, texts_shown
    ex.text.value = "x" * (MAX_CHARS + 1)
    yield "too long", ex, texts_shown
    ex.text.value = "bad \ud800"
    yield "lone surrogate", ex, texts_shown


SCENARIOS = {
    "sampling_explorer": (sampling_steps, ("gpt", "tok")),
    "attention_explorer": (attention_steps, ("gpt", "tok")),
    "mask_explorer": (mask_steps, ()),
    "chain_rule": (chain_rule_steps, ("gpt", "tok")),
    "dashboard": (dashboard_steps, ()),
    "generation_explorer": (generation_steps, ("gpt", "tok")),
    "surprise_view": (surprise_steps, ("gpt", "tok")),
    "tokenizer_explorer": (tokenizer_steps, ("small_bpe", "tok")),
}


# --------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_label_is_chinese_under_zh_cn(name, chinese, request):
    scenario, fixtures = SCENARIOS[name]
    args = [request.getfixturevalue(f) for f in fixtures]
    glmlib.set_language("en")
    english = run(scenario, *args)
    chinese()
    zh = run(scenario, *args)
    assert glmlib.get_language() == "zh-CN"
    checked = assert_translated(english, zh)
    assert checked >= 5, f"only {checked} texts with English words found in {name}: is the walk broken?"


def test_a_control_changed_under_zh_cn_redraws_in_chinese(gpt, tok, chinese):
    chinese()
    ex = sampling_explorer(gpt, tok, prompt="hello ")
    try:
        before = ex.readout.value
        ex.temperature.value = 0.0
        assert ex.readout.value != before and "贪心" in ex.readout.value  # greedy (temperature 0)
        ex.generate_button.click()
        assert "随机种子" in ex.generated.value and "温度" in ex.generated.value
        ex.prompt.value = ""
        assert CJK.search(ex.state["message"]) and CJK.search(ex.readout.value)
    finally:
        ex.close()


def test_the_language_is_read_when_an_explorer_is_built(gpt, tok, chinese):
    """An explorer built before set_language keeps its labels; one built after is Chinese."""
    before = mask_explorer()
    chinese()
    after = mask_explorer()
    try:
        assert before.causal.description == "causal" and CJK.search(after.causal.description)
        after.T.value = 4  # a redraw of the Chinese one stays Chinese
        assert CJK.search(after.readout.value)
    finally:
        before.close()
        after.close()


def test_english_without_set_language_or_glmlib_lang(gpt, tok, english, monkeypatch):
    monkeypatch.setattr(i18n, "_chosen", None)  # as in a fresh kernel
    assert glmlib.get_language() == "en"
    ex = sampling_explorer(gpt, tok, prompt="hello ")
    gx = generation_explorer(gpt, tok, prompt="hello ")
    try:
        assert ex.temperature.description == "temperature" and ex.generate_button.description == "generate"
        assert ex.scale._options_labels == ("fitted", "log", "0..1")
        assert "entropy before" in ex.readout.value
        assert gx.greedy_button.description == "add greedy path"
        assert "Nothing generated yet" in gx.readout.value
        for _where, text in texts(ex.widget) + texts(gx.widget):
            assert not CJK.search(text), text
    finally:
        ex.close()
        gx.close()


def test_glmlib_lang_chooses_chinese(gpt, tok, english, monkeypatch):
    monkeypatch.setattr(i18n, "_chosen", None)
    monkeypatch.setenv("GLMLIB_LANG", "zh-CN")
    ex = mask_explorer()
    try:
        assert glmlib.get_language() == "zh-CN" and CJK.search(ex.causal.description)
    finally:
        ex.close()


def test_the_examples_keep_their_english_values(small_bpe, tok, chinese):
    """The dropdowns show Chinese labels; their values (which code and tests use) stay the same."""
    from glmlib.widgets.tokenizer_explorer import YOUR_TEXT, examples

    chinese()
    ex = tokenizer_explorer(bpe=small_bpe, char_tokenizer=tok)
    try:
        assert ex.examples.value == "English" and CJK.search(ex.examples.label)
        assert [value for _label, value in ex.examples.options] == [YOUR_TEXT, *examples()]
        assert [value for _label, value in ex.mode.options] == ["bpe", "char"]
        ex.text.value = "typed"
        assert ex.examples.value == YOUR_TEXT and CJK.search(ex.examples.label)
    finally:
        ex.close()


def pixels(label: str) -> float:
    """About how wide ``label`` is at the widgets' 13 px font: 13 px a Chinese character, 7.5 px the others."""
    return sum(13.0 if unicodedata.east_asian_width(c) in "WF" else 7.5 for c in label)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_chinese_labels_fit_their_controls(name, chinese, request):
    """The laptop layout (1366x768) keeps its widths: each Chinese description fits its label column,
    each Chinese button text its button (10 px padding a side, an icon 17 px), each toggle its width."""
    scenario, fixtures = SCENARIOS[name]
    chinese()
    explorer = next(scenario(*[request.getfixturevalue(f) for f in fixtures]))[1]
    found: list[widgets.Widget] = []

    def walk(w: widgets.Widget) -> None:
        found.append(w)
        for child in getattr(w, "children", ()):
            walk(child)

    walk(explorer.widget)
    try:
        for w in found:
            label = getattr(w, "description", "")
            room = None
            if isinstance(w, widgets.Button) and label and (w.layout.width or "").endswith("px"):
                room = int(w.layout.width[:-2]) - 20 - (17 if w.icon else 0)
            elif label and not isinstance(w, (widgets.Button, widgets.HTML)):
                width = getattr(w.style, "description_width", "") or ""
                room = int(width[:-2]) if width.endswith("px") else None
            if room is not None and CJK.search(label):  # the English ones were sized by hand
                assert pixels(label) <= room, f"{name}: {label!r} ({pixels(label):.0f} px) in {room} px"
            if isinstance(w, widgets.ToggleButtons) and w.style.button_width.endswith("px"):
                for option in filter(CJK.search, w._options_labels):
                    room = int(w.style.button_width[:-2]) - 20
                    assert pixels(option) <= room, f"{name}: {option!r} ({pixels(option):.0f} px) in {room} px"
    finally:
        explorer.close()


def test_one_english_text_has_one_translation():
    """glmlib's catalogues are read into one table per language: an English text in two catalogues must
    be translated the same in both, else one explorer (or checker) shows the other's wording."""
    translations: dict[str, dict[str, str]] = defaultdict(dict)
    for po in sorted((Path(glmlib.__file__).parent / "locale" / "zh_CN").glob("*.po")):
        with po.open("rb") as f:
            for message in read_po(f):
                if message.id and message.string and not message.fuzzy:
                    translations[message.id][po.name] = message.string
    clashes = {english: where for english, where in translations.items()
               if len(set(where.values())) > 1 and any(name.startswith("widgets.") for name in where)}
    assert not clashes, clashes


def test_what_a_notebook_reads_from_an_explorer_stays_english(gpt, tok, chinese):
    """Notebook 07's code reads the generation explorer's paths by their labels ("greedy", "sampled",
    "forced Z at 1"): that data is the same in every language; only what the explorer shows is translated."""
    chinese()
    gx = generation_explorer(gpt, tok, prompt="hello ")
    try:
        gx.step(3)
        gx.add_greedy_path()
        labels = [p["label"] for p in gx.state["paths"]]
        assert labels[0].startswith("sampled,") and labels[-1] == "greedy", labels
        assert not any(CJK.search(label) for label in labels)
        table = gx._comparison_html()
        assert "贪心" in table and CJK.search(table)  # the table a learner reads is Chinese
    finally:
        gx.close()
