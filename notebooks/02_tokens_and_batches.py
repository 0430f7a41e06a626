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
# 6. learn the four words of training (parameters, loss, gradient, step) with
#    PyTorch's autograd on the smallest possible model, then measure which
#    rows of an embedding table a training step changes in the course's GPT,
#    and what that did to its rarest characters;
# 7. in the exercises: encode with an unknown-character token, list the
#    training examples under a block size, draw batches that never cross a
#    document boundary, and compute an embedding table's gradient by hand.
#
# **Builds on:** notebook 01, which used the tokenizer as a black box and
# scored text with a bigram model. From here on the model is a neural network,
# and this notebook prepares its food.
#
# **Time:** *Run All* takes under a minute on a 2-core laptop; set aside 75–90
# minutes to study the notebook, exercises included.

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
# characters are the problem and which are allowed. Other tokenizers have other
# ways out. *Byte-level* BPE tokenizers, such as GPT-2's, never meet an
# unknown character: they split the text into its UTF-8 bytes first and have a
# token for each of the 256 possible bytes. Others map what they cannot
# encode to one **unknown** token (BERT's WordPiece uses `[UNK]`), the way
# out that exercise 1 builds.

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
# ## Parameters, loss, gradient, step
#
# The embedding table above holds random numbers. Training is what turns such
# numbers into useful ones, and it needs four ideas, used in every notebook
# from here on:
#
# * **Parameters** $\theta$: the numbers a model is allowed to change (the
#   embedding table $W$; in the GPT, about two million numbers).
# * **Loss** $\mathcal{L}(\theta)$: one number that says how badly the model
#   predicts a batch. Ours is the average negative log-probability of the
#   targets, the $\mathcal{L}$ defined with the batches above.
# * **Gradient** $\nabla_\theta \mathcal{L}$: for every parameter, how fast
#   the loss changes when that parameter is nudged up a little. It has the
#   same shape as the parameters. PyTorch computes it for us (*autograd*): a
#   tensor created with `requires_grad=True` records every operation done with
#   it, and `loss.backward()` runs the chain rule of calculus backwards
#   through that record, leaving the gradient in each parameter's `.grad`.
# * **Step**: move every parameter a little *against* its gradient, downhill,
#   $\theta \leftarrow \theta - \eta\, \nabla_\theta \mathcal{L}$, with a small
#   **learning rate** $\eta$. Repeat with a new batch. This is
#   **gradient descent**; an **optimizer** (`torch.optim`) does the update.
#
# The smallest model that shows all four has one parameter per token and
# ignores the context: a vector of logits $z \in \mathbb{R}^V$ that gives
# every next token the same distribution $p = \operatorname{softmax}(z)$, a
# *unigram* model. Its loss on the $N$ targets $y_1, \dots, y_N$ of our batch
# is $\mathcal{L}(z) = -\frac{1}{N} \sum_n \log p_{y_n}$, and calculus gives
# its gradient in closed form:
#
# $$
# \frac{\partial \mathcal{L}}{\partial z_i} = p_i - f_i ,
# \qquad f_i = \text{the fraction of the targets equal to } i .
# $$
#
# It says: raise the logit of a token that occurs more often in the batch
# than the model predicts, lower it otherwise. Notice that a token absent
# from the batch ($f_i = 0$) still gets the gradient $p_i > 0$: its logit is
# pushed **down**. We check the formula against autograd.

# %%
# NBVAL_CHECK_OUTPUT
targets = y.flatten()  # (N,) the B*T targets of our batch
z = torch.zeros(V, requires_grad=True)  # (V,) the parameters: all logits 0, a uniform guess
loss = -torch.log_softmax(z, dim=-1)[targets].mean()  # a number, with a record of how it was computed
loss.backward()  # fills z.grad, shape (V,)
p = torch.softmax(z.detach(), dim=-1)  # (V,)
f = torch.bincount(targets, minlength=V) / len(targets)  # (V,)
print(f"loss at z = 0: {loss.item():.4f} = ln V = ln {V}")
print("autograd's gradient equals p - f:", torch.allclose(z.grad, p - f))
print(f"tokens among the targets: {int((f > 0).sum())}; entries of the gradient that are not zero: "
      f"{int((z.grad != 0).sum())} of {V}")

# %% [markdown]
# Now the steps. We subtract $\eta$ times the gradient from $z$ by hand, inside
# `torch.no_grad()` (the update itself should not be recorded), and reset
# the gradient before the next `backward()`: PyTorch **adds** new gradients
# to `.grad`, it does not overwrite them. Then `torch.optim.SGD`, PyTorch's
# plain gradient descent, does the same with `zero_grad()`, `backward()`,
# `step()`: the three lines at the heart of every training loop in the course.

# %%
# NBVAL_CHECK_OUTPUT
def unigram_loss(z: torch.Tensor) -> torch.Tensor:
    """Average negative log-probability of the batch's targets under softmax(z)."""
    return -torch.log_softmax(z, dim=-1)[targets].mean()


lr = 5.0  # the learning rate eta
z_hand = torch.zeros(V, requires_grad=True)
z_opt = torch.zeros(V, requires_grad=True)
optimizer = torch.optim.SGD([z_opt], lr=lr)
for step in range(6):
    loss = unigram_loss(z_hand)
    z_hand.grad = None  # forget the previous step's gradient
    loss.backward()
    with torch.no_grad():
        z_hand -= lr * z_hand.grad  # one step downhill

    optimizer.zero_grad()
    unigram_loss(z_opt).backward()
    optimizer.step()  # the same update, done by the optimizer
    print(f"step {step}: loss {loss.item():.3f}")
print("SGD took the same steps:", torch.allclose(z_hand, z_opt))
print(f"lowest possible loss for this model (the entropy of f): {-(f[f > 0] * f[f > 0].log()).sum():.3f}")

# %% [markdown]
# The loss falls at every step towards its floor: the best any unigram model
# can do on this batch, when $p = f$. The GPT is trained the same way, with
# a bigger model, a fresh batch at every step and a better optimizer
# (notebook 06).
#
# ## Which embedding rows does a step change?
#
# **A table used only for lookups.** An embedding lookup `W[x]` uses only the
# rows of the tokens in `x`; the gradient of the loss with respect to every
# other row is exactly zero. We check it on the table `emb` from above.

# %%
# NBVAL_CHECK_OUTPUT
emb.zero_grad()
emb(x).pow(2).sum().backward()  # any loss that depends on the embeddings
rows_with_grad = set(torch.nonzero(emb.weight.grad.abs().sum(dim=1)).flatten().tolist())
print(f"distinct tokens in the batch: {len(set(x.flatten().tolist()))}; rows with a gradient: {len(rows_with_grad)}")
print("the same rows:", rows_with_grad == set(x.flatten().tolist()))

# %% [markdown]
# **The course's GPT uses its table twice.** Its last layer turns the final
# vector $h$ of each position ($C$ numbers) into $V$ logits with a `(V, C)`
# matrix, $\text{logit}_i = W_i \cdot h$, and that matrix *is* the embedding
# table: the same tensor that reads a token in also scores it as the next
# token out (*weight tying*, as in GPT-2; it saves $V \times C$ parameters).
# The unigram example showed what the output side does: every token gets a
# gradient on its logit, $p_i$ minus its share of the targets, so every row
# $W_i$ gets a gradient too, whether or not token $i$ is in the batch.
#
# To see the two sides separately we copy the model and give the copy its
# own output matrix (a clone of the table: the same numbers, so the same loss).
# In the copy the table only reads tokens in, and the output matrix only
# scores them; in the tied model the two gradients add up.

# %%
# NBVAL_CHECK_OUTPUT
import copy

print("output matrix is the embedding table:", model.lm_head.weight is model.wte.weight)
untied = copy.deepcopy(model)
untied.lm_head.weight = nn.Parameter(model.wte.weight.detach().clone())  # (V, C), no longer shared
model.zero_grad()
_, loss_tied = model(x, y)
loss_tied.backward()
_, loss_untied = untied(x, y)
loss_untied.backward()
grad_tied = model.wte.weight.grad  # (V, C)
grad_in, grad_out = untied.wte.weight.grad, untied.lm_head.weight.grad  # (V, C) each
n_rows = lambda g: int((g.abs().sum(dim=1) > 0).sum())  # rows with a non-zero gradient
print(f"same loss: {loss_tied.item():.4f} and {loss_untied.item():.4f}")
print(f"distinct tokens in x: {len(set(x.flatten().tolist()))}, in x or y: "
      f"{len(set(x.flatten().tolist()) | set(y.flatten().tolist()))}")
print(f"rows with a gradient: input side {n_rows(grad_in)}, output side {n_rows(grad_out)}, "
      f"tied table {n_rows(grad_tied)} of {V}")
print("tied gradient = input side + output side:", torch.allclose(grad_tied, grad_in + grad_out, atol=1e-6))
in_batch = torch.zeros(V, dtype=torch.bool)
in_batch[x.flatten()] = True
in_batch[y.flatten()] = True
norms = grad_tied.norm(dim=1)  # (V,)
print(f"median gradient norm of a row: in the batch {norms[in_batch].median():.4f}, "
      f"absent {norms[~in_batch].median():.4f}")
digits = [tokenizer.stoi[d] for d in "0123456789"]
assert not in_batch[digits].any()  # no digit in this batch
unit = F.normalize(grad_tied[digits], dim=1)  # (10, C) directions of the digits' gradients
cos = unit @ unit.T  # (10, 10) cosine similarities
print(f"the 10 digits' gradients: mean cosine similarity between two of them "
      f"{cos[~torch.eye(10, dtype=torch.bool)].mean():.2f}")

# %% [markdown]
# So in the GPT **every row of the table gets a gradient at every step**.
# The rows of tokens absent from the batch get small ones, from the output
# side only, and they point in nearly the same direction (the mean cosine
# similarity of the digits' gradients above): each says "this token did
# not come next, score it lower at these positions".
#
# **An optimizer can move a row whose gradient is zero.** Notebook 06
# trains with AdamW, not plain gradient descent. Adam keeps, for every
# parameter, a running average of its recent gradients (*momentum*) and of
# their squares, and steps by their ratio: a step of about the learning rate
# per number, **whatever the size of the gradient**. AdamW adds *weight
# decay*, which shrinks every decayed weight a little at each step, gradient
# or not. A three-row table shows all three effects: row 0 is in both steps'
# batches, row 1 only in the first (with a gradient 20,000 times smaller),
# row 2 in neither.

# %%
# NBVAL_CHECK_OUTPUT
batches = [(torch.tensor([0, 0, 1]), torch.tensor([1.0, 1.0, 1e-4])),  # step 1: rows 0 and 1
           (torch.tensor([0, 0]), torch.tensor([1.0, 1.0]))]  # step 2: row 0 only
optimizers = {"SGD": lambda params: torch.optim.SGD(params, lr=0.1),
              "AdamW, no decay": lambda params: torch.optim.AdamW(params, lr=0.1, weight_decay=0.0),
              "AdamW, decay 0.1": lambda params: torch.optim.AdamW(params, lr=0.1, weight_decay=0.1)}
print(f"{'optimizer':<17} step   gradient norm of rows 0, 1, 2     how far rows 0, 1, 2 moved")
for name, make in optimizers.items():
    torch.manual_seed(0)
    table = nn.Embedding(3, 4)  # (V=3, C=4)
    opt = make(table.parameters())
    for step, (ids, weight) in enumerate(batches, start=1):
        before = table.weight.detach().clone()
        opt.zero_grad()
        (table(ids) * weight[:, None]).sum().backward()  # a loss whose gradient is `weight` per occurrence
        opt.step()
        grad_norm = table.weight.grad.norm(dim=1).tolist()
        moved = (table.weight.detach() - before).norm(dim=1).tolist()
        print(f"{name:<17} {step:>3}    " + "  ".join(f"{g:8.2g}" for g in grad_norm)
              + "     " + "  ".join(f"{m:8.2g}" for m in moved))

# %% [markdown]
# Read the table row by row. SGD moves a row exactly in proportion to its
# gradient: row 1 moves 20,000 times less than row 0 in step 1 and not at all
# in step 2, row 2 never. AdamW moves rows 0 and 1 equally far in step 1 (the
# tiny gradient made a full-size step), moves row 1 again in step 2 although
# its gradient is zero (momentum), and with weight decay it moves row 2,
# which was never in a batch. Notebook 06's training does not decay the
# embedding tables, but momentum and the full-size steps apply to them.
#
# ## What the trained embeddings look like
#
# The trained model's table has `C = n_embd` columns, too many to look at
# directly, so we project every character's vector onto the two directions of
# largest variance (principal components). Characters that the model treats
# alike end up close together. (The sign of a principal component is
# arbitrary; we orient the axes so that common characters are on the right
# and lower-case letters above capitals.)

# %%
freq = torch.bincount(data, minlength=tokenizer.vocab_size)  # (V,) count of each character
wte = model.wte.weight.detach()  # (V, n_embd)
centered = wte - wte.mean(dim=0)
_, _, Vh = torch.linalg.svd(centered, full_matrices=False)
xy = centered @ Vh[:2].T  # (V, 2)
if torch.corrcoef(torch.stack([xy[:, 0], freq.double().log()]))[0, 1] < 0:
    xy[:, 0] = -xy[:, 0]  # common characters on the right
lower = [tokenizer.stoi[c] for c in "abcdefghijklmnopqrstuvwxyz"]
upper = [tokenizer.stoi[c] for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
if xy[lower, 1].mean() < xy[upper, 1].mean():
    xy[:, 1] = -xy[:, 1]  # lower-case letters above capitals
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
ax.set_xlabel("first principal component (rare characters left, common right)")
ax.set_ylabel("second principal component")
ax.set_title("The trained model's character embeddings, projected to 2-D")
ax.legend(loc="best", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# What to look for: upper-case and lower-case letters in separate regions
# (they occur in different places: names and line starts versus the middle of
# words), punctuation marks that end a clause near one another, and the
# digits and `$` bunched together far to the left. The horizontal axis is,
# above all, **how common** a character is. The cell below measures that,
# and what the rare characters have in common. It runs the model over some
# validation text and averages the final vectors $h$ of all positions; then,
# for three groups of characters, it prints the median over the group of the
# row's length, of the cosine between the row and that average $h$, and of
# the character's average logit over the same text.

# %%
# NBVAL_CHECK_OUTPUT
final = {}
hook = model.ln_f.register_forward_hook(lambda module, inputs, output: final.update(h=output.detach()))
with torch.no_grad():
    val_logits, _ = model(val_data[:16 * 128].view(16, 128))  # 16 windows of 128 validation characters
hook.remove()
mean_logit = val_logits.reshape(-1, tokenizer.vocab_size).mean(dim=0)  # (V,) each character's average score
h_mean = final["h"].reshape(-1, wte.shape[1]).mean(dim=0)  # (n_embd,) the average final vector
print("correlation of the first coordinate with log(count):",
      f"{torch.corrcoef(torch.stack([xy[:, 0], freq.double().log()]))[0, 1]:.2f}")
row_cos = F.cosine_similarity(wte, h_mean[None], dim=1)  # (V,)
print(f"{'characters':<20} {'count in corpus':>16} {'row length':>11} {'cosine with mean h':>19} "
      f"{'average logit':>14}")
for name, members in (("digits and $", "0123456789$"), ("capitals", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                      ("lower-case letters", "abcdefghijklmnopqrstuvwxyz")):
    ids_ = [tokenizer.stoi[c] for c in members]
    counts_ = freq[ids_]
    print(f"{name:<20} {f'{counts_.min():,} to {counts_.max():,}':>16} {wte[ids_].norm(dim=1).median():>11.2f} "
          f"{row_cos[ids_].median():>19.2f} {mean_logit[ids_].median():>14.2f}")

# %% [markdown]
# The digits and `$` occur one to four times each in 4.8 million characters,
# so they are almost never *read* by the model: their rows learned next to
# nothing on the input side. But they were not left alone. At every step of
# training the output side pushed their scores down, with gradients that point
# the same way for all of them (as the digits' gradients did above), and
# AdamW turns even such small gradients into full-size steps. The result is
# measured in the table: rows longer than a letter's, pointing *away* from
# the model's average final vector (a negative cosine), so that their logit
# $W_i \cdot h$ is far below everyone else's: about $-8$ on average, against
# about $+1$ for a lower-case letter. Sharing that one lesson,
# "almost never next", put them together. None of this was programmed; it is
# what predicting the next character required.

# %% [markdown]
# ## Exercises
#
# Write each function in the cell under its prompt and re-run the cell: the
# checker answers *pass*, *not yet* or *fail*, and for a common mistake says
# what it looks like. In the self-study edition a worked solution is folded
# below each exercise.
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

# %% exercise={"question": "q02_encode_with_unk", "points": 2}
def encode_with_unk(text: str, stoi: dict[str, int], unk_id: int) -> tuple[list[int], list[str]]:
    """One id per character (unk_id if unknown), and the distinct unknown characters in order."""
    # your code here
    raise NotImplementedError


ex.check_encode_with_unk(encode_with_unk)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# `stoi.get(ch, unk_id)` looks a character up with a default. The unknown
# characters are collected in a list, checking membership before appending;
# a `set` alone would lose the order (`dict.fromkeys(...)` keeps it too).
# With a `<unk>` token the model can read any text, at the price of
# forgetting *which* character was unknown: that is why the list is returned.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_encode_with_unk(encode_with_unk).require()

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

# %% exercise={"question": "q02_context_target_pairs", "points": 2}
def context_target_pairs(ids: list[int], block_size: int) -> list[tuple[list[int], int]]:
    """Every (context, target) example: ids[t] after the last block_size tokens before it."""
    # your code here
    raise NotImplementedError


ex.check_context_target_pairs(context_target_pairs)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# The context of target `t` starts at `max(0, t - block_size)`: without the
# `max`, a negative start would count from the end of the list and give an
# empty or wrong context. A window `x, y` of `get_batch` holds exactly these
# examples for its `T + 1` tokens `x[0], …, x[T-1], y[T-1]` with
# `block_size = T`: `T` of them, with contexts of every length from 1 to `T`.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def context_target_pairs(ids: list[int], block_size: int) -> list[tuple[list[int], int]]:
    """Every (context, target) example: ids[t] after the last block_size tokens before it."""
    return [(list(ids[max(0, t - block_size):t]), ids[t]) for t in range(1, len(ids))]


ex.check_context_target_pairs(context_target_pairs)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_context_target_pairs(context_target_pairs).require()

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
#    and use the starts `torch.tensor(starts)[pick]` (a Python list cannot be
#    indexed with a tensor).
# 4. Return `(x, y)`, both of shape `(batch_size, block_size)`, with `y` the
#    window of `x` shifted by one, as in `get_batch`.
#
# The checker runs five sets of documents with hand-worked valid starts (a
# document too short for any window, documents of exactly `block_size + 1`
# tokens, one document, where `doc_batch` must equal `get_batch`) and one with
# no valid window. Besides wrong shapes and an unshifted `y`, it names these
# mistakes: windows that ignore the boundaries, a `y` that runs one token into
# the next document, a missing last window in each document, starts counted
# from the beginning of each document instead of the beginning of `data`, and
# token ids that lost their integer dtype.
#
# *Hint:* a document that starts at offset `o` in `data` has length `L`; which
# starts `s` keep `s + block_size + 1 <= o + L`?

# %% exercise={"question": "q02_doc_batch", "points": 3}
def doc_batch(data: torch.Tensor, doc_lengths: list[int], batch_size: int, block_size: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """B windows (x) and their shifted targets (y), each inside one document; both (B, T)."""
    # your code here
    raise NotImplementedError


ex.check_doc_batch(doc_batch)

# %% [markdown] exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_doc_batch(doc_batch).require()

# %% [markdown]
# ### Exercise 4: the gradient of an embedding table
#
# Above, a table used only for lookups gave a gradient only to the rows of
# the tokens in the batch. Here you compute that gradient yourself. The embedding of a batch is
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

# %% exercise={"question": "q02_embedding_grad", "points": 2}
def embedding_grad(ids: torch.Tensor, grad_out: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """dL/dW (V, C) for emb = W[ids], given grad_out = dL/d(emb) of shape ids.shape + (C,)."""
    # your code here
    raise NotImplementedError


ex.check_embedding_grad(embedding_grad)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Flattening turns any batch shape into `N` positions; the one-hot matrix
# transposed, `(V, N)`, times the `(N, C)` gradients adds up, for each token,
# the gradients of all its positions. `torch.zeros(V, C).index_add_(0, ids,
# grads)` computes the same sum without building the one-hot matrix, which is
# what PyTorch does. A token absent from the batch gets a zero row from the
# lookup. (In the course's GPT the same table is also the output layer, which
# adds a gradient to every row, and AdamW can move a row whose gradient is
# zero: both were shown above.)
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
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

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_embedding_grad(embedding_grad).require()

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
# * Training changes the **parameters** to lower a **loss**: `backward()`
#   computes the **gradient**, an optimizer takes a **step** against it
#   (`zero_grad()`, `backward()`, `step()`).
# * An embedding table `(V, C)` turns ids into vectors; the lookup equals a
#   one-hot vector times the table, so the lookup's gradient is the one-hot
#   matrix transposed times the upstream gradient: only the rows of tokens in
#   the batch receive one, summed over their occurrences. In the course's GPT
#   the table is also the output layer, so every row gets a gradient at every
#   step (the absent tokens' scores are pushed down), and AdamW's momentum and
#   full-size steps move even rows with small or zero gradients: the rarest
#   characters end up together, "almost never next".
#
# **Next:** [03 · Masks](03_masks.ipynb): how the model computes all `T`
# predictions at once without letting position `t` see the future.
