"""Wrong answers a learner might write for notebook 06, by question."""
SETUP = ("import math\nimport torch\nimport torch.nn.functional as F\nimport glmlib.exercises.training as ex\n"
         "from glmlib.data import get_batch\nfrom glmlib.model import GPT\n"
         "from glmlib.train import TrainConfig, evaluate, lr_at, make_optimizer, train\n")


def _ce(body: str) -> str:
    return "def cross_entropy(logits, targets):\n" + body


def _loop(body: str, evaluation: str | None = None) -> str:
    """A training loop whose step is ``body`` (indented 8), followed by ``evaluation`` (indented 4)."""
    evaluation = evaluation if evaluation is not None else (
        "    T = cfg.block_size\n"
        "    n = (len(val_ids) - 1) // T\n"
        "    model.eval()\n"
        "    with torch.no_grad():\n"
        "        _, val = model(val_ids[: n * T].view(n, T), val_ids[1 : n * T + 1].view(n, T))\n"
        "    model.train()\n"
        "    return val.item()\n")
    return ("def train_loop(model, train_ids, val_ids, cfg, generator):\n"
            "    optimizer = make_optimizer(model, cfg)\n"
            "    for step in range(cfg.max_iters):\n" + body + evaluation)


_SET_LR = ("        for group in optimizer.param_groups:\n"
           "            group['lr'] = lr_at(step, cfg)\n")
_BATCH = ("        x, y = get_batch(train_ids, cfg.batch_size, cfg.block_size, generator)\n"
          "        _, loss = model(x, y)\n")
_CLIP = "        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)\n"
_GOOD_STEP = (_SET_LR + _BATCH + "        optimizer.zero_grad()\n        loss.backward()\n" + _CLIP
              + "        optimizer.step()\n")

WRONG = {
    "q06_cross_entropy": {
        "exp without subtracting the row max": (
            _ce("    log_norm = logits.exp().sum(dim=-1).log()\n"
                "    return (log_norm - logits[torch.arange(len(targets)), targets]).mean()\n"),
            "overflows"),
        "log of the softmax (leaves log space)": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    p = (logits - m).exp() / (logits - m).exp().sum(dim=-1, keepdim=True)\n"
                "    return -p[torch.arange(len(targets)), targets].log().mean()\n"),
            "stay in log space"),
        "one maximum for the whole tensor": (
            _ce("    m = logits.max()\n"
                "    log_norm = m + (logits - m).exp().sum(dim=-1).log()\n"
                "    return (log_norm - logits[torch.arange(len(targets)), targets]).mean()\n"),
            "not the maximum of the whole tensor"),
        "subtracts the max but never adds it back": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    log_norm = (logits - m).exp().sum(dim=-1).log()\n"
                "    return (log_norm - logits[torch.arange(len(targets)), targets]).mean()\n"),
            "did not add it back"),
        "sum instead of mean": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    log_p = logits - m - (logits - m).exp().sum(dim=-1, keepdim=True).log()\n"
                "    return -log_p[torch.arange(len(targets)), targets].sum()\n"),
            "their mean"),
        "mean over the whole one-hot matrix": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    log_p = logits - m - (logits - m).exp().sum(dim=-1, keepdim=True).log()\n"
                "    one_hot = torch.zeros_like(log_p).scatter(-1, targets[:, None], 1.0)\n"
                "    return -(one_hot * log_p).mean()\n"),
            "N*V"),
        "probabilities instead of log-probabilities": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    p = (logits - m).exp() / (logits - m).exp().sum(dim=-1, keepdim=True)\n"
                "    return -p[torch.arange(len(targets)), targets].mean()\n"),
            "logarithms"),
        "forgets the normaliser: -z_y": (
            _ce("    return -logits[torch.arange(len(targets)), targets].mean()\n"),
            "normaliser"),
        "sign flipped": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    log_p = logits - m - (logits - m).exp().sum(dim=-1, keepdim=True).log()\n"
                "    return log_p[torch.arange(len(targets)), targets].mean()\n"),
            "sign is flipped"),
        "returns a float": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    log_p = logits - m - (logits - m).exp().sum(dim=-1, keepdim=True).log()\n"
                "    return -log_p[torch.arange(len(targets)), targets].mean().item()\n"),
            "0-d tensor"),
        "targets index the wrong axis (columns picked for every row)": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    log_p = logits - m - (logits - m).exp().sum(dim=-1, keepdim=True).log()\n"
                "    return -log_p[:, targets].mean()\n"),
            "(N, N) block"),
        "gathers along dim 0": (
            _ce("    m = logits.max(dim=-1, keepdim=True).values\n"
                "    log_p = logits - m - (logits - m).exp().sum(dim=-1, keepdim=True).log()\n"
                "    return -log_p.gather(0, targets[:, None]).mean()\n"),
            "gather along the last axis"),
        "uses F.cross_entropy": (
            _ce("    return F.cross_entropy(logits, targets)\n"),
            "F.cross_entropy"),
        "uses log_softmax": (
            _ce("    return -logits.log_softmax(dim=-1)[torch.arange(len(targets)), targets].mean()\n"),
            "Tensor.log_softmax"),
        "uses torch.logsumexp": (
            _ce("    log_norm = torch.logsumexp(logits, dim=-1)\n"
                "    return (log_norm - logits[torch.arange(len(targets)), targets]).mean()\n"),
            "torch.logsumexp"),
    },
    "q06_train_loop": {
        "never clears the gradients": (
            _loop(_SET_LR + _BATCH + "        loss.backward()\n" + _CLIP + "        optimizer.step()\n"),
            "gradients accumulate"),
        "no backward pass": (
            _loop(_SET_LR + _BATCH + "        optimizer.zero_grad()\n" + _CLIP + "        optimizer.step()\n"),
            "without a loss.backward()"),
        "no optimizer step": (
            _loop(_SET_LR + _BATCH + "        optimizer.zero_grad()\n        loss.backward()\n" + _CLIP),
            "optimizer.step()` missing"),
        "clears the gradients between backward and step": (
            _loop(_SET_LR + _BATCH + "        loss.backward()\n" + _CLIP
                  + "        optimizer.zero_grad()\n        optimizer.step()\n"),
            "between loss.backward() and optimizer.step()"),
        "clips before backward": (
            _loop(_SET_LR + _BATCH + "        optimizer.zero_grad()\n" + _CLIP
                  + "        loss.backward()\n        optimizer.step()\n"),
            "you clip before loss.backward()"),
        "no clipping": (
            _loop(_SET_LR + _BATCH + "        optimizer.zero_grad()\n        loss.backward()\n"
                  + "        optimizer.step()\n"),
            "were not clipped"),
        "clips below cfg.grad_clip": (
            _loop(_SET_LR + _BATCH + "        optimizer.zero_grad()\n        loss.backward()\n"
                  + "        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)\n"
                  + "        optimizer.step()\n"),
            "pass `cfg.grad_clip` as max_norm"),
        "clips by hand below cfg.grad_clip": (
            _loop(_SET_LR + _BATCH + "        optimizer.zero_grad()\n        loss.backward()\n"
                  + "        norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters()))\n"
                  + "        for p in model.parameters():\n"
                  + "            p.grad.mul_(min(1.0, 0.5 / (float(norm) + 1e-6)))\n"
                  + "        optimizer.step()\n"),
            "they are clipped to 0.5"),
        "clips each value instead of the global norm": (
            _loop(_SET_LR + _BATCH + "        optimizer.zero_grad()\n        loss.backward()\n"
                  + "        torch.nn.utils.clip_grad_value_(model.parameters(), cfg.grad_clip)\n"
                  + "        optimizer.step()\n"),
            "not each value or tensor alone"),
        "schedule never applied": (
            _loop(_BATCH + "        optimizer.zero_grad()\n        loss.backward()\n" + _CLIP
                  + "        optimizer.step()\n"),
            "schedule was not applied"),
        "schedule counted from 1": (
            _loop("        for group in optimizer.param_groups:\n"
                  "            group['lr'] = lr_at(step + 1, cfg)\n" + _BATCH
                  + "        optimizer.zero_grad()\n        loss.backward()\n" + _CLIP + "        optimizer.step()\n"),
            "count steps from 0"),
        "evaluates in train mode": (
            _loop(_GOOD_STEP,
                  "    T = cfg.block_size\n"
                  "    n = (len(val_ids) - 1) // T\n"
                  "    with torch.no_grad():\n"
                  "        _, val = model(val_ids[: n * T].view(n, T), val_ids[1 : n * T + 1].view(n, T))\n"
                  "    return val.item()\n"),
            "model.eval()"),
        "evaluates with gradients on": (
            _loop(_GOOD_STEP,
                  "    T = cfg.block_size\n"
                  "    n = (len(val_ids) - 1) // T\n"
                  "    model.eval()\n"
                  "    _, val = model(val_ids[: n * T].view(n, T), val_ids[1 : n * T + 1].view(n, T))\n"
                  "    return val.item()\n"),
            "torch.no_grad()"),
        "evaluation drops the last window": (
            _loop(_GOOD_STEP,
                  "    T = cfg.block_size\n"
                  "    model.eval()\n"
                  "    losses = []\n"
                  "    with torch.no_grad():\n"
                  "        for s in range(0, len(val_ids) - T - 1, T):\n"
                  "            _, l = model(val_ids[None, s : s + T], val_ids[None, s + 1 : s + T + 1])\n"
                  "            losses.append(l.item())\n"
                  "    return sum(losses) / len(losses)\n"),
            "stop one window early"),
        "returns the last training loss": (
            _loop(_GOOD_STEP, "    return loss.item()\n"),
            "without evaluating"),
        "evaluates on one random batch of the validation text": (
            _loop(_GOOD_STEP,
                  "    model.eval()\n"
                  "    with torch.no_grad():\n"
                  "        _, val = model(*get_batch(val_ids, 8, cfg.block_size, generator))\n"
                  "    return val.item()\n"),
            "every non-overlapping window"),
        "uses glmlib.train.evaluate": (
            _loop(_GOOD_STEP, "    return evaluate(model, val_ids)\n"),
            "glmlib.train.evaluate"),
        "plain SGD instead of AdamW": (
            "def train_loop(model, train_ids, val_ids, cfg, generator):\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)\n"
            "    for step in range(cfg.max_iters):\n" + _GOOD_STEP
            + "    T = cfg.block_size\n    n = (len(val_ids) - 1) // T\n    model.eval()\n"
              "    with torch.no_grad():\n"
              "        _, val = model(val_ids[: n * T].view(n, T), val_ids[1 : n * T + 1].view(n, T))\n"
              "    return val.item()\n",
            "not below the target"),
    },
}
