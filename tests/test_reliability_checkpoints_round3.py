"""Checkpoints, round three (issue #24): two writers, checksums, names, leftovers of kill -9,
crafted training state, and --resume errors in one line."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import glmlib.train as train_module
from glmlib.checkpoints import (CHECKSUM_KEY, CheckpointConflict, Claim, load_checkpoint, load_train_state,
                                remove_stale_temps, save_checkpoint)
from glmlib.model import GPT, GPTConfig
from glmlib.tokenizers import CharTokenizer
from glmlib.train import ResumeError, TrainConfig, main, train

ROOT = Path(__file__).resolve().parent.parent
TOK = CharTokenizer.from_text("abcde")
RUN = dict(block_size=16, n_layer=1, n_head=2, n_embd=16, batch_size=4, max_iters=6, lr=3e-3, min_lr=3e-4,
           warmup_iters=2, eval_interval=3, eval_iters=1, sample_chars=0, device="cpu", seed=5, threads=1)


def tiny(seed: int) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=8)).eval()


def flip_byte(path: Path, from_end: int) -> None:
    data = bytearray(path.read_bytes())
    data[-from_end] ^= 0x01
    path.write_bytes(bytes(data))


def argv(settings: dict, *more: str) -> list[str]:
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
    return flags + list(more)


def last_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.rstrip("\n").split("\n")[-1]


@pytest.fixture(scope="module")
def text(corpus: str) -> str:
    return corpus[:20_000]


@pytest.fixture(scope="module")
def interrupted(text: str, tmp_path_factory) -> Path:
    """A run of RUN stopped by Ctrl-C just after its checkpoint at step 3."""
    out = tmp_path_factory.mktemp("interrupted") / "run"

    def stop(event: str, state: dict) -> None:
        if event == "eval" and state["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**RUN, out=str(out)), callbacks=[stop], text=text)
    assert load_checkpoint(out)[2]["iters_done"] == 3
    return out


@pytest.fixture
def run_copy(interrupted: Path, tmp_path: Path) -> Path:
    for suffix in (".safetensors", ".json"):
        shutil.copy(interrupted.with_name(interrupted.name + suffix), tmp_path / f"run{suffix}")
    return tmp_path / "run"


# ------------------------------------------------------------------ bug 5: a checksum of the weights

def test_a_flipped_byte_is_refused_naming_the_file(tmp_path) -> None:
    save_checkpoint(tiny(1), TOK, tmp_path / "ckpt", train_state={"adamw.x.exp_avg": torch.ones(4)})
    with safe_open(str(tmp_path / "ckpt.safetensors"), "pt") as f:
        assert len(f.metadata()[CHECKSUM_KEY]) == 64
    for where in (3, 100):  # in the last tensor, and further in
        shutil.copy(tmp_path / "ckpt.safetensors", tmp_path / "bad.safetensors")
        flip_byte(tmp_path / "bad.safetensors", where)
        for load in (load_checkpoint, load_train_state):
            with pytest.raises(ValueError, match=r"bad\.safetensors is damaged: its tensors do not match the "
                                                 r"SHA-256 saved with them"):
                load(tmp_path / "bad")
    assert torch.equal(load_train_state(tmp_path / "ckpt")["adamw.x.exp_avg"], torch.ones(4))


# ------------------------------------------------------------------ bug 1: two writers, one name

def test_a_claimed_save_never_replaces_another_writers_checkpoint(tmp_path) -> None:
    ours = Claim(tmp_path / "ckpt")  # nothing there yet
    save_checkpoint(tiny(2), TOK, tmp_path / "ckpt")  # another run got there first
    theirs = (tmp_path / "ckpt.safetensors").read_bytes()
    with pytest.raises(CheckpointConflict, match=r"ckpt\.safetensors appeared after this run started .*not "
                                                 r"replaced, so this model is not saved"):
        save_checkpoint(tiny(1), TOK, tmp_path / "ckpt", claim=ours)
    assert (tmp_path / "ckpt.safetensors").read_bytes() == theirs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.json", "ckpt.safetensors"]

    mine = Claim(tmp_path / "mine")
    for seed in (1, 2, 3):  # a writer replaces its own file as often as it likes
        save_checkpoint(tiny(seed), TOK, tmp_path / "mine", claim=mine)
    save_checkpoint(tiny(4), TOK, tmp_path / "mine")  # ... until someone else writes it
    with pytest.raises(CheckpointConflict, match=r"mine\.safetensors was replaced after this run started"):
        save_checkpoint(tiny(5), TOK, tmp_path / "mine", claim=mine)


def test_two_runs_with_the_same_out_cannot_both_say_saved(text: str, tmp_path, monkeypatch, capsys) -> None:
    """The second run's checkpoint appears while the first is running: the first stops with one
    line instead of silently replacing it (and printing "saved")."""
    out = tmp_path / "same"
    vals = iter([3.0, 2.0, 1.0])
    monkeypatch.setattr(train_module, "load_shakespeare", lambda: text)
    monkeypatch.setattr(train_module, "estimate_loss", lambda *a: {"train": 1.0, "val": next(vals)})

    def other_run_saves(event: str, state: dict) -> None:
        if event == "eval" and state["step"] == 0:
            save_checkpoint(tiny(9), TOK, out)  # the other run's save, between two of ours

    monkeypatch.setattr(train_module, "_print_progress", other_run_saves)
    with pytest.raises(SystemExit) as info:
        main(argv(RUN, "--out", str(out)))
    assert info.value.code == 1
    line = last_error_line(capsys)
    assert re.fullmatch(r"python -m glmlib\.train: error: checkpoint .*same\.safetensors was replaced after this "
                        r"run started \(another run or program with the same --out\?\); not replaced.*", line), line
    assert load_checkpoint(out)[1].itos == TOK.itos  # the other run's model is intact


def test_a_checkpoint_that_appears_before_the_first_save_is_kept(text: str, tmp_path, monkeypatch) -> None:
    out = tmp_path / "late"

    def estimate(*args):
        if not (tmp_path / "late.safetensors").exists():
            save_checkpoint(tiny(9), TOK, out)
        return {"train": 1.0, "val": 1.0}

    monkeypatch.setattr(train_module, "estimate_loss", estimate)
    with pytest.raises(CheckpointConflict, match=r"late\.safetensors appeared after this run started"):
        train(TrainConfig(**RUN, out=str(out)), text=text)
    assert load_checkpoint(out)[1].itos == TOK.itos


# ------------------------------------------------------------------ names

@pytest.mark.parametrize("name,message", [
    ("runs/", r"a checkpoint needs a file name, got '.*runs/'; to save inside that folder, name the file: "
              r".*runs/model"),
    ("runs", r"'.*runs' is a folder; a checkpoint needs a file name, e\.g\. '.*runs/model'"),
    (".safetensors", r"a checkpoint needs a file name before '\.safetensors', got '.*/\.safetensors'"),
    (".json", r"a checkpoint needs a file name before '\.json'"),
])
def test_a_name_that_is_no_file_name_is_refused(tmp_path, name: str, message: str) -> None:
    (tmp_path / "runs").mkdir()
    path = str(tmp_path) + "/" + name
    with pytest.raises(ValueError, match=message):
        save_checkpoint(tiny(1), TOK, path)
    with pytest.raises(ValueError, match=message):
        train_module.check_out(TrainConfig(**RUN, out=path))
    assert [p.name for p in tmp_path.iterdir()] == ["runs"] and not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("name", ["runs/", "runs", ".safetensors"])
def test_the_command_line_refuses_such_a_name_in_one_line(tmp_path, monkeypatch, capsys, name: str) -> None:
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train_module, "train", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(SystemExit) as info:
        main(argv(RUN, "--out", name))
    assert info.value.code == 2
    assert last_error_line(capsys).startswith("python -m glmlib.train: error: ")
    assert sorted(os.listdir(tmp_path)) == ["runs"]


# ------------------------------------------------------------------ leftovers of kill -9

def test_a_save_removes_what_a_killed_save_left(tmp_path) -> None:
    save_checkpoint(tiny(1), TOK, tmp_path / "ckpt")
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from glmlib.checkpoints import "
         "_write_temp; _write_temp(Path(sys.argv[1]), b'half a checkpoint', 0o644); print('written', "
         "flush=True); time.sleep(120)", str(tmp_path / "ckpt.safetensors")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "written"
    child.send_signal(signal.SIGKILL)  # kill -9 in the middle of a save
    child.wait(timeout=30)
    left = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(f".ckpt.safetensors.{child.pid}.")

    alive = tmp_path / f".ckpt.json.{os.getppid()}.abcdefgh.tmp"  # a save in progress in a live process
    alive.write_bytes(b"")
    old = tmp_path / ".ckpt.json.abcdefgh.tmp"  # an older glmlib's name, without a process id
    old.write_bytes(b"")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    save_checkpoint(tiny(2), TOK, tmp_path / "ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ckpt.json", "ckpt.safetensors", alive.name])
    os.utime(alive, (time.time() - 7200, time.time() - 7200))  # ... unless it is an hour old
    assert remove_stale_temps(tmp_path / "ckpt.json") == [alive]


# ------------------------------------------------------------------ crafted training state, refused by name

def resave(path: Path, record_change=None, state_change=None) -> None:
    """The checkpoint ``path`` written again (a valid checksum) with its record or training state changed."""
    model, tok, record = load_checkpoint(path)
    state = load_train_state(path)
    extra = {k: v for k, v in record.items() if k not in ("config", "tokenizer")}
    if record_change:
        record_change(extra)
    if state_change:
        state_change(state)
    save_checkpoint(model, tok, path, extra, train_state=state)


@pytest.mark.parametrize("change,message", [
    (lambda s: s.update({"rng.batches": torch.zeros(10, dtype=torch.uint8)}),
     r"training state 'rng\.batches' is not a random generator's state \(torch\.uint8 \(10,\); expected uint8 \(5056,\)\)"),
    (lambda s: s.update({"rng.torch": torch.zeros(5056)}),
     r"training state 'rng\.torch' is not a random generator's state \(torch\.float32"),
    (lambda s: s.update({"rng.torch": torch.randint(0, 256, (5056,), dtype=torch.uint8,
                                                    generator=torch.Generator().manual_seed(0))}),
     r"training state 'rng\.torch' is not a random generator's state \(Invalid mt19937 state\)"),
    (lambda s: s.pop("rng.batches"), r"'rng\.batches' is not a random generator's state \(missing"),
    (lambda s: s["adamw.wte.weight.exp_avg"].fill_(float("nan")),
     r"optimizer state 'adamw\.wte\.weight\.exp_avg' holds NaN or infinite values; the file is damaged"),
    (lambda s: s["adamw.ln_f.weight.exp_avg_sq"].fill_(-1.0), r"'adamw\.ln_f\.weight\.exp_avg_sq' has negative"),
    (lambda s: s.pop("adamw.ln_f.bias.exp_avg"), r"optimizer state lacks \['adamw\.ln_f\.bias\.exp_avg'\]"),
    (lambda s: s.update({"adamw.nothing.exp_avg": torch.zeros(2)}), r"has 'adamw\.nothing\.exp_avg', which"),
])
def test_a_crafted_training_state_is_refused_by_name(run_copy: Path, text: str, change, message: str) -> None:
    resave(run_copy, state_change=change)
    with pytest.raises(ResumeError, match=rf"cannot resume .*run\.safetensors: .*{message}"):
        train(TrainConfig(**RUN, out=str(run_copy), resume=True), text=text)


@pytest.mark.parametrize("change,message", [
    (lambda r: r["history"][1].update({"val": "low"}), r"history entry 1 is damaged"),
    (lambda r: r["history"][0].update({"step": 99}), r"history entry 0 is damaged"),
    (lambda r: r["history"].append({"step": 1, "train": 1.0, "val": 1.0}), r"history entry 2 is damaged"),
    (lambda r: r["history"][0].update({"code": "import os"}), r"history entry 0 is damaged"),
    (lambda r: r.update({"best_val": "low"}), r"record of the run is damaged"),
])
def test_a_crafted_history_is_refused_by_name(run_copy: Path, text: str, change, message: str) -> None:
    resave(run_copy, record_change=change)
    with pytest.raises(ResumeError, match=rf"cannot resume .*run\.safetensors: its {message}"):
        train(TrainConfig(**RUN, out=str(run_copy), resume=True), text=text)


def test_the_untouched_copy_resumes(run_copy: Path, text: str) -> None:
    result = train(TrainConfig(**RUN, out=str(run_copy), resume=True), text=text)
    assert [h["step"] for h in result.history] == [0, 3, 6]


# ------------------------------------------------------------------ --resume: one clear line

def test_resume_errors_on_the_command_line_are_one_line(run_copy: Path, text: str, monkeypatch, capsys) -> None:
    monkeypatch.setattr(train_module, "load_shakespeare", lambda: pytest.fail("the corpus was read first"))

    def refused(*more: str, settings=RUN) -> str:
        with pytest.raises(SystemExit) as info:
            main(argv(settings, "--out", str(run_copy), "--resume", *more))
        assert info.value.code == 2
        return last_error_line(capsys)

    line = refused(settings={**RUN, "lr": 0.01})
    assert re.fullmatch(r"python -m glmlib\.train: error: cannot resume .*run\.safetensors with other settings: "
                        r"lr \(saved 0\.003, now 0\.01\); resume with the settings it was started with", line)

    original = run_copy.with_suffix(".safetensors").read_bytes()
    run_copy.with_suffix(".safetensors").write_bytes(original[: len(original) - 100])
    assert re.fullmatch(r"python -m glmlib\.train: error: cannot resume .*run\.safetensors: .*run\.safetensors is "
                        r"not a readable safetensors file \(truncated or corrupt\?\).*", refused())
    run_copy.with_suffix(".safetensors").write_bytes(original)

    monkeypatch.setattr(train_module, "load_shakespeare", lambda: text)
    train(TrainConfig(**RUN, out=str(run_copy), resume=True), text=text)  # the run finishes
    assert re.fullmatch(r"python -m glmlib\.train: error: cannot resume .*run\.safetensors: its run is finished "
                        r"\(6 iterations\)", refused())


def test_a_resume_refused_after_the_text_is_read_is_one_line(run_copy: Path, text: str, monkeypatch,
                                                             capsys) -> None:
    monkeypatch.setattr(train_module, "load_shakespeare", lambda: text[:-1] + "?")
    with pytest.raises(SystemExit) as info:
        main(argv(RUN, "--out", str(run_copy), "--resume"))
    assert info.value.code == 1
    assert re.fullmatch(r"python -m glmlib\.train: error: cannot resume .*run\.safetensors: it was trained on "
                        r"another text", last_error_line(capsys))


def test_saved_names_the_file_written(text: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(train_module, "load_shakespeare", lambda: text)
    main(argv(RUN, "--out", str(tmp_path / "model.safetensors")))
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["saved"] == str(tmp_path / "model.safetensors") and printed["saved_step"] in (0, 3, 6)
    assert sorted(os.listdir(tmp_path)) == ["model.json", "model.safetensors"]
