"""Notebook 09's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import pytest
import torch

from glmlib import bpe
from glmlib.exercises import grading
from glmlib.exercises import subwords as ex
from notebook_solutions import questions, run_code
from wrong_answers.nb09 import SETUP, WRONG

QUESTIONS = questions("09")
tokenizers = pytest.importorskip("tokenizers")


def test_the_notebook_has_three_exercises_and_one_transfer() -> None:
    assert list(QUESTIONS) == ["q09_merge_step", "q09_decode", "q09_encode"]
    assert [q.points for q in QUESTIONS.values()] == [2, 2, 3]
    assert set(WRONG) == set(QUESTIONS)


# ------------------------------------------------------------ the references

_PRINTABLE = [*range(33, 127), *range(161, 173), *range(174, 256)]
_B2U = {b: chr(b) for b in _PRINTABLE}
_B2U.update({b: chr(256 + n) for n, b in enumerate(b for b in range(256) if b not in _B2U)})


def _hf(data: bytes) -> str:
    return "".join(_B2U[b] for b in data)


def hf_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """Hugging Face tokenizers' BPE model with these merges, the whole text as one word."""
    ref = ex._reference(merges)
    vocab = {_hf(ref.token_bytes(i)): i for i in range(ref.vocab_size)}
    assert len(vocab) == ref.vocab_size
    model = tokenizers.models.BPE(vocab, [(_hf(ref.token_bytes(a)), _hf(ref.token_bytes(b))) for a, b in merges])
    return tokenizers.Tokenizer(model).encode(_hf(text.encode("utf-8"))).ids if text else []


def test_encode_expectations_agree_with_hugging_face() -> None:
    """The hand-worked cases and the fresh ones, visible and hidden: glmlib.bpe (no pre-split) == tokenizers."""
    for name, text, merges, ids, _ in ex._encode_cases():
        assert hf_encode(text, merges) == ids, name
    for salt in (None, 5, 2**40 + 3):
        with (grading.hidden_cases(salt) if salt else torch.random.fork_rng(devices=[])):
            for case in ex._fresh_encode_cases():
                text, merges = case.args
                assert hf_encode(text, merges) == case.expected, case.name


def test_hand_worked_merge_steps_are_what_the_library_learns() -> None:
    """Each first step by hand == the first merge glmlib.bpe learns on that text (its tie-break included)."""
    for name, ids, new_id, pair, out, _ in ex._STEP_CASES:
        if max(ids) > 255:
            continue
        text = bytes(ids).decode("utf-8")
        tok = ex._trained(text, 1)
        assert tok.merges[0] == pair, name
        assert [new_id if i == 256 else i for i in tok.encode(text)] == out, name
    tok = ex._trained("aaabdaaabac", 2)
    assert tok.merges[1] == (97, 98) and tok.encode("aaabdaaabac") == [256, 257, 100, 256, 257, 97, 99]


def test_hand_worked_decodes_are_python_utf8() -> None:
    for case in ex._decode_cases():
        ids, merges = case.args
        assert ex._reference(merges).decode(ids) == case.expected, case.name
        joined = b"".join(ex._reference(merges).token_bytes(i) for i in ids)
        assert joined.decode("utf-8", errors="replace") == case.expected


def test_fresh_texts_hold_arbitrary_unicode_and_change_with_the_secret() -> None:
    visible = [ex.random_text(seed, 60) for seed in range(8)]
    assert any(max(map(ord, t)) > 0xFFFF for t in visible), "no character beyond the BMP (emoji, ...)"
    assert any(0x4E00 <= ord(c) < 0xA000 for t in visible for c in t), "no Chinese"
    assert all("\ud800" > c or c > "\udfff" for t in visible for c in t), "a surrogate cannot be UTF-8"
    with grading.hidden_cases(7):
        hidden = [ex.random_text(seed, 60) for seed in range(8)]
    assert all(a != b for a, b in zip(visible, hidden))


def test_shortcuts_are_restored_after_the_check() -> None:
    env = run_code(SETUP + WRONG["q09_encode"]["the library's encoder"][0])
    original = bpe.BPETokenizer.encode
    assert ex.check_encode(env["encode"]).status == "fail"
    assert bpe.BPETokenizer.encode is original
    assert bpe.BPETokenizer([(97, 97)], pattern=None).encode("aaa") == [256, 97]


def test_hugging_face_is_trapped_inside_the_learners_function() -> None:
    code = ("import tokenizers\n"
            "def encode(text, merges):\n"
            "    tokenizers.Tokenizer(tokenizers.models.BPE())\n"
            "    return list(text.encode('utf-8'))\n")
    result = ex.check_encode(run_code(SETUP + code)["encode"])
    assert result.status == "fail" and "tokenizers" in result.message, result


def test_another_correct_encode_passes() -> None:
    """Applying each merge once, in the order learned, is the same as lowest rank first (the note says why)."""
    code = ("def encode(text, merges):\n"
            "    ids = list(text.encode('utf-8'))\n"
            "    for k, (a, b) in enumerate(merges):\n"
            "        out, i = [], 0\n"
            "        while i < len(ids):\n"
            "            if ids[i:i + 2] == [a, b]:\n"
            "                out.append(256 + k)\n"
            "                i += 2\n"
            "            else:\n"
            "                out.append(ids[i])\n"
            "                i += 1\n"
            "        ids = out\n"
            "    return ids\n")
    result = ex.check_encode(run_code(SETUP + code)["encode"])
    assert result.passed, result


def test_a_tensor_of_ids_is_accepted_and_floats_are_named() -> None:
    q = QUESTIONS["q09_encode"]
    env = run_code(SETUP + q.solution)
    as_tensor = env["encode"]
    env["encode_t"] = lambda text, merges: torch.tensor(as_tensor(text, merges), dtype=torch.long)
    assert ex.check_encode(env["encode_t"]).passed
    floats = ex.check_encode(lambda text, merges: [float(i) for i in as_tensor(text, merges)])
    assert floats.status == "fail" and "ints" in floats.message, floats
