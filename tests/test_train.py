"""Training: the starting loss, overfitting, a short real run, the schedule, the optimiser, checkpoints."""
from __future__ import annotations

import math

import pytest
import torch

from glmlib.data import get_batch
from glmlib.model import GPT, GPTConfig, load_checkpoint, save_checkpoint
from glmlib.train import TrainConfig, lr_at, make_optimizer, train


def test_initial_loss_is_near_log_vocab(corpus: str, tokenizer) -> None:
    torch.manual_seed(0)
    V = tokenizer.vocab_size
    model = GPT(GPTConfig(vocab_size=V, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()
    data = torch.tensor(tokenizer.encode(corpus[:20_000]))
    x, y = get_batch(data, 16, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, loss = model(x, y)
    assert abs(loss.item() - math.log(V)) < 0.1


def test_overfitting_one_batch_drives_the_loss_near_zero() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32)).train()
    cfg = TrainConfig(lr=1e-2, weight_decay=0.0)
    optimizer = make_optimizer(model, cfg)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randint(20, (4, 16), generator=g), torch.randint(20, (4, 16), generator=g)
    first = None
    for _ in range(60):
        _, loss = model(x, y)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first > 2.5  # random targets: nothing to learn but memorisation
    assert loss.item() < 0.1


TINY_RUN = dict(block_size=32, n_layer=2, n_head=2, n_embd=48, batch_size=16, max_iters=80,
                lr=3e-3, min_lr=3e-4, warmup_iters=10, eval_interval=40, eval_iters=4,
                sample_chars=40, device="cpu", seed=3)




@pytest.fixture(scope="module")
def plays(corpus: str) -> str:
    """The first few plays (400k characters): tokenizing the whole corpus alone takes seconds."""
    return corpus[:400_000]


@pytest.fixture(scope="module")
def short_run(plays: str):
    events: list[tuple[str, dict]] = []
    result = train(TrainConfig(**TINY_RUN), callbacks=[lambda e, s: events.append((e, dict(s)))],
                   text=plays)
    return result, events


@pytest.mark.slow
def test_loss_falls_in_a_short_run_on_shakespeare(short_run) -> None:
    result, _ = short_run
    steps = [h["step"] for h in result.history]
    assert steps == [0, 40, 80]
    first, last = result.history[0], result.history[-1]
    assert abs(first["train"] - math.log(result.tokenizer.vocab_size)) < 0.15
    assert last["train"] < first["train"] - 1.0
    assert last["val"] < first["val"] - 1.0
    assert isinstance(last["sample"], str) and len(last["sample"]) == TINY_RUN["sample_chars"]


@pytest.mark.slow
def test_callbacks_see_every_step_with_the_scheduled_lr(short_run) -> None:
    result, events = short_run
    steps = [s for e, s in events if e == "step"]
    cfg = TrainConfig(**TINY_RUN)
    assert [s["step"] for s in steps] == list(range(cfg.max_iters))
    assert [s["lr"] for s in steps] == [lr_at(i, cfg) for i in range(cfg.max_iters)]
    assert all(math.isfinite(s["loss"]) for s in steps)
    assert [s for e, s in events if e == "eval"] == result.history


def test_the_same_seed_trains_the_same_model(plays: str) -> None:
    run = lambda seed: train(TrainConfig(**{**TINY_RUN, "max_iters": 5, "eval_interval": 5,  # noqa: E731
                                            "sample_chars": 0, "seed": seed}), text=plays[:50_000])
    first, second, other = run(1), run(1), run(2)
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(first.model.wte.weight, other.model.wte.weight)


def test_checkpoint_round_trips_exactly(make_gpt, tmp_path) -> None:
    from glmlib.data import CharTokenizer

    tokenizer = CharTokenizer.from_text("abcdefghijklm")  # 13 tokens, the tiny config's vocabulary
    model = make_gpt(seed=4)
    path = save_checkpoint(model, tokenizer, tmp_path / "ckpt", extra={"note": "round trip"})
    assert path.suffix == ".safetensors" and path.with_suffix(".json").exists()
    loaded, loaded_tok, meta = load_checkpoint(tmp_path / "ckpt")
    assert loaded.config == model.config
    assert loaded_tok.itos == tokenizer.itos
    assert meta["note"] == "round trip"
    ours, theirs = model.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name
    assert loaded.lm_head.weight is loaded.wte.weight
    prompt = torch.tensor([tokenizer.encode("abc")])
    gen = lambda m: tokenizer.decode(m.generate(prompt, 30, generator=torch.Generator().manual_seed(9))[0])  # noqa: E731
    assert gen(loaded) == gen(model)
    # the .json and bare paths name the same checkpoint
    assert load_checkpoint(tmp_path / "ckpt.json")[0].config == model.config


def test_lr_warms_up_linearly_then_decays_by_cosine() -> None:
    cfg = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_iters=10, max_iters=110)
    warm = [lr_at(i, cfg) for i in range(10)]
    assert warm == pytest.approx([1e-3 * (i + 1) / 10 for i in range(10)])
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx((1e-3 + 1e-4) / 2)  # half way through the decay
    assert lr_at(35, cfg) == pytest.approx(1e-4 + 0.5 * (1 + math.cos(math.pi / 4)) * 9e-4)
    assert lr_at(110, cfg) == pytest.approx(1e-4)
    assert lr_at(500, cfg) == pytest.approx(1e-4)  # stays at the floor afterwards
    decay = [lr_at(i, cfg) for i in range(10, 111)]
    assert all(a > b for a, b in zip(decay, decay[1:]))


def test_lr_without_warmup_starts_at_the_peak() -> None:
    cfg = TrainConfig(lr=2e-3, min_lr=0.0, warmup_iters=0, max_iters=50)
    assert lr_at(0, cfg) == pytest.approx(2e-3)
    assert lr_at(50, cfg) == pytest.approx(0.0)


def test_adamw_decays_only_matrices(make_gpt) -> None:
    model = make_gpt()
    optimizer = make_optimizer(model, TrainConfig(weight_decay=0.1))
    by_decay = {g["weight_decay"]: {id(p) for p in g["params"]} for g in optimizer.param_groups}
    assert set(by_decay) == {0.1, 0.0}
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[i] for i in by_decay[0.1]}
    plain = {names[i] for i in by_decay[0.0]}
    assert not decayed & plain and decayed | plain == set(names.values())
    for name in decayed:
        assert name.endswith(("attn.qkv.weight", "attn.proj.weight", "ffn.fc.weight", "ffn.proj.weight")), name
    for name in plain:
        assert name.endswith("bias") or ".ln_" in name or name.startswith(("ln_f.", "wte.", "wpe.")), name
    assert {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"} <= plain
    assert len(decayed) == 4 * model.config.n_layer


def test_adamw_steps_match_the_reference_implementation(make_gpt) -> None:
    """Whatever kernel make_optimizer picks (fused on CPU), its updates are PyTorch's
    single-tensor AdamW with the same groups, to float32 rounding."""
    cfg = TrainConfig(weight_decay=0.1, lr=3e-3)
    ours_model, ref_model = make_gpt(seed=1), make_gpt(seed=1)
    ours = make_optimizer(ours_model, cfg)
    ref_params = dict(ref_model.named_parameters())
    names = {id(p): n for n, p in ours_model.named_parameters()}
    ref = torch.optim.AdamW([{"params": [ref_params[names[id(p)]] for p in g["params"]],
                              "weight_decay": g["weight_decay"]} for g in ours.param_groups],
                            lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), foreach=False)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        for p in ours_model.parameters():
            grad = torch.randn(p.shape, generator=g)
            p.grad, ref_params[names[id(p)]].grad = grad.clone(), grad.clone()
        ours.step()
        ref.step()
    for name, p in ours_model.named_parameters():
        torch.testing.assert_close(p, ref_params[name], atol=1e-6, rtol=1e-5, msg=name)


def test_a_saved_run_records_its_whole_split_validation_loss(plays: str, tmp_path) -> None:
    """With ``out``, the last checkpoint holds the trained weights and their loss on the whole val split."""
    from glmlib.data import train_val_split
    from glmlib.train import evaluate

    cfg = TrainConfig(**{**TINY_RUN, "max_iters": 6, "eval_interval": 3, "sample_chars": 0,
                         "out": str(tmp_path / "run")})
    result = train(cfg, text=plays[:50_000])
    loaded, tok, meta = load_checkpoint(tmp_path / "run")
    for a, b in zip(result.model.parameters(), loaded.parameters()):
        assert torch.equal(a, b)
    val = tok.encode_tensor(train_val_split(plays[:50_000])[1])
    assert meta["iters_done"] == 6 and [h["step"] for h in meta["history"]] == [0, 3, 6]
    assert meta["val_loss"] == pytest.approx(evaluate(loaded, val), abs=1e-6)
    assert meta["val_loss"] == result.val_loss
