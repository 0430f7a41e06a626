"""Forbidden shortcuts are caught however they are spelled (the checkers' operator-level trap).

Each answer here computes the right values with the very function its
exercise forbids, reached another way than the checker names: through
``torch.ops.aten``, NumPy, an alias, a library that calls it, an import
inside the function, or with the trap's exception caught. Each must fail
and name the shortcut. Grading uses the same traps in the learner's
process (``tests/test_grading.py``).
"""
from __future__ import annotations

import pytest

import glmlib.exercises.attention as nb04
import glmlib.exercises.decoder as nb05
import glmlib.exercises.masks as nb03
import glmlib.exercises.sampling as nb07
from notebook_solutions import run_code

SETUP = "import torch\nimport torch.nn.functional as F\nimport numpy as np\nimport math\n"

CHEATS = [
    (nb03.check_causal_average, "causal_average", "np.cumsum",
     "def causal_average(x):\n    n = torch.arange(1, x.shape[-2] + 1).unsqueeze(-1)\n"
     "    return torch.from_numpy(np.cumsum(x.numpy(), axis=-2)) / n", "NumPy"),
    (nb03.check_causal_average, "causal_average", "np.asarray round trip",
     "def causal_average(x):\n    a = np.asarray(x)\n    n = np.arange(1, a.shape[-2] + 1)[:, None]\n"
     "    return torch.tensor(a.cumsum(-2) / n, dtype=x.dtype)", "NumPy"),
    (nb03.check_causal_average, "causal_average", "torch.ops.aten.cumsum",
     "def causal_average(x):\n    n = torch.arange(1, x.shape[-2] + 1).unsqueeze(-1)\n"
     "    return torch.ops.aten.cumsum(x, -2) / n", "cumsum"),
    (nb03.check_causal_average, "causal_average", "an alias of cumsum, caught and retried",
     "running = torch.Tensor.cumsum\n"
     "def causal_average(x):\n    n = torch.arange(1, x.shape[-2] + 1).unsqueeze(-1)\n"
     "    try:\n        return running(x, -2) / n\n    except Exception:\n        return running(x, -2) / n",
     "cumsum"),
    (nb03.check_causal_average, "causal_average", "map(lambda ...)",
     "def causal_average(x):\n    T = x.shape[-2]\n"
     "    return torch.stack(list(map(lambda t: x[..., :t + 1, :].mean(-2), range(T))), dim=-2)", "map"),
    (nb04.check_softmax, "softmax", "torch.ops.aten._softmax",
     "def softmax(x):\n    return torch.ops.aten._softmax(x, -1, False)", "softmax"),
    (nb04.check_softmax, "softmax", "exp of log_softmax via the special namespace",
     "def softmax(x):\n    return torch.special.log_softmax(x, -1).exp()", "softmax"),
    (nb04.check_attention, "attention", "torch.ops.aten.scaled_dot_product_attention",
     "def attention(q, k, v, mask=None):\n"
     "    return torch.ops.aten.scaled_dot_product_attention(q, k, v, attn_mask=mask)",
     "scaled_dot_product"),
    (nb05.check_rms_norm, "rms_norm", "torch.ops.aten.rms_norm",
     "def rms_norm(x, weight, eps=1e-6):\n    return torch.ops.aten.rms_norm(x, [x.shape[-1]], weight, eps)",
     "rms_norm"),
    (nb07.check_top_k, "top_k", "a transformers warper imported inside the function",
     "def top_k(logits, k):\n    from transformers import TopKLogitsWarper\n"
     "    return TopKLogitsWarper(top_k=k, filter_value=float('-inf'))(None, logits.clone())",
     "TopKLogitsWarper"),
]


@pytest.mark.parametrize("check, name, label, code, named", CHEATS, ids=[c[2] for c in CHEATS])
def test_a_forbidden_shortcut_fails_whatever_its_spelling(check, name, label, code, named) -> None:
    fn = run_code(SETUP + code)[name]
    result = check(fn)
    assert result.status == "fail", (label, result)
    assert named in result.message, (label, result.message)


def test_the_trap_is_gone_after_the_check() -> None:
    import torch
    nb03.check_causal_average(run_code(SETUP + CHEATS[2][3])["causal_average"])
    assert torch.cumsum(torch.ones(3), 0).tolist() == [1.0, 2.0, 3.0]
    assert torch.ones(2).numpy().tolist() == [1.0, 1.0]
    assert not torch._C._len_torch_function_stack() and not torch._C._len_torch_dispatch_stack()


def test_a_trapped_classmethod_or_inherited_method_is_put_back_as_it_was() -> None:
    from glmlib.exercises.checking import Shortcut, forbid

    class Base:
        def greet(self) -> str:
            return "base"

    class Child(Base):
        @classmethod
        def make(cls) -> "Child":
            return cls()

    raw = vars(Child)["make"]
    with forbid([Shortcut(Child, "make", "Child.make", ""), Shortcut(Child, "greet", "Child.greet", "")]):
        pass
    assert vars(Child)["make"] is raw and isinstance(raw, classmethod)
    assert "greet" not in vars(Child) and Child().greet() == "base"
