"""The attention explorer (notebooks 04 and 08): which earlier characters each
position of a text attends to, in every layer and head of a trained GPT.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.patches import Rectangle

from ..i18n import _
from ._checks import is_whole
from ._render import (ATTENTION_CMAP, DPI, KEPT_COLOR, MASKED_COLOR, Explorer, FigureImage, attention_norm,
                      bar_verts, bars, beside, html_escape, image_widget, message_html, readable, small_html,
                      visible)

DEFAULT_TEXT = "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?"
ALL_HEADS = "all"
MAX_TICK_FONT = 10.0  # points; the axes always leave room for labels this large
GRID_TICK_FONT = 7.5  # points: the all-heads grid labels every n-th position at this size, never smaller
FIGSIZE = (7.7, 7.6)  # inches at 80 dpi: beside the controls on a 1366x768 screen
MASKED_LABEL = "grey band: future keys, masked (weight 0)"
UNMASKED_LABEL = "the last query may attend to every key"


class AttentionExplorer(Explorer):
    """Attention weights of ``model`` on ``text``: one head as a heatmap plus one query's
    weights as bars, or all heads of a layer as a grid.

    Controls: ``text``, ``layer`` (0..L-1), ``head`` (0..H-1 or ``"all"``) and
    ``query`` (a position of the text). ``state`` holds what was last drawn:
    ``weights`` (``(T, T)`` for one head, equal to
    ``model.attention_maps(idx)[layer, 0, head]``; ``(H, T, T)`` for all heads),
    ``query_weights`` (row ``query`` of it), ``layer``, ``head``, ``query``,
    ``chars``, ``cropped``, ``message`` and ``notes`` (a starting ``query``
    moved into the text's range, as shown on screen).
    """

    def __init__(self, model: Any, tokenizer: Any, text: str = DEFAULT_TEXT, layer: int = 0,
                 head: int | str = 0, query: int | None = None) -> None:
        config = getattr(model, "config", None)
        if config is None or not hasattr(model, "attention_maps"):
            raise TypeError(f"model must be a glmlib.model.GPT, got {type(model).__name__}")
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        L, H = config.n_layer, config.n_head
        if not is_whole(layer) or not 0 <= layer < L:
            raise ValueError(f"layer must be an int in [0, {L - 1}], got {layer!r}")
        if head != ALL_HEADS and (not is_whole(head) or not 0 <= head < H):
            raise ValueError(f"head must be an int in [0, {H - 1}] or {ALL_HEADS!r}, got {head!r}")
        if query is not None and not is_whole(query):
            raise ValueError(f"query must be an int (a position of the text) or None, got {query!r}")
        layer = int(layer)
        head = head if head == ALL_HEADS else int(head)
        query = None if query is None else int(query)
        self.model, self.tokenizer = model, tokenizer
        self.n_layer, self.n_head, self.block_size = L, H, config.block_size

        style = {"description_width": "50px"}
        self.text = widgets.Textarea(value=text, description=_("text"), continuous_update=False, style=style,
                                     layout=widgets.Layout(width="292px", height="84px"))
        self.layer = widgets.Dropdown(options=[(str(i), i) for i in range(L)], value=layer,
                                      description=_("layer"), style=style, layout=widgets.Layout(width="150px"))
        self.head = widgets.Dropdown(options=[(_("head {h}", h=h), h) for h in range(H)]
                                     + [(_("all heads"), ALL_HEADS)],
                                     value=head, description=_("head"), style=style,
                                     layout=widgets.Layout(width="200px"))
        self.query = widgets.IntSlider(value=0, min=0, max=max(0, len(text) - 1), description=_("query"),
                                       style=style, layout=widgets.Layout(width="292px"))
        self.readout = widgets.HTML()
        self.notes = widgets.HTML()
        self.image = image_widget()
        self.widget = widgets.VBox([beside([
            self.text, self.layer, self.head, self.query,
            small_html(_("Rows are queries (the position that is predicting), columns are keys "
                         "(the positions it may look at); \u23ce = newline, \u2423 = space. The query's row "
                         "is outlined in red; the bars below the map are its weights.")),
            self.notes, self.readout], [self.image], width="300px")])
        self.widget.add_class("glm-attention-explorer")

        self.state: dict[str, Any] = {"message": ""}
        self._maps: torch.Tensor | None = None  # (L, H, T, T)
        self._chars: str | None = None
        self._single = FigureImage(FIGSIZE)
        self._grid = FigureImage(FIGSIZE)
        self._built_for: dict[str, str | None] = {"single": None, "grid": None}
        self._busy = False
        self._set_query_range(self._n_tokens(text), query)
        self._note_query(query)
        for control in (self.text, self.layer, self.head, self.query):
            control.observe(self._on_change, "value")
        self.refresh()
        self._draw_other_view()

    def _draw_other_view(self) -> None:
        """Draw the view not shown (one head, or the grid) once now, so that the first
        switch to it only repaints, like every later one."""
        if self._chars is None:  # the text was bad: nothing to draw yet
            return
        layer, q = int(self.layer.value), int(self.query.value)
        if self.head.value == ALL_HEADS:
            self._draw_single(self._chars, self._maps[layer, 0], layer, 0, q)
        else:
            self._draw_grid(self._chars, self._maps[layer], layer, q)

    # ------------------------------------------------------------------ data

    def _set_query_range(self, T: int, value: int | None) -> None:
        self._busy = True
        try:
            self.query.max = max(0, min(T, self.block_size) - 1)
            self.query.value = self.query.max if value is None else min(max(0, value), self.query.max)
        finally:
            self._busy = False

    def _note_query(self, asked: int | None) -> None:
        """Say on screen when the starting ``query`` was moved into the text's range."""
        moved = asked is not None and asked != self.query.value
        note = _("query {asked} is outside the text's positions [0, {last}]; using {used}", asked=asked,
                 last=self.query.max, used=self.query.value) if moved else ""
        self.state["notes"] = [note] if note else []
        self.notes.value = ("<div style='color:#8a5a00'><small>{}</small></div>".format(
            _("note: {note}", note=html_escape(note))) if note else "")
        if moved:
            self.query.observe(lambda _change: self._note_query(None), "value")

    def _n_tokens(self, text: Any) -> int:
        """How many tokens ``text`` has (its length where it cannot be encoded: refresh says why)."""
        try:
            return len(self.tokenizer.encode(text))
        except (ValueError, TypeError):
            return len(text) if isinstance(text, str) else 0

    def _chars_and_maps(self) -> tuple[str | list[str], torch.Tensor]:
        """The labels of the positions (a str when every token is one character, as for the
        character tokenizer; else the text of each token, as for BPE) and the attention maps."""
        text = self.text.value
        if not text:
            raise ValueError(_("The text is empty: type at least one character."))
        ids = self.tokenizer.encode(text)[-self.block_size:]  # names any unknown characters
        itos = getattr(self.tokenizer, "itos", None)
        pieces = [itos[i] if itos is not None else self.tokenizer.decode([i]) for i in ids]
        chars = "".join(pieces) if all(len(p) == 1 for p in pieces) else pieces
        if chars != self._chars:
            device = next(self.model.parameters()).device
            idx = torch.tensor([ids], device=device)
            self._maps = self.model.attention_maps(idx)[:, 0].float().cpu()  # (L, H, T, T)
            self._chars = chars
        return chars, self._maps

    # ------------------------------------------------------------------ actions

    def _on_change(self, change: Any) -> None:
        if self._busy:
            return
        if change["owner"] is self.text:
            self._set_query_range(self._n_tokens(change["new"]), None)
        self.refresh()

    def refresh(self) -> None:
        """Recompute (only if the text changed) and redraw; errors become a message."""
        try:
            chars, maps = self._chars_and_maps()
        except (ValueError, TypeError) as err:
            self.state["message"] = str(err)
            self.readout.value = message_html(str(err))
            return
        layer, head, q = int(self.layer.value), self.head.value, int(self.query.value)
        weights = maps[layer] if head == ALL_HEADS else maps[layer, head]
        self.state.update(message="", chars=chars, layer=layer, head=head, query=q,
                          cropped=self._n_tokens(self.text.value) > self.block_size,
                          weights=weights, query_weights=weights[..., q, :])
        note = (" " + _("Only the last {block_size} tokens (block_size) are shown.", block_size=self.block_size)
                if self.state["cropped"] else "")
        top = int(weights[..., q, :].reshape(-1, len(chars)).mean(0).argmax())
        heads = _("all heads") if head == ALL_HEADS else _("head {h}", h=head)
        line = _("layer {layer}, {heads}: query {q} ({q_char}) attends most to key {top} ({top_char}).",
                 layer=layer, heads=heads, q=q, q_char=html_escape(visible(chars[q])), top=top,
                 top_char=html_escape(visible(chars[top])))
        self.readout.value = f"<div style='font-family:monospace;font-size:12px'>{line}{html_escape(note)}</div>"
        if head == ALL_HEADS:
            self.image.value = self._draw_grid(chars, weights, layer, q)
            self.state["drawn"] = np.stack([np.asarray(im.get_array()) for im, _box, _ax in self._grid_parts])
            self.state["drawn_titles"] = [ax.get_title() for _im, _box, ax in self._grid_parts]
        else:
            self.image.value = self._draw_single(chars, weights, layer, head, q)
            self.state["drawn"] = np.asarray(self._im.get_array())
            self.state["drawn_titles"] = [self._ax_map.get_title()]
            self.state["drawn_query_bars"] = np.array(
                [p.vertices[:, 1].max() for p in self._q_bars.get_paths()])
            band = self._masked_band
            self.state["drawn_masked_keys"] = (band.get_x(), band.get_x() + band.get_width()) \
                if band.get_visible() and band.get_width() > 0 else None
            self.state["drawn_legend"] = self._ax_bar.get_xlabel()
        self.state["labels"] = [visible(c) for c in chars]

    # ------------------------------------------------------------------ drawing

    def _draw_single(self, chars: str, w: torch.Tensor, layer: int, head: int, q: int) -> bytes:
        fig = self._single
        if self._built_for["single"] is None:
            self._build_single()
        if self._built_for["single"] != chars:
            self._relabel_single(chars)
            self._built_for["single"] = chars
        self._im.set_data(w.numpy())
        self._row_box.set_y(q - 0.5)
        self._ax_map.title.set_text(f"layer {layer}, head {head}")
        self._q_bars.set_verts(bar_verts(w[q].numpy()))
        self._masked_band.set_x(q + 0.5)  # keys after the query: the causal mask hides them
        self._masked_band.set_width(len(chars) - 1 - q)
        self._masked_band.set_visible(q < len(chars) - 1)
        label = f"key (position attended to); {MASKED_LABEL if q < len(chars) - 1 else UNMASKED_LABEL}"
        if self._ax_bar.get_xlabel() != label:  # the legend names only what is drawn
            self._ax_bar.set_xlabel(label)
            fig.invalidate()
        self._ax_bar.title.set_text(f"Weights of query {q} ({readable(chars[q])}) over the keys")
        return fig.render()

    def _build_single(self) -> None:
        """Heatmap on top, the query's weights as bars below it, sharing the key axis.

        Built once: the axes carry no tick marks and leave room for the largest
        labels, so a new text only changes dynamic artists (see ``_relabel_single``).
        """
        fig = self._single
        f = fig.figure
        f.subplots_adjust(left=0.11, right=0.87, top=0.955, bottom=0.085, hspace=0.2)
        ax, axb = f.subplots(2, 1, sharex=True, height_ratios=[3.2, 1])
        self._ax_map, self._ax_bar = ax, axb
        self._im = ax.imshow(np.zeros((1, 1)), cmap=ATTENTION_CMAP, norm=attention_norm(), interpolation="nearest",
                             aspect="auto")
        ax.set_ylabel("query (position attending)")
        ax.set_xticks([])  # the bar chart below carries the key labels
        cax = f.add_axes((0.885, 0.33, 0.02, 0.6))
        f.colorbar(self._im, cax=cax).set_label("attention weight (square-root colour scale)")
        self._row_box = Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="#d62728", lw=1.5)
        ax.add_patch(self._row_box)
        self._masked_band = Rectangle((0, 0), 0, 1.0, facecolor=MASKED_COLOR, edgecolor="none", alpha=0.6,
                                      hatch="///", zorder=0)
        axb.add_patch(self._masked_band)
        self._q_bars = bars(axb, np.zeros(1), color=KEPT_COLOR)
        axb.set_ylim(0, 1.0)
        axb.set_xlabel(f"key (position attended to); {MASKED_LABEL}")
        axb.set_ylabel("weight")
        axb.grid(axis="y", alpha=0.3)
        for a in (ax.title, axb.title):
            a.set_fontsize(11)
        fig.dynamic(self._im, *ax.spines.values(), self._row_box, ax.title, self._masked_band, self._q_bars,
                    axb.title)

    def _relabel_single(self, chars: str) -> None:
        """Limits and character labels for a text of ``len(chars)`` positions."""
        T = len(chars)
        self._im.set_extent((-0.5, T - 0.5, T - 0.5, -0.5))
        self._ax_map.set_ylim(T - 0.5, -0.5)
        self._ax_bar.set_xlim(-0.5, T - 0.5)  # shared with the heatmap
        self._row_box.set_width(T)
        f = self._single.figure
        box = self._ax_map.get_position()
        width, height = box.width * f.get_figwidth() * f.dpi, box.height * f.get_figheight() * f.dpi
        self._single.set_char_ticks(self._ax_map, "y", list(chars), _tick_fontsize(T, height), marks=False,
                                    room=MAX_TICK_FONT)
        self._single.set_char_ticks(self._ax_bar, "x", list(chars), _tick_fontsize(T, width), marks=False,
                                    room=MAX_TICK_FONT)

    def _draw_grid(self, chars: str, w: torch.Tensor, layer: int, q: int) -> bytes:
        fig = self._grid
        if self._built_for["grid"] is None:
            self._build_grid()
        if self._built_for["grid"] != chars:
            self._relabel_grid(chars)
            self._built_for["grid"] = chars
        for h, (im, box, ax) in enumerate(self._grid_parts):
            im.set_data(w[h].numpy())
            box.set_y(q - 0.5)
            ax.title.set_text(f"layer {layer}, head {h}")
        self._grid_title.set_text(f"Layer {layer}, all {self.n_head} heads\n(query {q} "
                                  f"({readable(chars[q])}) outlined in red)")
        return fig.render()

    def _build_grid(self) -> None:
        """One small heatmap per head, built once like the single view."""
        fig = self._grid
        H = self.n_head
        rows, cols = _grid_shape(H)
        f = fig.figure
        f.subplots_adjust(left=0.09, right=0.87, top=0.91, bottom=0.07, wspace=0.22, hspace=0.25)
        axes = np.atleast_1d(f.subplots(rows, cols)).ravel()
        self._grid_parts = []
        for h, ax in enumerate(axes):
            if h >= H:
                ax.set_visible(False)
                continue
            im = ax.imshow(np.zeros((1, 1)), cmap=ATTENTION_CMAP, norm=attention_norm(), interpolation="nearest")
            box = Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="#d62728", lw=1)
            ax.add_patch(box)
            ax.set_xticks([])
            ax.set_yticks([])
            if h % cols == 0:
                ax.set_ylabel("query")
            if h + cols >= H:
                ax.set_xlabel("key")
            ax.title.set_fontsize(10)
            fig.dynamic(im, *ax.spines.values(), box, ax.title)
            self._grid_parts.append((im, box, ax))
        cax = f.add_axes((0.9, 0.15, 0.02, 0.7))
        f.colorbar(self._grid_parts[0][0], cax=cax).set_label("attention weight (square-root scale)")
        self._grid_title = f.suptitle("", fontsize=11)
        fig.dynamic(self._grid_title)

    def _relabel_grid(self, chars: str) -> None:
        """Limits and character labels (bottom row: keys, left column: queries).

        The labels keep a readable size (:data:`GRID_TICK_FONT`); where the
        cells are narrower than a character, only every n-th position is labelled.
        """
        T, H = len(chars), self.n_head
        cols = _grid_shape(H)[1]
        every_x, every_y = self._grid_label_steps(T)
        for h, (im, box, ax) in enumerate(self._grid_parts):
            im.set_extent((-0.5, T - 0.5, T - 0.5, -0.5))
            ax.set_xlim(-0.5, T - 0.5)
            ax.set_ylim(T - 0.5, -0.5)
            box.set_width(T)
            if h + cols >= H:
                self._grid.set_char_ticks(ax, "x", _every(chars, every_x), GRID_TICK_FONT, marks=False,
                                          room=GRID_TICK_FONT)
            if h % cols == 0:
                self._grid.set_char_ticks(ax, "y", _every(chars, every_y), GRID_TICK_FONT, marks=False,
                                          room=GRID_TICK_FONT)
        self.state["grid_label_steps"] = (every_x, every_y)

    def _grid_label_steps(self, T: int) -> tuple[int, int]:
        """Label every n-th key (x) and query (y) so that labels of GRID_TICK_FONT do not overlap."""
        f = self._grid.figure
        ax = self._grid_parts[0][2]
        cell = ax.get_position().width * f.get_figwidth() * f.dpi / max(T, 1)  # pixels per position
        glyph = GRID_TICK_FONT * f.dpi / 72.0  # a glyph's height in pixels; it is about 0.6 of that wide
        return max(1, int(np.ceil(0.75 * glyph / cell))), max(1, int(np.ceil(1.1 * glyph / cell)))


def _every(chars: str, n: int) -> list[str]:
    """Every ``n``-th character as a label (from position 0), the others blank."""
    return [c if i % n == 0 else "" for i, c in enumerate(chars)]


def _grid_shape(H: int) -> tuple[int, int]:
    cols = {1: 1, 2: 2, 3: 3, 4: 2, 5: 3, 6: 3, 9: 3}.get(H, 4)
    return (H + cols - 1) // cols, cols


def _tick_fontsize(T: int, pixels: float = 600) -> float:
    """Points for one character per cell over ``pixels`` of axis, legible without overlapping."""
    return float(np.clip(0.8 * pixels / max(T, 1) * 72 / DPI, 4.5, MAX_TICK_FONT))


def attention_explorer(model: Any, tokenizer: Any, text: str = DEFAULT_TEXT, layer: int = 0,
                       head: int | str = 0, query: int | None = None) -> AttentionExplorer:
    """Build an :class:`AttentionExplorer`; the last expression of a cell displays it."""
    return AttentionExplorer(model, tokenizer, text=text, layer=layer, head=head, query=query)
