"""Shared drawing machinery: matplotlib figures shown as PNG images in ipywidgets.

The figures are plain ``matplotlib.figure.Figure`` objects with an Agg canvas;
pyplot never sees them, so no figure leaks and no static copy of a figure is
printed under a widget. Each explorer keeps one ``ipywidgets.Image`` and
writes fresh PNG bytes into it after a control changes. Nothing needs
JavaScript beyond what ipywidgets ships, so it all works offline.

Speed: most of a matplotlib draw is spent on tick labels and text layout. A
``FigureImage`` therefore draws the whole figure once, keeps a copy of the
pixels, and on later redraws paints only the artists marked *dynamic* over
that copy (blitting). A change that moves data but not the axes costs a few
tens of milliseconds instead of a few hundred.
"""
from __future__ import annotations

import base64
import html
import io
import math
import struct
import unicodedata
import zlib
from functools import lru_cache
from typing import Any, Iterable

import ipywidgets as widgets
import numpy as np
from matplotlib import rcParams
from matplotlib.artist import Artist
from matplotlib.colors import PowerNorm
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ft2font import LoadFlags

from ..data import visible
from ..i18n import _, get_language, translate

DPI = 80


def N_(message: str) -> str:
    """Mark an English text kept in a table (a name, a legend entry) for the catalogue; it is
    translated where it is shown, with :func:`glmlib.i18n.translate`."""
    return message


def Q_(message: str) -> str:
    """A label whose English word means something else elsewhere in glmlib (the catalogue is one table
    per language), written ``Q_(N_("progress bar|step"))``: "step" in English, and the catalogue
    translates "progress bar|step" on its own (GLib's ``Q_``: the context before ``|`` is dropped)."""
    translated = translate(message)
    return translated if translated != message else message.split("|", 1)[-1]


# Chinese takes full-width punctuation with no space after it. Only the HTML beside the figures uses
# these (a figure's text stays English), so they are named rather than written out: the marks written
# in this package's code are the ones a figure may draw (tests/test_widgets.py checks their glyphs).
_SEPARATORS = {"zh-CN": {"; ": unicodedata.lookup("FULLWIDTH SEMICOLON"),
                         ", ": unicodedata.lookup("FULLWIDTH COMMA")}}


def separator(english: str) -> str:
    """What goes between translated clauses (``"; "``) or items (``", "``) in the chosen language:
    Chinese takes the full-width semicolon and comma."""
    return _SEPARATORS.get(get_language(), {}).get(english, english)


def label_width(pixels: int, label: str) -> str:
    """A control's ``description_width``: ``pixels``, or wider where a translated ``label`` needs it
    (a Chinese character is about 13 px at the widgets' 13 px font; Latin letters about 7.5 px).
    English labels were sized by hand: for them it is always ``pixels``."""
    wide = sum(1 for c in label if unicodedata.east_asian_width(c) in "WF")
    if not wide:
        return f"{pixels}px"
    return f"{max(pixels, math.ceil(13 * wide + 7.5 * (len(label) - wide)))}px"


def choices(pairs: list[tuple[str, Any]]) -> list[Any]:
    """Options for a Dropdown or ToggleButtons from ``(label, value)`` pairs: plain values when every
    label is its value (as the English options were written), else the pairs."""
    if all(isinstance(value, str) and label == value for label, value in pairs):
        return [value for _label, value in pairs]
    return list(pairs)

NO_MARK_PAD = 3.0  # points between an axis without tick marks and its pasted labels

# One meaning per colour, shared by every explorer that shows the same thing:
MODEL_COLOR = "#c6dbef"  # the model's own distribution (temperature 1), where it is drawn plain
KEPT_COLOR = "#1f77b4"  # kept by the sampling settings (and so, after warping, renormalised)
REMOVED_COLOR = "#c7c7c7"  # removed by the sampling settings (probability 0 after warping)
CHOSEN_COLOR = "#08306b"  # the token chosen at a step (drawn with a black outline too)
AFTER_COLOR = KEPT_COLOR  # after warping, only kept tokens have a bar
MASKED_COLOR = "#bdbdbd"  # positions an attention mask hides (future keys)

# Attention weights are drawn the same way everywhere: Blues on a square-root
# scale over [0, 1], so that weak but real attention stays visible.
ATTENTION_CMAP = "Blues"


def attention_norm() -> PowerNorm:
    """The colour scale of every attention map: square root on [0, 1]."""
    return PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)


def readable(ch: str) -> str:
    """:func:`visible`, made safe for matplotlib text (a lone ``$`` must not start mathtext)."""
    return visible(ch).replace("$", r"\$")


def readable_text(text: str) -> str:
    """``text`` for a title: newlines shown as a return symbol, ``$`` escaped."""
    return text.replace("\n", "\u23ce").replace("$", r"\$")


def drawable(text: str) -> bool:
    """Whether matplotlib's default font has a glyph for every character of ``text``.

    The course ships no CJK font: a Chinese text in a figure would show as empty boxes.
    """
    font = get_font(findfont(FontProperties()))
    return all(font.get_char_index(ord(c)) for c in text if not c.isspace())


UNDRAWABLE_NOTE = "(the message beside the picture says what is wrong)"  # a figure's text stays English


def picture_note(message: str, limit: int = 100) -> str:
    """The first sentence of an error ``message`` for a text box in a figure, cut at ``limit``
    characters; an English pointer to the widget's message where the figure's font cannot draw it
    (a message in Chinese)."""
    first = message.split(". ")[0].rstrip(".")
    note = first[:limit] + ("..." if len(first) > limit else "")
    return readable_text(note) if drawable(note) else UNDRAWABLE_NOTE


def html_escape(text: str) -> str:
    return html.escape(text, quote=False)


def message_html(message: str) -> str:
    """A red box for an error message shown inside a widget."""
    if not message:
        return ""
    return (f"<div style='color:#a00;background:#fee;border:1px solid #e99;padding:4px 8px;"
            f"white-space:pre-wrap'>{html_escape(message)}</div>")


def bar_verts(heights: np.ndarray, width: float = 0.8, bottom: float = 0.0) -> np.ndarray:
    """Rectangles for bars at ``x = 0..n-1``: ``(n, 4, 2)`` vertices for a PolyCollection.

    ``bottom`` is where bars start (a log axis needs a positive one); lower heights are raised to it.
    """
    heights = np.maximum(np.asarray(heights, dtype=float), bottom)
    x = np.arange(len(heights), dtype=float)
    left, right = x - width / 2, x + width / 2
    zero = np.full_like(heights, bottom)
    return np.stack([np.stack([left, zero], 1), np.stack([left, heights], 1),
                     np.stack([right, heights], 1), np.stack([right, zero], 1)], axis=1)


def bars(ax: Any, heights: np.ndarray, color: Any = KEPT_COLOR, **kwargs: Any) -> PolyCollection:
    """One collection of bars (much faster to draw than ``ax.bar``'s separate rectangles)."""
    coll = PolyCollection(bar_verts(heights), facecolors=color, edgecolors="none", **kwargs)
    ax.add_collection(coll)
    return coll


class CharTicks:
    """One-character tick labels painted straight into the figure's pixels.

    A vocabulary-wide axis has dozens of tick labels, and a matplotlib Text
    artist costs about a millisecond each to lay out and draw. These labels
    are single glyphs, so we rasterise each character once with FreeType and
    paste it under (or left of) its tick on every render: the same look at a
    small fraction of the cost, and new labels (a new prompt's token order)
    need no full redraw.
    """

    def __init__(self, ax: Any, axis: str, labels: list[str], fontsize: float,
                 color: str = "#222222", marks: bool = True, room: float | None = None) -> None:
        if axis not in ("x", "y"):
            raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
        self.ax, self.axis, self.labels = ax, axis, [visible(c) for c in labels]
        self.fontsize = float(fontsize)
        self.color = np.array(to_rgba(color)[:3]) * 255
        self.marks = marks  # tick marks cost a Line2D each; heatmaps do without them
        ticks = range(len(labels)) if marks else []
        gap = (rcParams[f"{axis}tick.major.size"] + rcParams[f"{axis}tick.major.pad"]) if marks else NO_MARK_PAD
        room = self.fontsize if room is None else max(room, self.fontsize)  # font size to leave space for
        if axis == "x":
            ax.set_xticks(ticks, [""] * len(ticks))
            ax.xaxis.labelpad = gap + room * 1.3  # space for the pasted glyphs
        else:
            ax.set_yticks(ticks, [""] * len(ticks))
            width = max((len(label) for label in self.labels), default=1)
            ax.yaxis.labelpad = gap + room * 0.7 * width + 2

    def paint(self, rgba: np.ndarray, dpi: float) -> None:
        """Paste every label into ``rgba`` (H, W, 4), positioned from the axes' current layout."""
        H = rgba.shape[0]
        px = self.fontsize * dpi / 72.0
        if self.marks:
            tick = (self.ax.xaxis if self.axis == "x" else self.ax.yaxis).get_major_ticks(1)[0]
            pad = (tick.get_tick_padding() + tick.get_pad()) * dpi / 72.0  # mark + gap, as matplotlib
        else:
            pad = NO_MARK_PAD * dpi / 72.0
        n = len(self.labels)
        if self.axis == "x":
            xs = self.ax.transData.transform(np.stack([np.arange(n), np.zeros(n)], 1))[:, 0]
            baseline = H - self.ax.bbox.y0 + pad + 0.93 * px  # ascender of DejaVu fonts
            for label, x in zip(self.labels, xs):
                if label:  # an empty label leaves its tick unlabelled
                    self._paste(rgba, _glyph(label, self.fontsize, dpi), x, baseline, "center")
        else:
            ys = self.ax.transData.transform(np.stack([np.zeros(n), np.arange(n)], 1))[:, 1]
            right = self.ax.bbox.x0 - pad
            for label, y in zip(self.labels, ys):
                if label:
                    self._paste(rgba, _glyph(label, self.fontsize, dpi), right, H - y + 0.36 * px, "right")

    def _paste(self, rgba: np.ndarray, glyph: tuple[np.ndarray, int], x: float, baseline: float,
               align: str) -> None:
        alpha, descent = glyph
        h, w = alpha.shape
        top = int(round(baseline)) - (h - descent)
        left = int(round(x - w / 2)) if align == "center" else int(round(x)) - w
        r0, r1 = max(top, 0), min(top + h, rgba.shape[0])
        c0, c1 = max(left, 0), min(left + w, rgba.shape[1])
        if r0 >= r1 or c0 >= c1:
            return
        a = alpha[r0 - top:r1 - top, c0 - left:c1 - left, None] / 255.0
        region = rgba[r0:r1, c0:c1, :3]
        region[:] = (region * (1.0 - a) + self.color * a).astype(np.uint8)


@lru_cache(maxsize=4096)
def _glyph(text: str, fontsize: float, dpi: float) -> tuple[np.ndarray, int]:
    """Antialiased coverage bitmap of ``text`` and its descent in pixels (monospace, with fallback)."""
    font = None
    for family in ("DejaVu Sans Mono", "DejaVu Sans"):
        candidate = get_font(findfont(FontProperties(family=family)))
        if all(candidate.get_char_index(ord(c)) for c in text):
            font = candidate
            break
    font = font or candidate
    font.clear()
    font.set_size(fontsize, dpi)
    font.set_text(text, 0.0, flags=LoadFlags.FORCE_AUTOHINT)
    font.draw_glyphs_to_bitmap(antialiased=True)
    return np.asarray(font.get_image()).copy(), int(round(font.get_descent() / 64))


class FigureImage:
    """A pyplot-free matplotlib figure rendered to PNG bytes, with blitting."""

    def __init__(self, figsize: tuple[float, float], dpi: int = DPI) -> None:
        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self._dynamic: list[Artist] = []
        self._background: Any = None
        self.char_ticks: list[CharTicks] = []
        self.full_draws = 0

    def dynamic(self, *artists: Artist) -> None:
        """Mark artists that change between redraws; everything else is the cached background."""
        for artist in artists:
            artist.set_animated(True)
            self._dynamic.append(artist)

    def set_char_ticks(self, ax: Any, axis: str, labels: list[str], fontsize: float,
                       marks: bool = True, room: float | None = None) -> CharTicks:
        """Character labels on ``ax``'s x or y ticks at 0..n-1, replacing earlier ones there.

        Without tick marks the labels are only pasted pixels, so new labels
        keep the cached background unless the space left for them changes;
        ``room`` (a font size) fixes that space whatever ``fontsize`` is.
        """
        old = next((t for t in self.char_ticks if (t.ax, t.axis) == (ax, axis)), None)
        axis_obj = ax.xaxis if axis == "x" else ax.yaxis
        pad_before = axis_obj.labelpad
        ticks = CharTicks(ax, axis, labels, fontsize, marks=marks, room=room)
        self.char_ticks = [t for t in self.char_ticks if t is not old] + [ticks]
        if old is None or old.marks or marks or axis_obj.labelpad != pad_before:
            self._background = None  # new tick marks or label space: redraw everything
        return ticks

    def invalidate(self) -> None:
        """The background changed (limits, ticks, static text): the next render draws all."""
        self._background = None

    def render(self) -> bytes:
        """Draw (fully if the background is stale, else only dynamic artists) and return PNG bytes."""
        canvas = self.figure.canvas
        if self._background is None:
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self.full_draws += 1
        else:
            canvas.restore_region(self._background)
        for artist in self._dynamic:
            if artist.get_visible():
                self.figure.draw_artist(artist)
        if self.char_ticks:  # pasted on every render, so new labels need no full draw
            rgba = np.asarray(canvas.buffer_rgba())
            for ticks in self.char_ticks:
                ticks.paint(rgba, self.figure.dpi)
        return encode_png(canvas)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(canvas: FigureCanvasAgg) -> bytes:
    """The canvas pixels as an RGBA PNG.

    Written directly (no row filters, zlib level 1) because the bytes only
    travel to the browser next door: this is two to three times faster than
    PIL's encoder with adaptive filtering, for a slightly larger file.
    """
    rgba = np.asarray(canvas.buffer_rgba())  # (H, W, 4) uint8
    h, w, _channels = rgba.shape
    rows = np.empty((h, 1 + 4 * w), dtype=np.uint8)
    rows[:, 0] = 0  # filter type "None" for every row
    rows[:, 1:] = rgba.reshape(h, 4 * w)
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))


def compact_png(png: bytes) -> bytes:
    """``png`` re-encoded small for storage (filtered, optimised, opaque when it has no transparency).

    The explorers' own encoder favours speed; a picture kept in a notebook
    favours size.
    """
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        img.load()
        if img.mode == "RGBA" and img.getchannel("A").getextrema() == (255, 255):
            img = img.convert("RGB")
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def image_widget() -> widgets.Image:
    return widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))


def beside(controls: list[widgets.Widget], picture: list[widgets.Widget], width: str) -> widgets.HBox:
    """Controls in a column of ``width`` on the left, the picture they drive on the right.

    A laptop screen (1366x768) is wider than tall: side by side, a slider and
    its picture are in view together. The picture's column shrinks (the
    image scales down) when the notebook is narrow.
    """
    left = widgets.VBox(controls, layout=widgets.Layout(width=width, flex="0 0 auto", overflow="hidden"))
    right = widgets.VBox(picture, layout=widgets.Layout(flex="1 1 0%", min_width="0", align_items="flex-start"))
    return widgets.HBox([left, right], layout=widgets.Layout(width="100%", align_items="flex-start"))


def small_html(text: str) -> widgets.HTML:
    """A help line in small print that wraps inside its column."""
    return widgets.HTML(f"<div style='font-size:11px;line-height:1.3'>{text}</div>")


class Explorer:
    """Base: a root ``widget`` with a CSS class, shown in place of the object in a notebook.

    Its display carries, next to the live widget, an ``image/png`` picture of
    what the explorer draws at that moment. JupyterLab shows the live widget;
    a renderer without a kernel (the course website, a notebook preview)
    shows the picture instead of the widget's ``VBox(...)`` text.
    """

    widget: widgets.Box
    image: widgets.Image
    _display_handle: Any = None

    def picture(self) -> bytes | None:
        """The explorer's current picture as a compact PNG (``None`` before anything is drawn)."""
        return compact_png(bytes(self.image.value)) if getattr(self, "image", None) is not None and \
            self.image.value else None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        png = self.picture()
        if png is not None and isinstance(bundle, dict):
            bundle = {**bundle, "image/png": base64.b64encode(png).decode("ascii")}
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        self._display_handle = display(self._repr_mimebundle_(), raw=True, display_id=True)

    def refresh_picture(self) -> None:
        """Replace the picture stored with the last display by the current one (a no-op if never shown).

        For a display whose picture is only meaningful at the end (the training
        dashboard): the notebook then stores the final state, not the empty start.
        """
        if self._display_handle is not None:
            self._display_handle.update(self._repr_mimebundle_(), raw=True)

    def close(self) -> None:
        """Close every widget of the explorer (it stops updating and disappears)."""
        for w in _descendants(self.widget):
            w.close()


def _descendants(root: widgets.Widget) -> Iterable[widgets.Widget]:
    for child in getattr(root, "children", ()):
        yield from _descendants(child)
    yield root


YOUR_TEXT = "(your text)"  # the examples dropdown's value for a text typed in (its label is translated)


def example_choices(names: list[str], label: Any = None) -> list[Any]:
    """The examples dropdown's options: "(your text)", then ``names``, labelled by ``label(name)``
    (default: the name itself); the values stay the names."""
    label = label or (lambda name: name)
    return choices([(_("(your text)"), YOUR_TEXT)] + [(label(name), name) for name in names])


class TextExamples:
    """An explorer's examples dropdown tied to its text box: picking an example fills the box (which
    redraws), editing the box selects "(your text)". Needs ``examples``, ``text``, ``_examples``
    (name -> text), ``_busy`` and ``refresh``."""

    examples: widgets.Dropdown
    text: widgets.Textarea
    _examples: dict[str, str]
    _busy: bool

    def refresh(self) -> None:
        raise NotImplementedError

    def _on_text(self, change: Any) -> None:
        if self._busy:
            return
        if self._examples.get(self.examples.value) != change["new"]:  # edited: no longer the example
            self._busy = True
            try:
                self.examples.value = YOUR_TEXT
            finally:
                self._busy = False
        self.refresh()

    def _on_example(self, change: Any) -> None:
        if not self._busy and change["new"] in self._examples:
            self.text.value = self._examples[change["new"]]  # the text observer redraws
