"""Wrong answers a learner might write for notebook 02, by question."""
SETUP = (
    "import torch\nimport torch.nn.functional as F\nimport glmlib.exercises.tokens as ex\n"
    "# a small stand-in for the notebook's training text (speeches end with a blank line)\n"
    "train_text = 'ROMEO:\\nBut soft, what light through yonder window breaks?\\n\\nJULIET:\\nAy me!\\n\\n' * 20\n"
)
WRONG = {
    "q02_encode_with_unk": {
        "unknown characters dropped": (
            "def encode_with_unk(text, stoi, unk_id):\n"
            "    ids = [stoi[c] for c in text if c in stoi]\n"
            "    unknown = []\n"
            "    for c in text:\n"
            "        if c not in stoi and c not in unknown:\n"
            "            unknown.append(c)\n"
            "    return ids, unknown\n", "shorter than the text"),
        "each occurrence reported": (
            "def encode_with_unk(text, stoi, unk_id):\n"
            "    return [stoi.get(c, unk_id) for c in text], [c for c in text if c not in stoi]\n",
            "once for every time it occurs"),
        "sorted instead of first appearance": (
            "def encode_with_unk(text, stoi, unk_id):\n"
            "    return [stoi.get(c, unk_id) for c in text], sorted(set(c for c in text if c not in stoi))\n",
            "wrong order"),
        "a set has no order": (
            "def encode_with_unk(text, stoi, unk_id):\n"
            "    return [stoi.get(c, unk_id) for c in text], {c for c in text if c not in stoi}\n",
            "a set has no order"),
        "float ids": (
            "def encode_with_unk(text, stoi, unk_id):\n"
            "    ids = torch.tensor([stoi.get(c, unk_id) for c in text], dtype=torch.float32)\n"
            "    return ids, list(dict.fromkeys(c for c in text if c not in stoi))\n", "token ids are integers"),
        "len(stoi) as the unknown id": (
            "def encode_with_unk(text, stoi, unk_id):\n"
            "    ids = [stoi.get(c, len(stoi)) for c in text]\n"
            "    return ids, list(dict.fromkeys(c for c in text if c not in stoi))\n", "not len(stoi)"),
    },
    "q02_context_target_pairs": {
        "block_size ignored": (
            "def context_target_pairs(ids, block_size):\n"
            "    return [(ids[:t], ids[t]) for t in range(1, len(ids))]\n", "grow past block_size"),
        "negative slice start": (
            "def context_target_pairs(ids, block_size):\n"
            "    return [(ids[t - block_size:t], ids[t]) for t in range(1, len(ids))]\n", "negative"),
        "one token too many": (
            "def context_target_pairs(ids, block_size):\n"
            "    return [(ids[max(0, t - block_size - 1):t], ids[t]) for t in range(1, len(ids))]\n",
            "block_size + 1 tokens"),
        "the first tokens instead of the last": (
            "def context_target_pairs(ids, block_size):\n"
            "    return [(ids[:min(t, block_size)], ids[t]) for t in range(1, len(ids))]\n", "*first* tokens"),
        "an empty context for ids[0]": (
            "def context_target_pairs(ids, block_size):\n"
            "    return [(ids[max(0, t - block_size):t], ids[t]) for t in range(len(ids))]\n", "empty context"),
        "float targets": (
            "def context_target_pairs(ids, block_size):\n"
            "    return [(ids[max(0, t - block_size):t], float(ids[t])) for t in range(1, len(ids))]\n",
            "token ids are integers"),
        "the context includes the target": (
            "def context_target_pairs(ids, block_size):\n"
            "    return [(ids[max(0, t - block_size):t + 1], ids[t]) for t in range(1, len(ids))]\n",
            "include the target itself"),
    },
    "q02_doc_batch": {
        "boundaries ignored (get_batch)": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    starts = list(range(len(data) - block_size))\n"
            "    s = torch.tensor(starts)[torch.randint(len(starts), (batch_size,), generator=generator)]\n"
            "    idx = s[:, None] + torch.arange(block_size)\n"
            "    return data[idx], data[idx + 1]\n", "ignore the document boundaries"),
        "y may run one token past the document": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    starts, offset = [], 0\n"
            "    for n in doc_lengths:\n"
            "        starts += range(offset, offset + n - block_size + 1)\n"
            "        offset += n\n"
            "    s = torch.tensor(starts)[torch.randint(len(starts), (batch_size,), generator=generator)]\n"
            "    idx = s[:, None] + torch.arange(block_size)\n"
            "    return data[idx], data[idx + 1]\n", "ran past the end of the data"),
        "the last window of each document left out": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    starts, offset = [], 0\n"
            "    for n in doc_lengths:\n"
            "        starts += range(offset, offset + n - block_size - 1)\n"
            "        offset += n\n"
            "    if not starts:\n"
            "        raise ValueError('no window')\n"
            "    s = torch.tensor(starts)[torch.randint(len(starts), (batch_size,), generator=generator)]\n"
            "    idx = s[:, None] + torch.arange(block_size)\n"
            "    return data[idx], data[idx + 1]\n", "left out the last window"),
        "starts counted inside each document": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    starts = [s for n in doc_lengths for s in range(n - block_size)]\n"
            "    if not starts:\n"
            "        raise ValueError('no window')\n"
            "    s = torch.tensor(starts)[torch.randint(len(starts), (batch_size,), generator=generator)]\n"
            "    idx = s[:, None] + torch.arange(block_size)\n"
            "    return data[idx], data[idx + 1]\n", "counted from the beginning of each document"),
        "y not shifted": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    starts, offset = [], 0\n"
            "    for n in doc_lengths:\n"
            "        starts += range(offset, offset + n - block_size)\n"
            "        offset += n\n"
            "    if not starts:\n"
            "        raise ValueError('no window')\n"
            "    s = torch.tensor(starts)[torch.randint(len(starts), (batch_size,), generator=generator)]\n"
            "    idx = s[:, None] + torch.arange(block_size)\n"
            "    return data[idx], data[idx]\n", "not x[0] shifted by one"),
        "a document picked first, then a start": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    docs, offset = [], 0\n"
            "    for n in doc_lengths:\n"
            "        if n > block_size:\n"
            "            docs.append((offset, n))\n"
            "        offset += n\n"
            "    if not docs:\n"
            "        raise ValueError('no window')\n"
            "    xs, ys = [], []\n"
            "    for _ in range(batch_size):\n"
            "        o, n = docs[int(torch.randint(len(docs), (1,), generator=generator))]\n"
            "        s = o + int(torch.randint(n - block_size, (1,), generator=generator))\n"
            "        xs.append(data[s:s + block_size])\n"
            "        ys.append(data[s + 1:s + block_size + 1])\n"
            "    return torch.stack(xs), torch.stack(ys)\n", "not the windows the prescribed draw picks"),
        "float token ids (windows gathered into a float tensor)": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    starts, offset = [], 0\n"
            "    for n in doc_lengths:\n"
            "        starts += range(offset, offset + n - block_size)\n"
            "        offset += n\n"
            "    if not starts:\n"
            "        raise ValueError('no window')\n"
            "    s = torch.tensor(starts)[torch.randint(len(starts), (batch_size,), generator=generator)]\n"
            "    x, y = torch.zeros(batch_size, block_size), torch.zeros(batch_size, block_size)\n"
            "    for b in range(batch_size):\n"
            "        x[b] = data[s[b]:s[b] + block_size]\n"
            "        y[b] = data[s[b] + 1:s[b] + block_size + 1]\n"
            "    return x, y\n", "keep data's dtype"),
        "the list of starts indexed with a tensor": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    starts, offset = [], 0\n"
            "    for n in doc_lengths:\n"
            "        starts += range(offset, offset + n - block_size)\n"
            "        offset += n\n"
            "    if not starts:\n"
            "        raise ValueError('no window')\n"
            "    pick = torch.randint(len(starts), (batch_size,), generator=generator)\n"
            "    s = starts[pick]\n"
            "    idx = s[:, None] + torch.arange(block_size)\n"
            "    return data[idx], data[idx + 1]\n", "make `starts` a tensor first"),
        "no ValueError when no window fits": (
            "def doc_batch(data, doc_lengths, batch_size, block_size, generator):\n"
            "    starts, offset = [], 0\n"
            "    for n in doc_lengths:\n"
            "        starts += range(offset, offset + n - block_size)\n"
            "        offset += n\n"
            "    pick = torch.randint(len(starts), (batch_size,), generator=generator)\n"
            "    s = torch.tensor(starts, dtype=torch.long)[pick]\n"
            "    idx = s[:, None] + torch.arange(block_size)\n"
            "    return data[idx], data[idx + 1]\n", "raise a ValueError"),
    },
    "q02_embedding_grad": {
        "repeated ids overwrite": (
            "def embedding_grad(ids, grad_out, vocab_size):\n"
            "    grad = torch.zeros(vocab_size, grad_out.shape[-1])\n"
            "    grad[ids.reshape(-1)] += grad_out.reshape(-1, grad_out.shape[-1])\n"
            "    return grad\n", "*sum* of the gradients"),
        "averaged over occurrences": (
            "def embedding_grad(ids, grad_out, vocab_size):\n"
            "    one_hot = F.one_hot(ids.reshape(-1), vocab_size).float()\n"
            "    total = one_hot.T @ grad_out.reshape(-1, grad_out.shape[-1])\n"
            "    return total / one_hot.sum(dim=0).clamp_min(1)[:, None]\n", "averaged"),
        "one table per sequence": (
            "def embedding_grad(ids, grad_out, vocab_size):\n"
            "    one_hot = F.one_hot(ids, vocab_size).float()\n"
            "    return one_hot.transpose(-1, -2) @ grad_out\n", "one gradient table per sequence"),
        "transposed": (
            "def embedding_grad(ids, grad_out, vocab_size):\n"
            "    one_hot = F.one_hot(ids.reshape(-1), vocab_size).float()\n"
            "    return grad_out.reshape(-1, grad_out.shape[-1]).T @ one_hot\n", "(C, V)"),
        "autograd": (
            "def embedding_grad(ids, grad_out, vocab_size):\n"
            "    w = torch.zeros(vocab_size, grad_out.shape[-1], requires_grad=True)\n"
            "    F.embedding(ids, w).backward(grad_out)\n"
            "    return w.grad\n", "calls `Tensor.backward`"),
    },
}
