"""Generation: the KV cache changes nothing but speed, also far beyond the context window."""
from __future__ import annotations

import pytest
import torch

import glmlib.model
from glmlib.attention import KVCache
from glmlib.model import GPT, window_start

BLOCK = 8


def reference_window_starts(n: int, block_size: int) -> list[int]:
    """The rule as a simulation: once the window overflows, restart it from the last ``block_size // 2`` tokens."""
    keep, start, out = max(1, block_size // 2), 0, []
    for length in range(1, n + 1):
        if length - start > block_size:
            start = length - keep
        out.append(start)
    return out


@pytest.mark.parametrize("block_size", [1, 2, 3, 8, 9, 16])
def test_window_start_follows_the_restart_rule(block_size: int) -> None:
    n = 6 * block_size + 5
    ours = [window_start(length, block_size) for length in range(1, n + 1)]
    assert ours == reference_window_starts(n, block_size)
    for length, start in zip(range(1, n + 1), ours):
        assert 1 <= length - start <= block_size


def prompt(B: int = 2, T: int = 3, V: int = 13, seed: int = 0) -> torch.Tensor:
    return torch.randint(V, (B, T), generator=torch.Generator().manual_seed(seed))


SETTINGS = [dict(temperature=1.0), dict(temperature=0.8, top_k=5), dict(temperature=1.2, top_p=0.9),
            dict(temperature=0.0)]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("new_tokens", [5, 4 * BLOCK + 3])
def test_cached_generation_equals_uncached_token_for_token(make_gpt, settings: dict, new_tokens: int) -> None:
    model = make_gpt(block_size=BLOCK)
    idx = prompt()
    runs = {use_cache: model.generate(idx, new_tokens, generator=torch.Generator().manual_seed(7),
                                      use_cache=use_cache, **settings)
            for use_cache in (True, False)}
    assert runs[True].shape == (2, 3 + new_tokens)
    assert torch.equal(runs[True][:, :3], idx)
    assert torch.equal(runs[True], runs[False])


def test_greedy_generation_is_the_argmax_of_a_full_forward(make_gpt) -> None:
    """Independent of generate's loop: each greedy token is the argmax given its window."""
    model = make_gpt(block_size=BLOCK)
    out = model.generate(prompt(), 3 * BLOCK, temperature=0.0)
    for length in range(3, out.shape[1]):
        start = window_start(length, BLOCK)
        with torch.no_grad():
            logits, _ = model(out[:, start:length])
        assert torch.equal(out[:, length], logits[:, -1].argmax(-1)), length


def recorded_logits(model: GPT, monkeypatch, use_cache: bool, new_tokens: int) -> list[torch.Tensor]:
    """The logits generate hands to the sampler at each step."""
    seen: list[torch.Tensor] = []
    real_sample = glmlib.model.sample

    def spy(logits, *args, **kwargs):
        seen.append(logits.clone())
        return real_sample(logits, *args, **kwargs)

    monkeypatch.setattr(glmlib.model, "sample", spy)
    model.generate(prompt(), new_tokens, temperature=0.0, use_cache=use_cache)
    monkeypatch.undo()
    return seen[1:]  # the first call only validates the settings


def test_cached_logits_equal_uncached_logits_step_by_step(make_gpt, monkeypatch) -> None:
    model = make_gpt(block_size=BLOCK)
    n = 5 * BLOCK
    cached = recorded_logits(model, monkeypatch, True, n)
    uncached = recorded_logits(model, monkeypatch, False, n)
    assert len(cached) == len(uncached) == n
    for step, (a, b) in enumerate(zip(cached, uncached)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=f"step {step}")


def test_generation_is_reproducible_by_seed(make_gpt) -> None:
    model = make_gpt()
    run = lambda seed: model.generate(prompt(), 20, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_zero_new_tokens_returns_the_prompt_and_mode_is_restored(make_gpt) -> None:
    model = make_gpt().train()
    idx = prompt()
    threads = torch.get_num_threads()
    assert torch.equal(model.generate(idx, 0), idx)
    model.generate(idx, 2)
    assert model.training
    assert torch.get_num_threads() == threads  # cached steps ran on one thread, then it was restored


def test_a_prompt_longer_than_the_window_is_cropped(make_gpt) -> None:
    model = make_gpt(block_size=BLOCK)
    long_prompt = prompt(T=3 * BLOCK + 1)
    out = model.generate(long_prompt, 4, temperature=0.0)
    assert torch.equal(out[:, : long_prompt.shape[1]], long_prompt)
    assert torch.equal(out, model.generate(long_prompt, 4, temperature=0.0, use_cache=False))


@pytest.mark.parametrize("config", [dict(), dict(bias=False, activation="relu")])
def test_decode_step_equals_forward_with_a_cache(make_gpt, config: dict) -> None:
    """The module-free one-token step computes exactly what ``forward`` does."""
    model = make_gpt(block_size=4 * BLOCK, **config)
    idx = prompt(T=3 * BLOCK)
    fast, slow = KVCache(), KVCache()
    with torch.no_grad():
        model(idx[:, :2], kv_cache=fast)
        model(idx[:, :2], kv_cache=slow)
        for t in range(2, idx.shape[1]):  # the cache buffers grow on the way
            expected, _ = model(idx[:, t:t + 1], kv_cache=slow)
            torch.testing.assert_close(model.decode_step(idx[:, t:t + 1], fast), expected,
                                       atol=1e-6, rtol=1e-6, msg=f"position {t}")
    assert len(fast) == len(slow) == idx.shape[1]


def test_generated_ids_can_feed_a_training_step(make_gpt) -> None:
    """generate runs in inference mode but returns an ordinary tensor."""
    model = make_gpt().train()
    out = model.generate(prompt(), 6)
    assert not out.is_inference()
    _, loss = model(out[:, :-1], out[:, 1:])
    loss.backward()
    assert model.wte.weight.grad is not None
