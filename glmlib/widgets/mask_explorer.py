"""The mask explorer (notebook 03): causal and padding masks, in boolean and
additive form, and what they do to the attention weights of random scores.
"""
from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.colors import ListedColormap

from ..attention import scaled_dot_product_attention
from ..i18n import _
from ..masks import causal_mask, combine, padding_mask, to_additive
from ._checks import is_whole
from ._render import ATTENTION_CMAP, Explorer, FigureImage, attention_norm, image_widget, message_html

MAX_T = 16
ANNOTATE_UP_TO = 12  # above this many positions, cell labels would not fit
HEAD_SIZE = 8
_BOOL_CMAP = ListedColormap(["#f2f2f2", "#2b7bba"])  # False (blocked), True (may attend)
_ADD_CMAP = ListedColormap(["#444444", "#ffffff"])  # -inf, 0


def parse_lengths(text: str, T: int) -> list[int]:
    """``"8, 5"`` -> ``[8, 5]``: the real (unpadded) length of each sequence of the batch.

    An empty string means one sequence with no padding (length ``T``).
    """
    text = text.strip()
    if not text:
        return [T]
    try:
        lengths = [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise ValueError(_("lengths must be whole numbers separated by commas, like '8, 5'; got {text}",
                           text=repr(text))) from None
    bad = [n for n in lengths if not 1 <= n <= T]
    if not lengths or bad:
        raise ValueError(_("every length must be between 1 and T={T}; got {text}", T=T, text=repr(text)))
    return lengths


class MaskExplorer(Explorer):
    """Masks for a sequence of length ``T`` and their effect on attention weights.

    Controls: ``T`` (1..16), ``causal`` (checkbox), ``lengths`` (real length of
    each sequence of the batch, comma-separated; keys at or after a sequence's
    length are padding), ``sequence`` (which sequence of the batch to show),
    ``seed`` (of the random queries and keys). ``state`` holds what was last
    drawn: ``mask`` (bool ``(T, T)``, ``True`` = may attend), ``additive``
    (``0`` / ``-inf``), ``scores``, ``weights_before``, ``weights_after``,
    ``lengths`` and ``message``.
    """

    def __init__(self, T: int = 8, causal: bool = True, lengths: str | list[int] | None = None,
                 seed: int = 0) -> None:
        if not is_whole(T) or not 1 <= T <= MAX_T:
            raise ValueError(f"T must be an int in [1, {MAX_T}], got {T!r}")
        if not is_whole(seed):
            raise ValueError(f"seed must be an int, got {seed!r}")
        T, seed = int(T), int(seed)
        if lengths is None:
            lengths_text = str(T)
        elif isinstance(lengths, str):
            lengths_text = lengths
        else:
            not_ints = [n for n in lengths if not is_whole(n)]
            if not_ints:
                raise ValueError(f"lengths must be whole numbers, got {not_ints[0]!r} in {list(lengths)!r}")
            lengths_text = ", ".join(str(int(n)) for n in lengths)
        parse_lengths(lengths_text, T)
        style = {"description_width": "70px"}
        self.T = widgets.IntSlider(value=T, min=1, max=MAX_T, description="T", style=style,
                                   continuous_update=False)
        self.causal = widgets.Checkbox(value=causal, description=_("causal"), indent=False)
        self.lengths = widgets.Text(value=lengths_text, description=_("lengths"), continuous_update=False,
                                    style=style, placeholder=_("e.g. 8, 5"),
                                    tooltip=_("real length of each sequence; later positions are padding"))
        self.sequence = widgets.Dropdown(options=[0], value=0, description=_("sequence"), style=style,
                                         layout=widgets.Layout(width="180px"))
        self.seed = widgets.IntText(value=seed, description=_("seed"), style=style,
                                    layout=widgets.Layout(width="180px"))
        self.readout = widgets.HTML()
        self.image = image_widget()
        self.widget = widgets.VBox([
            widgets.HBox([self.T, self.causal, self.seed]),
            widgets.HBox([self.lengths, self.sequence]),
            widgets.HTML("<small>{}</small>".format(_(
                "lengths: the real (unpadded) length of each sequence in the batch, comma-separated; keys "
                "at positions &ge; length are padding. Rows are queries, columns are keys."))),
            self.readout, self.image])
        self.widget.add_class("glm-mask-explorer")
        self.state: dict[str, Any] = {"message": ""}
        self._fig = FigureImage((11.6, 3.6))  # 928 px: the notebook's width on a 1366x768 screen
        self._built_T: int | None = None
        self._build()
        self._busy = False
        for control in (self.T, self.causal, self.lengths, self.sequence, self.seed):
            control.observe(self._on_change, "value")
        self.refresh()

    def _on_change(self, change: Any) -> None:
        if self._busy:
            return
        if change["owner"] is self.T:
            self._follow_T(int(change["old"]), int(change["new"]))
        self.refresh()

    def _follow_T(self, old: int, new: int) -> None:
        """Keep the lengths valid for a new T: full-length sequences stay full, others are capped."""
        try:
            lengths = parse_lengths(self.lengths.value, old)
        except ValueError:
            return  # leave a bad entry for its message
        self._busy = True
        try:
            self.lengths.value = ", ".join(str(new if n == old else min(n, new)) for n in lengths)
        finally:
            self._busy = False

    def _sync_sequences(self, n: int) -> int:
        """Offer one entry per sequence of the batch; returns the one selected."""
        if list(self.sequence.options) != list(range(n)):
            self._busy = True
            try:
                keep = self.sequence.value if self.sequence.value is not None and self.sequence.value < n else 0
                self.sequence.options = list(range(n))
                self.sequence.value = keep
            finally:
                self._busy = False
        return int(self.sequence.value)

    def compute(self) -> dict[str, Any]:
        """Masks and weights for the current controls (raises ValueError on bad settings)."""
        T = int(self.T.value)
        lengths = parse_lengths(self.lengths.value, T)
        b = self._sync_sequences(len(lengths))
        masks = [padding_mask(lengths, T)[b]]  # (1, T): hides padded keys from every query
        if self.causal.value:
            masks.append(causal_mask(T))
        mask = combine(*masks).expand(T, T)  # (T, T)
        g = torch.Generator().manual_seed(int(self.seed.value))
        q, k, v = (torch.randn(T, HEAD_SIZE, generator=g) for _i in range(3))
        scores = q @ k.T / math.sqrt(HEAD_SIZE)  # (T, T)
        _out, before = scaled_dot_product_attention(q, k, v)
        _out, after = scaled_dot_product_attention(q, k, v, mask)
        return {"T": T, "lengths": lengths, "sequence": b, "mask": mask.clone(),
                "additive": to_additive(mask), "scores": scores, "weights_before": before,
                "weights_after": after, "message": ""}

    def refresh(self) -> None:
        """Recompute and redraw; bad settings become a message."""
        try:
            self.state.update(self.compute())
        except (ValueError, TypeError, RuntimeError) as err:
            self.state["message"] = str(err)
            self.readout.value = message_html(str(err))
            return
        st = self.state
        blocked = int((~st["mask"]).sum())
        line = _("T = {T}, {causal}, lengths {lengths} (showing sequence {sequence}, length {length}): "
                 "{allowed} of {pairs} query-key pairs allowed.", T=st["T"],
                 causal=_("causal") if self.causal.value else _("not causal"), lengths=st["lengths"],
                 sequence=st["sequence"], length=st["lengths"][st["sequence"]], allowed=st["T"] ** 2 - blocked,
                 pairs=st["T"] ** 2)
        self.readout.value = f"<div style='font-family:monospace'>{line}</div>"
        self.image.value = self._draw()

    # ------------------------------------------------------------------ drawing

    def _build(self) -> None:
        """The four panels, built once; a new T only resizes them (see ``_resize``)."""
        f = self._fig.figure
        f.subplots_adjust(left=0.05, right=0.92, top=0.8, bottom=0.14, wspace=0.36)
        self._axes = axes = f.subplots(1, 4)
        titles = ["boolean mask\n(blue = True = may attend)", "additive mask\n(0 allowed, \u2212\u221e blocked)",
                  "weights before masking\nsoftmax(q k\u1d40/\u221ad)", "weights after masking\n(each row sums to 1)"]
        for ax, title in zip(axes, titles):
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("key j")
            ax.set_ylabel("query i")
        zeros = np.zeros((1, 1))
        self._images = [axes[0].imshow(zeros, cmap=_BOOL_CMAP, vmin=0, vmax=1),
                        axes[1].imshow(zeros, cmap=_ADD_CMAP, vmin=0, vmax=1)]
        self._images += [ax.imshow(zeros, cmap=ATTENTION_CMAP, norm=attention_norm()) for ax in axes[2:]]
        cax = f.add_axes((0.935, 0.14, 0.012, 0.66))
        f.colorbar(self._images[-1], cax=cax).set_label("attention weight")
        # cell labels as text-shaped markers: one artist each, far faster than T*T Text artists
        (zero,) = axes[1].plot([], [], ls="", marker="$0$", color="#222222")
        (minus_inf,) = axes[1].plot([], [], ls="", marker=r"$-\infty$", color="white", mew=0)
        self._labels = (zero, minus_inf)
        self._suptitle = f.suptitle("", fontsize=11)
        spines = [spine for ax in axes for spine in ax.spines.values()]  # drawn over the images
        self._fig.dynamic(*self._images, *self._labels, *spines, self._suptitle)

    def _resize(self, T: int) -> None:
        """Axes limits, position labels and cell-label size for sequences of length T."""
        numbers = [str(i) for i in range(T)]
        for ax, im in zip(self._axes, self._images):
            im.set_extent((-0.5, T - 0.5, T - 0.5, -0.5))
            ax.set_xlim(-0.5, T - 0.5)
            ax.set_ylim(T - 0.5, -0.5)
            self._fig.set_char_ticks(ax, "x", numbers, 8, marks=False)
            self._fig.set_char_ticks(ax, "y", numbers, 8, marks=False)
        size = 9 if T <= 8 else 6
        self._labels[0].set_markersize(size * 0.8)
        self._labels[1].set_markersize(size * 1.4)
        for label in self._labels:
            label.set_visible(T <= ANNOTATE_UP_TO)
        self._built_T = T

    def _draw(self) -> bytes:
        st = self.state
        T = st["T"]
        if self._built_T != T:
            self._resize(T)
        mask = st["mask"].numpy()
        self._images[0].set_data(mask.astype(float))
        self._images[1].set_data(mask.astype(float))
        self._images[2].set_data(st["weights_before"].numpy())
        self._images[3].set_data(st["weights_after"].numpy())
        rows, cols = np.nonzero(mask)
        self._labels[0].set_data(cols, rows)
        rows, cols = np.nonzero(~mask)
        self._labels[1].set_data(cols, rows)
        kind = "causal + padding" if self.causal.value else "padding only"
        self._suptitle.set_text(f"{kind} mask, T = {T}, sequence {st['sequence']} of length "
                                f"{st['lengths'][st['sequence']]}; random scores, seed {self.seed.value}")
        st["drawn"] = [np.asarray(im.get_array()) for im in self._images]
        return self._fig.render()


def mask_explorer(T: int = 8, causal: bool = True, lengths: str | list[int] | None = None,
                  seed: int = 0) -> MaskExplorer:
    """Build a :class:`MaskExplorer`; the last expression of a cell displays it."""
    return MaskExplorer(T=T, causal=causal, lengths=lengths, seed=seed)
