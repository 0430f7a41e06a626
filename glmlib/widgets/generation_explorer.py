"""The generation explorer (notebook 07): generation one token at a time, the
candidates at each step, forced tokens and branches side by side.

Controls:

* ``step``, ``step 10``, ``undo``, ``reset``: move along the current path.
  ``reset`` starts a new path from the prompt; the old one stays listed for
  comparison.
* ``temperature`` (0 = greedy, or 0.01 to 2), ``top_k`` (0 = off), ``top_p``
  (0.01 to 1, 1.0 = off): the settings of the next step, and of what the
  picture shows. A starting value outside these ranges is named in a message
  in the widget and replaced by off (1.0 for the temperature); a temperature
  under 0.01 set from code is named when a step is asked for, never handed
  to torch (``logits / 1e-45`` overflows).
* ``seed``: the generator of a new path (changing it starts one).
* the candidate buttons and ``any character``: force a token at the step
  shown. At the next step this extends the path; at an earlier step it
  starts a branch, and the path it left stays listed.
* ``step shown`` picks the step whose candidates are drawn; ``path`` picks
  the path.

With settings left unchanged along a path, its text is exactly what
``GPT.generate`` returns for the same prompt, settings and seed
(:mod:`glmlib.widgets.generation_path`). After a forced token it continues as
``generate`` would from the text so far, the generator where it was.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator

import ipywidgets as widgets
import numpy as np
import torch

from ..device import cpu_threads
from ..i18n import _, language, translate
from ..sampling import warp
from ._backgrounds import LayoutFigure
from ._checks import is_whole, temperature_problem, top_p_problem
from ._render import (CHOSEN_COLOR, KEPT_COLOR, MODEL_COLOR, REMOVED_COLOR, Explorer, N_, bar_verts, bars, beside,
                      html_escape, image_widget, label_width, message_html, separator, small_html, visible)
from .generation_path import FORCED, GREEDY, SAMPLED, GenerationPath, LogitsSource, Settings, perplexity
from .surprise_view import RANK_BUCKETS, RankBars, bucket_legend, rank_bucket

N_DRAWN = 20  # candidates drawn in the picture
N_BUTTONS = 10  # candidates offered as buttons (the dropdown offers every token)
MAX_STEPS = 1000  # per path
MAX_PATHS = 8  # the oldest (not shown) path goes first
PROMPT_SHOWN = 300  # characters of a long prompt shown before the generated text
REMOVED_MARK_COLOR = "#888888"  # the x under a candidate the settings remove (its bar after warping is 0)
DEFAULT_PROMPT = "ROMEO:\n"
HOW_WORDS = {SAMPLED: N_("sampled"), GREEDY: N_("greedy"), FORCED: N_("forced")}  # how a step's token was chosen


def _how(how: str) -> str:
    """How a step's token was chosen, in the chosen language."""
    return translate(HOW_WORDS.get(how, how))


class GenerationExplorer(Explorer):
    """Step through ``model``'s generation after ``prompt``; force tokens; compare paths.

    ``state`` holds what was last drawn: ``text`` (prompt and generated),
    ``generated``, ``tokens`` (generated ids), ``view`` (the step shown,
    1-based; ``len(tokens) + 1`` is the next step), ``chosen`` (the id chosen
    there, ``None`` at the next step), ``how`` (sampled, greedy or forced),
    ``settings`` (the controls as :class:`Settings`), ``probs_before`` and
    ``probs_after`` (``(V,)`` at the step shown, before and after warping with
    the current settings), ``kept``, ``candidates`` (the ids on the buttons),
    ``log_probs`` (each generated token under the model, nats), ``log_prob``,
    ``surprise`` (mean ``-log p`` per character), ``perplexity``, ``ranks``,
    ``kept_per_step`` (tokens the current settings keep at each step),
    ``paths`` (one summary per path), ``current``, ``drawn_*`` (read back from
    the picture) and ``message``.
    """

    def __init__(self, model: Any, tokenizer: Any, prompt: str = DEFAULT_PROMPT, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int = 0) -> None:
        config = getattr(model, "config", None)
        if config is None or not hasattr(model, "decode_step"):
            raise TypeError(f"model must be a glmlib.model.GPT, got {type(model).__name__}")
        if getattr(tokenizer, "vocab_size", None) != config.vocab_size:
            raise ValueError(f"the tokenizer has {getattr(tokenizer, 'vocab_size', '?')} tokens but the "
                             f"model expects {config.vocab_size}")
        self.model, self.tokenizer, self.V = model, tokenizer, config.vocab_size
        self.source = LogitsSource(model)
        self.paths: list[GenerationPath] = []
        self.current = 0
        self.state: dict[str, Any] = {"message": ""}
        self._quiet = False
        self._limits = (1.05, 10.0, 50)  # probability axis, surprise axis, steps axis
        problems = self._build_controls(prompt, temperature, top_k, top_p, seed)
        self._fig = LayoutFigure((7.2, 5.2))
        self._build_axes()
        self._connect()
        self._new_prompt()
        if problems:
            self._show_message(" ".join(problems))

    # ------------------------------------------------------------------ controls

    def _build_controls(self, prompt: Any, temperature: Any, top_k: Any, top_p: Any, seed: Any) -> list[str]:
        """Make every control; returns what was wrong with the arguments (those fall back to defaults)."""
        problems = []
        if not isinstance(prompt, str):
            problems.append(_("prompt must be a str, got {kind} {value}.", kind=type(prompt).__name__,
                              value=repr(prompt)))
            prompt = ""
        t, k, p, settings_problem = _slider_settings(temperature, top_k, top_p, self.V)
        problems += settings_problem
        if not is_whole(seed) or _seed_problem(int(seed)):
            problems.append(_("seed must be an int in [0, 2**63), got {seed}; using 0.", seed=repr(seed)))
            seed = 0
        style = {"description_width": "88px"}
        wide = widgets.Layout(width="330px")
        self.prompt = widgets.Textarea(value=prompt, description=_("prompt"), continuous_update=False,
                                       style={"description_width": "50px"},
                                       layout=widgets.Layout(width="240px", height="92px"))
        self.temperature = widgets.FloatSlider(value=t, min=0.0, max=2.0, step=0.05, description=_("temperature"),
                                               readout_format=".2f", style=style, layout=wide)
        self.top_k = widgets.IntSlider(value=k, min=0, max=self.V, description="top-k", style=style,
                                       layout=wide)
        self.top_p = widgets.FloatSlider(value=p, min=0.01, max=1.0, step=0.01, description="top-p",
                                         readout_format=".2f", style=style, layout=wide)
        self.seed = widgets.IntText(value=int(seed), description=_("seed"),
                                    style={"description_width": label_width(40, _("seed"))},
                                    layout=widgets.Layout(width="196px"))
        button = widgets.Layout(width="96px")
        self.step_button = widgets.Button(description=_("step"), icon="step-forward", layout=button,
                                          tooltip=_("choose the next token with the current settings"))
        self.step10_button = widgets.Button(description=_("step 10"), icon="fast-forward", layout=button)
        self.undo_button = widgets.Button(description=_("undo"), icon="undo", layout=button,
                                          tooltip=_("remove the last token; the generator goes back too"))
        self.reset_button = widgets.Button(description=_("reset"), icon="refresh", layout=button,
                                           tooltip=_("start a new path from the prompt (this one stays listed)"))
        for name in ("step", "step10", "undo", "reset"):
            getattr(self, f"{name}_button").add_class(f"glm-{name}")
        self.greedy_button = widgets.Button(description=_("add greedy path"), layout=widgets.Layout(width="160px"),
                                            tooltip=_("list the greedy continuation, as long as this path"))
        self.view = widgets.IntSlider(value=1, min=1, max=1, description=_("step shown"), style=style,
                                      layout=widgets.Layout(width="330px"))
        self.path_select = widgets.Dropdown(options=[("1", 0)], value=0, description=_("path"),
                                            style={"description_width": "40px"},
                                            layout=widgets.Layout(width="330px"))
        self.candidates = [widgets.Button(layout=widgets.Layout(width="62px", padding="0 2px"))
                           for _i in range(N_BUTTONS)]
        for b in self.candidates:
            b.add_class("glm-candidate")
        self.any_token = widgets.Dropdown(options=[(visible(c), i) for i, c in enumerate(self.tokenizer.itos)],
                                          value=0, description=_("any token"), style={"description_width": "70px"},
                                          layout=widgets.Layout(width="160px"))
        self.force_button = widgets.Button(description=_("force"), layout=widgets.Layout(width="70px"),
                                           tooltip=_("force this token at the step shown"))
        self.readout, self.text, self.step_info, self.comparison = (widgets.HTML() for _i in range(4))
        self.text.add_class("glm-generated-text")
        self.image = image_widget()
        self._layout()
        return problems

    def _layout(self) -> None:
        """Settings and moves on top; the path, the step and its candidates beside the picture."""
        help_text = small_html(_(
            "temperature 0 = greedy; top-k 0 = off; top-p 1.00 = off. Click a candidate to force it at the "
            "step shown (at an earlier step this starts a branch); struck-through candidates are removed by "
            "the settings. Forced characters are underlined.") + f" {bucket_legend()}")
        self.step_info.layout = widgets.Layout(min_height="3.2em")
        self.widget = widgets.VBox([
            widgets.HBox([self.prompt, widgets.VBox([self.temperature, self.top_k, self.top_p]),
                          widgets.VBox([self.seed, widgets.HBox([self.step_button, self.step10_button]),
                                        widgets.HBox([self.undo_button, self.reset_button])])]),
            help_text, self.readout,
            beside([self.text, self.view, self.step_info,
                    widgets.HBox(self.candidates[:5]), widgets.HBox(self.candidates[5:]),
                    widgets.HBox([self.any_token, self.force_button]),
                    self.path_select, self.greedy_button], [self.image], width="340px"),
            self.comparison])
        self.widget.add_class("glm-generation-explorer")

    def _connect(self) -> None:
        self.prompt.observe(lambda _change: self._guarded(self._new_prompt), "value")
        for control in (self.temperature, self.top_k, self.top_p):
            control.observe(lambda _change: self._guarded(self.refresh), "value")
        self.seed.observe(lambda _change: self._guarded(self._new_seed), "value")
        self.view.observe(lambda _change: self._guarded(self.refresh), "value")
        self.path_select.observe(lambda _change: self._guarded(self._switch_path), "value")
        self.step_button.on_click(lambda _button: self.step())
        self.step10_button.on_click(lambda _button: self.step(10))
        self.undo_button.on_click(lambda _button: self.undo())
        self.reset_button.on_click(lambda _button: self.reset())
        self.greedy_button.on_click(lambda _button: self.add_greedy_path())
        for b in self.candidates:
            b.on_click(self._on_candidate)
        self.force_button.on_click(lambda _button: self.force(int(self.any_token.value)))

    def _guarded(self, action: Any) -> None:
        """Run ``action`` for a control the learner changed (not one changed by the explorer itself)."""
        if not self._quiet:
            action()

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change controls without their observers running."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def settings(self) -> Settings:
        """The controls as ``generate`` settings (``None`` = off); ``ValueError`` for a temperature
        set from code that the explorer cannot show (between 0 and 0.01: it would read 0.00)."""
        k, p, t = int(self.top_k.value), float(self.top_p.value), float(self.temperature.value)
        problem = temperature_problem(t)
        if problem:
            raise ValueError(problem)
        return Settings(t, k if k > 0 else None, p if p < 1.0 else None)

    # ------------------------------------------------------------------ the paths

    @property
    def path(self) -> GenerationPath | None:
        """The path shown (``None`` while the prompt is unusable)."""
        return self.paths[self.current] if self.paths else None

    def _new_prompt(self) -> None:
        """A new prompt: every path goes; one empty path starts."""
        self.paths, self.current = [], 0
        try:
            prompt = self.prompt.value
            if not prompt:
                raise ValueError(_("The prompt is empty: type at least one character."))
            ids = self.tokenizer.encode(prompt)  # names any unknown characters
            seed = self._seed()
        except (ValueError, TypeError) as err:
            self._show_message(str(err))
            return
        self._add_path(GenerationPath(self.source, ids, seed))
        self._show_step(None)

    def _seed(self) -> int:
        """The seed control's value; ``ValueError`` naming the allowed range if it cannot seed."""
        seed = int(self.seed.value)
        problem = _seed_problem(seed)
        if problem:
            raise ValueError(problem)
        return seed

    def _new_seed(self) -> None:
        try:
            seed = self._seed()
        except ValueError as err:
            self._show_message(str(err))
            return
        if self.path is None:
            self._new_prompt()
            return
        if len(self.path) == 0:  # nothing generated yet: just reseed this path
            self.paths[self.current] = GenerationPath(self.source, self.path.prompt_ids, seed)
            self._show_step(None)
        else:
            self.reset()

    def _add_path(self, path: GenerationPath) -> None:
        if len(self.paths) >= MAX_PATHS:
            drop = 0 if self.current != 0 else 1
            del self.paths[drop]
            self.current -= self.current > drop
        self.paths.append(path)
        self.current = len(self.paths) - 1

    def _switch_path(self) -> None:
        self.current = int(self.path_select.value)
        self._show_step(None)

    # ------------------------------------------------------------------ actions

    def step(self, n: int = 1) -> None:
        """Choose ``n`` more tokens with the current settings, then show the last one's step."""
        path = self.path
        if path is None:
            return
        try:
            if not is_whole(n) or n < 1:
                raise ValueError(_("step takes a whole number of tokens >= 1, got {n}", n=repr(n)))
            n = int(n)
            settings = self.settings()
            room = MAX_STEPS - len(path)
            for _i in range(min(n, room)):
                path.step(settings)
        except (ValueError, TypeError, RuntimeError) as err:
            self._show_message(str(err))
            return
        self._show_step(None)
        if room < n:
            self._show_message(_("A path holds at most {n} tokens: press reset to start a new one.", n=MAX_STEPS),
                               keep_drawing=True)

    def undo(self) -> None:
        """Remove the last token (the generator goes back to where it was before it)."""
        if self.path is not None and self.path.undo() is not None:
            self._show_step(None)

    def reset(self) -> None:
        """Start a new path from the prompt (with the seed in ``seed``); the old one stays listed."""
        path = self.path
        if path is None:
            self._new_prompt()
            return
        try:
            fresh = GenerationPath(self.source, path.prompt_ids, self._seed())
        except ValueError as err:
            self._show_message(str(err))
            return
        if len(path) == 0:
            self.paths[self.current] = fresh
        else:
            self._add_path(fresh)
        self._show_step(None)

    def force(self, token: int) -> None:
        """Force ``token`` at the step shown: extend the path (at the next step) or branch from it."""
        path = self.path
        if path is None:
            return
        at = int(self.view.value) - 1  # steps kept before the forced token
        at = min(at, len(path))
        if at < len(path) and path.steps[at].token == token:
            return  # already chosen there
        if at + 1 > MAX_STEPS:
            self._show_message(_("A path holds at most {n} tokens: press reset to start a new one.", n=MAX_STEPS))
            return
        try:
            if at < len(path):  # a branch: the path it leaves stays listed
                branch = path.fork(at)
                branch.force(token, self.settings())
                self._add_path(branch)
            else:
                path.force(token, self.settings())
        except (ValueError, TypeError, RuntimeError) as err:
            self._show_message(str(err))
            return
        self._show_step(at + 1)

    def _on_candidate(self, button: widgets.Button) -> None:
        token = getattr(button, "token", None)
        if token is not None:
            self.force(token)

    def add_greedy_path(self) -> None:
        """List the greedy continuation of the prompt, as long as the current path (at least 1)."""
        path = self.path
        if path is None:
            return
        n = max(1, len(path))
        greedy = GenerationPath(self.source, path.prompt_ids, path.seed)
        try:
            for _i in range(n):
                greedy.step(Settings(0.0))
        except (ValueError, TypeError, RuntimeError) as err:
            self._show_message(str(err))
            return
        self._add_path(greedy)
        self.current = self.paths.index(path)  # keep showing the same path
        self._show_step(int(self.view.value))

    # ------------------------------------------------------------------ state

    def _show_step(self, view: int | None) -> None:
        """Update the path-dependent controls, show step ``view`` (default: the last one), redraw."""
        path = self.path
        if path is None:
            return
        n = len(path)
        view = n if view is None else view
        with self._quietly():
            self.view.max = n + 1
            self.view.value = min(max(1, view), n + 1) if n else 1
            self.path_select.options = [(f"{i + 1}: {describe(p, self.tokenizer.itos)}", i)
                                        for i, p in enumerate(self.paths)]
            self.path_select.value = self.current
        self.refresh()

    def refresh(self) -> None:
        """Recompute what the current controls show and redraw; errors become a message."""
        path = self.path
        if path is None:
            return
        with cpu_threads(1):
            try:
                self._compute(path)
            except (ValueError, TypeError, RuntimeError) as err:
                self._show_message(str(err))
                return
            self._draw()

    def _compute(self, path: GenerationPath) -> None:
        settings = self.settings()
        n = len(path)
        view = min(int(self.view.value), n + 1)
        step = path.steps[view - 1] if view <= n else None
        logits = (step.logits if step else path.next_logits())[0].float().cpu()  # (V,)
        warped = warp(logits, **settings.kwargs())  # (V,)
        before, after = torch.softmax(logits, -1), torch.softmax(warped, -1)
        order = _candidate_order(before, after)
        chosen = step.token if step else None
        self.state.update(
            message="", settings=settings, view=view, chosen=chosen, how=step.how if step else None,
            chosen_with=step.settings if step else None, probs_before=before, probs_after=after,
            kept=int(torch.isfinite(warped).sum()), order=order,
            candidates=_with_chosen(order[:N_BUTTONS], chosen),
            drawn=_with_chosen(order[:N_DRAWN], chosen),
            text=self.tokenizer.decode(path.ids), generated=self.tokenizer.decode(path.tokens),
            tokens=path.tokens, current=self.current, **_path_numbers(path, settings))
        self.state["paths"] = [summary(p, self.tokenizer) for p in self.paths]

    # ------------------------------------------------------------------ drawing

    def _build_axes(self) -> None:
        """Two panels: the candidates at the step shown; surprise and kept tokens along the path."""
        fig = self._fig.figure
        fig.subplots_adjust(left=0.11, right=0.9, top=0.94, bottom=0.1, hspace=0.42)
        self._ax_cand, self._ax_path = fig.subplots(2, 1, height_ratios=[1.2, 1.0])
        self._ax_kept = self._ax_path.twinx()
        ax = self._ax_cand
        self._bars_before = bars(ax, np.zeros(N_DRAWN), color=MODEL_COLOR)
        self._bars_after = bars(ax, np.zeros(N_DRAWN), color=KEPT_COLOR)
        (self._removed,) = ax.plot([], [], "x", color=REMOVED_MARK_COLOR, ms=5, mew=1.2)
        ax.set_xlim(-0.6, N_DRAWN - 0.4)
        ax.set_ylabel("probability")
        ax.grid(axis="y", alpha=0.3)
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color=MODEL_COLOR, label="model (temperature 1)"),
                           Patch(color=KEPT_COLOR, label="kept, after warping"),
                           Line2D([], [], ls="", marker="x", color=REMOVED_MARK_COLOR, label="removed by the settings"),
                           Patch(facecolor=CHOSEN_COLOR, edgecolor="black", label="chosen")],
                  loc="upper right", fontsize=8)
        ax.set_title(" ", fontsize=10)
        ax = self._ax_path
        ax.set_title("Along the path: surprise of each character (colour = rank)", fontsize=10)
        self._surprise = RankBars(ax)
        (self._forced_marks,) = ax.plot([], [], "v", color="#111111", ms=5)
        (self._kept_line,) = self._ax_kept.plot([], [], "-", color="#6a3d9a", lw=1.2, drawstyle="steps-mid")
        self._view_line = ax.axvline(1, color="#111111", lw=1, ls=":")
        ax.set_ylabel("surprise -log p\n(nats, model)")
        ax.set_xlabel("step (\u25bc = forced); purple: tokens the settings keep (right axis)")
        self._ax_kept.set_ylabel("kept tokens", color="#6a3d9a")
        self._apply_limits(self._limits)
        self._fig.dynamic(self._bars_before, self._bars_after, self._removed, self._surprise.collection,
                          self._forced_marks, self._kept_line, self._view_line, self._ax_cand.title)

    def _apply_limits(self, limits: tuple[float, float, int]) -> None:
        """Axis limits: the probability axis fits the tallest bar, the path axes the path."""
        prob_top, surprise_top, steps = limits
        self._ax_cand.set_ylim(0, prob_top)
        self._ax_path.set_xlim(0.4, steps + 0.6)
        self._ax_path.set_ylim(0, surprise_top)
        self._ax_kept.set_ylim(0, self.V * 1.05)
        self._limits = limits

    def _draw(self) -> None:
        st = self.state
        drawn = st["drawn"]
        tallest = float(max(st["probs_before"][drawn].max(), st["probs_after"][drawn].max()))
        surprise = -min(st["log_probs"], default=0.0)
        limits = (_nice_prob_limit(tallest), _nice_surprise_limit(surprise), _nice_steps(len(st["tokens"])))
        self._fig.layout(limits, self._apply_limits)
        self._draw_candidates()
        self._draw_path()
        self.image.value = self._fig.render()
        self._update_buttons()
        self.readout.value = self._summary_html()
        self.text.value = self._text_html()
        self.step_info.value = self._step_html()
        self.comparison.value = self._comparison_html()

    def _draw_candidates(self) -> None:
        st = self.state
        drawn = st["drawn"]
        before, after = st["probs_before"][drawn].numpy(), st["probs_after"][drawn].numpy()
        self._bars_before.set_verts(bar_verts(before, width=0.8))
        self._bars_after.set_verts(bar_verts(after, width=0.45))
        chosen = np.array([t == st["chosen"] for t in drawn])
        self._bars_after.set_facecolor([CHOSEN_COLOR if c else KEPT_COLOR for c in chosen])
        self._bars_after.set_edgecolor(["black" if c else "none" for c in chosen])
        self._bars_after.set_linewidth(1.2)
        removed = np.flatnonzero(after == 0)
        self._removed.set_data(removed, np.full(len(removed), 0.0))
        labels = [visible(self.tokenizer.itos[t]) for t in drawn]
        self._fig.set_char_ticks(self._ax_cand, "x", labels, fontsize=10, marks=False)
        st["drawn_removed"] = [int(i) for i in removed]
        # short: a title's glyphs are drawn at every redraw (the numbers are in the text above too)
        self._ax_cand.title.set_text(f"Candidates at step {st['view']}"
                                     f"{' (next)' if st['chosen'] is None else ''}: {st['kept']} kept")
        st["drawn_labels"] = labels
        st["drawn_before"], st["drawn_after"] = _heights(self._bars_before), _heights(self._bars_after)
        st["drawn_chosen"] = [i for i, t in enumerate(drawn) if t == st["chosen"]]
        st["drawn_limits"] = self._limits

    def _draw_path(self) -> None:
        st = self.state
        surprise = -np.asarray(st["log_probs"], dtype=float)
        steps = np.arange(1, len(surprise) + 1)  # step i is drawn at x = i
        self._surprise.set(steps, surprise, np.asarray(st["ranks"]))
        forced = np.flatnonzero(np.array(st["hows"], dtype=object) == FORCED) + 1  # steps, 1-based
        top = self._limits[1]
        self._forced_marks.set_data(forced, np.minimum(surprise[forced - 1], top * 0.93) + top * 0.04)
        self._kept_line.set_data(steps, st["kept_per_step"])
        self._view_line.set_xdata([st["view"], st["view"]])
        st["drawn_surprise"], st["drawn_buckets"] = self._surprise.drawn()
        st["drawn_kept"] = np.asarray(self._kept_line.get_ydata())

    def _update_buttons(self) -> None:
        st = self.state
        for button in self.candidates[len(st["candidates"]):]:  # a vocabulary smaller than the row
            button.token, button.description, button.layout.visibility = None, "", "hidden"
        for button, token in zip(self.candidates, st["candidates"]):
            p = float(st["probs_after"][token])
            button.token = token
            button.description = f"{visible(self.tokenizer.itos[token])}  {p:.2f}"
            _mark_button(button, chosen=token == st["chosen"], removed=p == 0)
            button.tooltip = (_("force {token}: p {p:.3f} after warping, {q:.3f} under the model",
                                token=repr(visible(self.tokenizer.itos[token])), p=p,
                                q=float(st["probs_before"][token]))
                              + ("" if p > 0 else " " + _("(removed by the current settings)")))
        n = len(st["tokens"])
        self.undo_button.disabled = n == 0
        self.step_button.disabled = self.step10_button.disabled = n >= MAX_STEPS

    # ------------------------------------------------------------------ text panels

    def button_marks(self) -> list[str]:
        """How each candidate button is marked: ``"chosen"``, ``"removed"`` or ``""``."""
        return [getattr(b, "mark", "") for b in self.candidates]

    def _summary_html(self) -> str:
        st = self.state
        n = len(st["tokens"])
        if not n:
            return "<div style='font-family:monospace'>{}</div>".format(
                _("Nothing generated yet: press <b>step</b>, or click a candidate to force it."))
        chars = _("{n} characters", n=n) if n > 1 else _("{n} character", n=n)
        line = _("path {current} of {paths}: {chars}, log P = <b>{log_prob:.2f}</b> nats under the model, "
                 "{surprise:.3f} nats/char surprise (perplexity {perplexity:.2f})", current=self.current + 1,
                 paths=len(self.paths), chars=chars, log_prob=st["log_prob"], surprise=st["surprise"],
                 perplexity=st["perplexity"])
        return f"<div style='font-family:monospace'>{line}</div>"

    def _text_html(self) -> str:
        st = self.state
        prompt = self.prompt.value
        shown = ("\u2026" if len(prompt) > PROMPT_SHOWN else "") + prompt[-PROMPT_SHOWN:]
        spans = _path_spans(st, self.tokenizer)
        return (f"<div style='font-family:monospace;white-space:pre-wrap;line-height:1.5;max-height:150px;"
                f"overflow-y:auto;border:1px solid #ddd;padding:4px'><span style='color:#888'>"
                f"{html_escape(shown)}</span>{spans}</div>")

    def _step_html(self) -> str:
        st = self.state
        if st["chosen"] is None:
            line = _("step {view} (next): not chosen yet; {kept} of {V} tokens kept by {settings}",
                     view=st["view"], kept=st["kept"], V=self.V, settings=st["settings"].short())
            return f"<div style='font-family:monospace'>{line}</div>"
        ch = visible(self.tokenizer.itos[st["chosen"]])
        i = st["view"] - 1
        line = _("step {view}: <b>{token}</b> was {how} (with {settings}); under the model p {p:.3f}, rank "
                 "{rank}; the current settings keep {kept} of {V} here", view=st["view"], token=html_escape(ch),
                 how=_how(st["how"]), settings=st["chosen_with"].short(), p=math.exp(st["log_probs"][i]),
                 rank=st["ranks"][i], kept=st["kept"], V=self.V)
        return f"<div style='font-family:monospace'>{line}</div>"

    def _comparison_html(self) -> str:
        rows = []
        for i, (p, s) in enumerate(zip(self.paths, self.state["paths"])):
            mark = "\u25b8 " if i == self.current else ""
            numbers = (f"{s['log_prob']:.2f}", f"{s['surprise']:.3f}") if s["steps"] else ("", "")
            label = describe(p, self.tokenizer.itos)
            rows.append(f"<tr><td>{mark}{i + 1}</td><td>{html_escape(label)}</td><td>{s['steps']}</td>"
                        f"<td>{numbers[0]}</td><td>{numbers[1]}</td><td style='font-family:monospace;"
                        f"white-space:pre'>{_path_spans(_spans_state(p), self.tokenizer, tail=80)}</td></tr>")
        return ("<div style='max-height:96px;overflow-y:auto'>"  # a few rows in view; more scroll
                "<table style='border-collapse:collapse' cellpadding='2'><tr style='text-align:left'>"
                + "".join(f"<th>{h}</th>" for h in (_("path"), _("how"), _("chars"), "log P", _("nats/char"),
                                                   _("generated (last 80 characters)")))
                + "</tr>" + "".join(rows) + "</table></div>")

    def _show_message(self, message: str, keep_drawing: bool = False) -> None:
        self.state["message"] = message
        self.readout.value = message_html(message)
        if not keep_drawing and self.path is None:
            self.text.value = self.step_info.value = self.comparison.value = ""
            for b in self.candidates:
                b.token, b.description = None, ""
                _mark_button(b, chosen=False, removed=False)


def _mark_button(button: widgets.Button, chosen: bool, removed: bool) -> None:
    """The button's colours say the same as the chart: navy = chosen, struck-through grey = removed."""
    button.mark = "chosen" if chosen else ("removed" if removed else "")
    button.button_style = ""
    button.style.button_color = CHOSEN_COLOR if chosen else None
    button.style.text_color = "white" if chosen else (REMOVED_MARK_COLOR if removed else None)
    button.style.text_decoration = "line-through" if removed and not chosen else None


# ---------------------------------------------------------------------- numbers


def _path_numbers(path: GenerationPath, settings: Settings) -> dict[str, Any]:
    """Per-step log-probabilities, ranks and kept counts (with ``settings``) along ``path``."""
    steps = path.steps
    lp = [s.log_prob for s in steps]
    numbers = dict(log_probs=lp, ranks=[s.rank for s in steps], hows=[s.how for s in steps],
                   log_prob=float(sum(lp)), surprise=-sum(lp) / len(lp) if lp else math.nan,
                   perplexity=perplexity(lp), kept_per_step=np.zeros(0, dtype=np.int64))
    if steps:
        logits = torch.cat([s.logits for s in steps]).float().cpu()  # (n, V)
        numbers["kept_per_step"] = torch.isfinite(warp(logits, **settings.kwargs())).sum(-1).numpy()  # (n,)
    return numbers


def _candidate_order(before: torch.Tensor, after: torch.Tensor) -> list[int]:
    """Token ids, most probable after warping first; ties (and removed tokens) by the model's probability."""
    order = np.lexsort((-before.numpy(), -after.numpy()))
    return order.tolist()


def _with_chosen(ids: list[int], chosen: int | None) -> list[int]:
    """``ids``, with the last one replaced by ``chosen`` if it is not among them."""
    if chosen is None or chosen in ids:
        return list(ids)
    return list(ids[:-1]) + [chosen]


def _heights(collection: Any) -> np.ndarray:
    return np.array([p.vertices[:, 1].max() for p in collection.get_paths()])


def _nice_prob_limit(top: float) -> float:
    for limit in (0.1, 0.25, 0.5, 0.75):
        if top <= limit / 1.05:
            return limit
    return 1.05


def _nice_surprise_limit(top: float) -> float:
    for limit in (5.0, 10.0, 20.0):
        if top <= limit / 1.1:
            return limit
    return 10.0 * math.ceil(top * 1.1 / 10.0)


def _nice_steps(n: int) -> int:
    return max(50, 50 * math.ceil(n / 50))


def _slider_settings(temperature: Any, top_k: Any, top_p: Any, V: int) -> tuple[float, int, float, list[str]]:
    """Slider values for the given settings, and what was wrong with them (those fall back to off / 1.0)."""
    problems = []
    try:
        Settings(temperature, None, None)
        problem = temperature_problem(temperature)
        if problem:
            raise ValueError(problem)
    except (ValueError, TypeError) as err:
        problems.append(_("{problem}; using 1.0.", problem=err))
        temperature = 1.0
    try:
        Settings(1.0, top_k, None)
    except (ValueError, TypeError) as err:
        problems.append(_("{problem}; using off.", problem=err))
        top_k = None
    try:
        Settings(1.0, None, top_p)
        problem = top_p_problem(top_p)
        if problem:
            raise ValueError(problem)
    except (ValueError, TypeError) as err:
        problems.append(_("{problem}; using off.", problem=err))
        top_p = None
    k = 0 if top_k is None else min(int(top_k), V)  # k >= V keeps all, as the slider's V does
    return float(temperature), k, 1.0 if top_p is None else float(top_p), problems


def _seed_problem(seed: int) -> str:
    """Why ``seed`` cannot seed a generator, or ``""``."""
    if not 0 <= seed < 2 ** 63:
        return _("seed must be an int in [0, 2**63), got {seed}.", seed=seed)
    return ""


# ---------------------------------------------------------------------- paths as text


def describe(path: GenerationPath, itos: list[str]) -> str:
    """A short name for how ``path`` was made, e.g. ``sampled, τ 1.00, k off, p off, seed 0``, in the
    chosen language."""
    steps = path.steps
    if not steps:
        return _("empty (seed {seed})", seed=path.seed)
    forced = [i for i, s in enumerate(steps) if s.how == FORCED]
    chosen = [s for s in steps if s.how != FORCED]
    parts = []
    if forced:
        shown = separator(", ").join(_("{token} at {step}", token=visible(itos[steps[i].token]), step=i + 1)
                          for i in forced[:3])
        parts.append(_("forced {tokens}", tokens=shown)
                     + (" " + _("(+{n} more)", n=len(forced) - 3) if len(forced) > 3 else ""))
    hows = {s.how for s in chosen}
    settings = {s.settings for s in chosen}
    if hows == {GREEDY}:
        parts.append(_how(GREEDY))
    elif chosen:
        kind = _how(SAMPLED) if hows == {SAMPLED} else _("greedy and sampled")
        where = next(iter(settings)).short() if len(settings) == 1 else _("settings changed along the way")
        parts.append(_("{kind}, {settings}, seed {seed}", kind=kind, settings=where, seed=path.seed))
    return separator("; ").join(parts)


def summary(path: GenerationPath, tokenizer: Any) -> dict[str, Any]:
    """Label, length, text and log-probability of a path (for the comparison table and tests).

    The label is data a notebook may read ("greedy", "forced Z at 1"...): in English whatever the
    language; the table shows it translated (``describe``).
    """
    lp = path.log_probs()
    with language("en"):
        label = describe(path, tokenizer.itos)
    return {"label": label, "steps": len(lp),
            "generated": tokenizer.decode(path.tokens), "log_prob": float(sum(lp)),
            "surprise": -sum(lp) / len(lp) if lp else math.nan}


def _spans_state(path: GenerationPath) -> dict[str, Any]:
    """What :func:`_path_spans` needs, for a path other than the one shown."""
    steps = path.steps
    return {"tokens": [s.token for s in steps], "ranks": [s.rank for s in steps],
            "hows": [s.how for s in steps], "log_probs": [s.log_prob for s in steps], "view": None}


def _path_spans(st: dict[str, Any], tokenizer: Any, tail: int | None = None) -> str:
    """The generated characters as HTML: background = rank bucket, forced underlined, the step shown boxed."""
    tokens, ranks, hows, lps = st["tokens"], st["ranks"], st["hows"], st["log_probs"]
    first = 0 if tail is None else max(0, len(tokens) - tail)
    buckets = rank_bucket(np.asarray(ranks[first:], dtype=np.int64))
    parts = ["\u2026" if first else ""]
    for i, b in zip(range(first, len(tokens)), buckets):
        ch = tokenizer.itos[tokens[i]]
        shown = ("\u23ce" if tail else "\u23ce\n") if ch == "\n" else html_escape(ch)
        style = f"background:{RANK_BUCKETS[b][2]}"
        if hows[i] == FORCED:
            style += ";text-decoration:underline;font-weight:bold"
        if st.get("view") == i + 1:
            style += ";outline:2px solid #111"
        title = _("step {step}: {token} {how}, p {p:.3f}, rank {rank}", step=i + 1, token=visible(ch),
                  how=_how(hows[i]), p=math.exp(lps[i]), rank=ranks[i])
        parts.append(f"<span title='{html_escape(title)}' style='{style}'>{shown}</span>")
    return "".join(parts)


def generation_explorer(model: Any, tokenizer: Any, prompt: str = DEFAULT_PROMPT, temperature: float = 1.0,
                        top_k: int | None = None, top_p: float | None = None,
                        seed: int = 0) -> GenerationExplorer:
    """Build a :class:`GenerationExplorer`; the last expression of a cell displays it."""
    return GenerationExplorer(model, tokenizer, prompt=prompt, temperature=temperature, top_k=top_k,
                              top_p=top_p, seed=seed)
