"""The chain rule, drawn (notebook 01): ``P(x) = prod_t P(x_t | x_<t)``, one bar
per character of a sentence, for a bigram model or a GPT.
"""
from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch

from ..i18n import _
from ..model import GPT
from ..ngram import BigramLM
from ._render import (KEPT_COLOR, Explorer, FigureImage, bar_verts, bars, image_widget, message_html,
                      readable_text, visible)

MAX_TICK_FONT = 11.0  # points; the x axis always leaves room for labels this large
NOTE_FITS_UP_TO = 30  # characters: beyond this the first bar is too narrow for its note


def _encode(tokenizer: Any, text: str) -> list[int]:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return tokenizer.encode(text)


@torch.no_grad()
def token_log_probs(model: BigramLM | GPT, tokenizer: Any, text: str) -> torch.Tensor:
    """Natural-log probability of each predicted token of ``text`` given the ones before it.

    For a :class:`~glmlib.ngram.BigramLM` this is its ``token_log_probs``: with a
    ``bos`` token the first character is predicted too, with an ``eos`` token
    the end is predicted as one more entry. For a :class:`~glmlib.model.GPT`
    the first character has no prediction (nothing comes before it), so the
    result has ``len(text) - 1`` entries: ``log P(x_t | x_1..x_{t-1})`` for
    ``t = 2..n``. Their sum is the log-probability of the text (given its
    first character, for the GPT).
    """
    ids = _encode(tokenizer, text)
    if isinstance(model, BigramLM):
        return model.token_log_probs(ids)
    if isinstance(model, GPT):
        if len(ids) < 2:
            raise ValueError(_("a GPT needs at least 2 characters to score (the first one has no "
                               "prediction), got {text}", text=repr(text)))
        limit = model.config.block_size + 1
        if len(ids) > limit:
            raise ValueError(_("the text has {n} tokens; this model can score at most "
                               "block_size + 1 = {limit}", n=len(ids), limit=limit))
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        logits, _loss = model(torch.tensor([ids[:-1]], device=device))  # (1, n-1, V)
        model.train(was_training)
        logp = torch.log_softmax(logits[0].float(), dim=-1)  # (n-1, V)
        return logp.gather(1, torch.tensor(ids[1:], device=device)[:, None])[:, 0].cpu()
    raise TypeError(f"model must be a glmlib.ngram.BigramLM or a glmlib.model.GPT, "
                    f"got {type(model).__name__}")


def _positions(model: Any, tokenizer: Any, text: str) -> tuple[list[str], bool]:
    """Labels of the predicted tokens, and whether the first character goes unpredicted."""
    if isinstance(model, BigramLM):
        labels = [visible(c) for c in text]
        if model.eos is not None:
            eos = model.eos
            labels.append(tokenizer.itos[eos] if eos < len(tokenizer.itos) else "<eos>")
        unpredicted_first = model.bos is None
        if unpredicted_first:
            labels = labels[1:]
        return labels, unpredicted_first
    return [visible(c) for c in _token_texts(tokenizer, text)[1:]], True


def _token_texts(tokenizer: Any, text: str) -> list[str]:
    """The text of each token of ``text``: its characters for a character tokenizer, a BPE token's
    bytes as text (several characters, or an escaped part of one)."""
    itos = getattr(tokenizer, "itos", None)
    return [itos[i] if itos is not None else tokenizer.decode([i]) for i in tokenizer.encode(text)]


class ChainRuleView(Explorer):
    """Bar chart of ``P(x_t | x_<t)`` for each character of ``text``, the product in the title.

    ``state``: ``log_probs`` (the tensor of :func:`token_log_probs`),
    ``probs``, ``labels`` (the predicted tokens, readable), ``log_prob``
    (their sum, nats), ``prob`` (``exp`` of it), ``first_unpredicted`` and
    ``message``. The ``text`` control redraws for a new sentence.
    """

    def __init__(self, model: BigramLM | GPT, tokenizer: Any, text: str) -> None:
        if not isinstance(model, (BigramLM, GPT)):
            raise TypeError(f"model must be a glmlib.ngram.BigramLM or a glmlib.model.GPT, "
                            f"got {type(model).__name__}")
        token_log_probs(model, tokenizer, text)  # bad input raises here, with the reason
        self.model, self.tokenizer = model, tokenizer
        self.text = widgets.Text(value=text, description=_("text"), continuous_update=False,
                                 layout=widgets.Layout(width="640px"))
        self.readout = widgets.HTML()
        self.image = image_widget()
        self.widget = widgets.VBox([self.text, self.readout, self.image])
        self.widget.add_class("glm-chain-rule-view")
        self.state: dict[str, Any] = {"message": ""}
        self._fig = FigureImage((11.0, 4.2))
        self._ax: Any = None
        self.text.observe(lambda _change: self.refresh(), "value")
        self.refresh()

    def refresh(self) -> None:
        text = self.text.value
        try:
            log_probs = token_log_probs(self.model, self.tokenizer, text)
        except (ValueError, TypeError) as err:
            self.state["message"] = str(err)
            self.readout.value = message_html(str(err))
            return
        labels, first_unpredicted = _positions(self.model, self.tokenizer, text)
        total = float(log_probs.double().sum())
        self.state.update(message="", log_probs=log_probs, probs=log_probs.exp(), labels=labels,
                          log_prob=total, prob=math.exp(total), first_unpredicted=first_unpredicted)
        kind = "bigram" if isinstance(self.model, BigramLM) else "GPT"
        line = _("{kind}: log P = {total:.3f} nats ({bits:.2f} bits) over {n} predictions; P = {p:.3e}; "
                 "perplexity {perplexity:.2f}", kind=_("bigram") if kind == "bigram" else kind, total=total,
                 bits=total / math.log(2), n=len(log_probs), p=math.exp(total),
                 perplexity=math.exp(-total / len(log_probs)))
        self.readout.value = f"<div style='font-family:monospace'>{line}</div>"
        self.image.value = self._draw(text, kind)

    def _build(self, offset: int) -> None:
        """Axes, labels and grid, drawn once; a new sentence only changes dynamic artists."""
        fig = self._fig
        f = fig.figure
        f.subplots_adjust(left=0.07, right=0.99, top=0.8, bottom=0.2)
        self._ax = ax = f.subplots()
        self._bars = bars(ax, np.zeros(1), color=KEPT_COLOR)
        self._note = ax.text(0, 0.5, "no prediction:\nnothing before it", rotation=90, ha="center",
                             va="center", fontsize=8, color="#555555", visible=False)
        dynamic = [self._bars, *ax.spines.values(), ax.title, self._note]
        if offset:  # the first character: no bar, a grey band (and a note why, if it fits)
            dynamic.insert(0, ax.axvspan(-0.45, 0.45, color="#dddddd", zorder=0))
        ax.set_ylim(0, 1.0)
        ax.set_ylabel(r"$P(x_t \mid x_{<t})$")
        ax.set_xlabel("character $x_t$ (\u23ce = newline, \u2423 = space)")
        ax.grid(axis="y", alpha=0.3)
        ax.title.set_fontsize(11)
        fig.dynamic(*dynamic)

    def _draw(self, text: str, kind: str) -> bytes:
        st = self.state
        fig = self._fig
        offset = 1 if st["first_unpredicted"] else 0
        if self._ax is None:
            self._build(offset)
        ax = self._ax
        probs = st["probs"].double().numpy()
        labels = ([visible(_token_texts(self.tokenizer, text)[0])] if offset else []) + st["labels"]
        self._bars.set_verts(bar_verts(np.concatenate([[0.0] * offset, probs])))
        n = len(labels)
        fig.set_char_ticks(ax, "x", labels, float(np.clip(700 / max(n, 1), 6, MAX_TICK_FONT)),
                           marks=False, room=MAX_TICK_FONT)
        ax.set_xlim(-0.6, n - 0.4)
        self._note.set_visible(bool(offset) and n <= NOTE_FITS_UP_TO)
        given = " given its first character" if offset else ""
        ax.title.set_text(f"Chain rule ({kind}): \u201c{readable_text(_clip(text))}\u201d\n"
                          f"log P = \u03a3 log P(x_t | x_<t) = {st['log_prob']:.2f} nats, "
                          f"P = {st['prob']:.2e}{given}")
        return fig.render()


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def chain_rule_view(model: BigramLM | GPT, tokenizer: Any, text: str) -> ChainRuleView:
    """Build a :class:`ChainRuleView`; the last expression of a cell displays it."""
    return ChainRuleView(model, tokenizer, text)
