"""The GPT checked against Hugging Face's GPT-2, built offline from a config with our weights copied in."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from glmlib.model import GPT, GPTConfig

from transformers import GPT2Config, GPT2LMHeadModel

CFG = dict(vocab_size=23, block_size=12, n_layer=3, n_head=4, n_embd=32)


def randomised_gpt(seed: int = 0, **overrides) -> GPT:
    """A GPT whose every parameter (biases and LayerNorms included) is random, so all of them matter."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**{**CFG, **overrides})).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_norm = ".ln_" in name or name.startswith("ln_f.")
            if is_norm and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.3 if p.dim() == 1 else 0.1)
    return model


def hf_twin(model: GPT, attn_implementation: str = "eager") -> GPT2LMHeadModel:
    """A ``GPT2LMHeadModel`` holding ``model``'s weights (HF's Conv1D stores them transposed)."""
    c = model.config
    hf_config = GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
        n_head=c.n_head, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=None,
        attn_implementation=attn_implementation,  # "eager" can return attention weights
    )
    hf = GPT2LMHeadModel(hf_config).eval()
    with torch.no_grad():
        hf.transformer.wte.weight.copy_(model.wte.weight)
        hf.transformer.wpe.weight.copy_(model.wpe.weight)
        for ours, theirs in zip(model.blocks, hf.transformer.h):
            pairs = [
                (ours.ln_1, theirs.ln_1), (ours.ln_2, theirs.ln_2),
            ]
            for a, b in pairs:
                b.weight.copy_(a.weight)
                b.bias.copy_(a.bias)
            for a, b in [(ours.attn.qkv, theirs.attn.c_attn), (ours.attn.proj, theirs.attn.c_proj),
                         (ours.ffn.fc, theirs.mlp.c_fc), (ours.ffn.proj, theirs.mlp.c_proj)]:
                b.weight.copy_(a.weight.T)  # Conv1D: (in, out); nn.Linear: (out, in)
                b.bias.copy_(a.bias)
        hf.transformer.ln_f.weight.copy_(model.ln_f.weight)
        hf.transformer.ln_f.bias.copy_(model.ln_f.bias)
    assert hf.lm_head.weight.data_ptr() == hf.transformer.wte.weight.data_ptr()
    return hf


def tokens(seed: int, B: int = 3, T: int = CFG["block_size"], V: int = CFG["vocab_size"]) -> torch.Tensor:
    return torch.randint(V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def pair() -> tuple[GPT, GPT2LMHeadModel]:
    model = randomised_gpt()
    return model, hf_twin(model)


@torch.no_grad()
def test_logits_match_hugging_face_gpt2(pair) -> None:
    model, hf = pair
    idx = tokens(1)
    logits, loss = model(idx)
    assert loss is None and logits.shape == (3, CFG["block_size"], CFG["vocab_size"])
    torch.testing.assert_close(logits, hf(idx).logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, hf_twin(model, "sdpa")(idx).logits, atol=1e-5, rtol=1e-5)
    # a shorter input uses the first positions only
    torch.testing.assert_close(model(idx[:, :5])[0], hf(idx[:, :5]).logits, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_loss_matches_hugging_face_gpt2(pair) -> None:
    model, hf = pair
    idx = tokens(2)
    # HF shifts the labels inside: logits at t are scored against idx[t + 1]
    hf_loss = hf(idx, labels=idx).loss
    _, loss = model(idx[:, :-1], targets=idx[:, 1:])
    torch.testing.assert_close(loss, hf_loss, atol=1e-5, rtol=1e-5)
    by_hand = F.cross_entropy(model(idx)[0][:, :-1].reshape(-1, CFG["vocab_size"]), idx[:, 1:].reshape(-1))
    torch.testing.assert_close(loss, by_hand, atol=1e-6, rtol=1e-6)


@torch.no_grad()
def test_attention_maps_match_hugging_face_gpt2(pair) -> None:
    model, hf = pair
    idx = tokens(3, B=2, T=9)
    maps = model.attention_maps(idx)
    L, H = CFG["n_layer"], CFG["n_head"]
    assert maps.shape == (L, 2, H, 9, 9)
    theirs = torch.stack(hf(idx, output_attentions=True).attentions)
    torch.testing.assert_close(maps, theirs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(maps.sum(-1), torch.ones(L, 2, H, 9))
    future = ~torch.ones(9, 9, dtype=torch.bool).tril()
    assert torch.equal(maps[..., future], torch.zeros_like(maps[..., future]))


def test_attention_maps_restore_training_mode() -> None:
    model = randomised_gpt().train()
    model.attention_maps(tokens(4, B=1, T=4))
    assert model.training


@torch.no_grad()
def test_relu_variant_uses_relu() -> None:
    model = randomised_gpt(activation="relu")
    x = torch.randn(2, 5, CFG["n_embd"])
    ffn = model.blocks[0].ffn
    torch.testing.assert_close(ffn(x), ffn.proj(torch.relu(ffn.fc(x))))


@pytest.mark.parametrize("t", [0, 3, 7, CFG["block_size"] - 2])
@torch.no_grad()
def test_future_tokens_never_change_past_logits(t: int) -> None:
    model = randomised_gpt(seed=5)
    idx = tokens(5, B=2)
    changed = idx.clone()
    changed[:, t + 1:] = (idx[:, t + 1:] + 1 + tokens(6, B=2)[:, t + 1:] % 5) % CFG["vocab_size"]
    assert (changed[:, t + 1:] != idx[:, t + 1:]).all()
    before, after = model(idx)[0], model(changed)[0]
    torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1], atol=1e-6, rtol=0)
    # and the change is visible where it is allowed to be (so the check has teeth)
    assert (after[:, t + 1:] - before[:, t + 1:]).abs().max() > 1e-3
    maps_before, maps_after = model.attention_maps(idx), model.attention_maps(changed)
    torch.testing.assert_close(maps_after[..., : t + 1, :], maps_before[..., : t + 1, :], atol=1e-6, rtol=0)


def test_output_head_is_tied_to_the_token_embedding() -> None:
    model = GPT(GPTConfig(**CFG))
    assert model.lm_head.weight is model.wte.weight
    idx = tokens(7, B=1, T=4)
    _, loss = model(idx[:, :-1], idx[:, 1:])
    loss.backward()
    assert model.wte.weight.grad is not None
    # the gradient holds both uses: as embedding rows and as output-head rows
    unused = sorted(set(range(CFG["vocab_size"])) - set(idx[0, :-1].tolist()))
    assert model.wte.weight.grad[unused].abs().sum() > 0


def expected_param_count(c: GPTConfig) -> int:
    """GPT-2 layout: tied embedding, learned positions, L blocks, final LayerNorm."""
    C = c.n_embd
    ln = 2 * C if c.bias else C
    linear = lambda n_in, n_out: n_in * n_out + (n_out if c.bias else 0)  # noqa: E731
    block = 2 * ln + linear(C, 3 * C) + linear(C, C) + linear(C, 4 * C) + linear(4 * C, C)
    return c.vocab_size * C + c.block_size * C + c.n_layer * block + ln


@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count_formula(bias: bool) -> None:
    config = GPTConfig(**{**CFG, "bias": bias})
    model = GPT(config)
    C, L = config.n_embd, config.n_layer
    if bias:  # the textbook form: 12 C^2 + 13 C per block
        per_block = 12 * C * C + 13 * C
        assert expected_param_count(config) == (config.vocab_size * C + config.block_size * C
                                                + L * per_block + 2 * C)
    assert model.num_params() == expected_param_count(config)
    assert model.num_params() == sum(p.numel() for p in set(model.parameters()))
    assert model.num_params(non_embedding=True) == expected_param_count(config) - config.block_size * C


def test_gpt2_initialisation() -> None:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=64, block_size=64, n_layer=4, n_head=4, n_embd=256)
    model = GPT(config)
    residual_std = 0.02 / math.sqrt(2 * config.n_layer)
    for name, p in model.named_parameters():
        if ".ln_" in name or name.startswith("ln_f"):
            expected = torch.ones_like(p) if name.endswith("weight") else torch.zeros_like(p)
            assert torch.equal(p, expected), name
        elif name.endswith("bias"):
            assert torch.equal(p, torch.zeros_like(p)), name
        else:
            std = residual_std if name.endswith(("attn.proj.weight", "ffn.proj.weight")) else 0.02
            assert abs(p.std().item() - std) < 0.05 * std, (name, p.std().item(), std)
            assert abs(p.mean().item()) < 0.1 * std, name


def test_initial_logits_are_nearly_uniform() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(**CFG)).eval()
    idx = tokens(8)
    _, loss = model(idx[:, :-1], idx[:, 1:])
    assert abs(loss.item() - math.log(CFG["vocab_size"])) < 0.05


def test_dropout_is_active_only_in_training() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(**{**CFG, "dropout": 0.5}))
    idx = tokens(9, B=1)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(idx)[0], model(idx)[0])
        model.train()
        assert not torch.equal(model(idx)[0], model(idx)[0])


def test_layer_norm_epsilon_is_gpt2s() -> None:
    model = GPT(GPTConfig(**CFG))
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * CFG["n_layer"] + 1
    assert all(m.eps == 1e-5 for m in norms)
