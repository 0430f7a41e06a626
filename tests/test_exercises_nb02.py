"""Notebook 02's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import linecache
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import glmlib
from glmlib.data import CharTokenizer, get_batch
from glmlib.exercises import ExerciseFailed
from glmlib.exercises import tokens as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb02 import SETUP, WRONG

QUESTIONS = questions("02")
CATALOGUE = [(name, label, code, fragment) for name, answers in WRONG.items()
             for label, (code, fragment) in answers.items()]


def run_as_file(code: str, namespace: dict) -> dict:
    """Run ``code`` registered with linecache, as a notebook cell is (so its source is readable)."""
    linecache.cache["<learner>"] = (len(code), None, code.splitlines(keepends=True), "<learner>")
    exec(compile(code, "<learner>", "exec"), namespace)
    return namespace


def test_the_notebook_has_four_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q02_encode_with_unk", "q02_context_target_pairs", "q02_doc_batch",
                               "q02_embedding_grad"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 3, 2]
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 3 for answers in WRONG.values())


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_worked_solution_passes(name: str) -> None:
    q = QUESTIONS[name]
    run_code(SETUP + q.solution + q.test)
    run_as_file(SETUP + q.solution + q.test, {})


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_stub_is_not_yet(name: str) -> None:
    q = QUESTIONS[name]
    env = run_code(SETUP + q.stub)
    result = eval(q.test.strip().removesuffix(".require()"), env)
    assert result.status == "not yet", result
    with pytest.raises(ExerciseFailed, match="not yet"):
        run_code(q.test, env)


@pytest.mark.parametrize("name, label, code, fragment", CATALOGUE, ids=[f"{n}: {l}" for n, l, _, _ in CATALOGUE])
def test_wrong_answer_is_named(name: str, label: str, code: str, fragment: str) -> None:
    env = run_code(SETUP + code)
    with pytest.raises(ExerciseFailed) as failure:
        run_code(QUESTIONS[name].test, env)
    assert fragment.lower() in str(failure.value).lower(), str(failure.value)
    assert ": fail:" in str(failure.value)


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


def test_an_error_in_the_learner_code_is_reported_not_raised() -> None:
    def broken(*args):
        raise RuntimeError("shape mismatch somewhere")

    for check in (ex.check_encode_with_unk, ex.check_context_target_pairs, ex.check_doc_batch,
                  ex.check_embedding_grad):
        result = check(broken)
        assert result.status == "fail" and "RuntimeError: shape mismatch somewhere" in result.message
        assert check(lambda *a: None).status == "not yet"


def test_checkers_are_fast_and_leave_the_random_state_alone() -> None:
    env = run_code(SETUP + "".join(q.solution for q in QUESTIONS.values()))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    start = time.perf_counter()
    ex.check_encode_with_unk(env["encode_with_unk"]).require()
    ex.check_context_target_pairs(env["context_target_pairs"]).require()
    ex.check_doc_batch(env["doc_batch"]).require()
    ex.check_embedding_grad(env["embedding_grad"]).require()
    assert time.perf_counter() - start < 3.0
    assert torch.equal(torch.get_rng_state(), before)


def test_no_solution_line_is_in_the_package() -> None:
    package = Path(glmlib.__file__).parent
    lines = {line.strip() for f in package.rglob("*.py") for line in f.read_text().splitlines()}
    for q in QUESTIONS.values():
        for line in q.solution.splitlines():
            line = line.strip()
            if len(line) > 3 and not line.startswith(("#", "ex.check", "def ", '"""', "print(", "f\"")):
                assert line not in lines, f"{q.name}: {line!r} is in glmlib"
