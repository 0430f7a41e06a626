"""Wrong answers a learner might write for notebook 00, by question."""
SETUP = "import torch\nfrom glmlib.masks import causal_mask\nimport glmlib.exercises.welcome as ex\n"
WRONG = {
    "q00_next_token_probs": {
        "raw logits, no softmax": (
            "def next_token_probs(logits):\n    return logits[:, -1, :]\n", "raw logits"),
        "log-probabilities": (
            "def next_token_probs(logits):\n    return torch.log_softmax(logits[:, -1, :], dim=-1)\n",
            "log-probabilities"),
        "softmax over the time axis": (
            "def next_token_probs(logits):\n    return torch.softmax(logits, dim=1)[:, -1, :]\n", "time axis (dim=1"),
        "the last sequence of the batch": (
            "def next_token_probs(logits):\n    return torch.softmax(logits[-1], dim=-1)\n",
            "last sequence of the batch"),
        "the first position": (
            "def next_token_probs(logits):\n    return torch.softmax(logits[:, 0, :], dim=-1)\n", "first position"),
        "a slice keeps the time axis": (
            "def next_token_probs(logits):\n    return torch.softmax(logits[:, -1:, :], dim=-1)\n",
            "time axis of length 1"),
        "the last vocabulary entry": (
            "def next_token_probs(logits):\n    return torch.softmax(logits[..., -1], dim=-1)\n",
            "last vocabulary entry"),
    },
    "q00_causal_row": {
        "a query cannot see itself": (
            "def causal_row(i, T):\n    return torch.arange(T) < i\n", "not allowed to see itself"),
        "the wrong triangle": (
            "def causal_row(i, T):\n    return torch.arange(T) >= i\n", "allows the future"),
        "True for the blocked keys": (
            "def causal_row(i, T):\n    return torch.arange(T) > i\n", "True marks the blocked keys"),
        "right values, int dtype": (
            "def causal_row(i, T):\n    return (torch.arange(T) <= i).int()\n", "return a bool tensor"),
        "the additive form": (
            "def causal_row(i, T):\n"
            "    return torch.zeros(T).masked_fill(torch.arange(T) > i, float('-inf'))\n", "additive row"),
        "one key into the future": (
            "def causal_row(i, T):\n    return torch.arange(T) <= i + 1\n", "one key into the future"),
        "calls the library's causal_mask": (
            "def causal_row(i, T):\n    return causal_mask(T)[i]\n", "calls `causal_mask`"),
    },
}
