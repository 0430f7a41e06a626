"""Training keeps every model it was given: no overwrite unless asked, never a worse model,
a resumable checkpoint, a diverged run stopped where it happened, clear CLI errors."""
from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import pytest
import torch

import glmlib.train as train_module
from glmlib.model import GPT, PRETRAINED, checkpoint_paths, load_checkpoint, save_checkpoint
from glmlib.train import (PRESETS, TrainConfig, TrainingDiverged, estimate_loss, evaluate, main, preset,
                          train)

RUN = dict(block_size=16, n_layer=2, n_head=2, n_embd=32, batch_size=8, max_iters=12, lr=3e-3,
           min_lr=3e-4, warmup_iters=3, eval_interval=3, eval_iters=2, sample_chars=0, device="cpu",
           seed=5, dropout=0.1)  # dropout: the global random state matters for resuming too


@pytest.fixture(scope="module")
def text(corpus: str) -> str:
    return corpus[:60_000]


def losses_of(events: list) -> list[float]:
    return [s["loss"] for e, s in events if e == "step"]


def recorder(events: list, stop_at_eval: int | None = None):
    def callback(event: str, state: dict) -> None:
        events.append((event, dict(state)))
        if event == "eval" and state["step"] == stop_at_eval:
            raise KeyboardInterrupt  # Ctrl-C, just after the checkpoint of this evaluation
    return callback


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def digest(base: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in checkpoint_paths(base) if p.exists()}


# ------------------------------------------------------------------ resume

@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_result(text: str, tmp_path) -> None:
    whole: list = []
    full = train(TrainConfig(**RUN, out=str(tmp_path / "whole")), callbacks=[recorder(whole)], text=text)

    first: list = []
    cfg = TrainConfig(**RUN, out=str(tmp_path / "halves"))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callbacks=[recorder(first, stop_at_eval=6)], text=text)
    _, _, record = load_checkpoint(tmp_path / "halves")
    assert record["iters_done"] == 6 and len(losses_of(first)) == 6

    second: list = []
    resumed = train(TrainConfig(**RUN, out=str(tmp_path / "halves"), resume=True),
                    callbacks=[recorder(second)], text=text)
    assert losses_of(first) + losses_of(second) == losses_of(whole)  # exactly, step by step
    assert same_weights(resumed.model, full.model)
    assert [h["step"] for h in resumed.history] == [h["step"] for h in full.history] == [0, 3, 6, 9, 12]
    assert [h["val"] for h in resumed.history] == [h["val"] for h in full.history]
    ours, theirs = load_checkpoint(tmp_path / "halves"), load_checkpoint(tmp_path / "whole")
    assert same_weights(ours[0], theirs[0]) and ours[2]["iters_done"] == theirs[2]["iters_done"] == 12
    assert ours[2]["val_loss"] == theirs[2]["val_loss"] == resumed.val_loss


def test_resume_refuses_other_settings_another_text_or_a_finished_run(text: str, tmp_path) -> None:
    out = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**{**RUN, "max_iters": 6}, out=out), callbacks=[recorder([], stop_at_eval=3)], text=text)
    with pytest.raises(ValueError, match=r"other settings: lr \(saved 0\.003, now 0\.01\)"):
        train(TrainConfig(**{**RUN, "max_iters": 6, "lr": 1e-2}, out=out, resume=True), text=text)
    with pytest.raises(ValueError, match=r"trained on another text"):
        train(TrainConfig(**{**RUN, "max_iters": 6}, out=out, resume=True), text=text[:-1] + "?")
    train(TrainConfig(**{**RUN, "max_iters": 6, "sample_chars": 5}, out=out, resume=True), text=text)
    with pytest.raises(ValueError, match=r"run is finished \(6 iterations\)"):
        train(TrainConfig(**{**RUN, "max_iters": 6}, out=out, resume=True), text=text)


def test_a_model_saved_by_hand_cannot_be_resumed(make_gpt, text: str, tmp_path) -> None:
    from glmlib.data import CharTokenizer

    save_checkpoint(make_gpt(), CharTokenizer.from_text("abcdefghijklm"), tmp_path / "plain")
    with pytest.raises(ValueError, match=r"plain\.safetensors: it holds no training run to continue"):
        train(TrainConfig(**RUN, out=str(tmp_path / "plain"), resume=True), text=text)
    with pytest.raises(FileNotFoundError, match=r"cannot resume: checkpoint .*nothing\.safetensors not found"):
        train(TrainConfig(**RUN, out=str(tmp_path / "nothing"), resume=True), text=text)


# ------------------------------------------------------------------ never overwrite, never worse

@pytest.fixture
def no_corpus(monkeypatch):
    """Fail the test if the corpus is read or a model built: checks must come first."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the corpus was read or a model built before the settings were checked")
    monkeypatch.setattr(train_module, "load_shakespeare", forbidden)
    monkeypatch.setattr(train_module, "GPT", forbidden)


def test_an_existing_checkpoint_is_not_replaced_unless_asked(make_gpt, tmp_path, no_corpus) -> None:
    from glmlib.data import CharTokenizer

    save_checkpoint(make_gpt(), CharTokenizer.from_text("abcdefghijklm"), tmp_path / "mine")
    before = digest(tmp_path / "mine")
    with pytest.raises(FileExistsError, match=r"mine\.safetensors already exists; pass --overwrite"):
        train(TrainConfig(**RUN, out=str(tmp_path / "mine")))
    (tmp_path / "mine.safetensors").unlink()  # a lone readable copy is protected too
    with pytest.raises(FileExistsError):
        train(TrainConfig(**RUN, out=str(tmp_path / "mine.json")))
    assert digest(tmp_path / "mine") == {k: v for k, v in before.items() if k.endswith(".json")}


def test_overwrite_replaces_it(make_gpt, text: str, tmp_path) -> None:
    from glmlib.data import CharTokenizer

    save_checkpoint(make_gpt(), CharTokenizer.from_text("abcdefghijklm"), tmp_path / "mine")
    result = train(TrainConfig(**{**RUN, "max_iters": 3}, out=str(tmp_path / "mine"), overwrite=True), text=text)
    assert same_weights(load_checkpoint(tmp_path / "mine")[0], result.model)


def test_a_checkpoint_is_only_replaced_by_a_better_model(text: str, tmp_path, monkeypatch) -> None:
    vals = iter([3.0, 2.0, 2.5, 1.5, 1.7])  # the validation estimates at steps 0, 3, 6, 9, 12
    monkeypatch.setattr(train_module, "estimate_loss", lambda *a: {"train": 1.0, "val": next(vals)})
    saved: list[int] = []
    real_save = train_module.save_checkpoint
    monkeypatch.setattr(train_module, "save_checkpoint",
                        lambda m, t, p, extra, **kw: saved.append(extra["iters_done"]) or real_save(m, t, p, extra, **kw))
    result = train(TrainConfig(**RUN, out=str(tmp_path / "best")), text=text)
    assert saved == [0, 3, 9]
    record = load_checkpoint(tmp_path / "best")[2]
    assert record["iters_done"] == result.saved_step == 9 and record["best_val"] == 1.5
    assert [h["step"] for h in record["history"]] == [0, 3, 6, 9]


def test_the_retrain_command_cannot_touch_the_shipped_model(monkeypatch, capsys) -> None:
    """data/README.md's command writes elsewhere; pointed at data/ it stops before any work."""
    assert not Path(PRESETS["shipped"]["out"]).is_relative_to("data")
    before = digest(PRETRAINED)
    monkeypatch.setattr(train_module, "train", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as info:
        main(["--preset", "shipped", "--threads", "1", "--out", str(PRETRAINED)])
    assert info.value.code == 2
    assert "shakespeare_gpt.safetensors already exists; pass --overwrite" in capsys.readouterr().err
    assert digest(PRETRAINED) == before


# ------------------------------------------------------------------ divergence

def test_a_diverged_run_stops_where_the_loss_turns_nan(text: str, tmp_path, monkeypatch) -> None:
    built: list[GPT] = []

    class Recorded(GPT):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    def poison(event: str, state: dict) -> None:
        if event == "step" and state["step"] == 4:
            with torch.no_grad():
                built[0].ln_f.weight.fill_(float("nan"))  # what one too-large step does

    monkeypatch.setattr(train_module, "GPT", Recorded)
    with pytest.raises(TrainingDiverged, match=r"training diverged at step 5: the loss is nan; last good "
                                               r"checkpoint: .*run\.safetensors \(step 3\)"):
        train(TrainConfig(**RUN, out=str(tmp_path / "run")), callbacks=[poison], text=text)
    _, _, record = load_checkpoint(tmp_path / "run")  # the last good model: finite, loadable
    assert record["iters_done"] == 3


def test_a_huge_learning_rate_is_reported_as_divergence(text: str) -> None:
    cfg = TrainConfig(**{**RUN, "lr": 50.0, "min_lr": 0.0, "max_iters": 60, "eval_interval": 60})
    with pytest.raises(TrainingDiverged, match=r"training diverged at step \d+: the (loss|gradient norm) is "
                                               r"(nan|inf); no checkpoint was saved \(out is not set\)\. "
                                               r"Try a smaller lr \(now 50\.0\)"):
        train(cfg, text=text)


# ------------------------------------------------------------------ the model's mode, threads, short texts

def test_evaluate_and_estimate_loss_restore_training_mode_after_an_error(make_gpt) -> None:
    model = make_gpt().train()
    bad = torch.full((40,), 99)  # ids out of the vocabulary
    with pytest.raises(ValueError, match=r"token ids"):
        evaluate(model, bad)
    assert model.training
    with pytest.raises(ValueError, match=r"token ids"):
        estimate_loss(model, {"val": bad}, TrainConfig(block_size=16, batch_size=2, eval_iters=1),
                      torch.device("cpu"))
    assert model.training
    model.eval()
    evaluate(model, torch.arange(40) % 13)
    assert not model.training  # and an eval-mode model stays in eval mode


def test_threads_are_restored_after_a_run(text: str) -> None:
    before = torch.get_num_threads()
    train(TrainConfig(**{**RUN, "max_iters": 1, "eval_interval": 1, "threads": 1}), text=text)
    assert torch.get_num_threads() == before


def test_a_text_without_blank_lines_trains(tmp_path) -> None:
    text = "".join(f"line {i} of a diary\n" for i in range(400))
    assert "\n\n" not in text
    result = train(TrainConfig(**{**RUN, "max_iters": 3}), text=text)
    assert len(result.history) == 2 and math.isfinite(result.history[-1]["val"])


def test_a_text_too_short_for_the_context_names_the_split() -> None:
    text = "".join(f"line {i}\n" for i in range(30))  # 228 characters: validation gets 23
    with pytest.raises(ValueError, match=r"the val split has \d+ characters; training needs more than "
                                         r"block_size=32: give a longer text or a smaller block_size"):
        train(TrainConfig(**{**RUN, "block_size": 32}), text=text)


# ------------------------------------------------------------------ the command line

@pytest.mark.parametrize("argv,message", [
    (["--lr", "inf"], r"lr must be a finite number, got inf"),
    (["--grad-clip", "nan"], r"grad_clip must be a finite number, got nan"),
    (["--weight-decay", "-1"], r"weight_decay must be >= 0, got -1\.0"),
    (["--out", ""], r"out must be a non-empty path, got ''"),
    (["--threads", "0"], r"threads must be an int >= 1, got 0"),
    (["--threads", "-1"], r"threads must be an int >= 1, got -1"),
    (["--seed", "99999999999999999999999"], r"seed must be an int in \[0, 9223372036854775806\], got 99999999999999999999999"),
    (["--max-iters", "2.5"], r"argument --max-iters: invalid int value: '2\.5'"),
    (["--device", "gpu"], r"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got 'gpu'"),
    (["--n-embd", "30"], r"n_embd \(30\) must be divisible by n_head \(4\)"),
    (["--beta2", "1"], r"beta1 and beta2 must be in \[0, 1\)"),
    (["--resume"], r"resume needs out"),
    (["--overwrite", "--resume", "--out", "x"], r"choose overwrite .* or resume .*not both"),
    (["--out", "{file}/model"], r"cannot write out='.*a_file/model': .*a_file is a file, not a folder"),
])
def test_cli_configuration_errors_are_one_line_before_any_work(argv, message, tmp_path, capsys, no_corpus) -> None:
    (tmp_path / "a_file").write_text("")
    argv = [a.replace("{file}", str(tmp_path / "a_file")) for a in argv]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    last = err.rstrip("\n").split("\n")[-1]
    assert last.startswith("python -m glmlib.train: error: "), err
    assert re.search(message, last), last
    assert "Traceback" not in err


def test_a_diverged_cli_run_ends_with_one_line(monkeypatch, capsys) -> None:
    def diverge(*args, **kwargs):
        raise TrainingDiverged("training diverged at step 7: the loss is nan; no checkpoint was saved")
    monkeypatch.setattr(train_module, "train", diverge)
    with pytest.raises(SystemExit) as info:
        main(["--max-iters", "10"])
    assert info.value.code == 1
    assert capsys.readouterr().err == ("python -m glmlib.train: error: training diverged at step 7: the loss "
                                       "is nan; no checkpoint was saved\n")


def test_the_shipped_preset_is_unchanged_but_for_where_it_writes() -> None:
    cfg = preset("shipped")
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size, cfg.max_iters, cfg.lr) == (6, 4, 160, 128, 3500, 2e-3)
    assert cfg.out == "runs/shakespeare_gpt" and not cfg.overwrite and not cfg.resume
