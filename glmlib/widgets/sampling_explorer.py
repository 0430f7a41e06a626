"""The sampling explorer (notebook 07): how temperature, top-k and top-p reshape
the next-token distribution of a trained model.

Controls and what they mean:

* ``temperature``: 0, or 0.01 to 2; 0 means greedy (only the most likely token is kept).
* ``top_k``: 0 to V; **0 means off** (keep all), otherwise keep the k most likely
  (a starting ``top_k`` above V keeps all, as the slider's V does).
* ``top_p``: 0.01 to 1; **1.0 means off** (keep all), otherwise keep the
  smallest set of most likely tokens whose probability adds up to at least p.
* ``seed``: the random seed of the ``sample`` and ``generate`` buttons.
* ``scale``: the probability axis of the two bar charts: ``"fitted"`` (the
  default: each chart's axis fits its tallest bar, so a flat distribution's
  bars stay visible), ``"log"`` (the tail, down to the smallest probability) or ``"fixed"``
  (0 to 1 for both: flattening and sharpening show as bars shrinking and
  growing).

A starting value beyond a control's range (``top_p=0.001``, ``n_chars=5000``,
``temperature=1e-45``) is refused with a ``ValueError`` naming the value and the
range, never moved silently to the nearest end. Whole numbers may be Python or
NumPy integers.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import torch

from ..i18n import _
from ..sampling import _check_temperature, _check_top_k, _check_top_p, entropy, sample, top_p_filter, warp
from ._backgrounds import LayoutFigure
from ._checks import is_whole, temperature_problem, top_p_problem
from ._render import (AFTER_COLOR, KEPT_COLOR, REMOVED_COLOR, Explorer, bar_verts, bars, beside, html_escape,
                      image_widget, message_html, picture_note, readable_text, separator, small_html, visible)

SCALES = ("fitted", "log", "fixed")  # the probability axis: fitted to the bars, log, or fixed 0..1
FIT_LIMITS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.05)  # a fitted axis's top, the lowest that fits
LOG_FLOOR = 1e-8  # the lowest bottom of a log axis (it sits at the power of ten under the smallest bar)
CUMULATIVE_COLOR = "#444444"
MAX_CHARS = 2000  # the most characters one press of "generate" writes

class SamplingExplorer(Explorer):
    """Next-token distribution of ``model`` after ``prompt``, before and after warping.

    ``state`` holds what was last drawn: ``probs_before`` and ``probs_after``
    (``(V,)`` tensors in vocabulary order), ``kept`` (how many tokens warping
    kept), ``entropy_before`` and ``entropy`` (nats, after warping), ``order``
    (token ids in the order drawn, most probable first), ``settings``
    (``temperature, top_k, top_p`` as passed to ``glmlib.sampling.warp``),
    ``context`` (the text the model saw), ``cropped``, ``generated``,
    ``message`` (empty, or why nothing could be drawn), ``scale`` and ``drawn_ylim_before`` / ``drawn_ylim_after`` (the bar
    charts' probability axes as drawn).
    """

    def __init__(self, model: Any, tokenizer: Any, prompt: str = "ROMEO:\n", temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int = 0,
                 n_chars: int = 200, scale: str = "fitted") -> None:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        temperature = _check_temperature(temperature)
        top_k, top_p = _check_top_k(top_k), _check_top_p(top_p)
        for problem in (temperature_problem(temperature), top_p_problem(top_p)):
            if problem:
                raise ValueError(problem)
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        if not is_whole(seed):
            raise TypeError(f"seed must be an int, got {seed!r}")
        if not is_whole(n_chars):
            raise TypeError(f"n_chars must be a whole number from 1 to {MAX_CHARS}, got {n_chars!r}")
        if not 1 <= n_chars <= MAX_CHARS:
            raise ValueError(f"n_chars must be a whole number from 1 to {MAX_CHARS}, got {n_chars!r}")
        seed, n_chars = int(seed), int(n_chars)
        config = getattr(model, "config", None)
        if config is None or not hasattr(config, "block_size"):
            raise TypeError(f"model must be a glmlib.model.GPT, got {type(model).__name__}")
        if tokenizer.vocab_size != config.vocab_size:
            raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model "
                             f"expects {config.vocab_size}")
        self.model, self.tokenizer = model, tokenizer
        self.block_size, self.V = config.block_size, config.vocab_size

        style = {"description_width": "88px"}
        wide = widgets.Layout(width="296px")
        self.prompt = widgets.Textarea(value=prompt, description=_("prompt"), continuous_update=False,
                                       style=style, layout=widgets.Layout(width="292px", height="56px"))
        self.temperature = widgets.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.05,
                                               description=_("temperature"), readout_format=".2f",
                                               style=style, layout=wide)
        self.top_k = widgets.IntSlider(value=min(top_k or 0, self.V), min=0, max=self.V, description="top-k",
                                       style=style, layout=wide)
        self.top_p = widgets.FloatSlider(value=1.0 if top_p is None else top_p, min=0.01, max=1.0,
                                         step=0.01, description="top-p", readout_format=".2f",
                                         style=style, layout=wide)
        self.scale = widgets.ToggleButtons(options=[(_("fitted"), "fitted"), (_("log"), "log"), ("0..1", "fixed")],
                                           value=scale, style={"button_width": "58px"},
                                           tooltips=[_("each chart fits its tallest bar"), _("log scale: the tail"),
                                                     _("fixed 0 to 1: compare sharpening and flattening")])
        self.seed = widgets.IntText(value=seed, description=_("seed"), style=style,
                                    layout=widgets.Layout(width="150px"))
        self.sample_button = widgets.Button(description=_("sample 1"), icon="plus",
                                            layout=widgets.Layout(width="130px"),
                                            tooltip=_("draw one token with these settings and append it"))
        self.n_chars = widgets.BoundedIntText(value=n_chars, min=1, max=MAX_CHARS, description=_("characters"),
                                              style=style, layout=widgets.Layout(width="150px"))
        self.generate_button = widgets.Button(description=_("generate"), icon="play",
                                              layout=widgets.Layout(width="130px"),
                                              tooltip=_("continue the prompt with this many characters"))
        self.readout = widgets.HTML()
        self.generated = widgets.HTML()
        self.image = image_widget()
        help_text = small_html(_(
            "temperature 0 = greedy; top-k 0 = off; top-p 1.00 = off. Order: temperature, then top-k, "
            "then top-p. Newline is shown as \u23ce, space as \u2423."))
        y_axis = "<div style='text-align:right;padding-right:8px'>{}</div>".format(_("y axis"))
        self.widget = widgets.VBox([
            beside([self.prompt, self.temperature, self.top_k, self.top_p,
                    widgets.HBox([widgets.HTML(y_axis,
                                               layout=widgets.Layout(width="92px")),
                                  self.scale]),
                    widgets.HBox([self.seed, self.sample_button]),
                    widgets.HBox([self.n_chars, self.generate_button]),
                    help_text, self.readout], [self.image], width="300px"),
            self.generated])
        self.widget.add_class("glm-sampling-explorer")

        self.state: dict[str, Any] = {"message": ""}
        self._generator = torch.Generator().manual_seed(seed)
        self._cache: tuple[str, torch.Tensor] | None = None
        self._order_key: tuple[int, ...] | None = None
        self._fig = LayoutFigure((7.9, 6.9))
        self._build_axes()

        self.prompt.observe(self._on_change, "value")
        for control in (self.temperature, self.top_k, self.top_p, self.scale):
            control.observe(self._on_change, "value")
        self.seed.observe(self._on_seed, "value")
        self.sample_button.on_click(lambda _button: self.sample_one())
        self.generate_button.on_click(lambda _button: self.generate())
        self.refresh()

    # ------------------------------------------------------------------ settings

    def settings(self) -> dict[str, Any]:
        """The controls as ``warp`` arguments (``None`` = off); ``ValueError`` for a temperature
        set from code that the explorer cannot show (between 0 and 0.01)."""
        k = int(self.top_k.value)
        p = float(self.top_p.value)
        temperature = float(self.temperature.value)
        problem = temperature_problem(temperature)
        if problem:
            raise ValueError(problem)
        return {"temperature": temperature,
                "top_k": k if k > 0 else None,
                "top_p": p if p < 1.0 else None}

    def _context(self) -> tuple[str, list[int]]:
        """The text the model sees (the prompt's last block_size characters) and its ids."""
        text = self.prompt.value
        if not text:
            raise ValueError(_("The prompt is empty: type at least one character."))
        ids = self.tokenizer.encode(text)[-self.block_size:]  # names any unknown characters
        return text[-self.block_size:], ids

    @torch.no_grad()
    def _logits(self, context: str, ids: list[int]) -> torch.Tensor:
        """Next-token logits ``(V,)`` after ``context`` (cached: settings changes reuse them)."""
        if self._cache is None or self._cache[0] != context:
            device = next(self.model.parameters()).device
            was_training = self.model.training
            self.model.eval()
            logits, _loss = self.model(torch.tensor([ids], device=device))
            self.model.train(was_training)
            self._cache = (context, logits[0, -1].float().cpu())
        return self._cache[1]

    # ------------------------------------------------------------------ actions

    def _on_change(self, _change: Any = None) -> None:
        self.refresh()

    def _on_seed(self, change: Any) -> None:
        try:
            self._generator.manual_seed(int(change["new"]))
            self.state["message"] = ""
        except (RuntimeError, ValueError, OverflowError) as err:
            self._show_message(_("seed {seed} is not usable: {problem}", seed=repr(change["new"]), problem=err))

    def refresh(self) -> None:
        """Recompute the distributions for the current controls and redraw; errors become a message."""
        try:
            self._compute()
        except (ValueError, TypeError) as err:
            self._show_message(str(err))
            return
        self._draw()

    def _compute(self) -> None:
        context, ids = self._context()
        logits = self._logits(context, ids)
        s = self.settings()
        # the distribution top-p looks at: after temperature and top-k
        before_p = warp(logits, s["temperature"], s["top_k"], None)
        warped = top_p_filter(before_p, s["top_p"])
        kept_mask = torch.isfinite(warped)
        self.state.update(
            message="",
            context=context,
            cropped=len(self.prompt.value) > self.block_size,
            settings=s,
            logits=logits,
            probs_before=torch.softmax(logits, -1),
            probs_after=torch.softmax(warped, -1),
            probs_top_p_input=torch.softmax(before_p, -1),
            kept_mask=kept_mask,
            kept=int(kept_mask.sum()),
            entropy_before=float(entropy(logits)),
            entropy=float(entropy(warped)),
            order=torch.argsort(logits, descending=True, stable=True),
        )

    def sample_one(self) -> str | None:
        """Draw one token with the current settings, append it to the prompt, redraw."""
        try:
            context, ids = self._context()
            token = int(sample(self._logits(context, ids)[None], **self.settings(),
                               generator=self._generator)[0])
        except (ValueError, TypeError) as err:
            self._show_message(str(err))
            return None
        ch = self.tokenizer.decode([token])
        self.state["last_token"] = ch
        self.prompt.value = self.prompt.value + ch  # the observer redraws
        return ch

    @torch.no_grad()
    def generate(self) -> str | None:
        """Continue the prompt by ``n_chars`` characters (seeded by ``seed``); shown below the plot."""
        try:
            self._context()  # an empty prompt or unknown characters raise here
            n = int(self.n_chars.value)
            if not 1 <= n <= self.n_chars.max:
                raise ValueError(_("characters must be in [1, {high}], got {n}", high=self.n_chars.max, n=n))
            device = next(self.model.parameters()).device
            idx = torch.tensor([self.tokenizer.encode(self.prompt.value)], device=device)
            gen = torch.Generator(device=device).manual_seed(int(self.seed.value))
            s = self.settings()
            out = self.model.generate(idx, n, generator=gen, **s)
        except (ValueError, TypeError, RuntimeError) as err:
            self._show_message(str(err))
            return None
        text = self.tokenizer.decode(out[0, idx.shape[1]:].cpu())
        self.state["generated"] = text
        heading = _("{n} characters, seed {seed}, temperature {t:.2f}, top-k {k}, top-p {p}:", n=n,
                    seed=self.seed.value, t=s["temperature"], k=s["top_k"] or _("off"), p=s["top_p"] or _("off"))
        self.generated.value = (
            f"<div style='font-family:monospace;white-space:pre-wrap;border-top:1px solid #ccc;"
            f"max-height:9em;overflow-y:auto'>"
            f"<small>{heading}</small>\n"
            f"<span style='color:#888'>{html_escape(self.prompt.value[-80:])}</span>"
            f"<b>{html_escape(text)}</b></div>")
        return text

    def _show_message(self, message: str) -> None:
        self.state["message"] = message
        self.readout.value = message_html(message)
        self._error_text.set_text(picture_note(message))
        self._error_text.set_visible(True)
        self.image.value = self._fig.render()

    # ------------------------------------------------------------------ drawing

    def _build_axes(self) -> None:
        """Three panels sharing the token axis: before warping, after warping, cumulative."""
        fig = self._fig.figure
        fig.subplots_adjust(left=0.11, right=0.98, top=0.95, bottom=0.09, hspace=0.5)
        # the same token axis for all three; only the bottom one carries tick labels (cheaper
        # to draw than three shared axes with a tick object per token each)
        self._ax_before, self._ax_after, self._ax_cum = fig.subplots(3, 1)
        V = self.V
        zeros = np.zeros(V)
        self._bars_before = bars(self._ax_before, zeros)
        self._bars_after = bars(self._ax_after, zeros, color=AFTER_COLOR)
        (self._removed_marks,) = self._ax_after.plot([], [], "x", color="#999999", ms=4, mew=1)
        (self._cum_line,) = self._ax_cum.plot([], [], "-", color=CUMULATIVE_COLOR, lw=1.5,
                                              drawstyle="steps-mid")
        self._p_line = self._ax_cum.axhline(1.0, color="#d62728", ls="--", lw=1)
        self._k_line = self._ax_cum.axvline(0, color="#111111", ls=":", lw=1.5)
        self._error_text = fig.text(0.5, 0.5, "", ha="center", va="center", fontsize=12, color="#a00",
                                    wrap=True, visible=False,
                                    bbox=dict(boxstyle="round", fc="white", ec="#a00", alpha=0.95))
        for ax in (self._ax_before, self._ax_after, self._ax_cum):
            ax.set_xlim(-0.6, V - 0.4)
            ax.grid(axis="y", alpha=0.3)
        for ax in (self._ax_before, self._ax_after):
            ax.set_xticks([])
        for ax in (self._ax_before, self._ax_after, self._ax_cum):
            ax.set_ylim(0, 1.05)  # no autoscaling: each scale sets its own limits
        self._ax_cum.set_ylabel("cumulative\nprobability")
        self._ax_cum.set_xlabel("token, most probable first (order before warping); "
                                "\u23ce = newline, \u2423 = space")
        self._ax_cum.set_title("Cumulative probability of what top-p sees (after temperature and top-k)",
                               fontsize=10)
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
        self._ax_before.legend(handles=[Patch(color=KEPT_COLOR, label="kept by the settings"),
                                        Patch(color=REMOVED_COLOR, label="removed")],
                               loc="upper right", fontsize=8)
        self._ax_after.legend(handles=[Patch(color=AFTER_COLOR, label="kept (renormalised)"),
                                       Line2D([], [], ls="", marker="x", color="#999999",
                                              label="removed (probability 0)")],
                              loc="upper right", fontsize=8)
        self._ax_cum.legend(handles=[Line2D([], [], color=CUMULATIVE_COLOR, label="cumulative"),
                                     Line2D([], [], color="#d62728", ls="--", label="p threshold"),
                                     Line2D([], [], color="#111111", ls=":", label="last kept token")],
                            loc="lower right", fontsize=8)
        self._fig.dynamic(self._bars_before, self._bars_after, self._removed_marks, self._cum_line,
                          self._p_line, self._k_line, self._ax_before.title, self._ax_after.title,
                          self._error_text)

    def _apply_scale(self, key: tuple[str, float, float]) -> None:
        """The bar charts' probability axes: ``(scale, top of before, top of after)``."""
        scale, top_before, top_after = key
        for ax, top in ((self._ax_before, top_before), (self._ax_after, top_after)):
            if scale == "log":  # top is the axis' bottom here
                ax.set_yscale("log")
                ax.set_ylim(top, 1.5)
                ax.set_ylabel("probability\n(log scale)")
            else:
                ax.set_yscale("linear")
                ax.set_ylim(0, top)
                ax.set_ylabel("probability" + ("\n(fitted axis)" if scale == "fitted" else ""))

    def _scale_key(self, before: np.ndarray, after: np.ndarray) -> tuple[str, float, float]:
        scale = self.scale.value
        if scale == "fitted":
            return scale, _fit(float(before.max())), _fit(float(after.max()))
        if scale == "log":  # one bottom for both charts, a power of ten under every bar
            smallest = min(float(before[before > 0].min(initial=1.0)), float(after[after > 0].min(initial=1.0)))
            low = max(LOG_FLOOR, 10.0 ** np.floor(np.log10(smallest)))
            return scale, low, low
        return scale, 1.05, 1.05

    def _draw(self) -> None:
        st = self.state
        order = st["order"]
        before = st["probs_before"][order].numpy()
        after = st["probs_after"][order].numpy()
        kept = st["kept_mask"][order].numpy()
        key = tuple(order.tolist())
        if key != self._order_key:  # new prompt: new tick labels and title
            self._order_key = key
            self._labels = [visible(self.tokenizer.itos[i]) for i in order.tolist()]
            self._fig.set_char_ticks(self._ax_cum, "x", self._labels, fontsize=9, marks=False)
            self._ax_before.set_title(
                f"Before warping (temperature 1): entropy {_nats(st['entropy_before']):.2f} nats, "
                f"{self.V} tokens. Context: \u2026{readable_text(st['context'][-24:])}", fontsize=10)
            self._fig.invalidate()
        scale = self._scale_key(before, np.where(kept, after, 0.0))
        self._fig.layout(scale, self._apply_scale)
        bottom = scale[1] if scale[0] == "log" else 0.0
        self._bars_before.set_verts(bar_verts(before, bottom=bottom))
        self._bars_before.set_facecolor(np.where(kept[:, None], _rgba(KEPT_COLOR), _rgba(REMOVED_COLOR)))
        self._bars_after.set_verts(bar_verts(np.where(kept, after, 0.0), bottom=bottom))
        removed_x = np.flatnonzero(~kept)
        mark_y = bottom * 2 if scale[0] == "log" else 0.02 * scale[2]
        self._removed_marks.set_data(removed_x, np.full(len(removed_x), mark_y))
        cum = np.cumsum(st["probs_top_p_input"][order].numpy())
        self._cum_line.set_data(np.arange(self.V), cum)
        s = st["settings"]
        self._p_line.set_visible(s["top_p"] is not None)
        if s["top_p"] is not None:
            self._p_line.set_ydata([s["top_p"], s["top_p"]])
        last_kept = int(np.flatnonzero(kept).max())
        self._k_line.set_xdata([last_kept + 0.5, last_kept + 0.5])
        self._ax_after.title.set_text(
            f"After warping ({_short(s)}): {st['kept']} of {self.V} kept, "
            f"entropy {_nats(st['entropy']):.2f} nats")
        self._ax_after.title.set_fontsize(10)
        self._error_text.set_visible(False)
        # what the picture shows, read back from the artists
        st["labels"] = list(self._labels)
        st["scale"] = scale[0]
        st["drawn_ylim_before"] = tuple(self._ax_before.get_ylim())
        st["drawn_ylim_after"] = tuple(self._ax_after.get_ylim())
        st["drawn_heights_before"] = _heights(self._bars_before)
        st["drawn_heights_after"] = _heights(self._bars_after)
        st["drawn_kept"] = np.all(self._bars_before.get_facecolor() == _rgba(KEPT_COLOR), axis=1)
        st["drawn_cumulative"] = np.asarray(self._cum_line.get_ydata())

        note = (" " + _("The prompt has {n} characters; the model sees only the last {block_size} (its "
                        "block_size).", n=len(self.prompt.value), block_size=self.block_size)
                if st["cropped"] else "")
        numbers = _("entropy before: <b>{before:.3f}</b> nats<br>after: <b>{after:.3f}</b> nats, kept "
                    "<b>{kept}</b> of {V}", before=_nats(st["entropy_before"]), after=_nats(st["entropy"]),
                    kept=st["kept"], V=self.V)
        self.readout.value = (
            f"<div style='font-family:monospace;font-size:12px'>{numbers}<br>{_describe(s)}</div>"
            + (f"<div style='color:#555'><small>{html_escape(note)}</small></div>" if note else ""))
        self.image.value = self._fig.render()


def _fit(top: float) -> float:
    """The top of a fitted probability axis: the lowest of :data:`FIT_LIMITS` with room above ``top``."""
    return next((limit for limit in FIT_LIMITS if top * 1.05 <= limit), FIT_LIMITS[-1])


def _nats(h: float) -> float:
    """An entropy for display: one kept token gives -0.0 (``-(1 * 0)``), shown as 0."""
    return max(0.0, h)


def _heights(collection: Any) -> np.ndarray:
    """Bar heights of a PolyCollection made by ``bars``."""
    return np.array([path.vertices[:, 1].max() for path in collection.get_paths()])


def _rgba(color: str) -> np.ndarray:
    from matplotlib.colors import to_rgba

    return np.array(to_rgba(color))


def _short(s: dict) -> str:
    """The settings in a figure's title (English: the course ships no CJK font)."""
    t = "greedy" if s["temperature"] == 0 else f"T {s['temperature']:.2f}"
    k = f"k {s['top_k']}" if s["top_k"] is not None else "k off"
    p = f"p {s['top_p']:.2f}" if s["top_p"] is not None else "p off"
    return f"{t}, {k}, {p}"


def _describe(s: dict) -> str:
    """The settings in words, for the readout."""
    t = (_("greedy (temperature 0)") if s["temperature"] == 0
         else _("temperature {t:.2f}", t=s["temperature"]))
    k = f"top-k {s['top_k']}" if s["top_k"] is not None else _("top-k off")
    p = f"top-p {s['top_p']:.2f}" if s["top_p"] is not None else _("top-p off")
    return separator(", ").join((t, k, p))


def sampling_explorer(model: Any, tokenizer: Any, prompt: str = "ROMEO:\n", temperature: float = 1.0,
                      top_k: int | None = None, top_p: float | None = None,
                      seed: int = 0, scale: str = "fitted", n_chars: int = 200) -> SamplingExplorer:
    """Build a :class:`SamplingExplorer`; the last expression of a cell displays it.

    ``scale`` is the probability axis: ``"fitted"``, ``"log"`` or ``"fixed"`` (0 to 1).
    """
    return SamplingExplorer(model, tokenizer, prompt=prompt, temperature=temperature, top_k=top_k,
                            top_p=top_p, seed=seed, n_chars=n_chars, scale=scale)
