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
#    perplexity against the bigram model of notebook 01, and samples.
#
# **Builds on:** the chain rule and perplexity (01), tokens and shifted
# `(x, y)` batches (02), and the GPT itself (05).

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import glmlib.exercises.training as ex
from glmlib.data import CharTokenizer, get_batch, load_shakespeare, train_val_split
from glmlib.model import PRETRAINED, GPT, GPTConfig, load_checkpoint
from glmlib.ngram import BigramLM
from glmlib.train import evaluate, lr_at, make_optimizer, preset, train

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
# A tiny GPT and 4 windows of 32 characters take a couple of seconds:

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
# (pulling the gain to 0 switches the layer off), and little for embeddings,
# which are looked up one row at a time. `glmlib.train.make_optimizer` puts
# matrices in a decayed group and everything else in a group with
# `weight_decay=0`. The output head shares its matrix with the token embedding
# (weight tying, notebook 05), so it appears once, as `wte.weight`.

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
# parameters that learns a fair amount of Shakespeare in under two minutes on
# a laptop CPU.
#
# The dashboard below updates as it trains: the loss of every batch (noisy),
# the train and validation estimates, the learning rate, and the latest
# sample. Watch for:
#
# * the loss starting at about $\ln V$ and dropping fast in the first hundred
#   steps, as the model learns which characters are common, then which
#   follow which;
# * the validation loss tracking the training loss: with this little
#   training the model has no time to overfit;
# * the samples going from noise to words, names and line breaks.

# %%
cfg = preset("notebook", sample_chars=120)
print(f"{cfg.n_layer} layers, {cfg.n_head} heads, n_embd={cfg.n_embd}, block_size={cfg.block_size}; "
      f"{cfg.max_iters} steps of {cfg.batch_size} x {cfg.block_size} characters")

# %%
from glmlib.widgets import TrainingDashboard

dash = TrainingDashboard(max_iters=cfg.max_iters)
display(dash)
result = train(cfg, callbacks=[dash], text=text)

# %%
live_model = result.model
final = result.history[-1]
print(f"{live_model.num_params():,} parameters, trained for {result.seconds:.0f} s "
      f"({result.tokens_per_second:,.0f} tokens/s)")
print(f"final estimate: train {final['train']:.3f}, val {final['val']:.3f} nats/character")
print("sample after training:\n" + final["sample"])

# %%
history = result.history
fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.plot([h["step"] for h in history], [h["train"] for h in history], "o-", label="train")
ax.plot([h["step"] for h in history], [h["val"] for h in history], "s-", label="validation")
ax.axhline(math.log(V), color="gray", ls="--", label=r"$\ln V$")
ax.set(title="The live run: loss estimates during training", xlabel="step", ylabel="loss (nats/character)")
ax.legend()
plt.show()

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

# %%
bigram = BigramLM(V).fit(train_ids)  # add-one smoothing, counted on the training split
losses = {
    "uniform guess": math.log(V),
    "bigram (notebook 01)": math.log(bigram.perplexity(val_slice)),
}
with torch.inference_mode():
    losses["live run (section 7)"] = evaluate(live_model, val_slice)
    losses["shipped GPT"] = evaluate(shipped, val_slice)

# %%
# NBVAL_CHECK_OUTPUT
print("validation (first 16,384 characters)   loss   perplexity")
for name in ("uniform guess", "bigram (notebook 01)", "shipped GPT"):
    print(f"  {name:<36} {losses[name]:.3f}   {math.exp(losses[name]):6.2f}")

# %%
print(f"  {'live run (section 7)':<36} {losses['live run (section 7)']:.3f}   "
      f"{math.exp(losses['live run (section 7)']):6.2f}")

# %% [markdown]
# Perplexity $e^{\mathcal{L}}$ reads as "the model is as unsure as if it had
# to choose uniformly among this many characters". The bigram, which sees
# only the previous character, cuts the uniform guess of 75-odd choices down
# to about a dozen; the GPTs, which see a whole window of context, get to a
# handful.

# %%
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
# same every time the notebook runs. Notebook 07 is all about this step.

# %%
# NBVAL_CHECK_OUTPUT
prompt = torch.tensor([shipped_tok.encode("ROMEO:\n")])
out = shipped.generate(prompt, 250, temperature=0.8, generator=torch.Generator().manual_seed(0))
print(shipped_tok.decode(out[0]))

# %%
# NBVAL_CHECK_OUTPUT
romeo = tokenizer.encode("R")[0]
bigram_ids = bigram.sample(120, start=romeo, generator=torch.Generator().manual_seed(0))
print("the bigram, for comparison:\n" + tokenizer.decode([romeo] + bigram_ids))

# %% [markdown]
# ## Exercises
#
# ### Exercise 1: cross-entropy, stable for any logits
#
# Write `cross_entropy(logits, targets)`: `logits` has shape `(N, V)`,
# `targets` shape `(N,)` holds the true token ids, and the result is the mean
# negative log-likelihood, a 0-d tensor. It must stay finite for logits in the
# hundreds, so don't compute `exp(logits)` directly: do the log-sum-exp trick
# by hand (subtract each row's maximum), without `torch.logsumexp` or
# `F.cross_entropy`.

# %%
def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError


# %%
ex.check_cross_entropy(cross_entropy)

# %% [markdown]
# <details><summary>Show solution</summary>
#
# ```python
# def cross_entropy(logits, targets):
#     m = logits.max(dim=-1, keepdim=True).values            # (N, 1)
#     log_norm = m.squeeze(-1) + (logits - m).exp().sum(-1).log()  # (N,)
#     z_true = logits.gather(-1, targets[:, None]).squeeze(-1)     # (N,)
#     return (log_norm - z_true).mean()
# ```
#
# Subtracting the row maximum makes the largest exponent $e^0 = 1$, so
# nothing overflows, and adding $m$ back gives exactly
# $\log\sum_k e^{z_k}$.
# </details>

# %%
# NBVAL_CHECK_OUTPUT
ex.check_cross_entropy(ex.solution_cross_entropy)

# %% [markdown]
# ### Exercise 2: the learning-rate schedule
#
# Write `lr_schedule(step, warmup_iters, max_iters, lr, min_lr)` returning
# $\eta_t$ from section 5: linear warmup reaching `lr` at step
# `warmup_iters - 1`, cosine decay to `min_lr` at `max_iters`, and `min_lr`
# after that. Mind the cases `warmup_iters = 0` and `step > max_iters`.

# %%
def lr_schedule(step: int, warmup_iters: int, max_iters: int, lr: float, min_lr: float) -> float:
    raise NotImplementedError


# %%
ex.check_lr_schedule(lr_schedule)

# %% [markdown]
# <details><summary>Show solution</summary>
#
# ```python
# def lr_schedule(step, warmup_iters, max_iters, lr, min_lr):
#     if step < warmup_iters:
#         return lr * (step + 1) / warmup_iters
#     progress = min(1.0, (step - warmup_iters) / max(1, max_iters - warmup_iters))
#     return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - min_lr)
# ```
#
# `min(1.0, ...)` holds the rate at `min_lr` past the end; `max(1, ...)`
# avoids dividing by zero when there is no decay phase.
# </details>

# %%
# NBVAL_CHECK_OUTPUT
ex.check_lr_schedule(ex.solution_lr_schedule)

# %% [markdown]
# ### Exercise 3: clip by the global norm
#
# Write `clip_grad_norm(grads, max_norm)`: `grads` is a list of gradient
# tensors of any shapes; return a new list in which every tensor is scaled by
# the same factor $\min(1, c / (\|g\| + 10^{-6}))$, with $\|g\|$ the norm of
# all of them together. Clipping each tensor on its own is a different (and
# here wrong) rule: it changes the direction of the update.

# %%
def clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    raise NotImplementedError


# %%
ex.check_clip_grad_norm(clip_grad_norm)

# %% [markdown]
# <details><summary>Show solution</summary>
#
# ```python
# def clip_grad_norm(grads, max_norm):
#     total = torch.sqrt(sum((g ** 2).sum() for g in grads))
#     scale = min(1.0, max_norm / (float(total) + 1e-6))
#     return [g * scale for g in grads]
# ```
# </details>

# %%
# NBVAL_CHECK_OUTPUT
ex.check_clip_grad_norm(ex.solution_clip_grad_norm)

# %% [markdown]
# ## Summary
#
# * The training loss is the cross-entropy, the mean negative log-likelihood
#   of the next character: $-z_y + \log\sum_k e^{z_k}$, with gradient
#   $p - \text{onehot}(y)$ on the logits. Its exponential is the perplexity.
# * An untrained GPT predicts almost uniformly, so its loss starts near
#   $\ln V$; a model that can overfit one batch has working plumbing.
# * AdamW rescales each weight's step by running gradient statistics and
#   decays only the weight matrices; the learning rate warms up, then follows
#   a cosine down to a floor; clipping caps the global gradient norm without
#   changing its direction.
# * A two-minute run on a CPU already beats the bigram by a wide margin; the
#   shipped model, trained longer, does better still.
#
# **Next, notebook 07:** the model gives a distribution over the next
# character; how we *choose* from it (greedy, temperature, top-k, top-p)
# decides what the generated text looks like.
