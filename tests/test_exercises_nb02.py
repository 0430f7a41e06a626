"""Notebook 02's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations


import torch
import torch.nn.functional as F

from glmlib.data import CharTokenizer, get_batch
from glmlib.exercises import tokens as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb02 import SETUP, WRONG

QUESTIONS = questions("02")


def test_the_notebook_has_four_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q02_encode_with_unk", "q02_context_target_pairs", "q02_doc_batch",
                               "q02_embedding_grad"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 3, 2]
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 3 for answers in WRONG.values())


# ------------------------------------------------------------ what matters beyond pass / fail

def test_hand_worked_encodings_agree_with_char_tokenizer_where_it_can_encode() -> None:
    for name, text, stoi, unk, ids, unknown in ex._ENCODE_CASES:
        assert len(ids) == len(text), name
        chars = [c for c in stoi if len(c) == 1]
        specials = [c for c in stoi if len(c) > 1]
        tok = CharTokenizer(chars, specials)
        assert tok.stoi == stoi
        for ch, i in zip(text, ids):
            assert i == (tok.encode(ch)[0] if ch in chars else unk), (name, ch)
        assert unknown == [c for i, c in enumerate(text) if c not in stoi and c not in text[:i]], name


def test_hand_worked_pairs_follow_the_definition() -> None:
    for name, ids, T, pairs in ex._PAIR_CASES:
        assert len(pairs) == max(len(ids) - 1, 0), name
        for t, (context, target) in enumerate(pairs, start=1):
            assert target == ids[t] and context == ids[:t][-T:], name
            assert 1 <= len(context) <= T


def _doc_of(lengths: list[int], position: int) -> int:
    end = 0
    for d, n in enumerate(lengths):
        end += n
        if position < end:
            return d
    return len(lengths)


def test_hand_worked_valid_starts_are_exactly_the_windows_inside_one_document() -> None:
    for name, lengths, T, _B, _seed, starts, wrong in ex._DOC_CASES:
        N = sum(lengths)
        brute = [s for s in range(N - T) if _doc_of(lengths, s) == _doc_of(lengths, s + T)]
        assert starts == brute, name
        offsets = [sum(lengths[:d]) for d in range(len(lengths))]
        if "strict" in wrong:  # each document loses its last valid start
            assert wrong["strict"] == [s for s in brute if _doc_of(lengths, s + T + 1) == _doc_of(lengths, s)]
        if "loose" in wrong:  # x inside, y may run one token further
            loose = [s for s in range(N - T + 1) if _doc_of(lengths, s) == _doc_of(lengths, s + T - 1)]
            assert wrong["loose"] == loose
        if "relative" in wrong:
            assert wrong["relative"] == [s - offsets[_doc_of(lengths, s)] for s in brute]
    _name, lengths, T, _B, _seed = ex._NO_WINDOW
    assert all(n <= T for n in lengths)


def test_one_document_batches_equal_get_batch() -> None:
    env = run_code(SETUP + QUESTIONS["q02_doc_batch"].solution)
    data = torch.arange(200, 240)
    for seed in range(3):
        x, y = env["doc_batch"](data, [40], 5, 7, torch.Generator().manual_seed(seed))
        x_lib, y_lib = get_batch(data, 5, 7, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(x, x_lib) and torch.equal(y, y_lib)


def test_embedding_gradient_reference_is_autograd_and_a_one_hot_product() -> None:
    for case in ex._grad_cases():
        ids, grad_out, V = case.args
        one_hot = F.one_hot(ids.reshape(-1), V).float()  # (N, V)
        assert torch.allclose(case.expected, one_hot.T @ grad_out.reshape(-1, grad_out.shape[-1]), atol=1e-6)
        absent = torch.ones(V, dtype=torch.bool)
        absent[ids.reshape(-1)] = False
        assert bool((case.expected[absent] == 0).all())


def test_autograd_is_trapped_and_given_back() -> None:
    original = torch.Tensor.backward
    env = run_code(SETUP + WRONG["q02_embedding_grad"]["autograd"][0])
    assert ex.check_embedding_grad(env["embedding_grad"]).status == "fail"
    assert torch.Tensor.backward is original
    w = torch.ones(2, requires_grad=True)
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_a_batch_that_is_not_a_pair_of_tensors_is_named() -> None:
    result = ex.check_doc_batch(lambda data, lengths, B, T, g: data[:T])
    assert result.status == "fail" and "pair of tensors" in result.message






