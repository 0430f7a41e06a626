# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
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
# - get from a plain average of the past, one matrix product, to weights
#   computed from the data, and say why attention alone ignores word order;
# - compute dot-product scores, turn them into weights with a softmax, and mix
#   the values with them;
# - explain, with a measurement, why the scores are divided by $\sqrt{d_k}$;
# - write one attention head and then multi-head attention (split, attend,
#   concatenate, $W_O$), and check both against
#   `torch.nn.functional.scaled_dot_product_attention` and
#   `torch.nn.MultiheadAttention` with the same weights;
# - read attention maps of the trained Shakespeare model, and measure what
#   its heads do instead of guessing.
#
# **Builds on:** 02 (tokens become vectors via an embedding) and 03 (the causal
# mask: query $i$ may attend key $j$ iff $j \le i$; boolean `True` = may attend).
#
# **Time:** *Run All* takes under a minute on a 2-core laptop; set aside 75–90
# minutes to study the notebook, exercises included.

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
ATTENTION_CMAP = "Blues"  # attention weights: the same colours as notebook 08 and the attention explorer


def attention_norm() -> colors.PowerNorm:
    """Colour scale for weights in [0, 1]: square root, so that small weights stay visible."""
    return colors.PowerNorm(0.5, vmin=0, vmax=1)


# %% [markdown]
# ## 1. From averaging to attention
#
# Each position of a text holds a vector (02). To predict what comes next,
# a position needs information from the positions before it. Attention gets
# there in three steps; the first two have no learned weights at all.
#
# **Step 1: average the past.** The simplest way for position $i$ to gather
# its context is the plain mean of the vectors at positions $0..i$. Exercise 3
# of notebook 03 wrote this as one matrix product, $Y = W X$, with row $i$ of
# $W$ equal to $1/(i+1)$ on columns $0..i$ and $0$ on the future. To make the
# outputs easy to read, we give the six characters of `"banana"` one-hot
# vectors over the alphabet `a, b, n`: then row $i$ of $WX$ is the share of
# each character in the text so far.

# %%
toy = "banana"
alphabet = sorted(set(toy))                                        # ['a', 'b', 'n']
X = F.one_hot(torch.tensor([alphabet.index(c) for c in toy]), len(alphabet)).float()  # (T, 3)
n = len(toy)
allowed = torch.ones(n, n).tril()                                  # 1 where key j <= query i
W_avg = allowed / allowed.sum(dim=-1, keepdim=True)                # row i: 1/(i+1) on keys 0..i
print("W_avg =\n", W_avg.numpy().round(2))
print("last row of W_avg @ X (shares of a, b, n):", (W_avg @ X)[-1].numpy().round(2))

# %% [markdown]
# The same weights come out of a softmax over the additive causal mask of 03
# when every score is equal: $e^0 = 1$ for each allowed key, $e^{-\infty} = 0$
# for the others, then normalised.

# %%
# NBVAL_CHECK_OUTPUT
equal_scores = torch.zeros(n, n).masked_fill(allowed == 0, float("-inf"))
print("softmax of equal scores under the mask == W_avg:", torch.allclose(torch.softmax(equal_scores, dim=-1), W_avg))

# %% [markdown]
# **Step 2: let the data choose the weights.** A flat average treats every
# earlier position alike. Instead, let position $i$ give more weight to the
# positions whose vectors resemble its own: score each pair by a dot product,
# $s_{ij} = 3\, x_i \cdot x_j$ (here 3 for the same character, 0 otherwise),
# block the future, and turn each row into weights with the softmax.

# %%
S = 3.0 * X @ X.T                                                  # (T, T): 3 where characters match
W_sim = torch.softmax(S.masked_fill(allowed == 0, float("-inf")), dim=-1)
print("W_sim =\n", W_sim.numpy().round(2))
print("last row of W_sim @ X (shares of a, b, n):", (W_sim @ X)[-1].numpy().round(2))

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
for ax, (W, name) in zip(axes, ((W_avg, "step 1: plain average"), (W_sim, "step 2: weights from the data"))):
    im = ax.imshow(W, cmap=ATTENTION_CMAP, norm=attention_norm())
    ax.set_xticks(range(n), [f"{j} {c}" for j, c in enumerate(toy)])
    ax.set_yticks(range(n), [f"{i} {c}" for i, c in enumerate(toy)])
    ax.set(title=name, xlabel="key j (attended to)", ylabel="query i (attending)")
fig.colorbar(im, ax=axes, fraction=0.03, label="weight (square-root colour scale)")
plt.show()

# %% [markdown]
# On the left every row is flat. On the right each `a` puts most of its weight
# on the `a`s so far, itself included (the last row: 0.32 on each of the
# three, 0.02 on each other letter), and each `n` on the `n`s. The weights now depend on *what*
# the tokens are. Notice what they do not depend on: *where* the tokens are.
# The scores see only the vectors, and the mask only says which keys are
# allowed, so shuffling the characters before the last one would not change
# the last row's output at all. Attention on its own ignores word order;
# notebook 05 shows this and adds position embeddings, which fix it.
#
# **Step 3: learn what to look for.** Comparing a token with its own vector
# is too rigid: the letter after a `q` should look for the `q`, not for
# other letters like itself. Attention therefore lets every token present
# three learned views of itself.
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
# Take a query $q$ and a key $k$ whose $d_k$ entries are independent, with
# mean 0 and variances $\sigma_q^2$ and $\sigma_k^2$. Each product $q_m k_m$
# then has mean 0 and variance $\mathbb{E}[q_m^2]\,\mathbb{E}[k_m^2] = \sigma_q^2\sigma_k^2$,
# and the dot product is a sum of $d_k$ independent such terms:
#
# $$ \operatorname{Var}(q \cdot k) = \sum_{m=1}^{d_k} \operatorname{Var}(q_m k_m) = d_k\,\sigma_q^2\sigma_k^2,
# \qquad
# \operatorname{Var}\!\left(\frac{q \cdot k}{\sqrt{d_k}}\right) = \sigma_q^2\sigma_k^2 . $$
#
# Whatever the scale of $q$ and $k$, the spread of the raw scores grows like
# $\sqrt{d_k}$; dividing by $\sqrt{d_k}$ takes the head size out of the
# formula. (How large $\sigma_q$ and $\sigma_k$ are is up to the weights. In
# a freshly built GPT they are small, because its weights are drawn with
# standard deviation 0.02; training makes them larger. Section 6 measures
# both.)
#
# Why the spread matters: by point 2 above, larger scores make a sharper
# softmax, until one key takes nearly all the weight. A sharp softmax also
# passes little gradient back to the scores: its Jacobian
# $\partial w / \partial s = \operatorname{diag}(w) - w w^\top$ vanishes when
# $w$ is one-hot, and then the model can hardly learn *where* to look.
#
# To see the effect of $d_k$ alone, we fix $\sigma_q = \sigma_k = 1$ and
# measure: 2000 random queries, each against $T = 32$ random keys, for head
# sizes $d_k = 1 \dots 1024$, with and without the scale. For each we record
# the variance of the scores, the largest weight and the entropy of the
# weights (how peaked they are), and the size (Frobenius norm) of the softmax
# Jacobian (how strongly the weights respond to a change of the scores).

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
print(" d_k | Var(q.k)/d_k | largest weight | entropy (nats) | ‖Jacobian‖")
print("     |              |  raw  scaled   |  raw  scaled   |  raw  scaled")
for d, raw, sc in zip(dims, stats[False], stats[True]):
    print(f"{d:4d} | {raw['variance'] / d:12.2f} | " + " | ".join(
        f"{raw[key]:5.2f} {sc[key]:6.2f}  " for key in ("max weight", "entropy", "softmax gradient")))

# %%
# NBVAL_CHECK_OUTPUT
print("unscaled: Var(q.k) / d_k within 10% of 1 for every d_k:",
      all(abs(st["variance"] / d - 1) < 0.1 for d, st in zip(dims, stats[False])))
print("unscaled: the largest weight exceeds 0.9 once d_k >= 256:",
      all(st["max weight"] > 0.9 for d, st in zip(dims, stats[False]) if d >= 256))
print("scaled: the largest weight stays below 0.2 for every d_k:", all(st["max weight"] < 0.2 for st in stats[True]))
jac = {scaled: [st["softmax gradient"] for st in stats[scaled]] for scaled in (False, True)}
print("unscaled: the Jacobian norm rises up to d_k = 8, then falls:",
      jac[False].index(max(jac[False])) == dims.index(8))
print("unscaled, d_k = 1024: the Jacobian norm is below a third of the scaled one:", jac[False][-1] < jac[True][-1] / 3)

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
# The red curves are what happens without scaling, the blue ones with
# $1/\sqrt{d_k}$; the blue ones hardly depend on $d_k$ at all. Reading the red
# ones with the table:
#
# - the variance of the scores follows $d_k$ exactly (dashed line);
# - the largest weight climbs from 0.14 at $d_k = 1$ to 0.95 at
#   $d_k = 1024$, and the entropy falls from 3.08 to 0.12 nats (one key
#   takes nearly everything; spreading evenly over 32 keys would give
#   $\ln 32 = 3.47$);
# - the Jacobian is less simple: its norm first *rises*, from 0.22 to a peak
#   of 0.31 at $d_k = 8$, is back at the scaled level near $d_k = 32$,
#   and only then falls, to 0.06 at $d_k = 1024$, against 0.24
#   with the scale.
#
# The rise is no accident. The weights respond most to the scores when a few
# keys share them, little when they are spread thin over all the keys, and
# not at all when one key has everything:

# %%
def jacobian_norm(w: torch.Tensor) -> float:
    """Frobenius norm of the softmax Jacobian diag(w) - w w^T at the weights w."""
    return (torch.diag(w) - torch.outer(w, w)).norm().item()


spread = torch.full((32,), 1 / 32)
two_keys = torch.zeros(32)
two_keys[:2] = 0.5
one_key = torch.zeros(32)
one_key[0] = 1.0
print(f"‖Jacobian‖: spread over 32 keys {jacobian_norm(spread):.2f}, "
      f"two keys at 0.5 {jacobian_norm(two_keys):.2f}, one key {jacobian_norm(one_key):.2f}")

# %% [markdown]
# Sharpening the softmax first moves the weight from many keys onto a few
# (the norm rises), then onto one (the norm falls towards 0).
#
# Our trained model's heads have $d_k = 40$. With unit-variance queries and
# keys, that is where the softmax would stand without the scale:

# %%
at_40 = {scaled: saturation_stats(40, scaled) for scaled in (False, True)}
for scaled in (False, True):
    st = at_40[scaled]
    print(f"d_k = 40, {'scaled  ' if scaled else 'unscaled'}: largest weight {st['max weight']:.2f}, "
          f"entropy {st['entropy']:.2f} nats, ‖Jacobian‖ {st['softmax gradient']:.2f}")

# %% [markdown]
# Without the scale, three quarters of each query's weight would already sit
# on one key, and the entropy would be about a fifth of the scaled one,
# although the gradient would hardly be smaller (0.23 against 0.24). It shrinks at the head
# sizes of larger models: to 0.20 at $d_k = 64$ (GPT-2) and 0.15 at
# $d_k = 128$ (GPT-3), against 0.24 with the scale. With the scale, the
# picture is the same for every head size.
#
# (Why not normalise some other way? Any fixed factor would do for one head
# size; $\sqrt{d_k}$ is the factor that makes the behaviour independent of it,
# so you can change the model's width without re-tuning attention.)

# %% [markdown]
# > **A common mistake: scaling after the softmax.** Some write-ups put the
# > factor in the wrong place, $\operatorname{softmax}(QK^\top)/\sqrt{d_k}$.
# > That is wrong twice. The softmax has already saturated on the unscaled
# > scores, so the measurement above applies in full; and dividing the
# > *weights* by $\sqrt{d_k}$ leaves every row summing to $1/\sqrt{d_k}$
# > instead of 1, so the output is a shrunken average. At $d_k = 40$:

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(0)
q40, k40 = torch.randn(3, 40, generator=g), torch.randn(32, 40, generator=g)  # 3 queries, 32 keys
after = torch.softmax(q40 @ k40.T, dim=-1) / math.sqrt(40)   # the mistake
before = torch.softmax(q40 @ k40.T / math.sqrt(40), dim=-1)  # the formula
print("row sums, scaled after the softmax: ", [round(x, 3) for x in after.sum(-1).tolist()])
print("row sums, scaled before the softmax:", [round(x, 3) for x in before.sum(-1).tolist()])
print("largest share of a row, after: ", [round(x, 2) for x in (after.max(-1).values / after.sum(-1)).tolist()])
print("largest share of a row, before:", [round(x, 2) for x in before.max(-1).values.tolist()])

# %% [markdown]
# > The rows sum to $1/\sqrt{40} \approx 0.158$, and within each row one key
# > still takes most of the weight. Exercise 2's checker recognises this
# > order and says so.

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
# > **Two common mistakes in these five lines.** First, masking the
# > *weights*: `-inf` belongs in the scores, before the softmax, where
# > $e^{-\infty} = 0$ turns it into a weight of exactly 0. Written into the
# > weights after the softmax it stays $-\infty$, and multiplying the values
# > turns it into $\pm\infty$ and NaN in every row with a blocked key.
# > Second, the softmax over the wrong axis: `dim=-2` normalises each
# > *column* (each key over the queries), so the columns sum to 1 and the
# > rows, which are what a query uses, do not.

# %%
# NBVAL_CHECK_OUTPUT
unmasked = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D), dim=-1)
masked_after = unmasked.masked_fill(~masks.causal_mask(T), float("-inf"))  # the first mistake
print("-inf in the weights, rows of the output that stay finite:",
      torch.isfinite(masked_after @ v).all(-1)[0].tolist())
over_queries = torch.softmax(scores, dim=-2)  # the second mistake
print("softmax over dim=-2, row sums of sequence 0:", [round(x, 2) for x in over_queries[0].sum(-1).tolist()])

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
# > **A common mistake: splitting the heads without the transpose.** After
# > `view(B, T, H, D)` the heads sit *behind* the time axis. Attention works
# > on the last two axes, so on `(B, T, H, D)` it attends over the $H$ heads
# > of one position, with $T$ acting as a batch: the shapes all fit, but no
# > position ever looks at another. `transpose(1, 2)` to `(B, H, T, D)`
# > before attending, and back before the merge. With the weights above:

# %%
# NBVAL_CHECK_OUTPUT
def heads_not_transposed(x: torch.Tensor) -> torch.Tensor:
    """Multi-head attention with view(B, T, H, D) and no transpose (the mistake)."""
    W, b = mha.qkv.weight.T, mha.qkv.bias
    q, k, v = ((x @ W[:, i * C:(i + 1) * C] + b[i * C:(i + 1) * C]).view(B, T, H, D) for i in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # attends over the H axis
    return out.reshape(B, T, C) @ mha.proj.weight.T + mha.proj.bias


x_other = torch.randn(B, T, C, generator=torch.Generator().manual_seed(1))
x_other[:, 3] = x[:, 3]  # every position changed but position 3
with torch.no_grad():
    not_transposed = heads_not_transposed(x)
    print("equals multi-head attention:", torch.allclose(not_transposed, ours, atol=1e-5))
    print("output at position 3 unchanged when every other position changes:",
          torch.allclose(not_transposed[:, 3], heads_not_transposed(x_other)[:, 3], atol=1e-6))

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
# the causal mask. The colours are those of every attention map in the course
# (notebook 08 and the attention explorer use them too), on a square-root
# scale so that small weights stay visible.

# %%
fig, axes = plt.subplots(L, H, figsize=(2.1 * H + 0.8, 2.1 * L), squeeze=False, layout="constrained")
for l in range(L):
    for h in range(H):
        ax = axes[l, h]
        im = ax.imshow(maps[l, h], cmap=ATTENTION_CMAP, norm=attention_norm())
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"layer {l}, head {h}", fontsize=8)
    axes[l, 0].set_ylabel("query", fontsize=8)
for h in range(H):
    axes[-1, h].set_xlabel("key", fontsize=8)
fig.colorbar(im, ax=axes, shrink=0.4, label="attention weight (square-root colour scale)")
fig.suptitle(f"Attention weights of every head on {line!r}", fontsize=10)
plt.show()

# %% [markdown]
# Three kinds of pattern recur. A line just below the diagonal means "look at
# the previous character". A **staircase** (short vertical runs stepping
# down along the diagonal) means that several queries in a row send their
# weight to the same key, and then the run jumps to a new key. A long
# vertical stripe means that many queries look at one key, such as the
# newline.
#
# To tell these apart we measure, for each head, averages over the queries
# $i \ge 1$:
#
# - **previous** and **self**: the weight on the previous character,
#   $w_{i,i-1}$, and on the query's own character, $w_{i,i}$;
# - **entropy** of the weights (low = focused on few keys; spreading evenly
#   over the $i + 1$ allowed keys would give $\ln(i+1)$);
# - **top = prev**: how often the previous character is the key with the
#   *most* weight;
# - **top = word start**: for the letters at least two into a word (the `t` of
#   `not`, where the previous character is not the first letter), how often
#   the key with the most weight is the first letter of that word.

# %%
def word_starts(text: str) -> tuple[torch.Tensor, torch.Tensor]:
    """For each position: where its word's first letter is, and whether it is a letter >= 2 into a word."""
    start = []
    for p, c in enumerate(text):
        new_word = c.isalpha() and (p == 0 or not text[p - 1].isalpha())
        start.append(p if new_word or not c.isalpha() else start[-1])
    start = torch.tensor(start)
    inner = torch.tensor([c.isalpha() for c in text]) & (torch.arange(len(text)) - start >= 2)
    return start, inner


def head_habits(maps: torch.Tensor, text: str) -> dict[str, torch.Tensor]:
    """Per-head averages over queries of (L, H, T, T) maps; each result is (L, H)."""
    pos = torch.arange(maps.shape[-1])
    top = maps.argmax(-1)                                      # (L, H, T): the key with the most weight
    start, inner = word_starts(text)
    ent = -(maps * torch.log(maps.clamp_min(1e-12))).sum(-1)   # (L, H, T)
    return {"previous": maps.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1),
            "self": maps.diagonal(dim1=-2, dim2=-1)[..., 1:].mean(-1),
            "entropy": ent[..., 1:].mean(-1),
            "top = prev": (top[..., 1:] == pos[1:] - 1).float().mean(-1),
            "top = word start": (top[..., inner] == start[inner]).float().mean(-1)}


habits = head_habits(maps, line)
uniform_entropy = torch.log(torch.arange(2, T + 1).float()).mean().item()
print(f"{int(word_starts(line)[1].sum())} letters are at least two into a word")
print("layer head | previous  self | entropy | top = prev  top = word start")
for l in range(L):
    for h in range(H):
        print(f"{l:5d} {h:4d} | {habits['previous'][l, h]:8.2f} {habits['self'][l, h]:5.2f} | "
              f"{habits['entropy'][l, h]:7.2f} | {habits['top = prev'][l, h]:10.2f} "
              f"{habits['top = word start'][l, h]:16.2f}")
print(f"(uniform over the allowed keys: entropy {uniform_entropy:.2f})")

# %% [markdown]
# Now two heads up close, with the characters on both axes: the head whose
# strongest key is most often the previous character, and the head whose
# strongest key is most often the first letter of the current word. Rows are
# the queries (the character doing the looking), columns the keys.

# %%
def draw_attention(weights: torch.Tensor, text: str, title: str) -> None:
    """One head's (T, T) weights in a figure of its own, characters on both axes."""
    labels = [visible(c) for c in text]
    fig, ax = plt.subplots(figsize=(9.5, 8.6))
    im = ax.imshow(weights, cmap=ATTENTION_CMAP, norm=attention_norm())
    ax.set_xticks(range(len(text)), labels, fontsize=9)
    ax.set_yticks(range(len(text)), labels, fontsize=9)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(title + "\n(␣ = space, ⏎ = newline)")
    fig.colorbar(im, ax=ax, fraction=0.04, label="attention weight (square-root colour scale)")
    fig.tight_layout()
    plt.show()


def best(measure: torch.Tensor) -> tuple[int, int]:
    """(layer, head) with the largest value of an (L, H) measure."""
    return divmod(int(measure.flatten().argmax()), H)


prev_head, start_head = best(habits["top = prev"]), best(habits["top = word start"])
for (l, h), kind in ((prev_head, "strongest key most often the previous character"),
                     (start_head, "strongest key most often the word's first letter")):
    print(f"layer {l}, head {h}: " + ", ".join(f"{name} {m[l, h]:.2f}" for name, m in habits.items()))
    draw_attention(maps[l, h], line, f"Trained model, layer {l}, head {h}: {kind}")

newline = line.index("\n")
on_newline = maps[..., newline + 1:, newline].mean(-1)   # (L, H): weight on the newline, queries after it
l, h = best(on_newline)
print(f"the newline head: layer {l}, head {h}; the queries after the newline put {on_newline[l, h]:.2f} "
      "of their weight on it")

# %%
# NBVAL_CHECK_OUTPUT
print("a head whose strongest key is the previous character for at least 80% of queries:",
      bool(habits["top = prev"].max() >= 0.8))
print("a head whose strongest key is the word's first letter for at least 70% of such letters:",
      bool(habits["top = word start"].max() >= 0.7))

# %% [markdown]
# What the maps show, with the numbers printed above each:
#
# - **A soft previous-character head** (layer 0, head 0). Its strongest key
#   is the previous character for 90% of the queries: a clean line just
#   below the diagonal. But the line is pale: on average only 0.35 of the
#   weight sits there, the rest is spread over the characters before it.
# - **A word-start head** (layer 2, head 0), a staircase. Inside a word, each
#   letter sends most of its weight back to the word's first letter (79% of
#   the letters two or more into a word), so the queries of one word share a
#   key, and the run jumps to a new key when the next word begins: the `o`
#   and `t` of `not` look at its `n`, the whole of `question` at its `q`.
# - **A newline head** (layer 1, head 1, printed last) needs no close-up: it
#   is the long vertical stripe in the overview, at the newline after
#   `HAMLET:`; the queries after it put 0.63 of their weight on it.
#
# Neither measure alone tells what a head does. The largest mean weight on the
# previous character in the table, 0.36, belongs to layer 2, head 2, whose
# map in the overview is as much a staircase as a line below the diagonal:
# for the second letter of a word, the word's first letter *is* the previous
# character.
#
# Why would a model want these? Position $i$ already holds character $i$. A
# head that copies character $i - 1$ into it gives it the last *two*
# characters, the context of a trigram model, one more than the bigram of
# notebook 01; a word-start head tells it which word it is in. Later layers
# combine such pieces. How crisp these patterns are depends on how long the
# model was trained, and a head's pattern depends on the text.
#
# For contrast, an **untrained** GPT of the same shape. Section 3 said its
# queries and keys are small; here are their sizes, layer by layer, next to
# the trained model's: the standard deviation of the query and key entries,
# and of the scaled scores $q \cdot k / \sqrt{d_k}$ over the allowed pairs.

# %%
@torch.no_grad()
def query_key_sizes(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """(L, 3): per layer, the std of the queries, of the keys and of the scaled scores q.k/sqrt(D)."""
    C, H = model.config.n_embd, model.config.n_head
    D, T = C // H, idx.shape[1]
    x = model.wte(idx) + model.wpe(torch.arange(T))            # (1, T, C): the input of block 0
    rows = []
    for block in model.blocks:
        q, k, _ = block.attn.qkv(block.ln_1(x)).split(C, dim=-1)
        q, k = (t.view(1, T, H, D).transpose(1, 2) for t in (q, k))   # (1, H, T, D)
        scores = q @ k.transpose(-2, -1) / math.sqrt(D)              # (1, H, T, T)
        rows.append([q.std(), k.std(), scores[..., masks.causal_mask(T)].std()])
        x = block(x)
    return torch.tensor(rows)


torch.manual_seed(0)
untrained = GPT(cfg)
sizes = {"untrained": query_key_sizes(untrained, idx), "trained": query_key_sizes(model, idx)}
for name, sz in sizes.items():
    print(f"{name:9s}: q std {sz[:, 0].min():.2f}-{sz[:, 0].max():.2f}, k std {sz[:, 1].min():.2f}-"
          f"{sz[:, 1].max():.2f}, scaled scores std {sz[:, 2].min():.2f}-{sz[:, 2].max():.2f} (range over layers)")
untrained_maps = untrained.attention_maps(idx)[:, 0]
print(f"mean entropy per head: trained {habits['entropy'].mean():.2f}, "
      f"untrained {head_habits(untrained_maps, line)['entropy'].mean():.2f}, uniform {uniform_entropy:.2f}")

# %% [markdown]
# The untrained weights are drawn with standard deviation 0.02, so each
# query entry, a sum of $C = 160$ normalised inputs times such weights, has a
# standard deviation of about $\sqrt{160} \times 0.02 \approx 0.25$, and the
# scaled scores about $0.25^2 \approx 0.06$ (section 3's formula,
# $\sigma_q\sigma_k$). Scores that small give an almost flat softmax: every
# query spreads its weight almost evenly over the keys it may see, which is
# step 1 of section 1. Training has made the scaled scores 30 to 140 times
# larger (a standard deviation of 2.0 to 8.9, depending on the layer), and
# that is how the heads above got sharp: a head chooses its sharpness through
# its weights, while the $1/\sqrt{d_k}$ keeps the head size out of it.

# %% [markdown]
# ## 7. Explore the heads yourself
#
# Pick a layer and a head, or type your own text. Which heads follow the
# previous character? Does layer 2, head 0 still draw its word-start
# staircase on a text of your own? Which heads look back to the newline?

# %%
import glmlib.widgets

# %%
glmlib.widgets.attention_explorer(model, tokenizer, text=line)

# %% [markdown]
# ## 8. Exercises
#
# Each exercise has a stub that raises `NotImplementedError`. Replace its body
# and re-run the cell: the checker under it tries several cases and, for a
# wrong answer, says what the mistake looks like. In the self-study edition
# a folded worked solution follows each exercise; try first.
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

# %% exercise={"question": "q04_softmax", "points": 1}
def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, safe for huge logits and -inf entries."""
    # your code here
    raise NotImplementedError


ex.check_softmax(softmax)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Shift invariance (section 2) lets us subtract each row's maximum $m$:
# $e^{x_j - m} / \sum_{j'} e^{x_{j'} - m} = e^{x_j} / \sum_{j'} e^{x_{j'}}$.
# After the shift every exponent is $\le 0$ and the largest term is
# $e^0 = 1$, so the sum is at least 1: neither overflow nor $0/0$ can happen.
# `keepdim=True` keeps the reduced axis, so that each row subtracts (and
# divides by) its own number.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, safe for huge logits and -inf entries."""
    row_max = x.amax(dim=-1, keepdim=True)        # (..., 1)
    e = torch.exp(x - row_max)                     # every exponent <= 0
    return e / e.sum(dim=-1, keepdim=True)         # (..., n), rows sum to 1


ex.check_softmax(softmax)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_softmax(softmax).require()

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
# missing or wrong scale ($d_k$, $\sqrt{d_v}$, ...), scaling after the
# softmax, a softmax over the queries, an ignored or flipped mask, a mask
# applied after the softmax (zeroed weights, or `-inf` written into them), and
# `k.T` on a batch.

# %% exercise={"question": "q04_attention", "points": 2}
def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d_k), blocked keys -inf) v."""
    # your code here
    raise NotImplementedError


ex.check_attention(attention)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Transpose only the last two axes of `k`: `k.T` reverses *every* axis, the
# batch axes included. Scale by the square root of the **key** size $d_k$,
# which keeps the score variance independent of the head size (section 3). Fill the blocked
# scores with $-\infty$ *before* the softmax, so that the allowed weights still
# sum to 1; `~mask` selects the blocked entries because `True` means
# "may attend".
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_attention(attention).require()

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
# `F.scaled_dot_product_attention`. No Python loop over the heads (the
# checker reads your code; a comprehension over `(W_q, W_k, W_v)` is fine);
# `nn.MultiheadAttention` and `glmlib`'s `MultiHeadAttention` are
# trapped. The checker compares with `nn.MultiheadAttention` given the same
# weights, on four shapes (one head, one channel per head, ...), and names a
# head split that mixes positions, heads never transposed in front of the
# time axis, a merge without its transpose, a scale by $\sqrt{C}$ instead of
# $\sqrt{D}$, a missing mask, a mask that blocks the past or the diagonal, a
# missing `W_o`, transposed weights.

# %% exercise={"question": "q04_multi_head", "points": 2}
def multi_head_attention(x: torch.Tensor, W_q: torch.Tensor, W_k: torch.Tensor, W_v: torch.Tensor,
                         W_o: torch.Tensor, n_head: int) -> torch.Tensor:
    """Causal multi-head attention, (B, T, C) -> (B, T, C), all heads at once."""
    # your code here
    raise NotImplementedError


ex.check_multi_head_attention(multi_head_attention)

# %% [markdown] exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_multi_head_attention(multi_head_attention).require()

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

# %% exercise={"question": "q04_previous_char_head", "points": 3}
def previous_char_head(T: int, V: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hand-set (W_q, W_k, W_v) of a head that attends to, and copies, the previous character."""
    # your code here
    raise NotImplementedError


ex.check_previous_char_head(previous_char_head)

# %% [markdown] exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_previous_char_head(previous_char_head).require()

# %% [markdown]
# ## Summary
#
# - Attention is a soft lookup: $\operatorname{softmax}(QK^\top/\sqrt{d_k} + A)\,V$;
#   each row of weights is a distribution over the keys a query may see. With
#   all scores equal it is the causal average; scores computed from the tokens
#   make the weights depend on the data. It ignores order: positions come in
#   notebook 05.
# - Without the $1/\sqrt{d_k}$ the score variance grows like $d_k$ (measured)
#   and the softmax gets sharper with the head size (largest weight 0.95 at
#   $d_k = 1024$); its gradient first rises, then shrinks (to 0.06 against
#   0.24 with the scale at $d_k = 1024$). With the scale, behaviour does
#   not depend on the head size.
# - Multi-head attention splits the channels into $H$ heads of size $C/H$,
#   attends in each, concatenates and mixes with $W_O$: $4C^2 + 4C$ parameters.
#   Our from-scratch version matches `glmlib`, `F.scaled_dot_product_attention`
#   and `nn.MultiheadAttention` (mind its opposite mask polarity).
# - Trained heads specialise: a soft previous-character head, a word-start
#   head drawing a staircase, newline stripes, each measured rather than
#   guessed. Untrained heads, with their small queries and keys, spread their
#   attention almost evenly.
#
# **Next, notebook 05:** attention is only half of a decoder block. We add the
# position-wise feed-forward network, residual connections, LayerNorm and
# positional embeddings, and assemble the full GPT.
