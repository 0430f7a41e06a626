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
# # 01 · Language models: probabilities of text
#
# **In this notebook you will**
#
# 1. see what a language model *is*: a probability distribution over texts,
#    factored by the chain rule into next-token predictions;
# 2. build the simplest useful one, a **bigram model**, by counting which
#    character follows which in Shakespeare's plays;
# 3. score a sentence by hand, token by token, and check the result against
#    `glmlib.ngram.BigramLM`;
# 4. draw the per-token probabilities of a sentence as a chart;
# 5. generate text by sampling from the model, with a seed;
# 6. measure the model with **perplexity** on held-out text, and see why
#    **add-k smoothing** is needed;
# 7. compare the bigram model with the trained GPT on the same sentence: the
#    gap that the rest of the course closes.
#
# **Builds on:** notebook 00 (conventions, seeds). The character tokenizer is
# used here as a black box; notebook 02 builds it.
#
# **Time:** *Run All* takes under a minute on a 2-core laptop; set aside 60–75
# minutes to study the notebook, exercises included.

# %%
import math
from collections import Counter

import matplotlib.pyplot as plt
import torch

from glmlib.data import CharTokenizer, load_shakespeare, train_val_split, visible
from glmlib.model import load_pretrained
from glmlib.ngram import BigramLM

# %% [markdown]
# ## A language model assigns a probability to every text
#
# Take a text as a sequence of tokens $x = (x_1, x_2, \dots, x_n)$; in this
# course a token is one character. A **language model** is a probability
# distribution $P(x)$ over all such sequences: a high probability for
# "If music be the food of love" and a tiny one for "fI umsci eb".
#
# No model can store a probability for every possible text, but it does not
# have to. The **chain rule of probability** factors any joint distribution
# into a product of conditionals, one per token, each given all the tokens
# before it:
#
# $$
# P(x_1, \dots, x_n) = P(x_1)\, P(x_2 \mid x_1)\, P(x_3 \mid x_1, x_2) \cdots
# = \prod_{t=1}^{n} P(x_t \mid x_{<t}),
# \qquad x_{<t} = (x_1, \dots, x_{t-1}).
# $$
#
# This is exact, not an approximation, and it turns the impossible task
# (score whole texts) into a manageable one: **predict the next token given
# the ones before it**. Every model in this course, from the counting model
# below to the GPT, is a next-token predictor.
#
# **Start and end tokens.** Two details make the product well defined. The
# first token needs something to be conditioned on, and a text must be able to
# *end*: without an end marker, the product above is the probability that a
# text *starts with* $x$, and the probabilities of all texts would not sum to
# one. So we wrap every sequence in two special tokens,
# $x_0 = \langle\text{bos}\rangle$ (beginning of sequence) and
# $x_{n+1} = \langle\text{eos}\rangle$ (end of sequence):
#
# $$
# P(x) = \prod_{t=1}^{n+1} P(x_t \mid x_0, \dots, x_{t-1}),
# \qquad x_0 = \langle\text{bos}\rangle,\; x_{n+1} = \langle\text{eos}\rangle.
# $$
#
# The model predicts $n+1$ tokens: the $n$ characters and the decision to stop.
#
# **Logarithms.** A product of hundreds of numbers below one underflows to
# zero in floating point, so we always work with the log-probability, a sum:
#
# $$
# \log P(x) = \sum_{t=1}^{n+1} \log P(x_t \mid x_{<t}) \;\le\; 0 ,
# $$
#
# where from now on the history $x_{<t} = (x_0, \dots, x_{t-1})$ includes the
# start token.
# We use natural logarithms (nats) throughout; dividing by $\ln 2$ converts to bits.

# %% [markdown]
# ## The data
#
# The corpus is split once and for all into a training part and a validation
# part (`train_val_split` cuts at a speech boundary: the last 10% of the text,
# the final plays, are held out). For this notebook a **sequence is one line**
# of a play, wrapped in $\langle\text{bos}\rangle \dots \langle\text{eos}\rangle$.
# The tokenizer maps each character to an integer id and gives the two special
# tokens the ids after the characters.

# %%
# NBVAL_CHECK_OUTPUT
text = load_shakespeare()
train_text, val_text = train_val_split(text)
tok = CharTokenizer.from_text(text, specials=["<bos>", "<eos>"])
BOS, EOS, V = tok.stoi["<bos>"], tok.stoi["<eos>"], tok.vocab_size

train_lines = [tok.encode(line) for line in train_text.splitlines() if line]
val_lines = [tok.encode(line) for line in val_text.splitlines() if line]
print(f"vocabulary: {V} tokens ({V - 2} characters + <bos> + <eos>), <bos>={BOS}, <eos>={EOS}")
print(f"train: {len(train_lines):,} lines, {sum(map(len, train_lines)):,} characters")
print(f"val:   {len(val_lines):,} lines, {sum(map(len, val_lines)):,} characters")
for line in train_lines[:2]:
    print(f"{tok.decode(line)!r:<42} -> {line[:6]} ...")

# %% [markdown]
# ## The bigram assumption
#
# The full conditional $P(x_t \mid x_{<t})$ depends on the whole history,
# which is what the GPT will learn to use. The simplest possible model keeps
# only the **previous token**:
#
# $$
# P(x_t \mid x_{<t}) \approx P(x_t \mid x_{t-1}).
# $$
#
# A model of pairs of tokens is a **bigram** model. Its parameters are one
# table: row $a$ is the distribution of the next token after $a$. The
# maximum-likelihood estimate of that table is simply the relative frequency
# of each pair in the training data. With $N(a, b)$ the number of times $b$
# follows $a$:
#
# $$
# \hat P(b \mid a) = \frac{N(a, b)}{\sum_{b'} N(a, b')} = \frac{N(a, b)}{N(a)} .
# $$
#
# ### Counting by hand
#
# First on a toy text, with a plain Python `Counter` of adjacent pairs:

# %%
# NBVAL_CHECK_OUTPUT
toy = "to be or not to be"
toy_pairs = Counter(zip(toy, toy[1:]))
print(f"{len(toy) - 1} pairs, {len(toy_pairs)} distinct; most common:")
for (a, b), n in toy_pairs.most_common(5):
    print(f"  {a!r} -> {b!r}: {n}")
after_t = {b: n for (a, b), n in toy_pairs.items() if a == "t"}
total_t = sum(after_t.values())
print("P(next | 't'):", {b: f"{n}/{total_t}" for b, n in after_t.items()})

# %% [markdown]
# ### Counting on the whole corpus
#
# For 4 million characters we count with tensors instead. Wrap every line,
# concatenate them, and look at each adjacent pair `(prev, next)`. A pair whose
# `prev` is $\langle\text{eos}\rangle$ straddles two lines, so it is dropped.
# Encoding each pair as the single number `prev * V + next` lets
# `torch.bincount` count all of them at once.

# %%
def wrap_lines(lines: list[list[int]]) -> torch.Tensor:
    """All lines as one 1-D tensor: <bos> line <eos> <bos> line <eos> ..."""
    flat: list[int] = []
    for ids in lines:
        flat += [BOS, *ids, EOS]
    return torch.tensor(flat)


def pairs_of(lines: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (prev, next) pair inside the wrapped lines (none across a line break)."""
    flat = wrap_lines(lines)
    prev, nxt = flat[:-1], flat[1:]
    inside = prev != EOS  # <eos> -> <bos> joins two different lines
    return prev[inside], nxt[inside]


train_prev, train_next = pairs_of(train_lines)
counts = torch.bincount(train_prev * V + train_next, minlength=V * V).view(V, V)  # (V, V): row = prev
row_totals = counts.sum(dim=1, keepdim=True)  # (V, 1): N(a)
probs_mle = counts.double() / row_totals.clamp_min(1)  # (V, V); rows never seen as "prev" stay zero

# %% [markdown]
# The library's `BigramLM` does the same counting. With `k=0` it is the plain
# maximum-likelihood model (the `k` is explained below). We check that the two
# tables agree exactly. One difference: a token that never occurs as a
# previous token has an empty row: $\langle\text{eos}\rangle$, and the newline,
# which never occurs inside a line. We left such rows at zero, the library
# makes them uniform; they are never used.

# %%
# NBVAL_CHECK_OUTPUT
bigram = BigramLM(V, k=0, bos=BOS, eos=EOS).fit(train_lines)
seen = counts.sum(dim=1) > 0
assert torch.equal(bigram.counts.long(), counts)
assert torch.allclose(bigram.probs[seen], probs_mle[seen])
print(f"pairs counted:         {int(counts.sum()):,}")
print(f"distinct pairs seen:   {int((counts > 0).sum()):,} of {V * V:,} possible")
print(f"rows never used:       {[tok.itos[i] for i in range(V) if not seen[i]]}")
print("counts and probabilities agree with glmlib's BigramLM")

# %% [markdown]
# Here is the part of the table for lower-case letters and the space; each
# row is a distribution over the next character (the columns shown here hold
# most, but not all, of each row's probability). Some rows are nearly
# deterministic (after `q` comes `u`), others are spread out (after a space,
# almost any letter can start a word).

# %%
def show(ch: str) -> str:
    """A printable label for a token."""
    return {"<bos>": "bos", "<eos>": "eos"}.get(ch) or visible(ch)


rows = [" "] + list("abcdefghijklmnopqrstuvwxyz")
cols = [" "] + list("abcdefghijklmnopqrstuvwxyz") + ["<eos>"]
sub = probs_mle[[tok.stoi[c] for c in rows]][:, [tok.stoi[c] for c in cols]]  # (rows, cols)
fig, ax = plt.subplots(figsize=(9, 8))
im = ax.imshow(sub.numpy(), cmap="Blues", vmin=0, vmax=0.6)
ax.set_xticks(range(len(cols)), [show(c) for c in cols])
ax.set_yticks(range(len(rows)), [show(c) for c in rows])
ax.set_xlabel("next character b")
ax.set_ylabel("previous character a")
ax.set_title("Bigram model: P(next = b | previous = a), estimated by counting")
fig.colorbar(im, ax=ax, shrink=0.8, label="probability (colour capped at 0.6)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Scoring a sentence, token by token
#
# Take a line that the model never saw: it comes from *Twelfth Night*, which
# is in the validation part. By the chain rule with the bigram assumption,
#
# $$
# \log P(x) = \log \hat P(x_1 \mid \langle\text{bos}\rangle)
# + \sum_{t=2}^{n} \log \hat P(x_t \mid x_{t-1})
# + \log \hat P(\langle\text{eos}\rangle \mid x_n).
# $$
#
# We look up each factor in the table and add the logarithms.

# %%
# NBVAL_CHECK_OUTPUT
sentence = "If music be the food of love, play on;"
assert sentence in val_text and sentence not in train_text
ids = [BOS] + tok.encode(sentence) + [EOS]
steps = []
for prev, nxt in zip(ids[:-1], ids[1:]):
    steps.append((tok.itos[prev], tok.itos[nxt], probs_mle[prev, nxt].item()))
for a, b, p in steps[:6]:
    print(f"P({show(b):>5} | {show(a):>5}) = {p:.4f}   log = {math.log(p):8.4f}")
print(f"... {len(steps) - 7} more ...")
a, b, p = steps[-1]
print(f"P({show(b):>5} | {show(a):>5}) = {p:.4f}   log = {math.log(p):8.4f}")
by_hand = sum(math.log(p) for _, _, p in steps)
print(f"\nlog P(sentence) by hand:     {by_hand:.4f} nats over {len(steps)} predictions")
print(f"log P(sentence) by BigramLM: {bigram.log_prob(tok.encode(sentence)):.4f}")
assert abs(by_hand - bigram.log_prob(tok.encode(sentence))) < 1e-9

# %% [markdown]
# The chart shows each factor of the product: how much probability the model
# gave to the character that actually came next. Tall bars are easy
# predictions: `e` after `v` (*love*, *have*, *ever*), a space after a comma.
# Short bars are surprises: the first letter of most words (after a space the
# model has little to go on) and the space after *music*, because in English
# `c` is rarely the last letter of a word. The model sees one character, so it
# cannot know that it is inside the word *music*.

# %%
labels = [f"{show(b)}\n|{show(a)}" for a, b, _ in steps]
p_tokens = [p for _, _, p in steps]
fig, ax = plt.subplots(figsize=(13, 3.6))
ax.bar(range(len(steps)), p_tokens, color="tab:blue")
ax.set_xticks(range(len(steps)), labels, fontsize=8)
ax.set_xlim(-0.7, len(steps) - 0.3)
ax.set_ylabel("P(next | previous)")
ax.set_xlabel("next character | previous character")
ax.set_title(f"Bigram model: P(next | previous) for each prediction in {sentence!r}")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Why logs, concretely.** Multiply the per-token probabilities of a
# hundred validation lines in 32-bit floats and the product is exactly zero;
# the sum of their logarithms is an ordinary number.

# %%
# NBVAL_CHECK_OUTPUT
some_prev, some_next = pairs_of(val_lines[:100])
p_some = probs_mle[some_prev, some_next].float()  # (N,) per-token probabilities
print(f"{len(p_some)} predictions")
print(f"product of probabilities:       {torch.prod(p_some).item()}")
print(f"sum of log-probabilities:       {p_some.log().sum().item():.2f}")

# %% [markdown]
# ## Sampling: generating text
#
# A language model is also a generator: start from $\langle\text{bos}\rangle$,
# draw the next token from row `prev` of the table, make it the new `prev`,
# and repeat until $\langle\text{eos}\rangle$ comes out. Each step is exactly
# one factor of the chain rule, so this draws whole lines with probability
# $P(x)$ (up to a length cap, here 80 characters). With a seeded generator the
# lines are reproducible.

# %%
def sample_line(probs: torch.Tensor, generator: torch.Generator, max_len: int = 80) -> list[int]:
    """Draw one line from a bigram table: start at <bos>, stop at <eos> (or max_len tokens)."""
    out: list[int] = []
    prev = BOS
    for _ in range(max_len):
        prev = int(torch.multinomial(probs[prev].float(), 1, generator=generator))
        if prev == EOS:
            break
        out.append(prev)
    return out


# %%
# NBVAL_CHECK_OUTPUT
g_ours, g_lib = torch.Generator().manual_seed(1234), torch.Generator().manual_seed(1234)
for _ in range(6):
    ours = sample_line(probs_mle, g_ours)
    theirs = bigram.sample(80, generator=g_lib)
    assert ours == theirs
    print(tok.decode(ours))

# %% [markdown]
# The same seed gives the same lines from our loop and from `BigramLM.sample`.
# The output has the *texture* of English (plausible letter pairs, spaces,
# capitals after a line start, punctuation before the end) but no words: one
# character of memory is not enough.

# %% [markdown]
# ## Perplexity: how good is the model?
#
# Judge a model by the probability it gives to text it has **not** seen. The
# log-probability of a whole text grows with its length, so average it per
# predicted token: the **cross-entropy** (in nats), and its exponential, the
# **perplexity**. Over $N$ predictions,
#
# $$
# \text{NLL} = -\frac{1}{N} \sum_{t=1}^{N} \log P(x_t \mid x_{<t}),
# \qquad
# \text{PPL} = e^{\text{NLL}} .
# $$
#
# Perplexity reads as an effective number of choices: a model that spreads
# its probability uniformly over $m$ tokens has perplexity exactly $m$. A
# model that knows nothing, uniform over the $V = 77$ tokens, scores 77; a
# perfect model scores 1. Lower is better.
#
# Score the validation lines with the counting model:

# %%
# NBVAL_CHECK_OUTPUT
val_prev, val_next = pairs_of(val_lines)
p_val = probs_mle[val_prev, val_next]  # (N,) probability of each actual next token
unseen = p_val == 0
print(f"validation predictions: {len(p_val):,}")
print(f"with probability 0:     {int(unseen.sum())}")
print(f"perplexity:             {math.exp(-p_val.log().mean().item())}")
examples = sorted({tok.itos[a] + tok.itos[b] for a, b in zip(val_prev[unseen].tolist(), val_next[unseen].tolist())
                   if a != BOS and b != EOS})
print("some pairs never seen in training:", examples[:12])

# %% [markdown]
# A validation pair never seen in training gets probability $0$ and log
# $-\infty$; a single such pair makes the perplexity of the whole validation
# set infinite.
# The maximum-likelihood model is *overconfident*: "never seen" is not
# "impossible".
#
# ## Add-k smoothing
#
# The fix: pretend every pair was seen $k$ extra times before counting.
# With $V$ possible next tokens,
#
# $$
# \hat P_k(b \mid a) = \frac{N(a, b) + k}{N(a) + kV} .
# $$
#
# Each row still sums to one, and no probability is zero. $k = 1$ is Laplace
# smoothing; $k \to 0$ gives back the counting model; $k \to \infty$ forgets
# the data and tends to the uniform distribution $1/V$. The best $k$ is a
# trade-off, chosen on the validation set.
#
# `BigramLM` smooths with its `k` argument. Below we hand it our counts and
# read its table for each `k`; exercise 2 at the end asks you to write the
# formula yourself. Our own perplexity, computed from all the pairs at once,
# must agree with the library's line-by-line `log_prob`.

# %%
def smoothed(counts: torch.Tensor, k: float) -> torch.Tensor:
    """Add-k smoothed bigram table (V, V) from BigramLM; rows sum to 1."""
    lm = BigramLM(V, k=k)
    lm.counts = counts.double()  # reuse our counts instead of counting again
    return lm.probs


def perplexity(probs: torch.Tensor, prev: torch.Tensor, nxt: torch.Tensor) -> float:
    """exp of the mean negative log-probability of the pairs (prev, nxt)."""
    return math.exp(-probs[prev, nxt].log().mean().item())


# %% grading="skip"
# NBVAL_CHECK_OUTPUT
laplace = BigramLM(V, k=1.0, bos=BOS, eos=EOS)
laplace.counts = bigram.counts.clone()  # same counts, different smoothing: no need to count again
check_lines = val_lines[:500]  # the library scores one sequence at a time; a sample is enough to compare
lib_nll = -sum(laplace.log_prob(ids) for ids in check_lines) / sum(len(ids) + 1 for ids in check_lines)
ours = perplexity(smoothed(counts, 1.0), *pairs_of(check_lines))
print(f"k=1, first 500 val lines: ours {ours:.4f}, BigramLM {math.exp(lib_nll):.4f}")
assert abs(ours - math.exp(lib_nll)) < 1e-9

ks = [10.0 ** e for e in torch.arange(-30, 3.01, 0.25).tolist()]  # k from 1e-30 to 1000
val_ppl = [perplexity(smoothed(counts, k), val_prev, val_next) for k in ks]
train_ppl = [perplexity(smoothed(counts, k), train_prev, train_next) for k in ks]
best = min(range(len(ks)), key=val_ppl.__getitem__)
print(f"{'k':>8} {'train':>8} {'val':>8} {'val - train':>12}")
for k in (1e-30, 1e-10, 1e-4, ks[best], 1.0, 100.0, 1000.0):
    tr, va = (perplexity(smoothed(counts, k), *pair) for pair in ((train_prev, train_next), (val_prev, val_next)))
    print(f"{k:>8.3g} {tr:>8.3f} {va:>8.3f} {va - tr:>12.3f}" + ("   <- best k on the grid" if k == ks[best] else ""))
print(f"uniform model: {V}")

# %% grading="skip"
fig, (ax_all, ax_zoom) = plt.subplots(1, 2, figsize=(13, 4.2))
for ax in (ax_all, ax_zoom):
    ax.semilogx(ks, train_ppl, label="training lines", color="tab:blue")
    ax.semilogx(ks, val_ppl, label="validation lines", color="tab:orange")
    ax.plot(ks[best], val_ppl[best], "o", color="tab:orange", label=f"best k = {ks[best]:.2g}")
    ax.set_xlabel("smoothing k (log scale; k = 0 is off the axis, to the left)")
    ax.set_ylabel("perplexity (lower is better)")
    ax.grid(alpha=0.3)
ax_all.set_title("Too much smoothing forgets the data")
ax_all.legend(loc="upper left")
ax_zoom.set_ylim(11.8, 12.6)
ax_zoom.fill_between(ks, train_ppl, val_ppl, color="tab:orange", alpha=0.15, label="gap: val - train")
ax_zoom.set_title("Zoom: too little smoothing overfits")
ax_zoom.annotate(f"as k → 0, validation keeps rising:\n{int(unseen.sum())} unseen pairs cost ≈ ln(1/k) nats each;\n"
                 "at k = 0 the perplexity is infinite",
                 xy=(ks[0], val_ppl[0]), xytext=(1e-25, 12.5), fontsize=9, va="center",
                 arrowprops=dict(arrowstyle="->", color="grey"))
ax_zoom.annotate("training is best with no smoothing:\nthe counts are its own statistics",
                 xy=(ks[24], train_ppl[24]), xytext=(1e-17, 11.91),  # ks[24] = 1e-24
                 fontsize=9, arrowprops=dict(arrowstyle="->", color="grey"))
ax_zoom.legend(loc="upper right")
fig.suptitle("Add-k smoothing of the bigram model, k from 1e-30 to 1000")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Too much** (left): above $k \approx 10$ every row is pulled towards the
# uniform distribution, both curves climb together, and at $k = 1000$ the
# perplexity is about 17.
#
# **Too little** (right, the same curves with the vertical axis stretched):
# the training curve is lowest at the left, because with $k \to 0$ the table
# *is* the training statistics. The validation curve turns up there instead,
# and the gap between the two (shaded) widens: that is **overfitting**, a
# model that fits its training data better at the price of new data. It
# happens slowly here. A pair never seen in training gets probability about
# $k / N(a)$, so each of the unseen pairs costs about $\ln(1/k)$ nats, and
# these pairs are a tiny fraction of the predictions: even $k = 10^{-30}$
# costs well under one unit of perplexity (the table above). Only at $k = 0$
# exactly does the cost become infinite.
#
# With four million characters and only $77^2$ possible pairs, the counts are
# so reliable that any $k$ from about $10^{-4}$ to $1$ does almost equally
# well; for models with longer contexts (trigrams, 5-grams) almost every
# context is rare, smoothing matters a lot, and that is one reason neural
# models took over.
#
# A bigram model reaches a validation perplexity of about 12: at each
# character it is, in effect, choosing among a dozen equally likely options.

# %% [markdown]
# ## The bigram model versus the trained GPT
#
# The GPT shipped with the course conditions each prediction on up to
# `block_size` previous characters instead of one. It has no
# $\langle\text{bos}\rangle$/$\langle\text{eos}\rangle$ tokens; in its
# training text a newline `⏎` plays both roles, so we score
# `⏎ sentence ⏎`: the same number of predictions as
# `<bos> sentence <eos>` for the bigram. One forward pass gives the logits
# for every position at once, `(B, T, V)`; the log-softmax at position $t$ is
# the model's distribution for token $t+1$ (notebook 02 shows why).

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
gpt, gpt_tok = load_pretrained()  # CPU
gpt_ids = torch.tensor([gpt_tok.encode("\n" + sentence + "\n")])  # (1, n + 2)
with torch.no_grad():
    logits, _ = gpt(gpt_ids[:, :-1])  # (1, n + 1, V): predictions for tokens 1 .. n + 1
gpt_logp = torch.log_softmax(logits, dim=-1)[0].gather(-1, gpt_ids[0, 1:, None])[:, 0]  # (n + 1,)
bigram_logp = laplace.token_log_probs(tok.encode(sentence))  # (n + 1,)
assert len(gpt_logp) == len(bigram_logp) == len(sentence) + 1
for name, lp in (("bigram (k=1)", bigram_logp), ("GPT", gpt_logp)):
    total = lp.sum().item()
    print(f"{name:<13} log P = {total:8.3f} nats   {-total / len(lp) / math.log(2):.3f} bits/char   "
          f"perplexity {math.exp(-total / len(lp)):.3f}")

# %% grading="skip"
chars = [show(c) for c in sentence] + ["end"]
x = torch.arange(len(chars)).float()
fig, ax = plt.subplots(figsize=(13, 3.8))
ax.bar(x - 0.2, bigram_logp.exp().numpy(), width=0.4, label=r"bigram: $P(x_t \mid x_{t-1})$", color="tab:blue")
ax.bar(x + 0.2, gpt_logp.exp().numpy(), width=0.4, label=r"GPT: $P(x_t \mid x_{<t})$", color="tab:red")
ax.set_xticks(x.tolist(), chars)
ax.set_xlim(-0.7, len(chars) - 0.3)
ax.set_ylim(0, 1.15)
ax.set_xlabel(r"token $x_t$ being predicted (end = <eos> for the bigram, ⏎ for the GPT)")
ax.set_ylabel("probability of the actual token")
ax.set_title(f"Per-token probabilities of {sentence!r}")
ax.legend(loc="upper left", ncol=2)
plt.tight_layout()
plt.show()

# %% [markdown]
# Where the GPT's bar is taller, the longer context helped: the letters of a
# word seen so far pin down how it goes on, and whether it is complete (the space
# after *If*). Both models struggle at the start of a word, where the
# context says least. How the GPT uses its context is the subject of notebooks
# 03 to 05.
#
# ### Try it yourself
#
# `glmlib.widgets.chain_rule_view(model, tokenizer, text)` draws this kind of
# chart for a bigram model or a GPT; type a sentence in its text box and the
# chart follows. It scores text with `glmlib.widgets.token_log_probs`, so first
# we check that this function gives the numbers computed above.

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
from glmlib.widgets import chain_rule_view, token_log_probs

same_bigram = torch.allclose(token_log_probs(laplace, tok, sentence), bigram_logp)
same_gpt = torch.allclose(token_log_probs(gpt, gpt_tok, "\n" + sentence + "\n"), gpt_logp, atol=1e-5)
print(f"token_log_probs agrees: bigram {same_bigram}, GPT {same_gpt}")

# %% grading="skip"
chain_rule_view(gpt, gpt_tok, "\n" + sentence)  # edit the text to score your own line

# %% [markdown]
# ## Exercises
#
# Write each function in the cell under its prompt and re-run the cell: the
# checker answers *pass*, *not yet* or *fail*, and for a common mistake says
# what it looks like. In the self-study edition a worked solution is folded
# below each exercise.

# %%
import glmlib.exercises.language_models as ex

# %% [markdown]
# ### Exercise 1: count the pairs
#
# Write `bigram_counts(ids, vocab_size)` returning a `(V, V)` tensor of counts
# whose entry `[a, b]` is the number of times token `b` directly follows token
# `a` in the list `ids` (row = previous token, column = next token). A
# sequence with fewer than two tokens has no pairs. Any integer dtype will do
# (`torch.long` is the natural one); a loop over the pairs is fine.
#
# The checker compares with `BigramLM`'s counts on six sequences, including
# repeated pairs, a token followed by itself, one token and no token. It
# names these mistakes: a transposed table, a repeated pair counted only once
# (a classic of tensor indexing: `counts[prev_ids, next_ids] += 1` with index
# *tensors* does not add up duplicates), a missing first or last pair, a pair
# that wraps around from the last token to the first, and pairs counted both
# ways.

# %% exercise={"question": "q01_bigram_counts", "points": 2}
def bigram_counts(ids: list[int], vocab_size: int) -> torch.Tensor:
    """(V, V) counts: [a, b] = how often b follows a."""
    # your code here
    raise NotImplementedError


ex.check_bigram_counts(bigram_counts)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# `zip(ids[:-1], ids[1:])` walks over the adjacent pairs; for an empty or
# one-token list it yields nothing. Adding `1` one pair at a time counts a
# repeated pair as often as it occurs. For four million characters the
# `bincount` trick used above does the same in one call.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def bigram_counts(ids: list[int], vocab_size: int) -> torch.Tensor:
    """(V, V) counts: [a, b] = how often b follows a."""
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)  # (V, V): row = previous token
    for prev, nxt in zip(ids[:-1], ids[1:]):  # the n - 1 adjacent pairs
        counts[prev, nxt] += 1
    return counts


ex.check_bigram_counts(bigram_counts)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_bigram_counts(bigram_counts).require()

# %% [markdown]
# ### Exercise 2: add-k smoothing
#
# Write `add_k_probs(counts, k)` returning the `(V, V)` float table
# $\hat P_k(b \mid a) = (N(a, b) + k) / (N(a) + kV)$ for a `(V, V)` table of
# counts (row `a` = previous token). One edge case: with `k = 0`, a row with
# no counts at all would be $0/0$; make such a row uniform ($1/V$
# everywhere), as `BigramLM` does. Do not change the `counts` you are given.
#
# The checker compares with `BigramLM`'s table for six `(counts, k)` pairs
# (including `k = 0`, a large `k`, and a row never seen) and names these
# mistakes: rows that do not sum to 1 (a denominator of $N(a) + k$), `k`
# added only to the pairs that were seen, smoothing the frequencies instead of
# the counts, normalising columns instead of rows, a transposed table, `NaN`
# or zeros for an empty row, and changing the input counts in place.

# %% exercise={"question": "q01_add_k_probs", "points": 2}
def add_k_probs(counts: torch.Tensor, k: float) -> torch.Tensor:
    """(V, V) float table of add-k smoothed next-token probabilities."""
    # your code here
    raise NotImplementedError


ex.check_add_k_probs(add_k_probs)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Adding `k` to every entry and summing the row gives $N(a) + kV$ directly,
# so the denominator needs no separate formula. `torch.where` picks the
# uniform row where the total is zero; the `clamp_min` only keeps the branch
# that is not used from dividing by zero. `counts.double() + k` builds a new
# tensor, so the input is left alone (an in-place `counts += k` would change
# the caller's table).
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def add_k_probs(counts: torch.Tensor, k: float) -> torch.Tensor:
    """(V, V) float table of add-k smoothed next-token probabilities."""
    smoothed = counts.double() + k  # (V, V): a new tensor, the input is untouched
    totals = smoothed.sum(dim=1, keepdim=True)  # (V, 1): N(a) + kV
    uniform = torch.full_like(smoothed, 1.0 / counts.shape[1])  # for rows with nothing in them
    return torch.where(totals > 0, smoothed / totals.clamp_min(1e-300), uniform)


ex.check_add_k_probs(add_k_probs)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_add_k_probs(add_k_probs).require()

# %% [markdown]
# ### Exercise 3: the chain rule, with start and end tokens
#
# Write `line_log_prob(probs, ids, bos, eos)` returning the natural
# log-probability of one line under a bigram table `probs` (`(V, V)`, row =
# previous token, column = next token):
#
# $$
# \log P(x) = \sum_{t=1}^{n+1} \log \texttt{probs}[x_{t-1}, x_t],
# \qquad x_0 = \texttt{bos},\; x_{n+1} = \texttt{eos},
# $$
#
# where `ids` holds the line's tokens $x_1, \dots, x_n$ **without** the start
# and end tokens: your function adds them. Return a Python float or a 0-d
# tensor. An empty line still makes one prediction, $P(\texttt{eos} \mid
# \texttt{bos})$.
#
# The checker compares with `BigramLM.log_prob` on six lines (an empty line,
# one character, a long line, an unsmoothed table) and names these mistakes: a
# missing first prediction (no `bos`) or last prediction (no `eos`), adding
# probabilities instead of log-probabilities, returning the probability
# instead of its log, the log of a sum, the negative log-likelihood, bits
# instead of nats, an average instead of a sum, and a transposed lookup.

# %% exercise={"question": "q01_line_log_prob", "points": 2}
def line_log_prob(probs: torch.Tensor, ids: list[int], bos: int, eos: int) -> float:
    """Natural log-probability of <bos> ids <eos> under a bigram table."""
    # your code here
    raise NotImplementedError


ex.check_line_log_prob(line_log_prob)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Wrapping the line first makes every prediction one adjacent pair: `n`
# characters give `n + 1` pairs, from $(\langle\text{bos}\rangle, x_1)$ to
# $(x_n, \langle\text{eos}\rangle)$. Adding logarithms instead of multiplying
# probabilities is the chain rule in log space; it cannot underflow.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def line_log_prob(probs: torch.Tensor, ids: list[int], bos: int, eos: int) -> float:
    """Natural log-probability of <bos> ids <eos> under a bigram table."""
    wrapped = [bos, *ids, eos]  # n + 2 tokens, n + 1 predictions
    return sum(math.log(probs[prev, nxt]) for prev, nxt in zip(wrapped[:-1], wrapped[1:]))


ex.check_line_log_prob(line_log_prob)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_line_log_prob(line_log_prob).require()

# %% [markdown]
# ## Summary
#
# * A language model is a distribution over texts. The chain rule factors it
#   exactly into next-token predictions, $P(x) = \prod_t P(x_t \mid x_{<t})$,
#   with $\langle\text{bos}\rangle$ to condition the first token and
#   $\langle\text{eos}\rangle$ so that texts can end.
# * We add log-probabilities instead of multiplying probabilities.
# * A bigram model keeps one token of history; counting pairs gives its
#   maximum-likelihood table.
# * Sampling token by token from the conditionals generates text; a seeded
#   generator makes it reproducible.
# * Perplexity $e^{\text{NLL}}$ on held-out text measures a model. The
#   counting model scores $\infty$ because of unseen pairs; add-k smoothing
#   fixes that, bringing it to about 12, against 77 for a uniform guess.
# * The trained GPT, which sees up to `block_size` characters of context,
#   gives the actual next characters more probability than the bigram model.
#
# **Next:** [02 · Tokens and batches](02_tokens_and_batches.ipynb) builds the
# tokenizer used here and turns the corpus into the `(x, y)` training batches
# a neural model learns from.
