"""Wrong answers a learner might write for notebook 05, by question."""
SETUP = ("import math\n"
         "import torch\n"
         "import torch.nn.functional as F\n"
         "from torch import nn\n"
         "import glmlib.exercises.decoder as ex\n"
         "from glmlib.model import GPT, Block, GPTConfig\n")

_COUNT = ("def param_count(vocab_size, block_size, n_layer, n_embd, bias=True):\n"
          "    V, T, L, C = vocab_size, block_size, n_layer, n_embd\n"
          "    ln = {ln}\n"
          "    attn = 4 * C * C + (4 * C if bias else 0)\n"
          "    ffn = 8 * C * C + (5 * C if bias else 0)\n"
          "    return {total}\n")


def _count(ln: str = "2 * C if bias else C", total: str = "V * C + T * C + L * (2 * ln + attn + ffn) + ln") -> str:
    return _COUNT.format(ln=ln, total=total)


_RMS = ("def rms_norm(x, weight, eps=1e-6):\n"
        "    return {expr}\n")

WRONG = {
    "q05_block_writes": {
        "post-LN wiring": (
            "def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    a = attn(x)\n"
            "    h = ln_1(x + a)\n"
            "    f = ffn(h)\n"
            "    return ln_2(h + f), a, f\n",
            "looks like post-LN wiring"),
        "no residual connections": (
            "def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    a = attn(ln_1(x))\n"
            "    f = ffn(ln_2(a))\n"
            "    return f, a, f\n",
            "residual connections are missing"),
        "the FFN reads the block's input": (
            "def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    a = attn(ln_1(x))\n"
            "    f = ffn(ln_2(x))\n"
            "    return x + a + f, a, f\n",
            "reads the block's input"),
        "no LayerNorms": (
            "def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    a = attn(x)\n"
            "    f = ffn(x + a)\n"
            "    return x + a + f, a, f\n",
            "read the raw stream"),
        "LayerNorms swapped": (
            "def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    a = attn(ln_2(x))\n"
            "    f = ffn(ln_1(x + a))\n"
            "    return x + a + f, a, f\n",
            "swapped"),
        "the second residual forgotten": (
            "def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    a = attn(ln_1(x))\n"
            "    f = ffn(ln_2(x + a))\n"
            "    return x + f, a, f\n",
            "both writes are right but the output is not"),
        "only the output returned": (
            "def pre_ln_block(x, attn, ffn, ln_1, ln_2):\n"
            "    x = x + attn(ln_1(x))\n"
            "    return x + ffn(ln_2(x))\n",
            "return three tensors"),
    },
    "q05_param_count": {
        "the tied output layer counted again": (
            _count(total="V * C + T * C + L * (2 * ln + attn + ffn) + ln + V * C"),
            "weight tying"),
        "the bias flag ignored": (
            "def param_count(vocab_size, block_size, n_layer, n_embd, bias=True):\n"
            "    V, T, L, C = vocab_size, block_size, n_layer, n_embd\n"
            "    return V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C\n",
            "flag is ignored"),
        "LayerNorm shift kept without biases": (
            _count(ln="2 * C"),
            "lose their shift beta too"),
        "LayerNorm gain dropped without biases": (
            _count(ln="2 * C if bias else 0"),
            "keep their gain gamma"),
        "final LayerNorm forgotten": (
            _count(total="V * C + T * C + L * (2 * ln + attn + ffn)"),
            "final LayerNorm"),
        "position embedding forgotten": (
            _count(total="V * C + L * (2 * ln + attn + ffn) + ln"),
            "position embedding"),
        "counted by building the model": (
            "def param_count(vocab_size, block_size, n_layer, n_embd, bias=True):\n"
            "    cfg = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer,\n"
            "                    n_embd=n_embd, n_head=1, bias=bias)\n"
            "    return GPT(cfg).num_params()\n",
            "glmlib.model.GPTConfig"),
    },
    "q05_rms_norm": {
        "the mean subtracted (LayerNorm)": (
            _RMS.format(expr="(x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, "
                             "unbiased=False) + eps) * weight"),
            "that is layernorm"),
        "eps outside the square root": (
            _RMS.format(expr="x / (torch.sqrt((x ** 2).mean(-1, keepdim=True)) + eps) * weight"),
            "eps is added outside the square root"),
        "the square root of the sum": (
            _RMS.format(expr="x / torch.sqrt((x ** 2).sum(-1, keepdim=True) + eps) * weight"),
            "sum of squares"),
        "the wrong axis": (
            _RMS.format(expr="x / torch.sqrt((x ** 2).mean(0, keepdim=True) + eps) * weight"),
            "first axis"),
        "mean over the whole tensor": (
            _RMS.format(expr="x / torch.sqrt((x ** 2).mean() + eps) * weight"),
            "whole tensor"),
        "no eps": (
            _RMS.format(expr="x / torch.sqrt((x ** 2).mean(-1, keepdim=True)) * weight"),
            "eps is missing"),
        "the default eps, not the argument": (
            _RMS.format(expr="x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + 1e-6) * weight"),
            "not the one passed in"),
        "the gain forgotten": (
            _RMS.format(expr="x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + eps)"),
            "gain `weight` is not applied"),
        "divided by the standard deviation": (
            _RMS.format(expr="x / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps) * weight"),
            "standard deviation"),
        "x.var() for the mean square": (
            _RMS.format(expr="x / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight"),
            "`x.var()`, the variance"),
        "x.var() of the whole tensor": (
            _RMS.format(expr="x / torch.sqrt(x.var() + eps) * weight"),
            "`x.var()` of the whole tensor"),
        "PyTorch's RMSNorm": (
            _RMS.format(expr="F.rms_norm(x, (x.shape[-1],), weight, eps)"),
            "F.rms_norm"),
    },
}
