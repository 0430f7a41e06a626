"""What the explorers accept, shared so they all accept the same things.

Whole numbers are ``numbers.Integral`` (a Python ``int`` or a NumPy integer, never
``bool``), as ``glmlib.sampling`` takes ``top_k``; they are handed to the controls
as plain ``int``. The explorers' sliders show temperatures with two decimals, so
their range is 0 (greedy) or 0.01 to 2: a smaller temperature would read ``0.00``,
look greedy, and overflow the logits (``logits / 1e-45`` is ``inf`` in float32).
"""
from __future__ import annotations

from numbers import Integral
from typing import Any

from ..i18n import _

TEMPERATURE_MIN, TEMPERATURE_MAX = 0.01, 2.0  # besides 0, which means greedy
TOP_P_MIN = 0.01  # the top-p slider's lowest value (1.0 means off)


def is_whole(value: Any) -> bool:
    """``value`` is an int or a NumPy integer (not a bool)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def temperature_problem(temperature: float) -> str:
    """Why an explorer cannot use a temperature ``glmlib.sampling`` accepted, or ``""``."""
    if temperature == 0 or TEMPERATURE_MIN <= temperature <= TEMPERATURE_MAX:
        return ""
    return _("temperature must be 0 (greedy) or from {low} up to {high:g} in the explorer, got {got}",
             low=TEMPERATURE_MIN, high=TEMPERATURE_MAX, got=repr(temperature))


def top_p_problem(top_p: float | None) -> str:
    """Why an explorer cannot use a top_p ``glmlib.sampling`` accepted, or ``""``."""
    if top_p is None or top_p >= TOP_P_MIN:
        return ""
    return _("top_p must be from {low} to 1 in the explorer (1 or None = off), got {got}",
             low=TOP_P_MIN, got=repr(top_p))
