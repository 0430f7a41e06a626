"""How surprising is a text to the model? (notebook 08)

Each character of a text is scored by the model given the characters before
it: its log-probability and its *rank* among all tokens (1 = the model's
first guess). Colouring characters by rank (top-1, top-5, top-10, beyond)
shows at a glance what the model finds predictable, as GLTR (Gehrmann,
Strobelt and Rush, 2019) does for GPT-2.

The context of each character follows the rule of generation
(:func:`glmlib.model.window_start`): character ``t`` is predicted from
``text[window_start(t):t]``, so a text is scored with the contexts
``generate`` would have seen. All positions sharing a window are scored by
one forward pass over that window (causal attention: each position sees only
what is before it), and the windows go through the model as one batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.collections import PathCollection
from matplotlib.path import Path

from ..device import cpu_threads
from ..i18n import _, translate
from ..model import window_start
from ._backgrounds import LayoutFigure
from ._render import (MODEL_COLOR, YOUR_TEXT, N_, bar_verts, bars, beside, example_choices, Explorer, html_escape,
                      image_widget, message_html, readable_text, separator, TextExamples, visible)

DEFAULT_TEXT = ("ROMEO:\nBut soft, what light through yonder window breaks?\n"
                "It is the east, and Juliet is the sun.\n")
# (largest rank in the bucket or None for any, name, colour): the rank colouring of every view
RANK_BUCKETS: tuple[tuple[int | None, str, str], ...] = (
    (1, "top-1", "#9ad48a"), (5, "top-5", "#fde68a"), (10, "top-10", "#fdba74"),
    (None, N_("beyond top-10"), "#f9a8d4"))  # the names stay keys in English; shown translated
TARGET_LABEL = "\u25b2 the text's character (outlined, in its rank colour)"
MAX_CHARS = 10_000  # the view's limit (score_text itself takes any length)
N_DRAWN = 20  # tokens drawn in the distribution at a position
BATCH_ROWS = 64  # windows per forward pass


def rank_bucket(ranks: np.ndarray | torch.Tensor) -> np.ndarray:
    """Index into :data:`RANK_BUCKETS` for each rank (1 = most probable)."""
    r = np.asarray(ranks)
    out = np.full(r.shape, len(RANK_BUCKETS) - 1, dtype=np.int64)
    for i, (limit, _name, _color) in reversed(list(enumerate(RANK_BUCKETS[:-1]))):
        out[r <= limit] = i
    return out


class RankBars:
    """Bars coloured by rank bucket: one compound path per bucket, so thousands of bars cost
    a few array operations to update instead of one matplotlib object each."""

    def __init__(self, ax: Any, width: float = 0.8) -> None:
        self.width = width
        empty = [_rectangles(np.zeros(0), np.zeros(0), width)] * len(RANK_BUCKETS)
        self.collection = PathCollection(empty, facecolors=[c for _limit, _name, c in RANK_BUCKETS], edgecolors="none")
        ax.add_collection(self.collection)

    def set(self, x: np.ndarray, heights: np.ndarray, ranks: np.ndarray) -> None:
        """Bars of ``heights (n,)`` at ``x (n,)``, coloured by the bucket of ``ranks (n,)``."""
        buckets = rank_bucket(ranks)
        x, heights = np.asarray(x, dtype=float), np.asarray(heights, dtype=float)
        self.collection.set_paths([_rectangles(x[buckets == b], heights[buckets == b], self.width)
                                   for b in range(len(RANK_BUCKETS))])

    def drawn(self) -> tuple[np.ndarray, np.ndarray]:
        """What the paths hold, read back: heights and bucket of each bar, in order of x."""
        xs, hs, bs = [], [], []
        for b, path in enumerate(self.collection.get_paths()):
            corners = path.vertices.reshape(-1, 5, 2)[1:]  # (n, 5, 2); the first is a placeholder
            xs.append(corners[:, 0, 0] + self.width / 2)
            hs.append(corners[:, 1, 1])
            bs.append(np.full(len(corners), b))
        order = np.argsort(np.concatenate(xs), kind="stable")
        return np.concatenate(hs)[order], np.concatenate(bs)[order]


def _rectangles(x: np.ndarray, heights: np.ndarray, width: float) -> Path:
    """One path of closed rectangles ``[x - w/2, x + w/2] x [0, height]``, after a zero-size one
    (a path is never empty)."""
    x = np.concatenate([[0.0], x])
    h = np.concatenate([[0.0], heights])
    left, right, zero = x - width / 2, x + width / 2, np.zeros_like(x)
    left[0] = right[0] = 0.0
    corners = np.stack([np.stack([left, zero], 1), np.stack([left, h], 1), np.stack([right, h], 1),
                        np.stack([right, zero], 1), np.stack([left, zero], 1)], axis=1)  # (n + 1, 5, 2)
    codes = np.tile([Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], len(x))
    return Path(corners.reshape(-1, 2), codes)


def bucket_legend() -> str:
    """The colour key as HTML."""
    items = "".join(f"<span style='background:{color};padding:0 6px;margin-right:6px'>{translate(name)}</span>"
                    for _limit, name, color in RANK_BUCKETS)
    return "<small>{}</small>".format(_("rank under the model: {buckets}", buckets=items))


@dataclass(frozen=True)
class TextScore:
    """The model's prediction at every character of ``text`` after the first.

    Entry ``t - 1`` of each tensor is about character ``t`` (``t = 1..N-1``),
    predicted from ``text[starts[t-1]:t]``.
    """

    text: str
    log_probs: torch.Tensor  # (N-1,) log P(char t | its context), nats
    ranks: torch.Tensor  # (N-1,) int64, 1 = the model's most probable token
    log_dists: torch.Tensor  # (N-1, V) log-probabilities of every token at each position
    starts: torch.Tensor  # (N-1,) int64, where each position's context starts
    # the text of each token (its characters for a character tokenizer; a BPE token may hold several)
    pieces: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()  # the token ids of ``text``

    @property
    def mean_surprise(self) -> float:
        """Mean ``-log p`` per scored character, nats."""
        return float(-self.log_probs.double().mean())

    @property
    def perplexity(self) -> float:
        """``exp`` of the mean surprise: the model is as unsure as a uniform choice among this many."""
        return math.exp(self.mean_surprise)

    def bucket_fractions(self) -> dict[str, float]:
        """Share of scored characters in each rank bucket (adds up to 1)."""
        counts = np.bincount(rank_bucket(self.ranks), minlength=len(RANK_BUCKETS))
        return {name: float(c) / len(self.ranks) for (_limit, name, _color), c in zip(RANK_BUCKETS, counts)}


def window_rows(n: int, block_size: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The windows that score a text of ``n`` tokens, and the window of each position.

    Position ``t = 1..n-1`` is predicted from ``ids[window_start(t):t]``.
    Returns ``rows``, a ``(start, end)`` per distinct start (the window
    ``ids[start:end]`` holds every context that starts there) and ``row_of``
    ``(n-1,)``, the row of each position.
    """
    starts = np.array([window_start(t, block_size) for t in range(1, n)], dtype=np.int64)
    distinct, row_of = np.unique(starts, return_inverse=True)
    ends = np.zeros(len(distinct), dtype=np.int64)
    np.maximum.at(ends, row_of, np.arange(1, n))
    return [(int(s), int(e)) for s, e in zip(distinct, ends)], row_of


@torch.inference_mode()
def score_text(model: Any, tokenizer: Any, text: str, batch_rows: int = BATCH_ROWS) -> TextScore:
    """Score every character of ``text`` after the first (see :class:`TextScore`).

    On a CPU it runs on one thread, as ``generate``'s steps do: on a small
    machine shared with a browser and other work, two threads waiting for each
    other can take several times longer than one.

    Raises ``ValueError`` for a text shorter than two characters or with
    characters outside the vocabulary (naming them), ``TypeError`` for a non-str.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    ids = tokenizer.encode(text)  # names any unknown characters
    if len(ids) < 2:
        raise ValueError(_("the text needs at least 2 characters (the first has nothing before it to "
                           "be predicted from), got {text}", text=repr(text)))
    rows, row_of = window_rows(len(ids), model.config.block_size)
    width = max(e - s for s, e in rows)
    device = next(model.parameters()).device
    x = torch.zeros(len(rows), width, dtype=torch.long)  # (R, W); the padding is after every context
    for r, (s, e) in enumerate(rows):
        x[r, :e - s] = torch.tensor(ids[s:e])
    was_training = model.training
    model.eval()
    try:
        with cpu_threads(1 if device.type == "cpu" else None):
            logits = torch.cat([model(x[i:i + batch_rows].to(device))[0].float().cpu()
                                for i in range(0, len(rows), batch_rows)])  # (R, W, V)
    finally:
        model.train(was_training)
    starts = torch.tensor([rows[r][0] for r in row_of], dtype=torch.long)  # (N-1,)
    positions = torch.arange(1, len(ids))
    picked = logits[torch.from_numpy(row_of), positions - 1 - starts]  # (N-1, V)
    log_dists = torch.log_softmax(picked, dim=-1)
    target = torch.tensor(ids[1:])[:, None]  # (N-1, 1)
    log_probs = log_dists.gather(1, target)[:, 0]
    ranks = 1 + (picked > picked.gather(1, target)).sum(-1)
    itos = getattr(tokenizer, "itos", None)
    pieces = tuple(itos[i] if itos is not None else tokenizer.decode([i]) for i in ids)
    return TextScore(text, log_probs, ranks, log_dists, starts, pieces, tuple(ids))


def char_spans(chars: str, buckets: np.ndarray, titles: list[str]) -> str:
    """Characters as HTML spans coloured by rank bucket, ``title`` tooltips; newlines kept as line breaks."""
    parts = []
    for ch, b, title in zip(chars, buckets, titles):
        shown = "\u23ce\n" if ch == "\n" else html_escape(ch)
        parts.append(f"<span title='{html_escape(title)}' style='background:{RANK_BUCKETS[b][2]}'>"
                     f"{shown}</span>")
    return "".join(parts)


class SurpriseView(TextExamples, Explorer):
    """Each character of a text coloured by its rank under the model; one position's distribution.

    Controls: ``text`` (any text; ``examples`` adds a dropdown of named
    texts) and ``position`` (a character, 1 to N-1). ``state``: ``score``
    (the :class:`TextScore`), ``perplexity``, ``mean_surprise``,
    ``fractions`` (per rank bucket), ``position``, ``char``, ``rank``,
    ``log_prob``, ``probs`` (the ``(V,)`` distribution there), ``drawn_*``
    (read back from the picture) and ``message``.
    """

    def __init__(self, model: Any, tokenizer: Any, text: str = DEFAULT_TEXT,
                 examples: dict[str, str] | None = None) -> None:
        config = getattr(model, "config", None)
        if config is None or not hasattr(config, "block_size"):
            raise TypeError(f"model must be a glmlib.model.GPT, got {type(model).__name__}")
        if tokenizer.vocab_size != config.vocab_size:
            raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model expects "
                             f"{config.vocab_size}")
        examples = dict(examples or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in examples.items()):
            raise TypeError("examples must map names (str) to texts (str)")
        self.model, self.tokenizer, self.V = model, tokenizer, config.vocab_size
        self._build_controls(text if isinstance(text, str) else "", examples)
        self.state: dict[str, Any] = {"message": ""}
        self._score: TextScore | None = None
        self._busy = False
        self._fig = LayoutFigure((7.2, 5.2))
        self._build_axes()
        self.text.observe(self._on_text, "value")
        self.position.observe(self._on_position, "value")
        if examples:
            self.examples.observe(self._on_example, "value")
        if not isinstance(text, str):
            self._show_message(_("text must be a str, got {kind}", kind=type(text).__name__))
        else:
            self.refresh()

    # ------------------------------------------------------------------ controls

    def _build_controls(self, text: str, examples: dict[str, str]) -> None:
        style = {"description_width": "60px"}
        self._examples = examples
        self.examples = widgets.Dropdown(options=example_choices(list(examples)), value=YOUR_TEXT,
                                         description=_("example"), style=style,
                                         layout=widgets.Layout(width="330px",
                                                               display="" if examples else "none"))
        self.text = widgets.Textarea(value=text, description=_("text"), continuous_update=False, style=style,
                                     layout=widgets.Layout(width="98%", height="60px"))
        self.position = widgets.IntSlider(value=1, min=1, max=1, description=_("position"), style=style,
                                          continuous_update=True, layout=widgets.Layout(width="98%"))
        self.readout = widgets.HTML()
        self.colored = widgets.HTML()
        self.colored.add_class("glm-surprise-text")
        self.detail = widgets.HTML(layout=widgets.Layout(min_height="3.2em"))
        self.image = image_widget()
        self.widget = widgets.VBox([
            widgets.HBox([self.examples, widgets.HTML(bucket_legend())],
                         layout=widgets.Layout(align_items="center")),
            self.text, self.readout,
            beside([self.colored], [self.position, self.detail, self.image], width="330px")])
        self.widget.add_class("glm-surprise-view")

    def _on_position(self, _change: Any) -> None:
        if not self._busy and self._score is not None:
            self.select(int(self.position.value))

    # ------------------------------------------------------------------ actions

    def refresh(self) -> None:
        """Score the text in ``text`` and redraw everything; bad text becomes a message."""
        text = self.text.value
        try:
            if len(text) > MAX_CHARS:
                raise ValueError(_("the text has {n:,} characters; this view takes at most {most:,} "
                                   "(score_text takes any length)", n=len(text), most=MAX_CHARS))
            score = score_text(self.model, self.tokenizer, text)
        except (ValueError, TypeError) as err:
            self._show_message(str(err))
            return
        self._score = score
        n = len(score.ranks)
        self._busy = True
        try:
            self.position.max = max(1, n)
            self.position.value = min(max(1, int(self.position.value)), n)
        finally:
            self._busy = False
        self.state.update(message="", score=score, perplexity=score.perplexity,
                          mean_surprise=score.mean_surprise, fractions=score.bucket_fractions())
        self.readout.value = self._summary(score)
        self.colored.value = self._colored(score)
        self._draw_text(score)
        self.select(int(self.position.value))

    def select(self, position: int) -> None:
        """Show the model's distribution at character ``position`` (1 to N-1)."""
        score = self._score
        if score is None:
            return
        n = len(score.ranks)
        if not 1 <= position <= n:
            self._show_message(_("position must be in [1, {n}], got {position}", n=n, position=position))
            return
        i = position - 1
        probs = score.log_dists[i].exp()  # (V,)
        char = score.pieces[position]
        self.state.update(message="", position=position, char=char, rank=int(score.ranks[i]),
                          log_prob=float(score.log_probs[i]), probs=probs,
                          context="".join(score.pieces[int(score.starts[i]):position]))
        self.detail.value = self._detail(position)
        with cpu_threads(1):
            self._draw_position(position, probs)

    def _show_message(self, message: str) -> None:
        self._score = None
        self.state["message"] = message
        self.readout.value = message_html(message)
        self.colored.value = ""
        self.detail.value = ""

    # ------------------------------------------------------------------ text panels

    def _summary(self, score: TextScore) -> str:
        fr = score.bucket_fractions()
        shares = " &middot; ".join(f"{translate(name)} {100 * f:.0f}%" for name, f in fr.items())
        line = _("{n} characters, {predicted} predicted: perplexity <b>{perplexity:.2f}</b>, mean surprise "
                 "{surprise:.3f} nats/char, log P = {log_p:.1f} nats", n=len(score.text),
                 predicted=len(score.ranks), perplexity=score.perplexity, surprise=score.mean_surprise,
                 log_p=float(score.log_probs.double().sum()))
        return f"<div style='font-family:monospace'>{line} &middot; {shares}</div>"

    def _colored(self, score: TextScore) -> str:
        probs = score.log_probs.exp().tolist()
        ranks = score.ranks.tolist()
        template = _("{t}: {token} rank {rank}, p {p:.3f}")  # translated once, filled for each character
        titles = [template.format(t=t, token=visible(score.pieces[t]), rank=r, p=p)
                  for t, (r, p) in enumerate(zip(ranks, probs), start=1)]
        spans = char_spans(score.pieces[1:], rank_bucket(score.ranks), titles)
        first = html_escape(score.pieces[0]).replace("\n", "\u23ce\n")
        unpredicted = _("0: nothing before it to predict from")
        return (f"<div style='font-family:monospace;white-space:pre-wrap;line-height:1.45;"
                f"max-height:470px;overflow-y:auto;border:1px solid #ddd;padding:4px;margin-right:8px'>"
                f"<span title='{html_escape(unpredicted)}' style='color:#888'>{first}</span>"
                f"{spans}</div>")

    def _detail(self, position: int) -> str:
        st = self.state
        context = st["context"][-40:]
        top = torch.topk(st["probs"], 5)
        guesses = separator(", ").join(f"{html_escape(visible(self.tokenizer.itos[int(j)]))} {float(p):.2f}"
                            for p, j in zip(top.values, top.indices))
        line = _("position {position}: after {context} the model expects {guesses}; the text has <b>{char}</b>: "
                 "rank {rank}, p {p:.3f}, log p {log_p:.2f} nats", position=position,
                 context=f"\u2026<span style='color:#555'>{html_escape(readable_text(context))}</span>",
                 guesses=guesses, char=html_escape(visible(st["char"])), rank=st["rank"],
                 p=math.exp(st["log_prob"]), log_p=st["log_prob"])
        return f"<div style='font-family:monospace;font-size:12px'>{line}</div>"

    # ------------------------------------------------------------------ drawing

    def _build_axes(self) -> None:
        fig = self._fig.figure
        fig.subplots_adjust(left=0.12, right=0.98, top=0.94, bottom=0.11, hspace=0.55)
        self._ax_text, self._ax_dist = fig.subplots(2, 1)
        ax = self._ax_text
        self._surprise_bars = RankBars(ax)
        self._marker = ax.axvline(1, color="#111111", lw=1.2)
        ax.set_ylabel("surprise\n-log p (nats)")
        ax.set_xlabel("position in the text")
        ax.grid(axis="y", alpha=0.3)
        ax = self._ax_dist
        self._dist_bars = bars(ax, np.zeros(N_DRAWN), color=MODEL_COLOR)
        ax.set_xlim(-0.6, N_DRAWN - 0.4)
        ax.set_ylabel("probability")
        ax.set_xlabel(f"the model's most probable tokens here; {TARGET_LABEL}")
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylim(0, 1.05)
        ax.set_title(" ", fontsize=10)
        (self._target_mark,) = ax.plot([], [], ls="", marker="^", color="#111111", ms=6)  # seen even at p ~ 0
        self._fig.dynamic(self._dist_bars, self._target_mark, self._marker, ax.title)

    def _draw_text(self, score: TextScore) -> None:
        """The surprise of every position (the background: redrawn only for a new text)."""
        ax = self._ax_text
        surprise = (-score.log_probs).numpy()
        self._surprise_bars.set(np.arange(1, len(surprise) + 1), surprise, score.ranks.numpy())
        ax.set_xlim(0.4, len(score.pieces) - 0.4)
        ax.set_ylim(0, max(1.0, float(surprise.max()) * 1.08))
        ax.set_title(f"Surprise of each character (colour = rank bucket); perplexity "
                     f"{score.perplexity:.2f}", fontsize=10)
        self._fig.invalidate()

    def _draw_position(self, position: int, probs: torch.Tensor) -> None:
        st = self.state
        target = self._score.ids[position]
        order = torch.argsort(probs, descending=True, stable=True)[:N_DRAWN].tolist()
        if target not in order:
            order[-1] = target  # the text's character is always drawn
        heights = probs[order].numpy()
        self._dist_bars.set_verts(bar_verts(heights))
        own = RANK_BUCKETS[int(rank_bucket(np.array([st["rank"]]))[0])][2]  # the colour of its rank, as above
        self._dist_bars.set_facecolor([own if t == target else MODEL_COLOR for t in order])
        self._dist_bars.set_edgecolor(["black" if t == target else "none" for t in order])
        self._dist_bars.set_linewidth(1.2)
        top = _nice_limit(float(heights.max()))
        self._fig.layout(top, lambda top: self._ax_dist.set_ylim(0, top))
        self._target_mark.set_data([order.index(target)], [0.04 * top])
        labels = [visible(self.tokenizer.itos[t]) for t in order]
        self._fig.set_char_ticks(self._ax_dist, "x", labels, fontsize=10, marks=False)
        self._marker.set_xdata([position, position])
        self._ax_dist.set_title(f"Position {position}: the text has {readable_text(visible(st['char']))} "
                                f"(rank {st['rank']}, p {math.exp(st['log_prob']):.3f})", fontsize=10)
        self.image.value = self._fig.render()
        st["drawn_order"] = order
        st["drawn_colors"] = [tuple(c) for c in self._dist_bars.get_facecolor()]
        st["drawn_labels"] = labels
        st["drawn_heights"] = np.array([p.vertices[:, 1].max() for p in self._dist_bars.get_paths()])
        st["drawn_surprise"], st["drawn_buckets"] = self._surprise_bars.drawn()


def _nice_limit(top: float) -> float:
    """The smallest of a few fixed axis limits above ``top`` (few limits: few full redraws)."""
    for limit in (0.1, 0.25, 0.5, 0.75):
        if top <= limit / 1.05:
            return limit
    return 1.05


def surprise_view(model: Any, tokenizer: Any, text: str = DEFAULT_TEXT,
                  examples: dict[str, str] | None = None) -> SurpriseView:
    """Build a :class:`SurpriseView`; the last expression of a cell displays it."""
    return SurpriseView(model, tokenizer, text=text, examples=examples)
