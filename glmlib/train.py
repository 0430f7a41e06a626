"""Training the GPT (notebook 06): AdamW, warmup + cosine decay, clipping.

Use it from a notebook (``train(config, callbacks=[...])``) or the shell::

    python -m glmlib.train --help
    torchrun --nproc_per_node=2 -m glmlib.train --max-iters 200   # DistributedDataParallel

Under ``torchrun`` every rank draws the same global batch from the same seeded
generator and trains on its own slice, so N processes with ``--batch-size b``
follow the same path as one process with ``--batch-size N*b``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Protocol

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .data import CharTokenizer, get_batch, load_shakespeare, train_val_split
from .device import pick_device
from .model import GPT, GPTConfig, save_checkpoint


@dataclass
class TrainConfig:
    # model
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    activation: str = "gelu"
    # optimisation
    batch_size: int = 12
    max_iters: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    # evaluation and output
    eval_interval: int = 250
    eval_iters: int = 20
    sample_chars: int = 200
    seed: int = 1337
    device: str | None = None
    threads: int | None = None
    compile: bool = False
    out: str | None = None

    def __post_init__(self) -> None:
        positive = ("block_size", "n_layer", "n_head", "n_embd", "batch_size", "eval_interval", "eval_iters")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.max_iters < 0 or self.warmup_iters < 0:
            raise ValueError(f"max_iters and warmup_iters must be >= 0, got {self.max_iters}, {self.warmup_iters}")
        if not (self.lr > 0 and 0 <= self.min_lr <= self.lr):
            raise ValueError(f"need lr > 0 and 0 <= min_lr <= lr, got lr={self.lr}, min_lr={self.min_lr}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0 turns it off), got {self.grad_clip}")

    def model_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size, n_layer=self.n_layer,
                         n_head=self.n_head, n_embd=self.n_embd, dropout=self.dropout,
                         activation=self.activation)


PRESETS: dict[str, dict] = {
    # nanoGPT's CPU example: the reference point for the speed benchmark
    "small": dict(block_size=64, n_layer=4, n_head=4, n_embd=128, batch_size=12, max_iters=2000,
                  lr=1e-3, min_lr=1e-4, warmup_iters=100),
    # the live run of notebook 06: under 1M parameters, under two minutes on 2 CPU cores
    "notebook": dict(block_size=64, n_layer=4, n_head=4, n_embd=128, batch_size=32, max_iters=720,
                     lr=4e-3, min_lr=4e-4, warmup_iters=50, eval_interval=180, eval_iters=10),
    # the model shipped in data/ (see data/README.md)
    "shipped": dict(block_size=128, n_layer=6, n_head=4, n_embd=160, batch_size=32, max_iters=3500,
                    lr=2e-3, min_lr=1e-4, warmup_iters=200, eval_interval=250,
                    out="data/shakespeare_gpt"),
}


def preset(name: str, **overrides) -> TrainConfig:
    """A named :data:`PRESETS` configuration, with any field overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return TrainConfig(**{**PRESETS[name], **overrides})


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to ``lr``, then cosine decay to ``min_lr`` at ``max_iters``."""
    if step < cfg.warmup_iters:
        return cfg.lr * (step + 1) / cfg.warmup_iters
    span = max(1, cfg.max_iters - cfg.warmup_iters)
    progress = min(1.0, (step - cfg.warmup_iters) / span)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms or embeddings)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_matrix = p.dim() >= 2 and not name.startswith(("wte.", "wpe."))
        (decay if is_matrix else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    # the fused kernel updates every tensor in one call; for a small model on a CPU
    # the per-tensor steps of the default would take about a tenth of each iteration
    fused = next(model.parameters()).device.type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                             **({"fused": True} if fused else {"foreach": True}))


def flops_per_token(config: GPTConfig, n_params: int) -> float:
    """Training FLOPs per token: ``6 N`` for the weights plus ``6 L T C`` for attention."""
    return 6 * n_params + 6 * config.n_layer * config.block_size * config.n_embd


@torch.no_grad()
def evaluate(model: GPT, data: torch.Tensor, batch_size: int = 64) -> float:
    """Mean cross-entropy (nats/token) over every non-overlapping window of ``data``."""
    T = model.config.block_size
    n = (len(data) - 1) // T
    if n < 1:
        raise ValueError(f"need more than {T} tokens to evaluate, got {len(data)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    x_all = data[: n * T].view(n, T)
    y_all = data[1 : n * T + 1].view(n, T)
    total = 0.0
    for i in range(0, n, batch_size):
        _, loss = model(x_all[i : i + batch_size].to(device), y_all[i : i + batch_size].to(device))
        total += loss.item() * len(x_all[i : i + batch_size])
    model.train(was_training)
    return total / n


@torch.no_grad()
def estimate_loss(model: GPT, splits: dict[str, torch.Tensor], cfg: TrainConfig,
                  device: torch.device) -> dict[str, float]:
    """Mean loss on ``eval_iters`` batches per split, drawn with a fixed seed."""
    model.eval()
    out = {}
    for name, data in splits.items():
        g = torch.Generator().manual_seed(cfg.seed + 1)
        losses = [model(*get_batch(data, cfg.batch_size, cfg.block_size, g, device))[1].item()
                  for _ in range(cfg.eval_iters)]
        out[name] = sum(losses) / len(losses)
    model.train()
    return out


class Callback(Protocol):
    def __call__(self, event: str, state: dict) -> None: ...


@dataclass
class TrainResult:
    model: GPT
    tokenizer: CharTokenizer
    history: list[dict] = field(default_factory=list)  # one entry per evaluation
    seconds: float = 0.0
    tokens_per_second: float = 0.0
    val_loss: float | None = None  # on the whole validation split, when saved with ``out``


def _distributed() -> tuple[int, int]:
    """(rank, world size), starting the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def train(cfg: TrainConfig, callbacks: list[Callable[[str, dict], None]] = (),
          text: str | None = None) -> TrainResult:
    """Train a GPT on ``text`` (default: the Shakespeare corpus) and return it.

    Callbacks get ``(event, state)`` with event ``"step"`` (every iteration:
    ``step, loss, lr``) or ``"eval"`` (``step, train, val, sample``).
    """
    rank, world = _distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    text = load_shakespeare() if text is None else text
    tokenizer = CharTokenizer.from_text(text)
    train_text, val_text = train_val_split(text)
    splits = {"train": tokenizer.encode_tensor(train_text), "val": tokenizer.encode_tensor(val_text)}

    torch.manual_seed(cfg.seed)
    model = GPT(cfg.model_config(tokenizer.vocab_size)).to(device)
    optimizer = make_optimizer(model, cfg)
    step_model = DistributedDataParallel(model) if world > 1 else model
    if cfg.compile:
        step_model = torch.compile(step_model)
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    sample_gen = torch.Generator().manual_seed(cfg.seed)
    result = TrainResult(model, tokenizer)

    def notify(event: str, state: dict) -> None:
        if rank == 0:
            for cb in callbacks:
                cb(event, state)

    def run_eval(step: int) -> None:
        losses = estimate_loss(model, splits, cfg, device)
        prompt = torch.tensor([tokenizer.encode("\n")], device=device)
        sample_ids = model.generate(prompt, cfg.sample_chars, temperature=1.0, top_k=None,
                                    generator=sample_gen.manual_seed(cfg.seed)) if cfg.sample_chars else prompt
        entry = {"step": step, "train": losses["train"], "val": losses["val"],
                 "sample": tokenizer.decode(sample_ids[0, 1:].cpu()), "seconds": time.perf_counter() - t0}
        result.history.append(entry)
        notify("eval", entry)

    model.train()
    t0 = time.perf_counter()
    train_seconds = 0.0
    for step in range(cfg.max_iters + 1):
        if step % cfg.eval_interval == 0 or step == cfg.max_iters:
            eval_start = time.perf_counter()
            run_eval(step)
            if step == cfg.max_iters and cfg.out and rank == 0:  # data/README.md's figure: the whole val split
                result.val_loss = evaluate(model, splits["val"])
            _finish(result, cfg, train_seconds, step, world, rank)  # checkpoint at every evaluation
            t0 += time.perf_counter() - eval_start  # training time excludes evaluation
        if step == cfg.max_iters:
            break
        tick = time.perf_counter()
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(splits["train"], cfg.batch_size * world, cfg.block_size, batch_gen)
        x, y = x[rank::world].to(device), y[rank::world].to(device)
        _, loss = step_model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        if world > 1:
            loss = loss.detach().clone()
            dist.all_reduce(loss, op=dist.ReduceOp.AVG)
        train_seconds += time.perf_counter() - tick
        notify("step", {"step": step, "loss": loss.item(), "lr": lr, "max_iters": cfg.max_iters})

    return result


def _finish(result: TrainResult, cfg: TrainConfig, train_seconds: float, iters: int, world: int,
            rank: int) -> None:
    """Record throughput and, on rank 0, write the checkpoint (so far) to ``cfg.out``."""
    result.seconds = train_seconds
    tokens = iters * cfg.batch_size * world * cfg.block_size
    result.tokens_per_second = tokens / train_seconds if train_seconds else 0.0
    if cfg.out and rank == 0:
        extra = {"train_config": asdict(cfg), "iters_done": iters, "train_seconds": round(train_seconds, 1),
                 "world_size": world, "val_loss": result.val_loss, "history": [{k: v for k, v in h.items() if k != "sample"}
                                                  for h in result.history]}
        save_checkpoint(result.model, result.tokenizer, cfg.out, extra)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m glmlib.train",
        description="Train a character-level GPT on Shakespeare and save it as safetensors + JSON.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="start from a named configuration; other flags override it")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            kind = {"int": int, "float": float}.get(str(f.type).split(" |")[0], str)
            parser.add_argument(flag, type=kind, default=None, help=f"default: {f.default}")
    return parser


def _print_progress(event: str, state: dict) -> None:
    if event == "eval":
        print(f"step {state['step']:>6}  train {state['train']:.4f}  val {state['val']:.4f}  "
              f"({state['seconds']:.1f}s)", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = vars(_parser().parse_args(argv))
    name = args.pop("preset")
    given = {k: v for k, v in args.items() if v is not None}
    cfg = preset(name, **given) if name else TrainConfig(**given)
    result = train(cfg, callbacks=[_print_progress])
    rank = dist.get_rank() if dist.is_initialized() else 0
    if rank == 0:
        print(json.dumps({"train_seconds": round(result.seconds, 1),
                          "tokens_per_second": round(result.tokens_per_second),
                          "final": {k: round(v, 4) for k, v in result.history[-1].items()
                                    if k in ("train", "val")},
                          "saved": cfg.out}))
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
