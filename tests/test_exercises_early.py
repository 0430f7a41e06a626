"""The checkers of notebooks 00-02 accept the reference solutions and reject wrong ones by name.

Also: the worked solution each notebook shows behind "Show solution" really passes
its checker (the code is read from the notebook source and run).
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from types import ModuleType
from typing import Callable

import pytest
import torch
import torch.nn.functional as F

from glmlib.exercises import language_models as ex_lm
from glmlib.exercises import tokens as ex_tokens
from glmlib.exercises import welcome as ex_welcome
from glmlib.exercises.checking import CheckResult
from notebook_solutions import shown_solutions

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def stub(*args: object) -> None:
    raise NotImplementedError


# ---------------------------------------------------------- typical mistakes

def view_only_split(x, n_head):
    B, T, C = x.shape
    return x.view(B, n_head, T, C // n_head)  # right shape, channels of different positions mixed


def heads_last_split(x, n_head):
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head)  # forgot the transpose: (B, T, H, D)


def strict_row(i, T):
    return torch.arange(T) < i  # forgets that a query may attend to itself


def future_row(i, T):
    return torch.arange(T) >= i  # the wrong triangle


def int_row(i, T):
    return (torch.arange(T) <= i).int()  # right values, wrong dtype


def transposed_counts(ids, V):
    return ex_lm.solution_bigram_counts(ids, V).T  # (next, prev) instead of (prev, next)


def wrapped_counts(ids, V):
    return ex_lm.solution_bigram_counts(list(ids) + list(ids[:1]), V)  # counts a pair last -> first


def no_kv_denominator(counts, k):
    c = counts.double()
    return (c + k) / (c.sum(dim=1, keepdim=True) + k).clamp_min(1e-300)  # forgot the factor V


def nan_for_empty_rows(counts, k):
    c = counts.double() + k
    return c / c.sum(dim=1, keepdim=True)  # 0 / 0 = NaN for an unseen row when k = 0


def transposed_log_prob(probs, ids):
    return ex_lm.solution_sequence_log_prob(probs.T, ids)


def log2_log_prob(probs, ids):
    return ex_lm.solution_sequence_log_prob(probs, ids) / math.log(2)  # bits, not nats


def product_not_log(probs, ids):
    return math.exp(ex_lm.solution_sequence_log_prob(probs, ids))  # a probability, not its log


def pairs_with_empty_context(ids):
    return [(list(ids[:t]), ids[t]) for t in range(len(ids))]  # includes ([], ids[0])


def pairs_missing_last(ids):
    return [(list(ids[:t]), ids[t]) for t in range(1, len(ids) - 1)]


def unshifted_batch(data, starts, T):
    x = torch.stack([data[s:s + T] for s in starts])
    return x, x.clone()  # y must be shifted by one


def batch_x_only(data, starts, T):
    return ex_tokens.solution_shifted_batch(data, starts, T)[0]  # forgot to return y


def shifted_the_wrong_way(data, starts, T):
    x = torch.stack([data[s + 1:s + T + 1] for s in starts])
    y = torch.stack([data[s:s + T] for s in starts])
    return x, y


def embed_transposed(ids, weight):
    return ex_tokens.solution_one_hot_embed(ids, weight).transpose(0, -1)


def embed_wrong_classes(ids, weight):
    one_hot = F.one_hot(ids).float()  # V guessed from the largest id, not taken from the table
    return one_hot @ weight


# ------------------------------------------------------------------ tables

EXERCISES: list[tuple[ModuleType, str, list[Callable]]] = [
    (ex_welcome, "split_heads", [view_only_split, heads_last_split]),
    (ex_welcome, "causal_row", [strict_row, future_row, int_row]),
    (ex_lm, "bigram_counts", [transposed_counts, wrapped_counts]),
    (ex_lm, "add_k_probs", [no_kv_denominator, nan_for_empty_rows]),
    (ex_lm, "sequence_log_prob", [transposed_log_prob, log2_log_prob, product_not_log]),
    (ex_tokens, "context_target_pairs", [pairs_with_empty_context, pairs_missing_last]),
    (ex_tokens, "shifted_batch", [unshifted_batch, batch_x_only, shifted_the_wrong_way]),
    (ex_tokens, "one_hot_embed", [embed_transposed, embed_wrong_classes]),
]
IDS = [name for _, name, _ in EXERCISES]
WRONG = [(m, name, wrong) for m, name, wrongs in EXERCISES for wrong in wrongs]

NOTEBOOK_OF = {ex_welcome: "00_welcome.py", ex_lm: "01_language_models.py", ex_tokens: "02_tokens_and_batches.py"}


def checker(module: ModuleType, name: str) -> Callable[[Callable], CheckResult]:
    return getattr(module, f"check_{name}")


# ------------------------------------------------------------------- tests

@pytest.mark.parametrize("module, name, wrongs", EXERCISES, ids=IDS)
def test_reference_solution_passes(module: ModuleType, name: str, wrongs: list) -> None:
    result = checker(module, name)(getattr(module, f"solution_{name}"))
    assert isinstance(result, CheckResult)
    assert result.passed, result.message
    assert result.message.startswith("all ") and "cases pass" in result.message
    assert repr(result).startswith(f"PASS {name}")


@pytest.mark.parametrize("module, name, wrongs", EXERCISES, ids=IDS)
def test_stub_is_reported_not_raised(module: ModuleType, name: str, wrongs: list) -> None:
    result = checker(module, name)(stub)
    assert not result.passed and not bool(result)
    assert "not implemented" in result.message
    assert repr(result).startswith(f"FAIL {name}")


@pytest.mark.parametrize("module, name, wrong", WRONG, ids=[f"{n}-{w.__name__}" for _, n, w in WRONG])
def test_wrong_solution_fails_naming_the_case(module: ModuleType, name: str, wrong: Callable) -> None:
    result = checker(module, name)(wrong)
    assert not result.passed, f"{wrong.__name__} should not pass check_{name}"
    match = re.match(r"case '(.+?)'", result.message)
    assert match, f"the message must name the failing case: {result.message!r}"
    assert "expected" in result.message or "raised" in result.message, result.message


@pytest.mark.parametrize("module, name, wrongs", EXERCISES, ids=IDS)
def test_checker_has_several_cases(module: ModuleType, name: str, wrongs: list) -> None:
    n = int(re.search(r"all (\d+) cases", checker(module, name)(getattr(module, f"solution_{name}")).message)[1])
    assert n >= 4, f"check_{name} has only {n} cases"


def test_causal_row_rejects_non_bool_with_a_clear_message() -> None:
    result = ex_welcome.check_causal_row(int_row)
    assert "bool" in result.message and "int32" in result.message


def test_solutions_agree_with_the_library() -> None:
    """The reference solutions match glmlib where glmlib has the same idea."""
    from glmlib.data import get_batch
    from glmlib.masks import causal_mask
    from glmlib.ngram import BigramLM

    T = 7
    rows = torch.stack([ex_welcome.solution_causal_row(i, T) for i in range(T)])
    assert torch.equal(rows, causal_mask(T))

    ids = [0, 2, 2, 1, 0, 2, 1, 1]
    lm = BigramLM(3, k=0.5).fit([ids])
    assert torch.equal(ex_lm.solution_bigram_counts(ids, 3).double(), lm.counts)
    assert torch.allclose(ex_lm.solution_add_k_probs(lm.counts, 0.5), lm.probs)
    assert math.isclose(ex_lm.solution_sequence_log_prob(lm.probs, [1, 0, 2]), lm.log_prob([1, 0, 2]))

    assert ex_tokens.solution_context_target_pairs([5, 6, 7, 8]) == [([5], 6), ([5, 6], 7), ([5, 6, 7], 8)]
    assert ex_tokens.solution_context_target_pairs([4]) == []

    data = torch.arange(50, 90)
    g = torch.Generator().manual_seed(3)  # get_batch draws its starts exactly like this
    starts = torch.randint(len(data) - 5, (4,), generator=torch.Generator().manual_seed(3)).tolist()
    x, y = get_batch(data, 4, 5, generator=g)
    x2, y2 = ex_tokens.solution_shifted_batch(data, starts, 5)
    assert torch.equal(x, x2) and torch.equal(y, y2)

    weight = torch.randn(9, 4, generator=torch.Generator().manual_seed(1))
    emb = torch.nn.Embedding.from_pretrained(weight)
    idx = torch.tensor([[0, 8, 3], [3, 3, 1]])
    assert torch.equal(ex_tokens.solution_one_hot_embed(idx, weight), emb(idx))


# ------------------------------------------- the notebooks' shown solutions

@pytest.mark.parametrize("module", list(NOTEBOOK_OF), ids=list(NOTEBOOK_OF.values()))
def test_notebook_shows_a_passing_solution_for_every_exercise(module: ModuleType) -> None:
    notebook = NOTEBOOKS / NOTEBOOK_OF[module]
    codes = shown_solutions(notebook)
    names = [name for m, name, _ in EXERCISES if m is module]
    assert len(codes) == len(names), f"{notebook.name}: {len(codes)} shown solutions for exercises {names}"
    for name, code in zip(names, codes):
        namespace: dict = {"torch": torch, "F": F, "math": math}
        exec(compile(code, f"{notebook.name}:{name}", "exec"), namespace)
        assert name in namespace, f"{notebook.name}: the shown solution does not define {name}()"
        result = checker(module, name)(namespace[name])
        assert result.passed, f"{notebook.name}: shown solution of {name}: {result.message}"


@pytest.mark.parametrize("module", list(NOTEBOOK_OF), ids=list(NOTEBOOK_OF.values()))
def test_notebook_runs_each_checker_on_the_stub_and_the_reference(module: ModuleType) -> None:
    text = (NOTEBOOKS / NOTEBOOK_OF[module]).read_text(encoding="utf-8")
    for name in (n for m, n, _ in EXERCISES if m is module):
        assert re.search(rf"def {name}\(.*?\n(?:    .*\n)*?    raise NotImplementedError", text), \
            f"{NOTEBOOK_OF[module]}: no stub {name}() raising NotImplementedError"
        assert f"check_{name}({name})" in text, f"{NOTEBOOK_OF[module]}: the stub of {name} is not checked"
        assert f"check_{name}(solution_{name})" in text, f"{NOTEBOOK_OF[module]}: the reference {name} is not checked"
