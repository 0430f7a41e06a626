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
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Tokens and batches: from text to training data
#
# **In this notebook you will**
#
# 1. build a character tokenizer from scratch (`encode`, `decode`) and check
#    it against `glmlib.data.CharTokenizer`;
# 2. add special tokens such as `<bos>`/`<eos>`, and see what happens to a
#    character the tokenizer has never seen;
# 3. split the corpus into training and validation text, and encode both;
# 4. cut the text into shifted `(x, y)` batches, and see why **one sequence of
#    length T gives T training examples**;
# 5. turn token ids into vectors with an embedding table, and verify that an
#    embedding lookup is a one-hot vector times a matrix;
# 6. in the exercises: encode with an unknown-character token, list the
#    training examples under a block size, draw batches that never cross a
#    document boundary, and compute an embedding table's gradient by hand.
#
# **Builds on:** notebook 01, which used the tokenizer as a black box and
# scored text with a bigram model. From here on the model is a neural network,
# and this notebook prepares its food.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from glmlib.data import CharTokenizer, get_batch, load_shakespeare, train_val_split, visible
from glmlib.model import load_pretrained

# %% [markdown]
# ## Tokens
#
# A neural network computes with numbers, so text must become a sequence of
# integers, the **token ids**. The unit of text can be a word, a character, or
# something in between: GPT-2 uses about 50,000 *subword* pieces learned by
# byte-pair encoding. The choice is a trade-off:
#
# | unit | vocabulary | sequence length | unseen input |
# |---|---|---|---|
# | words | huge (every word form) | short | new words are unknown |
# | subwords (BPE) | tens of thousands | medium | rare words split into pieces |
# | characters | tiny (here 75) | long | only new characters are unknown |
#
# This course uses **characters**: the vocabulary is small enough to look at
# in full, the tokenizer fits in a few lines, and the model must learn
# spelling itself, which makes its mistakes easy to read.
#
# ### A character tokenizer from scratch
#
# The vocabulary is the sorted set of characters in the corpus. Two lookup
# tables translate: `stoi` (string to integer) and `itos` (integer to string).

# %%
# NBVAL_CHECK_OUTPUT
text = load_shakespeare()
chars = sorted(set(text))
stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for i, ch in enumerate(chars)}


def encode(s: str) -> list[int]:
    """Text -> token ids, one per character."""
    return [stoi[ch] for ch in s]


def decode(ids: list[int]) -> str:
    """Token ids -> text."""
    return "".join(itos[i] for i in ids)


print(f"vocabulary size: {len(chars)}")
print("vocabulary:", repr("".join(chars)))
ids = encode("Hello, world!")
print("encode('Hello, world!') =", ids)
print("decode(...)             =", repr(decode(ids)))

# %% [markdown]
# `glmlib.data.CharTokenizer.from_text` builds the same vocabulary, so it must
# give the same ids. We check both directions on the first 400 characters.

# %%
# NBVAL_CHECK_OUTPUT
tokenizer = CharTokenizer.from_text(text)
sample_text = text[:400]
assert tokenizer.encode(sample_text) == encode(sample_text)
assert tokenizer.decode(encode(sample_text)) == sample_text == decode(encode(sample_text))
assert tokenizer.itos == chars
print(f"CharTokenizer agrees: vocab_size={tokenizer.vocab_size}, same ids for {len(sample_text)} characters")

# %% [markdown]
# Some characters are everywhere, others almost absent. The plot counts each
# character in the corpus (note the logarithmic axis).

# %%
data = tokenizer.encode_tensor(text)  # the whole corpus as ids (a vectorised encode)
freq = torch.bincount(data, minlength=tokenizer.vocab_size)
order = torch.argsort(freq, descending=True)
labels = [visible(chars[i]) for i in order.tolist()]
fig, ax = plt.subplots(figsize=(13, 3.6))
ax.bar(range(len(order)), freq[order].numpy(), color="tab:blue")
ax.set_yscale("log")
ax.set_xticks(range(len(order)), labels, fontsize=8)
ax.set_xlim(-0.7, len(order) - 0.3)
ax.set_xlabel("character (␣ = space, ⏎ = newline), most frequent first")
ax.set_ylabel("count in the corpus (log scale)")
ax.set_title(f"How often each of the {tokenizer.vocab_size} characters occurs")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Special tokens
#
# Notebook 01 wrapped each line in $\langle\text{bos}\rangle$ and
# $\langle\text{eos}\rangle$. Such **special tokens** are not characters: they
# get their own ids after the characters, and `encode` never produces them
# from text (a literal `"<bos>"` in the text is five ordinary characters, or
# an error). You add them around the encoded text yourself. The shipped GPT
# uses none: in its training text, newlines and `SPEAKER:` lines mark the
# structure.

# %%
# NBVAL_CHECK_OUTPUT
tok_sp = CharTokenizer.from_text(text, specials=["<bos>", "<eos>"])
BOS, EOS = tok_sp.stoi["<bos>"], tok_sp.stoi["<eos>"]
wrapped = [BOS] + tok_sp.encode("Peace!") + [EOS]
print(f"vocab_size {tokenizer.vocab_size} -> {tok_sp.vocab_size}; <bos>={BOS}, <eos>={EOS}")
print("ids:    ", wrapped)
print("decoded:", repr(tok_sp.decode(wrapped)))
assert tok_sp.encode("Peace!") == tokenizer.encode("Peace!")  # characters keep their ids

# %% [markdown]
# ### Unknown characters
#
# A character tokenizer cannot encode a character outside its vocabulary.
# Our scratch `encode` fails with a bare `KeyError`; `CharTokenizer` says which
# characters are the problem and which are allowed. (Subword tokenizers avoid
# the problem by falling back to bytes; exercise 1 builds a third way out, an
# unknown-character token.)

# %%
# NBVAL_CHECK_OUTPUT
for fn in (encode, tokenizer.encode):
    try:
        fn("Café, señor")
    except (KeyError, ValueError) as err:
        print(f"{type(err).__name__}: {str(err)[:100]}...")

# %% [markdown]
# ## Training and validation text
#
# To know whether a model has learned the language or merely memorised its
# training text, we keep some text aside and only ever *evaluate* on it. The
# split must not leak: `train_val_split` cuts at the first speech boundary
# after 90% of the corpus, so the last plays (in file-name order) are the
# validation text and no speech is cut in half. Each part becomes one long 1-D
# tensor of token ids: int64, the dtype PyTorch uses for indices.

# %%
# NBVAL_CHECK_OUTPUT
train_text, val_text = train_val_split(text)
train_data, val_data = data[:len(train_text)], data[len(train_text):]  # (N_train,), (N_val,)
print(f"train: {len(train_data):>9,} tokens ({len(train_data) / len(text):.1%})  dtype {train_data.dtype}")
print(f"val:   {len(val_data):>9,} tokens ({len(val_data) / len(text):.1%})")
print("validation text starts with:", repr(val_text[:40]))
assert train_text + val_text == text and train_text.endswith("\n\n")

# %% [markdown]
# ## Batches of shifted sequences
#
# A language model learns to predict each token from the ones before it. We
# train on windows of `T = block_size` consecutive tokens starting at a random
# offset $i$: the input is $x = (d_i, \dots, d_{i+T-1})$ and the target is the
# same window **shifted by one**, $y = (d_{i+1}, \dots, d_{i+T})$, so that
# $y_t$ is the token that follows $x_t$. `B` windows are stacked into a batch:
# `x` and `y` both have shape `(B, T)`.
#
# From scratch, with a seeded generator for the random offsets:

# %%
def my_get_batch(data: torch.Tensor, batch_size: int, block_size: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """B random windows of T tokens (x) and the same windows shifted by one (y)."""
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)  # (B,)
    x = torch.stack([data[s:s + block_size] for s in starts])  # (B, T)
    y = torch.stack([data[s + 1:s + block_size + 1] for s in starts])  # (B, T)
    return x, y


# %%
# NBVAL_CHECK_OUTPUT
B, T = 4, 16
x, y = my_get_batch(train_data, B, T, torch.Generator().manual_seed(0))
x_lib, y_lib = get_batch(train_data, B, T, generator=torch.Generator().manual_seed(0))
assert torch.equal(x, x_lib) and torch.equal(y, y_lib)
assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted one step to the left
print(f"x {tuple(x.shape)}, y {tuple(y.shape)}: same as glmlib.data.get_batch with the same seed")
for b in range(B):
    print(f"x[{b}] = {tokenizer.decode(x[b])!r:<20} y[{b}] = {tokenizer.decode(y[b])!r}")

# %%
def draw_batch(x: torch.Tensor, y: torch.Tensor, tokenizer: CharTokenizer) -> None:
    """Each window as two rows of character cells: x on top, y (x shifted by one) below."""
    B, T = x.shape
    fig, ax = plt.subplots(figsize=(12, 1.1 * B + 0.6))
    for b in range(B):
        top = 2.6 * (B - 1 - b) + 1.2
        for row, ids, color in ((top, x[b], "#dbe9f6"), (top - 1.05, y[b], "#fde0c5")):
            for t, i in enumerate(ids.tolist()):
                ch = visible(tokenizer.itos[i])
                ax.add_patch(plt.Rectangle((t, row), 0.95, 0.95, facecolor=color, edgecolor="grey", lw=0.5))
                ax.text(t + 0.475, row + 0.47, ch, ha="center", va="center", fontsize=11, family="monospace")
        ax.text(-0.3, top + 0.47, f"x[{b}]", ha="right", va="center", fontsize=10)
        ax.text(-0.3, top - 0.58, f"y[{b}]", ha="right", va="center", fontsize=10)
    ax.set_xlim(-1.6, T + 0.1)
    ax.set_ylim(-0.1, 2.6 * B - 0.2)
    ax.set_xticks([t + 0.475 for t in range(T)], range(T))
    ax.set_xlabel("position t: y[b, t] is the character that follows x[b, t]")
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"A batch of B={B} windows of T={T} characters: inputs x (blue), targets y (orange)")
    plt.tight_layout()
    plt.show()


draw_batch(x, y, tokenizer)

# %% [markdown]
# ### One window, T training examples
#
# A window of $T$ tokens is not one training example but $T$ of them: at every
# position $t$ the model predicts $y_t$ from the **context** $x_0, \dots, x_t$.
# Here are the pairs hidden in the first window:

# %%
# NBVAL_CHECK_OUTPUT
for t in range(T):
    context = tokenizer.decode(x[0, :t + 1])
    target = tokenizer.decode(y[0, t:t + 1])
    print(f"t={t:>2}  context {context!r:<20} -> target {target!r}")

# %% [markdown]
# The contexts have every length from 1 to $T$, which teaches the model to
# predict from short contexts (the start of a text) as well as long ones.
# A GPT computes all $T$ predictions in **one** forward pass: its output has
# shape `(B, T, V)`, one distribution over the vocabulary per position. That
# works only if position $t$ cannot see $x_{t+1}, \dots$: the causal mask of
# notebook 03 guarantees it. The training loss is the average negative
# log-probability over all $B \cdot T$ predictions:
#
# $$
# \mathcal{L} = -\frac{1}{BT} \sum_{b=1}^{B} \sum_{t=0}^{T-1}
# \log P_\theta\!\left(y_{b,t} \mid x_{b,0}, \dots, x_{b,t}\right).
# $$
#
# We can check this on the trained model: its `loss` equals the mean of the
# $B \cdot T$ per-position negative log-probabilities.

# %%
# NBVAL_CHECK_OUTPUT
model, model_tok = load_pretrained()  # CPU
assert model_tok.itos == tokenizer.itos  # the model uses the same character vocabulary
with torch.no_grad():
    logits, loss = model(x, y)  # logits (B, T, V)
log_probs = torch.log_softmax(logits, dim=-1)  # (B, T, V)
nll = -log_probs.gather(-1, y[..., None])[..., 0]  # (B, T): -log P(y[b, t] | x[b, :t+1])
print(f"logits {tuple(logits.shape)}; {nll.numel()} predictions in one forward pass")
print(f"mean of the {B}x{T} NLLs: {nll.mean():.4f}   model loss: {loss:.4f}")
assert torch.allclose(nll.mean(), loss, atol=1e-6)

# %% [markdown]
# ## Embeddings: from ids to vectors
#
# A token id is a name, not a quantity: id 43 is not "more" than id 42. The
# model's first layer therefore gives every token its own learned vector of
# `C` numbers, stored as row `i` of a `(V, C)` table $W$. Looking up a row is
# the same as multiplying a **one-hot** vector by the table: with
# $e_i \in \{0, 1\}^V$ the vector with a single 1 at position $i$,
#
# $$
# e_i^\top W = W_{i,:} \in \mathbb{R}^C .
# $$
#
# The lookup is what the code does (it is much cheaper); the matrix product
# is how to think about it: an embedding is a linear layer applied to one-hot
# inputs. In PyTorch the table is `nn.Embedding(V, C)`, and a `(B, T)` batch of
# ids becomes a `(B, T, C)` tensor.

# %%
# NBVAL_CHECK_OUTPUT
V, C = tokenizer.vocab_size, 8
torch.manual_seed(0)  # nn.Embedding draws its initial weights from the global generator
emb = nn.Embedding(V, C)
W = emb.weight.detach()  # (V, C)
one_hot = F.one_hot(x, num_classes=V).float()  # (B, T, V)
by_matmul = one_hot @ W  # (B, T, C)
by_lookup = W[x]  # (B, T, C)
by_module = emb(x).detach()  # (B, T, C)
print(f"x {tuple(x.shape)} -> one-hot {tuple(one_hot.shape)} -> embeddings {tuple(by_matmul.shape)}")
print("one-hot @ W == W[x]:    ", torch.equal(by_matmul, by_lookup))
print("W[x] == nn.Embedding(x):", torch.equal(by_lookup, by_module))

# %% [markdown]
# A consequence for training: the gradient of the loss with respect to $W$ is
# zero in every row whose token is not in the batch, so each step updates
# only the embeddings of the tokens it saw.

# %%
# NBVAL_CHECK_OUTPUT
emb.zero_grad()
emb(x).pow(2).sum().backward()  # any loss that depends on the embeddings
rows_with_grad = set(torch.nonzero(emb.weight.grad.abs().sum(dim=1)).flatten().tolist())
print(f"distinct tokens in the batch: {len(set(x.flatten().tolist()))}; rows with a gradient: {len(rows_with_grad)}")
print("the same rows:", rows_with_grad == set(x.flatten().tolist()))

# %% [markdown]
# The trained model's table has `C = n_embd` columns, too many to look at
# directly, so we project every character's vector onto the two directions of
# largest variance (principal components). Characters that the model treats
# alike end up close together.

# %%
wte = model.wte.weight.detach()  # (V, n_embd)
centered = wte - wte.mean(dim=0)
_, _, Vh = torch.linalg.svd(centered, full_matrices=False)
xy = centered @ Vh[:2].T  # (V, 2)
groups = {"vowels": "aeiouAEIOU", "consonants": "bcdfghjklmnpqrstvwxyzBCDFGHJKLMNPQRSTVWXYZ",
          "digits": "0123456789"}
fig, ax = plt.subplots(figsize=(8, 6.5))
for i, ch in enumerate(tokenizer.itos):
    group = next((g for g, members in groups.items() if ch in members), "punctuation and space")
    color = {"vowels": "tab:red", "consonants": "tab:blue", "digits": "tab:green"}.get(group, "black")
    label = visible(ch)
    ax.text(xy[i, 0], xy[i, 1], label, color=color, ha="center", va="center", fontsize=11)
for group, color in (("vowels", "tab:red"), ("consonants", "tab:blue"), ("digits", "tab:green"),
                     ("punctuation and space", "black")):
    ax.plot([], [], "s", color=color, label=group)
pad = 0.1 * (xy.max(dim=0).values - xy.min(dim=0).values)
ax.set_xlim(xy[:, 0].min() - pad[0], xy[:, 0].max() + pad[0])
ax.set_ylim(xy[:, 1].min() - pad[1], xy[:, 1].max() + pad[1])
ax.set_xlabel("first principal component")
ax.set_ylabel("second principal component")
ax.set_title("The trained model's character embeddings, projected to 2-D")
ax.legend(loc="best", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# What to look for: upper-case and lower-case letters in separate regions
# (they occur in different places: names and line starts versus the middle of
# words), punctuation marks that end a clause near one another, and the
# rarest characters (digits, `$`, `&`) bunched together, because they occur so
# seldom that training has barely shaped their vectors. None of this was
# programmed; it is what predicting the next character required.

# %% [markdown]
# ## Exercises
#
# Write each function in the cell under its prompt and re-run the cell: the
# checker answers *pass*, *not yet* or *fail*, and for a common mistake says
# what it looks like. The worked solutions are folded below each exercise.
# Exercise 3 is a *transfer* exercise: nothing above shows its solution.

# %%
import glmlib.exercises.tokens as ex

# %% [markdown]
# ### Exercise 1: encode with an unknown-character token
#
# Our `encode` fails on a character it has never seen. Many tokenizers
# instead map such a character to a special **unknown** token, `<unk>`, and
# carry on. Write `encode_with_unk(text, stoi, unk_id)` that returns a pair
# `(ids, unknown)`:
#
# * `ids`: a list with exactly one id per character of `text`: `stoi[ch]` for
#   a known character, `unk_id` for any other;
# * `unknown`: the distinct characters of `text` that are not in `stoi`, each
#   listed once, in the order they first appear (so that a caller can report
#   them).
#
# `stoi` maps single characters (and perhaps special tokens such as `"<bos>"`)
# to ids; look characters up one at a time. A `"<bos>"` written in the text is
# five ordinary characters, not the special token.
#
# The checker tries six texts with hand-worked answers and names these
# mistakes: unknown characters dropped (so later positions shift), an unknown
# character listed once per occurrence, the list in the wrong order (sorted, or
# from a `set`), and an unknown id of `len(stoi)` or `-1` instead of `unk_id`.

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN QUESTION
# name: q02_encode_with_unk
# points: 2

# %%
def encode_with_unk(text: str, stoi: dict[str, int], unk_id: int) -> tuple[list[int], list[str]]:
    """One id per character (unk_id if unknown), and the distinct unknown characters in order."""
    # your code here
    raise NotImplementedError


ex.check_encode_with_unk(encode_with_unk)

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN SOLUTION

# %% [markdown]
# <details><summary>About the solution</summary>
#
# `stoi.get(ch, unk_id)` looks a character up with a default. The unknown
# characters are collected in a list, checking membership before appending;
# a `set` alone would lose the order (`dict.fromkeys(...)` keeps it too).
# With a `<unk>` token the model can read any text, at the price of
# forgetting *which* character was unknown: that is why the list is returned.
# </details>

# %% jupyter={"source_hidden": true}
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def encode_with_unk(text: str, stoi: dict[str, int], unk_id: int) -> tuple[list[int], list[str]]:
    """One id per character (unk_id if unknown), and the distinct unknown characters in order."""
    ids = [stoi.get(ch, unk_id) for ch in text]  # exactly len(text) ids
    unknown: list[str] = []
    for ch in text:
        if ch not in stoi and ch not in unknown:
            unknown.append(ch)  # first appearance only
    return ids, unknown


ex.check_encode_with_unk(encode_with_unk)
# END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN TESTS

# %% jupyter={"source_hidden": true}
ex.check_encode_with_unk(encode_with_unk).require()

# %% [raw] jupyter={"source_hidden": true}
# # END TESTS

# %% [raw] jupyter={"source_hidden": true}
# # END QUESTION

# %% [markdown]
# ### Exercise 2: the training examples under a block size
#
# A GPT sees at most `block_size` tokens of context. Write
# `context_target_pairs(ids, block_size)` returning every `(context, target)`
# example of the list `ids`, in order: for `t = 1 … len(ids) - 1`, the target
# `ids[t]` with the context of the **last `block_size` tokens before it** (or
# all of them, when there are fewer), as a list. For example
# `context_target_pairs([5, 6, 7, 8], 2)` is
# `[([5], 6), ([5, 6], 7), ([6, 7], 8)]`. A sequence of `n` tokens gives
# `n - 1` examples.
#
# The checker tries six sequences with hand-worked answers and names these
# mistakes: contexts that ignore `block_size`, contexts one token too long or
# too short, the first tokens instead of the last ones, a negative slice start
# (Python counts it from the end), a pair with an empty context, a missing last
# example, and a context that includes its own target.

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN QUESTION
# name: q02_context_target_pairs
# points: 2

# %%
def context_target_pairs(ids: list[int], block_size: int) -> list[tuple[list[int], int]]:
    """Every (context, target) example: ids[t] after the last block_size tokens before it."""
    # your code here
    raise NotImplementedError


ex.check_context_target_pairs(context_target_pairs)

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN SOLUTION

# %% [markdown]
# <details><summary>About the solution</summary>
#
# The context of target `t` starts at `max(0, t - block_size)`: without the
# `max`, a negative start would count from the end of the list and give an
# empty or wrong context. A window `x, y` of `get_batch` holds exactly these
# examples for its `T + 1` tokens `x[0], …, x[T-1], y[T-1]` with
# `block_size = T`: `T` of them, with contexts of every length from 1 to `T`.
# </details>

# %% jupyter={"source_hidden": true}
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def context_target_pairs(ids: list[int], block_size: int) -> list[tuple[list[int], int]]:
    """Every (context, target) example: ids[t] after the last block_size tokens before it."""
    return [(list(ids[max(0, t - block_size):t]), ids[t]) for t in range(1, len(ids))]


ex.check_context_target_pairs(context_target_pairs)
# END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN TESTS

# %% jupyter={"source_hidden": true}
ex.check_context_target_pairs(context_target_pairs).require()

# %% [raw] jupyter={"source_hidden": true}
# # END TESTS

# %% [raw] jupyter={"source_hidden": true}
# # END QUESTION

# %% [markdown]
# ### Exercise 3 (transfer): batches that never cross a document boundary
#
# `get_batch` cuts windows anywhere, so a window can start at the end of one
# speech and run into the next: the model then learns to predict a text from
# an unrelated one. When the data is a sequence of separate **documents**
# (lines, speeches, files), a batcher can instead keep every window inside one
# document.
#
# Write `doc_batch(data, doc_lengths, batch_size, block_size, generator)`.
# `data` is a 1-D tensor of token ids: the documents one after another, in
# order, with lengths `doc_lengths` (so `len(data) == sum(doc_lengths)`).
#
# 1. Make the list `starts` of **every** valid start `s`, in increasing order:
#    `s` is valid when the window `data[s : s + block_size + 1]` (the tokens of
#    `x` and of `y`) lies inside one document.
# 2. If there is none, raise a `ValueError` that says so.
# 3. Draw once, exactly like this:
#    `pick = torch.randint(len(starts), (batch_size,), generator=generator)`,
#    and use the starts `starts[pick]`.
# 4. Return `(x, y)`, both of shape `(batch_size, block_size)`, with `y` the
#    window of `x` shifted by one, as in `get_batch`.
#
# The checker runs five sets of documents with hand-worked valid starts (a
# document too short for any window, documents of exactly `block_size + 1`
# tokens, one document, where `doc_batch` must equal `get_batch`) and one with
# no valid window. Besides wrong shapes and an unshifted `y`, it names these
# mistakes: windows that ignore the boundaries, a `y` that runs one token into
# the next document, a missing last window in each document, and starts counted
# from the beginning of each document instead of the beginning of `data`.
#
# *Hint:* a document that starts at offset `o` in `data` has length `L`; which
# starts `s` keep `s + block_size + 1 <= o + L`?

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN QUESTION
# name: q02_doc_batch
# points: 3

# %%
def doc_batch(data: torch.Tensor, doc_lengths: list[int], batch_size: int, block_size: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """B windows (x) and their shifted targets (y), each inside one document; both (B, T)."""
    # your code here
    raise NotImplementedError


ex.check_doc_batch(doc_batch)

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN SOLUTION

# %% [markdown]
# <details><summary>About the solution</summary>
#
# A document of length `L` at offset `o` has the `L - block_size` valid starts
# `o, …, o + L - block_size - 1` (none when `L <= block_size`): the last one's
# `y` ends exactly on the document's last token. The cell below also counts
# what the rule costs on our training text with `block_size = 32`. With lines
# (each with its newline) as documents, about half the lines are too short to
# hold a single window and only about a quarter of `get_batch`'s windows
# remain; with speeches as documents most windows remain. This is one reason
# GPT training usually concatenates its documents, separated by an
# end-of-text token, and lets windows cross them.
# </details>

# %% jupyter={"source_hidden": true}
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def valid_starts(doc_lengths: list[int], block_size: int) -> list[int]:
    """Every start s whose window data[s : s + block_size + 1] lies inside one document."""
    starts: list[int] = []
    offset = 0  # where the current document starts in data
    for length in doc_lengths:
        starts.extend(range(offset, offset + length - block_size))  # empty if length <= block_size
        offset += length
    return starts


def doc_batch(data: torch.Tensor, doc_lengths: list[int], batch_size: int, block_size: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """B windows (x) and their shifted targets (y), each inside one document; both (B, T)."""
    starts = valid_starts(doc_lengths, block_size)
    if not starts:
        raise ValueError(f"no document has more than block_size={block_size} tokens")
    pick = torch.randint(len(starts), (batch_size,), generator=generator)  # (B,)
    s = torch.tensor(starts)[pick]  # (B,)
    offsets = torch.arange(block_size)  # (T,)
    return data[s[:, None] + offsets], data[s[:, None] + offsets + 1]  # (B, T), (B, T)


block = 32
speeches = [s + "\n\n" for s in train_text.split("\n\n")[:-1]]  # each speech keeps its blank line
for kind, docs in (("lines", train_text.splitlines(keepends=True)), ("speeches", speeches)):
    lengths = [len(d) for d in docs]
    assert sum(lengths) == len(train_text)
    long_enough = sum(n > block for n in lengths) / len(lengths)
    kept = len(valid_starts(lengths, block)) / (len(train_text) - block)  # vs get_batch's windows
    print(f"{kind:<8} {len(lengths):>7,} documents, {long_enough:.0%} long enough for a window; "
          f"windows kept: {kept:.0%}")
ex.check_doc_batch(doc_batch)
# END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN TESTS

# %% jupyter={"source_hidden": true}
ex.check_doc_batch(doc_batch).require()

# %% [raw] jupyter={"source_hidden": true}
# # END TESTS

# %% [raw] jupyter={"source_hidden": true}
# # END QUESTION

# %% [markdown]
# ### Exercise 4: the gradient of an embedding table
#
# Above, only the rows of the tokens in the batch received a gradient. Here
# you compute that gradient yourself. The embedding of a batch is
# `emb = W[ids]`, the one-hot product $E W$ with $E$ the `(N, V)` one-hot
# matrix of the `N` ids (flattened). For a matrix product $Y = E W$ the
# gradient of the loss with respect to $W$ is
#
# $$
# \frac{\partial \mathcal{L}}{\partial W} = E^\top \, \frac{\partial \mathcal{L}}{\partial Y} ,
# $$
#
# so row `i` of the gradient is the **sum** of the upstream gradients at every
# position where token `i` occurs.
#
# Write `embedding_grad(ids, grad_out, vocab_size)`: `ids` has shape `(T,)`
# or `(B, T)`, `grad_out` (the gradient of the loss with respect to the
# embeddings) has shape `ids.shape + (C,)`; return the `(V, C)` gradient of the
# table. Compute it directly: autograd (`.backward()`, `torch.autograd.grad`)
# is trapped by the checker.
#
# The checker compares with PyTorch's autograd through `F.embedding` on four
# batches and names these mistakes: a repeated token that keeps only one of
# its gradients (`grad[ids] += g` does not add up repeated ids), averaged
# instead of summed gradients, one table per sequence instead of one for the
# batch, and a transposed result.

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN QUESTION
# name: q02_embedding_grad
# points: 2

# %%
def embedding_grad(ids: torch.Tensor, grad_out: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """dL/dW (V, C) for emb = W[ids], given grad_out = dL/d(emb) of shape ids.shape + (C,)."""
    # your code here
    raise NotImplementedError


ex.check_embedding_grad(embedding_grad)

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN SOLUTION

# %% [markdown]
# <details><summary>About the solution</summary>
#
# Flattening turns any batch shape into `N` positions; the one-hot matrix
# transposed, `(V, N)`, times the `(N, C)` gradients adds up, for each token,
# the gradients of all its positions. `torch.zeros(V, C).index_add_(0, ids,
# grads)` computes the same sum without building the one-hot matrix, which is
# what PyTorch does. A token absent from the batch gets a zero row: its
# embedding does not change in this step.
# </details>

# %% jupyter={"source_hidden": true}
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def embedding_grad(ids: torch.Tensor, grad_out: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """dL/dW (V, C) for emb = W[ids], given grad_out = dL/d(emb) of shape ids.shape + (C,)."""
    flat_ids = ids.reshape(-1)  # (N,)
    flat_grad = grad_out.reshape(-1, grad_out.shape[-1])  # (N, C)
    one_hot = F.one_hot(flat_ids, num_classes=vocab_size).to(grad_out.dtype)  # (N, V)
    return one_hot.T @ flat_grad  # (V, C): row i sums the gradients where ids == i


ex.check_embedding_grad(embedding_grad)
# END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # END SOLUTION

# %% [raw] jupyter={"source_hidden": true}
# # BEGIN TESTS

# %% jupyter={"source_hidden": true}
ex.check_embedding_grad(embedding_grad).require()

# %% [raw] jupyter={"source_hidden": true}
# # END TESTS

# %% [raw] jupyter={"source_hidden": true}
# # END QUESTION

# %% [markdown]
# ## Summary
#
# * A character tokenizer is two lookup tables; `encode` and `decode` invert
#   each other. Special tokens get ids after the characters and are added
#   around the encoded text; unknown characters are an error (or, with an
#   `<unk>` token, one id that forgets which character it was).
# * Training and validation text are split at a speech boundary and never
#   mixed; each becomes a 1-D int64 tensor.
# * A batch is `B` random windows: `x` of shape `(B, T)` and the same windows
#   shifted by one, `y`. Each window holds `T` (context, target) examples, and a
#   GPT scores all of them in one forward pass. Keeping windows inside
#   documents is possible, but costs most windows when documents are short.
# * An embedding table `(V, C)` turns ids into vectors; the lookup equals a
#   one-hot vector times the table, so its gradient is the one-hot matrix
#   transposed times the upstream gradient: only the rows of tokens in the
#   batch receive one, summed over their occurrences.
#
# **Next:** [03 · Masks](03_masks.ipynb): how the model computes all `T`
# predictions at once without letting position `t` see the future.
