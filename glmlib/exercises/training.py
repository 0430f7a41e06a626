"""Checkers for notebook 06 (training): cross-entropy, and a whole training loop.

The cross-entropy checker compares with ``F.cross_entropy``. The training-loop
checker runs the learner's loop on a small GPT and watches it work: which
learning rate every optimizer step uses (against ``glmlib.train.lr_at``), the
gradient norm each step sees (against the clipping threshold), whether the
gradients were cleared before each backward pass, whether evaluation runs in
eval mode without gradients, and finally the validation loss the trained model
reaches (measured with ``glmlib.train.evaluate``) against a stated target.
"""
from __future__ import annotations

import contextlib
import dataclasses
import dis
import functools
import inspect
import marshal
import math
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_pre_hook

from .. import train as _train
from ..data import CharTokenizer, load_shakespeare, train_val_split
from ..i18n import _, get_language, translate
from ..model import GPT
from ..train import TrainConfig, evaluate, lr_at
from .checking import (N_, Case, CheckResult, Mistake, Shortcut, ShortcutUsed, call_learner, failed, forbidden,
                       passed, require_callable, run_cases)

# ------------------------------------------------------------ cross-entropy

_LOG_SOFTMAX_HINT = N_("write log p = z - (m + log sum exp(z - m)) yourself")
_LOGSUMEXP_HINT = N_("subtract each row's max, exponentiate, sum, log, add the max back")
CROSS_ENTROPY_FORBIDDEN = [  # (owner, attribute, label, hint): the hints translated when a check shows them
    (F, "cross_entropy", "F.cross_entropy", N_("compute -log p_y from the logits yourself")),
    (F, "nll_loss", "F.nll_loss", N_("pick the target's log-probability yourself (indexing or gather)")),
    (F, "log_softmax", "F.log_softmax", _LOG_SOFTMAX_HINT),
    (torch, "log_softmax", "torch.log_softmax", _LOG_SOFTMAX_HINT),
    (torch.Tensor, "log_softmax", "Tensor.log_softmax", _LOG_SOFTMAX_HINT),
    (torch, "logsumexp", "torch.logsumexp", _LOGSUMEXP_HINT),
    (torch.Tensor, "logsumexp", "Tensor.logsumexp", _LOGSUMEXP_HINT),
    (torch.special, "logsumexp", "torch.special.logsumexp", _LOGSUMEXP_HINT),
    (torch.special, "log_softmax", "torch.special.log_softmax", _LOG_SOFTMAX_HINT),
]


def _not_finite(what: str) -> str:
    return _("the loss is {what} here, where the logits are near 1000: exp(1000) overflows to inf. "
             "Subtract each row's maximum m before exponentiating and add it back: "
             "log sum exp(z) = m + log sum exp(z - m)", what=what)


def _cross_entropy_mistakes(logits: torch.Tensor, targets: torch.Tensor, extreme: str = "") -> list[Mistake]:
    """The values common wrong answers give on one case, each with its diagnosis.

    ``extreme`` names what makes the case hard: "overflow" (logits near 1000)
    or "underflow" (a target whose probability is far below the smallest float).
    """
    z = logits.double()
    N, V = z.shape
    rows = torch.arange(N)
    log_p = z - torch.logsumexp(z, dim=-1, keepdim=True)  # (N, V), the reference log-probabilities
    per_row = -log_p[rows, targets]  # (N,)
    loss = per_row.mean()
    row_max = z.max(dim=-1).values  # (N,)
    mistakes = [
        Mistake(-loss, _("the sign is flipped: the loss is the *negative* log-likelihood, so it is >= 0")),
        Mistake(per_row.sum(), _("you summed the losses of the N rows; the exercise asks for their mean "
                                 "(reduction 'mean': divide by N)")),
        Mistake(loss / V, _("you divided by N*V: that is the mean of a whole (N, V) matrix of mostly zeros "
                            "(e.g. a one-hot product); average over the N rows only")),
        Mistake(-log_p[rows, targets].exp().mean(),
                _("you averaged minus the probabilities p_y; the loss averages minus their *logarithms*, "
                  "-log p_y")),
        Mistake(per_row, _("you returned the loss of every row, shape (N,); return their mean, a 0-d tensor")),
        Mistake(-z[rows, targets].mean(), _("you returned -z_y, the minus target logit: the normaliser "
                                            "log sum_k exp(z_k) is missing")),
        Mistake(loss - row_max.mean(), _("you subtracted the row maximum m inside the exp but did not add it "
                                         "back: log sum exp(z) = m + log sum exp(z - m)")),
    ]
    if int(targets.max()) < N:  # the wrong-axis versions only run when the targets are valid row numbers
        wrong_axis = _("the target ids index the rows (dim 0), not the vocabulary: gather along the last "
                       "axis, `log_p.gather(-1, targets[:, None])`")
        mistakes += [
            Mistake(-log_p[:, targets].mean(),
                    _("looks like `log_p[:, targets]`: that picks an (N, N) block (every row's log-probability "
                      "of every target), not one entry per row; use `log_p[torch.arange(N), targets]` or "
                      "`log_p.gather(-1, targets[:, None])`")),
            Mistake(-log_p[targets, 0].mean(), wrong_axis),
            Mistake(-log_p[targets, rows].mean(), wrong_axis),
        ]
    if extreme == "overflow":
        mistakes += [Mistake(torch.tensor(math.inf, dtype=torch.float64), _not_finite(_("infinite"))),
                     Mistake(torch.tensor(math.nan, dtype=torch.float64), _not_finite("NaN")),
                     Mistake(torch.tensor(-math.inf, dtype=torch.float64),
                             _("the loss is -inf here, where one row's logits are near 1000 and another's near 0: "
                               "subtract *each row's* maximum (`max(dim=-1, keepdim=True)`), not the maximum of "
                               "the whole tensor, or the small rows underflow to exp(-1000) = 0"))]
    if extreme == "underflow":
        mistakes.append(Mistake(torch.tensor(math.inf, dtype=torch.float64),
                                _("the loss is infinite here, where the target's probability is about e^-1000: "
                                  "that probability underflows to 0 and log(0) = -inf. Stay in log space: "
                                  "-log p_y = log sum exp(z) - z_y, never log(softmax(z))")))
    return mistakes


def _cross_entropy_cases() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    cases = []

    def add(name: str, logits: torch.Tensor, targets: torch.Tensor, extreme: str = "") -> None:
        expected = F.cross_entropy(logits, targets)  # PyTorch's own loss is the reference
        mistakes = [m for m in _cross_entropy_mistakes(logits, targets, extreme)
                    if not torch.allclose(m.value.to(expected.dtype), expected, atol=1e-4)
                    or m.value.shape != expected.shape]
        cases.append(Case(name, (logits.clone(), targets.clone()), expected, mistakes=mistakes))

    add(_("one row, p = (3/4, 1/4), target 0"), torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([0]))
    add(_("uniform logits give ln V"), torch.zeros(4, 10), torch.tensor([0, 3, 1, 2]))
    add(_("random logits, N = 5 rows, V = 7"), torch.randn(5, 7, generator=g), torch.tensor([3, 0, 4, 4, 1]))
    add(_("one row near 1000, one near 0"), torch.tensor([[1000.0, 1001.0, 999.0], [0.0, 1.0, -1.0]]),
        torch.tensor([0, 2]), "overflow")
    add(_("a very unlikely target (logit -1000)"), torch.tensor([[0.0, -1000.0, 0.5]]), torch.tensor([1]),
        "underflow")
    add(_("random logits in the hundreds"), 100.0 * torch.randn(6, 9, generator=g),
        torch.randint(9, (6,), generator=g))
    return cases


def check_cross_entropy(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """``fn(logits (N, V), targets (N,))`` must return the mean negative log-likelihood (a 0-d tensor)."""
    targets = [(owner, attribute, label, translate(hint)) for owner, attribute, label, hint in CROSS_ENTROPY_FORBIDDEN]
    return run_cases("cross_entropy", fn, _cross_entropy_cases(), atol=1e-4, shortcuts=forbidden(fn, targets))


# ------------------------------------------------------------ the whole training loop

TRAIN_LOOP_CONFIG = TrainConfig(
    block_size=32, n_layer=2, n_head=2, n_embd=64, dropout=0.0,   # a GPT of about 110k parameters
    batch_size=32, max_iters=300,                                 # 300 steps of 32 x 32 characters
    lr=1e-2, min_lr=3e-4, warmup_iters=30, weight_decay=0.1, grad_clip=1.0, seed=0,
)
"""The setting the checker trains in: read every number your loop needs from it."""

TRAIN_LOOP_TARGET = 2.40
"""The validation loss (nats per character) a correct loop must get below in ``max_iters`` steps."""

EVAL_ATOL = 1e-4
"""How close the returned validation loss must be to the checker's: float32 sums of 64 windows, with room."""

VAL_TOKENS = 2049
"""The checker's validation text: the first 2,049 tokens of the validation split (64 windows of 32)."""

_LOOP_SHORTCUTS = [  # the hints translated when a check shows them (_loop_shortcuts)
    Shortcut(_train, "train", "glmlib.train.train", N_("write the loop yourself (it is the exercise)")),
    Shortcut(_train, "evaluate", "glmlib.train.evaluate",
             N_("write the evaluation yourself: cut val_ids into windows and average the model's loss")),
    Shortcut(_train, "estimate_loss", "glmlib.train.estimate_loss",
             N_("write the evaluation yourself: cut val_ids into windows and average the model's loss")),
]
_FORBIDDEN = {inspect.unwrap(getattr(_train, s.attribute)): s.label for s in _LOOP_SHORTCUTS}
_FORBIDDEN_CODE = {f.__code__: label for f, label in _FORBIDDEN.items()}


def _loop_shortcuts() -> list[Shortcut]:
    """The training loop's shortcuts, their hints in the language chosen now."""
    return [dataclasses.replace(s, hint=translate(s.hint)) for s in _LOOP_SHORTCUTS]


class _Stop(Exception):
    """Raised from the checker's hooks to stop a loop at the first step that goes wrong."""


@functools.lru_cache(maxsize=1)
def _loop_data() -> tuple[torch.Tensor, torch.Tensor, int]:
    """(train ids, the checker's validation ids, vocabulary size) of the Shakespeare corpus."""
    text = load_shakespeare()
    tokenizer = CharTokenizer.from_text(text)
    train_text, val_text = train_val_split(text)
    return tokenizer.encode_tensor(train_text), tokenizer.encode_tensor(val_text[:VAL_TOKENS]), tokenizer.vocab_size


def loop_setup(seed: int | None = None) -> tuple[GPT, torch.Tensor, torch.Tensor, TrainConfig, torch.Generator]:
    """The arguments the checker passes: ``(model, train_ids, val_ids, cfg, generator)``.

    A fresh, seeded GPT each call, so you can try your loop exactly as the checker will.
    """
    cfg = dataclasses.replace(TRAIN_LOOP_CONFIG)
    seed = cfg.seed if seed is None else seed
    train_ids, val_ids, vocab_size = _loop_data()
    torch.manual_seed(seed)
    model = GPT(cfg.model_config(vocab_size))
    return model, train_ids, val_ids, cfg, torch.Generator().manual_seed(seed)


def _forbidden_label(value: object) -> str | None:
    """The label of a forbidden glmlib function, when ``value`` is one."""
    if not callable(value):
        return None
    try:
        return _FORBIDDEN.get(inspect.unwrap(value))
    except (TypeError, ValueError):  # unhashable, or a wrapper loop
        return None


def _global_uses(fn: Callable) -> dict[str, str]:
    """Global names ``fn`` (or a function nested in it) reads that are forbidden: name -> label."""
    found: dict[str, str] = {}
    namespace = getattr(fn, "__globals__", {})

    def scan(code: types.CodeType) -> None:
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str):
                label = _forbidden_label(namespace.get(ins.argval))
                if label:
                    found[ins.argval] = label
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                scan(const)

    code = getattr(fn, "__code__", None)
    if code is not None:
        scan(code)
    return found


@dataclass
class _Forward:
    """One call of the model: was it in train mode, with gradients, and did a backward pass follow."""

    training: bool
    grad: bool
    backward: bool = False
    step: int = 0  # the optimizer steps taken before this call
    tokens: int = 0  # how many positions it computed logits for


@dataclass
class _Probe:
    """Watches the learner's loop through hooks; stops it at the first step that goes wrong."""

    model: GPT
    cfg: TrainConfig
    forwards: list[_Forward] = field(default_factory=list)
    steps: int = 0
    backwards_since_step: int = 0
    clips_since_step: list[str] = field(default_factory=list)  # "before" / "after" loss.backward()
    low_norms: list[tuple[int, float]] = field(default_factory=list)  # (step, norm) of norms below grad_clip

    def __post_init__(self) -> None:
        self.params = list(self.model.parameters())
        self.param_ids = {id(p) for p in self.params}

    # -- hooks
    def on_forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code in _FORBIDDEN_CODE:
                raise ShortcutUsed(_FORBIDDEN_CODE[frame.f_code])
            frame = frame.f_back
        hidden = args[0] if args and isinstance(args[0], torch.Tensor) else None
        tokens = int(hidden.shape[:-1].numel()) if hidden is not None and hidden.dim() >= 1 else 0
        record = _Forward(training=self.model.training, grad=torch.is_grad_enabled(), step=self.steps,
                          tokens=tokens)
        self.forwards.append(record)
        logits = output[0] if isinstance(output, tuple) else output
        if isinstance(logits, torch.Tensor) and logits.requires_grad:
            logits.register_hook(functools.partial(self.on_backward, record))

    def on_backward(self, record: _Forward, grad: torch.Tensor) -> None:
        record.backward = True
        step = self.steps
        if not record.training:
            raise _Stop(_("step {step} trained with the model in eval mode (`model.training` was False): "
                          "after evaluating, switch back with `model.train()`", step=step))
        if self.backwards_since_step:
            raise _Stop(_("loss.backward() ran twice with no optimizer.step() in between (step {step}): "
                          "is `optimizer.step()` missing? Take one step per batch", step=step))
        left = [p.grad for p in self.params if p.grad is not None]
        if any(bool(g.any()) for g in left):
            raise _Stop(_("at step {step}, the gradients of the previous step were still in `p.grad` when "
                          "loss.backward() ran, so the new ones were added to them (gradients accumulate): "
                          "call `optimizer.zero_grad()` once per step, before loss.backward()", step=step))
        self.backwards_since_step += 1

    def on_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not any(id(p) in self.param_ids for g in optimizer.param_groups for p in g["params"]):
            return
        step, cfg = self.steps, self.cfg
        grads = [p.grad for p in self.params if p.grad is not None]
        if not self.backwards_since_step:
            raise _Stop(_("optimizer.step() ran at step {step} without a loss.backward() before it: the weights "
                          "get no gradient, so nothing learns and the loss stays near ln V = {ln_v:.2f}",
                          step=step, ln_v=math.log(self.model.config.vocab_size)))
        if not any(bool(g.any()) for g in grads):
            raise _Stop(_("the gradients were all zero (or None) when optimizer.step() ran at step {step}: "
                          "is `zero_grad()` between loss.backward() and optimizer.step()? Clear them before "
                          "the backward pass, not after it", step=step))
        lrs = {float(g["lr"]) for g in optimizer.param_groups}
        want = lr_at(step, cfg)
        if any(not math.isclose(lr, want, rel_tol=1e-6, abs_tol=1e-12) for lr in lrs):
            got = ", ".join(f"{lr:.6g}" for lr in sorted(lrs))
            if step == 0 and len(lrs) == 1 and lrs & {cfg.lr, 1e-3}:
                hint = _("that is the rate the optimizer was built with, so the schedule was not applied. "
                         "Before every step, step 0 included, set `group['lr'] = lr_at(step, cfg)` for each "
                         "param group")
            elif step > 0 and lrs == {lr_at(0, cfg)}:
                hint = _("that is the rate of step 0: set it inside the loop, at every step, not once "
                         "before it")
            elif len(lrs) == 1 and math.isclose(next(iter(lrs)), lr_at(step + 1, cfg), rel_tol=1e-6):
                hint = _("that is lr_at(step + 1): count steps from 0")
            else:
                hint = _("use `lr_at(step, cfg)` (warmup, then cosine decay), counting steps from 0")
            raise _Stop(_("step {step} used learning rate {got}; the schedule says lr_at({step}, cfg) = "
                          "{want:.6g}: {hint}", step=step, got=got, want=want, hint=hint))
        norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads))
        if norm > cfg.grad_clip * (1 + 1e-3) + 1e-6:
            seen = _("at step {step} the gradients reaching optimizer.step() have a global norm of {norm:.3g}",
                     step=step, norm=norm)
            if "before" in self.clips_since_step and "after" not in self.clips_since_step:
                message = _("you clip before loss.backward(), when `p.grad` holds nothing yet (or the last "
                            "step's gradients): {seen}, above cfg.grad_clip = {clip}. Clip them "
                            "after loss.backward() and before optimizer.step()", seen=seen, clip=cfg.grad_clip)
            elif not self.clips_since_step:
                message = _("the gradients were not clipped: {seen}, above cfg.grad_clip = {clip}. "
                            "Clip them by their global norm (`torch.nn.utils.clip_grad_norm_`) after "
                            "loss.backward() and before optimizer.step()", seen=seen, clip=cfg.grad_clip)
            else:
                message = _("{seen}, above cfg.grad_clip = {clip}: clip to a global norm of "
                            "cfg.grad_clip (all parameters together, not each value or tensor alone)", seen=seen,
                            clip=cfg.grad_clip)
            raise _Stop(message)
        if norm < cfg.grad_clip * (1 - 1e-3):
            same = [(s, n) for s, n in self.low_norms if math.isclose(n, norm, rel_tol=1e-5)]
            if len(same) >= 2:
                steps = ", ".join(str(s) for s, _norm in same[:2])
                raise _Stop(_("at steps {steps} and {step} the gradients reaching optimizer.step() all have the "
                              "same global norm, {norm:.4g}, below cfg.grad_clip = {clip}: they are "
                              "clipped to {norm:.4g}. Clip to a global norm of cfg.grad_clip itself: a smaller "
                              "bar shrinks every step and slows training", steps=steps, step=step, norm=norm,
                              clip=cfg.grad_clip))
            self.low_norms.append((step, norm))
        self.steps += 1
        self.backwards_since_step = 0
        self.clips_since_step = []

    def clip_recorder(self, original: Callable) -> Callable:
        def clip(*args: Any, **kwargs: Any) -> Any:
            self.clips_since_step.append("after" if self.backwards_since_step else "before")
            if getattr(original, "__name__", "") == "clip_grad_norm_":
                bar = args[1] if len(args) > 1 else kwargs.get("max_norm")
                try:
                    bar = float(bar)
                except (TypeError, ValueError):
                    bar = None
                if bar is not None and not math.isclose(bar, self.cfg.grad_clip, rel_tol=1e-6):
                    raise _Stop(_("step {step} clips the gradients to a global norm of {bar:g}; the "
                                  "setting says cfg.grad_clip = {clip}: pass `cfg.grad_clip` "
                                  "as max_norm (a smaller bar shrinks every step, a larger one clips nothing)",
                                  step=self.steps, bar=bar, clip=self.cfg.grad_clip))
            return original(*args, **kwargs)
        return clip

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        # the output head's call sees every forward pass, however the model itself is called
        head = getattr(self.model, "lm_head", self.model)
        handles = [head.register_forward_hook(self.on_forward),
                   register_optimizer_step_pre_hook(self.on_step)]
        utils = torch.nn.utils
        originals = {name: getattr(utils, name) for name in ("clip_grad_norm_", "clip_grad_value_")}
        for name, original in originals.items():  # to tell "clipped too early" from "not clipped"
            setattr(utils, name, self.clip_recorder(original))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny matrices: one thread is as fast, and steady on a busy machine
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            for name, original in originals.items():
                setattr(utils, name, original)
            for handle in handles:
                handle.remove()


def _stoppable(fn: Callable) -> Callable:
    """``fn``, returning the ``_Stop`` a hook raised instead of raising it."""
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _Stop as stop:
            return stop
    return run


def _loop_key(fn: Callable) -> tuple | None:
    """What the verdict on ``fn`` depends on: its code, and every global, default and closure it uses.

    Two functions with the same key train the same way (the checker's seeds are
    fixed), so a second check of an unchanged loop reuses the first verdict
    instead of training again. ``None`` when ``fn`` is not a plain function.
    """
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return None
    try:
        compiled = marshal.dumps(code)
    except ValueError:
        return None
    names: set[str] = set()

    def scan(c: types.CodeType) -> None:
        names.update(ins.argval for ins in dis.get_instructions(c)
                     if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str))
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                scan(const)

    scan(code)
    namespace = getattr(fn, "__globals__", {})
    used = tuple((name, namespace.get(name)) for name in sorted(names))
    cells = tuple(cell.cell_contents for cell in (fn.__closure__ or ()))
    return compiled, used, fn.__defaults__, tuple(sorted((fn.__kwdefaults__ or {}).items())), cells


def _same_key(a: tuple, b: tuple) -> bool:
    """Equal code, and the very same objects for everything the code reads."""
    if a[0] != b[0] or len(a[1]) != len(b[1]) or len(a[4]) != len(b[4]):
        return False
    same_globals = all(n1 == n2 and v1 is v2 for (n1, v1), (n2, v2) in zip(a[1], b[1]))
    same_cells = all(x is y for x, y in zip(a[4], b[4]))
    same_defaults = (a[2] is b[2] or (a[2] is not None and b[2] is not None and len(a[2]) == len(b[2])
                                      and all(x is y for x, y in zip(a[2], b[2]))))
    same_kw = len(a[3]) == len(b[3]) and all(k1 == k2 and v1 is v2 for (k1, v1), (k2, v2) in zip(a[3], b[3]))
    return same_globals and same_cells and same_defaults and same_kw


_verdicts: list[tuple[tuple, str, CheckResult]] = []  # the last few loops checked (key, language, verdict)


def check_train_loop(fn: Callable[..., float]) -> CheckResult:
    """``fn(model, train_ids, val_ids, cfg, generator)`` must train ``model`` and return its val loss.

    Trains once per loop: checking an unchanged loop again (same code, same
    globals) returns the verdict of the first check.
    """
    exercise = "train_loop"
    problem = require_callable(exercise, fn)
    if problem is not None:
        return problem
    key = _loop_key(fn)
    language = get_language()  # a verdict is told in one language: another one trains again
    if key is not None:
        for seen, told_in, verdict in _verdicts:
            if told_in == language and _same_key(seen, key):
                return verdict
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state as it was
        result = _check_train_loop(exercise, fn)
    if key is not None:
        _verdicts.append((key, language, result))
        del _verdicts[:-8]
    return result


def _check_train_loop(exercise: str, fn: Callable[..., float]) -> CheckResult:
    used = _global_uses(fn)
    if used:
        name, label = next(iter(used.items()))
        hint = translate(next(s.hint for s in _LOOP_SHORTCUTS if s.label == label))
        return failed(exercise, _("your code calls `{name}` ({label}), which this exercise asks you to write "
                                  "yourself: {hint}", name=name, label=label, hint=hint))
    model, train_ids, val_ids, cfg, generator = loop_setup()
    cfg_seen = dataclasses.replace(cfg)  # the learner gets a copy: the checker keeps its own numbers
    probe = _Probe(model, cfg)
    before = [p.detach().clone() for p in model.parameters()]
    case = Case(_("train the small GPT"), (model, train_ids, val_ids, cfg_seen, generator), None)
    torch.manual_seed(cfg.seed)
    with probe.watching():
        got, early = call_learner(exercise, _stoppable(fn), case, _loop_shortcuts())
    if early is not None:
        return early
    if isinstance(got, _Stop):
        return failed(exercise, str(got))

    ln_v = math.log(model.config.vocab_size)
    if not probe.forwards:
        return failed(exercise, _("your loop never called the model: train it with `model(x, y)`"))
    if not any(f.backward for f in probe.forwards):
        return failed(exercise, _("loss.backward() never ran: the weights get no gradient, so nothing learns "
                                  "and the loss stays near ln V = {ln_v:.2f}", ln_v=ln_v))
    if probe.steps == 0 or all(torch.equal(a, b.detach()) for a, b in zip(before, model.parameters())):
        return failed(exercise, _("the weights never changed: call `optimizer.step()` after loss.backward() at "
                                  "every step (an optimizer over `model.parameters()`); the loss stays near "
                                  "ln V = {ln_v:.2f}", ln_v=ln_v))
    if probe.steps != cfg.max_iters:
        return failed(exercise, _("your loop took {steps} optimizer steps; train for exactly "
                                  "cfg.max_iters = {max_iters} steps (steps 0 to {last})", steps=probe.steps,
                                  max_iters=cfg.max_iters, last=cfg.max_iters - 1))
    evals = [f for f in probe.forwards if not f.backward]
    if any(f.grad for f in evals):
        return failed(exercise, _("your evaluation ran with gradients on (autograd recorded every operation, "
                                  "for nothing): wrap it in `with torch.no_grad():` (or `torch.inference_mode()`)"))
    if any(f.training for f in evals):
        return failed(exercise, _("your evaluation ran in train mode: call `model.eval()` before evaluating "
                                  "(with dropout, train mode would randomly drop activations and the val loss "
                                  "would come out noisy and too high; here dropout is 0, but the habit matters)"))
    try:
        returned = float(got)
    except (TypeError, ValueError, RuntimeError):
        return failed(exercise, _("return the validation loss as a number (a float), got {kind}",
                                  kind=type(got).__name__))
    measured = evaluate(model, val_ids)
    if not evals:
        return failed(exercise, _("you returned {returned:.4f} without evaluating the trained model on val_ids "
                                  "(no forward pass after training); its mean loss over the windows of val_ids "
                                  "is {measured:.4f}", returned=returned, measured=measured))
    windows = (len(val_ids) - 1) // cfg.block_size
    seen = sum(f.tokens for f in evals if f.step == probe.steps)  # positions evaluated after training
    if seen == (windows - 1) * cfg.block_size:
        return failed(exercise, _("your evaluation after training computed {computed} windows of "
                                  "cfg.block_size = {block_size} tokens, but val_ids holds {windows} "
                                  "(len(val_ids) = {length}, the last target included): did the range stop one "
                                  "window early? The windows start at 0, T, ..., (n - 1) T with "
                                  "n = (len(val_ids) - 1) // T", computed=windows - 1, block_size=cfg.block_size,
                                  windows=windows, length=len(val_ids)))
    if not math.isclose(returned, measured, rel_tol=0, abs_tol=EVAL_ATOL):
        return failed(exercise, _("you returned {returned:.5f}, but the mean loss of your trained model over "
                                  "every non-overlapping window of val_ids (windows of cfg.block_size tokens "
                                  "starting at 0, T, 2T, ..., targets shifted by one) is {measured:.5f}: "
                                  "evaluate on all of those windows, in eval mode", returned=returned,
                                  measured=measured))
    if measured >= TRAIN_LOOP_TARGET:
        near = (_(" (that is about ln V = {ln_v:.2f}: the model learned nothing)", ln_v=ln_v)
                if measured > ln_v - 0.3 else "")
        return failed(exercise, _("after {max_iters} steps the validation loss is {measured:.3f}{near}, not "
                                  "below the target {target:.2f}; a correct loop (AdamW built from cfg, "
                                  "the schedule, clipping) gets about 2.2 here", max_iters=cfg.max_iters,
                                  measured=measured, near=near, target=TRAIN_LOOP_TARGET))
    return passed(exercise, _("your loop trained the GPT to a validation loss of {measured:.3f} (target: below "
                              "{target:.2f}) in {max_iters} steps, with the schedule, clipping and "
                              "evaluation as asked", measured=measured, target=TRAIN_LOOP_TARGET,
                              max_iters=cfg.max_iters))
