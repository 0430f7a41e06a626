"""Wrong answers a learner might write for notebook 08, by question."""
SETUP = (
    "import math\nimport torch\nimport torch.nn.functional as F\nimport glmlib.exercises.inference as ex\n"
    "# a cheap stand-in for the notebook's state: attention maps (L, H, T, T) of a short text\n"
    "L, H, T = 2, 3, 12\n"
    "_g = torch.Generator().manual_seed(0)\n"
    "idx = torch.randint(0, 4, (1, T), generator=_g)\n"
    "_future = ~torch.ones(T, T, dtype=torch.bool).tril()\n"
    "maps = torch.softmax(torch.randn(L, H, T, T, generator=_g).masked_fill(_future, float('-inf')), dim=-1)\n"
)
WRONG = {
    "q08_same_char_score": {
        "counts the query's own position (j <= i)": (
            "def same_char_score(weights, ids):\n"
            "    T = ids.shape[0]\n"
            "    mask = (ids[:, None] == ids[None, :]) & torch.ones(T, T, dtype=torch.bool).tril()\n"
            "    return (weights * mask).sum(-1)[..., 1:].mean(-1)\n",
            "own position"),
        "averages over all T queries, query 0 included": (
            "def same_char_score(weights, ids):\n"
            "    T = ids.shape[0]\n"
            "    mask = (ids[:, None] == ids[None, :]) & torch.ones(T, T, dtype=torch.bool).tril(-1)\n"
            "    return (weights * mask).sum(-1).mean(-1)\n",
            "all T queries"),
        "counts keys above the diagonal (the future)": (
            "def same_char_score(weights, ids):\n"
            "    T = ids.shape[0]\n"
            "    mask = (ids[:, None] == ids[None, :]) & torch.ones(T, T, dtype=torch.bool).triu(1)\n"
            "    return (weights * mask).sum(-1)[..., 1:].mean(-1)\n",
            "*below* the diagonal"),
        "counts only the latest earlier copy": (
            "def same_char_score(weights, ids):\n"
            "    T = ids.shape[0]\n"
            "    per_query = torch.zeros(weights.shape[:-1])\n"
            "    for i in range(1, T):\n"
            "        earlier = [j for j in range(i) if ids[j] == ids[i]]\n"
            "        if earlier:\n"
            "            per_query[..., i] = weights[..., i, earlier[-1]]\n"
            "    return per_query[..., 1:].mean(-1)\n",
            "latest earlier copy"),
        "returns a Python float": (
            "def same_char_score(weights, ids):\n"
            "    T = ids.shape[0]\n"
            "    mask = (ids[:, None] == ids[None, :]) & torch.ones(T, T, dtype=torch.bool).tril(-1)\n"
            "    return (weights * mask).sum(-1)[..., 1:].mean(-1).sum().item()\n",
            "Python float"),
    },
    "q08_window_start": {
        "slides one token at a time": (
            "def my_window_start(length, block_size):\n"
            "    return max(0, length - block_size)\n",
            "slides one token at a time"),
        "restarts one token early (>= instead of >)": (
            "def my_window_start(length, block_size):\n"
            "    keep, start = max(1, block_size // 2), 0\n"
            "    for n in range(1, length + 1):\n"
            "        if n - start >= block_size:\n"
            "            start = n - keep\n"
            "    return start\n",
            "(>, not >=)"),
        "returns the length of the context": (
            "def my_window_start(length, block_size):\n"
            "    keep, start = max(1, block_size // 2), 0\n"
            "    for n in range(1, length + 1):\n"
            "        if n - start > block_size:\n"
            "            start = n - keep\n"
            "    return length - start\n",
            "length of the context"),
        "keeps block_size // 2 tokens, none for block_size 1": (
            "def my_window_start(length, block_size):\n"
            "    keep, start = block_size // 2, 0\n"
            "    for n in range(1, length + 1):\n"
            "        if n - start > block_size:\n"
            "            start = n - keep\n"
            "    return start\n",
            "max(1, block_size // 2)"),
    },
    "q08_window_step": {
        "keeps window + 1 entries": (
            "def window_step(cache_k, cache_v, q, k, v, window):\n"
            "    cache_k = torch.cat([cache_k, k], dim=-2)[..., -(window + 1):, :]\n"
            "    cache_v = torch.cat([cache_v, v], dim=-2)[..., -(window + 1):, :]\n"
            "    w = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)\n"
            "    return w @ cache_v, cache_k, cache_v\n",
            "window + 1 = "),
        "keeps window - 1 entries": (
            "def window_step(cache_k, cache_v, q, k, v, window):\n"
            "    cache_k = torch.cat([cache_k, k], dim=-2)[..., -(window - 1):, :]\n"
            "    cache_v = torch.cat([cache_v, v], dim=-2)[..., -(window - 1):, :]\n"
            "    w = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)\n"
            "    return w @ cache_v, cache_k, cache_v\n",
            "window - 1 = "),
        "drops the newest entry instead of the oldest": (
            "def window_step(cache_k, cache_v, q, k, v, window):\n"
            "    cache_k = torch.cat([cache_k, k], dim=-2)[..., :window, :]\n"
            "    cache_v = torch.cat([cache_v, v], dim=-2)[..., :window, :]\n"
            "    w = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)\n"
            "    return w @ cache_v, cache_k, cache_v\n",
            "*oldest*"),
        "attends before appending the new key": (
            "def window_step(cache_k, cache_v, q, k, v, window):\n"
            "    w = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)\n"
            "    out = w @ cache_v\n"
            "    cache_k = torch.cat([cache_k, k], dim=-2)[..., -window:, :]\n"
            "    cache_v = torch.cat([cache_v, v], dim=-2)[..., -window:, :]\n"
            "    return out, cache_k, cache_v\n",
            "*before* attending"),
        "attends before trimming (window + 1 keys)": (
            "def window_step(cache_k, cache_v, q, k, v, window):\n"
            "    cache_k = torch.cat([cache_k, k], dim=-2)\n"
            "    cache_v = torch.cat([cache_v, v], dim=-2)\n"
            "    w = torch.softmax(q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)\n"
            "    return w @ cache_v, cache_k[..., -window:, :], cache_v[..., -window:, :]\n",
            "trim the cache"),
        "PyTorch's SDPA with is_causal=True on the one new query": (
            "def window_step(cache_k, cache_v, q, k, v, window):\n"
            "    cache_k = torch.cat([cache_k, k], dim=-2)[..., -window:, :]\n"
            "    cache_v = torch.cat([cache_v, v], dim=-2)[..., -window:, :]\n"
            "    out = F.scaled_dot_product_attention(q, cache_k, cache_v, is_causal=True)\n"
            "    return out, cache_k, cache_v\n",
            "aligns its causal mask to the top left"),
        "forgets to divide by sqrt(D)": (
            "def window_step(cache_k, cache_v, q, k, v, window):\n"
            "    cache_k = torch.cat([cache_k, k], dim=-2)[..., -window:, :]\n"
            "    cache_v = torch.cat([cache_v, v], dim=-2)[..., -window:, :]\n"
            "    return torch.softmax(q @ cache_k.transpose(-2, -1), dim=-1) @ cache_v, cache_k, cache_v\n",
            "sqrt(D)"),
    },
}
