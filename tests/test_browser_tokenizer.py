"""The tokenizer explorer (notebook 09) in a real browser: JupyterLab driven by headless Chromium.

Same machinery as tests/test_browser.py: a one-cell notebook is written into a
temporary JupyterLab root, run with Run All Cells in a 1366x768 window, and
the explorer is found by its CSS class. The test drags the merges slider and
checks that the token count (in the readout, and as chips on the page)
changes, and that the explorer fits a laptop screen as every explorer must
(tests/test_browser_laptop.py). ``GLM_SCREENSHOTS=1`` also rewrites its picture
in ``docs/screenshots/``. Without Chromium the test is skipped, unless ``CI``
is set, in which case it fails.
"""
from __future__ import annotations

import os
import re

import pytest
from test_browser import (SHOTS, drag_slider, image_loaded, image_src, lab, open_and_run_all,  # noqa: F401
                          settle, wait_for_new_image)
from test_browser_laptop import MAX_HEIGHT, README_SHOTS, VIEWPORT, save_small_png

pytestmark = pytest.mark.browser

CELLS = ["from glmlib.widgets import tokenizer_explorer\n"
         "tokenizer_explorer(example=\"Shakespeare\", merges=128)"]


def write_notebook(root) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    name = "tokenizer_explorer.ipynb"
    nbformat.write(nb, root / name)
    return name


def examples_text() -> str:
    from glmlib.widgets.tokenizer_explorer import examples

    return examples()["Shakespeare"]


def tokens_in_readout(ex) -> int:
    text = ex.inner_text()
    match = re.search(r"([0-9,]+) tokens,", text)
    assert match, f"no token count in the explorer: {text[:300]!r}"
    return int(match.group(1).replace(",", ""))


def test_moving_the_merges_slider_changes_the_token_count(browser, lab):
    name = write_notebook(lab.root)
    context, page, ex, external = open_and_run_all(browser, lab, name, "glm-tokenizer-explorer", viewport=VIEWPORT)
    try:
        src = settle(page, ex)
        box = ex.bounding_box()
        assert box is not None and box["height"] <= MAX_HEIGHT, \
            f"the tokenizer explorer is {box and round(box['height'])} px tall at 1366x768, over {MAX_HEIGHT}"
        # the picture for the README and the website, as it opened: in a taller window at the same
        # width (the same layout), so no toolbar covers it
        page.set_viewport_size({"width": VIEWPORT["width"], "height": 1100})
        ex.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        png = ex.screenshot(timeout=30_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "laptop_tokenizer_explorer.png").write_bytes(png)
        if os.environ.get("GLM_SCREENSHOTS"):
            save_small_png(png, README_SHOTS / "tokenizer_explorer.png")
        before = tokens_in_readout(ex)
        assert ex.locator(".glm-token").count() == before  # one chip per token
        assert "128 of 256 merges" in ex.inner_text()
        slider = ex.locator(".widget-slider").filter(has_text="merges").first
        drag_slider(page, slider, 0.05)  # towards 0 merges: more, shorter tokens
        wait_for_new_image(page, ex, src)
        src = settle(page, ex)
        merges = int(slider.locator(".widget-readout").inner_text())
        after = tokens_in_readout(ex)
        assert merges < 128 and after > before, f"{merges} merges: {after} tokens (128 merges: {before})"
        assert ex.locator(".glm-token").count() == after
        assert f"{merges} of 256 merges" in ex.inner_text() and image_loaded(ex)
        ex.screenshot(path=str(SHOTS / "tokenizer_explorer_fewer_merges.png"), timeout=30_000)
        # the character tokenizer: one token per character
        characters = len(examples_text())
        ex.locator("button", has_text="characters").first.click()
        wait_for_new_image(page, ex, src)
        settle(page, ex)
        assert "Tokenizer: characters" in ex.inner_text()
        assert tokens_in_readout(ex) == characters == ex.locator(".glm-token").count()
        assert image_src(ex)
        assert not external, f"the page tried to reach the network: {external[:5]}"
    finally:
        context.close()
