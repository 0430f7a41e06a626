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
# # 07 · Generation and sampling
#
# A trained GPT does one thing: given some text, it returns a probability
# distribution over the next character. To *write*, we pick a character from
# that distribution, append it, and ask again. How we pick (always the most
# likely character, or a random draw, and from which part of the
# distribution) changes the text more than you might expect: the same model
# can repeat "of the world of the world" forever, produce plausible
# Shakespeare, or babble.
#
# **In this notebook you will**
#
# 1. write the autoregressive loop from scratch and match `model.generate`
#    token for token;
# 2. see why greedy decoding repeats itself;
# 3. learn temperature, top-k and top-p (nucleus) sampling, and check
#    `glmlib.sampling` against Hugging Face's logits warpers;
# 4. look at what each setting does to a real next-character distribution,
#    and play with them in the sampling explorer;
# 5. step through generation in the generation explorer, force characters
#    and compare branches;
# 6. *measure* the trade-off between diversity and likelihood across a grid
#    of settings;
# 7. make generation reproducible with seeds;
# 8. in the exercises, write top-k, top-p and min-p filters yourself, and a
#    repetition penalty against greedy decoding's loops.
#
# **Builds on:** sampling from a bigram (01), the GPT (05) and the trained
# model shipped with the course (06).
#
# **Time:** *Run All* takes about a minute on a 2-core laptop; set aside 75–90
# minutes to study the notebook, exercises included.
#
# **Notation.** As everywhere in the course, $T$ is the length of a sequence
# (time) and the temperature is $\tau$ (tau).

# %%
import math

import matplotlib.pyplot as plt
import torch
from tqdm.auto import tqdm

import glmlib.exercises.sampling as ex
from glmlib.data import load_shakespeare, train_val_split, visible
from glmlib.model import load_pretrained, window_start
from glmlib.sampling import apply_temperature, entropy, top_k_filter, top_p_filter, warp

model, tokenizer = load_pretrained()
V, block_size = model.config.vocab_size, model.config.block_size
print(f"the shipped model: {model.num_params():,} parameters, vocabulary {V}, context {block_size} characters")


def encode(text: str) -> torch.Tensor:
    """Text -> a (1, T) batch of token ids."""
    return torch.tensor([tokenizer.encode(text)])




@torch.no_grad()
def next_logits(context: str) -> torch.Tensor:
    """The model's logits for the character after ``context``: shape (V,)."""
    ids = encode(context)  # (1, T): the contexts of this notebook are shorter than block_size
    assert ids.shape[1] <= block_size
    return model(ids)[0][0, -1]

# %% [markdown]
# ## 1. The autoregressive loop
#
# The chain rule of notebook 01 factorises the probability of a text into
# next-token probabilities, $P(x_1, \dots, x_n) = \prod_{t} P(x_t \mid x_{<t})$.
# Generating reads it the other way: draw $x_{t} \sim P(\cdot \mid x_{<t})$,
# append it, and repeat. Each step:
#
# 1. take the context: the tokens from `window_start(n, block_size)` on,
#    where $n$ is the number of tokens so far (the rule is explained just
#    below);
# 2. run the model and keep the logits at the **last** position, $z \in
#    \mathbb{R}^V$: the prediction for the next token;
# 3. turn them into probabilities $p = \mathrm{softmax}(z / \tau)$ and draw
#    one token (or take the argmax);
# 4. append it to the sequence.
#
# **Where the context starts.** The model has position embeddings for
# `block_size` positions only (notebook 05), so it never sees more than
# `block_size` tokens. While the text fits, the context is all of it. The
# obvious rule for a longer text would slide the window one token per step,
# always keeping the last `block_size` tokens (`idx[:, -block_size:]`).
# `generate` uses a different rule, `glmlib.model.window_start`: the context
# grows until it is full; when the next token would not fit, it restarts from
# the last `block_size // 2` tokens and grows again. Notebook 08 shows why (it
# lets a KV cache keep its work between restarts). Here is where the context
# starts and how long it is for a few text lengths $n$:

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'tokens so far n':>16}{'context starts at':>19}{'context length':>16}")
for n in (7, 128, 129, 130, 192, 193, 194):
    start = window_start(n, block_size)
    print(f"{n:>16}{start:>19}{n - start:>16}")

# %% [markdown]
# Up to $n = 128$ the context is the whole text; at $n = 129$ it would hold
# 129 tokens, so it restarts with the last 64 (from position 65) and grows
# again, to 128 at $n = 193$; at $n = 194$ it restarts once more. Our loop
# takes the rule as an argument, `context_start`, so that we can try the
# sliding rule too:

# %%
@torch.no_grad()
def generate_from_scratch(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                          generator: torch.Generator | None = None, context_start=window_start) -> torch.Tensor:
    """Append max_new_tokens tokens to idx (B, T), one forward pass per token.
    context_start(n, block_size) says where the context starts when n tokens exist."""
    for _ in range(max_new_tokens):
        start = context_start(idx.shape[1], model.config.block_size)
        logits, _ = model(idx[:, start:])  # (B, T', V)
        last = logits[:, -1, :]  # (B, V): the prediction for the next token
        if temperature == 0:
            nxt = last.argmax(dim=-1)  # (B,)
        else:
            probs = torch.softmax(last / temperature, dim=-1)  # (B, V)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)
        idx = torch.cat([idx, nxt[:, None]], dim=1)  # (B, T + 1)
    return idx


prompt = encode("ROMEO:\n")
ours = generate_from_scratch(model, prompt, 200, generator=torch.Generator().manual_seed(1))
theirs = model.generate(prompt, 200, use_cache=False, generator=torch.Generator().manual_seed(1))

# %%
# NBVAL_CHECK_OUTPUT
print("from scratch == model.generate, token for token:", torch.equal(ours, theirs))
print(tokenizer.decode(ours[0]))

# %% [markdown]
# The two agree exactly because they follow the same context rule, do the
# same arithmetic and draw their random numbers from identically seeded
# generators. (`model.generate` defaults to `use_cache=True`, which reuses
# work between steps; notebook 08 shows it gives the same tokens, faster.)
#
# The rule matters. With the sliding window instead, the same loop and the
# same seed agree with `generate` only while the text fits in the window:

# %%
# NBVAL_CHECK_OUTPUT
def sliding_start(n: int, block_size: int) -> int:
    """The last block_size tokens: the context of idx[:, -block_size:]."""
    return max(0, n - block_size)


slid = generate_from_scratch(model, prompt, 150, generator=torch.Generator().manual_seed(1),
                             context_start=sliding_start)  # (1, 157): a prefix of the 207 tokens above
differ = (slid[0] != theirs[0, :slid.shape[1]]).nonzero()
print("sliding window == model.generate, token for token:", len(differ) == 0)
print(f"first token that differs: position {differ[0].item()} (the window restarts when n = 129 tokens exist)")

# %% [markdown]
# The token at position 129 is the first one drawn from a different
# context: the sliding window shows the model 128 tokens, `generate` 64. The
# two distributions differ a little, so for a few steps the same random
# numbers can still pick the same characters (in the run stored with this
# notebook, up to position 131), until they pick different ones, and from
# there the texts go their own ways. Neither rule
# is wrong; they are different generators, and a token-for-token comparison
# needs the same rule.
#
# ## 2. Greedy decoding, and why it repeats
#
# The simplest rule: always take the most probable token,
# $x_t = \arg\max_j P(j \mid x_{<t})$. No randomness at all. In `glmlib`
# (as in this course's convention) it is `temperature=0`.
#
# It sounds like the "best" text, but it is not. The most likely next
# character after a context is often the start of a very common word, and
# once the model has produced a phrase, that phrase makes itself more likely
# to come again. Greedy decoding has no way out of such a rut: the same
# context always gives the same choice. (With a window of 128 characters the
# whole context rarely repeats exactly, so the text need not cycle exactly;
# it keeps falling back into the same few phrases instead.)
#
# Two measurements make this visible: the most frequent three-word phrase
# and how often it occurs, and the fraction of distinct character 4-grams
# (1 if no 4 consecutive characters ever repeat, near 0 for a loop).

# %%
from collections import Counter


def top_phrase(text: str, n: int = 3) -> tuple[str, int]:
    """The most frequent phrase of n words in text, and its count."""
    words = text.split()
    phrase, count = Counter(zip(*(words[i:] for i in range(n)))).most_common(1)[0]
    return " ".join(phrase), count


def distinct_fraction(text: str, n: int = 4) -> float:
    """Distinct character n-grams / all n-grams: 1 = never repeats, near 0 = a loop."""
    grams = [text[i:i + n] for i in range(len(text) - n + 1)]
    return len(set(grams)) / len(grams)


greedy_text = tokenizer.decode(model.generate(prompt, 600, temperature=0)[0])
sampled_text = tokenizer.decode(model.generate(prompt, 600, generator=torch.Generator().manual_seed(0))[0])

# %%
# NBVAL_CHECK_OUTPUT
print(greedy_text[:350])
print("...")
for name, sample_text in (("greedy", greedy_text), ("sampled at τ=1", sampled_text)):
    phrase, count = top_phrase(sample_text)
    print(f"{name:>15}: distinct 4-grams {distinct_fraction(sample_text):.2f}; the most frequent "
          f"3-word phrase appears {count} time{'s' if count > 1 else ''}: {phrase!r}")

# %% [markdown]
# ## 3. Temperature
#
# Sampling from $\mathrm{softmax}(z)$ gives varied text, but every now and
# then it draws an unlikely character, and one bad character can derail the
# rest. Temperature $\tau > 0$ rescales the logits before the softmax:
#
# $$
# p_i(\tau) = \frac{e^{z_i / \tau}}{\sum_{j=1}^{V} e^{z_j / \tau}}.
# $$
#
# Ratios of probabilities become $p_i / p_j = e^{(z_i - z_j)/\tau}$: with
# $\tau < 1$ the gaps grow and the distribution sharpens (as $\tau \to 0$ it puts
# all its mass on the argmax, which is why $\tau = 0$ means greedy); with
# $\tau > 1$ the gaps shrink and it flattens (as $\tau \to \infty$ it becomes
# uniform). $\tau = 1$ leaves the model's own distribution. Temperature never
# removes a token: every probability stays positive.
#
# From scratch it is one division. `glmlib.sampling.apply_temperature` does
# the same (and greedy at $\tau = 0$), as does Hugging Face's
# `TemperatureLogitsWarper` (which only accepts $\tau > 0$):

# %%
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper


def temperature_from_scratch(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return logits / temperature


context = "ROMEO:\nI will "
z = next_logits(context)  # (V,)
for tau in (0.5, 1.0, 2.0):
    mine = temperature_from_scratch(z, tau)
    assert torch.allclose(mine, apply_temperature(z, tau))
    assert torch.allclose(mine, TemperatureLogitsWarper(tau)(None, z[None])[0])
print("temperature: from scratch == glmlib == Hugging Face for τ in 0.5, 1, 2")

# %% [markdown]
# What the model predicts after "ROMEO:\nI will " (the first letter of the
# next word), at three temperatures. Each panel's title gives the
# distribution's **entropy** $H = -\sum_i p_i \ln p_i$ in nats, a measure of
# how spread out it is: 0 when one token has all the probability, $\ln V$
# for a uniform distribution. The plot below follows the entropy as the
# temperature moves:

# %%
def plot_distributions(ax, probs: torch.Tensor, title: str, top: int = 20) -> None:
    """Bar chart of the ``top`` most probable tokens of the untouched model, in that order."""
    order = torch.argsort(z, descending=True)[:top]
    labels = [visible(tokenizer.decode([i])) for i in order.tolist()]
    ax.bar(range(top), probs[order].numpy(), color="C0")
    ax.set_xticks(range(top), labels, fontsize=10)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, 1)


fig, axes = plt.subplots(1, 3, figsize=(13, 3.3), sharey=True)
for ax, tau in zip(axes, (0.5, 1.0, 2.0)):
    p = torch.softmax(apply_temperature(z, tau), dim=-1)
    plot_distributions(ax, p, f"τ = {tau}: entropy {entropy(apply_temperature(z, tau)):.2f} nats")
    ax.set_xlabel("next character (most likely first)")
axes[0].set_ylabel("probability")
fig.suptitle(f"Temperature reshapes the next-character distribution after {context!r}", y=1.03)
plt.show()

# %%
temps = torch.linspace(0.05, 3.0, 60)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(temps, [entropy(z / tau).item() for tau in temps], label="entropy after the temperature")
ax.axhline(math.log(V), color="gray", ls="--", label=rf"$\ln V$ = {math.log(V):.2f} (uniform)")
ax.axvline(1.0, color="gray", ls=":", label="τ = 1 (the model as trained)")
ax.set(title="Entropy of the next-character distribution vs temperature",
       xlabel="temperature τ", ylabel="entropy (nats)")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. Top-k
#
# Temperature keeps every token possible. Top-k sampling (Fan et al., 2018)
# cuts the long tail off entirely: keep the $k$ tokens with the largest
# logits, set all others to $-\infty$ (probability exactly 0), and
# renormalise. With $z_{(k)}$ the $k$-th largest logit,
#
# $$
# \tilde z_i = \begin{cases} z_i & z_i \ge z_{(k)} \\ -\infty & \text{otherwise,} \end{cases}
# \qquad
# \tilde p_i = \frac{p_i\, \mathbb{1}[z_i \ge z_{(k)}]}{\sum_{j:\, z_j \ge z_{(k)}} p_j}.
# $$
#
# The rule $z_i \ge z_{(k)}$ keeps *every* token tied with the $k$-th, so
# a tie at the boundary can leave more than $k$ tokens (the convention here
# and in Hugging Face); $k \ge V$ keeps everything.
#
# `glmlib.sampling.top_k_filter` follows this rule (you will write it
# yourself in Exercise 1 at the end of the notebook). It agrees with Hugging
# Face's `TopKLogitsWarper`, also on a tie and on a $k$ larger than the
# vocabulary:

# %%
for k in (1, 5, 20, 200):
    assert torch.equal(top_k_filter(z, k), TopKLogitsWarper(top_k=k)(None, z[None])[0])
print(f"top-k: glmlib == Hugging Face for k in 1, 5, 20 and 200 (V = {V})")

# %%
# NBVAL_CHECK_OUTPUT
tie = torch.tensor([2.0, 1.0, 1.0, 0.0])
print("a tie at the boundary, logits", tie.tolist(), "with k=2:")
print("  glmlib", top_k_filter(tie, 2).tolist())
print("  HF    ", TopKLogitsWarper(top_k=2)(None, tie[None])[0].tolist())

# %% [markdown]
# ## 5. Top-p (nucleus sampling)
#
# A fixed $k$ fits some contexts badly. After "my lor" almost all the
# probability sits on one letter, and $k = 20$ lets 19 unlikely ones in;
# at the start of a word more than a dozen letters are reasonable, and $k = 5$ cuts
# good ones out. Top-p (Holtzman et al., 2019) adapts: keep the *smallest*
# set of most probable tokens whose probabilities add up to at least $p$.
# Sort the probabilities in decreasing order, $p_{(1)} \ge p_{(2)} \ge \dots$;
# keep the first $m$ tokens, with
#
# $$
# m = \min\Big\{ m' : \sum_{r=1}^{m'} p_{(r)} \ge p \Big\},
# $$
#
# set the others to $-\infty$ and renormalise. Equivalently: the token of
# rank $r$ stays if the probability ranked above it, $\sum_{r' < r} p_{(r')}$,
# is still below $p$, which always keeps the most probable token. In a
# confident context the "nucleus" is one or two tokens; in an open one it is
# wide.
#
# `glmlib.sampling.top_p_filter` implements it (Exercise 2 asks you to write
# it); it agrees with Hugging Face's `TopPLogitsWarper`:

# %%
for p in (0.1, 0.5, 0.9, 0.95, 1.0):
    assert torch.equal(top_p_filter(z, p), TopPLogitsWarper(top_p=p)(None, z[None])[0])
print("top-p: glmlib == Hugging Face for p in 0.1, 0.5, 0.9, 0.95 and 1")

# %% [markdown]
# How many characters survive, in a confident context and an open one:

# %%
# NBVAL_CHECK_OUTPUT
contexts = {"confident": "ROMEO:\nWhat say you, my lor", "open": "ROMEO:\nI will "}
print(f"{'kept tokens':<14}" + "".join(f"{f'top-p {p}':>11}" for p in (0.5, 0.9, 0.95))
      + f"{'top-k 10':>11}")
for name, ctx in contexts.items():
    logits = next_logits(ctx)
    counts = [int(torch.isfinite(top_p_filter(logits, p)).sum()) for p in (0.5, 0.9, 0.95)]
    counts.append(int(torch.isfinite(top_k_filter(logits, 10)).sum()))
    print(f"{name:<14}" + "".join(f"{c:>11}" for c in counts))

# %% [markdown]
# > **A common mistake: nucleus sampling under the name top-k.** Some
# > tutorials describe "top-k" as keeping the smallest set of tokens whose
# > probabilities reach a threshold. That is top-p. The table shows how to
# > tell them apart: top-k keeps its 10 tokens in both contexts, while top-p
# > keeps 1 token in the confident context and 5 to 18 in the open one. A
# > "top-k" that keeps a number of tokens that changes with the context is a
# > top-p filter, and sampling with it behaves like top-p, not like top-k.

# %% [markdown]
# ## 6. The whole pipeline, and what it does to a distribution
#
# The three combine, always in the same order, the one Hugging Face's
# `generate` uses: **temperature, then top-k, then top-p**. The order
# matters: top-p measures probability mass *after* the temperature has
# reshaped it. `glmlib.sampling.warp` runs the pipeline; here it is against
# a Hugging Face `LogitsProcessorList` with the same three warpers:

# %%
# NBVAL_CHECK_OUTPUT
from transformers import LogitsProcessorList

settings = [(0.7, None, None), (1.2, 10, None), (1.0, None, 0.9), (1.5, 20, 0.8)]
for tau, k, p in settings:
    hf = LogitsProcessorList([TemperatureLogitsWarper(tau)]
                             + ([TopKLogitsWarper(top_k=k)] if k else [])
                             + ([TopPLogitsWarper(top_p=p)] if p else []))
    same = torch.allclose(warp(z, tau, k, p), hf(None, z[None])[0])
    print(f"temperature={tau}, top_k={k}, top_p={p}: glmlib == Hugging Face: {same}")

# %%
panels = [("the model (τ = 1)", 1.0, None, None), ("τ = 0.6", 0.6, None, None), ("τ = 1.5", 1.5, None, None),
          ("top-k = 5", 1.0, 5, None), ("top-p = 0.8", 1.0, None, 0.8), ("τ = 1.5, then top-p = 0.8", 1.5, None, 0.8)]
fig, axes = plt.subplots(2, 3, figsize=(13, 6), sharey=True)
for ax, (title, tau, k, p) in zip(axes.flat, panels):
    kept = torch.softmax(warp(z, tau, k, p), dim=-1)
    n_kept = int((kept > 0).sum())
    plot_distributions(ax, kept, f"{title}: {n_kept} of {V} tokens possible")
for ax in axes[:, 0]:
    ax.set_ylabel("probability")
for ax in axes[1]:
    ax.set_xlabel("next character (most likely first)")
fig.suptitle(f"The same next-character distribution after {context!r} under six settings", y=1.0)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. The sampling explorer
#
# Try it yourself: the explorer shows the next-character distribution after
# a prompt, before and after the settings on the sliders, and redraws as
# soon as a slider moves. The text below the plot changes only when you
# click **generate**: it continues the prompt with the current settings and
# seed. Move the temperature to 0 and watch a single bar remain; click
# *generate* and the text is greedy (and repetitive). Push the temperature
# up, generate again, and watch the text fall apart; then add top-k or top-p
# and see how much higher the temperature can go before the text breaks.
# The vertical axis fits the tallest bar, so a flat distribution stays
# readable; under *y axis* choose *0..1* to compare flattening and sharpening
# on one fixed scale, or *log* to see the tail of rare characters.

# %%
from glmlib.widgets import sampling_explorer

sampling_explorer(model, tokenizer)

# %% [markdown]
# ### Step through generation, and branch
#
# The sampling explorer shows one step. The **generation explorer** walks the
# loop of section 1 one character at a time. For the step shown it draws the
# candidates: light blue is the model's own probability, blue is what is left
# after temperature, top-k and top-p (a grey × marks a character they remove,
# and its button is struck through), dark blue with a black outline is the
# character chosen. The buttons offer the ten most likely characters; *any
# token* offers the whole vocabulary.
#
# * **step** / **step 10** choose with the settings on the sliders; **undo**
#   takes a character back (and the random generator with it); **reset**
#   starts a new path from the prompt, and the old one stays in the table at
#   the bottom.
# * **Click a candidate** to force it. At the next step it extends the text;
#   at an earlier step (move *step shown*) it starts a **branch**, and the
#   path it left stays listed, so you can compare.
# * **add greedy path** lists the greedy continuation, as long as your path.
#   The table compares each path's log-probability under the model and its
#   surprise per character, $-\log P$ averaged over the characters; the text
#   is coloured by each character's rank under the model (green: the model's
#   first guess).
# * The lower plot follows the path: each character's surprise $-\log P$
#   and, in purple, how many tokens the *current* settings keep at each step.
#   Move top-p and watch that count rise after a space or a line break, where
#   the model is unsure, and fall to a few inside a word.
#
# Try it: step 30 characters, go back to step 3, force an unlikely character,
# step on; then add the greedy path and compare the rows.

# %%
from glmlib.widgets import generation_explorer

generation_explorer(model, tokenizer, prompt="ROMEO:\n", top_p=0.95, seed=0)

# %% [markdown]
# The explorer has no sampling code of its own: each step is computed exactly
# as `model.generate` computes it (the same context rule, the same one-token
# steps with a cache, the same random draws). With fixed settings and seed
# its text *is* `generate`'s text, here 300 characters long, past
# `block_size` and three restarts of the context:

# %%
# NBVAL_CHECK_OUTPUT
gx = generation_explorer(model, tokenizer, prompt="ROMEO:\n", temperature=0.8, top_k=20, seed=7)
gx.step(300)  # what the step button does, 300 times
out = model.generate(encode("ROMEO:\n"), 300, temperature=0.8, top_k=20,
                     generator=torch.Generator().manual_seed(7))
print("explorer's path == model.generate, token for token:",
      gx.state["tokens"] == out[0, len("ROMEO:\n"):].tolist())

# %% [markdown]
# The same comparison as the explorer's table, in code: go back to the first
# step, force an unlikely first character (a branch), let sampling continue
# from there, and add the greedy path.

# %%
# NBVAL_CHECK_OUTPUT
gx.view.value = 1  # show the first step
gx.force(tokenizer.stoi["Z"])  # force "Z" there: a branch
gx.step(299)
gx.add_greedy_path()
print(f"the forced 'Z' alone: log P = {gx.paths[1].steps[0].log_prob:.2f} nats")
print(f"{'path':<24}{'chars':>6}{'log P':>9}{'nats/char':>11}   begins")
for p in gx.state["paths"]:
    print(f"{p['label'].split(',')[0]:<24}{p['steps']:>6}{p['log_prob']:>9.1f}{p['surprise']:>11.2f}   "
          f"{p['generated'][:30]!r}")

# %% [markdown]
# Greedy is by far the most likely path under the model, and it is the one
# that loops ("of the world of the world"), as in section 2. The forced "Z"
# alone costs about 9.5 nats, yet the model recovers at once, and over its
# 300 characters the branch ends up about as surprising per character as the
# path that was sampled freely. The cell below checks these statements.
#
# The sampled paths themselves can come out differently on your computer:
# the model's probabilities are computed in floating point, whose last
# digits depend on the processor, and once one draw goes the other way the
# rest of the text follows another course (section 9 says more). In the run
# stored with this notebook, greedy scored 0.74 nats per character, the
# branch turned the Z into "Zounds" and ended at 1.20 nats per character,
# and the sampled path at 1.15.

# %%
# NBVAL_CHECK_OUTPUT
by_kind = {p["label"].split(",")[0].split(" at ")[0]: p for p in gx.state["paths"]}  # sampled, forced Z, greedy
print("greedy is the least surprising path, by at least 0.2 nats per character:",
      by_kind["greedy"]["surprise"] < min(by_kind["sampled"]["surprise"], by_kind["forced Z"]["surprise"]) - 0.2)
print("the forced 'Z' alone costs more than 8 nats:", gx.paths[1].steps[0].log_prob < -8)
print("the branch ends within 0.25 nats per character of the sampled path:",
      abs(by_kind["forced Z"]["surprise"] - by_kind["sampled"]["surprise"]) < 0.25)

# %% [markdown]
# ## 8. Diversity against likelihood, measured
#
# Each setting trades two things off. **Likelihood**: how probable the model
# itself finds the generated text, measured as the mean log-probability per
# character under the untouched model ($\tau = 1$, no filtering):
# $\frac{1}{n}\sum_t \log P(x_t \mid x_{<t})$. Higher means "safer", more
# typical text. **Diversity**: how varied the text is, measured as the
# fraction of distinct character 4-grams among all the 4-grams of the
# samples: near 1 when nothing repeats, near 0 for a loop.
#
# For each setting we draw 16 samples of `block_size - 1` characters from a
# newline and measure both. As a reference, the same measurements on 16
# windows of real (validation) Shakespeare.

# %% grading="skip"
@torch.no_grad()
def measure(ids: torch.Tensor) -> tuple[float, float]:
    """(mean log-likelihood per character under the model, distinct 4-gram fraction) of ids (B, T)."""
    logits, _ = model(ids[:, :-1])  # (B, T-1, V)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])  # (B, T-1, 1)
    grams = [tokenizer.decode(row[i:i + 4]) for row in ids[:, 1:].tolist() for i in range(ids.shape[1] - 4)]
    return logp.mean().item(), len(set(grams)) / len(grams)


n_samples, length = 16, block_size - 1
start = torch.tensor(tokenizer.encode("\n") * n_samples)[:, None]  # (16, 1)
grid = ([("greedy", 0.0, None, None)]
        + [(f"τ={tau}", tau, None, None) for tau in (0.4, 0.6, 0.8, 1.0, 1.2, 1.5)]
        + [(f"p={p}", 1.0, None, p) for p in (0.3, 0.5, 0.7, 0.9, 0.95)]
        + [(f"k={k}", 1.0, k, None) for k in (2, 5, 10, 20)])
results = {}
for name, tau, k, p in tqdm(grid, desc="sampling"):
    ids = model.generate(start, length, temperature=tau, top_k=k, top_p=p,
                         generator=torch.Generator().manual_seed(0))
    results[name] = measure(ids)

val_text = train_val_split(load_shakespeare())[1]
windows = [tokenizer.encode(val_text[i:i + block_size]) for i in range(0, n_samples * 4000, 4000)]
real = measure(torch.tensor(windows))

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
print(f"{'setting':<12}{'log-lik/char':>14}{'distinct 4-grams':>18}")
for name, (ll, div) in list(results.items()) + [("real text", real)]:
    print(f"{name:<12}{ll:>14.2f}{div:>18.2f}")

# %% grading="skip"
fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharex=True, sharey=True)
families = [("τ=", "C3", "Temperature sweep"), ("p=", "C0", "Top-p sweep at τ = 1"),
            ("k=", "C2", "Top-k sweep at τ = 1")]
for ax, (prefix, color, title) in zip(axes, families):
    names = [n for n in results if n.startswith(prefix)]
    xs, ys = [results[n][1] for n in names], [results[n][0] for n in names]
    ax.plot(xs, ys, "o-", color=color, label=title.split(" sweep")[0].lower())
    for i, (n, x_, y_) in enumerate(zip(names, xs, ys)):  # top-p's close points: labels on alternate sides
        offset, align = ((-7, -11), "right") if prefix == "p=" and i % 2 else ((7, -3), "left")
        ax.annotate(n, (x_, y_), textcoords="offset points", xytext=offset, fontsize=8, color=color, ha=align)
    ax.plot(results["greedy"][1], results["greedy"][0], "k^", ms=9, label="greedy (τ = 0)")
    ax.plot(real[1], real[0], "*", color="C1", ms=16, label="real Shakespeare (validation)")
    ax.set_xlabel("diversity: fraction of distinct 4-grams")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
axes[0].set_ylabel("likelihood: mean log P(character)\nunder the model")
fig.suptitle("Diversity vs likelihood across sampling settings (16 samples each)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the picture from the top left. Greedy text is the most probable
# under the model and the least diverse: the same few phrases over and over,
# and the very same text in all 16 samples. Lowering the temperature, or narrowing the nucleus or $k$, buys
# likelihood with diversity; raising them does the opposite, and past
# $\tau = 1$ the likelihood falls fast, because the flattened distribution hands
# real probability to characters the model considers wrong.
#
# Now look at the star. Real Shakespeare is far *less* likely under the
# model than greedy or low-temperature text: human text is not the most
# probable text, so decoding that maximises likelihood produces something
# unlike it (Holtzman et al. made the same observation about GPT-2, and
# proposed top-p in response). If the model were perfect, its samples at
# $\tau = 1$ would be distributed exactly like real text and land on the star
# on both axes; the distance between the $\tau = 1$ point and the star shows
# how far our small model is from that.
#
# The samples behind the table are random draws from the model's
# probabilities, and those probabilities carry rounding that depends on the
# processor, so on another computer a few samples can come out differently
# and the figures in the table can move in the second decimal. The picture's
# message does not change; the cell below checks it, with margins.

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
sweeps = {prefix: [name for name in results if name.startswith(prefix)] for prefix in ("τ=", "p=", "k=")}
others = [name for name in results if name != "greedy"]
print("greedy is more likely and less diverse than every other setting:",
      all(results["greedy"][0] > results[n][0] and results["greedy"][1] < results[n][1] for n in others))
print("in each sweep the narrowest setting is more likely and less diverse than the widest:",
      all(results[names[0]][0] > results[names[-1]][0] and results[names[0]][1] < results[names[-1]][1]
          for names in sweeps.values()))
ll = {name: results[name][0] for name in sweeps["τ="]}
print("past τ = 1 the likelihood falls faster, per unit of τ, than from τ = 0.4 to 1:",
      (ll["τ=1.0"] - ll["τ=1.5"]) / 0.5 > (ll["τ=0.4"] - ll["τ=1.0"]) / 0.6)
print("real text is at least 0.3 nats per character less likely than greedy, τ=0.4 and τ=0.6 text:",
      all(real[0] < results[n][0] - 0.3 for n in ("greedy", "τ=0.4", "τ=0.6")))

# %% [markdown]
# ## 9. Seeds and reproducibility
#
# Every random draw in `model.generate` comes from the `torch.Generator` you
# pass in. The same seed gives the same random numbers and hence the same
# text, today and next year, on the same computer and software; a different
# seed gives a different text. A private generator is also immune to other
# code using PyTorch's global random state in between.
#
# On *another* computer the same seed can, now and then, give a different
# text. The random numbers are the same, but the probabilities they are
# compared with come out of millions of floating-point operations whose last
# digits depend on the processor and the maths library. When a random
# number falls very close to the boundary between two characters, that last
# digit decides, and from the first character that differs the rest of the
# text goes its own way. This is why the notebooks' prose states what holds
# on any computer (an ordering, the sign of a difference, a range) and
# quotes a sampled text or a trained model's exact loss as what the run
# stored with the notebook printed.

# %%
# NBVAL_CHECK_OUTPUT
def write(seed: int) -> str:
    out = model.generate(encode("JULIET:\n"), 80, temperature=0.8, top_p=0.95,
                         generator=torch.Generator().manual_seed(seed))
    return tokenizer.decode(out[0])


first = write(42)
torch.rand(1000)  # other code drawing from the global generator in between
again = write(42)
other = write(43)
print(first)
print("---")
print("same seed, same text (identical):", first == again)
print("different seed, different text:", first != other)

# %% [markdown]
# A generator's state advances with every draw, so a sample depends on
# everything drawn before it from the same generator: to reproduce one
# sample, reseed (`manual_seed`) right before generating it, and keep the
# batch size and settings the same.
#
# ## Exercises
#
# Each exercise cell holds a stub and its checker. The checker runs your
# function on small cases whose answers come from `glmlib.sampling` (tested
# against Hugging Face) or were worked out by hand, and when an answer is
# wrong it says what the mistake looks like. Until you replace the
# `raise NotImplementedError` it says "not yet". In the self-study edition
# a worked solution sits folded below each exercise: try first.
#
# ### Exercise 1: top-k (warm-up)
#
# Write `top_k(logits, k)` for `logits` of shape `(..., V)` (one row, or a
# batch of rows) and an int `k >= 1`. Return a tensor of the same shape in
# which every logit that is at least the $k$-th largest *of its row* is
# kept unchanged, and every other logit is `float("-inf")`. Ties at the
# boundary are kept, and a `k` larger than `V` keeps everything. Use any
# torch function (`torch.topk`, `torch.sort`, `masked_fill`, `torch.where`,
# ...) but not `glmlib.sampling` or Hugging Face's warpers.
#
# The checker tries `k = 2` and `k = 1` on one row, a tie at the boundary,
# `k = V`, `k > V`, and a batch of three rows. A filter whose number of kept
# tokens changes with the distribution is top-p under another name (see the
# box in section 5), and the checker says so.

# %% exercise={"question": "q07_top_k", "points": 1}
def top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    raise NotImplementedError


ex.check_top_k(top_k)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# `torch.topk` returns the $k$ largest values of each row in decreasing
# order, so the last of them is the threshold; removing only what is
# *strictly* below it keeps ties. Picking the $k$ *indices* that `topk`
# returns instead would drop one of two tied tokens arbitrarily, and
# `torch.topk` refuses a `k` larger than the row, hence the `min`.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, logits.shape[-1])  # k > V keeps everything
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))  # ties with the k-th stay


ex.check_top_k(top_k)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_top_k(top_k).require()

# %% [markdown]
# ### Exercise 2: top-p
#
# Write `top_p(logits, p)` for `logits` of shape `(..., V)` and
# $0 < p \le 1$. In each row, keep the smallest set of most probable tokens
# whose probabilities (after a softmax of that row) add up to at least `p`,
# unchanged, and set the others to `float("-inf")`. At least one token always
# stays, and `p = 1` keeps every token. Not allowed: `glmlib.sampling` and
# Hugging Face's warpers.
#
# Hint: sort each row in decreasing order, take a running sum
# (`torch.cumsum`), decide in sorted order which tokens stay, then put the
# decisions back in the original order (`scatter` with the sort's indices).
# Mind the token whose probability makes the total *cross* $p$, and
# float32 rounding when `p = 1`.
#
# The checker tries a flat and a peaked distribution at several `p`, a tiny
# `p`, `p = 1` (twice, once on a row whose last tokens are extremely
# improbable), and a batch of four rows.

# %% exercise={"question": "q07_top_p", "points": 2}
def top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    raise NotImplementedError


ex.check_top_p(top_p)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# A token stays while the probability ranked *above* it is still below $p$:
# the token that makes the running total reach $p$ is therefore kept, and so
# is the most probable token (nothing is ranked above it). Keeping
# `cumsum <= p` instead drops exactly the token that crosses $p$, and can
# drop every token when the top one alone exceeds $p$. The special case
# $p = 1$ matters: on a row like `[0, 10, -20, -10]` the float32 running sum
# is already exactly 1.0 after two tokens, so the last two would be removed.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    if p >= 1.0:  # keep all: in float32 the running sum can reach 1.0 before the tail ends
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V) each
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_above = torch.cumsum(probs, dim=-1) - probs  # probability ranked above each token
    remove_sorted = mass_above >= p  # the first token has mass_above = 0 and always stays
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to the original order
    return logits.masked_fill(remove, float("-inf"))


ex.check_top_p(top_p)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_top_p(top_p).require()

# %% [markdown]
# ### Exercise 3: min-p
#
# A more recent rule, min-p sampling (Nguyen et al., 2024), keeps every
# token whose probability is at least a fraction `min_p` of the *top*
# token's probability:
#
# $$
# \text{keep } i \iff p_i \ge \text{min\_p} \cdot \max_j p_j, \qquad p = \mathrm{softmax}(z).
# $$
#
# Like top-p it adapts to the context (a confident top token raises the bar
# for everyone else), but it needs no sorting. Write `min_p(logits, min_p)`
# for `logits` of shape `(..., V)` and $0 \le$ `min_p` $\le 1$: kept logits
# unchanged, the others `float("-inf")`, each row on its own. (Hugging Face
# calls it `MinPLogitsWarper`; don't call it.)
#
# The checker's cases were worked out by hand: two thresholds on one
# distribution, the same logits shifted by a constant, `min_p = 1` and
# `min_p = 0`, a flat and a peaked row in one batch (where a bar taken from
# the whole batch's top token, not each row's, shows), and a row in which an
# earlier filter already set some logits to `-inf`.

# %% exercise={"question": "q07_min_p", "points": 2}
def min_p(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    raise NotImplementedError


ex.check_min_p(min_p)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# The threshold is a probability, so the comparison happens after the
# softmax; a constant added to every logit changes no probability and hence
# no decision. With `>=` the top token always passes (`p_max >= min_p * p_max`
# for `min_p <= 1`), so no row is ever left empty. Equivalently, in logits:
# keep $z_i \ge \max_j z_j + \ln(\text{min\_p})$.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def min_p(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    probs = torch.softmax(logits, dim=-1)  # (..., V)
    threshold = min_p * probs.max(dim=-1, keepdim=True).values  # (..., 1)
    return logits.masked_fill(probs < threshold, float("-inf"))


ex.check_min_p(min_p)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_min_p(min_p).require()

# %% [markdown]
# ### Exercise 4 (transfer): a repetition penalty
#
# Section 2 showed greedy decoding falling back into the same phrases. None
# of temperature, top-k or top-p knows what was already written; a
# *repetition penalty* does. CTRL (Keskar et al., 2019) lowers the logit of
# every token that already occurs in the context by a factor $\theta > 1$:
#
# $$
# \tilde z_i = \begin{cases}
# z_i / \theta & \text{if token } i \text{ occurs in the context and } z_i > 0, \\
# z_i \cdot \theta & \text{if token } i \text{ occurs in the context and } z_i \le 0, \\
# z_i & \text{otherwise.}
# \end{cases}
# $$
#
# Dividing a positive logit by $\theta$ moves it towards 0, and multiplying
# a negative one moves it away from 0: both make the token less likely.
# A token is penalised once, however often it occurs; $\theta = 1$ changes
# nothing, and $\theta < 1$ would *encourage* repetition. Hugging Face's
# `generate(..., repetition_penalty=1.2)` applies this rule.
#
# Write `repetition_penalty(logits, context, penalty)` with `logits` of shape
# `(B, V)`, `context` an int64 tensor `(B, T)` of token ids (row `b` is what
# row `b` has generated so far; `T` may be 0), and a float `penalty > 0`.
# Return the new `(B, V)` logits. Any torch function is fine; Hugging Face's
# `RepetitionPenaltyLogitsProcessor` is not. Nothing like it appears earlier
# in the course.
#
# The checker's cases were worked out by hand: positive, negative and zero
# logits, ids that occur several times, a batch whose rows have different
# contexts, `penalty = 1`, `penalty < 1` and an empty context; logits
# returned unchanged are named as such.

# %% exercise={"question": "q07_repetition_penalty", "points": 3}
def repetition_penalty(logits: torch.Tensor, context: torch.Tensor, penalty: float) -> torch.Tensor:
    raise NotImplementedError


ex.check_repetition_penalty(repetition_penalty)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# A boolean `(B, V)` mask says which ids occur in each row's context:
# `scatter` writes `True` at every id of the row, and an id that occurs
# three times is simply written three times, so it is penalised once.
# Then `torch.where` picks the penalised or the original logit. A common
# slip is to divide every logit of the context by the penalty: a negative
# logit divided by 2 moves *up*, towards 0, making the token more likely.
# With this penalty greedy decoding still has no randomness, but it can no
# longer fall into the same phrase forever; CTRL's authors found a penalty
# of about 1.2 a good balance.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def repetition_penalty(logits: torch.Tensor, context: torch.Tensor, penalty: float) -> torch.Tensor:
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, context, True)  # (B, V)
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)  # (B, V)
    return torch.where(seen, penalised, logits)


ex.check_repetition_penalty(repetition_penalty)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_repetition_penalty(repetition_penalty).require()

# %% [markdown]
# ## Summary
#
# * Generation is a loop: run the model on the context, take the last
#   position's logits, pick a token, append, repeat. Past `block_size` the
#   context follows a rule (`window_start`: restart from the last half when
#   full), and two loops match token for token only if they follow the same
#   rule.
# * Greedy decoding ($\tau = 0$) is deterministic and gets stuck repeating
#   itself.
# * Temperature divides the logits: below 1 sharpens, above 1 flattens.
#   Top-k keeps a fixed number of tokens (ties kept); top-p keeps the
#   smallest nucleus reaching probability $p$, so it adapts to how confident
#   the model is. The order is temperature, then top-k, then top-p, as in
#   Hugging Face, and `glmlib`'s filters match Hugging Face's warpers.
# * Min-p keeps the tokens within a fixed fraction of the top probability; a
#   repetition penalty lowers the logits of tokens already in the context,
#   one remedy for greedy decoding's loops.
# * Across settings, diversity and likelihood pull against each other, and
#   real text is less likely than the safest samples: good generation aims at
#   text that looks like the data, not at the most probable text.
# * The generation explorer shows the choices that make a text, one step at
#   a time: forcing one character starts a branch, and the table compares the
#   paths' likelihoods.
# * A `torch.Generator` with a fixed seed makes every sample reproducible.
#
# **Next, notebook 08:** inside the trained model (what its attention heads
# look at) and making generation fast with a KV cache.
