"""Every explorer fits a 1366x768 laptop screen in JupyterLab (headless Chromium).

One notebook builds all seven explorers on the shipped model (the training
dashboard watches a short real run). JupyterLab opens it in a 1366x768
window at the default zoom; each explorer's rendered height must stay under
``MAX_HEIGHT`` so a learner sees a control and the picture it drives at once.

``GLM_SCREENSHOTS=1`` also rewrites the README's pictures in
``docs/screenshots/`` (small palette PNGs); without it the test only checks
heights, so CI never rewrites tracked files. Without Chromium the test is
skipped, unless ``CI`` is set, in which case it fails.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from test_browser import ROOT, SHOTS, lab, open_and_run_all, settle  # noqa: F401

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1366, "height": 768}
MAX_HEIGHT = 700  # px: what is left of 768 under the browser's and JupyterLab's bars
README_SHOTS = ROOT / "docs" / "screenshots"

# CSS class -> screenshot name, in the order the notebook shows them
EXPLORERS = {
    "glm-chain-rule-view": "chain_rule",
    "glm-mask-explorer": "mask_explorer",
    "glm-attention-explorer": "attention_explorer",
    "glm-training-dashboard": "training_dashboard",
    "glm-sampling-explorer": "sampling_explorer",
    "glm-generation-explorer": "generation_explorer",
    "glm-surprise-view": "surprise_view",
}

CELLS = [
    "from glmlib.model import load_pretrained\n"
    "from glmlib.train import preset, train\n"
    "from glmlib.widgets import (TrainingDashboard, attention_explorer, chain_rule_view, "
    "generation_explorer,\n    mask_explorer, sampling_explorer, surprise_view)\n"
    "model, tokenizer = load_pretrained()",
    'chain_rule_view(model, tokenizer, "\\nBut soft, what light through yonder window breaks?")',
    'mask_explorer(T=8, lengths="8, 5")',
    'attention_explorer(model, tokenizer, text="ROMEO:\\nBut soft, what light?\\n\\nJULIET:\\nAy me!", query=22)',
    'cfg = preset("notebook", max_iters=60, eval_interval=20, sample_chars=80)\n'
    "dash = TrainingDashboard(max_iters=cfg.max_iters)\n"
    "display(dash)\n"
    "result = train(cfg, callbacks=[dash])",
    "sampling_explorer(model, tokenizer, temperature=0.8)",
    "gx = generation_explorer(model, tokenizer, prompt=\"ROMEO:\\n\", temperature=0.8, top_k=20, seed=7)\n"
    "gx.step(12)\n"
    "gx.add_greedy_path()\n"
    "gx",
    'surprise_view(model, tokenizer, text="ROMEO:\\nBut soft, what light through yonder window breaks?\\n'
    'It is the east, and Juliet is the sun.\\n")',
]


def write_notebook(root: Path, language: str = "en") -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    first = [f'import glmlib\nglmlib.set_language("{language}")'] if language != "en" else []
    nb.cells = [nbformat.v4.new_code_cell(source) for source in first + CELLS]
    name = "laptop_explorers.ipynb" if language == "en" else f"laptop_explorers_{language}.ipynb"
    nbformat.write(nb, root / name)
    return name


def save_small_png(png: bytes, path: Path) -> int:
    """``png`` as an optimised palette PNG of 256 colours (enough to keep faint attention weights and
    thin lines' colours); returns its size in bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                           dither=Image.Dither.NONE)
    path.parent.mkdir(parents=True, exist_ok=True)
    small.save(path, format="PNG", optimize=True)
    return path.stat().st_size


def measure(page) -> dict[str, tuple[int, str]]:
    """Each explorer's rendered height at 1366x768 and its visible text."""
    found = {}
    for css, shot_name in EXPLORERS.items():
        explorer = page.locator(f".{css}").first
        explorer.scroll_into_view_if_needed()
        settle(page, explorer)
        box = explorer.bounding_box()
        assert box is not None, f"{css} is not shown"
        found[shot_name] = (round(box["height"]), explorer.inner_text())
    return found


def screenshots(page, prefix: str) -> dict[str, bytes]:
    """Each explorer's picture, at the same width (the same layout) and taller: no toolbar over a picture."""
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1100})
    shots = {}
    for css, shot_name in EXPLORERS.items():
        explorer = page.locator(f".{css}").first
        explorer.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        shots[shot_name] = explorer.screenshot(timeout=30_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{prefix}{shot_name}.png").write_bytes(shots[shot_name])
    return shots


def test_every_explorer_fits_a_laptop_screen(browser, lab):
    name = write_notebook(lab.root)
    context, page, _, external = open_and_run_all(browser, lab, name, "glm-surprise-view", viewport=VIEWPORT)
    try:
        heights = {shot: height for shot, (height, _) in measure(page).items()}
        print("heights at 1366x768:", heights)
        for shot_name, png in screenshots(page, "laptop_").items():
            if os.environ.get("GLM_SCREENSHOTS"):
                save_small_png(png, README_SHOTS / f"{shot_name}.png")
        problems = [f"{shot}: {h} px tall" for shot, h in heights.items() if h > MAX_HEIGHT]
        assert not problems, f"taller than {MAX_HEIGHT} px at 1366x768: {problems} (all: {heights})"
        assert not external, f"the page tried to reach the network: {external[:5]}"
    finally:
        context.close()


def test_every_explorer_fits_a_laptop_screen_in_chinese(browser, lab):
    """The Chinese edition's explorers (glmlib.set_language("zh-CN")): Chinese labels in the page, the
    same height limit, nothing reaching the network."""
    import re

    name = write_notebook(lab.root, "zh-CN")
    context, page, _, external = open_and_run_all(browser, lab, name, "glm-surprise-view", viewport=VIEWPORT)
    try:
        found = measure(page)
        for shot_name, (_, text) in found.items():
            assert re.search(r"[\u4e00-\u9fff]", text), f"{shot_name} shows no Chinese: {text[:200]!r}"
        screenshots(page, "laptop_zh_")
        problems = [f"{shot}: {h} px tall" for shot, (h, _) in found.items() if h > MAX_HEIGHT]
        assert not problems, f"taller than {MAX_HEIGHT} px at 1366x768 in Chinese: {problems}"
        assert not external, f"the page tried to reach the network: {external[:5]}"
    finally:
        context.close()
