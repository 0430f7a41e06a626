"""Notebook 06's exercises: the worked solutions pass, stubs say "not yet", every catalogued mistake is named."""
from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import glmlib
import glmlib.train
from glmlib.exercises import ExerciseFailed
from glmlib.exercises import training as ex
from glmlib.train import evaluate, lr_at
from notebook_solutions import questions, run_code
from wrong_answers.nb06 import SETUP, WRONG

QUESTIONS = questions("06")
CATALOGUE = [(name, label, code, fragment) for name, answers in WRONG.items()
             for label, (code, fragment) in answers.items()]
SOLUTION_LOOP = QUESTIONS["q06_train_loop"].solution


def test_the_notebook_has_a_warm_up_and_a_transfer_exercise() -> None:
    assert list(QUESTIONS) == ["q06_cross_entropy", "q06_train_loop"]
    assert [q.points for q in QUESTIONS.values()] == [2, 3]
    assert set(WRONG) == set(QUESTIONS)
    assert all(len(answers) >= 4 for answers in WRONG.values())


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_worked_solution_passes(name: str) -> None:
    q = QUESTIONS[name]
    env = run_code(SETUP + q.solution + q.test)
    fn = env["cross_entropy" if name == "q06_cross_entropy" else "train_loop"]
    check = ex.check_cross_entropy if name == "q06_cross_entropy" else ex.check_train_loop
    assert check(fn).status == "pass"


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_stub_is_not_yet(name: str) -> None:
    q = QUESTIONS[name]
    env = run_code(SETUP + q.stub)
    result = eval(q.test.strip().removesuffix(".require()"), env)
    assert result.status == "not yet", result
    with pytest.raises(ExerciseFailed, match="not yet"):
        run_code(q.test, env)


@pytest.mark.parametrize("name, label, code, fragment", CATALOGUE, ids=[f"{n}: {l}" for n, l, _, _ in CATALOGUE])
def test_wrong_answer_is_named(name: str, label: str, code: str, fragment: str) -> None:
    env = run_code(SETUP + code)
    with pytest.raises(ExerciseFailed) as failure:
        run_code(QUESTIONS[name].test, env)
    assert fragment.lower() in str(failure.value).lower(), str(failure.value)
    assert ": fail:" in str(failure.value)


# ------------------------------------------------------------ cross-entropy: beyond pass / fail

def test_cross_entropy_reference_is_pytorch_and_agrees_with_hand_values() -> None:
    cases = ex._cross_entropy_cases()
    for case in cases:
        logits, targets = case.args
        assert torch.equal(case.expected, F.cross_entropy(logits, targets))
        for mistake in case.mistakes:  # every named mistake is really wrong on its case
            value = mistake.value
            assert value.shape != case.expected.shape or not torch.allclose(
                value.to(case.expected.dtype), case.expected, atol=1e-4, equal_nan=True), mistake.message
    by_name = {case.name: case.expected.item() for case in cases}
    assert by_name["one row, p = (3/4, 1/4), target 0"] == pytest.approx(-math.log(0.75), abs=1e-6)
    assert by_name["uniform logits give ln V"] == pytest.approx(math.log(10), abs=1e-6)
    # rows [1000, 1001, 999] (target 0) and [0, 1, -1] (target 2): the same shape of row, shifted
    lse = 1 + math.log(1 + math.exp(-1) + math.exp(-2))
    assert by_name["one row near 1000, one near 0"] == pytest.approx(((lse - 0) + (lse + 1)) / 2, abs=1e-4)
    assert by_name["a very unlikely target (logit -1000)"] == pytest.approx(
        1000 + 0.5 + math.log(1 + math.exp(-0.5)), abs=1e-3)
    assert all(math.isfinite(v) for v in by_name.values())


def test_cross_entropy_shortcuts_are_trapped_and_given_back() -> None:
    originals = (F.cross_entropy, F.log_softmax, torch.logsumexp, torch.Tensor.logsumexp, torch.Tensor.log_softmax)
    aliased = run_code(SETUP + "from torch.nn.functional import cross_entropy as ce\n"
                               "def cross_entropy(logits, targets):\n    return ce(logits, targets)\n")
    result = ex.check_cross_entropy(aliased["cross_entropy"])
    assert result.status == "fail" and "F.cross_entropy" in result.message, result
    assert aliased["ce"] is F.cross_entropy  # the notebook's own name is given back
    for body in ("F.nll_loss(torch.log_softmax(logits, -1), targets)",
                 "torch.nn.CrossEntropyLoss()(logits, targets)",
                 "(torch.special.logsumexp(logits, -1) - logits[torch.arange(len(targets)), targets]).mean()"):
        env = run_code(SETUP + f"def cross_entropy(logits, targets):\n    return {body}\n")
        result = ex.check_cross_entropy(env["cross_entropy"])
        assert result.status == "fail" and "asks you to write yourself" in result.message, result
    assert (F.cross_entropy, F.log_softmax, torch.logsumexp, torch.Tensor.logsumexp,
            torch.Tensor.log_softmax) == originals
    x = torch.randn(3, 5)
    assert torch.allclose(x.log_softmax(-1), x - x.logsumexp(-1, keepdim=True))


def test_cross_entropy_learner_error_is_reported_not_raised() -> None:
    def broken(logits, targets):
        return logits.gather(1, targets)  # index without the extra dimension

    result = ex.check_cross_entropy(broken)
    assert result.status == "fail" and "raised RuntimeError" in result.message
    assert ex.check_cross_entropy(...).status == "not yet"
    assert ex.check_cross_entropy(lambda *a: None).status == "not yet"


# ------------------------------------------------------------ the training loop: beyond pass / fail

def test_the_stated_target_is_met_with_margin_on_other_seeds_too() -> None:
    """The worked loop stays well below the target on seeds the checker does not use."""
    train_loop = run_code(SETUP + SOLUTION_LOOP.replace("ex.check_train_loop(train_loop)", ""))["train_loop"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the checker trains: steady on a busy machine
    try:
        for seed in (1, 2):
            model, train_ids, val_ids, cfg, generator = ex.loop_setup(seed)
            returned = train_loop(model, train_ids, val_ids, cfg, generator)
            measured = evaluate(model, val_ids)  # the reference the checker compares with
            assert returned == pytest.approx(measured, abs=1e-4)
            assert measured < ex.TRAIN_LOOP_TARGET - 0.08, (seed, measured)
    finally:
        torch.set_num_threads(threads)


def test_loop_setup_is_the_stated_setting() -> None:
    model, train_ids, val_ids, cfg, generator = ex.loop_setup()
    assert cfg == ex.TRAIN_LOOP_CONFIG and cfg is not ex.TRAIN_LOOP_CONFIG
    assert len(val_ids) == ex.VAL_TOKENS == 64 * cfg.block_size + 1
    assert (cfg.max_iters, cfg.batch_size, cfg.block_size, cfg.lr, cfg.warmup_iters, cfg.grad_clip) == (
        300, 32, 32, 1e-2, 30, 1.0)
    again = ex.loop_setup()[0]
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))  # seeded
    start = evaluate(model, val_ids)
    assert abs(start - math.log(model.config.vocab_size)) < 0.1  # an untrained model: about ln V


def test_the_schedule_the_checker_expects_is_lr_at() -> None:
    """A loop whose schedule differs from lr_at only after warmup is stopped exactly there."""
    cfg = ex.TRAIN_LOOP_CONFIG
    code = WRONG["q06_train_loop"]["schedule never applied"][0].replace(
        "    for step in range(cfg.max_iters):\n",
        "    for step in range(cfg.max_iters):\n"
        "        for group in optimizer.param_groups:\n"
        "            group['lr'] = lr_at(step, cfg) if step < cfg.warmup_iters + 2 else cfg.lr\n")
    result = ex.check_train_loop(run_code(SETUP + code)["train_loop"])
    step = cfg.warmup_iters + 2
    assert result.status == "fail" and f"lr_at({step}, cfg) = {lr_at(step, cfg):.6g}" in result.message, result


def test_shortcuts_are_trapped_however_they_are_reached() -> None:
    quick = "    optimizer = make_optimizer(model, cfg)\n"
    via_module = run_code(SETUP + "import glmlib.train\n"
                          "def train_loop(model, train_ids, val_ids, cfg, generator):\n"
                          "    return glmlib.train.evaluate(model, val_ids)\n")
    via_helper = run_code(SETUP + "def my_eval(model, val_ids):\n    return evaluate(model, val_ids)\n"
                          "def train_loop(model, train_ids, val_ids, cfg, generator):\n"
                          + quick + "    return my_eval(model, val_ids)\n")
    whole = run_code(SETUP + "def train_loop(model, train_ids, val_ids, cfg, generator):\n"
                             "    return train(cfg).history[-1]['val']\n")
    for env in (via_module, via_helper, whole):
        result = ex.check_train_loop(env["train_loop"])
        assert result.status == "fail" and "asks you to write yourself" in result.message, result
    assert glmlib.train.evaluate is evaluate and glmlib.train.train is SETUP_ENV["train"]


SETUP_ENV = run_code(SETUP)


def test_a_method_named_like_a_shortcut_is_not_a_shortcut() -> None:
    """`model.train()` reads the attribute `train`, not the notebook's imported function."""
    env = run_code(SETUP + "def train_loop(model, train_ids, val_ids, cfg, generator):\n"
                           "    model.train()\n    raise NotImplementedError\n")
    assert ex.check_train_loop(env["train_loop"]).status == "not yet"


def test_the_checker_leaves_the_session_as_it_was() -> None:
    from torch.optim.optimizer import _global_optimizer_pre_hooks

    clip, threads, hooks = torch.nn.utils.clip_grad_norm_, torch.get_num_threads(), len(_global_optimizer_pre_hooks)
    clip_value = torch.nn.utils.clip_grad_value_
    torch.manual_seed(123)
    before = torch.get_rng_state()
    for label in ("never clears the gradients", "clips before backward"):
        ex.check_train_loop(run_code(SETUP + WRONG["q06_train_loop"][label][0])["train_loop"])

    def raises(model, train_ids, val_ids, cfg, generator):
        model(torch.zeros(1, 3, dtype=torch.long))
        raise RuntimeError("a bug in the loop")

    result = ex.check_train_loop(raises)
    assert result.status == "fail" and "RuntimeError: a bug in the loop" in result.message
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.nn.utils.clip_grad_norm_ is clip and torch.nn.utils.clip_grad_value_ is clip_value
    assert torch.get_num_threads() == threads
    assert len(_global_optimizer_pre_hooks) == hooks


def test_an_unchanged_loop_is_trained_once_and_a_changed_one_again() -> None:
    code = SETUP + SOLUTION_LOOP.replace("ex.check_train_loop(train_loop)", "")
    first = ex.check_train_loop(run_code(code)["train_loop"])  # trains (or reuses an earlier test's verdict)
    start = time.perf_counter()
    again = ex.check_train_loop(run_code(code)["train_loop"])  # a fresh namespace, the same loop
    assert again is first and time.perf_counter() - start < 0.5
    changed = run_code(code.replace("cfg.grad_clip)", "cfg.grad_clip * 2)"))["train_loop"]
    result = ex.check_train_loop(changed)
    assert result.status == "fail" and "pass `cfg.grad_clip` as max_norm" in result.message, result


def test_no_solution_line_is_in_the_checkers() -> None:
    package = Path(glmlib.__file__).parent / "exercises"
    lines = {line.strip() for f in package.rglob("*.py") for line in f.read_text().splitlines()}
    for q in QUESTIONS.values():
        for line in q.solution.splitlines():
            line = line.strip()
            if len(line) > 3 and not line.startswith(("#", "ex.check", "def ", '"""', "generator:")):
                assert line not in lines, f"{q.name}: {line!r} is in glmlib"


def test_a_loop_that_clips_correctly_by_hand_or_by_keyword_passes() -> None:
    """Clipping written out (the global norm, scaled down only above the bar) and max_norm= by keyword."""
    loop = SETUP + SOLUTION_LOOP.replace("ex.check_train_loop(train_loop)", "")
    by_keyword = loop.replace("clip_grad_norm_(model.parameters(), cfg.grad_clip)",
                              "clip_grad_norm_(model.parameters(), max_norm=cfg.grad_clip)")
    by_hand = loop.replace(
        "torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)",
        "norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters()))\n"
        "        for p in model.parameters():\n"
        "            p.grad.mul_(min(1.0, cfg.grad_clip / (float(norm) + 1e-6)))")
    assert by_keyword != loop and by_hand != loop
    for code in (by_keyword, by_hand):
        result = ex.check_train_loop(run_code(code)["train_loop"])
        assert result.passed, result
