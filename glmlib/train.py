"""Training the GPT (notebook 06): AdamW, warmup + cosine decay, clipping.

Use it from a notebook (``train(config, callbacks=[...])``) or the shell::

    python -m glmlib.train --help
    torchrun --nproc_per_node=2 -m glmlib.train --max-iters 200   # DistributedDataParallel

Under ``torchrun`` every rank draws the same global batch from the same seeded
generator and trains on its own slice, so N processes with ``--batch-size b``
follow the same path as one process with ``--batch-size N*b``.

With ``out`` the run keeps its best model so far (by the validation estimate)
in that checkpoint, together with what it needs to continue: the optimizer's
moments, the step and the random generators' states (safetensors and JSON, no
pickle); at the end of the run the checkpoint is marked finished, also when it
keeps a model from before the last evaluation (the best). It never replaces an existing checkpoint unless told to
(``--overwrite``), nor one another run or program wrote after this run started
(:class:`~glmlib.checkpoints.CheckpointConflict`: two runs with the same
``--out`` cannot both say "saved"), and ``--resume`` continues an interrupted
run from its checkpoint to the same result as a run that was never
interrupted; a checkpoint that cannot be continued (other settings, a
finished run, a damaged file or training state) is refused in one line
(:class:`ResumeError`). A loss
that turns NaN or infinite stops the run at that step (:class:`TrainingDiverged`).

On a CPU with several threads, each training step splits its batch across
them (:class:`SplitBatch`): every thread runs the forward and backward pass
of its own slice, and the slices' gradients are added in a fixed order. The
losses match the one-piece step's to float rounding (``tests/test_fast_step.py``).
On 2 free cores it is about as fast as the one-piece step (1.02x); with one
of the 2 cores busy with other work it is about 3x as fast, because the
one-piece step's threads wait for that core after each of a few hundred
operations (README, Performance).
``--no-split-batch`` turns it off; the ``shipped`` preset keeps it off, to
take the path the shipped model was trained on.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator, Protocol

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .checkpoints import (CheckpointConflict, Claim, check_not_a_folder, checkpoint_paths, load_checkpoint,
                          load_record, load_train_state, save_checkpoint, update_record)
from .data import VAL_FRACTION, corpus_sha256, get_batch, load_shakespeare, load_text, train_val_split
from .device import cpu_threads, pick_device
from .model import GPT, GPTConfig
from .tokenizers import CharTokenizer, Tokenizer

INT_FIELDS = {"block_size": 1, "n_layer": 1, "n_head": 1, "n_embd": 1, "batch_size": 1, "max_iters": 0,
              "warmup_iters": 0, "eval_interval": 1, "eval_iters": 1, "sample_chars": 0, "seed": 0}  # minimum
MAX_SEED = 2**63 - 2  # the evaluation batches use seed + 1, which must fit in an int64 too
TOKENIZER_KINDS = ("char", "bpe")
DEFAULT_BPE_VOCAB = 1024
# fields added after runs were first saved: a saved run without them had these values
ADDED_FIELDS = {"tokenizer": "char", "vocab_size": None}
# fields that may change when a run is resumed: they do not change what it computes
RUNTIME_FIELDS = ("sample_chars", "device", "threads", "compile", "split_batch", "out", "overwrite", "resume")


class TrainingDiverged(RuntimeError):
    """The loss (or the gradient) became NaN or infinite; the run stopped at that step."""


class TextTooShort(ValueError):
    """The text's training or validation split is not longer than ``block_size`` tokens."""


class ResumeError(ValueError):
    """The checkpoint at ``out`` cannot be continued (another run's settings, finished, damaged)."""


@dataclass
class TrainConfig:
    # model
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    activation: str = "gelu"
    # tokens: "char" (one per character of the text) or "bpe" (byte-level BPE learned on the
    # training split, vocab_size tokens in all: 256 bytes + merges; default 1024)
    tokenizer: str = "char"
    vocab_size: int | None = None
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
    split_batch: bool = True  # on a CPU, each thread takes a slice of the batch (see SplitBatch)
    out: str | None = None  # checkpoint to write (NAME.safetensors + NAME.json)
    overwrite: bool = False  # replace an existing checkpoint at ``out``
    resume: bool = False  # continue the run saved at ``out``

    def __post_init__(self) -> None:
        """Refuse bad values now, naming them, before any data is read or model built."""
        for name, low in INT_FIELDS.items():
            _check_int(name, getattr(self, name), low)
        if self.seed > MAX_SEED:
            raise ValueError(f"seed must be an int in [0, {MAX_SEED}], got {self.seed!r}")
        for name in ("dropout", "lr", "min_lr", "weight_decay", "beta1", "beta2", "grad_clip"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not (self.lr > 0 and 0 <= self.min_lr <= self.lr):
            raise ValueError(f"need lr > 0 and 0 <= min_lr <= lr, got lr={self.lr}, min_lr={self.min_lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"beta1 and beta2 must be in [0, 1), got {self.beta1}, {self.beta2}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0 turns it off), got {self.grad_clip}")
        if self.threads is not None:
            _check_int("threads", self.threads, 1)
        if self.device is not None and not isinstance(self.device, str):
            raise ValueError(f"device must be a str such as 'cpu' or 'cuda', got {self.device!r}")
        for name in ("compile", "split_batch", "overwrite", "resume"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        self._check_tokenizer()
        self._check_out()
        self.model_config(vocab_size=1)  # the model's own checks (heads, activation, sizes)

    def _check_tokenizer(self) -> None:
        if self.tokenizer not in TOKENIZER_KINDS:
            raise ValueError(f"tokenizer must be one of {TOKENIZER_KINDS}, got {self.tokenizer!r}")
        if self.tokenizer == "char" and self.vocab_size is not None:
            raise ValueError(f"vocab_size is for tokenizer='bpe' (a character tokenizer has one token per "
                             f"character of the text), got vocab_size={self.vocab_size!r} with tokenizer='char'")
        if self.vocab_size is not None:
            _check_int("vocab_size", self.vocab_size, 256)

    def make_tokenizer(self, text: str) -> Tokenizer:
        """The run's tokenizer for ``text``: its characters, or BPE learned on its training split."""
        if self.tokenizer == "bpe":
            from .bpe import BPETokenizer  # imported only by runs that use it
            return BPETokenizer.train(train_val_split(text)[0], self.vocab_size or DEFAULT_BPE_VOCAB)
        return CharTokenizer.from_text(text)

    def _check_out(self) -> None:
        if self.out is not None:
            if not isinstance(self.out, (str, os.PathLike)) or not os.fspath(self.out):
                raise ValueError(f"out must be a non-empty path, got {self.out!r}")
            self.out = os.fspath(self.out)
            checkpoint_paths(self.out)  # a usable checkpoint name
        if self.overwrite and self.resume:
            raise ValueError("choose overwrite (start again, replacing the checkpoint) or resume "
                             "(continue it), not both")
        if self.resume and self.out is None:
            raise ValueError("resume needs out: the checkpoint of the run to continue")

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
                    split_batch=False,  # the one-piece step the shipped model was trained with
                    out="runs/shakespeare_gpt"),  # not data/: a new run never replaces the shipped model
}


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


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
    # A torch without it (before 2.4 on CPU; fused=... unknown before 2.0) gets the next
    # kernel instead: foreach, then the plain loop (the same AdamW step, rounded differently).
    kernels = [{"fused": True}] if next(model.parameters()).device.type in ("cpu", "cuda") else []
    for kernel in kernels + [{"foreach": True}]:
        try:
            return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **kernel)
        except (RuntimeError, TypeError, ValueError):
            continue
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def flops_per_token(config: GPTConfig, n_params: int) -> float:
    """Training FLOPs per token: ``6 N`` for the weights plus ``6 L T C`` for attention."""
    return 6 * n_params + 6 * config.n_layer * config.block_size * config.n_embd


class SplitBatch:
    """The gradients of a batch's mean loss, computed in ``n`` slices on ``n`` CPU threads at once.

    Each thread runs the forward and backward pass of its slice on one
    intra-op thread; the slices' gradients are then added in slice order,
    so the result does not depend on which thread finishes first. A small
    model's operations are too small to split well: with all threads on
    every operation, the threads meet after each of the few hundred
    operations of a step, and on a machine with other work each meeting
    waits for a busy core. With a slice each, they meet once per step.
    Needs no dropout (the threads would share the global random state) and
    one process.
    """

    def __init__(self, model: GPT, n: int) -> None:
        if n < 2:
            raise ValueError(f"SplitBatch needs n >= 2 slices, got {n}")
        if model.config.dropout:
            raise ValueError("SplitBatch needs dropout=0: slices running at once would share the random state")
        self.model, self.n, self._threads = model, n, torch.get_num_threads()
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.pool = ThreadPoolExecutor(n, thread_name_prefix="glmlib-split-batch")

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Set every parameter's ``.grad`` for the batch ``(x, y)``; return its mean loss."""
        xs, ys = x.chunk(self.n), y.chunk(self.n)
        weights = [len(part) / len(x) for part in xs]  # each slice's share of the mean
        slices = list(self.pool.map(self._slice, xs, ys, weights))
        with torch.no_grad():
            for i, p in enumerate(self.params):
                p.grad = slices[0][1][i]
                for _, grads in slices[1:]:
                    p.grad += grads[i]
        return sum(loss for loss, _ in slices)

    def _slice(self, x: torch.Tensor, y: torch.Tensor, weight: float) -> tuple[torch.Tensor, tuple]:
        if torch.get_num_threads() != 1:  # this thread's own setting, kept between steps
            torch.set_num_threads(1)
        _, loss = self.model(x, y)
        loss = loss * weight
        return loss.detach(), torch.autograd.grad(loss, self.params)

    def close(self) -> None:
        """Stop the threads and give the calling thread's thread count back to PyTorch's default
        for new threads (a slice thread's ``set_num_threads(1)`` sets that default too)."""
        self.pool.shutdown()
        torch.set_num_threads(self._threads)


MAX_SLICES = 4  # the slices' Python code takes turns holding the interpreter lock; measured on 2 cores only


def split_batch_threads(cfg: TrainConfig, device: torch.device, world: int) -> int:
    """How many slices :class:`SplitBatch` cuts each batch into; 1 means the step stays in one piece.

    One per thread (``cfg.threads``, or PyTorch's intra-op thread count; at
    most :data:`MAX_SLICES`), on a CPU, in a
    single process, without dropout or ``torch.compile``, and only when
    asked for (``cfg.split_batch``).
    """
    if not cfg.split_batch or cfg.compile or cfg.dropout or world > 1 or device.type != "cpu":
        return 1
    return min(cfg.threads or torch.get_num_threads(), cfg.batch_size, MAX_SLICES)


@torch.no_grad()
def evaluate(model: GPT, data: torch.Tensor, batch_size: int = 64) -> float:
    """Mean cross-entropy (nats/token) over every non-overlapping window of ``data``."""
    T = model.config.block_size
    n = (len(data) - 1) // T
    if n < 1:
        raise ValueError(f"need more than {T} tokens to evaluate, got {len(data)}")
    device = next(model.parameters()).device
    x_all = data[: n * T].view(n, T)
    y_all = data[1 : n * T + 1].view(n, T)
    total = 0.0
    with _eval_mode(model):
        for i in range(0, n, batch_size):
            _, loss = model(x_all[i : i + batch_size].to(device), y_all[i : i + batch_size].to(device))
            total += loss.item() * len(x_all[i : i + batch_size])
    return total / n


@torch.no_grad()
def estimate_loss(model: GPT, splits: dict[str, torch.Tensor], cfg: TrainConfig,
                  device: torch.device) -> dict[str, float]:
    """Mean loss on ``eval_iters`` batches per split, drawn with a fixed seed."""
    out = {}
    with _eval_mode(model):
        for name, data in splits.items():
            g = torch.Generator().manual_seed(cfg.seed + 1)
            losses = [model(*get_batch(data, cfg.batch_size, cfg.block_size, g, device))[1].item()
                      for _ in range(cfg.eval_iters)]
            out[name] = sum(losses) / len(losses)
    return out


@contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode inside the block; the previous mode afterwards, even after an exception."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class Callback(Protocol):
    def __call__(self, event: str, state: dict) -> None: ...


@dataclass
class TrainResult:
    model: GPT
    tokenizer: Tokenizer
    history: list[dict] = field(default_factory=list)  # one entry per evaluation
    seconds: float = 0.0
    tokens_per_second: float = 0.0
    val_loss: float | None = None  # on the whole validation split, when saved with ``out``
    saved_step: int | None = None  # the step of the model in the checkpoint ``out``


def _distributed() -> tuple[int, int]:
    """(rank, world size), starting the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def check_out(cfg: TrainConfig) -> None:
    """Before any work: ``cfg.out`` can be written, and an existing checkpoint there is
    only replaced with ``overwrite`` or continued with ``resume``."""
    if cfg.out is None:
        return
    weights, sidecar = checkpoint_paths(cfg.out)
    check_not_a_folder(weights)
    for folder in (weights.parent, *weights.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(f"cannot write out={cfg.out!r}: {folder} is a file, not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(f"cannot write out={cfg.out!r}: no permission to write in {folder}")
            break
    if cfg.resume and not weights.exists():
        raise FileNotFoundError(f"cannot resume: checkpoint {weights} not found")
    if not (cfg.overwrite or cfg.resume) and (weights.exists() or sidecar.exists()):
        raise FileExistsError(f"checkpoint {weights} already exists; pass --overwrite (overwrite=True) "
                              f"to replace it, --resume (resume=True) to continue its run, or choose "
                              f"another --out")


def train(cfg: TrainConfig, callbacks: list[Callable[[str, dict], None]] = (),
          text: str | None = None) -> TrainResult:
    """Train a GPT on ``text`` (default: the Shakespeare corpus) and return it.

    Callbacks get ``(event, state)`` with event ``"step"`` (every iteration:
    ``step, loss, lr``) or ``"eval"`` (``step, train, val, sample``). With
    ``cfg.out`` the best model so far is kept there, resumable (see the module
    docstring). ``cfg.threads`` applies during the run only.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    if text is not None and not isinstance(text, str):
        raise TypeError(f"text must be a str (e.g. glmlib.data.load_text(path)) or None for the Shakespeare "
                        f"corpus, got {type(text).__name__}")
    if text is not None and not text.strip():
        raise ValueError(f"text is empty{' (only white space)' if text else ''}; give the text to train on")
    check_out(cfg)
    rank, world = _distributed()
    device = pick_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    claim = Claim(cfg.out) if cfg.out is not None else None  # what is there now; a later writer is refused
    with cpu_threads(cfg.threads):
        return _Run(cfg, list(callbacks), text, device, rank, world, claim).run()


def _encode_splits(text: str, tokenizer: Tokenizer, block_size: int) -> dict[str, torch.Tensor]:
    train_text, val_text = train_val_split(text)
    splits = {"train": tokenizer.encode_tensor(train_text), "val": tokenizer.encode_tensor(val_text)}
    for name, ids in splits.items():
        if len(ids) <= block_size:
            unit = "characters" if isinstance(tokenizer, CharTokenizer) else "tokens"
            raise TextTooShort(f"the {name} split has {len(ids)} {unit}; training needs more than "
                             f"block_size={block_size}: give a longer text or a smaller block_size")
    return splits


class _Run:
    """One training run: its data, model, optimizer, random generators and progress."""

    def __init__(self, cfg: TrainConfig, callbacks: list[Callable[[str, dict], None]], text: str | None,
                 device: torch.device, rank: int, world: int, claim: Claim | None = None) -> None:
        self.cfg, self.callbacks, self.device, self.rank, self.world = cfg, callbacks, device, rank, world
        self.claim = claim
        text = load_shakespeare() if text is None else text
        self.tokenizer = cfg.make_tokenizer(text)
        self.text_sha256 = corpus_sha256(text)
        # the samples start from a line break, or from the text's first character in a text without one
        self.sample_prompt = "\n" if "\n" in text else text[:1]
        self.splits = _encode_splits(text, self.tokenizer, cfg.block_size)
        torch.manual_seed(cfg.seed)
        self.model = GPT(cfg.model_config(self.tokenizer.vocab_size)).to(device)
        self.optimizer = make_optimizer(self.model, cfg)
        self.step_model = DistributedDataParallel(self.model) if world > 1 else self.model
        if cfg.compile:
            self.step_model = torch.compile(self.step_model)
        slices = split_batch_threads(cfg, device, world)
        self.split = SplitBatch(self.model, slices) if slices > 1 else None
        self.batch_gen = torch.Generator().manual_seed(cfg.seed)
        self.sample_gen = torch.Generator().manual_seed(cfg.seed)
        self.result = TrainResult(self.model, self.tokenizer)
        # the run's clock: seconds spent in training steps (not evaluating, not in callbacks);
        # every step and evaluation event carries it, and it ends as ``TrainResult.seconds``
        self.start, self.best_val, self.train_seconds = 0, math.inf, 0.0
        if cfg.resume:
            self._restore()

    def run(self) -> TrainResult:
        try:
            self._steps()
        finally:
            if self.split is not None:
                self.split.close()
        return self.result

    def _steps(self) -> None:
        cfg = self.cfg
        self.model.train()
        for step in range(self.start, cfg.max_iters + 1):
            due = step % cfg.eval_interval == 0 or step == cfg.max_iters
            if due and not (cfg.resume and step == self.start):  # a resumed step was evaluated before saving
                self._evaluate(step)
            if step == cfg.max_iters:
                break
            self._train_step(step)
        if cfg.out and self.rank == 0 and self.result.saved_step is not None \
                and self.result.saved_step < cfg.max_iters:
            self._finish()
        self.result.seconds = self.train_seconds
        tokens = cfg.max_iters * cfg.batch_size * self.world * cfg.block_size
        self.result.tokens_per_second = tokens / self.train_seconds if self.train_seconds else 0.0

    def _notify(self, event: str, state: dict) -> None:
        if self.rank == 0:
            for cb in self.callbacks:
                cb(event, state)

    def _train_step(self, step: int) -> None:
        # With the batch split, this thread's own work (adding the slices' gradients,
        # clipping, AdamW) runs on one thread too: a second intra-op thread of its own
        # would spin on a core after each operation, where the next step's slices run.
        with cpu_threads(1 if self.split is not None else None):
            state = self._one_step(step)
        self._notify("step", state)

    def _one_step(self, step: int) -> dict:
        cfg, rank, world = self.cfg, self.rank, self.world
        tick = time.perf_counter()
        lr = lr_at(step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(self.splits["train"], cfg.batch_size * world, cfg.block_size, self.batch_gen)
        x, y = x[rank::world].to(self.device), y[rank::world].to(self.device)
        loss = self._gradients(x, y)
        if world > 1:
            loss = loss.detach().clone()
            dist.all_reduce(loss, op=dist.ReduceOp.AVG)
        value = loss.item()
        if not math.isfinite(value):
            raise self._diverged(step, f"the loss is {value}")
        if cfg.grad_clip:
            norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip))
            if not math.isfinite(norm):
                raise self._diverged(step, f"the gradient norm is {norm}")
        self.optimizer.step()
        self.train_seconds += time.perf_counter() - tick
        return {"step": step, "loss": value, "lr": lr, "max_iters": cfg.max_iters,
                "seconds": self.train_seconds}

    def _gradients(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The batch's mean loss, with its gradients in the parameters' ``.grad``."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.split is not None:
            return self.split(x, y)
        _, loss = self.step_model(x, y)
        loss.backward()
        return loss

    def _evaluate(self, step: int) -> None:
        """Estimate both losses, sample, and keep the model in ``out`` if it is the best so far."""
        cfg, tokenizer = self.cfg, self.tokenizer
        losses = estimate_loss(self.model, self.splits, cfg, self.device)
        for name, value in losses.items():
            if not math.isfinite(value):
                raise self._diverged(step, f"the {name} loss estimate is {value}")
        sample = ""
        if cfg.sample_chars:  # a prompt is encoded only when samples are asked for
            prompt = torch.tensor([tokenizer.encode(self.sample_prompt)], device=self.device)
            sample_ids = self.model.generate(prompt, cfg.sample_chars, temperature=1.0, top_k=None,
                                             generator=self.sample_gen.manual_seed(cfg.seed))
            sample = tokenizer.decode(sample_ids[0, prompt.shape[1]:].cpu())
        entry = {"step": step, "train": losses["train"], "val": losses["val"],
                 "sample": sample, "seconds": self.train_seconds}
        self.result.history.append(entry)
        if cfg.out and self.rank == 0 and losses["val"] < self.best_val:
            self._save(step, losses["val"])
        self._notify("eval", entry)

    def _save(self, step: int, val: float) -> None:
        """Write the checkpoint: the model, and (unless the run is over) how to continue it."""
        final = step == self.cfg.max_iters
        if final:  # data/README.md's figure: the whole validation split
            self.result.val_loss = evaluate(self.model, self.splits["val"])
        history = [{k: v for k, v in h.items() if k != "sample"} for h in self.result.history]
        extra = {"train_config": asdict(self.cfg), "iters_done": step,
                 "train_seconds": round(self.train_seconds, 1), "world_size": self.world,
                 "val_loss": self.result.val_loss if final else None, "best_val": val, "finished": final,
                 "text_sha256": self.text_sha256, "history": history}
        save_checkpoint(self.model, self.tokenizer, self.cfg.out, extra,
                        train_state=None if final else self._train_state(), claim=self.claim)
        self.best_val, self.result.saved_step = val, step

    def _finish(self) -> None:
        """The run ended on a model worse than its best: mark the checkpoint, which keeps the best,
        finished (``--resume`` refuses it, as it refuses a run saved at its end), without saving
        the last model. Its ``val_loss`` is then the kept model's, on the whole validation split."""
        self.claim.check()  # not someone else's file
        best, _, _ = load_checkpoint(self.cfg.out, self.device)
        self.result.val_loss = evaluate(best, self.splits["val"])
        update_record(self.cfg.out, {"finished": True, "iters_run": self.cfg.max_iters,
                                     "run_seconds": round(self.train_seconds, 1),
                                     "val_loss": self.result.val_loss},
                      drop_train_state=True, claim=self.claim)

    def _train_state(self) -> dict[str, torch.Tensor]:
        state = optimizer_tensors(self.model, self.optimizer)
        state["rng.torch"] = torch.get_rng_state()
        state["rng.batches"] = self.batch_gen.get_state()
        if self.device.type == "cuda":
            state["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def _restore(self) -> None:
        """Continue the run saved at ``out``: weights, optimizer, random states, step, history."""
        where = checkpoint_paths(self.cfg.out)[0]
        try:
            saved, tokenizer, record = load_checkpoint(self.cfg.out)
            state = load_train_state(self.cfg.out)
        except ValueError as err:
            raise ResumeError(f"cannot resume {where}: {err}") from None
        _check_same_run(record, self.cfg, where, self.world)
        if not tokenizer.same_as(self.tokenizer) or record.get("text_sha256") != self.text_sha256:
            raise ResumeError(f"cannot resume {where}: it was trained on another text")
        _check_train_state(state, self.model, record["iters_done"], where)
        try:
            self.model.load_state_dict(saved.state_dict())
            load_optimizer_tensors(self.model, self.optimizer, state)
            torch.set_rng_state(state["rng.torch"])
            self.batch_gen.set_state(state["rng.batches"])
            if self.device.type == "cuda" and "rng.cuda" in state:
                torch.cuda.set_rng_state(state["rng.cuda"], self.device)
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise ResumeError(f"cannot resume {where}: its training state is damaged ({err})") from None
        self.start, self.best_val = record["iters_done"], record["best_val"]
        self.train_seconds = record["train_seconds"]
        self.result.history = [dict(h) for h in record["history"]]
        self.result.saved_step = self.start

    def _diverged(self, step: int, what: str) -> TrainingDiverged:
        cfg = self.cfg
        if self.result.saved_step is not None:
            last = f"last good checkpoint: {checkpoint_paths(cfg.out)[0]} (step {self.result.saved_step})"
        elif cfg.out:
            last = f"no checkpoint was saved by this run; {cfg.out} was left as it was"
        else:
            last = "no checkpoint was saved (out is not set)"
        return TrainingDiverged(f"training diverged at step {step}: {what}; {last}. Try a smaller lr "
                                f"(now {cfg.lr}) or gradient clipping (grad_clip, now {cfg.grad_clip})")


def _check_same_run(record: dict, cfg: TrainConfig, where: Path, world: int) -> None:
    """``record`` is a resumable checkpoint of a run with ``cfg``'s settings; else a clear error."""
    saved = record.get("train_config")
    if not isinstance(saved, dict) or record.get("best_val") is None:
        raise ResumeError(f"cannot resume {where}: it holds no training run to continue (a finished "
                          f"run, or a model saved with save_checkpoint)")
    done, best, seconds, history = (record.get(k) for k in ("iters_done", "best_val", "train_seconds", "history"))
    if isinstance(done, int) and done == saved.get("max_iters"):
        raise ResumeError(f"cannot resume {where}: its run is finished ({done} iterations)")
    if record.get("finished") is True:
        raise ResumeError(f"cannot resume {where}: its run is finished ({record.get('iters_run')!r} "
                          f"iterations; it keeps the best model, from step {done!r})")
    changed = [f"{k} (saved {saved.get(k, ADDED_FIELDS.get(k))!r}, now {v!r})" for k, v in asdict(cfg).items()
               if k not in RUNTIME_FIELDS and saved.get(k, ADDED_FIELDS.get(k)) != v]
    if record.get("world_size") != world:
        changed.append(f"world size (saved {record.get('world_size')!r}, now {world})")
    if changed:
        raise ResumeError(f"cannot resume {where} with other settings: {', '.join(changed)}; "
                          f"resume with the settings it was started with")
    if not (isinstance(done, int) and 0 <= done < cfg.max_iters and isinstance(best, (int, float))
            and math.isfinite(best) and isinstance(seconds, (int, float)) and math.isfinite(seconds)
            and seconds >= 0 and isinstance(history, list)
            and all(isinstance(h, dict) for h in history)):
        raise ResumeError(f"cannot resume {where}: its record of the run is damaged (iters_done={done!r}, "
                          f"best_val={best!r}, max_iters={cfg.max_iters})")
    _check_history(history, done, where)


HISTORY_NUMBERS = ("train", "val", "seconds")  # besides "step", an int


def _check_history(history: list[dict], done: int, where: Path) -> None:
    """Each saved evaluation: a step in ``0..done`` after the one before, and finite numbers."""
    last = -1
    for i, entry in enumerate(history):
        step = entry.get("step")
        numbers = [entry.get(k) for k in HISTORY_NUMBERS if k in entry]
        good = (isinstance(step, int) and not isinstance(step, bool) and last < step <= done
                and {"train", "val"} <= entry.keys() and set(entry) <= {"step", *HISTORY_NUMBERS}
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        for v in numbers))
        if not good:
            raise ResumeError(f"cannot resume {where}: its history entry {i} is damaged ({entry!r:.120}); "
                              f"expected a step after {last} and at most {done}, finite train and val losses")
        last = step


def _check_train_state(state: dict[str, torch.Tensor], model: GPT, done: int, where: Path) -> None:
    """The saved random states and optimizer moments are what this run would have made, by name."""
    expected = len(torch.get_rng_state())
    for name in ("rng.torch", "rng.batches"):
        value = state.get(name)
        if not (isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.shape == (expected,)):
            got = "missing" if value is None else f"{value.dtype} {tuple(value.shape)}"
            raise ResumeError(f"cannot resume {where}: its training state {name!r} is not a random "
                              f"generator's state ({got}; expected uint8 ({expected},))")
        try:
            torch.Generator().set_state(value)
        except (RuntimeError, TypeError) as err:
            raise ResumeError(f"cannot resume {where}: its training state {name!r} is not a random "
                              f"generator's state ({err})") from None
    params = dict(model.named_parameters())
    moments = {k: v for k, v in state.items() if k.startswith("adamw.")}
    for key, value in moments.items():
        param, _, kind = key[len("adamw."):].rpartition(".")
        if param not in params or kind not in ("exp_avg", "exp_avg_sq", "step"):
            raise ResumeError(f"cannot resume {where}: its training state has {key!r}, which this model's "
                              f"optimizer does not have")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ResumeError(f"cannot resume {where}: its optimizer state {key!r} holds NaN or infinite "
                              f"values; the file is damaged and cannot be continued")
        if kind == "exp_avg_sq" and (value < 0).any():
            raise ResumeError(f"cannot resume {where}: its optimizer state {key!r} has negative values; "
                              f"the file is damaged and cannot be continued")
    if done > 0:
        missing = [f"adamw.{p}.{kind}" for p in params for kind in ("exp_avg", "exp_avg_sq", "step")
                   if f"adamw.{p}.{kind}" not in moments]
        if missing:
            raise ResumeError(f"cannot resume {where}: its optimizer state lacks {missing[:3]} "
                              f"({len(missing)} missing)")


def check_resume(cfg: TrainConfig, world: int | None = None) -> None:
    """Before any work: the checkpoint ``cfg.out`` is readable and continues a run with ``cfg``'s
    settings (the text is compared once it is read); else :class:`ResumeError`, one line."""
    where = checkpoint_paths(cfg.out)[0]
    world = int(os.environ.get("WORLD_SIZE", "1")) if world is None else world
    try:
        record = load_record(cfg.out)
    except ValueError as err:
        raise ResumeError(f"cannot resume {where}: {err}") from None
    _check_same_run(record, cfg, where, world)


def optimizer_tensors(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state as named tensors: ``adamw.<param>.<key>``."""
    names = {id(p): name for name, p in model.named_parameters()}
    return {f"adamw.{names[id(p)]}.{key}": value.detach().cpu()
            for p, state in optimizer.state.items() for key, value in state.items()
            if isinstance(value, torch.Tensor)}


def load_optimizer_tensors(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                           tensors: dict[str, torch.Tensor]) -> None:
    """Put back what :func:`optimizer_tensors` saved, checking every shape."""
    index = {id(p): i for i, p in enumerate(p for g in optimizer.param_groups for p in g["params"])}
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, p in model.named_parameters():
        keys = {k.rsplit(".", 1)[1]: v for k, v in tensors.items() if k.rsplit(".", 1)[0] == f"adamw.{name}"}
        for key, value in keys.items():
            if key != "step" and value.shape != p.shape:
                raise ValueError(f"{key} of {name} has shape {tuple(value.shape)}, expected {tuple(p.shape)}")
        if keys:
            state[index[id(p)]] = keys
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m glmlib.train",
        description="Train a GPT on Shakespeare or on your own text (--text FILE), on characters or on "
                    "byte-level BPE tokens (--tokenizer bpe --vocab-size N), and save it as safetensors + JSON.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="start from a named configuration; other flags override it")
    parser.add_argument("--text", metavar="FILE", default=None,
                        help="train on your own text instead of Shakespeare: a UTF-8 text file in any "
                             "language (the vocabulary is its characters, or BPE tokens learned on it). "
                             "The text after 90%% of it is the validation split: cut at the first blank "
                             "line after 90%%, else at the next line break, else exactly at 90%% "
                             "(a boundary only where the validation part keeps 5%% or more)")
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


def _config_from_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> TrainConfig:
    """The command line as a checked config; a bad value exits with one argparse-style line,
    before the corpus is read or a model built."""
    return _args(parser, argv)[0]


def _args(parser: argparse.ArgumentParser, argv: list[str] | None) -> tuple[TrainConfig, str | None]:
    """:func:`_config_from_args`, and the ``--text`` file (``None``: Shakespeare)."""
    args = vars(parser.parse_args(argv))
    name, text_file = args.pop("preset"), args.pop("text")
    given = {k: v for k, v in args.items() if v is not None}
    try:
        cfg = preset(name, **given) if name else TrainConfig(**given)
        pick_device(cfg.device)
        check_out(cfg)
        if cfg.resume:
            check_resume(cfg)
    except (ValueError, TypeError, OSError) as err:
        parser.error(str(err))
    return cfg, text_file


def _text_from_args(parser: argparse.ArgumentParser, text_file: str | None, cfg: TrainConfig) -> str:
    """The text to train on (the ``--text`` file, or the Shakespeare corpus), long enough for
    ``cfg.block_size``; a bad file or corpus cache exits with one argparse-style line."""
    try:
        text = load_shakespeare() if text_file is None else load_text(text_file)
    except (ValueError, OSError, RuntimeError) as err:
        parser.error(str(err))
    source = "the corpus" if text_file is None else repr(text_file)
    try:
        parts = train_val_split(text)
    except ValueError:
        parts = (text, "")
    for name, part in zip(("training", "validation"), parts):
        if len(part) <= cfg.block_size:
            need = math.ceil((cfg.block_size + 1) / VAL_FRACTION) + 1
            parser.error(f"{source} is too short to train on with block_size={cfg.block_size}: its {name} part "
                         f"has {len(part)} characters (of {len(text)}) and needs more than {cfg.block_size} "
                         f"(the validation part is the last {VAL_FRACTION:.0%}); give a text of at least "
                         f"about {need:,} characters or a smaller --block-size")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    cfg, text_file = _args(parser, argv)
    text = _text_from_args(parser, text_file, cfg)
    try:
        result = train(cfg, callbacks=[_print_progress], text=text)
    except (TrainingDiverged, ResumeError, CheckpointConflict, TextTooShort, OSError) as err:
        # an OSError (a save that failed: disk full, a folder where the file goes, ...) without "[Errno n]"
        print(f"{parser.prog}: error: {err.strerror if isinstance(err, OSError) and err.strerror else err}",
              file=sys.stderr)
        raise SystemExit(1) from None
    rank = dist.get_rank() if dist.is_initialized() else 0
    if rank == 0:
        print(json.dumps({"train_seconds": round(result.seconds, 1),
                          "tokens_per_second": round(result.tokens_per_second),
                          "final": {k: round(v, 4) for k, v in result.history[-1].items()
                                    if k in ("train", "val")},
                          "saved": None if result.saved_step is None else str(checkpoint_paths(cfg.out)[0]),
                          "saved_step": result.saved_step}))
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
