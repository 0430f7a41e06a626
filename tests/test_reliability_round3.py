"""Reliability, round three (issue #24): a text without a newline, a run that ends on a worse model,
cache and save errors in one line, tokenizer kinds, NumPy integers, and training on your own text."""
from __future__ import annotations

import re

import pytest
import torch

import glmlib.train as train_module
from glmlib.train import TrainConfig, train

TINY = dict(block_size=8, n_layer=1, n_head=2, n_embd=16, batch_size=4, max_iters=4, lr=3e-3, min_lr=3e-4,
            warmup_iters=1, eval_interval=2, eval_iters=1, device="cpu", seed=3, threads=1)


# ------------------------------------------------------------------ bug 4: a text without a newline

NO_NEWLINE = "the quick brown fox jumps over the lazy dog; " * 12


@pytest.mark.parametrize("sample_chars", [0, 20])
def test_a_text_without_a_newline_trains(sample_chars: int) -> None:
    assert "\n" not in NO_NEWLINE
    samples = []
    result = train(TrainConfig(**TINY, sample_chars=sample_chars),
                   callbacks=[lambda e, s: e == "eval" and samples.append(s["sample"])], text=NO_NEWLINE)
    assert [h["step"] for h in result.history] == [0, 2, 4]
    assert all(len(s) == sample_chars and set(s) <= set(NO_NEWLINE) for s in samples)


def test_the_sample_prompt_is_not_encoded_without_samples(monkeypatch) -> None:
    encoded: list[str] = []
    real = train_module.CharTokenizer.encode
    monkeypatch.setattr(train_module.CharTokenizer, "encode", lambda self, t: encoded.append(t) or real(self, t))
    train(TrainConfig(**TINY, sample_chars=0), text=NO_NEWLINE)
    assert encoded == []


def test_samples_of_a_text_with_newlines_still_start_from_one() -> None:
    text = "to be or not\nto be, that is\nthe question\n" * 10
    samples = []
    train(TrainConfig(**TINY, sample_chars=12), callbacks=[lambda e, s: e == "eval" and samples.append(s)],
          text=text)
    assert all(len(s["sample"]) == 12 for s in samples)


# ------------------------------------------------------------------ a run that ends on a worse model

def test_a_run_whose_last_evaluation_is_not_its_best_is_finished(tmp_path, monkeypatch, capsys) -> None:
    from glmlib.checkpoints import load_checkpoint, load_record, load_train_state
    from glmlib.train import ResumeError, evaluate, main
    text = "to be or not\nto be, that is\nthe question\n" * 20
    vals = iter([3.0, 2.0, 2.5])  # the estimates at steps 0, 2, 4: the best model is step 2's
    monkeypatch.setattr(train_module, "estimate_loss", lambda *a: {"train": 1.0, "val": next(vals)})
    saves: list[int] = []
    real_save = train_module.save_checkpoint
    monkeypatch.setattr(train_module, "save_checkpoint",
                        lambda m, t, p, extra, **kw: saves.append(extra["iters_done"]) or real_save(m, t, p, extra, **kw))
    out = tmp_path / "run"
    cfg = TrainConfig(**TINY, sample_chars=0, out=str(out))
    result = train(cfg, text=text)
    assert saves == [0, 2]  # the worse last model is never saved
    model, tok, record = load_checkpoint(out)
    assert record["iters_done"] == result.saved_step == 2 and record["best_val"] == 2.0
    assert record["finished"] is True and record["iters_run"] == 4
    assert load_train_state(out) == {}  # a finished run keeps no state to continue
    val = evaluate(model, train_module._encode_splits(text, tok, cfg.block_size)["val"])
    assert record["val_loss"] == pytest.approx(val) and result.val_loss == pytest.approx(val)
    assert load_record(out)["finished"] is True  # the sidecar's copy agrees (no warning)
    with pytest.raises(ResumeError, match=r"its run is finished \(4 iterations; it keeps the best model, "
                                          r"from step 2\)"):
        train(TrainConfig(**{**TINY, "sample_chars": 0}, out=str(out), resume=True), text=text)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    with pytest.raises(SystemExit):
        main(flags + ["--sample-chars=0", f"--out={out}", "--resume"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "its run is finished" in err.strip().splitlines()[-1]


def test_a_run_saved_at_its_end_is_finished_too(tmp_path) -> None:
    from glmlib.checkpoints import load_record
    out = tmp_path / "run"
    text = "to be or not\nto be, that is\nthe question\n" * 20
    result = train(TrainConfig(**TINY, sample_chars=0, out=str(out)), text=text)
    record = load_record(out)
    if result.saved_step == TINY["max_iters"]:
        assert record["finished"] is True and "iters_run" not in record
    else:
        assert record["finished"] is True and record["iters_run"] == TINY["max_iters"]


# ------------------------------------------------------------------ train on your own text

CHINESE = ("床前明月光，疑是地上霜。举头望明月，低头思故乡。\n"
           "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。\n"
           "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。\n") * 6
CLI = ["--block-size=8", "--n-layer=1", "--n-head=2", "--n-embd=16", "--batch-size=4", "--max-iters=4",
       "--warmup-iters=1", "--eval-interval=2", "--eval-iters=1", "--sample-chars=5", "--threads=1",
       "--device=cpu"]


def cli_error(capsys, args: list[str]) -> str:
    from glmlib.train import main
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code in (1, 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_train_on_your_own_chinese_text_from_the_command_line(tmp_path, capsys) -> None:
    import json

    from glmlib.checkpoints import load_checkpoint
    from glmlib.train import main
    path = tmp_path / "诗.txt"
    path.write_text(CHINESE, encoding="utf-8")
    main(CLI + ["--text", str(path), "--out", str(tmp_path / "poems")])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["saved"] == str(tmp_path / "poems.safetensors")
    _, tokenizer, record = load_checkpoint(tmp_path / "poems")
    assert set(tokenizer.itos) == set(CHINESE)  # the vocabulary is the file's characters
    from glmlib.data import corpus_sha256
    assert record["text_sha256"] == corpus_sha256(CHINESE)


def test_the_text_file_is_read_as_utf8_with_windows_line_ends_and_a_bom(tmp_path) -> None:
    from glmlib.data import load_text
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "héllo\r\nwörld\r\n".encode("utf-8"))
    assert load_text(path) == "héllo\nwörld\n"


@pytest.mark.parametrize("make, match", [
    (lambda p: None, r"text file '.*missing\.txt' not found"),
    (lambda p: p.mkdir(), r"is a folder, not a text file"),
    (lambda p: p.write_bytes(b""), r"is empty; training needs text"),
    (lambda p: p.write_bytes(b" \n\n "), r"is empty \(only white space\)"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256))), r"is not a text file: it holds NUL bytes"),
    (lambda p: p.write_text("plain text here", encoding="utf-16"), r"NUL bytes .* UTF-16 text"),
    (lambda p: p.write_bytes("caf\u00e9 cr\u00e8me".encode("latin-1")), r"is not UTF-8 text \(byte 3 is 0xe9\)"),
    (lambda p: p.write_bytes(bytes(range(1, 32)) * 20), r"does not look like text"),
    (lambda p: p.write_text("too short\n", encoding="utf-8"),
     r"'.*missing\.txt' is too short to train on with block_size=8: its validation part has \d+ characters"),
])
def test_a_bad_text_file_is_one_line(tmp_path, capsys, make, match) -> None:
    path = tmp_path / "missing.txt"
    make(path)
    line = cli_error(capsys, CLI + ["--text", str(path)])
    assert re.search(match, line), line
    assert str(path) in line


def test_a_text_too_short_for_a_bpe_batch_is_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "short.txt"
    path.write_text("ab ab ab ab ab ab ab ab ab ab ab ab\n" * 6, encoding="utf-8")  # few tokens once merged
    line = cli_error(capsys, [a for a in CLI if "block-size" not in a]
                     + ["--block-size=20", "--tokenizer=bpe", "--vocab-size=300", "--text", str(path)])
    assert re.search(r"split has \d+ tokens; training needs more than block_size=20", line), line


def test_train_refuses_a_text_that_is_not_a_str_or_is_empty() -> None:
    with pytest.raises(TypeError, match=r"text must be a str .* got bytes"):
        train(TrainConfig(**TINY, sample_chars=0), text=b"abc" * 100)
    with pytest.raises(ValueError, match=r"text is empty \(only white space\)"):
        train(TrainConfig(**TINY, sample_chars=0), text="  \n ")


def test_a_text_of_long_paragraphs_keeps_a_real_validation_part() -> None:
    from glmlib.data import train_val_split
    text = "x" * 9_990 + "\n" + "y" * 9  # the only line break after 90% leaves 9 characters
    train_part, val_part = train_val_split(text)
    assert len(val_part) == 1_000 and train_part + val_part == text
    one_line = "字" * 5_000  # Chinese without a line break: cut at the character
    assert [len(p) for p in train_val_split(one_line)] == [4_500, 500]


# ------------------------------------------------------------------ the corpus cache, a full disk

def test_a_data_dir_that_is_a_file_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    from glmlib import data
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for cache in (blocker / "shakespeare.txt", blocker / "sub" / "shakespeare.txt"):
        monkeypatch.setattr(data, "CACHE_FILE", cache)
        line = cli_error(capsys, CLI)
        assert f"the corpus cache folder {str(cache.parent)!r}" in line and "GLMLIB_DATA_DIR" in line
        assert f"{blocker} is a file" in line or "is a file; set GLMLIB_DATA_DIR" in line


def test_a_cache_file_that_is_a_folder_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    from glmlib import data
    cache = tmp_path / "shakespeare.txt"
    cache.mkdir()
    monkeypatch.setattr(data, "CACHE_FILE", cache)
    with pytest.raises(ValueError, match=r"shakespeare\.txt' is a folder, not the text file it should be"):
        data.load_shakespeare()
    assert "is a folder, not the text file" in cli_error(capsys, CLI)


def full_disk(monkeypatch) -> None:
    import errno
    import os

    from glmlib import checkpoints
    real = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoints.os, "fdopen", lambda *a, **k: Full(real(*a, **k)))


def test_a_save_onto_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    from glmlib.checkpoints import CheckpointWriteError, save_checkpoint
    from glmlib.model import GPT, GPTConfig
    from glmlib.tokenizers import CharTokenizer
    model = GPT(GPTConfig(vocab_size=3, block_size=4, n_layer=1, n_head=1, n_embd=4))
    tok = CharTokenizer.from_text("abc")
    save_checkpoint(model, tok, tmp_path / "kept")
    before = (tmp_path / "kept.safetensors").read_bytes()
    full_disk(monkeypatch)
    with pytest.raises(CheckpointWriteError) as info:
        save_checkpoint(model, tok, tmp_path / "kept")
    assert str(info.value) == (f"cannot write checkpoint {tmp_path / 'kept.safetensors'}: the disk is full "
                               f"(No space left on device); the checkpoint already there is unchanged: "
                               f"free some space or choose another out")
    assert (tmp_path / "kept.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json", "kept.safetensors"]  # no temporary files
    path = tmp_path / "t.txt"
    path.write_text(CHINESE, encoding="utf-8")
    line = cli_error(capsys, CLI + ["--text", str(path), "--out", str(tmp_path / "new")])
    assert line == (f"python -m glmlib.train: error: cannot write checkpoint {tmp_path / 'new.safetensors'}: "
                    f"the disk is full (No space left on device); nothing was saved: free some space or "
                    f"choose another out")


# ------------------------------------------------------------------ tokenizer kinds, NumPy integers

def test_an_unknown_tokenizer_kind_lists_every_known_kind() -> None:
    from glmlib.tokenizers import tokenizer_from_record
    with pytest.raises(ValueError, match=r"unknown tokenizer kind 'words'; this glmlib knows \['bpe', 'char'\]"):
        tokenizer_from_record({"kind": "words"})


def test_generate_takes_numpy_integers_for_max_new_tokens() -> None:
    import numpy as np

    from glmlib.model import GPT, GPTConfig
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=8))
    prompt = torch.zeros(1, 1, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    out = model.generate(prompt, np.int64(3), top_k=np.int32(2), generator=g)
    assert out.shape == (1, 4) and torch.equal(out, model.generate(prompt, 3, top_k=2, generator=g.manual_seed(0)))
    for bad in (True, np.bool_(True), 2.0, np.float64(2), -1, np.int64(-1)):
        with pytest.raises(ValueError, match="max_new_tokens must be an int >= 0"):
            model.generate(prompt, bad)
