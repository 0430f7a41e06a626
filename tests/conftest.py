"""Shared fixtures: a tiny seeded GPT, the corpus and its tokenizer, and the system Chromium.

Nothing here deselects tests. The browser fixtures skip when Chromium or
Playwright is missing, except in CI (``CI`` set), where they fail.
"""
from __future__ import annotations

import os
import shutil

import pytest
import torch

from glmlib.data import CharTokenizer, load_shakespeare
from glmlib.device import cpu_threads
from glmlib.model import GPT, GPTConfig

TINY = dict(vocab_size=13, block_size=16, n_layer=2, n_head=4, n_embd=32)


def build_gpt(seed: int = 0, **overrides) -> GPT:
    """A GPT of the tiny config (with ``overrides``) built under ``torch.manual_seed(seed)``, in eval mode."""
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **overrides})).eval()


@pytest.fixture
def tiny_config() -> GPTConfig:
    """Two layers, four heads, 32 channels, 13 tokens, a 16-token window."""
    return GPTConfig(**TINY)


@pytest.fixture
def tiny_gpt() -> GPT:
    """A freshly initialised tiny GPT (seed 0, eval mode)."""
    return build_gpt()


@pytest.fixture
def make_gpt():
    """Factory: ``make_gpt(seed=0, **config_overrides)`` -> a tiny GPT in eval mode."""
    return build_gpt


@pytest.fixture(scope="session")
def corpus() -> str:
    """The whole Shakespeare corpus as shipped (read once per session)."""
    return load_shakespeare()


@pytest.fixture(scope="session")
def tokenizer(corpus: str) -> CharTokenizer:
    """The character tokenizer of the corpus."""
    return CharTokenizer.from_text(corpus)


@pytest.fixture(scope="session")
def tok() -> CharTokenizer:
    """The widget tests' 13-character tokenizer (the vocabulary of their tiny GPTs)."""
    return CharTokenizer(list("\n abdehilmnos"))


@pytest.fixture(scope="session")
def shipped():
    """The shipped trained model and its tokenizer (loaded once)."""
    from glmlib.model import load_pretrained
    return load_pretrained()


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread (two threads waiting on a busy host can be 100x slower)."""
    with cpu_threads(1):
        yield


@pytest.fixture
def no_figure_leaks():
    """A widget must not leave pyplot figures behind."""
    import matplotlib.pyplot as plt
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


def missing(reason: str) -> None:
    """Skip for want of a tool, or fail when CI is set (CI must run every test)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the system Chromium (never a browser downloaded by Playwright)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    missing("Chromium is not installed; install the Debian package: apt-get install -y chromium")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def sync_playwright_cls():
    """Playwright's ``sync_playwright``, which drives the system Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the Python package playwright is not installed (pip install -r requirements-test.txt)")
    return sync_playwright


# headless, and quiet: without the networking flags Chromium keeps calling hosts this sandbox cannot reach
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser(chromium, sync_playwright_cls):
    """The system Chromium, headless, driven by Playwright (one per test module)."""
    with sync_playwright_cls() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def language(monkeypatch):
    """``glmlib.set_language`` for one test; the language chosen before comes back afterwards."""
    import glmlib
    from glmlib import i18n

    monkeypatch.setattr(i18n, "_chosen", i18n._chosen)
    return glmlib.set_language
