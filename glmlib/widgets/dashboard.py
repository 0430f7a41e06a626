"""The live training dashboard (notebook 06): a ``glmlib.train`` callback that
draws the loss curves, a progress bar and the latest sample while training runs.
"""
from __future__ import annotations

import math
import time
from numbers import Real
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter

from ..i18n import _
from ._checks import is_whole
from ._render import N_, Explorer, FigureImage, Q_, html_escape, image_widget


class TrainingDashboard(Explorer):
    """Use as ``train(cfg, callbacks=[dash])``; show it with ``display(dash)``.

    It is called as ``dash(event, state)``: ``"step"`` events carry ``step,
    loss, lr, max_iters`` and ``seconds``; ``"eval"`` events carry ``step,
    train, val, sample, seconds``. ``seconds`` is the run's training clock
    (``glmlib.train`` counts the time spent in steps, the same clock as
    ``TrainResult.seconds``). The status line (step, loss, learning rate,
    clock) follows every step; the picture is redrawn at most every
    ``min_interval`` seconds on steps, and always on evaluations, so drawing
    costs little training time. It works the same when never displayed.

    ``history`` keeps every number fed: ``step``, ``loss``, ``lr``,
    ``seconds`` (one entry per step; ``nan`` when a step carried no clock)
    and ``eval`` (the evaluation dicts, as in ``TrainResult.history``).
    ``state`` holds the curves as last drawn (``loss_curve``, ``train_curve``,
    ``val_curve``: ``(x, y)`` arrays) and ``redraws``.
    """

    def __init__(self, max_iters: int | None = None, min_interval: float = 0.5) -> None:
        if max_iters is not None and (not is_whole(max_iters) or max_iters < 1):
            raise ValueError(f"max_iters must be a positive int or None, got {max_iters!r}")
        if isinstance(min_interval, bool) or not isinstance(min_interval, Real) or not min_interval >= 0:
            raise ValueError(f"min_interval must be a number of seconds >= 0, got {min_interval!r}")
        self.max_iters = None if max_iters is None else int(max_iters)
        self.min_interval = float(min_interval)
        self.history: dict[str, list] = {"step": [], "loss": [], "lr": [], "seconds": [], "eval": []}
        self.state: dict[str, Any] = {"redraws": 0}
        self.progress = widgets.IntProgress(value=0, min=0, max=self.max_iters or 1,
                                            description=Q_(N_("progress bar|step")), bar_style="info",
                                            layout=widgets.Layout(width="420px"))
        self.status = widgets.HTML("<span style='font-family:monospace'>{}</span>".format(
            _("waiting for the first step")))
        self.sample = widgets.HTML()
        self.image = image_widget()
        self.widget = widgets.VBox([widgets.HBox([self.progress, self.status]), self.image, self.sample])
        self.widget.add_class("glm-training-dashboard")
        self._fig = FigureImage((10.0, 3.9))
        self._last_draw = -math.inf
        self._build()  # sets the axis limits (_x_max, _y_max)
        self.image.value = self._fig.render()

    # ------------------------------------------------------------------ callback

    def __call__(self, event: str, state: dict) -> None:
        if not isinstance(event, str):
            raise TypeError(f"event must be a str such as 'step' or 'eval', got {event!r}")
        if event == "step":
            self._on_step(state)
        elif event == "eval":
            self._on_eval(state)

    def _on_step(self, state: dict) -> None:
        step, loss = int(state["step"]), float(state["loss"])
        self.history["step"].append(step)
        self.history["loss"].append(loss)
        self.history["lr"].append(float(state.get("lr", math.nan)))
        self.history["seconds"].append(float(state.get("seconds", math.nan)))
        if self.max_iters is None and state.get("max_iters"):
            self.max_iters = int(state["max_iters"])
        total = self.max_iters or max(step + 1, 1)
        self.progress.max = total
        self.progress.value = min(step + 1, total)
        if time.perf_counter() - self._last_draw >= self.min_interval:
            self.redraw()
        else:
            self._show_status()

    def _on_eval(self, state: dict) -> None:
        entry = dict(state)
        self.history["eval"].append(entry)
        if self.max_iters is not None and entry.get("step") == self.max_iters:
            self.progress.value = self.progress.max
            self.progress.bar_style = "success"
        sample = str(entry.get("sample", ""))
        self.sample.value = (
            f"<div style='font-family:monospace;white-space:pre-wrap;max-height:12em;overflow:auto;"
            f"border-left:3px solid #ccc;padding-left:6px'><small>{_('sample at step {step}:', step=entry.get('step'))}"
            f"</small>\n{html_escape(sample)}</div>")
        self.redraw()
        if self.max_iters is not None and entry.get("step") == self.max_iters:
            self.refresh_picture()  # a saved notebook keeps the finished curves, not the empty start

    # ------------------------------------------------------------------ drawing

    def _build(self) -> None:
        fig = self._fig.figure
        fig.subplots_adjust(left=0.07, right=0.98, top=0.88, bottom=0.14, wspace=0.3)
        ax, ax_lr = fig.subplots(1, 2, width_ratios=[3.2, 1])
        self._ax, self._ax_lr = ax, ax_lr
        (self._lr_line,) = ax_lr.plot([], [], color="#2ca02c", lw=1.2)
        ax_lr.set_xlabel("step")
        ax_lr.set_ylabel("learning rate")
        ax_lr.set_title("Learning rate")
        ax_lr.grid(alpha=0.3)
        ax_lr.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        (self._loss_line,) = ax.plot([], [], color="#9ecae1", lw=0.8, label="batch loss")
        (self._train_line,) = ax.plot([], [], "o-", color="#1f77b4", ms=4, label="train (estimate)")
        (self._val_line,) = ax.plot([], [], "s-", color="#ff7f0e", ms=4, label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/character)")
        ax.set_title("Training loss")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=9)
        self._lr_seen = False
        self._set_limits(1, 1.0, 1.0)
        self._fig.dynamic(self._loss_line, self._train_line, self._val_line, self._lr_line, ax.title)

    def _set_limits(self, x_max: int, y_max: float, lr_max: float) -> None:
        """Axis limits change rarely (doubling), so most redraws reuse the cached axes."""
        self._x_max, self._y_max, self._lr_max = x_max, y_max, lr_max
        self._ax.set_xlim(0, x_max)
        self._ax.set_ylim(0, y_max)
        self._ax_lr.set_xlim(0, x_max)
        self._ax_lr.set_ylim(0, lr_max)
        self._fig.invalidate()

    def redraw(self) -> None:
        """Draw the curves from ``history`` now."""
        h = self.history
        evals = h["eval"]
        loss_xy = (np.asarray(h["step"], dtype=float), np.asarray(h["loss"], dtype=float))
        train_xy = (np.array([e["step"] for e in evals], dtype=float),
                    np.array([e["train"] for e in evals], dtype=float))
        val_xy = (np.array([e["step"] for e in evals], dtype=float),
                  np.array([e["val"] for e in evals], dtype=float))
        self._loss_line.set_data(*loss_xy)
        self._train_line.set_data(*train_xy)
        self._val_line.set_data(*val_xy)
        lrs = np.asarray(h["lr"], dtype=float)
        self._lr_line.set_data(loss_xy[0], lrs)
        last_x = max([0.0, *loss_xy[0][-1:], *train_xy[0][-1:]])
        x_max = self.max_iters or self._x_max
        while x_max < last_x:
            x_max = max(1, x_max * 2)
        values = np.concatenate([loss_xy[1], train_xy[1], val_xy[1]])
        values = values[np.isfinite(values)]
        y_max = self._y_max
        if values.size and values.max() > y_max:
            y_max = float(np.ceil(values.max() * 1.1 * 2) / 2)  # a round top, in half nats
        lr_max = self._lr_max
        finite_lr = lrs[np.isfinite(lrs)]
        if finite_lr.size and (finite_lr.max() * 1.05 > lr_max or not self._lr_seen):
            lr_max = _nice_ceiling(float(finite_lr.max()) * 1.05)
            self._lr_seen = True
        if (x_max, y_max, lr_max) != (self._x_max, self._y_max, self._lr_max):
            self._set_limits(int(x_max), y_max, lr_max)
        title = "Training loss"
        if h["step"]:
            title += f": step {h['step'][-1]}, batch loss {h['loss'][-1]:.3f}"
        if evals:
            title += f", val {evals[-1]['val']:.3f} (step {evals[-1]['step']})"
        self._ax.title.set_text(title)
        self.image.value = self._fig.render()
        self._last_draw = time.perf_counter()
        self.state.update(loss_curve=loss_xy, train_curve=train_xy, val_curve=val_xy,
                          lr_curve=(loss_xy[0], lrs),
                          redraws=self.state["redraws"] + 1)
        self._show_status()

    def clock(self) -> float | None:
        """The training clock's latest reading, seconds (the last step's or evaluation's, whichever is later)."""
        h = self.history
        readings = [(h["step"][-1] + 1, h["seconds"][-1])] if h["step"] else []
        readings += [(e["step"], float(e["seconds"])) for e in h["eval"][-1:] if "seconds" in e]
        readings = [(step, secs) for step, secs in readings if math.isfinite(secs)]
        return max(readings)[1] if readings else None

    def _show_status(self) -> None:
        """The status line: step, batch loss, learning rate and the training clock."""
        h = self.history
        if not h["step"] and not h["eval"]:
            return
        secs = self.clock()
        done = h["step"][-1] + 1 if h["step"] else h["eval"][-1].get("step", 0)
        parts = [_("step {done}/{total}", done=done, total=self.max_iters or "?")]
        if h["step"]:
            parts += [_("loss {loss:.3f}", loss=h["loss"][-1]), _("lr {lr:.2e}", lr=h["lr"][-1])]
        if secs is not None:
            parts.append(f"{secs:.1f} s")
        text = " &middot; ".join(parts)
        self.state["status"] = text.replace(" &middot;", ",")
        self.status.value = f"<span style='font-family:monospace'>{text}</span>"


def _nice_ceiling(x: float) -> float:
    """The smallest round number (1, 1.5, 2, 3, 5 or 7.5 times a power of ten) >= ``x``."""
    if not x > 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(x))
    return next(m * power for m in (1, 1.5, 2, 3, 5, 7.5, 10) if m * power >= x)
