"""A :class:`FigureImage` that keeps one cached background per axis layout.

The explorers fit their axes to what is drawn, choosing among a few fixed
limits. Each choice has its own static background (axes, ticks, labels);
keeping them all makes a return to an earlier choice a repaint, not a full draw.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable

from ._render import FigureImage


class LayoutFigure(FigureImage):
    """Call :meth:`layout` with a key and a function that sets the axes for it, before :meth:`render`."""

    def __init__(self, figsize: tuple[float, float], max_layouts: int = 16) -> None:
        super().__init__(figsize)
        self._layouts: dict[Hashable, Any] = {}
        self._key: Hashable = None
        self._max_layouts = max_layouts

    def layout(self, key: Hashable, apply: Callable[[Hashable], None]) -> None:
        """Switch to the layout ``key``; ``apply(key)`` sets its limits (run only when the key changes)."""
        if key == self._key:
            return
        if self._background is not None and len(self._layouts) < self._max_layouts:
            self._layouts[self._key] = self._background
        apply(key)
        self._key = key
        self._background = self._layouts.get(key)

    def invalidate(self) -> None:
        """Something static changed for every layout: forget all cached backgrounds."""
        self._layouts.clear()
        super().invalidate()
