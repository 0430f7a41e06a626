"""Sampling checked against Hugging Face's logits warpers, and by a chi-square goodness-of-fit test."""
from __future__ import annotations

import math

import pytest
import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from glmlib.sampling import apply_temperature, entropy, sample, top_k_filter, top_p_filter, warp

V = 50


def random_logits(seed: int, rows: int = 64, vocab: int = V, scale: float = 2.5) -> torch.Tensor:
    return scale * torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed))


def hf_warp(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Hugging Face's warpers chained in ``generate``'s order: temperature, top-k, top-p."""
    ids = torch.zeros(logits.shape[0], 1, dtype=torch.long)  # unused by these warpers
    out = TemperatureLogitsWarper(temperature)(ids, logits)
    if top_k is not None:
        out = TopKLogitsWarper(top_k)(ids, out)
    if top_p is not None:
        out = TopPLogitsWarper(top_p)(ids, out)
    return out


def assert_same_warp(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    """Same removed positions (``-inf``) and the same kept values."""
    assert torch.equal(torch.isneginf(ours), torch.isneginf(theirs))
    kept = ~torch.isneginf(theirs)
    torch.testing.assert_close(ours[kept], theirs[kept], atol=0, rtol=1e-6)


GRID = [
    (t, k, p)
    for t in (0.4, 1.0, 1.7)
    for k in (None, 1, 3, 10, V - 1, V, V + 7)
    for p in (None, 0.05, 0.3, 0.75, 0.9, 0.999)
]


@pytest.mark.parametrize("temperature,top_k,top_p", GRID)
def test_warp_matches_hugging_face(temperature: float, top_k: int | None, top_p: float | None) -> None:
    logits = random_logits(seed=int(temperature * 10) + 100 * (top_k or 0))
    ours = warp(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    assert_same_warp(ours, hf_warp(logits, temperature, top_k, top_p))


def test_grid_actually_removes_tokens() -> None:
    """The comparison above is not vacuous: the settings remove many tokens, and differently."""
    logits = random_logits(seed=7)
    kept = {(k, p): int((~torch.isneginf(warp(logits, 1.0, k, p))).sum()) for k in (3, None) for p in (0.3, None)}
    assert kept[(None, None)] == logits.numel()
    assert len(set(kept.values())) == 4


def test_the_order_matters_and_is_temperature_topk_topp() -> None:
    """top-p after top-k renormalises over the k survivors; the other order would keep more."""
    logits = torch.tensor([[2.0, 1.5, 1.0, 0.5, 0.0, -0.5]])
    ours = warp(logits, temperature=1.0, top_k=3, top_p=0.7)
    manual = top_p_filter(top_k_filter(logits, 3), 0.7)
    other_order = top_k_filter(top_p_filter(logits, 0.7), 3)
    assert torch.equal(ours, manual)
    assert not torch.equal(torch.isneginf(ours), torch.isneginf(other_order))
    # temperature first: top-p sees the flattened distribution
    hot = warp(logits, temperature=3.0, top_p=0.7)
    assert int((~torch.isneginf(hot)).sum()) > int((~torch.isneginf(warp(logits, top_p=0.7))).sum())


@pytest.mark.parametrize("k", [V, V + 1, 10 ** 6])
def test_top_k_at_least_vocab_keeps_everything(k: int) -> None:
    logits = random_logits(seed=1)
    assert torch.equal(top_k_filter(logits, k), logits)


def test_top_k_keeps_ties_at_the_boundary() -> None:
    logits = torch.tensor([[3.0, 2.0, 2.0, 1.0, 2.0, 0.0]])
    out = top_k_filter(logits, 2)
    assert torch.isneginf(out).tolist() == [[False, False, False, True, False, True]]
    assert_same_warp(out, hf_warp(logits, 1.0, 2, None))


def test_top_k_keeps_exactly_k_without_ties() -> None:
    logits = random_logits(seed=2)
    for k in (1, 5, 17):
        out = top_k_filter(logits, k)
        assert ((~torch.isneginf(out)).sum(-1) == k).all()
        assert torch.equal(out.topk(k).indices.sort().values, logits.topk(k).indices.sort().values)


def test_top_p_one_keeps_everything() -> None:
    logits = random_logits(seed=3)
    logits[:, :5] = float("-inf")  # already-removed tokens stay removed, nothing else changes
    assert torch.equal(top_p_filter(logits, 1.0), logits)


@pytest.mark.parametrize("p", [1e-9, 1e-4])
def test_tiny_top_p_keeps_exactly_the_argmax(p: float) -> None:
    logits = random_logits(seed=4)
    out = top_p_filter(logits, p)
    kept = ~torch.isneginf(out)
    assert (kept.sum(-1) == 1).all()
    assert torch.equal(kept.float().argmax(-1), logits.argmax(-1))


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    kept = lambda p: int((~torch.isneginf(top_p_filter(logits, p))).sum())  # noqa: E731
    assert [kept(p) for p in (0.2, 0.49, 0.51, 0.79, 0.81, 0.94, 0.96)] == [1, 1, 2, 2, 3, 3, 4]


def test_temperature_divides_the_logits() -> None:
    logits = random_logits(seed=5)
    torch.testing.assert_close(apply_temperature(logits, 2.0), logits / 2.0)
    # lower temperature, lower entropy
    h = [entropy(apply_temperature(logits, t)).mean().item() for t in (0.5, 1.0, 2.0)]
    assert h[0] < h[1] < h[2]


def test_temperature_zero_is_greedy() -> None:
    logits = random_logits(seed=6)
    out = warp(logits, temperature=0.0)
    kept = ~torch.isneginf(out)
    assert (kept.sum(-1) == 1).all()
    assert torch.equal(out[kept], logits.max(-1).values)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    assert torch.equal(sample(logits, temperature=0.0, top_k=5, top_p=0.5, generator=g), logits.argmax(-1))
    assert torch.equal(g.get_state(), state)  # no random number was drawn


def test_greedy_takes_the_first_of_tied_maxima() -> None:
    logits = torch.tensor([[0.0, 2.0, 1.0, 2.0]])
    assert sample(logits, temperature=0.0).item() == 1


@pytest.mark.parametrize("settings", [dict(top_k=4), dict(top_p=0.5), dict(temperature=0.0),
                                      dict(temperature=0.7, top_k=10, top_p=0.8)])
def test_removed_tokens_have_probability_exactly_zero(settings: dict) -> None:
    logits = random_logits(seed=8)
    warped = warp(logits, **settings)
    probs = torch.softmax(warped, dim=-1)
    removed = torch.isneginf(warped)
    assert removed.any()
    assert torch.equal(probs[removed], torch.zeros(int(removed.sum())))
    torch.testing.assert_close(probs.sum(-1), torch.ones(logits.shape[0]))
    drawn = sample(logits.repeat(20, 1), generator=torch.Generator().manual_seed(0), **settings)
    assert not removed.repeat(20, 1).gather(-1, drawn[:, None]).any()


def test_entropy_of_uniform_and_of_one_token() -> None:
    torch.testing.assert_close(entropy(torch.zeros(7)), torch.tensor(math.log(7)))
    one = torch.full((5,), float("-inf"))
    one[2] = 0.3
    assert entropy(one).item() == 0.0


# --------------------------------------------------------------- chi-square

def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X ~ chi^2(df): the regularised upper incomplete gamma ``Q(df/2, x/2)``."""
    return torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64),
                                   torch.tensor(statistic / 2, dtype=torch.float64)).item()


def test_chi2_survival_function_matches_tables() -> None:
    # upper critical values from standard chi-square tables (e.g. NIST/SEMATECH e-Handbook, 1.3.6.7.4)
    for df, critical, alpha in [(1, 3.841, 0.05), (5, 11.070, 0.05), (5, 20.515, 0.001), (10, 29.588, 0.001)]:
        assert chi2_sf(critical, df) == pytest.approx(alpha, rel=2e-3)


def chi2_p_value(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """Pearson goodness of fit of ``counts`` to ``probs``, over the categories with probability > 0."""
    support = probs > 0
    n = counts.sum().item()
    expected = n * probs[support].double()
    stat = ((counts[support].double() - expected) ** 2 / expected).sum().item()
    return chi2_sf(stat, int(support.sum()) - 1)


SETTINGS = [dict(), dict(temperature=0.7), dict(temperature=1.5, top_k=6), dict(top_p=0.9),
            dict(temperature=0.8, top_k=7, top_p=0.95)]


@pytest.mark.parametrize("settings", SETTINGS)
def test_sampled_frequencies_fit_softmax_of_warped_logits(settings: dict) -> None:
    logits = torch.randn(10, generator=torch.Generator().manual_seed(11))
    N = 20_000
    drawn = sample(logits.expand(N, -1), generator=torch.Generator().manual_seed(12), **settings)
    counts = torch.bincount(drawn, minlength=10)
    probs = torch.softmax(warp(logits, **settings), dim=-1)
    assert torch.equal(counts[probs == 0], torch.zeros_like(counts[probs == 0]))
    assert chi2_p_value(counts, probs) > 1e-3
    # the same test rejects a wrong distribution (here: the unwarped one, or a uniform one)
    if settings:
        assert chi2_p_value(counts, torch.softmax(logits, -1)) < 1e-6
    assert chi2_p_value(counts, torch.full((10,), 0.1)) < 1e-6


def test_same_seed_same_tokens_different_seed_different_tokens() -> None:
    logits = torch.zeros(300, 20)  # uniform: every draw is a fair 1-in-20 choice
    draw = lambda seed: sample(logits, top_k=15, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))
    assert draw(1).shape == (300,)


def test_sample_keeps_leading_dimensions() -> None:
    out = sample(torch.randn(2, 3, 9), generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 3) and out.dtype == torch.long


def test_a_temperature_so_small_that_the_division_overflows_takes_its_limit() -> None:
    logits = torch.tensor([[5.0, 1.0, 5.0, -2.0], [0.5, 0.25, 0.0, -1.0]])
    warped = apply_temperature(logits, 1e-45)
    assert torch.isfinite(warped[0, [0, 2]]).all() and torch.isneginf(warped[0, [1, 3]]).all()
    assert torch.equal(torch.softmax(warped, -1)[0], torch.tensor([0.5, 0.0, 0.5, 0.0]))
    assert torch.equal(torch.softmax(warped, -1)[1], torch.tensor([1.0, 0.0, 0.0, 0.0]))  # one top logit
    assert torch.equal(apply_temperature(logits, 1e-3), logits / 1e-3)  # no overflow: plain division
    torch.manual_seed(0)
    drawn = sample(logits[0], temperature=1e-45)
    assert int(drawn) in (0, 2)
