"""Wrong answers a learner might write for notebook 03, by question."""
SETUP = ("import torch\n"
         "import torch.nn.functional as F\n"
         "import glmlib.exercises.masks as ex\n"
         "from glmlib import masks\n"
         "from glmlib.attention import scaled_dot_product_attention\n")

WRONG = {
    "q03_local_mask": {
        "triu: the window looks ahead": (
            "def local_causal_mask(T, window):\n"
            "    ones = torch.ones(T, T, dtype=torch.bool)\n"
            "    return ones.triu() & ~ones.triu(window)\n",
            "see the future"),
        "one key too many (j >= i - window)": (
            "def local_causal_mask(T, window):\n"
            "    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]\n"
            "    return (j <= i) & (j >= i - window)\n",
            "off-by-one in the window"),
        "the window ignored": (
            "def local_causal_mask(T, window):\n"
            "    return torch.ones(T, T, dtype=torch.bool).tril()\n",
            "plain causal mask"),
        "the diagonal blocked": (
            "def local_causal_mask(T, window):\n"
            "    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]\n"
            "    return (j < i) & (j >= i - window)\n",
            "see itself"),
        "a window on both sides": (
            "def local_causal_mask(T, window):\n"
            "    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]\n"
            "    return (i - j).abs() < window\n",
            "see the future"),
        "glmlib.masks used": (
            "def local_causal_mask(T, window):\n"
            "    return masks.causal_mask(T) & ~masks.causal_mask(T).tril(-window)\n",
            "glmlib.masks.causal_mask"),
        "an int mask": (
            "def local_causal_mask(T, window):\n"
            "    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]\n"
            "    return ((j <= i) & (j > i - window)).int()\n",
            "return a bool tensor"),
    },
    "q03_padded_additive": {
        "padding ignored": (
            "def padded_causal_additive(lengths, T):\n"
            "    allowed = torch.ones(len(lengths), T, T, dtype=torch.bool).tril()\n"
            "    return torch.zeros(allowed.shape).masked_fill(~allowed, float('-inf'))\n",
            "padded key"),
        "padding applied to the queries": (
            "def padded_causal_additive(lengths, T):\n"
            "    pos = torch.arange(T)\n"
            "    real = pos[None, :] < torch.tensor(lengths)[:, None]\n"
            "    allowed = (pos[None, :] <= pos[:, None])[None] & real[:, :, None]\n"
            "    return torch.zeros(allowed.shape).masked_fill(~allowed, float('-inf'))\n",
            "not queries"),
        "-1e9 instead of -inf": (
            "def padded_causal_additive(lengths, T):\n"
            "    pos = torch.arange(T)\n"
            "    real = pos[None, :] < torch.tensor(lengths)[:, None]\n"
            "    allowed = (pos[None, :] <= pos[:, None])[None] & real[:, None, :]\n"
            "    return torch.zeros(allowed.shape).masked_fill(~allowed, -1e9)\n",
            "large finite number"),
        "0 and -inf swapped": (
            "def padded_causal_additive(lengths, T):\n"
            "    pos = torch.arange(T)\n"
            "    real = pos[None, :] < torch.tensor(lengths)[:, None]\n"
            "    allowed = (pos[None, :] <= pos[:, None])[None] & real[:, None, :]\n"
            "    return torch.zeros(allowed.shape).masked_fill(allowed, float('-inf'))\n",
            "swapped"),
        "causal part transposed: a mask that blocks the past": (
            "def padded_causal_additive(lengths, T):\n"
            "    real = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]\n"
            "    allowed = torch.ones(T, T, dtype=torch.bool).triu()[None] & real[:, None, :]\n"
            "    return torch.zeros(allowed.shape).masked_fill(~allowed, float('-inf'))\n",
            "blocks the past"),
        "the diagonal blocked (j < i)": (
            "def padded_causal_additive(lengths, T):\n"
            "    pos = torch.arange(T)\n"
            "    real = pos[None, :] < torch.tensor(lengths)[:, None]\n"
            "    allowed = (pos[None, :] < pos[:, None])[None] & real[:, None, :]\n"
            "    return torch.zeros(allowed.shape).masked_fill(~allowed, float('-inf'))\n",
            "the query's own position"),
        "glmlib.masks used": (
            "def padded_causal_additive(lengths, T):\n"
            "    return masks.to_additive(masks.causal_mask(T) & masks.padding_mask(lengths, T))\n",
            "glmlib.masks"),
    },
    "q03_causal_average": {
        "averaging over all T": (
            "def causal_average(x):\n"
            "    T = x.shape[1]\n"
            "    return torch.full((T, T), 1.0 / T) @ x\n",
            "is the mask letting queries see the future"),
        "rows not normalised": (
            "def causal_average(x):\n"
            "    T = x.shape[1]\n"
            "    return torch.ones(T, T).tril() @ x\n",
            "not divided by how many they pick"),
        "divided by T instead of i + 1": (
            "def causal_average(x):\n"
            "    T = x.shape[1]\n"
            "    return (torch.ones(T, T).tril() / T) @ x\n",
            "divided every row by T"),
        "the future instead of the past": (
            "def causal_average(x):\n"
            "    T = x.shape[1]\n"
            "    ones = torch.ones(T, T).triu()\n"
            "    return (ones / ones.sum(-1, keepdim=True)) @ x\n",
            "is the mask letting queries see the future"),
        "cumsum instead of a matrix": (
            "def causal_average(x):\n"
            "    T = x.shape[1]\n"
            "    return x.cumsum(dim=1) / torch.arange(1, T + 1)[:, None]\n",
            "Tensor.cumsum"),
        "attention with equal scores": (
            "def causal_average(x):\n"
            "    zeros = torch.zeros(*x.shape[:-1], 1)\n"
            "    return scaled_dot_product_attention(zeros, zeros, x, masks.causal_mask(x.shape[1]))[0]\n",
            "glmlib.attention.scaled_dot_product_attention"),
    },
}
