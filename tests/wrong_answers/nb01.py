"""Wrong answers a learner might write for notebook 01, by question."""
SETUP = "import math\nimport torch\nimport glmlib.exercises.language_models as ex\n"
WRONG = {
    "q01_bigram_counts": {
        "tensor indexing does not accumulate repeated pairs": (
            "def bigram_counts(ids, vocab_size):\n"
            "    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)\n"
            "    t = torch.tensor(ids, dtype=torch.long)\n"
            "    if len(ids) > 1:\n"
            "        counts[t[:-1], t[1:]] += 1\n"
            "    return counts\n", "does not accumulate"),
        "transposed table": (
            "def bigram_counts(ids, vocab_size):\n"
            "    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)\n"
            "    for prev, nxt in zip(ids[:-1], ids[1:]):\n"
            "        counts[nxt, prev] += 1\n"
            "    return counts\n", "transposed"),
        "the loop stops one pair early": (
            "def bigram_counts(ids, vocab_size):\n"
            "    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)\n"
            "    for t in range(len(ids) - 2):\n"
            "        counts[ids[t], ids[t + 1]] += 1\n"
            "    return counts\n", "last pair is missing"),
        "torch.roll wraps the last token round to the first": (
            "def bigram_counts(ids, vocab_size):\n"
            "    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)\n"
            "    t = torch.tensor(ids, dtype=torch.long)\n"
            "    for prev, nxt in zip(t.tolist(), torch.roll(t, -1).tolist()):\n"
            "        counts[prev, nxt] += 1\n"
            "    return counts\n", "back to the first"),
        "every token paired with itself": (
            "def bigram_counts(ids, vocab_size):\n"
            "    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)\n"
            "    for prev, nxt in zip(ids, ids):\n"
            "        counts[prev, nxt] += 1\n"
            "    return counts\n", "paired every token with itself"),
    },
    "q01_add_k_probs": {
        "denominator N(a) + k": (
            "def add_k_probs(counts, k):\n"
            "    c = counts.double()\n"
            "    rows = c.sum(dim=1, keepdim=True)\n"
            "    return torch.where(rows + k > 0, (c + k) / (rows + k).clamp_min(1e-300), 1.0 / c.shape[1])\n",
            "N(a) + kV, not N(a) + k"),
        "k only for the pairs that were seen": (
            "def add_k_probs(counts, k):\n"
            "    c = counts.double()\n"
            "    s = c + k * (c > 0)\n"
            "    rows = s.sum(dim=1, keepdim=True)\n"
            "    return torch.where(rows > 0, s / rows.clamp_min(1e-300), 1.0 / c.shape[1])\n",
            "only to the pairs that were seen"),
        "no renormalisation": (
            "def add_k_probs(counts, k):\n    return counts.double() + k\n", "divide each row by its total"),
        "columns normalised": (
            "def add_k_probs(counts, k):\n"
            "    s = counts.double() + k\n"
            "    return s / s.sum(dim=0, keepdim=True)\n", "normalised the columns"),
        "0 / 0 for an empty row": (
            "def add_k_probs(counts, k):\n"
            "    s = counts.double() + k\n"
            "    return s / s.sum(dim=1, keepdim=True)\n", "NaN"),
        "smoothing the frequencies": (
            "def add_k_probs(counts, k):\n"
            "    c = counts.double()\n"
            "    rows = c.sum(dim=1, keepdim=True)\n"
            "    V = c.shape[1]\n"
            "    return torch.where(rows > 0, (c / rows.clamp_min(1) + k) / (1 + k * V), 1.0 / V)\n",
            "smoothed the relative frequencies"),
        "in-place += on the caller's counts": (
            "def add_k_probs(counts, k):\n"
            "    c = counts.float()\n"
            "    c += k\n"
            "    rows = c.sum(dim=1, keepdim=True)\n"
            "    return torch.where(rows > 0, c / rows.clamp_min(1e-30), 1.0 / c.shape[1])\n",
            "changed the counts it was given"),
    },
    "q01_line_log_prob": {
        "no start token": (
            "def line_log_prob(probs, ids, bos, eos):\n"
            "    seq = list(ids) + [eos]\n"
            "    return sum(math.log(probs[a, b]) for a, b in zip(seq[:-1], seq[1:]))\n", "P(x1 | <bos>), is missing"),
        "no end token": (
            "def line_log_prob(probs, ids, bos, eos):\n"
            "    seq = [bos] + list(ids)\n"
            "    return sum(math.log(probs[a, b]) for a, b in zip(seq[:-1], seq[1:]))\n",
            "P(<eos> | x_n), is missing"),
        "probabilities added, not log-probabilities": (
            "def line_log_prob(probs, ids, bos, eos):\n"
            "    seq = [bos, *ids, eos]\n"
            "    return float(sum(probs[a, b] for a, b in zip(seq[:-1], seq[1:])))\n", "added the probabilities"),
        "the probability, not its log": (
            "def line_log_prob(probs, ids, bos, eos):\n"
            "    seq = [bos, *ids, eos]\n"
            "    return math.prod(float(probs[a, b]) for a, b in zip(seq[:-1], seq[1:]))\n",
            "probability P(x) itself"),
        "the log of a sum": (
            "def line_log_prob(probs, ids, bos, eos):\n"
            "    seq = [bos, *ids, eos]\n"
            "    return math.log(sum(float(probs[a, b]) for a, b in zip(seq[:-1], seq[1:])))\n", "log of a sum"),
        "the mean, not the sum": (
            "def line_log_prob(probs, ids, bos, eos):\n"
            "    seq = torch.tensor([bos, *ids, eos])\n"
            "    return probs[seq[:-1], seq[1:]].log().mean()\n", "averaged"),
        "log base 2": (
            "def line_log_prob(probs, ids, bos, eos):\n"
            "    seq = [bos, *ids, eos]\n"
            "    return sum(math.log2(probs[a, b]) for a, b in zip(seq[:-1], seq[1:]))\n", "bits"),
        "probs[next, prev]": (
            "def line_log_prob(probs, ids, bos, eos):\n"
            "    seq = torch.tensor([bos, *ids, eos])\n"
            "    return probs[seq[1:], seq[:-1]].log().sum()\n", "probs[next, prev]"),
    },
}
