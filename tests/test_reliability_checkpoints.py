"""Checkpoints: distinct names stay distinct, a save replaces a checkpoint whole or not at all,
and a crafted file is refused before it can allocate anything."""
from __future__ import annotations

import json
import os
import resource
import time
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

import glmlib.model as model_module
from glmlib.data import CharTokenizer
from glmlib.model import (GPT, GPTConfig, checkpoint_paths, load_checkpoint, load_pretrained,
                          load_train_state, save_checkpoint)

TINY = dict(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=8)
TOK = CharTokenizer.from_text("abcde")


def tiny(seed: int) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**TINY)).eval()


def same_weights(a: GPT, b: GPT) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ------------------------------------------------------------------ bug 1: names

def test_names_that_differ_after_a_dot_name_different_checkpoints(tmp_path) -> None:
    m1, m2 = tiny(1), tiny(2)
    save_checkpoint(m1, TOK, tmp_path / "run_lr1e-3.v1")
    save_checkpoint(m2, TOK, tmp_path / "run_lr1e-3.v2")
    assert same_weights(load_checkpoint(tmp_path / "run_lr1e-3.v1")[0], m1)
    assert same_weights(load_checkpoint(tmp_path / "run_lr1e-3.v2")[0], m2)
    assert sorted(os.listdir(tmp_path)) == ["run_lr1e-3.v1.json", "run_lr1e-3.v1.safetensors",
                                            "run_lr1e-3.v2.json", "run_lr1e-3.v2.safetensors"]


def test_the_whole_name_is_kept_and_either_suffix_names_the_same_pair(tmp_path) -> None:
    weights = save_checkpoint(tiny(1), TOK, tmp_path / "ckpt_lr0.001")
    assert weights == tmp_path / "ckpt_lr0.001.safetensors"
    assert (tmp_path / "ckpt_lr0.001.json").exists() and not (tmp_path / "ckpt_lr0.safetensors").exists()
    pair = checkpoint_paths(tmp_path / "ckpt_lr0.001")
    assert checkpoint_paths(tmp_path / "ckpt_lr0.001.safetensors") == pair
    assert checkpoint_paths(str(tmp_path / "ckpt_lr0.001.json")) == pair


def test_the_shipped_name_is_unchanged() -> None:
    assert checkpoint_paths(model_module.PRETRAINED)[0] == model_module.DATA_DIR / "shakespeare_gpt.safetensors"


# ------------------------------------------------------------------ bug 2: one unit

def test_a_save_that_fails_leaves_the_old_checkpoint_intact(tmp_path) -> None:
    m1, m2 = tiny(1), tiny(2)
    save_checkpoint(m1, TOK, tmp_path / "ckpt", extra={"val_loss": 2.0})
    before = files(tmp_path)
    with pytest.raises(TypeError, match=r"extra\['val_loss'\] is a Tensor"):
        save_checkpoint(m2, TOK, tmp_path / "ckpt", extra={"val_loss": torch.tensor(1.0)})
    assert files(tmp_path) == before  # not a byte changed, no temporary file left
    loaded, _, meta = load_checkpoint(tmp_path / "ckpt")
    assert same_weights(loaded, m1) and meta["val_loss"] == 2.0


@pytest.mark.parametrize("failing_call", [1, 2, 3])
def test_an_interrupted_save_leaves_a_loadable_checkpoint(tmp_path, monkeypatch, failing_call: int) -> None:
    """Interrupt the save at each step that touches the disk: the first temporary file, the
    second, or the first rename. The old checkpoint survives, byte for byte."""
    m1, m2 = tiny(1), tiny(2)
    save_checkpoint(m1, TOK, tmp_path / "ckpt")
    before = files(tmp_path)
    calls = {"n": 0}
    real_fsync, real_replace = os.fsync, os.replace

    def interrupt(real):
        def wrapped(*args):
            calls["n"] += 1
            if calls["n"] == failing_call:
                raise KeyboardInterrupt
            return real(*args)
        return wrapped

    # calls 1 and 2 are the fsyncs of the two temporary files; call 3 is the first rename
    monkeypatch.setattr(os, "fsync", interrupt(real_fsync))
    monkeypatch.setattr(os, "replace", interrupt(real_replace))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(m2, TOK, tmp_path / "ckpt")
    monkeypatch.undo()
    assert files(tmp_path) == before
    assert same_weights(load_checkpoint(tmp_path / "ckpt")[0], m1)


def test_a_save_interrupted_between_the_two_renames_loads_the_new_model(tmp_path, monkeypatch) -> None:
    """The safetensors file is the commit: once renamed, the new checkpoint is complete; the
    stale readable copy is reported, not trusted."""
    m1, m2 = tiny(1), tiny(2)
    save_checkpoint(m1, TOK, tmp_path / "ckpt")
    real_replace = os.replace
    calls = []

    def second_rename_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(m2, TOK, tmp_path / "ckpt", extra={"note": "new"})
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["ckpt.json", "ckpt.safetensors"]  # no temporary file left
    with pytest.warns(UserWarning, match=r"ckpt\.json differs from the record inside .*ckpt\.safetensors"):
        loaded, _, meta = load_checkpoint(tmp_path / "ckpt")
    assert same_weights(loaded, m2) and meta["note"] == "new"


def test_the_weights_file_alone_is_a_whole_checkpoint(tmp_path) -> None:
    m = tiny(3)
    save_checkpoint(m, TOK, tmp_path / "ckpt", extra={"note": "inside"})
    copy = json.loads((tmp_path / "ckpt.json").read_text())
    assert copy["note"] == "inside" and copy["config"] == TINY | {"dropout": 0.0, "bias": True, "activation": "gelu"}
    (tmp_path / "ckpt.json").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded, tok, meta = load_checkpoint(tmp_path / "ckpt")
    assert same_weights(loaded, m) and tok.itos == TOK.itos and meta["note"] == "inside"


def test_both_files_get_the_same_usual_permissions(tmp_path) -> None:
    old = os.umask(0o027)
    try:
        save_checkpoint(tiny(1), TOK, tmp_path / "ckpt")
    finally:
        os.umask(old)
    modes = {p.suffix: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {".safetensors": 0o640, ".json": 0o640}


def test_the_training_state_travels_in_the_same_file(tmp_path) -> None:
    state = {"adamw.wte.weight.exp_avg": torch.randn(5, 8), "rng.batch": torch.arange(4, dtype=torch.uint8),
             "step": torch.tensor(3.0)}
    save_checkpoint(tiny(1), TOK, tmp_path / "ckpt", train_state=state)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.json", "ckpt.safetensors"]
    loaded = load_train_state(tmp_path / "ckpt")
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    assert load_checkpoint(tmp_path / "ckpt")[0].config == GPTConfig(**TINY)  # extra tensors do not disturb loading
    save_checkpoint(tiny(1), TOK, tmp_path / "plain")
    assert load_train_state(tmp_path / "plain") == {}


# ------------------------------------------------------------------ bug 5: extra

@pytest.mark.parametrize("key", ["config", "tokenizer"])
def test_extra_cannot_replace_the_config_or_the_tokenizer(tmp_path, key: str) -> None:
    forged = {"config": {**TINY, "n_layer": 3}, "tokenizer": {"chars": "vwxyz"}}[key]
    with pytest.raises(ValueError, match=rf"extra may not set \['{key}'\]"):
        save_checkpoint(tiny(1), TOK, tmp_path / "ckpt", extra={key: forged})
    assert list(tmp_path.iterdir()) == []
    save_checkpoint(tiny(1), TOK, tmp_path / "ckpt", extra={"note": 1})
    _, tok, meta = load_checkpoint(tmp_path / "ckpt")
    assert tok.itos == TOK.itos and meta["config"]["n_layer"] == 1


# ------------------------------------------------------------------ bug 4: crafted configs

def crafted(folder: Path, config: dict) -> Path:
    """The tiny model's weights with a record claiming ``config``, written as the shipped (format 1) files are."""
    model = tiny(0)
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    (folder / "crafted.safetensors").write_bytes(save(state, metadata={"format": "glmlib-gpt"}))
    record = {"config": {**TINY, "dropout": 0.0, "bias": True, "activation": "gelu", **config},
              "tokenizer": TOK.to_dict()}
    (folder / "crafted.json").write_text(json.dumps(record))
    return folder / "crafted"


@pytest.mark.parametrize("config", [
    {"n_layer": 1_000_000_000},  # grew memory without bound
    {"block_size": 100_000_000_000},  # a raw allocator error that did not name the file
    {"n_layer": 100, "n_embd": 1024, "n_head": 8},  # within every bound: 1.3B parameters, 5 GB, if built
    {"block_size": 65536, "n_embd": 8192, "n_head": 8},
])
def test_a_crafted_config_is_refused_before_anything_is_allocated(tmp_path, config: dict) -> None:
    path = crafted(tmp_path, config)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.process_time()  # CPU time: the work done before refusing, not how busy the host is
    with pytest.raises(ValueError, match=r"crafted\.(json|safetensors)"):
        load_checkpoint(path)
    assert time.process_time() - start < 5.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 500 * 1024


def test_the_shipped_checkpoint_still_loads_in_its_original_format() -> None:
    from safetensors import safe_open

    with safe_open(str(checkpoint_paths(model_module.PRETRAINED)[0]), "pt") as f:
        assert f.metadata() == {"format": "glmlib-gpt"}  # format 1: the record is in the .json file
    model, tokenizer = load_pretrained()
    assert model.config.n_layer == 6 and tokenizer.vocab_size == 75
