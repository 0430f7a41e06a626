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
# # 08 · Inside the trained model, and faster inference
#
# The model works: it writes passable Shakespeare. This notebook opens
# it up and then makes it faster. First we look at what its attention heads
# learned to look at, using nothing but the weights of the shipped model.
# Then we ask the model how surprising a text is, character by character.
# Last, we speed up generation with a **KV cache**, the trick every
# production language model uses, measure the gain, and deal with what
# happens when the text grows past the context window.
#
# **In this notebook you will**
#
# 1. explore the attention of every layer and head of the trained model,
#    interactively and as a grid of pictures, and name the patterns you see
#    (previous-character heads, local heads, heads that track line breaks);
# 2. score heads automatically, to find each kind of head without looking;
# 3. score any text character by character: rank colouring and perplexity,
#    on real Shakespeare, the model's own samples and shuffled text;
# 4. build a KV cache from scratch for one attention layer and see why it
#    is exact;
# 5. use `glmlib`'s cache in `model.generate`, check it produces identical
#    tokens, and time the speed-up at equal thread counts;
# 6. understand the windowing rule past `block_size`, and why learned
#    absolute positions force it (and relative ones do not);
# 7. find out where to go next;
# 8. in the exercises, score heads for attention to earlier copies of a
#    character, replay the windowing rule, and build a sliding-window KV
#    cache.
#
# **Builds on:** attention and attention maps (04), the decoder block and
# positional embeddings (05), the trained model (06) and generation (07).
# As everywhere in the course, $T$ is the length of a sequence and the
# temperature is $\tau$.
#
# **Time:** *Run All* takes about a minute on a 2-core laptop; set aside 75–90
# minutes to study the notebook, exercises included.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
from matplotlib import colors

import glmlib.exercises.inference as ex
from glmlib.data import visible
from glmlib.model import load_pretrained, window_start

model, tokenizer = load_pretrained()
L, H, C = model.config.n_layer, model.config.n_head, model.config.n_embd
block_size = model.config.block_size
print(f"the shipped model: {L} layers x {H} heads, n_embd={C}, block_size={block_size}, "
      f"vocabulary {model.config.vocab_size}, {model.num_params():,} parameters")

ATTENTION_CMAP = "Blues"  # attention weights: the same colours as notebook 04 and the attention explorer


def attention_norm() -> colors.PowerNorm:
    """Colour scale for weights in [0, 1]: square root, so that small weights stay visible."""
    return colors.PowerNorm(0.5, vmin=0, vmax=1)


# %% [markdown]
# ## 1. What the trained heads attend to
#
# Every head of every layer computes, for each position $i$ (the query), a
# distribution over the positions $j \le i$ (the keys):
# $A_{ij} = \mathrm{softmax}_j\big(q_i \cdot k_j / \sqrt{D}\big)$. Row $i$ of
# the map says where position $i$ gathers information from. Nobody told the
# model what to gather; whatever patterns appear were learned because they
# help to predict the next character.
#
# The explorer shows one head at a time (pick the layer and head, slide the
# query position to see one row as bars) or all heads of a layer at once.

# %%
from glmlib.widgets import attention_explorer

attention_explorer(model, tokenizer, text="ROMEO:\nBut soft, what light?\n\nJULIET:\nAy me!")

# %% [markdown]
# ### Every head at once
#
# `model.attention_maps(idx)` returns all the weights, shape
# `(L, B, H, T, T)`. Here is every head on a short exchange between two
# speakers, one small map per head: row = query (the character doing the
# looking, top to bottom), column = key (the character looked at, left to
# right). Everything above the diagonal is the masked future and is exactly
# 0. All maps share one colour scale (the colour bar on the right), with
# the square root of the weight, as in notebook 04, so that faint weights
# stay visible.

# %%
text = "ROMEO:\nBut soft, what light?\n\nJULIET:\nAy me!\n\nROMEO:\nShe speaks."
idx = torch.tensor([tokenizer.encode(text)])  # (1, T)
maps = model.attention_maps(idx)[:, 0]  # (L, H, T, T)
T = len(text)
print(f"attention maps: {tuple(maps.shape)} (layers, heads, query, key); {T} characters")

fig, axes = plt.subplots(L, H, figsize=(2.2 * H, 2.2 * L), squeeze=False)
for l in range(L):
    for h in range(H):
        ax = axes[l, h]
        im = ax.imshow(maps[l, h].numpy(), cmap=ATTENTION_CMAP, norm=attention_norm())
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"layer {l}, head {h}", fontsize=8)
for l in range(L):
    axes[l, 0].set_ylabel("query ↓", fontsize=8)
for h in range(H):
    axes[-1, h].set_xlabel("key →", fontsize=8)
fig.suptitle("Attention of every head of the shipped model", y=1.0)
fig.tight_layout()
fig.colorbar(im, ax=axes, fraction=0.02, pad=0.02, label="attention weight (square-root colour scale)")
plt.show()

# %% [markdown]
# ### Scoring heads
#
# Looking is good; measuring is better. A few numbers per head, each an
# average over the query positions $i \ge 1$ of the text:
#
# * **previous character**: $A_{i,i-1}$, the weight on the character just
#   before the query;
# * **self**: $A_{ii}$, the weight on the query's own character;
# * **mean distance**: $\sum_j A_{ij}(i - j)$, how far back the head looks
#   on average;
# * **newlines**: $\sum_{j:\ x_j = \texttt{\\n}} A_{ij}$, the total weight on
#   line breaks;
# * **last vowel or boundary**: $A_{i,b(i)}$, where $b(i) \le i$ is the
#   latest position holding a vowel, a space, a line break or a punctuation
#   mark (we will see below why this one is interesting).
#
# (A uniform head over $i + 1$ keys would give $1/(i+1)$ to each, and a
# mean distance of $i/2$: 16 characters on average over this text.)

# %%
def latest_anchor(text: str) -> torch.Tensor:
    """b(i) for each position i: the latest position <= i holding a vowel, a space, a line
    break or a punctuation mark (0 if there is none yet). Shape (T,)."""
    anchors, latest = set("aeiouAEIOU \n,.;:!?'-"), []
    for i, c in enumerate(text):
        latest.append(i if c in anchors else (latest[-1] if latest else 0))
    return torch.tensor(latest)


def head_scores(maps: torch.Tensor, text: str) -> dict[str, torch.Tensor]:
    """Per-head scores from attention maps (L, H, T, T): each an (L, H) tensor."""
    T = maps.shape[-1]
    offsets = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).float()  # (T, T): i - j
    newline = torch.tensor([c == "\n" for c in text])  # (T,)
    latest = latest_anchor(text)  # (T,)
    return {
        "previous character": torch.diagonal(maps, offset=-1, dim1=-2, dim2=-1).mean(-1),
        "self": torch.diagonal(maps, dim1=-2, dim2=-1)[..., 1:].mean(-1),
        "mean distance": (maps * offsets).sum(-1)[..., 1:].mean(-1),
        "newlines": maps[..., newline].sum(-1)[..., 1:].mean(-1),
        "last vowel or boundary": maps[..., torch.arange(T), latest][..., 1:].mean(-1),
    }


scores = head_scores(maps, text)
uniform_distance = (torch.arange(1, T) / 2).mean().item()
print(f"{'':>8}" + "".join(f"{name:>24}" for name in scores))
for l in range(L):
    for h in range(H):
        print(f"L{l} H{h}:  " + "".join(f"{s[l, h].item():>24.2f}" for s in scores.values()))
print(f"for comparison, a uniform head: mean distance {uniform_distance:.1f}")

# %% [markdown]
# The same numbers as pictures. Four of the scores are shares of a query's
# attention, between 0 and 1, so those four panels share one colour scale
# and can be compared with each other; the mean distance is a number of
# characters and has its own scale. Each cell also shows its value.

# %%
shares = [name for name in scores if name != "mean distance"]
fig, axes = plt.subplots(1, len(scores), figsize=(3.1 * len(scores), 3.9), layout="constrained")
for ax, name in zip(axes, shares + ["mean distance"]):
    s = scores[name]
    if name == "mean distance":
        im_distance = ax.imshow(s.numpy(), cmap="magma", vmin=0, vmax=uniform_distance)
    else:
        im_share = ax.imshow(s.numpy(), cmap="viridis", vmin=0, vmax=1)
    for l in range(L):
        for h in range(H):
            value = s[l, h].item()
            bright = value > (0.6 if name != "mean distance" else 0.6 * uniform_distance)
            ax.text(h, l, f"{value:.2f}" if name != "mean distance" else f"{value:.1f}", ha="center",
                    va="center", fontsize=7, color="black" if bright else "white")
    ax.set_xticks(range(H), [f"H{h}" for h in range(H)])
    ax.set_yticks(range(L), [f"L{l}" for l in range(L)])
    ax.set(title=name, xlabel="head", ylabel="layer")
fig.colorbar(im_share, ax=axes[:len(shares)], shrink=0.8, label="share of the attention (0 to 1)")
fig.colorbar(im_distance, ax=axes[-1], shrink=0.8,
             label=f"characters back (top = a uniform head's {uniform_distance:.0f})")
fig.suptitle("Head scores on the two-speaker text")
plt.show()

# %% [markdown]
# ### A closer look, characters on the axes
#
# The heads that score highest on three of those measures, and one more:
# the head whose **strongest key** (the brightest cell of a row) is most
# often the previous character. Now the characters are written on the axes
# (the same text, so row $i$ is the query at character $i$):

# %%
def best_head(score: torch.Tensor) -> tuple[int, int]:
    flat = int(score.argmax())
    return flat // H, flat % H


strongest = maps.argmax(dim=-1)  # (L, H, T): the key each query attends to most
previous_is_strongest = (strongest[..., 1:] == torch.arange(T - 1)).float().mean(-1)  # (L, H)
chosen = {
    "most weight on the previous character": best_head(scores["previous character"]),
    "previous character most often its strongest key": best_head(previous_is_strongest),
    "most newline-focused": best_head(scores["newlines"]),
    "most on the last vowel or boundary": best_head(scores["last vowel or boundary"]),
}
labels = [visible(c) for c in text]
for why, (l, h) in chosen.items():
    fig, ax = plt.subplots(figsize=(8.3, 7.5), layout="constrained")
    im = ax.imshow(maps[l, h].numpy(), cmap=ATTENTION_CMAP, norm=attention_norm())
    ax.set_xticks(range(T), labels, fontsize=7.5)
    ax.set_yticks(range(T), labels, fontsize=7.5)
    ax.set(title=f"layer {l}, head {h}: {why}", xlabel="key (attended to)", ylabel="query (attending)")
    fig.colorbar(im, ax=ax, shrink=0.6, label="attention weight (square-root colour scale)")
    plt.show()

# %%
# NBVAL_CHECK_OUTPUT
for why, (l, h) in chosen.items():
    summary = ", ".join(f"{name} {s[l, h].item():.2f}" for name, s in scores.items())
    print(f"{why}: layer {l}, head {h} ({summary})")

# %% [markdown]
# The maps are not clean lines. Two measurements describe their shapes,
# over the queries $i = 1 \dots T-1$:
#
# * where the weight goes, by distance: on the query itself ($j = i$), the
#   previous character ($j = i - 1$), two back, and three or more back;
# * the **strongest key** of each query (the brightest cell of its row): how
#   often it is the previous character, how often the latest vowel or
#   boundary $b(i)$, and how often it is the *same key as the row above*. A
#   clean sub-diagonal would score 0 on that last one (each row moves one key
#   to the right); a staircase scores high (a run of rows shares one key), a
#   vertical stripe higher still.

# %%
# NBVAL_CHECK_OUTPUT
def head_profile(A: torch.Tensor, latest: torch.Tensor) -> list[float]:
    """One head's map A (T, T): weights by distance, and where its strongest keys lie."""
    T = A.shape[-1]
    offsets = torch.arange(T)[:, None] - torch.arange(T)[None, :]  # (T, T): i - j
    by_distance = [(A * (offsets == d)).sum(-1)[1:].mean().item() for d in (0, 1, 2)]
    by_distance.append((A * (offsets >= 3)).sum(-1)[1:].mean().item())
    strongest = A.argmax(dim=-1)  # (T,)
    i = torch.arange(1, T)
    return by_distance + [(strongest[1:] == i - 1).float().mean().item(),
                          (strongest[1:] == latest[1:]).float().mean().item(),
                          (strongest[1:] == strongest[:-1]).float().mean().item()]


latest = latest_anchor(text)
print(f"{'':<12}{'weight on: itself':>18}{'i-1':>6}{'i-2':>6}{'i-3..':>7}"
      f"{'strongest key: i-1':>20}{'b(i)':>6}{'as row above':>14}")
for why, (l, h) in chosen.items():
    profile = head_profile(maps[l, h], latest)
    print(f"L{l} H{h}{'':<6}{profile[0]:>18.2f}" + "".join(f"{v:>6.2f}" for v in profile[1:3])
          + f"{profile[3]:>7.2f}{profile[4]:>20.0%}{profile[5]:>6.0%}{profile[6]:>14.0%}")

# %% [markdown]
# What we see in the shipped model (the numbers above back each claim):
#
# * **Layer 0 mostly averages.** Three of its four heads are broad: weight
#   spread over many earlier characters, fading with distance (mean
#   distances of about six to ten characters); only head 0 is already local.
#   Before any head can look for something specific, the first layer
#   gathers a blurred summary of the recent past.
# * **A pale previous-character line.** Layer 0, head 0 is the one clean
#   line just below the diagonal: the previous character is the strongest
#   key of 84% of its queries, and only 17% of its rows share their
#   strongest key with the row above. But the line is pale: on average only
#   0.33 of the weight sits on it, the rest spreads over the characters
#   before.
# * **A line-break head.** Layer 1, head 1 puts 0.81 of its weight on `\n`
#   characters: the vertical stripes in its map, one long run of rows per
#   line (86% of its rows share their strongest key with the row above).
#   Every position looks back at the latest line break, which marks where
#   the current line, the current speech, and the speaker's name began.
#   Knowing "I am a few characters after a line break, inside a name in
#   capitals" is what lets the model end a name with `:` and a newline.
# * **Staircase heads.** Some early heads draw a staircase: a run of queries
#   all attend to the same key, then the run jumps to a new key. Reading the
#   characters on the axes, that key is often the latest vowel, space or
#   punctuation mark: in layer 2, head 1 it is the strongest key of 51% of
#   the queries, and half the rows share their strongest key with the row
#   above. Consonants look back to the vowel or boundary before them, so the
#   head keeps track of the current syllable.
# * **Local heads.** In layers 2 and 3 every head looks only a few
#   characters back: a bright band along the diagonal, a mean distance of
#   1.6 to 3.6 characters instead of the 16 a uniform head would have here.
# * **The head with the most weight on the previous character is not a
#   line.** Layer 3, head 1 has the highest previous-character score, yet
#   that score is only 0.36: it also puts 0.26 on the query's own character
#   and 0.14 two back, three quarters of its weight on the last three
#   characters. The previous character is the strongest key of just 43% of
#   its queries, and 40% of its rows share their strongest key with the row
#   above, so its map is as much a staircase as a line below the diagonal
#   (look at "what": the *a*, the *t* and the space after them all look
#   mostly at the *h*).
# * **Why the previous character matters.** Position $i$ already holds
#   character $i$. A head that brings in character $i - 1$ (and $i - 2$)
#   gives it the last two or three characters, so a later layer can predict
#   the next character from them: the context of a trigram model (two
#   characters) or more, where notebook 01's bigram had one.
# * **The last layer looks further back** again (larger mean distances),
#   mixing information from across the window just before the prediction.
#
# Caveats: a head's pattern depends on the text, and a single head rarely
# does one clean job; these are a small model's tendencies, not laws. For how
# such analysis is done carefully (and what heads in larger models do, such
# as induction heads that complete repeated sequences), see the reading list
# at the end.

# %% [markdown]
# ## 2. How surprising is a text to the model?
#
# The chain rule scores any text, not just the model's own: for each
# character, how probable the model found it given what came before,
# $P(x_t \mid x_{<t})$. Two summaries of that:
#
# * the **rank** of the character that actually came among all $V$
#   candidates (1 = the model's first guess). Colouring each character by its
#   rank (rank 1, ranks 2 to 5, 6 to 10, beyond 10) shows at a glance what the
#   model found predictable; GLTR (Gehrmann, Strobelt and Rush, 2019) did
#   this for GPT-2;
# * the **perplexity**
#   $\exp\big(-\frac{1}{n-1}\sum_{t=2}^{n}\log P(x_t \mid x_{<t})\big)$ of a
#   text of $n$ characters (the first has nothing before it to predict it
#   from): the model is, on average, as unsure as a uniform choice among this
#   many characters (notebook 01).
#
# For a text shorter than `block_size` one forward pass gives every
# prediction at once, because causal attention lets position $t-1$ see only
# $x_{\le t-1}$:

# %%
# NBVAL_CHECK_OUTPUT
from glmlib.data import load_shakespeare, train_val_split

val_text = train_val_split(load_shakespeare())[1]
passage = val_text[:100]  # shorter than block_size: one forward pass sees every prefix
ids = torch.tensor([tokenizer.encode(passage)])  # (1, T)
with torch.no_grad():
    logits, _ = model(ids[:, :-1])  # (1, T-1, V): position t-1 predicts character t
log_p = torch.log_softmax(logits[0], dim=-1)  # (T-1, V)
target = ids[0, 1:]  # (T-1,) the characters that came
lp = log_p[torch.arange(len(target)), target]  # (T-1,) log P(x_t | x_<t)
rank = 1 + (log_p > lp[:, None]).sum(dim=-1)  # (T-1,) 1 = the model's first guess
print(repr(passage[:21]))
print(f"perplexity {math.exp(-lp.mean()):.3f}; ranks of characters 2 to 21: {rank[:20].tolist()}")

# %% [markdown]
# `glmlib.widgets.score_text` does the same for a text of any length. Past
# `block_size` each character is predicted from the context `generate` would
# use there (`window_start`, section 4), with one forward pass per window and
# all windows in one batch. On our short text it agrees:

# %%
# NBVAL_CHECK_OUTPUT
from glmlib.widgets import score_text

score = score_text(model, tokenizer, passage)
print("score_text agrees:", torch.allclose(score.log_probs, lp, atol=1e-5), torch.equal(score.ranks, rank))

# %% [markdown]
# Now five texts of 500 characters: real Shakespeare from the validation
# split (never trained on), the model's own samples at three temperatures
# $\tau$, and the real text with its characters shuffled. The columns give
# the share of characters in each rank bucket.

# %%
# NBVAL_CHECK_OUTPUT
import random


def sample(temperature: float, n: int = 500) -> str:
    out = model.generate(torch.tensor([tokenizer.encode("\n")]), n, temperature=temperature,
                         generator=torch.Generator().manual_seed(0))
    return tokenizer.decode(out[0, 1:])


real = val_text[2000:2500]
shuffled = list(real)
random.Random(0).shuffle(shuffled)
texts = {"real Shakespeare (validation)": real, "sample, τ = 0.5": sample(0.5),
         "sample, τ = 1.0": sample(1.0), "sample, τ = 1.5": sample(1.5),
         "real, characters shuffled": "".join(shuffled)}
print(f"{'text':<30}{'perplexity':>11}{'rank 1':>8}{'2-5':>8}{'6-10':>8}{'>10':>8}")
for name, t in texts.items():
    s = score_text(model, tokenizer, t)
    shares = "".join(f"{100 * f:>7.0f}%" for f in s.bucket_fractions().values())
    print(f"{name:<30}{s.perplexity:>11.2f}{shares}")

# %% [markdown]
# Look at them coloured: pick a text in *example*, or paste your own. Slide
# *position* to see what the model expected at any character. (The view's
# colour key calls the buckets top-1, top-5, top-10 and beyond top-10.)
#
# **Before reading on:** which colours dominate each text, and where do the
# pink (beyond 10) characters fall in real Shakespeare? What tells the
# low-temperature sample apart from real text, and what tells the shuffled
# text apart from the $\tau = 1.5$ sample?

# %%
from glmlib.widgets import surprise_view

surprise_view(model, tokenizer, text=real, examples=texts)

# %% [markdown]
# Where the pink characters of real Shakespeare fall, counted:

# %%
# NBVAL_CHECK_OUTPUT
real_score = score_text(model, tokenizer, real)
ranks, before, after = real_score.ranks, real[:-1], real[1:]  # rank t-1 is about character t
word_start = torch.tensor([b in " \n" and a.isalpha() for b, a in zip(before, after)])
in_word = torch.tensor([b.isalpha() and a.isalpha() for b, a in zip(before, after)])
pink = ranks > 10
print(f"beyond rank 10: {int(pink.sum())} characters, {int((pink & word_start).sum())} of them "
      f"the first letter of a word")
for name, where in (("first letters of words", word_start), ("letters inside a word", in_word)):
    print(f"{name:<24} ({int(where.sum())}): rank 1 {(ranks[where] == 1).float().mean():.0%}, "
          f"beyond 10 {(ranks[where] > 10).float().mean():.0%}")

# %% [markdown]
# What the table and the colours show (the three samples are random draws,
# so on your computer they can come out a little differently, and their
# rows with them; the figures quoted for them are those of the run stored
# with this notebook, and the cell below checks the comparisons on any CPU):
#
# * **The $\tau = 0.5$ sample is more predictable than real Shakespeare**:
#   a lower perplexity and a larger share of characters that are the
#   model's first guess (in the stored run, perplexity 2.64 against 3.45,
#   and 75% of its characters ranked first against 59%). Low temperature
#   writes what the model expects, and real text is not that (section 8 of
#   notebook 07 measured the same thing as likelihood).
# * **The $\tau = 1.0$ sample looks most like real text** (in the stored
#   run, perplexity 3.95 and 57% ranked first): sampling from the model's
#   own distribution is the setting meant to resemble the training data.
# * **At $\tau = 1.5$** several times more characters fall beyond rank 10
#   than the 4% of real text (13% in the stored run): the flattened
#   distribution picks unlikely characters, like invented words.
# * **Shuffled text keeps every character's frequency but none of the
#   order**, and the model has nothing to go on: 68% beyond rank 10 and a
#   perplexity of 1718, far worse than a uniform guess among the 75
#   characters of the vocabulary. What the model has learned is the *order*
#   of characters, not just their frequency.
# * In real Shakespeare the pink characters sit mostly at the start of
#   words: 18 of the 22 are a word's first letter, where many continuations
#   are plausible. Inside a word two thirds of the letters are the model's
#   first guess and 1% are pink.

# %%
# NBVAL_CHECK_OUTPUT
scored = {name: score_text(model, tokenizer, t) for name, t in texts.items()}
ppl = {name: s.perplexity for name, s in scored.items()}
first, beyond = ({name: list(s.bucket_fractions().values())[i] for name, s in scored.items()} for i in (0, -1))
real_name, shuffled_name = "real Shakespeare (validation)", "real, characters shuffled"
print("τ = 0.5: lower perplexity and more first guesses than real text:",
      ppl["sample, τ = 0.5"] < ppl[real_name] - 0.3 and first["sample, τ = 0.5"] > first[real_name] + 0.05)
print("τ = 1.0: perplexity within 30% of real text's, share of first guesses within 10 points:",
      abs(ppl["sample, τ = 1.0"] / ppl[real_name] - 1) < 0.3 and abs(first["sample, τ = 1.0"] - first[real_name]) < 0.1)
print("τ = 1.5: at least twice real text's share beyond rank 10:", beyond["sample, τ = 1.5"] > 2 * beyond[real_name])
print("shuffled: more than half beyond rank 10, perplexity above the vocabulary size:",
      beyond[shuffled_name] > 0.5 and ppl[shuffled_name] > tokenizer.vocab_size)

# %% [markdown]
# ## 3. The KV cache
#
# Generating $n$ characters with the loop of notebook 07 runs the model on
# the whole context at every step. But look at what changes from one step
# to the next: one new token is appended, and nothing else. In a causal
# model, the keys and values of position $j$, in every layer, depend only on
# tokens $x_1 \dots x_j$ (that is what the mask guarantees), so appending a
# token cannot change them. Recomputing them at every step is pure waste.
#
# The **KV cache** keeps every layer's keys and values from earlier steps.
# Each step then feeds only the newest token through the network: it
# computes that token's query, key and value in each layer, appends the key
# and value to the cache, and lets the one query attend to all cached keys:
#
# $$
# K \leftarrow \begin{bmatrix} K \\ k_t \end{bmatrix}, \quad
# V \leftarrow \begin{bmatrix} V \\ v_t \end{bmatrix}, \quad
# o_t = \mathrm{softmax}\!\left(\frac{q_t K^\top}{\sqrt{D}}\right) V.
# $$
#
# No mask is needed: the newest token may see every earlier one. The cost of
# a step drops from a forward pass over the whole context to one over a
# single token (plus attending to the cache); over $n$ steps, while the text
# fits in the window, the work of the linear layers goes from
# $\sum_{t=1}^{n} t \approx n^2/2$ token passes to $n$. The price is
# memory: two tensors of shape $(B, H, T, D)$ per layer.
#
# From scratch, for one attention layer: process a sequence all at once
# with the causal mask, then one token at a time with a cache, and compare.

# %%
torch.manual_seed(0)
D = 16
W_q, W_k, W_v = (torch.randn(D, D) / math.sqrt(D) for _ in range(3))
x = torch.randn(10, D)  # (T, D): ten positions of some layer's input


def full_attention(x: torch.Tensor) -> torch.Tensor:
    """Causal self-attention over the whole sequence at once: (T, D) -> (T, D)."""
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    allowed = torch.ones(len(x), len(x), dtype=torch.bool).tril()
    scores = (q @ k.T / math.sqrt(D)).masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def cached_attention(x: torch.Tensor) -> torch.Tensor:
    """The same, one position at a time, reusing the keys and values already computed."""
    keys, values, outputs = [], [], []
    for x_t in x:  # x_t: (D,), the newest position
        q_t = x_t @ W_q
        keys.append(x_t @ W_k)  # computed once, never again
        values.append(x_t @ W_v)
        K, V_ = torch.stack(keys), torch.stack(values)  # (t, D)
        outputs.append(torch.softmax(q_t @ K.T / math.sqrt(D), dim=-1) @ V_)
    return torch.stack(outputs)

# %%
# NBVAL_CHECK_OUTPUT
print("one token at a time with a cache == all at once with a causal mask:",
      torch.allclose(cached_attention(x), full_attention(x), atol=1e-6))

# %% [markdown]
# `glmlib` does this in every layer: `glmlib.attention.KVCache` stores each
# layer's keys and values, and `MultiHeadAttention` appends to it when you
# pass `kv_cache=` to the model. `model.generate(..., use_cache=True)` (the
# default) feeds one token per step through `model.decode_step`, the same
# computation as `model(token, kv_cache=cache)` written as plain tensor
# functions (a test checks that they agree). With `use_cache=False` it
# reruns the whole context. Same tokens, greedy or sampled with the same seed:

# %% grading="skip"
prompt = torch.tensor([tokenizer.encode("JULIET:\n")])


@torch.no_grad()
def generate_and_record(n: int, use_cache: bool, **settings) -> tuple[torch.Tensor, float, list[int]]:
    """Generate n tokens after the prompt; return the ids, the seconds taken, and the
    number of tokens each forward pass fed through the network (counted by a hook).
    Runs on one CPU thread whatever the path, so that both paths get equal resources."""
    fed = []
    hook = model.wte.register_forward_hook(lambda module, inputs, output: fed.append(inputs[0].shape[1]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        ids = model.generate(prompt, n, use_cache=use_cache, **settings)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
        hook.remove()
    return ids, seconds, fed


n_new, rounds = 500, 3
greedy_cached = generate_and_record(200, use_cache=True, temperature=0)[0]
greedy_plain = generate_and_record(200, use_cache=False, temperature=0)[0]
seconds = {"cache": [], "no cache": []}
for r in range(rounds):  # interleaved, so that a slow moment of the machine hits both paths
    order = (False, True) if r % 2 == 0 else (True, False)  # and neither path always goes first
    for use_cache in order:
        ids, t, fed = generate_and_record(n_new, use_cache=use_cache, top_p=0.95,
                                          generator=torch.Generator().manual_seed(0))
        seconds["cache" if use_cache else "no cache"].append(t)
        if use_cache:
            sampled_cached, fed_cached = ids, fed
        else:
            sampled_plain, fed_plain = ids, fed

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
print("greedy, 200 characters, cache vs no cache, identical:", torch.equal(greedy_cached, greedy_plain))
print(f"sampled (seed 0, top-p 0.95), {n_new} characters, cache vs no cache, identical:",
      torch.equal(sampled_cached, sampled_plain))
print(tokenizer.decode(sampled_cached[0, :300]))

# %% [markdown]
# **What is timed:** the wall-clock time of generating those 500 characters
# (sampled, top-p 0.95, the same seed), with and without the cache, **each
# on one CPU thread**: equal resources, so the ratio shows the work the cache
# saves and not how many cores the machine has. The two paths take turns,
# three rounds, each round starting with the other path, and each round
# gives one ratio: we print the median ratio and the range of the three.
#
# Why insist on equal threads? By default `generate` runs the cached
# one-token steps on one thread (for tiny products a second thread costs more
# than it saves) and leaves the uncached path on all of PyTorch's threads. On
# a busy machine extra threads can slow the uncached path down a lot, so a
# comparison at default settings can end up measuring how threads compete
# for the cores rather than what the cache saves.

# %% grading="skip"
ratios = sorted(plain / cached for plain, cached in zip(seconds["no cache"], seconds["cache"]))
t_plain, t_cached = (sorted(seconds[k])[rounds // 2] for k in ("no cache", "cache"))  # medians
print(f"{n_new} characters, one CPU thread each, {rounds} rounds taken in turns:")
print(f"median time without cache: {t_plain:.2f} s   with cache: {t_cached:.2f} s")
print(f"speed-up: {ratios[rounds // 2]:.1f}x (median of the rounds' ratios; range {ratios[0]:.1f}x to {ratios[-1]:.1f}x)")

# %% [markdown]
# Times vary from machine to machine and run to run, and the ratio varies
# too (the run stored with this notebook measured 4.5x, its three rounds
# from 4.2x to 4.9x). What holds on any CPU, and the cell below checks, is
# that the cache wins in every round, and by much less than you might
# expect: section 4 counts the tokens, and the cache feeds about fifty times
# fewer of them through the network. But for a
# model this small a one-token step is dominated by fixed costs that do not
# shrink with the input: about a hundred tiny operations per token, each
# with a few microseconds of overhead, then sampling. That is why
# `decode_step` skips the module machinery. The work the cache removes grows
# with the width of the model and the length of the context, so for large
# models with thousands of tokens of context the cache is the difference
# between usable and unusable generation.

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
print("the cache is faster in every round, by more than 1.5x:", ratios[0] > 1.5)
print("and by less than 25x, far below the cut in tokens fed:", ratios[-1] < 25)

# %% [markdown]
# The memory the cache holds for one sequence with a full window:

# %%
# NBVAL_CHECK_OUTPUT
cache_numbers = 2 * L * block_size * C  # keys and values, every layer, every position; H*D = C
print(f"KV cache for one full window: 2 x {L} layers x {block_size} positions x {C} channels "
      f"= {cache_numbers:,} numbers = {cache_numbers * 4 / 1024:.0f} KiB in float32")

# %% [markdown]
# ## 4. Past the context window
#
# The model has learned position embeddings for positions $0 \dots$
# `block_size - 1` only (notebook 05), so it can never look at more than
# `block_size` tokens. Once the text is longer, the context must drop old
# tokens. The obvious rule would slide the window by one token each step,
# always keeping the last `block_size`. With *learned absolute positions*
# that breaks the cache: after sliding, every kept token sits one position
# earlier, so its position embedding changes, and with it its keys and
# values in every layer. The whole cache would have to be recomputed at
# every step, and the cache would save nothing.
#
# `glmlib.model.window_start` uses a rule that keeps the cache valid most of
# the time: let the context grow until it is full; when one more token would
# not fit, restart it from the last `block_size // 2` tokens (re-encoding
# them at positions $0, 1, \dots$), and let it grow again. Only those restarts
# recompute; every other step feeds one token. Both paths of `generate`
# follow the same rule, which is why they produced identical text above.
#
# We can watch it happen in the two sampled runs of section 3, with the
# counts their forward hook recorded: how many tokens each forward pass fed
# through the network.

# %% grading="skip"
lengths = [prompt.shape[1] + s for s in range(n_new)]  # tokens that exist before each step
context = [n - window_start(n, block_size) for n in lengths]
assert fed_plain == context  # without a cache, every step re-reads the whole context

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
restarts = [s for s in range(1, n_new) if window_start(lengths[s], block_size) != window_start(lengths[s - 1], block_size)]
print(f"{n_new} steps, block_size {block_size}: the context restarts at steps {restarts}")
print(f"tokens fed through the network: without cache {sum(fed_plain):,}, with cache {sum(fed_cached):,} "
      f"({sum(fed_plain) / sum(fed_cached):.1f}x fewer)")
print("with cache: 1 token per step except at the first step and the restarts:",
      sorted(s for s, f in enumerate(fed_cached) if f > 1) == [0] + restarts)

# %% grading="skip"
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
axes[0].plot(context, color="C0")
axes[0].axhline(block_size, color="gray", ls="--", label=f"block_size = {block_size}")
axes[0].axhline(block_size // 2, color="gray", ls=":", label=f"block_size // 2 = {block_size // 2}")
axes[0].set(title="Context the model sees (both paths)", xlabel="generation step",
            ylabel="tokens in the context window")
axes[0].legend(loc="lower right")
axes[1].plot(fed_plain, label="without cache: the whole context", color="C3")
axes[1].plot(fed_cached, label="with cache: 1 token, whole window at restarts", color="C2")
axes[1].set_yscale("log")
axes[1].set(title="Tokens fed through the network per step", xlabel="generation step",
            ylabel="tokens (log scale)")
axes[1].legend(loc="center right")
fig.tight_layout()
plt.show()

# %% [markdown]
# The sawtooth on the left is the rule: the context grows to `block_size`,
# drops to half, grows again. On the right, the cost: without a cache every
# step pays for the whole context; with it, one token per step, plus a
# refill at each restart.
#
# Models with *relative* position information avoid the problem
# differently. With rotary position embeddings (RoPE) each query and each
# key is rotated by an angle proportional to its absolute position, so a
# cached key *does* depend on where it sits. But the score of a query at
# position $n$ with a key at position $m$ depends only on the distance
# $n - m$: rotating both by the same extra angle leaves their dot product
# unchanged. In two dimensions, with $R(\alpha)$ the rotation by $\alpha$,
# $R(n\theta)q \cdot R(m\theta)k = q \cdot R((m - n)\theta)k$:

# %%
# NBVAL_CHECK_OUTPUT
def rotate(x: torch.Tensor, position: int, theta: float = 0.3) -> torch.Tensor:
    """Rotary position embedding of a 2-d vector: turn it by position * theta."""
    c, s = math.cos(position * theta), math.sin(position * theta)
    return torch.tensor([[c, -s], [s, c]]) @ x


q_vec, k_vec = torch.tensor([1.0, 0.5]), torch.tensor([0.3, -1.2])
print("the key at position 5:", [round(v, 3) for v in rotate(k_vec, 5).tolist()],
      " at position 105:", [round(v, 3) for v in rotate(k_vec, 105).tolist()])
print(f"score, query at 9 and key at 5:     {rotate(q_vec, 9) @ rotate(k_vec, 5):.4f}")
print(f"score, query at 109 and key at 105: {rotate(q_vec, 109) @ rotate(k_vec, 105):.4f}")

# %% [markdown]
# (Real RoPE rotates each pair of channels this way, at a different speed
# per pair.) So a key, once rotated at its position and cached, stays valid
# as the text grows: new queries keep their own absolute positions, and only
# distances matter. ALiBi goes further and leaves keys alone, adding to each
# score a penalty proportional to the distance. Either way a cache can slide
# one token at a time, dropping the oldest key (see StreamingLLM in the
# reading list for what then goes wrong, and how "attention sinks" fix it).
# Exercise 3 builds such a sliding cache.
#
# ## Exercises
#
# Each exercise cell holds a stub and its checker. The checkers compare
# with numbers worked out by hand, with `glmlib.model.window_start`, or with
# PyTorch's own attention, and when an answer is wrong they say what the
# mistake looks like. Until you replace the `raise NotImplementedError`
# they say "not yet". In the self-study edition a worked solution sits
# folded below each exercise: try first.
#
# ### Exercise 1: a score for attention to earlier copies
#
# Section 1 scored heads by position (the previous character, the distance)
# and by fixed characters (line breaks, vowels). In larger models some heads
# look for a character that depends on the query: earlier occurrences of the
# current token itself (studies of GPT-2 call them duplicate-token heads;
# the induction heads in the reading list do something related). Does the
# shipped model have a head that looks back at earlier copies of the
# current character?
#
# Write `same_char_score(weights, ids)` for attention weights of shape
# `(..., T, T)` (one map `(T, T)`, one layer's heads `(H, T, T)`, or all of
# them `(L, H, T, T)`; row = query, column = key, causal) and the text's
# token ids `(T,)`, with `T >= 2`. For each map return
#
# $$
# s = \frac{1}{T-1} \sum_{i=1}^{T-1} \ \sum_{j < i,\ x_j = x_i} A_{ij},
# $$
#
# the weight each query puts on *earlier* positions holding its own
# character, averaged over the queries $i = 1 \dots T-1$ (query 0 has no
# earlier key): a tensor of shape `(...)`, 0-d for a single map. Build a
# `(T, T)` mask of the pairs to count (notebook 03's masks help); no Python
# loops are needed.
#
# The checker's cases are small hand-built heads (a head that points at
# the latest earlier copy, a previous-character head, a self head, uniform
# attention) on the texts "abab", "aaaa", "abcab" and "ababa", with scores
# worked out by hand.

# %% exercise={"question": "q08_same_char_score", "points": 2}
def same_char_score(weights: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError


ex.check_same_char_score(same_char_score)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Two `(T, T)` boolean masks, combined: `ids[:, None] == ids[None, :]` is
# `True` where key $j$ holds the same character as query $i$ (including the
# diagonal, where it always does), and `tril(-1)` keeps only the keys
# strictly before the query. Multiplying the weights by their combination
# and summing over the keys gives one number per query; dropping query 0
# and averaging gives the score, for any number of leading dimensions.
#
# On the two-speaker text no head stands out: the highest score, 0.062
# (layer 4, head 1), is a little over twice the 0.027 that a uniform head
# gets, and most heads score within a factor of two of the uniform head.
# This small character model has no head that looks for earlier copies of
# the current character, unlike the larger models in which duplicate-token
# and induction heads were found.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def same_char_score(weights: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    T = ids.shape[0]
    same = ids[:, None] == ids[None, :]  # (T, T): key j holds query i's character
    earlier = torch.ones(T, T, dtype=torch.bool).tril(-1)  # (T, T): j < i
    per_query = (weights * (same & earlier)).sum(dim=-1)  # (..., T)
    return per_query[..., 1:].mean(dim=-1)  # (...): queries 1 .. T-1


print(ex.check_same_char_score(same_char_score))
scores_copy = same_char_score(maps, idx[0])  # (L, H)
uniform = torch.ones(T, T).tril()
print(f"a uniform head on this text: {same_char_score(uniform / uniform.sum(-1, keepdim=True), idx[0]):.3f}")
for l in range(L):
    print(f"layer {l}: " + "  ".join(f"{s:.3f}" for s in scores_copy[l].tolist()))
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_same_char_score(same_char_score).require()

# %% [markdown]
# ### Exercise 2: where does the window start?
#
# Write `my_window_start(length, block_size)`: given that `length >= 1`
# tokens exist and the next one is wanted, return the index of the first
# token of the context, following the rule of section 4: the context is the
# whole text while it fits; when it would exceed `block_size` tokens, it
# restarts from the last `max(1, block_size // 2)` tokens, then grows again.
# A loop over the tokens is fine; a closed formula is a bonus. Don't call
# `glmlib.model.window_start` (the checker compares with it).
#
# The checker tries texts shorter than the block, exactly one block, one
# token too many, the second restart, a long text, an odd block size,
# `block_size = 1` and the shipped model's 128.

# %% exercise={"question": "q08_window_start", "points": 2}
def my_window_start(length: int, block_size: int) -> int:
    raise NotImplementedError


ex.check_window_start(my_window_start)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Replaying the rule token by token is the clearest way to get it right. The
# closed form in `glmlib.model.window_start` counts the restarts instead:
# after the first one, at `length = block_size + 1`, they come every
# `block_size - keep + 1` tokens.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def my_window_start(length: int, block_size: int) -> int:
    keep = max(1, block_size // 2)
    start = 0
    for n in range(1, length + 1):  # n tokens exist, the next one is wanted
        if n - start > block_size:  # the context would be too long: restart it
            start = n - keep
    return start


ex.check_window_start(my_window_start)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_window_start(my_window_start).require()

# %% [markdown]
# ### Exercise 3 (transfer): a sliding-window KV cache
#
# Some models let each token attend only to the last $W$ tokens, itself
# included: *sliding-window attention* (Longformer; Mistral 7B uses a window
# of 4096). Query $i$ sees the keys $j$ with $i - W < j \le i$, a band below
# the diagonal instead of the whole causal triangle. With relative positions
# (section 4) its KV cache can slide: it never needs more than $W$ entries.
# Each step appends the new token's key and value and, once there are more
# than $W$, drops the oldest. The memory stays the same however long the
# text grows.
#
# Write `window_step(cache_k, cache_v, q, k, v, window)`:
#
# * `cache_k, cache_v`: `(B, H, P, D)`, the keys and values of the last
#   `P <= window` tokens, oldest first (`P = 0` for the first token);
# * `q, k, v`: `(B, H, 1, D)`, the new token's query, key and value;
# * return `(out, cache_k, cache_v)`: `out` `(B, H, 1, D)` is the new query's
#   attention, $\mathrm{softmax}(q K^\top / \sqrt{D})\,V$, over the keys and
#   values in its window; the returned caches hold the last
#   `min(P + 1, window)` entries, oldest first.
#
# Any torch function is fine (`F.scaled_dot_product_attention` included).
# The checker feeds whole sequences through your function one token at a
# time, passing back the caches you return, and compares every output with
# attention over all the tokens at once restricted to a band of width
# `window` (PyTorch's `F.scaled_dot_product_attention` with a band mask); it
# also checks your caches after every step. The sequences: window 3 over 7
# tokens, window 1, window 4 with a batch of 2 and 2 heads, and a window
# longer than the text. Nothing like it appears earlier in the course.

# %% exercise={"question": "q08_window_step", "points": 3}
def window_step(cache_k: torch.Tensor, cache_v: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                v: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    raise NotImplementedError


ex.check_window_step(window_step)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Append first, then trim, then attend: the new token belongs to its own
# window, so its key must be in the cache before its query looks, and the
# oldest entry must be gone before the query looks too, or the query would
# see `window + 1` tokens. Slicing `[..., -window:, :]` keeps the last
# `window` entries and is a no-op while the cache is shorter. No mask is
# needed: every cached token is inside the window. With learned absolute
# positions, as in our model, the cached keys would go stale as the window
# slides (section 4); with rotary or ALiBi positions they stay valid.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def window_step(cache_k: torch.Tensor, cache_v: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                v: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    cache_k = torch.cat([cache_k, k], dim=-2)[..., -window:, :]  # (B, H, min(P+1, W), D)
    cache_v = torch.cat([cache_v, v], dim=-2)[..., -window:, :]
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, 1, min(P+1, W))
    return torch.softmax(scores, dim=-1) @ cache_v, cache_k, cache_v


ex.check_window_step(window_step)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_window_step(window_step).require()

# %% [markdown]
# ## Summary
#
# * A trained model's heads specialise without being told to: local heads
#   that mix the last few characters, staircase heads that hold on to the
#   latest vowel or boundary, heads that track line breaks for the layout of
#   a play. Scores computed from the attention maps find them automatically,
#   and the maps are rarely clean lines.
# * The chain rule scores any text: each character's rank and the text's
#   perplexity tell real Shakespeare, low-temperature samples and shuffled
#   text apart; surprises cluster at the starts of words.
# * In a causal model, earlier keys and values never change, so a KV cache
#   can keep them: each generation step feeds one token instead of the whole
#   context, with identical results. Timed at equal thread counts the cache
#   is several times faster even for this tiny model, and the gain grows with
#   the size of the model and of the context.
# * Learned absolute positions stop a cache from sliding; `glmlib` restarts
#   the context from its last half when it fills up, so the cache stays
#   valid between restarts, in both generation paths alike. With relative
#   positions (RoPE rotates keys by their absolute position, but scores
#   depend only on distances) a cache can instead slide, keeping a fixed
#   window of the last $W$ tokens (Exercise 3).
#
# ## Where to go next
#
# You have built, trained, sampled from and dissected a GPT. From here:
#
# **The papers behind this course**
# * Vaswani et al., 2017. *Attention Is All You Need.* The Transformer:
#   scaled dot-product and multi-head attention, positional encodings.
# * Radford et al., 2018. *Improving Language Understanding by Generative
#   Pre-Training* (GPT), and Radford et al., 2019. *Language Models are
#   Unsupervised Multitask Learners* (GPT-2): the decoder-only model, pre-LN
#   blocks and the initialisation used here.
# * Holtzman et al., 2019. *The Curious Case of Neural Text Degeneration.*
#   Why likely text is dull, and nucleus (top-p) sampling. Fan et al., 2018.
#   *Hierarchical Neural Story Generation*, for top-k sampling.
# * Kingma & Ba, 2015. *Adam: A Method for Stochastic Optimization*;
#   Loshchilov & Hutter, 2019. *Decoupled Weight Decay Regularization*
#   (AdamW).
# * Ba et al., 2016. *Layer Normalization*; Xiong et al., 2020. *On Layer
#   Normalization in the Transformer Architecture* (pre-LN vs post-LN).
#
# **Looking inside models**
# * Elhage et al., 2021. *A Mathematical Framework for Transformer
#   Circuits*, and Olsson et al., 2022. *In-context Learning and Induction
#   Heads*: how attention heads compose, previous-token heads included.
#
# **Faster and longer**
# * Pope et al., 2022. *Efficiently Scaling Transformer Inference*: the KV
#   cache and its memory at scale.
# * Dao et al., 2022. *FlashAttention*: exact attention without storing the
#   $T \times T$ matrix.
# * Kwon et al., 2023. *Efficient Memory Management for Large Language Model
#   Serving with PagedAttention* (vLLM).
# * Su et al., 2021. *RoFormer* (rotary position embeddings) and Press et
#   al., 2022. *Train Short, Test Long* (ALiBi): relative positions.
# * Xiao et al., 2023. *Efficient Streaming Language Models with Attention
#   Sinks*: sliding a KV cache over very long texts.
#
# **Bigger models**
# * Sennrich et al., 2016. *Neural Machine Translation of Rare Words with
#   Subword Units*: byte-pair encoding, the tokenizer of GPT-2 and most
#   models since (instead of our characters).
# * Kaplan et al., 2020. *Scaling Laws for Neural Language Models*, and
#   Hoffmann et al., 2022. *Training Compute-Optimal Large Language Models*:
#   how loss falls with parameters, data and compute.
#
# Things to try with this code: train with `activation="relu"` or without
# warmup and compare the curves; train a model twice as deep on a GPU
# (`python -m glmlib.train --help`); replace the learned position embeddings
# with rotary ones and let the cache slide.
