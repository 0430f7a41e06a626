"""The generation explorer (notebook 07) and the surprise view (notebook 08) in a real browser.

Same machinery as tests/test_browser.py: the course notebook is copied into a
temporary JupyterLab root, run with Run All Cells, and the explorer is found
by its CSS class and driven with the mouse and keyboard. Without Chromium the
tests are skipped, unless ``CI`` is set, in which case they fail.
"""
from __future__ import annotations

import re
import time

import pytest
from test_browser import (NOTEBOOKS, REDRAW_S, image_loaded, image_src,  # noqa: F401
                          install_notebook, lab, open_and_run_all, settle, shot, wait_for_new_image)

pytestmark = pytest.mark.browser

SHOWN = {"\u23ce": "\n", "\u2423": " "}  # the buttons' stand-ins for invisible characters


def wait_for_text_change(page, locator, old: str) -> str:
    deadline = time.monotonic() + REDRAW_S
    while time.monotonic() < deadline:
        now = locator.inner_text()
        if now != old:
            return now
        page.wait_for_timeout(200)
    raise AssertionError(f"the text did not change within {REDRAW_S} s")


def perplexity_shown(view) -> float:
    match = re.search(r"perplexity ([0-9.]+)", view.inner_text())
    assert match, f"no perplexity in the view: {view.inner_text()[:300]!r}"
    return float(match.group(1))


def test_clicking_a_candidate_adds_that_character(browser, lab):
    notebook = install_notebook(NOTEBOOKS / "07_generation_and_sampling", lab)
    context, page, ex, external = open_and_run_all(browser, lab, notebook, "glm-generation-explorer")
    try:
        shot(ex, "generation_explorer_before.png")
        text = ex.locator(".glm-generated-text")
        before = text.inner_text()
        assert before.rstrip("\n").endswith("ROMEO:")
        # a candidate that is a visible character, so the text shows it as itself
        buttons = ex.locator(".glm-candidate")
        labels = [buttons.nth(i).inner_text().strip() for i in range(buttons.count())]
        index = next(i for i, label in enumerate(labels) if label and label.split()[0] not in SHOWN)
        char = labels[index].split()[0]
        src = image_src(ex)
        buttons.nth(index).click()
        after = wait_for_text_change(page, text, before)
        assert after == before + char, f"clicked {char!r}: text went from {before!r} to {after!r}"
        wait_for_new_image(page, ex, src)
        settle(page, ex)
        assert "forced" in ex.inner_text()  # the step and the path say how the character came
        shot(ex, "generation_explorer_after_click.png")
        # the step button adds exactly one more character
        ex.locator(".glm-step").click()
        grown = wait_for_text_change(page, text, after)
        assert len(grown.replace("\u23ce", "")) == len(after.replace("\u23ce", "")) + 1
        settle(page, ex)
        assert image_loaded(ex)
        assert not external, f"the page tried to reach the network: {external[:5]}"
    finally:
        context.close()


def test_surprise_view_shows_the_position_chosen(browser, lab):
    notebook = install_notebook(NOTEBOOKS / "08_inside_the_model", lab)
    context, page, view, external = open_and_run_all(browser, lab, notebook, "glm-surprise-view")
    try:
        colored = view.locator(".glm-surprise-text")
        assert colored.locator("span").count() > 400  # one coloured span per character of the 500
        assert perplexity_shown(view) < 10  # real Shakespeare: the model is rarely very surprised
        src = settle(page, view)
        slider = view.locator(".widget-slider").filter(has_text="position").first
        slider.locator(".noUi-handle").first.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        wait_for_new_image(page, view, src)
        settle(page, view)
        value = int(slider.locator(".widget-readout").inner_text())
        assert value > 1 and f"position {value}:" in view.inner_text()
        shot(view, "surprise_view_position.png")
        view.locator("select").first.select_option(label="real, characters shuffled")
        wait_for_text_change(page, colored, colored.inner_text())
        settle(page, view)
        assert perplexity_shown(view) > 100  # the same characters in no order: the model is lost
        assert image_loaded(view)
        shot(view, "surprise_view_shuffled.png")
        assert not external, f"the page tried to reach the network: {external[:5]}"
    finally:
        context.close()
