"""Wrong answers a learner might write for notebook 04, by question."""
SETUP = ("import math\n"
         "import torch\n"
         "import torch.nn.functional as F\n"
         "from torch import nn\n"
         "import glmlib.exercises.attention as ex\n"
         "from glmlib.attention import MultiHeadAttention, scaled_dot_product_attention\n")

_SPLIT = ("def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):\n"
          "    B, T, C = x.shape\n"
          "    D = C // n_head\n"
          "    q, k, v = ({split} for W in (W_q, W_k, W_v))\n"
          "    out = F.scaled_dot_product_attention(q, k, v, is_causal={causal}{scale})\n"
          "    return {merge} @ {W_o}\n")


def _mha(split: str = "(x @ {W}).view(B, T, n_head, D).transpose(1, 2)", causal: str = "True", scale: str = "",
         merge: str = "out.transpose(1, 2).reshape(B, T, C)", W: str = "W", W_o: str = "W_o") -> str:
    return _SPLIT.format(split=split.format(W=W), causal=causal, scale=scale, merge=merge, W_o=W_o)


_HEAD = ("def previous_char_head(T, V):\n"
         "    s = {s}\n"
         "    W_q = torch.zeros(T + V, T)\n"
         "    W_q[:T] = s * torch.eye(T)\n"
         "    W_k = torch.zeros(T + V, T)\n"
         "    W_k[:T] = {keys}\n"
         "    W_v = torch.zeros(T + V, V)\n"
         "    {values}\n"
         "    return W_q, W_k, W_v\n")


def _head(s: str = "10.0", keys: str = "s * torch.diag(torch.ones(T - 1), diagonal=1)",
          values: str = "W_v[T:] = torch.eye(V)") -> str:
    return _HEAD.format(s=s, keys=keys, values=values)


WRONG = {
    "q04_softmax": {
        "exp without subtracting the row max": (
            "def softmax(x):\n"
            "    return torch.exp(x) / torch.exp(x).sum(dim=-1, keepdim=True)\n",
            "overflows"),
        "normalised over the whole tensor": (
            "def softmax(x):\n"
            "    e = torch.exp(x - x.max())\n"
            "    return e / e.sum()\n",
            "normalised over the whole tensor"),
        "the global max subtracted": (
            "def softmax(x):\n"
            "    e = torch.exp(x - x.max())\n"
            "    return e / e.sum(dim=-1, keepdim=True)\n",
            "each row's own maximum"),
        "max without keepdim": (
            "def softmax(x):\n"
            "    e = torch.exp(x - x.max(dim=-1).values)\n"
            "    return e / e.sum(dim=-1, keepdim=True)\n",
            "broadcast along the wrong axis"),
        "torch.softmax": (
            "def softmax(x):\n"
            "    return torch.softmax(x, dim=-1)\n",
            "torch.softmax"),
        "Tensor.softmax": (
            "def softmax(x):\n"
            "    return x.softmax(-1)\n",
            "Tensor.softmax"),
        "F.softmax": (
            "def softmax(x):\n"
            "    return F.softmax(x, dim=-1)\n",
            "F.softmax"),
    },
    "q04_attention": {
        "no 1/sqrt(d_k)": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(-2, -1)\n"
            "    if mask is not None:\n"
            "        s = s.masked_fill(~mask, float('-inf'))\n"
            "    return torch.softmax(s, dim=-1) @ v\n",
            "not scaled"),
        "divided by d_k": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(-2, -1) / q.shape[-1]\n"
            "    if mask is not None:\n"
            "        s = s.masked_fill(~mask, float('-inf'))\n"
            "    return torch.softmax(s, dim=-1) @ v\n",
            "divided by d_k"),
        "scaled by sqrt(d_v)": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1])\n"
            "    if mask is not None:\n"
            "        s = s.masked_fill(~mask, float('-inf'))\n"
            "    return torch.softmax(s, dim=-1) @ v\n",
            "sqrt(d_v)"),
        "scaled after the softmax": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(-2, -1)\n"
            "    if mask is not None:\n"
            "        s = s.masked_fill(~mask, float('-inf'))\n"
            "    return torch.softmax(s, dim=-1) / math.sqrt(q.shape[-1]) @ v\n",
            "scaled after the softmax"),
        "output divided by sqrt(d_k)": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(-2, -1)\n"
            "    if mask is not None:\n"
            "        s = s.masked_fill(~mask, float('-inf'))\n"
            "    return torch.softmax(s, dim=-1) @ v / math.sqrt(k.shape[-1])\n",
            "scaled after the softmax"),
        "softmax over the queries": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])\n"
            "    if mask is not None:\n"
            "        s = s.masked_fill(~mask, float('-inf'))\n"
            "    return torch.softmax(s, dim=-2) @ v\n",
            "runs over the queries"),
        "-inf written into the weights after the softmax": (
            "def attention(q, k, v, mask=None):\n"
            "    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)\n"
            "    if mask is not None:\n"
            "        w = w.masked_fill(~mask, float('-inf'))\n"
            "    return w @ v\n",
            "into the attention *weights*"),
        "an additive mask added to the weights": (
            "def attention(q, k, v, mask=None):\n"
            "    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)\n"
            "    if mask is not None:\n"
            "        w = w + torch.zeros(mask.shape).masked_fill(~mask, float('-inf'))\n"
            "    return w @ v\n",
            "into the attention *weights*"),
        "mask ignored": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])\n"
            "    return torch.softmax(s, dim=-1) @ v\n",
            "mask is ignored"),
        "mask polarity flipped": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])\n"
            "    if mask is not None:\n"
            "        s = s.masked_fill(mask, float('-inf'))\n"
            "    return torch.softmax(s, dim=-1) @ v\n",
            "polarity is flipped"),
        "mask applied after the softmax": (
            "def attention(q, k, v, mask=None):\n"
            "    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)\n"
            "    if mask is not None:\n"
            "        w = w * mask\n"
            "    return w @ v\n",
            "after the softmax"),
        "k.T on a batch": (
            "def attention(q, k, v, mask=None):\n"
            "    s = q @ k.T / math.sqrt(q.shape[-1])\n"
            "    if mask is not None:\n"
            "        s = s.masked_fill(~mask, float('-inf'))\n"
            "    return torch.softmax(s, dim=-1) @ v\n",
            "k.transpose(-2, -1)"),
        "PyTorch's fused attention": (
            "def attention(q, k, v, mask=None):\n"
            "    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)\n",
            "F.scaled_dot_product_attention"),
        "glmlib's attention, imported by name": (
            "def attention(q, k, v, mask=None):\n"
            "    return scaled_dot_product_attention(q, k, v, mask)[0]\n",
            "glmlib.attention.scaled_dot_product_attention"),
    },
    "q04_multi_head": {
        "reshape-only head split": (
            _mha(split="(x @ {W}).reshape(B, n_head, T, D)", merge="out.reshape(B, T, C)"),
            "heads mix positions"),
        "reshape-only split, right merge": (
            _mha(split="(x @ {W}).reshape(B, n_head, T, D)"),
            "split mixes positions"),
        "merge without the transpose": (
            _mha(merge="out.reshape(B, T, C)"),
            "merge is not"),
        "heads never transposed in front of the time axis": (
            _mha(split="(x @ {W}).view(B, T, n_head, D)", merge="out.reshape(B, T, C)"),
            "never moved in front of the time axis"),
        "heads transposed only when merging": (
            _mha(split="(x @ {W}).view(B, T, n_head, D)"),
            "never moved in front of the time axis"),
        "a mask that blocks the past (upper triangle)": (
            _mha(causal="False, attn_mask=torch.ones(T, T, dtype=torch.bool).triu()"),
            "blocks the past"),
        "the blocked-keys mask passed as allowed (triu(1))": (
            _mha(causal="False, attn_mask=torch.ones(T, T, dtype=torch.bool).triu(1)"),
            "see only the future"),
        "a hand-written mask that blocks the diagonal": (
            "def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):\n"
            "    B, T, C = x.shape\n"
            "    D = C // n_head\n"
            "    q = (x @ W_q).view(B, T, n_head, D).transpose(1, 2)\n"
            "    k = (x @ W_k).view(B, T, n_head, D).transpose(1, 2)\n"
            "    v = (x @ W_v).view(B, T, n_head, D).transpose(1, 2)\n"
            "    s = q @ k.transpose(-2, -1) / math.sqrt(D)\n"
            "    s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(), float('-inf'))\n"
            "    out = torch.softmax(s, dim=-1) @ v\n"
            "    return out.transpose(1, 2).reshape(B, T, C) @ W_o\n",
            "blocks the diagonal"),
        "scaled by sqrt(C)": (
            _mha(scale=", scale=1 / math.sqrt(C)"),
            "sqrt(C)"),
        "no causal mask": (
            _mha(causal="False"),
            "no causal mask"),
        "W_o forgotten": (
            _mha(W_o="torch.eye(C)"),
            "W_o is missing"),
        "weights used as in nn.Linear": (
            _mha(W="W.T", W_o="W_o.T"),
            "transposed"),
        "PyTorch's module": (
            "def multi_head_attention(x, W_q, W_k, W_v, W_o, n_head):\n"
            "    C = x.shape[-1]\n"
            "    mha = nn.MultiheadAttention(C, n_head, bias=False, batch_first=True)\n"
            "    return mha(x, x, x)[0]\n",
            "nn.MultiheadAttention"),
    },
    "q04_previous_char_head": {
        "attends to the current position": (
            _head(keys="s * torch.eye(T)"),
            "the current position"),
        "looks for the next position": (
            _head(keys="s * torch.diag(torch.ones(T - 1), diagonal=-1)"),
            "next position"),
        "scale too small": (
            _head(s="1.0"),
            "too close together"),
        "ignores the positions": (
            _head(keys="0.0"),
            "spreads its weight evenly"),
        "values read the positions": (
            _head(values="W_v[:V] = torch.eye(V)"),
            "w_v must copy the character channels"),
        "W_v of the wrong shape": (
            _head(values="W_v = torch.eye(T + V)"),
            "w_v must have shape"),
    },
}
