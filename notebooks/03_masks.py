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
# # 03 · Masks: who may look at whom
#
# A GPT reads a whole sequence at once, yet at every position it must predict
# the next token **without peeking at it**. The tool that enforces this is the
# *attention mask*. This notebook builds masks from scratch, looks at them, and
# then proves, by experiment, that the future cannot influence the past.
#
# **You will learn to**
# - build the causal mask: query $i$ may attend key $j$ exactly when $j \le i$;
# - switch between the boolean form (`True` = may attend) and the additive
#   form ($0$ / $-\infty$), and know why $-\infty$ gives probability exactly $0$;
# - build a padding mask for a batch of sequences of different lengths, and
#   combine it with the causal mask;
# - run a **leak test**: change future tokens and check that outputs at earlier
#   positions stay bit-for-bit the same with the mask, and change without it.
#
# **Builds on:** 01 (the chain rule $P(x) = \prod_t P(x_t \mid x_{<t})$) and
# 02 (a shifted batch `(x, y)` gives $T$ training examples per sequence).
# Attention itself is the subject of notebook 04; here we only need to know
# that it mixes information *between* positions, and that the mask decides
# which positions may be mixed in.
#
# **Time:** *Run All* takes under a minute on a 2-core laptop; set aside 60–75
# minutes to study the notebook, exercises included.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import glmlib.exercises.masks as ex
from glmlib import masks
from glmlib.attention import MultiHeadAttention, scaled_dot_product_attention
from glmlib.data import visible
from glmlib.model import load_pretrained

torch.manual_seed(0)
plt.rcParams.update({"figure.dpi": 90, "font.size": 10})


# %% [markdown]
# ## 1. Why a mask at all?
#
# In notebook 02 we cut the text into windows `x` and targets `y`, where
# `y[t] = x[t+1]`. One forward pass over a window of $T$ tokens produces $T$
# predictions at once: at position $t$ the model should output
# $P(x_{t+1} \mid x_0, \dots, x_t)$.
#
# Attention lets position $t$ gather information from *other* positions. If
# position $t$ could gather from position $t+1$, it could simply read the
# answer it is asked to predict: training loss would fall to almost zero and the
# model would learn nothing useful for generation, where the future does not
# exist yet. So we allow each position to look only at itself and the past.
#
# We speak of **queries** (the position that is gathering, a row) and **keys**
# (the positions it may gather from, a column). A mask is a $T \times T$ table:
# row $i$ says which keys query $i$ may use.

# %% [markdown]
# ## 2. The causal mask
#
# $$
# M_{ij} =
# \begin{cases}
# \text{True}  & \text{if } j \le i \quad \text{(key } j \text{ is now or in the past of query } i\text{)}\\
# \text{False} & \text{if } j > i  \quad \text{(key } j \text{ is in the future: blocked)}
# \end{cases}
# \qquad i, j \in \{0, \dots, T-1\}.
# $$
#
# Row $i$ allows columns $0, 1, \dots, i$: the mask is **lower-triangular**,
# diagonal included (a token may look at itself). It is blocked exactly when
# $j > i$. Query $i$ therefore sees $i + 1$ keys, and the whole mask allows
# $T(T+1)/2$ of the $T^2$ pairs.
#
# From scratch: compare a column of query indices with a row of key indices and
# let broadcasting build the table.

# %%
def causal_mask_from_scratch(T: int) -> torch.Tensor:
    i = torch.arange(T)[:, None]  # (T, 1) query index
    j = torch.arange(T)[None, :]  # (1, T) key index
    return j <= i                 # (T, T) bool, True = may attend


mask5 = causal_mask_from_scratch(5)
print(mask5.int())
print("allowed pairs:", int(mask5.sum()), "= T(T+1)/2 =", 5 * 6 // 2)

# %% [markdown]
# The library version, `glmlib.masks.causal_mask`, must agree; so must
# PyTorch's own notion of "causal": `F.scaled_dot_product_attention(...,
# is_causal=True)` must give the same output as passing our mask explicitly.

# %%
# NBVAL_CHECK_OUTPUT
for T in (1, 2, 5, 16):
    assert torch.equal(causal_mask_from_scratch(T), masks.causal_mask(T))
print("glmlib.masks.causal_mask match: True")

g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(2, 3, 7, 8, generator=g) for _ in range(3))  # (B, H, T, D)
ours = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask_from_scratch(7))
theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
print("torch SDPA is_causal=True match:", torch.allclose(ours, theirs, atol=1e-6))

# %% [markdown]
# A picture makes the shape obvious. Rows are queries, columns are keys; each
# tick shows the position and its character for the text `"to be or"`.

# %%
def draw_mask(ax, mask: torch.Tensor, text: str, title: str) -> None:
    """Draw a bool (T, T) mask: dark = may attend, light = blocked."""
    T = mask.shape[-1]
    ax.imshow(mask.int(), cmap="Blues", vmin=-0.3, vmax=1.2)
    labels = [f"{p} {visible(c)}" for p, c in zip(range(T), text)]
    ax.set_xticks(range(T), labels, rotation=90)
    ax.set_yticks(range(T), labels)
    ax.set_xlabel("key j (attended to)")
    ax.set_ylabel("query i (attending)")
    ax.set_title(title)
    for i in range(T):
        for j in range(T):
            ax.text(j, i, "✓" if mask[i, j] else "·", ha="center", va="center",
                    color="white" if mask[i, j] else "grey", fontsize=9)


text = "to be or"
fig, ax = plt.subplots(figsize=(4.6, 4.6))
draw_mask(ax, masks.causal_mask(len(text)), text, "Causal mask, T = 8\n(✓ = may attend: j ≤ i)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read row 3 (the `b`): it may use `t`, `o`, `␣` and itself, and nothing to
# its right. The last row, the final `r`, sees the whole text; the first row
# sees only itself.

# %% [markdown]
# ## 3. Two forms of the same mask: boolean and additive
#
# Attention turns a row of scores $s_{i0}, \dots, s_{i,T-1}$ into weights with a
# softmax. To block a key we want its weight to be **exactly zero**. The
# additive form does this by adding a number to each score before the softmax:
#
# $$
# A_{ij} = \begin{cases} 0 & \text{if } M_{ij} \text{ (allowed)} \\ -\infty & \text{otherwise (blocked)} \end{cases}
# \qquad
# w_{ij} = \frac{e^{\,s_{ij} + A_{ij}}}{\sum_{j'} e^{\,s_{ij'} + A_{ij'}}}
#        = \frac{e^{\,s_{ij}}\,[M_{ij}]}{\sum_{j' : M_{ij'}} e^{\,s_{ij'}}}.
# $$
#
# Since $e^{-\infty} = 0$, blocked keys vanish from both the numerator and the
# denominator; the allowed weights still sum to 1. A large negative number such
# as $-10^9$ also works in float32 (the weight underflows to zero), but
# $-\infty$ says what we mean and is exact.
#
# * **Boolean** (`True` = may attend) is what you build and combine (with `&`).
#   PyTorch's `F.scaled_dot_product_attention` accepts it directly.
# * **Additive** is what you add to the scores; masks combine by `+`.
#
# Beware: **polarity conventions differ between libraries.** `torch.nn.MultiheadAttention`
# and `torch.nn.Transformer` use the opposite boolean meaning (`True` = *blocked*).
# This course always uses `True` = may attend, the convention of
# `F.scaled_dot_product_attention`.

# %%
# NBVAL_CHECK_OUTPUT
def to_additive_from_scratch(mask: torch.Tensor) -> torch.Tensor:
    return torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))


additive5 = to_additive_from_scratch(masks.causal_mask(5))
print(additive5)
print("glmlib.masks.to_additive match:", torch.equal(additive5, masks.to_additive(masks.causal_mask(5))))
reference = torch.nn.Transformer.generate_square_subsequent_mask(5)
print("torch.nn.Transformer.generate_square_subsequent_mask match:", torch.equal(additive5, reference))

# %% [markdown]
# Now watch a softmax over one row of scores with and without the additive
# mask. Row 2 of a causal mask allows keys 0, 1, 2:

# %%
scores = torch.tensor([1.0, 2.0, 0.5, 3.0, -1.0])  # one query's scores over 5 keys
row = additive5[2]                                   # query 2: keys 3 and 4 blocked
print("weights without mask:", torch.softmax(scores, -1).numpy().round(4))
print("weights with mask:   ", torch.softmax(scores + row, -1).numpy().round(4))
print("blocked weights exactly zero:", bool((torch.softmax(scores + row, -1)[3:] == 0).all()))
print("the same as a softmax over the allowed keys only:",
      torch.allclose(torch.softmax(scores + row, -1)[:3], torch.softmax(scores[:3], -1)))

# %% [markdown]
# One trap: if a row blocks **every** key, the softmax is $0/0$ and gives
# `nan`. A causal mask never does this (the diagonal is always allowed), but a
# careless combination with other masks can. `glmlib`'s attention and recent
# PyTorch's SDPA return zeros for such a row instead of `nan`:

# %%
all_blocked = torch.full((3,), float("-inf"))
print("softmax of a fully blocked row:", torch.softmax(all_blocked, -1))
_, w = scaled_dot_product_attention(torch.ones(1, 4), torch.ones(3, 4), torch.ones(3, 2),
                                    mask=torch.zeros(1, 3, dtype=torch.bool))
print("glmlib gives weights:", w)

# %% [markdown]
# ## 4. Padding masks
#
# To train on several sequences at once they must all have the same length
# $T$, so shorter ones are **padded** with a filler token. Those filler
# positions are not text: no query should attend to them as keys. For a batch
# with real lengths $\ell_b$, the padding mask is
#
# $$ P_{b,j} = \big[\, j < \ell_b \,\big], \qquad j \in \{0, \dots, T-1\}, $$
#
# one row per sequence. It concerns **keys** only, so `glmlib.masks.padding_mask`
# returns shape $(B, 1, T)$: the singleton axis broadcasts over every query row.
#
# Combined with the causal mask by a logical AND, query $i$ of sequence $b$ may
# attend key $j$ exactly when $j \le i$ **and** $j < \ell_b$:
#
# $$ M^{\text{comb}}_{b,i,j} = [\,j \le i\,] \wedge [\,j < \ell_b\,]. $$
#
# In additive form the same combination is a sum, because $0 + 0 = 0$ and
# anything plus $-\infty$ is $-\infty$.

# %%
# NBVAL_CHECK_OUTPUT
texts = ["to be", "or not", "to"]
T = max(len(t) for t in texts)
lengths = [len(t) for t in texts]
padded = [t + "∅" * (T - len(t)) for t in texts]  # ∅ marks a padding slot
print("padded batch:", padded, " lengths:", lengths)

pad = masks.padding_mask(lengths, T)  # (B, 1, T)
print("padding mask", tuple(pad.shape), "\n", pad[:, 0].int())

keys = torch.arange(T)
pad_from_scratch = (keys[None, :] < torch.tensor(lengths)[:, None])[:, None, :]
print("from scratch match:", torch.equal(pad_from_scratch, pad))

combined = masks.combine(masks.causal_mask(T), pad)  # (T, T) & (B, 1, T) -> (B, T, T)
print("combined mask shape:", tuple(combined.shape))
print("additive forms add up:",
      torch.equal(masks.to_additive(combined), masks.to_additive(masks.causal_mask(T)) + masks.to_additive(pad)))

# %%
b = 2  # the sequence "to", padded to length 6
fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
draw_mask(axes[0], masks.causal_mask(T), padded[b], "causal")
draw_mask(axes[1], pad[b].expand(T, T), padded[b], f"padding (length {lengths[b]})")
draw_mask(axes[2], combined[b], padded[b], "causal AND padding")
fig.suptitle(f"Masks for the padded sequence {padded[b]!r} (∅ = padding)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The padded *query* rows (rows 2 to 5 on the right) still see the real keys
# 0 and 1, so no row is ever fully blocked and nothing becomes `nan`. Their
# outputs are meaningless, but harmless: the loss ignores padded positions
# (for example `F.cross_entropy(..., ignore_index=pad_id)`), so they never
# teach the model anything.
#
# (Our course model trains on windows cut from one long text, which never need
# padding. Padding matters as soon as you batch prompts or documents of
# different lengths.)

# %% [markdown]
# ## 5. The leak test: the future cannot influence the past
#
# A mask that looks right in a picture is not yet a proof. The real claim is
# about outputs: **with the causal mask, the output at position $t$ depends
# only on inputs at positions $0..t$.** We test it the way a sceptic would:
#
# 1. run attention on an input $x$;
# 2. overwrite every position from $t_0$ on with something completely different;
# 3. compare outputs at positions $< t_0$.
#
# With the mask they must be identical (not just close: the changed values are
# multiplied by weights that are exactly zero). Without the mask they must change.
#
# First with a one-head attention written out here (notebook 04 derives it
# properly): $\operatorname{softmax}(QK^\top/\sqrt{d} + A)\,V$.

# %%
torch.manual_seed(0)
T, C = 12, 16
W_q, W_k, W_v = (torch.randn(C, C) / math.sqrt(C) for _ in range(3))


def one_head(x: torch.Tensor, causal: bool) -> torch.Tensor:
    """(T, C) -> (T, C); future keys blocked when ``causal``."""
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    scores = q @ k.T / math.sqrt(C)  # (T, T)
    if causal:
        scores = scores + to_additive_from_scratch(causal_mask_from_scratch(len(x)))
    return torch.softmax(scores, dim=-1) @ v


x = torch.randn(T, C)
t0 = 7
x_changed = x.clone()
x_changed[t0:] = 10 * torch.randn(T - t0, C)  # a very different future

change = {}
for causal in (True, False):
    change[causal] = (one_head(x, causal) - one_head(x_changed, causal)).abs().amax(dim=-1)  # (T,)

# %%
# NBVAL_CHECK_OUTPUT
print(f"positions 0..{t0 - 1} unchanged WITH the mask:   ", bool((change[True][:t0] == 0).all()))
print(f"positions 0..{t0 - 1} unchanged WITHOUT the mask:", bool((change[False][:t0] == 0).all()))
print("largest change at an earlier position, with mask:", change[True][:t0].max().item())

# %%
fig, ax = plt.subplots(figsize=(8, 3.4))
pos = torch.arange(T)
ax.bar(pos - 0.2, change[False], width=0.4, label="without mask", color="tab:red")
ax.bar(pos + 0.2, change[True], width=0.4, label="with causal mask", color="tab:blue")
ax.axvspan(t0 - 0.5, T - 0.5, color="grey", alpha=0.15, label=f"inputs changed (t ≥ {t0})")
ax.set_xticks(pos)
ax.set_xlabel("position t")
ax.set_ylabel("max |change in output|")
ax.set_title("Leak test: changing the future moves earlier outputs only without the mask")
ax.set_ylim(0, 1.35 * float(change[False].max()))
ax.legend(loc="upper center", ncol=3)
fig.tight_layout()
plt.show()

# %% [markdown]
# The blue bars are exactly zero left of the grey band: nothing leaks
# backwards. The red bars show that without the mask every position,
# including position 0, is pulled around by tokens it should never have seen.
#
# A second, stronger view: the **dependency matrix**
# $D_{tj} = \big\lVert \partial y_t / \partial x_j \big\rVert$, how strongly output
# $t$ reacts to an infinitesimal change of input $j$. A causal model must have
# $D_{tj} = 0$ for every $j > t$, for *every* input, not just the one we tried.

# %%
x_small = torch.randn(8, C)
dependency = {}
for causal in (True, False):
    J = torch.autograd.functional.jacobian(lambda inp: one_head(inp, causal), x_small)  # (T, C, T, C)
    dependency[causal] = J.pow(2).sum(dim=(1, 3)).sqrt()  # (T, T): output t, input j

# %%
# NBVAL_CHECK_OUTPUT
future = ~masks.causal_mask(8)
print("with mask, every d y_t / d x_j with j > t is exactly zero:", bool((dependency[True][future] == 0).all()))
print("with mask, zero nowhere else:", bool((dependency[True][~future] != 0).all()))
print("without mask, no d y_t / d x_j is zero:", bool((dependency[False] != 0).all()))

# %%
largest = max(float(d.max()) for d in dependency.values())  # one colour scale for both panels
cmap = plt.get_cmap("magma").with_extremes(bad="lightgrey")     # exact zeros drawn grey
fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.3), layout="constrained")
for ax, causal in zip(axes, (False, True)):
    d = dependency[causal]
    im = ax.imshow(d.masked_fill(d == 0, float("nan")), cmap=cmap, vmin=0, vmax=largest)
    ax.set_title("with causal mask" if causal else "without mask")
    ax.set_xlabel("input position j")
    ax.set_ylabel("output position t")
    ax.set_xticks(range(8))
    ax.set_yticks(range(8))
fig.colorbar(im, ax=axes, fraction=0.03, label=r"$\|\partial y_t / \partial x_j\|$ (same scale in both panels)")
fig.suptitle("Which inputs can each output depend on? (grey = exactly zero)")
plt.show()

# %% [markdown]
# Both panels share one colour scale, and grey cells are exactly zero. With
# the mask the grey cells are precisely the upper triangle, $j > t$; without
# it none is grey, so even output 0 reacts to input 7.

# %% [markdown]
# > **A common mistake: a mask that blocks the past.** Some texts write the
# > causal mask as the positions to *block*, `torch.ones(T, T).triu(diagonal=1)`
# > (True above the diagonal), which is what `nn.MultiheadAttention` expects:
# > its boolean `attn_mask` marks blocked keys. Read with our convention (and
# > SDPA's), True = *may attend*, the same tensor does the opposite: each
# > query sees only its future, its past and itself are blocked, and the last
# > query has no key at all, so its row of scores is all $-\infty$ and a
# > written-out softmax gives $0/0$ = NaN (PyTorch's SDPA returns zeros there
# > instead). Writing the additive mask with 0 for $j \ge i$ is the same
# > mistake with the diagonal kept. The leak test catches both at once; here
# > it is on the head above, with the blocked-keys mask read as "may attend":

# %%
# NBVAL_CHECK_OUTPUT
blocked_keys = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)  # True = blocked: the future


def one_head_allowing(x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """The head above with a bool mask read as True = may attend."""
    scores = (x @ W_q) @ (x @ W_k).T / math.sqrt(C)  # (T, T)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ (x @ W_v)


wrong = one_head_allowing(x, blocked_keys)
moved = (wrong - one_head_allowing(x_changed, blocked_keys))[:t0].abs().amax().item()
print(f"positions 0..{t0 - 1} unchanged when only the future changes:", moved == 0)
print("rows that are NaN (a query with no key left):", torch.isnan(wrong).any(-1).nonzero().flatten().tolist())

# %% [markdown]
# > Every earlier position now moves with the future, and the last row,
# > query 11, is NaN. The checkers of this course name this mistake when
# > they see it ("is the mask letting queries see the future?", "your mask
# > blocks the past").

# %% [markdown]
# Now the library. `glmlib.attention.MultiHeadAttention` takes `is_causal=True`;
# the same test must hold for it, with several heads and a batch.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
mha = MultiHeadAttention(n_embd=32, n_head=4).eval()
xb = torch.randn(2, 10, 32)  # (B, T, C)
xb_changed = xb.clone()
xb_changed[:, 6:] = 10 * torch.randn(2, 4, 32)
with torch.no_grad():
    for causal in (True, False):
        diff = (mha(xb, is_causal=causal) - mha(xb_changed, is_causal=causal))[:, :6].abs().max().item()
        print(f"is_causal={causal}: positions 0..5 unchanged: {diff == 0}")

# %% [markdown]
# Finally the real thing: the trained model shipped with the course. Two inputs
# share the prefix *"To be, or not to be"* and then go different ways. The
# model's predictions (logits) for every prefix position must not care which
# ending follows.

# %%
model, tokenizer = load_pretrained()
prefix = "To be, or not to be"
endings = [", that is the question:", "? Ay, there's the rub."]
with torch.no_grad():
    logits = [model(torch.tensor([tokenizer.encode(prefix + e)]))[0][0] for e in endings]  # (T, V) each
n = len(prefix)
prefix_diff = (logits[0][:n] - logits[1][:n]).abs().max().item()
after_diff = (logits[0][n:n + 2] - logits[1][n:n + 2]).abs().max().item()
print(f"largest logit difference on the shared prefix: {prefix_diff:.1e}")
print(f"largest logit difference just after it:        {after_diff:.2f}")

# %%
# NBVAL_CHECK_OUTPUT
print("trained model, prefix predictions unchanged by the ending:", prefix_diff < 1e-5)
print("and the positions after the prefix do change:", after_diff > 1e-3)

# %% [markdown]
# The difference printed for the shared prefix is exactly `0.0e+00`: its
# logits are bit-for-bit the same whichever ending follows. The check above
# nevertheless only asks for less than $10^{-5}$, because PyTorch does not
# promise bit-identical results for inputs of different lengths: on another
# machine (or a GPU) its kernels may split a sum differently for a longer
# input, which changes the last bits of a float without any information
# leaking. The exact tests on the hand-written head and on
# `MultiHeadAttention` above are the proof that the mask leaks nothing.

# %% [markdown]
# ## 6. Explore
#
# The mask explorer shows a mask in both forms (boolean and additive) and what
# it does to the attention weights of random scores. Change `T`, switch the
# causal part off and on, and type the real lengths of a batch (for example
# `8, 5`), then pick which sequence to show. Things to try:
#
# - With `causal` off and no padding, every weight is nonzero: the leak.
# - Give a sequence length 1: every query of it may then see only key 0.
# - Compare the weights before and after masking in one row: the allowed
#   weights grow so that the row still sums to 1.

# %%
import glmlib.widgets

glmlib.widgets.mask_explorer(T=8)

# %% [markdown]
# ## 7. Exercises
#
# Each exercise has a stub that raises `NotImplementedError`. Replace its body
# and re-run the cell: the checker under it tries several cases, including edge
# cases, and for a wrong answer says what the mistake looks like. In the
# self-study edition a folded worked solution follows each exercise; try
# first.
#
# ### Exercise 1: a sliding-window mask
#
# Some models (Longformer, Mistral) let each query see only the `window` most
# recent keys, itself included: query $i$ may attend key $j$ exactly when
# $i - \text{window} < j \le i$. Write `local_causal_mask(T, window)` returning
# a bool tensor of shape `(T, T)` (`True` = may attend) for `T >= 1` and
# `window >= 1`. With `window = 1` only the diagonal is allowed; with
# `window >= T` you get the plain causal mask.
#
# Do not use `glmlib.masks`: the checker traps its functions, also under a
# name you imported them by. Your from-scratch functions of sections 2 and 3
# are fine. The checker compares with masks drawn by hand for six `(T, window)`
# pairs and says what a wrong mask looks like (a future key, a blocked
# diagonal, one key too many or too few).

# %% exercise={"question": "q03_local_mask", "points": 2}
def local_causal_mask(T: int, window: int) -> torch.Tensor:
    """Bool (T, T): True where query i may attend key j, i - window < j <= i."""
    # your code here
    raise NotImplementedError


ex.check_local_causal_mask(local_causal_mask)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Two conditions, each a comparison of a column of query indices with a row of
# key indices: "not in the future" ($j \le i$) and "not too far back"
# ($j > i - \text{window}$). Their AND is a band of `window` diagonals. The
# classic slip is $j \ge i - \text{window}$, which lets each query see
# `window + 1` keys.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def local_causal_mask(T: int, window: int) -> torch.Tensor:
    """Bool (T, T): True where query i may attend key j, i - window < j <= i."""
    query = torch.arange(T)[:, None]            # (T, 1)
    key = torch.arange(T)[None, :]              # (1, T)
    not_future = key <= query                   # (T, T)
    recent = key > query - window               # (T, T): at most `window` back
    return not_future & recent


ex.check_local_causal_mask(local_causal_mask)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_local_causal_mask(local_causal_mask).require()

# %% [markdown]
# ### Exercise 2: one additive mask for a padded batch
#
# Write `padded_causal_additive(lengths, T)` for a batch of right-padded
# sequences with real lengths `lengths` (a list of ints, each between 1 and
# `T`). Return a float32 tensor of shape `(B, T, T)` holding `0.0` where query
# `i` of sequence `b` may attend key `j`, that is where `j <= i` **and**
# `j < lengths[b]`, and `-inf` everywhere else: the mask you would add to the
# scores of a whole batch.
#
# Again without `glmlib.masks` (trapped). The checker compares with
# `glmlib.masks` on four batches and recognises the usual slips: a finite
# number instead of `-inf`, `0` and `-inf` swapped, a future key, a padded key
# left visible, padding applied to the queries instead of the keys.

# %% exercise={"question": "q03_padded_additive", "points": 2}
def padded_causal_additive(lengths: list[int], T: int) -> torch.Tensor:
    """Float (B, T, T): 0.0 where query i of sequence b may attend key j, -inf elsewhere."""
    # your code here
    raise NotImplementedError


ex.check_padded_causal_additive(padded_causal_additive)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Build the boolean mask first, then convert it once. The padding part is
# indexed by **key** (the last axis), so it gets a new axis for the queries
# before it broadcasts against the causal `(T, T)` mask. Using `-1e9` instead
# of `-inf` would behave almost the same inside a softmax, but it is not the
# additive mask: a blocked weight would be tiny instead of exactly zero.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def padded_causal_additive(lengths: list[int], T: int) -> torch.Tensor:
    """Float (B, T, T): 0.0 where query i of sequence b may attend key j, -inf elsewhere."""
    pos = torch.arange(T)
    causal = pos[None, :] <= pos[:, None]                        # (T, T)
    real_key = pos[None, :] < torch.tensor(lengths)[:, None]      # (B, T)
    allowed = causal[None, :, :] & real_key[:, None, :]           # (B, T, T)
    blocked = torch.full(allowed.shape, float("-inf"))
    return torch.where(allowed, 0.0, blocked)                     # float32 (B, T, T)


ex.check_padded_causal_additive(padded_causal_additive)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_padded_causal_additive(padded_causal_additive).require()

# %% [markdown]
# ### Exercise 3 (transfer): causal averaging as one matrix product
#
# Before attention has learned anything, the simplest way for position $i$ to
# gather its context is to give every position it may see the same weight:
#
# $$ y_i = \frac{1}{i + 1} \sum_{j=0}^{i} x_j, \qquad\text{that is}\qquad Y = W X,
# \quad W_{ij} = \begin{cases} \frac{1}{i+1} & j \le i \\ 0 & j > i. \end{cases} $$
#
# Write `causal_average(x)` for `x` of shape `(B, T, C)`: build the `(T, T)`
# weight matrix `W` whose row `i` averages positions `0..i`, and return
# `W @ x`, shape `(B, T, C)` (the product broadcasts over the batch).
#
# One matrix product, no Python loop (the checker reads your code) and no
# `cumsum` or attention function (trapped). The checker first feeds
# `x` = the identity, so that your output **is** your weight matrix, then
# random batches, and compares with PyTorch's `F.scaled_dot_product_attention`
# given equal scores everywhere. It says when a row does not sum to 1 or a
# query sees the future.

# %% exercise={"question": "q03_causal_average", "points": 3}
def causal_average(x: torch.Tensor) -> torch.Tensor:
    """(B, T, C) -> (B, T, C): output i is the mean of x[:, 0..i], as one matrix product."""
    # your code here
    raise NotImplementedError


ex.check_causal_average(causal_average)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# A lower-triangular matrix of ones picks positions $0..i$ in row $i$; dividing
# each row by its sum ($i + 1$) turns picking into averaging. The same weights
# come out of a softmax over the additive causal mask with all scores equal,
# `torch.softmax(to_additive_from_scratch(causal_mask_from_scratch(T)), dim=-1)`:
# $e^0 = 1$ for each allowed key and $e^{-\infty} = 0$ for the others. That is
# exactly masked attention whose scores have not learned anything yet.
# Notebook 04 lets the scores depend on the tokens, so each query can choose
# its own weights instead of a flat average.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def causal_average(x: torch.Tensor) -> torch.Tensor:
    """(B, T, C) -> (B, T, C): output i is the mean of x[:, 0..i], as one matrix product."""
    T = x.shape[1]
    ones = torch.ones(T, T).tril()                     # (T, T): 1 where j <= i
    weights = ones / ones.sum(dim=-1, keepdim=True)    # row i: 1 / (i + 1) on 0..i
    return weights @ x                                 # (T, T) @ (B, T, C) -> (B, T, C)


ex.check_causal_average(causal_average)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_causal_average(causal_average).require()

# %% [markdown]
# ## Summary
#
# - The causal mask is lower-triangular: query $i$ may attend key $j$ iff
#   $j \le i$; it is blocked exactly when $j > i$.
# - Boolean masks (`True` = may attend) combine with `&`; additive masks
#   ($0$ / $-\infty$) are added to the scores and combine with `+`. Because
#   $e^{-\infty} = 0$, blocked keys get weight exactly zero.
# - Padding masks hide filler keys; combined with the causal mask they give a
#   $(B, T, T)$ mask. Watch the polarity convention of each library.
# - The leak test, on a hand-written head, on `glmlib`'s multi-head attention
#   and on the trained model, shows that with the mask the future has no effect
#   on the past, and without it, it does.
#
# **Next, notebook 04:** what happens *inside* the masked softmax: queries,
# keys, values, the $1/\sqrt{d_k}$ scaling, and multi-head attention, and
# what the trained model's heads actually look at.
