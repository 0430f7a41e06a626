"""Reliability, round three (issue #24): a text without a newline, a run that ends on a worse model,
cache and save errors in one line, tokenizer kinds, NumPy integers, and training on your own text."""
from __future__ import annotations

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
