# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Attention
#
# Attention is how a token gathers information from the other tokens of its
# context. It is the one place in a GPT where positions talk to each other;
# everything else works on each position separately. This notebook builds it
# from scratch, explains (and measures) every design choice, checks it against
# PyTorch, and then looks inside the trained model to see what its heads
# attend to.
#
# **You will learn to**
# - compute dot-product scores, turn them into weights with a softmax, and mix
#   the values with them;
# - explain, with a measurement, why the scores are divided by $\sqrt{d_k}$;
# - write one attention head and then multi-head attention (split, attend,
#   concatenate, $W_O$), and check both against
#   `torch.nn.functional.scaled_dot_product_attention` and
#   `torch.nn.MultiheadAttention` with the same weights;
# - read attention maps of the trained Shakespeare model.
#
# **Builds on:** 02 (tokens become vectors via an embedding) and 03 (the causal
# mask: query $i$ may attend key $j$ iff $j \le i$; boolean `True` = may attend).

# %%
import math

import matplotlib.pyplot as plt
from matplotlib import colors
import torch
import torch.nn.functional as F
from torch import nn

import glmlib.exercises.attention as ex
from glmlib import masks
from glmlib.attention import MultiHeadAttention, scaled_dot_product_attention
from glmlib.data import visible
from glmlib.model import GPT, load_pretrained

torch.manual_seed(0)
plt.rcParams.update({"figure.dpi": 90, "font.size": 10})


# %% [markdown]
# ## 1. The idea: a soft lookup
#
# Think of a Python dictionary: you present a key, you get back exactly one
# value. Attention is a *soft* version of that lookup. Every position $j$
# offers a **key** $k_j$ (what it is about) and a **value** $v_j$ (what it
# will hand over). A position $i$ that wants information presents a **query**
# $q_i$ (what it is looking for). It compares its query with every key,
# turns the match scores into weights that sum to one, and receives the
# weighted average of the values.
#
# In self-attention all three come from the same token vectors $X \in \mathbb{R}^{T \times C}$
# (one row per position) through three learned matrices:
#
# $$ Q = X W_Q,\quad K = X W_K,\quad V = X W_V, \qquad W_Q, W_K \in \mathbb{R}^{C \times d_k},\; W_V \in \mathbb{R}^{C \times d_v}. $$
#
# Then, with the additive mask $A$ of notebook 03 ($0$ allowed, $-\infty$ blocked),
#
# $$
# \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + A\right) V,
# $$
#
# where the softmax acts on each row. Written per query $i$:
#
# $$
# s_{ij} = \frac{q_i \cdot k_j}{\sqrt{d_k}}, \qquad
# w_{ij} = \frac{e^{\,s_{ij} + A_{ij}}}{\sum_{j'} e^{\,s_{ij'} + A_{ij'}}}, \qquad
# y_i = \sum_j w_{ij}\, v_j .
# $$
#
# Each row $w_{i\cdot}$ is a probability distribution over the keys, and $y_i$
# is a convex combination of value vectors.

# %% [markdown]
# ## 2. Scores and softmax by hand
#
# Three keys in two dimensions pointing in different directions, and a query
# that points roughly like key 1. The dot product is large when two vectors
# point the same way, zero when they are perpendicular, negative when opposite.

# %%
# NBVAL_CHECK_OUTPUT
keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])        # (3 keys, d_k=2)
values = torch.tensor([[10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]])  # (3 keys, d_v=2)
query = torch.tensor([0.5, 2.0])                                   # (d_k,)

scores = keys @ query / math.sqrt(2)     # (3,)
weights = torch.softmax(scores, dim=0)   # (3,), sums to 1
output = weights @ values                # (d_v,)
print("scores :", scores.numpy().round(3))
print("weights:", weights.numpy().round(3), " sum =", round(weights.sum().item(), 6))
print("output :", output.numpy().round(3))

# %% [markdown]
# Key 1 matches best and gets most of the weight, so the output is mostly
# value 1, with a little of the others mixed in.
#
# **The softmax.** $\operatorname{softmax}(s)_j = e^{s_j} / \sum_{j'} e^{s_{j'}}$
# makes any real scores positive and normalised. Two properties matter here:
#
# 1. *Shift invariance:* $\operatorname{softmax}(s + c) = \operatorname{softmax}(s)$ for any
#    constant $c$, because $e^{c}$ cancels. Implementations subtract $\max_j s_j$
#    first so that `exp` never overflows (exercise 1).
# 2. *Scale is sharpness:* $\operatorname{softmax}(\lambda s)$ tends to a one-hot
#    vector at the largest score as $\lambda \to \infty$, and to uniform as
#    $\lambda \to 0$. The *size* of the scores decides how peaked the weights are.

# %%
s = torch.tensor([1.0, 2.0, 3.0])
for lam in (0.1, 1.0, 10.0):
    print(f"softmax({lam:>4} * [1, 2, 3]) =", torch.softmax(lam * s, 0).numpy().round(3))
print("shift invariant:", torch.allclose(torch.softmax(s + 100.0, 0), torch.softmax(s, 0)))

# %% [markdown]
# ## 3. Why divide by $\sqrt{d_k}$? A measurement
#
# Suppose (as at initialisation) the entries of $q$ and $k$ are independent with
# mean 0 and variance 1. Then each product $q_m k_m$ has mean 0 and variance
# $\mathbb{E}[q_m^2]\,\mathbb{E}[k_m^2] = 1$, and the dot product is a sum of $d_k$
# independent such terms:
#
# $$ \operatorname{Var}(q \cdot k) = \sum_{m=1}^{d_k} \operatorname{Var}(q_m k_m) = d_k,
# \qquad
# \operatorname{Var}\!\left(\frac{q \cdot k}{\sqrt{d_k}}\right) = 1 . $$
#
# Without scaling, the scores' spread grows like $\sqrt{d_k}$, and by
# point 2 above the softmax gets sharper and sharper: one key takes nearly all
# the weight. A saturated softmax also has nearly zero gradient (its Jacobian
# $\operatorname{diag}(w) - w w^\top$ vanishes when $w$ is one-hot), so the model
# could hardly learn *where* to look. Dividing by $\sqrt{d_k}$ keeps the
# scores at unit variance whatever the head size.
#
# Let us measure all of this: 2000 random queries, each against $T = 32$
# random keys, for head sizes $d_k = 1 \dots 1024$.

# %%
def saturation_stats(d_k: int, scaled: bool, n: int = 2000, T: int = 32, seed: int = 0) -> dict:
    """Score variance and softmax peakedness for random unit-variance q, k."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, 1, d_k, generator=g)
    k = torch.randn(n, T, d_k, generator=g)
    scores = (q * k).sum(-1)  # (n, T): one row of scores per query
    if scaled:
        scores = scores / math.sqrt(d_k)
    w = torch.softmax(scores, dim=-1)
    entropy = -(w * torch.log(w.clamp_min(1e-30))).sum(-1)
    jacobian = torch.diag_embed(w) - w[:, :, None] * w[:, None, :]  # (n, T, T)
    return {"variance": scores.var().item(), "max weight": w.max(-1).values.mean().item(),
            "entropy": entropy.mean().item(), "softmax gradient": jacobian.norm(dim=(1, 2)).mean().item()}


dims = [2 ** p for p in range(11)]
stats = {scaled: [saturation_stats(d, scaled) for d in dims] for scaled in (False, True)}

# %%
print(" d_k | Var(q.k)/d_k | max weight: raw  scaled")
for d, raw, sc in zip(dims, stats[False], stats[True]):
    print(f"{d:4d} | {raw['variance'] / d:12.1f} | {raw['max weight']:15.2f} {sc['max weight']:7.2f}")

# %%
# NBVAL_CHECK_OUTPUT
print("unscaled: Var(q.k) / d_k within 10% of 1 for every d_k:",
      all(abs(st["variance"] / d - 1) < 0.1 for d, st in zip(dims, stats[False])))
print("unscaled: the largest weight exceeds 0.9 once d_k >= 256:",
      all(st["max weight"] > 0.9 for d, st in zip(dims, stats[False]) if d >= 256))
print("scaled: the largest weight stays below 0.2 for every d_k:", all(st["max weight"] < 0.2 for st in stats[True]))

# %%
fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
panels = [("variance", "variance of the scores"), ("max weight", "mean largest weight"),
          ("entropy", "mean entropy of the weights (nats)"), ("softmax gradient", "mean ‖softmax Jacobian‖")]
for ax, (key, label) in zip(axes.flat, panels):
    for scaled, colour in ((False, "tab:red"), (True, "tab:blue")):
        ax.plot(dims, [st[key] for st in stats[scaled]], "o-", color=colour,
                label=r"$q\cdot k / \sqrt{d_k}$" if scaled else r"$q \cdot k$ (unscaled)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(r"head size $d_k$")
    ax.set_ylabel(label)
    ax.set_title(label[0].upper() + label[1:] + r" vs $d_k$")
    ax.grid(alpha=0.3)
axes[0, 0].plot(dims, dims, "k--", lw=1, label=r"$d_k$")
axes[0, 0].set_yscale("log", base=2)
axes[0, 1].axhline(1 / 32, color="grey", ls=":", label="uniform: 1/32")
axes[1, 0].axhline(math.log(32), color="grey", ls=":", label="uniform: ln 32")
for ax in axes.flat:
    ax.legend(fontsize=8)
fig.suptitle("Why scale by 1/√d_k: 2000 random queries, T = 32 keys each")
fig.tight_layout()
plt.show()

# %% [markdown]
# The red curves are what happens without scaling: the variance of the scores
# follows $d_k$ exactly (dashed line), the largest weight climbs towards 1, the
# entropy falls towards 0 (one key takes everything) and, after a small bump,
# the softmax gradient fades. The blue curves, with $1/\sqrt{d_k}$, do not depend on $d_k$ at all.
# Our model's heads have $d_k$ of a few dozen, right where the unscaled softmax
# is already badly saturated.
#
# (Why not normalise some other way? Any fixed factor would do for one head
# size; $\sqrt{d_k}$ is the factor that makes the behaviour independent of it,
# so you can change the model's width without re-tuning attention.)

# %% [markdown]
# ## 4. One head from scratch
#
# A batch of $B$ sequences of $T$ token vectors of width $C$, one head of size
# $D$, and the causal mask. Each line says what shape it produces.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
B, T, C, D = 2, 6, 16, 8
x = torch.randn(B, T, C)
W_q, W_k, W_v = (torch.randn(C, D) / math.sqrt(C) for _ in range(3))

q, k, v = x @ W_q, x @ W_k, x @ W_v                  # (B, T, D) each
scores = q @ k.transpose(-2, -1) / math.sqrt(D)      # (B, T, T): row i = query i, column j = key j
scores = scores.masked_fill(~masks.causal_mask(T), float("-inf"))  # block j > i
weights = torch.softmax(scores, dim=-1)              # (B, T, T), rows sum to 1
head_out = weights @ v                               # (B, T, D)
for name, t in [("x", x), ("q", q), ("scores", scores), ("weights", weights), ("out", head_out)]:
    print(f"{name:8s}{tuple(t.shape)}")
print("rows sum to 1:", torch.allclose(weights.sum(-1), torch.ones(B, T)))
print("row 0 puts all weight on key 0:", bool((weights[:, 0, 0] == 1).all()))

# %% [markdown]
# The same computation from `glmlib` (which also returns the weights) and from
# PyTorch's fused kernel `F.scaled_dot_product_attention`:

# %%
# NBVAL_CHECK_OUTPUT
lib_out, lib_weights = scaled_dot_product_attention(q, k, v, mask=masks.causal_mask(T))
torch_out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
print("glmlib output match: ", torch.allclose(head_out, lib_out, atol=1e-6))
print("glmlib weights match:", torch.allclose(weights, lib_weights, atol=1e-6))
print("torch SDPA match:    ", torch.allclose(head_out, torch_out, atol=1e-6))

# %% [markdown]
# ## 5. Multi-head attention
#
# One head produces one set of weights per query: it can look for one kind of
# relation at a time. **Multi-head attention** runs $H$ smaller heads side by
# side, each with its own projections, so one head can track the previous
# character while another looks back to the start of the word. With head size
# $D = C / H$:
#
# $$
# \text{head}_h = \operatorname{Attention}\!\big(X W_Q^{(h)},\, X W_K^{(h)},\, X W_V^{(h)}\big) \in \mathbb{R}^{T \times D},
# \qquad W_Q^{(h)}, W_K^{(h)}, W_V^{(h)} \in \mathbb{R}^{C \times D},
# $$
#
# $$
# \operatorname{MultiHead}(X) = \operatorname{Concat}(\text{head}_1, \dots, \text{head}_H)\, W_O,
# \qquad W_O \in \mathbb{R}^{C \times C}.
# $$
#
# Stacking the $H$ per-head matrices side by side gives one $C \times C$ matrix
# each for $Q$, $K$, $V$: head $h$ owns columns $hD \dots hD + D - 1$. So the
# parameter count is that of one big head, $4C^2$ weights (plus $4C$ biases),
# whatever $H$ is. In code: project once, **split** the channels into heads,
# **attend** in every head, **concatenate**, then mix the heads with $W_O$.
#
# `glmlib.attention.MultiHeadAttention` stores $W_Q, W_K, W_V$ stacked in one
# `nn.Linear` called `qkv` (PyTorch's `Linear` computes $x W^\top + b$, so its
# weight is the transpose of our $W$). We take its weights and redo the
# computation with an explicit loop over heads.

# %%
torch.manual_seed(0)
B, T, C, H = 2, 7, 32, 4
D = C // H
mha = MultiHeadAttention(n_embd=C, n_head=H).eval()
x = torch.randn(B, T, C)


def multi_head_from_scratch(x: torch.Tensor, mha: MultiHeadAttention) -> tuple[torch.Tensor, torch.Tensor]:
    """Project, split, attend per head (causal), concatenate, W_O. Returns (out, weights)."""
    W = mha.qkv.weight.T                                   # (C, 3C): [W_Q | W_K | W_V]
    b = mha.qkv.bias
    Q, K, V = (x @ W[:, i * C:(i + 1) * C] + b[i * C:(i + 1) * C] for i in range(3))  # (B, T, C)
    heads, all_weights = [], []
    for h in range(H):
        cols = slice(h * D, (h + 1) * D)                   # head h owns these channels
        s = Q[..., cols] @ K[..., cols].transpose(-2, -1) / math.sqrt(D)  # (B, T, T)
        s = s.masked_fill(~masks.causal_mask(T), float("-inf"))
        w = torch.softmax(s, dim=-1)
        heads.append(w @ V[..., cols])                     # (B, T, D)
        all_weights.append(w)
    concat = torch.cat(heads, dim=-1)                      # (B, T, C)
    out = concat @ mha.proj.weight.T + mha.proj.bias       # W_O
    return out, torch.stack(all_weights, dim=1)            # (B, T, C), (B, H, T, T)


with torch.no_grad():
    ours, our_weights = multi_head_from_scratch(x, mha)
    lib = mha(x, is_causal=True, need_weights=True)

# %%
# NBVAL_CHECK_OUTPUT
print("output shape:", tuple(ours.shape), " weights shape:", tuple(our_weights.shape))
print("glmlib MultiHeadAttention match:", torch.allclose(ours, lib, atol=1e-5),
      torch.allclose(our_weights, mha.last_weights, atol=1e-6))
n_params = sum(p.numel() for p in mha.parameters())
print(f"parameters: {n_params} = 4C^2 + 4C = {4 * C * C + 4 * C}")

# %% [markdown]
# Now PyTorch's own `nn.MultiheadAttention`, loaded with the very same weights.
# Its `in_proj_weight` uses the same stacked layout as our `qkv`. One trap: its
# boolean `attn_mask` has the **opposite polarity** (`True` = blocked), so we
# pass the negation of our causal mask. With `average_attn_weights=False` it
# returns every head's weights.

# %%
# NBVAL_CHECK_OUTPUT
ref = nn.MultiheadAttention(C, H, batch_first=True).eval()
with torch.no_grad():
    ref.in_proj_weight.copy_(mha.qkv.weight)
    ref.in_proj_bias.copy_(mha.qkv.bias)
    ref.out_proj.weight.copy_(mha.proj.weight)
    ref.out_proj.bias.copy_(mha.proj.bias)
    ref_out, ref_weights = ref(x, x, x, attn_mask=~masks.causal_mask(T),
                               need_weights=True, average_attn_weights=False)
print("nn.MultiheadAttention output match: ", torch.allclose(ours, ref_out, atol=1e-5))
print("nn.MultiheadAttention weights match:", torch.allclose(our_weights, ref_weights, atol=1e-6))

# %% [markdown]
# The loop over heads is the clearest way to write it, but slow. `glmlib`
# does the split with one reshape instead: $(B, T, C) \to (B, T, H, D) \to
# (B, H, T, D)$, then a single batched attention over all heads at once
# (exercise 3 asks you to write multi-head attention that way).

# %% [markdown]
# ## 6. What does the trained model attend to?
#
# `glmlib.model.load_pretrained()` gives the small GPT trained on Shakespeare
# that ships with the course. `model.attention_maps(idx)` returns every layer's
# and head's weights, shape $(L, B, H, T, T)$. We feed it a line from *Hamlet*,
# speaker name and newline included, as the model saw such text in training.

# %%
model, tokenizer = load_pretrained()
cfg = model.config
line = "HAMLET:\nTo be, or not to be, that is the question:"
idx = torch.tensor([tokenizer.encode(line)])   # (1, T)
maps = model.attention_maps(idx)[:, 0]          # (L, H, T, T), batch item 0
L, H, T = cfg.n_layer, cfg.n_head, len(line)
print(f"model: {L} layers x {H} heads, head size {cfg.n_embd // H}; text of {T} characters")

# %%
# NBVAL_CHECK_OUTPUT
print("shape is (n_layer, n_head, T, T):", tuple(maps.shape) == (L, H, T, T))
print("every row sums to 1:", torch.allclose(maps.sum(-1), torch.ones(L, H, T), atol=1e-5))
print("no weight on the future:", bool((maps[..., ~masks.causal_mask(T)] == 0).all()))

# %% [markdown]
# First an overview of every head (rows: layers, columns: heads). Each small
# map is query (down) by key (across); the upper triangle is empty because of
# the causal mask. The colour scale is the square root of the weight, so that
# small weights stay visible.

# %%
fig, axes = plt.subplots(L, H, figsize=(2.1 * H, 2.1 * L), squeeze=False)
for l in range(L):
    for h in range(H):
        ax = axes[l, h]
        ax.imshow(maps[l, h], cmap="viridis", norm=colors.PowerNorm(0.5, vmin=0, vmax=1))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"layer {l}, head {h}", fontsize=8)
    axes[l, 0].set_ylabel("query", fontsize=8)
for h in range(H):
    axes[-1, h].set_xlabel("key", fontsize=8)
fig.suptitle(f"Attention weights of every head on {line!r}", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# To say what each head does, we measure three simple habits: the average
# weight a query puts on the **previous** character ($w_{i,i-1}$), on
# **itself** ($w_{i,i}$), and the average **entropy** of its weights (low =
# focused on few keys). For comparison, a query that spread its weight evenly
# over all allowed keys would have entropy $\ln(i+1)$.

# %%
def head_habits(maps: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-head averages over queries of (L, H, T, T) maps; each result is (L, H)."""
    ent = -(maps * torch.log(maps.clamp_min(1e-12))).sum(-1)  # (L, H, T)
    return {"previous": maps.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1),
            "self": maps.diagonal(dim1=-2, dim2=-1).mean(-1),
            "entropy": ent[..., 1:].mean(-1)}


habits = head_habits(maps)
uniform_entropy = torch.log(torch.arange(2, T + 1).float()).mean().item()
print("layer head | previous  self | entropy")
for l in range(L):
    for h in range(H):
        print(f"{l:5d} {h:4d} | {habits['previous'][l, h]:8.2f} {habits['self'][l, h]:5.2f} | "
              f"{habits['entropy'][l, h]:7.2f}")
print(f"(uniform over the allowed keys: entropy {uniform_entropy:.2f})")

# %% [markdown]
# Now two heads up close, with the characters on both axes: the head that
# attends most to the previous character, and the most focused of the others.
# Rows are the queries (the character doing the looking), columns the keys.

# %%
def draw_attention(weights: torch.Tensor, text: str, title: str) -> None:
    """One head's (T, T) weights in a figure of its own, characters on both axes."""
    labels = [visible(c) for c in text]
    fig, ax = plt.subplots(figsize=(9.5, 8.6))
    im = ax.imshow(weights, cmap="viridis", norm=colors.PowerNorm(0.5, vmin=0, vmax=1))
    ax.set_xticks(range(len(text)), labels, fontsize=9)
    ax.set_yticks(range(len(text)), labels, fontsize=9)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(title + "\n(␣ = space, ⏎ = newline)")
    fig.colorbar(im, ax=ax, fraction=0.04, label="attention weight (square-root colour scale)")
    fig.tight_layout()
    plt.show()


flat_prev = habits["previous"].flatten()
prev_head = divmod(int(flat_prev.argmax()), H)
entropy = habits["entropy"].clone()
entropy[prev_head] = float("inf")
focused_head = divmod(int(entropy.flatten().argmin()), H)

for (l, h), kind in zip((prev_head, focused_head), ("the most previous-character", "the most focused other")):
    draw_attention(maps[l, h], line, f"Trained model, layer {l}, head {h}: {kind} head")

# %% [markdown]
# A diagonal stripe just below the main diagonal means "look at the previous
# character", the most useful single clue for predicting the next one.
# Vertical stripes mean that many queries look at the same key, often a space,
# the newline or the first character of a word. How crisp these patterns are
# depends on how long the model was trained.
#
# For contrast, an **untrained** GPT of the same shape: its queries and keys
# are tiny random vectors, so all scores are close to 0 and every query spreads
# its weight almost evenly over the keys it may see.

# %%
torch.manual_seed(0)
untrained_maps = GPT(cfg).attention_maps(idx)[:, 0]
print(f"mean entropy per head: trained {habits['entropy'].mean():.2f}, "
      f"untrained {head_habits(untrained_maps)['entropy'].mean():.2f}, uniform {uniform_entropy:.2f}")

# %% [markdown]
# ## 7. Explore the heads yourself
#
# Pick a layer and a head, or type your own text. Which heads follow the
# previous character? Which ones jump back to spaces or to the start of the line?

# %%
import glmlib.widgets

# %%
glmlib.widgets.attention_explorer(model, tokenizer, text=line)

# %% [markdown]
# ## 8. Exercises
#
# Each exercise has a stub that raises `NotImplementedError`. Replace its body
# and re-run the cell: the checker under it tries several cases and, for a
# wrong answer, says what the mistake looks like. A folded worked solution
# follows each exercise; try first.
#
# ### Exercise 1: a softmax that does not overflow
#
# Write `softmax(x)` over the last axis of `x` (any number of leading axes),
# using `torch.exp`, `sum` and `max`. It must work for logits like
# `[1000, 1001, 1002]`, where `exp(1000)` is `inf` in float32, and for rows
# that contain `-inf` (masked keys), as long as each row has a finite entry.
#
# Not allowed: `torch.softmax`, `F.softmax`, `x.softmax`, `torch.special.softmax`
# and the `log_softmax` variants; the checker traps them. It compares with
# `torch.softmax` on eight inputs (huge, very negative, rows far apart,
# masked entries) and names the usual slips: overflow, normalising the wrong
# axis, subtracting the wrong maximum.

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN QUESTION
# name: q04_softmax
# points: 1

# %%
def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, safe for huge logits and -inf entries."""
    # your code here
    raise NotImplementedError


ex.check_softmax(softmax)

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN SOLUTION

# %% [markdown]
# <details><summary>About the solution</summary>
#
# Shift invariance (section 2) lets us subtract each row's maximum $m$:
# $e^{x_j - m} / \sum_{j'} e^{x_{j'} - m} = e^{x_j} / \sum_{j'} e^{x_{j'}}$.
# After the shift every exponent is $\le 0$ and the largest term is
# $e^0 = 1$, so the sum is at least 1: neither overflow nor $0/0$ can happen.
# `keepdim=True` keeps the reduced axis, so that each row subtracts (and
# divides by) its own number.
# </details>

# %% jupyter={"source_hidden": true}
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, safe for huge logits and -inf entries."""
    row_max = x.amax(dim=-1, keepdim=True)        # (..., 1)
    e = torch.exp(x - row_max)                     # every exponent <= 0
    return e / e.sum(dim=-1, keepdim=True)         # (..., n), rows sum to 1


ex.check_softmax(softmax)
# END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN TESTS

# %% jupyter={"source_hidden": true}
ex.check_softmax(softmax).require()

# %% [raw] jupyter={"source_hidden": true}
# # END TESTS

# %% [raw] jupyter={"source_hidden": true}
# # END QUESTION

# %% [markdown]
# ### Exercise 2: scaled dot-product attention
#
# Write `attention(q, k, v, mask=None)` for tensors of shape `(..., T_q, d_k)`,
# `(..., T_k, d_k)` and `(..., T_k, d_v)` (any number of leading batch or head
# axes, none included). `mask` is `None` or a bool tensor that broadcasts to
# `(..., T_q, T_k)`, `True` = may attend. Return the output `(..., T_q, d_v)`.
# The number of queries need not equal the number of keys, nor $d_v$ equal
# $d_k$.
#
# You may use `torch.softmax` (or yours); `F.scaled_dot_product_attention` and
# `glmlib`'s `scaled_dot_product_attention` are trapped. The checker compares
# with `F.scaled_dot_product_attention` on eight inputs and recognises a
# missing or wrong scale ($d_k$, $\sqrt{d_v}$, ...), an ignored or flipped mask,
# a mask applied after the softmax, and `k.T` on a batch.

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN QUESTION
# name: q04_attention
# points: 2

# %%
def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d_k), blocked keys -inf) v."""
    # your code here
    raise NotImplementedError


ex.check_attention(attention)

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN SOLUTION

# %% [markdown]
# <details><summary>About the solution</summary>
#
# Transpose only the last two axes of `k`: `k.T` reverses *every* axis, the
# batch axes included. Scale by the square root of the **key** size $d_k$,
# which is what keeps the score variance at 1 (section 3). Fill the blocked
# scores with $-\infty$ *before* the softmax, so that the allowed weights still
# sum to 1; `~mask` selects the blocked entries because `True` means
# "may attend".
# </details>

# %% jupyter={"source_hidden": true}
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d_k), blocked keys -inf) v."""
    d_k = q.shape[-1]
    s = q @ k.transpose(-2, -1) / math.sqrt(d_k)          # (..., T_q, T_k)
    if mask is not None:                                      # True = may attend
        s = s.masked_fill(~mask, float("-inf"))             # blocked keys -> weight 0
    return torch.softmax(s, dim=-1) @ v                      # (..., T_q, d_v)


ex.check_attention(attention)
# END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN TESTS

# %% jupyter={"source_hidden": true}
ex.check_attention(attention).require()

# %% [raw] jupyter={"source_hidden": true}
# # END TESTS

# %% [raw] jupyter={"source_hidden": true}
# # END QUESTION

# %% [markdown]
# ### Exercise 3: multi-head attention without a loop
#
# Section 5 looped over the heads. Write the fast version:
# `multi_head_attention(x, W_q, W_k, W_v, W_o, n_head)` for `x` of shape
# `(B, T, C)` and four `(C, C)` matrices that act as `x @ W` (no biases),
# causal. Project once, split every projection into `n_head` heads of size
# `D = C // n_head` at once (head `h` owns channels `h*D ... h*D + D - 1`),
# attend in all heads with one batched call, merge the heads back to
# `(B, T, C)` and apply `W_o`.
#
# You may call your `attention` from exercise 2 or
# `F.scaled_dot_product_attention`. No Python loop (the checker reads your
# code); `nn.MultiheadAttention` and `glmlib`'s `MultiHeadAttention` are
# trapped. The checker compares with `nn.MultiheadAttention` given the same
# weights, on four shapes (one head, one channel per head, ...), and names a
# head split that mixes positions, a merge without its transpose, a scale by
# $\sqrt{C}$ instead of $\sqrt{D}$, a missing mask or `W_o`, transposed weights.

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN QUESTION
# name: q04_multi_head
# points: 2

# %%
def multi_head_attention(x: torch.Tensor, W_q: torch.Tensor, W_k: torch.Tensor, W_v: torch.Tensor,
                         W_o: torch.Tensor, n_head: int) -> torch.Tensor:
    """Causal multi-head attention, (B, T, C) -> (B, T, C), all heads at once."""
    # your code here
    raise NotImplementedError


ex.check_multi_head_attention(multi_head_attention)

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN SOLUTION

# %% [markdown]
# <details><summary>About the solution</summary>
#
# `view(B, T, H, D)` cuts each position's $C$ channels into $H$ groups of $D$
# (head $h$ gets channels $hD \dots hD + D - 1$, the layout of section 5);
# `transpose(1, 2)` then brings the head axis in front of the time axis, so
# that attention treats `(B, H)` as batch axes. `reshape(B, H, T, D)` straight
# away has the same shape but the wrong content: it cuts the flat memory into
# pieces that mix positions. Merging undoes both steps in reverse order. The
# scale is $1/\sqrt{D}$, the head size, which `F.scaled_dot_product_attention`
# (and your `attention`) take from the last axis.
# </details>

# %% jupyter={"source_hidden": true}
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def multi_head_attention(x: torch.Tensor, W_q: torch.Tensor, W_k: torch.Tensor, W_v: torch.Tensor,
                         W_o: torch.Tensor, n_head: int) -> torch.Tensor:
    """Causal multi-head attention, (B, T, C) -> (B, T, C), all heads at once."""
    B, T, C = x.shape                                         # batch, time, channels
    D = C // n_head                                           # head size

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(B, T, n_head, D).transpose(1, 2)      # (B, T, C) -> (B, H, T, D)

    q, k, v = heads(x @ W_q), heads(x @ W_k), heads(x @ W_v)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)   # (B, H, T, D)
    merged = out.transpose(1, 2).reshape(B, T, C)            # (B, T, H, D) -> (B, T, C)
    return merged @ W_o


ex.check_multi_head_attention(multi_head_attention)
# END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN TESTS

# %% jupyter={"source_hidden": true}
ex.check_multi_head_attention(multi_head_attention).require()

# %% [raw] jupyter={"source_hidden": true}
# # END TESTS

# %% [raw] jupyter={"source_hidden": true}
# # END QUESTION

# %% [markdown]
# ### Exercise 4 (transfer): a previous-character head, by hand
#
# Section 6 found a trained head that looks at the previous character. Build
# one yourself, without training: choose its weights by hand.
#
# The input is a text of `T` characters from a vocabulary of `V`. Position
# `i`, holding character `c_i`, is embedded as the concatenation
# `x_i = [one_hot(i, T), one_hot(c_i, V)]`, a vector of width `T + V`: the
# first `T` channels say *where* the character is, the last `V` *which* it is.
# Write `previous_char_head(T, V)` returning `(W_q, W_k, W_v)`: `W_q` and `W_k`
# of shape `(T + V, d)` for a head size `d` of your choice, and `W_v` of shape
# `(T + V, V)`, such that the causal head
# $\operatorname{softmax}\big((XW_q)(XW_k)^\top/\sqrt{d} + A\big)\,XW_v$
# ($X$ holds the `T` embeddings as rows, $A$ is the additive causal mask)
#
# - puts at least 0.95 of query `i`'s weight on key `i - 1`, for every `i >= 1`
#   (query 0 may only see itself), and
# - outputs at position `i` (nearly) the one-hot of the previous character.
#
# The checker computes the head with PyTorch's `F.scaled_dot_product_attention`
# on random texts with `(T, V)` = `(8, 5)`, `(2, 3)`, `(32, 65)` and `(64, 65)`,
# and says when your head attends to the current position, to the next one
# (which the mask blocks), or spreads its weight because the scores are too
# small. Hints: a score is a dot product of a query and a key, so what must the
# key of position `j` look like to match the query of position `j + 1`? And how
# large must the matching score be for a weight of 0.95 when `i` other keys
# each score 0?

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN QUESTION
# name: q04_previous_char_head
# points: 3

# %%
def previous_char_head(T: int, V: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hand-set (W_q, W_k, W_v) of a head that attends to, and copies, the previous character."""
    # your code here
    raise NotImplementedError


ex.check_previous_char_head(previous_char_head)

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN SOLUTION

# %% [markdown]
# <details><summary>About the solution</summary>
#
# Work in a head of size $d = T$ and only read the position channels. Query
# $i$ is $s\,e_i$ ("I look for position $i$") and key $j$ is $s\,e_{j+1}$
# ("whoever comes after me, look here"), so the score of query $i$ and key $j$
# is $s^2/\sqrt{T}$ when $j = i - 1$ and $0$ otherwise. Query $i$ has $i$ other
# keys, so its weight on the previous position is
# $e^{a} / (e^{a} + i)$ with $a = s^2/\sqrt{T}$; for $i = 63$ and a weight of
# 0.95 we need $a \ge \ln(19 \cdot 63) \approx 7.1$, that is $s \ge 7.6$ at
# $T = 64$. With $s = 10$, $a = 12.5$ and the weight is above 0.9997. The values
# simply copy the character channels. Shift the keys the other way
# ($e_{j-1}$) and every query looks for the *next* position, which the causal
# mask hides: the weights spread evenly instead.
# </details>

# %% jupyter={"source_hidden": true}
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def previous_char_head(T: int, V: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hand-set (W_q, W_k, W_v) of a head that attends to, and copies, the previous character."""
    s = 10.0                                                  # score of a match: s * s / sqrt(T)
    W_q = torch.zeros(T + V, T)
    W_q[:T] = s * torch.eye(T)                                # query i = s * e_i
    W_k = torch.zeros(T + V, T)
    W_k[:T] = s * torch.diag(torch.ones(T - 1), diagonal=1)   # key j = s * e_(j+1)
    W_v = torch.zeros(T + V, V)
    W_v[T:] = torch.eye(V)                                    # value j = one_hot(c_j)
    return W_q, W_k, W_v


ex.check_previous_char_head(previous_char_head)
# END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN TESTS

# %% jupyter={"source_hidden": true}
ex.check_previous_char_head(previous_char_head).require()

# %% [raw] jupyter={"source_hidden": true}
# # END TESTS

# %% [raw] jupyter={"source_hidden": true}
# # END QUESTION

# %% [markdown]
# ## Summary
#
# - Attention is a soft lookup: $\operatorname{softmax}(QK^\top/\sqrt{d_k} + A)\,V$;
#   each row of weights is a distribution over the keys a query may see.
# - Without the $1/\sqrt{d_k}$ the score variance grows like $d_k$ (measured), the
#   softmax saturates and its gradient vanishes; with it, behaviour does not
#   depend on the head size.
# - Multi-head attention splits the channels into $H$ heads of size $C/H$,
#   attends in each, concatenates and mixes with $W_O$: $4C^2 + 4C$ parameters.
#   Our from-scratch version matches `glmlib`, `F.scaled_dot_product_attention`
#   and `nn.MultiheadAttention` (mind its opposite mask polarity).
# - Trained heads specialise (the previous character, spaces, line starts);
#   untrained ones spread their attention almost evenly.
#
# **Next, notebook 05:** attention is only half of a decoder block. We add the
# position-wise feed-forward network, residual connections, LayerNorm and
# positional embeddings, and assemble the full GPT.
