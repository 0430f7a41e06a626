"""The counting bigram model against numbers worked out by hand."""
from __future__ import annotations

import math

import pytest
import torch

from glmlib.ngram import BigramLM

# Vocabulary: a=0, b=1, <bos>=2, <eos>=3. Training data "ab" and "aab", wrapped:
#   <bos> a b <eos>      and      <bos> a a b <eos>
# Bigram counts: (<bos>,a)=2, (a,b)=2, (b,<eos>)=2, (a,a)=1.
# Row totals: <bos>: 2, a: 3, b: 2, <eos>: 0.
A, B_, BOS, EOS = 0, 1, 2, 3


def fitted(k: float) -> BigramLM:
    return BigramLM(vocab_size=4, k=k, bos=BOS, eos=EOS).fit([[A, B_], [A, A, B_]])


def test_counts_by_hand() -> None:
    expected = torch.zeros(4, 4, dtype=torch.float64)
    expected[BOS, A], expected[A, B_], expected[B_, EOS], expected[A, A] = 2, 2, 2, 1
    assert torch.equal(fitted(1.0).counts, expected)


def test_sentence_log_prob_with_add_half_smoothing_by_hand() -> None:
    # k = 0.5, V = 4: P(next | prev) = (count + 0.5) / (row total + 2)
    lm = fitted(0.5)
    # "ab":  P(a|<bos>) = 2.5/4,  P(b|a) = 2.5/5,  P(<eos>|b) = 2.5/4
    assert lm.token_log_probs([A, B_]).exp().tolist() == pytest.approx([0.625, 0.5, 0.625])
    assert lm.log_prob([A, B_]) == pytest.approx(math.log(0.625) + math.log(0.5) + math.log(0.625))
    # "ba":  P(b|<bos>) = 0.5/4,  P(a|b) = 0.5/4,  P(<eos>|a) = 0.5/5
    assert lm.log_prob([B_, A]) == pytest.approx(math.log(0.125 * 0.125 * 0.1))
    # "aab": P(a|<bos>) P(a|a) P(b|a) P(<eos>|b) = 2.5/4 * 1.5/5 * 2.5/5 * 2.5/4
    assert lm.log_prob([A, A, B_]) == pytest.approx(math.log(0.625 * 0.3 * 0.5 * 0.625))


def test_unsmoothed_probabilities_are_relative_counts() -> None:
    lm = fitted(0.0)
    assert lm.log_prob([A, B_]) == pytest.approx(math.log(1.0 * (2 / 3) * 1.0))
    assert lm.log_prob([B_, A]) == float("-inf")  # an unseen bigram has probability 0
    # a row never seen (after <eos>) falls back to uniform, so every row is a distribution
    assert lm.probs[EOS].tolist() == pytest.approx([0.25] * 4)


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0, 3.0])
def test_every_row_is_a_distribution(k: float) -> None:
    torch.testing.assert_close(fitted(k).probs.sum(1), torch.ones(4, dtype=torch.float64))


def test_perplexity_is_exp_of_mean_negative_log_likelihood() -> None:
    lm = fitted(0.5)
    # three predicted tokens (a, b, <eos>) with probabilities 0.625, 0.5, 0.625
    assert lm.perplexity([A, B_]) == pytest.approx((0.625 * 0.5 * 0.625) ** (-1 / 3))
    nll = -lm.token_log_probs([A, A, B_])
    assert lm.perplexity([A, A, B_]) == pytest.approx(math.exp(nll.mean().item()))


def test_without_bos_and_eos_only_inner_bigrams_are_scored() -> None:
    lm = BigramLM(vocab_size=2, k=1.0).fit(torch.tensor([0, 1, 1, 0, 1]))
    # counts: (0,1)=2, (1,1)=1, (1,0)=1  ->  P(1|0) = 3/4, P(1|1) = 2/4, P(0|1) = 2/4
    assert lm.token_log_probs([0, 1, 1]).exp().tolist() == pytest.approx([0.75, 0.5])


def test_a_uniform_model_has_perplexity_equal_to_the_vocabulary() -> None:
    lm = BigramLM(vocab_size=7, k=1.0)  # no data: every row uniform
    assert lm.perplexity([1, 5, 2, 2, 6]) == pytest.approx(7.0)


def test_sampling_is_reproducible_by_seed_and_stops_at_eos() -> None:
    lm = fitted(0.5)
    draw = lambda seed: lm.sample(50, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    assert draw(0) == draw(0)
    runs = [draw(seed) for seed in range(20)]
    assert len({tuple(r) for r in runs}) > 1
    for r in runs:
        assert EOS not in r and len(r) <= 50
    assert any(len(r) < 50 for r in runs)  # some runs ended at <eos>


def test_sampling_follows_the_table() -> None:
    # an unsmoothed model that saw only "ab" must always say "ab"
    lm = BigramLM(vocab_size=4, k=0.0, bos=BOS, eos=EOS).fit([[A, B_]])
    assert all(lm.sample(10, generator=torch.Generator().manual_seed(s)) == [A, B_] for s in range(5))


@pytest.mark.parametrize("bad", [dict(eos=-1), dict(bos=4), dict(eos=4), dict(bos=True), dict(eos=2.0)])
def test_bos_and_eos_must_be_token_ids(bad: dict) -> None:
    name, value = next(iter(bad.items()))
    with pytest.raises(ValueError, match=rf"{name} must be a token id in \[0, 4\) or None, got {value!r}"):
        BigramLM(vocab_size=4, **bad)


def test_eos_minus_one_no_longer_counts_as_the_last_token() -> None:
    """It used to count the pair (1, eos) as (0, 2) without a word."""
    with pytest.raises(ValueError, match=r"eos.*-1"):
        BigramLM(vocab_size=3, eos=-1).fit([[0, 1]])
    lm = BigramLM(vocab_size=3, eos=2).fit([[0, 1]])
    assert lm.counts[1, 2] == 1 and lm.counts.sum() == 2


def test_a_start_token_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"start must be a token id in \[0, 4\).*-1"):
        fitted(1.0).sample(5, start=-1)


def test_ids_are_not_rounded() -> None:
    with pytest.raises(TypeError, match=r"ints, got 0\.5"):
        BigramLM(4).fit([[0.5, 1]])
    with pytest.raises(TypeError, match=r"integers.*float32"):
        BigramLM(4).log_prob(torch.tensor([0.0, 1.0]))
