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
# # 06 · Training the GPT
#
# Notebook 05 assembled a complete GPT, but its weights are random: it assigns
# roughly the same probability to every character. This notebook teaches it
# Shakespeare. Training is nothing more than the chain rule of notebook 01 run
# backwards: we measure how much probability the model gives to the text that
# actually comes next, and nudge every weight to make that probability larger.
#
# **In this notebook you will**
#
# 1. write the loss, cross-entropy, as the negative log-likelihood of the next
#    character, and check it against `F.cross_entropy`;
# 2. predict the loss of an untrained model ($\ln V$) and confirm it;
# 3. overfit a single batch: the sanity check to run before any long training;
# 4. take one AdamW step by hand and see which parameters get weight decay;
# 5. draw the learning-rate schedule (linear warmup, then cosine decay) and
#    clip gradients by their global norm;
# 6. train a small GPT live, watching the loss fall on a dashboard;
# 7. evaluate the trained model shipped with the course: validation loss,
#    perplexity against the bigram model of notebook 01, and samples;
# 8. train the same GPT on a text you bring, in any language, and watch a
#    small text get memorised;
# 9. in the exercises, write a cross-entropy that no logit can break, and
#    then the whole training loop yourself, to a stated validation loss.
#
# **Builds on:** the chain rule and perplexity (01), tokens and shifted
# `(x, y)` batches (02), and the GPT itself (05).
#
# **Time:** *Run All* takes about 2 minutes on a 2-core laptop (most of it the
# live training run of section 7); set aside 75–90 minutes to study the
# notebook, exercises included.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import glmlib.exercises.training as ex
from glmlib.data import CharTokenizer, get_batch, load_shakespeare, train_val_split
from glmlib.model import PRETRAINED, GPT, GPTConfig, load_checkpoint
from glmlib.ngram import BigramLM
from glmlib.train import TrainConfig, evaluate, lr_at, make_optimizer, preset, train

text = load_shakespeare()
tokenizer = CharTokenizer.from_text(text)
train_text, val_text = train_val_split(text)
train_ids = tokenizer.encode_tensor(train_text)  # (4.3M,) int64
val_ids = tokenizer.encode_tensor(val_text)
V = tokenizer.vocab_size
print(f"vocabulary V = {V} characters; train {len(train_ids):,} tokens, validation {len(val_ids):,} tokens")

# %% [markdown]
# ## 1. The loss: cross-entropy is the negative log-likelihood
#
# For every position $t$ of a batch the model outputs a vector of $V$ logits
# $z \in \mathbb{R}^V$; the softmax turns them into a distribution over the
# next character, $p_j = e^{z_j} / \sum_{k=1}^{V} e^{z_k}$. The data tell us
# which character $y$ really came next. A good model puts a lot of
# probability on $y$, so we penalise it by the surprise $-\log p_y$:
#
# $$
# \ell(z, y) \;=\; -\log p_y \;=\; -z_y + \log \sum_{k=1}^{V} e^{z_k}.
# $$
#
# A batch of $B$ windows of $T$ characters holds $BT$ such predictions
# (notebook 02), and the loss is their mean:
#
# $$
# \mathcal{L}(\theta) \;=\; -\frac{1}{BT} \sum_{b=1}^{B} \sum_{t=1}^{T}
#   \log p_\theta\!\left(x_{b,t+1} \mid x_{b,1}, \dots, x_{b,t}\right).
# $$
#
# By the chain rule $\log P(x) = \sum_t \log P(x_t \mid x_{<t})$, so
# minimising $\mathcal{L}$ *is* maximising the log-likelihood of the training
# text, measured in nats per character; $e^{\mathcal{L}}$ is the perplexity of
# notebook 01. The name "cross-entropy" comes from information theory: it is
# $H(q, p) = -\sum_j q_j \log p_j$ with $q$ the one-hot distribution of the
# true character.
#
# Its gradient with respect to the logits is strikingly simple:
#
# $$
# \frac{\partial \ell}{\partial z_j} \;=\; p_j - \mathbb{1}[j = y],
# $$
#
# "predicted minus observed": every wrong character's logit is pushed down in
# proportion to the probability it received, the right one is pushed up by
# $1 - p_y$.
#
# Computing $\log \sum_k e^{z_k}$ naively overflows for large logits
# ($e^{1000} = \infty$ in floating point). The *log-sum-exp trick* subtracts
# the maximum first: $\log \sum_k e^{z_k} = m + \log \sum_k e^{z_k - m}$ with
# $m = \max_k z_k$; `torch.logsumexp` does exactly this.

# %%
def cross_entropy_from_scratch(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean of -log softmax(logits)[target]: logits (N, V), targets (N,)."""
    log_norm = torch.logsumexp(logits, dim=-1)  # (N,)
    z_true = logits.gather(-1, targets[:, None]).squeeze(-1)  # (N,)
    return (log_norm - z_true).mean()


torch.manual_seed(0)
model = GPT(preset("notebook").model_config(V))  # an untrained GPT, the size we train below
batch_gen = torch.Generator().manual_seed(0)
x, y = get_batch(train_ids, 8, model.config.block_size, batch_gen)  # (B, T) each
logits, loss = model(x, y)  # logits (B, T, V)
mine = cross_entropy_from_scratch(logits.view(-1, V), y.view(-1))
torch_ce = F.cross_entropy(logits.view(-1, V), y.view(-1))
print(f"from scratch {mine.item():.6f}   F.cross_entropy {torch_ce.item():.6f}   GPT.forward {loss.item():.6f}")
assert torch.allclose(mine, torch_ce) and torch.allclose(mine, loss)

# %% [markdown]
# The gradient formula, checked with autograd on a few rows of those logits:

# %%
# NBVAL_CHECK_OUTPUT
z = logits.view(-1, V)[:5].detach().clone().requires_grad_(True)  # (5, V)
targets = y.view(-1)[:5]
cross_entropy_from_scratch(z, targets).backward()
predicted_minus_observed = (torch.softmax(z, dim=-1) - F.one_hot(targets, V)) / len(targets)
print("autograd gradient == (p - onehot(y)) / N:", torch.allclose(z.grad, predicted_minus_observed, atol=1e-7))

# %% [markdown]
# ## 2. The loss before training is about $\ln V$
#
# GPT-2's initialisation draws weights from $\mathcal{N}(0, 0.02^2)$, so the
# logits of an untrained model are all close to 0 and the softmax is nearly
# uniform: $p_j \approx 1/V$ for every character. Then
# $\ell \approx -\log(1/V) = \ln V$, whatever the target. This is the first
# number to check when a training run starts. Much higher means the model is
# confidently wrong from step 0 (initialisation too large), which wastes the
# first part of training undoing it.

# %%
# NBVAL_CHECK_OUTPUT
print(f"loss of the untrained model: {loss.item():.2f}")
print(f"ln V = ln {V}:               {math.log(V):.2f}")
print(f"perplexity at init: {math.exp(loss.item()):.1f}  (a uniform guess among {V} characters)")

# %% [markdown]
# ## 3. Sanity check: overfit one batch
#
# Before spending minutes (or days) on a run, check that the model *can*
# learn: train repeatedly on one single batch. A working model, loss and
# optimiser memorise it and the loss heads to 0 within a few hundred steps.
# If it does not, something is broken (targets not shifted, a mask leaking
# or blocking too much, gradients not reaching a layer, a learning rate off
# by orders of magnitude), and a full run would only hide the bug.
#
# A tiny GPT and 4 windows of 32 characters: a matter of seconds.

# %%
torch.manual_seed(0)
tiny = GPT(GPTConfig(vocab_size=V, block_size=32, n_layer=2, n_head=2, n_embd=64))
xb, yb = get_batch(train_ids, 4, 32, torch.Generator().manual_seed(1))
optimizer = torch.optim.AdamW(tiny.parameters(), lr=3e-3)
overfit_losses = []
for step in range(100):
    _, batch_loss = tiny(xb, yb)
    optimizer.zero_grad(set_to_none=True)
    batch_loss.backward()
    optimizer.step()
    overfit_losses.append(batch_loss.item())

# %%
# NBVAL_CHECK_OUTPUT
print(f"loss at step 0: {overfit_losses[0]:.2f} (ln V = {math.log(V):.2f})")
print("loss after 100 steps below 0.1:", overfit_losses[-1] < 0.1)

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(overfit_losses)
ax.axhline(math.log(V), color="gray", ls="--", label=r"$\ln V$ (uniform guess)")
ax.set_yscale("log")
ax.set(title="Overfitting one batch: the loss must collapse", xlabel="step", ylabel="loss (nats, log scale)")
ax.legend()
plt.show()

# %% [markdown]
# Memorising one batch proves the plumbing works, not that the model
# generalises: the loss on any *other* text is still bad. For that we train on
# random batches from the whole training split, and measure on the
# validation split, which the model never trains on.

# %% [markdown]
# ## 4. The optimiser: AdamW, and which weights decay
#
# Plain gradient descent moves every weight by $-\eta g$. Adam (Kingma & Ba,
# 2015) keeps two running averages per weight, of the gradient and of its
# square, and divides one by the square root of the other, so each weight
# gets a step of roughly the same size whatever the scale of its gradient.
# AdamW (Loshchilov & Hutter, 2019) adds weight decay *decoupled* from that
# rescaling. At step $t$, with gradient $g_t$:
#
# $$
# \begin{aligned}
# m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, &
# v_t &= \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2, \\
# \hat m_t &= \frac{m_t}{1-\beta_1^t}, &
# \hat v_t &= \frac{v_t}{1-\beta_2^t}, \\
# \theta_t &= \theta_{t-1} - \eta_t \left( \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
#             + \lambda\, \theta_{t-1} \right).
# \end{aligned}
# $$
#
# $m_0 = v_0 = 0$, so the averages start biased towards 0; dividing by
# $1-\beta^t$ corrects that. The decay term $\lambda\theta$ shrinks weights
# towards 0 a little at every step, a regulariser. Here is one step by hand,
# next to PyTorch's `torch.optim.AdamW`:

# %%
def adamw_step(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1):
    """One AdamW update (t counts from 1); returns the new (theta, m, v)."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    theta = theta - lr * (m_hat / (v_hat.sqrt() + eps) + weight_decay * theta)
    return theta, m, v


g = torch.Generator().manual_seed(2)
theta0 = torch.randn(6, generator=g)
grads = [torch.randn(6, generator=g) for _ in range(3)]  # three steps' gradients

theta, m, v = theta0.clone(), torch.zeros(6), torch.zeros(6)
for t, grad in enumerate(grads, start=1):
    theta, m, v = adamw_step(theta, grad, m, v, t, lr=0.01)

param = torch.nn.Parameter(theta0.clone())
opt = torch.optim.AdamW([param], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
for grad in grads:
    param.grad = grad.clone()
    opt.step()

# %%
# NBVAL_CHECK_OUTPUT
print("after 3 steps, from scratch == torch.optim.AdamW:", torch.allclose(theta, param.detach(), atol=1e-7))

# %% [markdown]
# **Which weights get weight decay?** Decay pulls a weight towards 0. That
# makes sense for the big matrices that mix features (attention projections,
# the feed-forward layers). It makes no sense for a bias or a LayerNorm gain
# (pulling the gain to 0 switches the layer off). `glmlib.train.make_optimizer`
# puts the four weight matrices of every block in a decayed group and
# everything else in a group with `weight_decay=0`. The two embedding tables
# `wte.weight` and `wpe.weight` are matrices too, but they are left out *by
# name*, not by shape: a row of an embedding is one token's (or one
# position's) vector, not a mix of features, and decay would shrink every
# row by the same fraction at every step, whether or not its character
# appeared in the batch. This is a choice, not a law: GPT-2-style trainers such
# as nanoGPT decay every tensor with two or more dimensions, embeddings
# included, and at this scale both work. The output head shares its matrix
# with the token embedding (weight tying, notebook 05), so it appears once,
# as `wte.weight`, in the group without decay.

# %%
# NBVAL_CHECK_OUTPUT
cfg = preset("notebook")
optimizer = make_optimizer(model, cfg)
param_names = {id(p): name for name, p in model.named_parameters()}
for group in optimizer.param_groups:
    names = [param_names[id(p)] for p in group["params"]]
    n = sum(p.numel() for p in group["params"])
    short = sorted({name.split(".", 2)[-1] if name.startswith("blocks.") else name for name in names})
    print(f"weight_decay={group['weight_decay']}: {len(names)} tensors, {n:,} numbers")
    print("   ", ", ".join(short))

# %% [markdown]
# ## 5. The learning-rate schedule: warmup, then cosine decay
#
# Early in training Adam's second-moment estimates $v_t$ rest on very few
# gradients and the weights are far from anywhere sensible; a full-size step
# then can throw the model into a bad region. So the learning rate *warms up*
# linearly over the first $W$ steps, then decays along half a cosine to a
# floor $\eta_{\min}$ at the last step $S$, letting the model settle into a
# minimum instead of bouncing around it:
#
# $$
# \eta_t =
# \begin{cases}
# \eta_{\max}\, \dfrac{t+1}{W} & t < W,\\[2ex]
# \eta_{\min} + \tfrac12 \left(1 + \cos\!\left(\pi\, \dfrac{t - W}{S - W}\right)\right)(\eta_{\max} - \eta_{\min})
#   & W \le t \le S,\\[1ex]
# \eta_{\min} & t > S.
# \end{cases}
# $$
#
# (Steps count from $t = 0$, so the first step already uses $\eta_{\max}/W$,
# not 0.)

# %%
def lr_from_scratch(t: int, warmup: int, total: int, lr_max: float, lr_min: float) -> float:
    if t < warmup:
        return lr_max * (t + 1) / warmup
    progress = min(1.0, (t - warmup) / max(1, total - warmup))
    return lr_min + 0.5 * (1 + math.cos(math.pi * progress)) * (lr_max - lr_min)


steps = list(range(cfg.max_iters + 1))
schedule = [lr_at(t, cfg) for t in steps]
ours = [lr_from_scratch(t, cfg.warmup_iters, cfg.max_iters, cfg.lr, cfg.min_lr) for t in steps]
assert all(math.isclose(a, b) for a, b in zip(schedule, ours))

# %%
# NBVAL_CHECK_OUTPUT
print(f"preset 'notebook': warmup {cfg.warmup_iters} steps, {cfg.max_iters} steps in all, "
      f"lr {cfg.lr:g} -> {cfg.min_lr:g}")
for t in (0, cfg.warmup_iters - 1, cfg.warmup_iters, (cfg.warmup_iters + cfg.max_iters) // 2, cfg.max_iters):
    print(f"  step {t:>4}: lr = {lr_at(t, cfg):.6f}")
print("from scratch == glmlib.train.lr_at at every step:", ours == schedule)

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.plot(steps, schedule)
ax.axvline(cfg.warmup_iters, color="gray", ls=":", label=f"end of warmup (step {cfg.warmup_iters})")
ax.axhline(cfg.min_lr, color="gray", ls="--", label=f"min_lr = {cfg.min_lr:g}")
ax.set(title="Learning rate: linear warmup, then cosine decay", xlabel="step", ylabel="learning rate")
ax.legend()
plt.show()

# %% [markdown]
# ## 6. Gradient clipping
#
# Now and then one batch produces a huge gradient (an unusual passage, an
# attention softmax that suddenly saturates). One such step can undo a lot of
# progress. Clipping caps the *global* norm of the gradient, taken over all
# parameters together as if they were one long vector:
#
# $$
# \|g\| = \sqrt{\sum_{\text{tensors } i} \sum_j g_{ij}^2}, \qquad
# g \leftarrow g \cdot \min\!\left(1,\ \frac{c}{\|g\| + 10^{-6}}\right).
# $$
#
# Every gradient is scaled by the same factor, so the *direction* of the
# update is unchanged; only its length is capped at $c$ (`grad_clip`, 1.0
# here). The $10^{-6}$ is PyTorch's guard against dividing by 0.

# %%
def clip_from_scratch(grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    total = math.sqrt(sum(float((g**2).sum()) for g in grads))
    scale = min(1.0, max_norm / (total + 1e-6))
    return [g * scale for g in grads], total


model.zero_grad()
model(x, y)[1].backward()
raw = [p.grad.clone() for p in model.parameters()]
clipped, norm_before = clip_from_scratch(raw, max_norm=0.5)
norm_torch = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)  # clips p.grad in place
same = all(torch.allclose(c, p.grad, atol=1e-7) for c, p in zip(clipped, model.parameters()))

# %%
# NBVAL_CHECK_OUTPUT
print(f"global gradient norm at init: {norm_before:.2f} (PyTorch: {norm_torch.item():.2f})")
norm_after = math.sqrt(sum(float((g**2).sum()) for g in clipped))
print(f"after clipping to 0.5: {norm_after:.2f}")
print("from scratch == torch.nn.utils.clip_grad_norm_:", same)

# %% [markdown]
# ## 7. A real training run, live
#
# Now everything together: `glmlib.train.train` draws random batches from
# the training split, computes the loss, clips the gradient, sets the
# learning rate from the schedule and takes an AdamW step, over and over.
# Every `eval_interval` steps it estimates the loss on both splits and
# samples a little text. The `"notebook"` preset is a GPT of under a million
# parameters that learns a fair amount of Shakespeare in a minute or two on
# an idle 2-core laptop CPU (the cell after the dashboard prints how long it
# took; the run stored with this notebook took 155 s on a 2-core machine
# busy with other programs, an earlier one on an idle machine 49 s: a run
# takes longer when other programs compete for the cores).
#
# The dashboard below updates as it trains: the loss of every batch (noisy),
# the train and validation estimates, the learning rate, and the latest
# sample. Watch for:
#
# * the loss starting at about $\ln V$ and dropping fast in the first few
#   dozen steps, as the model learns which characters are common, then which
#   follow which;
# * then a slow stretch at about 2.5 nats: that is the level of the bigram
#   of notebook 01, which knows only the previous character. Getting below
#   it means using the longer context, and that takes the model longer to
#   learn;
# * the validation loss tracking the training loss: with this little
#   training the model has no time to overfit;
# * the samples going from noise to words, names and line breaks.

# %%
cfg = preset("notebook", sample_chars=120)
print(f"{cfg.n_layer} layers, {cfg.n_head} heads, n_embd={cfg.n_embd}, block_size={cfg.block_size}; "
      f"{cfg.max_iters} steps of {cfg.batch_size} x {cfg.block_size} characters")

# %% grading="skip"
import os

from glmlib.widgets import TrainingDashboard

if os.environ.get("GLMLIB_QUICK"):  # set by the course's tests: the same run, 60 steps instead of 720
    cfg = preset("notebook", sample_chars=120, max_iters=60, warmup_iters=10, eval_interval=30)
dash = TrainingDashboard(max_iters=cfg.max_iters)
display(dash)
result = train(cfg, callbacks=[dash], text=text)

# %% grading="skip"
live_model = result.model
final = result.history[-1]
print(f"{live_model.num_params():,} parameters, trained for {result.seconds:.0f} s "
      f"({result.tokens_per_second:,.0f} tokens/s)")
print(f"final estimate: train {final['train']:.3f}, val {final['val']:.3f} nats/character")
print("sample after training:\n" + final["sample"])

# %% grading="skip"
bigram = BigramLM(V).fit(train_ids)  # notebook 01's model, counted on the training split
bigram_level = math.log(bigram.perplexity(val_ids[:16_384]))
history = result.history
fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.plot(dash.history["step"], dash.history["loss"], color="C0", lw=0.6, alpha=0.35, label="each batch")
ax.plot([h["step"] for h in history], [h["train"] for h in history], "o-", color="C0", label="train estimate")
ax.plot([h["step"] for h in history], [h["val"] for h in history], "s-", color="C1", label="validation estimate")
ax.axhline(math.log(V), color="gray", ls="--", label=r"$\ln V$")
ax.axhline(bigram_level, color="C2", ls=":", label=f"bigram level ({bigram_level:.2f})")
ax.set(title="The live run: every batch's loss and the estimates", xlabel="step",
       ylabel="loss (nats/character)")
ax.legend()
plt.show()

# %% [markdown]
# The faint line is the loss of every batch, as the dashboard drew it. It
# falls from $\ln V$ to under 3 nats within the first few dozen steps, then
# bends and creeps along just above the green dotted line, the bigram's loss
# on validation text: by then the model predicts each character from the
# one before it about as well as counting pairs does. Only later does it go
# below that level, as the attention heads start to use the characters
# further back. The train and validation estimates stay on top of each
# other: there is no overfitting in a run this short.
#
# Your curve has this shape, but not exactly these numbers. The batches and
# the initial weights are seeded, so they are the same everywhere; the
# arithmetic is not quite: processors and maths libraries round
# floating-point sums differently, and over hundreds of training steps the
# tiny differences grow until the losses differ in the second decimal. The
# cell below checks the shape on any CPU. The run stored with this notebook
# went below the bigram level after a hundred-odd steps and ended at a
# training estimate of 1.785 and a validation estimate of 1.799 nats per
# character.

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
batch_losses = dash.history["loss"]  # one per step, as the dashboard drew them
print("the first batch's loss is within 0.3 nats of ln V:", abs(batch_losses[0] - math.log(V)) < 0.3)
print("some batch's loss is below 3 nats within the first 60 steps:", min(batch_losses[:60]) < 3.0)
print("the train and validation estimates stay within 0.15 nats of each other:",
      all(abs(h["val"] - h["train"]) < 0.15 for h in history))
# (the test suite's short schedule, GLMLIB_QUICK, runs 60 steps: the last line then says nothing about it)
print("a run of over 300 steps ends at least 0.3 nats below the bigram level:",
      cfg.max_iters <= 300 or history[-1]["val"] < bigram_level - 0.3)

# %% [markdown]
# ## 8. The shipped model
#
# The course ships a bigger model, trained the same way for longer (the
# `"shipped"` preset, see `data/README.md`). `glmlib.model.load_pretrained()`
# loads it in a second; `load_checkpoint`, used here, also returns the
# record of its training stored next to the weights. We measure it on the *validation* split, text it
# never trained on, with `glmlib.train.evaluate`: the mean cross-entropy over
# non-overlapping windows of `block_size` characters. The full split has
# nearly half a million characters, which takes a few minutes on a CPU, so
# here we use its first 16,384 characters; the bigram of notebook 01 and the
# model we just trained are scored on exactly the same text. (The loss on
# the whole split was measured when the model was saved; its checkpoint
# file records it, and we print it for comparison.)

# %%
shipped, shipped_tok, recorded = load_checkpoint(PRETRAINED)  # recorded: the JSON's training record
assert shipped_tok.chars == tokenizer.chars
print(vars(shipped.config), f"{shipped.num_params():,} parameters")
if recorded.get("val_loss") is not None:
    print(f"recorded when saved: loss {recorded['val_loss']:.3f} on the whole validation split")
val_slice = val_ids[:16_384]

# %% grading="skip"
losses = {
    "uniform guess": math.log(V),
    "bigram (notebook 01)": math.log(bigram.perplexity(val_slice)),
}
with torch.inference_mode():
    losses["live run (section 7)"] = evaluate(live_model, val_slice)
    losses["shipped GPT"] = evaluate(shipped, val_slice)

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
print("validation (first 16,384 characters)   loss   perplexity")
for name in ("uniform guess", "bigram (notebook 01)", "shipped GPT"):
    print(f"  {name:<36} {losses[name]:.3f}   {math.exp(losses[name]):6.2f}")

# %% grading="skip"
print(f"  {'live run (section 7)':<36} {losses['live run (section 7)']:.3f}   "
      f"{math.exp(losses['live run (section 7)']):6.2f}")

# %% [markdown]
# Perplexity $e^{\mathcal{L}}$ reads as "the model is as unsure as if it had
# to choose uniformly among this many characters". The bigram, which sees
# only the previous character, cuts the uniform guess of 75-odd choices down
# to about a dozen; the GPTs, which see a whole window of context, get to a
# handful.

# %% grading="skip"
fig, ax = plt.subplots(figsize=(6.5, 3.2))
names = list(losses)
ppl = [math.exp(losses[n]) for n in names]
bars = ax.barh(names[::-1], ppl[::-1], color=["C2", "C1", "C0", "gray"])
ax.bar_label(bars, fmt="%.1f", padding=3)
ax.set_xscale("log")
ax.set(title="Perplexity on validation text (lower is better)", xlabel="perplexity (log scale)")
ax.set_xlim(1, 4 * V)
plt.show()

# %% [markdown]
# And what it writes: seeded samples (`torch.Generator`), so they are the
# same every time the notebook runs on the same computer. (On another
# processor a draw can, now and then, tip the other way and the text then
# goes its own way; notebook 07, section 9, explains why.) Notebook 07 is
# all about this step.

# %%
# NBVAL_CHECK_OUTPUT
prompt = torch.tensor([shipped_tok.encode("ROMEO:\n")])
out = shipped.generate(prompt, 250, temperature=0.8, generator=torch.Generator().manual_seed(0))
print(shipped_tok.decode(out[0]))

# %% grading="skip"
# NBVAL_CHECK_OUTPUT
romeo = tokenizer.encode("R")[0]
bigram_ids = bigram.sample(120, start=romeo, generator=torch.Generator().manual_seed(0))
print("the bigram, for comparison:\n" + tokenizer.decode([romeo] + bigram_ids))

# %% [markdown]
# ## 9. Train on your own text
#
# Nothing in the training code is about Shakespeare. Give `train` any text
# and it builds the vocabulary from that text's characters, splits it into
# training and validation parts, and trains the same GPT on it. The text can
# be in any language: a character is a character, whether it is `e`, `é` or
# `月`.
#
# The cell below reads a plain-text file with `glmlib.data.load_text`. Set
# `my_text_path` to a file of your own (saved as UTF-8, which most editors
# offer under *Save as*). Left at `None`, it writes a short text of its own
# and uses that: thirty five-character quatrains (五言绝句) by Tang poets of
# the 8th and 9th centuries, such as Li Bai, Wang Wei and Meng Haoran, all in
# the public domain. Each poem is four lines of five characters, with a comma
# after the first and third lines and a full stop after the second and
# fourth. That form is something to look for in the samples.
#
# The validation part is the text after 90% of it: `train_val_split` cuts at
# the first blank line after that point, or else at the next line break, or
# else (a text without line breaks, as Chinese often is) exactly at 90%.
# A file that is not text, not UTF-8, empty or missing gets a one-line error
# naming it.

# %%
import tempfile
from pathlib import Path

from glmlib.data import load_text

my_text_path = None  # your own text: e.g. my_text_path = "my_diary.txt"

QUATRAINS = """\
床前明月光，疑是地上霜。举头望明月，低头思故乡。
春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
白日依山尽，黄河入海流。欲穷千里目，更上一层楼。
红豆生南国，春来发几枝。愿君多采撷，此物最相思。
千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。
空山不见人，但闻人语响。返景入深林，复照青苔上。
锄禾日当午，汗滴禾下土。谁知盘中餐，粒粒皆辛苦。
松下问童子，言师采药去。只在此山中，云深不知处。
向晚意不适，驱车登古原。夕阳无限好，只是近黄昏。
独坐幽篁里，弹琴复长啸。深林人不知，明月来相照。
功盖三分国，名成八阵图。江流石不转，遗恨失吞吴。
绿蚁新醅酒，红泥小火炉。晚来天欲雪，能饮一杯无。
移舟泊烟渚，日暮客愁新。野旷天低树，江清月近人。
众鸟高飞尽，孤云独去闲。相看两不厌，只有敬亭山。
危楼高百尺，手可摘星辰。不敢高声语，恐惊天上人。
小娃撑小艇，偷采白莲回。不解藏踪迹，浮萍一道开。
人闲桂花落，夜静春山空。月出惊山鸟，时鸣春涧中。
君自故乡来，应知故乡事。来日绮窗前，寒梅著花未。
日暮苍山远，天寒白屋贫。柴门闻犬吠，风雪夜归人。
岭外音书断，经冬复历春。近乡情更怯，不敢问来人。
白发三千丈，缘愁似个长。不知明镜里，何处得秋霜。
迟日江山丽，春风花草香。泥融飞燕子，沙暖睡鸳鸯。
鸣筝金粟柱，素手玉房前。欲得周郎顾，时时误拂弦。
三日入厨下，洗手作羹汤。未谙姑食性，先遣小姑尝。
月黑雁飞高，单于夜遁逃。欲将轻骑逐，大雪满弓刀。
山中相送罢，日暮掩柴扉。春草明年绿，王孙归不归。
玉阶生白露，夜久侵罗袜。却下水晶帘，玲珑望秋月。
寥落古行宫，宫花寂寞红。白头宫女在，闲坐说玄宗。
打起黄莺儿，莫教枝上啼。啼时惊妾梦，不得到辽西。
终南阴岭秀，积雪浮云端。林表明霁色，城中增暮寒。
"""

if my_text_path is None:  # the default: the quatrains, two lines each, a blank line between poems
    poems = ["\n".join(line[i:i + 12] for i in (0, 12)) + "\n" for line in QUATRAINS.splitlines()]
    my_text_path = Path(tempfile.mkdtemp()) / "quatrains.txt"
    my_text_path.write_text("\n".join(poems), encoding="utf-8")
my_text = load_text(my_text_path)
my_tokenizer = CharTokenizer.from_text(my_text)
print(f"{my_text_path.name}: {len(my_text):,} characters, {my_tokenizer.vocab_size} different ones")
print(my_text[:52])

# %% [markdown]
# About eight hundred characters, and nearly half of them different: most
# of the vocabulary appears once or twice. That is far too little text to
# learn a language from, but enough to see what a model does with a small
# text. A small GPT (two layers, `block_size` 32) trains on it for 300
# steps, a few seconds. With your own, longer text, the same cells work;
# for a text of hundreds of thousands of characters use the `"notebook"`
# preset of section 7 instead (`my_cfg = preset("notebook")`).

# %% grading="skip"
my_cfg = TrainConfig(block_size=32, n_layer=2, n_head=4, n_embd=64, batch_size=16, max_iters=300,
                     lr=3e-3, min_lr=3e-4, warmup_iters=20, eval_interval=50, eval_iters=10,
                     sample_chars=0, seed=1)
mine = train(my_cfg, text=my_text)
for h in mine.history:
    print(f"step {h['step']:>4}  train {h['train']:.3f}  val {h['val']:.3f}")
print(f"{mine.seconds:.1f} s of training")

# %% grading="skip"
start = my_text[0]  # the text's first character as the prompt
my_ids = mine.model.generate(torch.tensor([mine.tokenizer.encode(start)]), 160, temperature=0.8,
                             generator=torch.Generator().manual_seed(0))
my_sample = mine.tokenizer.decode(my_ids[0])
print(my_sample)
lines = [line for line in my_sample.splitlines()[:-1] if line]  # the last line may be cut off
in_form = [line for line in lines if len(line) == 12 and line[5] == "，" and line[11] == "。"]
seen = {line for line in my_text.splitlines()}
print(f"\n{len(in_form)} of {len(lines)} lines have the form (5 characters, a comma, 5, a full stop); "
      f"{sum(line in seen for line in in_form)} of those are lines of the text itself")

# %% [markdown]
# Read the losses first. The training loss falls from about $\ln V$ (5.9,
# for 367 characters) to almost nothing. The validation loss falls a little
# in the first 50 steps and then climbs far above where it started: on the
# last three poems, which the model never saw, it ends up doing worse than
# a uniform guess. The model is memorising these poems, not learning what a
# poem is like. Section 7's run had half a million characters of validation
# text and no time to overfit; here the whole text is a few dozen batches.
#
# The sample says the same. Its lines have the quatrain's form (five
# characters, a comma, five more, a full stop) because nearly all of them
# are lines of the training text, copied whole; where the model jumps from
# one poem to another in mid-line, the seam shows. That is what a model
# learns from a page of text. Bring more: with a few hundred thousand
# characters, the run of section 7 learns words and style rather than lines.
#
# The same from the command line, with the checkpoint saved for notebooks 07
# and 08 (any flag of section 7's configuration works too):
#
# ```
# python -m glmlib.train --text my_text.txt --preset notebook --out runs/my_text
# ```

# %% [markdown]
# ## Exercises
#
# ### Exercise 1: cross-entropy, stable for any logits
#
# Write `cross_entropy(logits, targets)`: `logits` is a float tensor of shape
# `(N, V)`, `targets` an int64 tensor of shape `(N,)` holding the true token
# ids, and the result is the mean over the $N$ rows of
# $-\log \operatorname{softmax}(z)_y = \log\sum_k e^{z_k} - z_y$, as a 0-d
# tensor.
#
# It must give the right number for logits in the thousands and for a target
# whose probability is around $e^{-1000}$, so: do the log-sum-exp trick by
# hand (subtract each row's maximum, add it back after the log), and stay in
# log space (never take the log of a probability). Use `max`, `exp`, `sum`,
# `log` and indexing or `gather`; **not** `F.cross_entropy`, `F.nll_loss`,
# `F.log_softmax` / `torch.log_softmax` / `Tensor.log_softmax`, or
# `torch.logsumexp` / `Tensor.logsumexp` (the checker notices them).
#
# The checker compares with `F.cross_entropy` on six cases: one row you can
# do by hand, uniform logits (the answer is $\ln V$), random logits, one row
# near 1000 next to one near 0, a target with logit $-1000$, and random
# logits in the hundreds. For a wrong answer it says what the mistake looks
# like.

# %% exercise={"question": "q06_cross_entropy", "points": 2}
def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError


ex.check_cross_entropy(cross_entropy)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# Subtracting the row maximum $m$ makes the largest exponent $e^0 = 1$, so
# nothing overflows, and adding $m$ back gives exactly $\log\sum_k e^{z_k}$.
# Each row keeps its own maximum (`keepdim=True`): one maximum for the whole
# tensor would send a row of small logits to $e^{-1000} = 0$. Staying in log
# space, $\log p_y = z_y - \log\sum_k e^{z_k}$ is an ordinary number even when
# $p_y$ itself is far below the smallest float.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    m = logits.max(dim=-1, keepdim=True).values  # (N, 1): each row's maximum
    log_norm = m + (logits - m).exp().sum(dim=-1, keepdim=True).log()  # (N, 1): log sum_k e^{z_k}
    log_p = logits - log_norm  # (N, V): log-probabilities
    return -log_p[torch.arange(len(targets)), targets].mean()  # mean of -log p_y over the N rows


ex.check_cross_entropy(cross_entropy)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_cross_entropy(cross_entropy).require()

# %% [markdown]
# ### Exercise 2 (transfer): the whole training loop
#
# Section 7 let `glmlib.train.train` do the work. Now write the loop
# yourself: `train_loop(model, train_ids, val_ids, cfg, generator) -> float`
# trains `model` (a `GPT`, changed in place) for exactly `cfg.max_iters`
# steps and returns its validation loss.
#
# * **Each step** $t = 0, 1, \dots$, `cfg.max_iters - 1` trains on one fresh
#   batch, `get_batch(train_ids, cfg.batch_size, cfg.block_size, generator)`,
#   with the model's own loss (`model(x, y)` returns `(logits, loss)`), and
#   takes one AdamW step (build the optimizer once, before the loop:
#   `make_optimizer(model, cfg)` gives AdamW with weight decay on the
#   matrices), with
#   * the learning rate of step $t$ from the schedule, `lr_at(t, cfg)`, in
#     every param group;
#   * the gradients of this step only, clipped to a global norm of
#     `cfg.grad_clip` (`torch.nn.utils.clip_grad_norm_`).
#
#   Putting these in the right order is the exercise.
# * **Then evaluate**: in eval mode and without gradients, the mean loss over
#   every non-overlapping window of $T$ = `cfg.block_size` tokens of
#   `val_ids`: window $i$ is `x = val_ids[i*T:(i+1)*T]` with targets
#   `y = val_ids[i*T+1:(i+1)*T+1]`, for every $i$ that fits. Return it as a
#   Python float.
#
# You may use `get_batch`, `lr_at`, `make_optimizer` (or `torch.optim.AdamW`)
# and `torch.nn.utils.clip_grad_norm_`; **not** `glmlib.train`'s `train`,
# `evaluate` or `estimate_loss` (the checker notices them).
#
# **What the checker does.** It builds a fresh GPT with a fixed seed and runs
# your loop once in the setting `ex.TRAIN_LOOP_CONFIG` (below): 300
# steps of 32 windows of 32 characters on the training split, a peak learning
# rate of 0.01 reached after 30 steps of warmup, clipping at 1.0, and the
# first 2,049 characters of the validation split as `val_ids`. That takes a
# few seconds. It watches every step (the learning rate it uses, the
# gradient norm that reaches the optimizer, whether the previous step's
# gradients were cleared) and your evaluation (eval mode? gradients off?), and
# stops at the first step that goes wrong, saying what it saw. Then it
# measures the trained model on `val_ids` itself: your returned number must
# match, and it must be **below 2.40**. A correct loop reaches about 2.2
# here; the same loop without the schedule or without clipping about 2.6,
# and one that never clears the gradients about 3.0. To try your loop by
# hand, `ex.loop_setup()` returns exactly the checker's
# `(model, train_ids, val_ids, cfg, generator)`.

# %%
# NBVAL_CHECK_OUTPUT
setting = ex.TRAIN_LOOP_CONFIG
print(", ".join(f"{name}={getattr(setting, name)}" for name in (
    "n_layer", "n_head", "n_embd", "block_size", "dropout", "batch_size", "max_iters",
    "lr", "min_lr", "warmup_iters", "weight_decay", "grad_clip", "seed")))
print(f"target: validation loss below {ex.TRAIN_LOOP_TARGET:.2f}")

# %% exercise={"question": "q06_train_loop", "points": 3}
def train_loop(model: GPT, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig,
               generator: torch.Generator) -> float:
    raise NotImplementedError


ex.check_train_loop(train_loop)

# %% [markdown] exercise="solution"
# <details><summary>About the solution</summary>
#
# The order inside a step is what matters. The learning rate is set before
# `optimizer.step()` uses it. The old gradients are cleared before
# `loss.backward()`, because backward *adds* into `p.grad`; cleared between
# backward and step, they would leave the optimizer nothing. Clipping acts on
# the gradients that backward just wrote, so it sits between backward and
# step. Evaluation switches off dropout (`model.eval()`) and autograd
# (`torch.inference_mode()`, a stricter `torch.no_grad()`); all the windows
# of `val_ids` fit in one batch here.
# </details>

# %% jupyter={"source_hidden": true} exercise="solution"
# NBVAL_CHECK_OUTPUT
# BEGIN SOLUTION NO PROMPT
def train_loop(model: GPT, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig,
               generator: torch.Generator) -> float:
    optimizer = make_optimizer(model, cfg)  # AdamW; weight decay on the matrices only
    model.train()
    for step in range(cfg.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)  # warmup, then cosine decay
        x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, generator)  # (B, T) each
        _, batch_loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)  # backward adds into p.grad: clear the last step's
        batch_loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)  # this step's gradients
        optimizer.step()

    T = cfg.block_size
    n = (len(val_ids) - 1) // T  # whole windows whose targets fit too
    x = val_ids[: n * T].view(n, T)  # (n, T)
    y = val_ids[1 : n * T + 1].view(n, T)  # (n, T): the next token of each position
    model.eval()  # dropout off (there is none here, but evaluation never wants it)
    with torch.inference_mode():  # no gradients: nothing to record for a backward pass
        _, val_loss = model(x, y)  # mean over n * T positions = mean over the n windows
    model.train()
    return val_loss.item()


ex.check_train_loop(train_loop)
# END SOLUTION

# %% jupyter={"source_hidden": true} exercise="tests"
ex.check_train_loop(train_loop).require()

# %% [markdown]
# ## Summary
#
# * The training loss is the cross-entropy, the mean negative log-likelihood
#   of the next character: $-z_y + \log\sum_k e^{z_k}$, with gradient
#   $p - \text{onehot}(y)$ on the logits. Its exponential is the perplexity.
# * An untrained GPT predicts almost uniformly, so its loss starts near
#   $\ln V$; a model that can overfit one batch has working plumbing.
# * AdamW rescales each weight's step by running gradient statistics and
#   decays only the blocks' weight matrices (not the embeddings, biases or
#   LayerNorm gains); the learning rate warms up, then follows
#   a cosine down to a floor; clipping caps the global gradient norm without
#   changing its direction.
# * A run of a minute or two on a CPU already beats the bigram by a wide
#   margin; the shipped model, trained longer, does better still.
# * Any UTF-8 text trains the same way (`train(cfg, text=...)`, or
#   `python -m glmlib.train --text FILE`): its characters are the
#   vocabulary. A text of a page is learnt by heart, which the validation
#   loss shows at once by climbing.
# * A training step is an order of operations, which Exercise 2 asks you to
#   find. Each slip (gradients that accumulate, a schedule never applied, a
#   clipping bar other than the one asked for, an evaluation in train mode or
#   on too few windows) leaves a trace a checker can see, and most of them
#   cost validation loss.
#
# **Next, notebook 07:** the model gives a distribution over the next
# character; how we *choose* from it (greedy, temperature, top-k, top-p)
# decides what the generated text looks like.
