"""The trainer's optional faster steps (SplitBatch, torch.compile) compute what the plain step does."""
from __future__ import annotations

import threading

import pytest
import torch

from glmlib.model import GPT, GPTConfig
from glmlib.train import SplitBatch, TrainConfig, preset, split_batch_threads, train

STEPS = 20


@pytest.fixture(scope="module")
def text(corpus: str) -> str:
    return corpus[:200_000]


def step_losses(cfg: TrainConfig, text: str) -> tuple[list[float], GPT]:
    losses: list[float] = []
    result = train(cfg, callbacks=[lambda e, s: losses.append(s["loss"]) if e == "step" else None], text=text)
    return losses, result.model


def small(**overrides) -> TrainConfig:
    """The benchmark's configuration (4 layers, 4 heads, 128 channels, context 64, batch 12), 20 steps, 2 threads."""
    return preset("small", **{"max_iters": STEPS, "eval_interval": STEPS, "eval_iters": 1, "sample_chars": 0,
                              "device": "cpu", "threads": 2, **overrides})


@pytest.mark.slow
def test_split_batch_matches_the_plain_step_for_20_steps(text: str) -> None:
    plain, plain_model = step_losses(small(split_batch=False), text)
    split, split_model = step_losses(small(split_batch=True), text)
    assert len(plain) == len(split) == STEPS
    assert max(abs(a - b) for a, b in zip(plain, split)) < 1e-5, (plain, split)
    assert split[-1] < split[0] - 0.5  # it trains
    for (name, a), b in zip(plain_model.named_parameters(), split_model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=name)


@pytest.mark.slow
def test_the_compiled_step_matches_the_plain_step_for_20_steps(text: str) -> None:
    """``compile=True`` (torch.compile, tried as a faster step: README, Performance) trains the same way."""
    plain, plain_model = step_losses(small(threads=1), text)
    compiled, compiled_model = step_losses(small(threads=1, compile=True), text)
    assert len(plain) == len(compiled) == STEPS
    assert max(abs(a - b) for a, b in zip(plain, compiled)) < 1e-5, (plain, compiled)
    assert compiled[-1] < compiled[0] - 0.5  # it trains
    for (name, a), b in zip(plain_model.named_parameters(), compiled_model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=name)


def test_split_batch_is_deterministic(text: str) -> None:
    cfg = small(max_iters=4, eval_interval=4, n_layer=2, split_batch=True)
    first, a = step_losses(cfg, text)
    second, b = step_losses(cfg, text)
    assert first == second
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("batch, slices", [(8, 2), (5, 2), (7, 3)])  # even and uneven slices
def test_split_batch_gradients_match_one_backward_pass(batch: int, slices: int) -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=16, n_layer=2, n_head=4, n_embd=32)).train()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randint(13, (batch, 16), generator=g), torch.randint(13, (batch, 16), generator=g)
    _, loss = model(x, y)
    loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    split = SplitBatch(model, slices)
    try:
        split_loss = split(x, y)
    finally:
        split.close()
    torch.testing.assert_close(split_loss, loss.detach(), atol=1e-6, rtol=1e-6)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], atol=1e-6, rtol=1e-5, msg=name)


def test_split_batch_applies_only_where_it_can() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    asked = lambda **kw: TrainConfig(split_batch=True, **kw)  # noqa: E731
    previous = torch.get_num_threads()
    torch.set_num_threads(8)
    try:
        assert split_batch_threads(TrainConfig(threads=2), cpu, world=1) == 2  # on by default
        assert split_batch_threads(preset("notebook", threads=2), cpu, world=1) == 2
        assert split_batch_threads(preset("small", threads=2), cpu, world=1) == 2
        assert split_batch_threads(preset("shipped", threads=2), cpu, world=1) == 1  # as the shipped model was trained
        assert split_batch_threads(TrainConfig(threads=2, split_batch=False), cpu, world=1) == 1
        assert split_batch_threads(asked(threads=8), cpu, world=1) == 4  # MAX_SLICES
        assert split_batch_threads(asked(threads=2), cpu, world=1) == 2
        assert split_batch_threads(asked(), cpu, world=1) == 4  # PyTorch's thread count, at most MAX_SLICES
        assert split_batch_threads(asked(batch_size=3), cpu, world=1) == 3  # never more slices than rows
        assert split_batch_threads(asked(dropout=0.1), cpu, world=1) == 1  # shared random state
        assert split_batch_threads(asked(compile=True), cpu, world=1) == 1
        assert split_batch_threads(asked(), cpu, world=2) == 1  # DDP splits the batch already
        assert split_batch_threads(asked(), cuda, world=1) == 1
    finally:
        torch.set_num_threads(previous)
    with pytest.raises(ValueError, match="dropout=0"):
        SplitBatch(GPT(GPTConfig(dropout=0.1)), 2)
    with pytest.raises(ValueError, match="n >= 2"):
        SplitBatch(GPT(GPTConfig()), 1)


def test_a_split_run_leaves_the_thread_settings_as_they_were(text: str) -> None:
    before = torch.get_num_threads()
    train(small(max_iters=2, eval_interval=2, n_layer=1, threads=None, split_batch=True), text=text)
    assert torch.get_num_threads() == before
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))  # a new thread's default
    worker.start()
    worker.join()
    assert seen == [before]


@pytest.mark.parametrize("split", [True, False])
def test_a_split_step_does_its_own_work_on_one_thread(text: str, monkeypatch, split: bool) -> None:
    """With the batch split, clipping and AdamW run on one thread (a second one would spin
    where the slices run); callbacks and evaluation keep the run's thread count."""
    inside, callbacks = [], []
    clip = torch.nn.utils.clip_grad_norm_

    def watched_clip(*args, **kwargs):
        inside.append(torch.get_num_threads())
        return clip(*args, **kwargs)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", watched_clip)
    train(small(max_iters=3, eval_interval=3, n_layer=1, split_batch=split),
          callbacks=[lambda event, state: callbacks.append((event, torch.get_num_threads()))], text=text)
    assert inside == ([1, 1, 1] if split else [2, 2, 2])
    assert callbacks == [("eval", 2), ("step", 2), ("step", 2), ("step", 2), ("eval", 2)]


def test_the_command_line_turns_the_split_on_and_off(tmp_path) -> None:
    from glmlib.train import _config_from_args, _parser

    def parsed(*argv: str) -> bool:
        return _config_from_args(_parser(), list(argv)).split_batch

    out = ["--out", str(tmp_path / "run")]
    assert parsed() is True and parsed("--preset", "notebook") is True
    assert parsed("--no-split-batch") is False
    assert parsed("--preset", "shipped", *out) is False  # the path the shipped weights were trained on
    assert parsed("--preset", "shipped", "--split-batch", *out) is True
