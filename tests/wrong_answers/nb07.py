"""Wrong answers a learner might write for notebook 07, by question."""
SETUP = "import math\nimport torch\nimport torch.nn.functional as F\nimport glmlib.exercises.sampling as ex\n"
WRONG = {
    "q07_top_k": {
        "ties at the boundary dropped (scatters topk's k indices)": (
            "def top_k(logits, k):\n"
            "    k = min(k, logits.shape[-1])\n"
            "    values, indices = torch.topk(logits, k, dim=-1)\n"
            "    return torch.full_like(logits, float('-inf')).scatter(-1, indices, values)\n",
            "tied with the k-th largest"),
        "k larger than the vocabulary crashes torch.topk": (
            "def top_k(logits, k):\n"
            "    kth = torch.topk(logits, k, dim=-1).values[..., -1:]\n"
            "    return logits.masked_fill(logits < kth, float('-inf'))\n",
            "larger than the vocabulary"),
        "removed tokens set to 0 instead of -inf": (
            "def top_k(logits, k):\n"
            "    k = min(k, logits.shape[-1])\n"
            "    kth = torch.topk(logits, k, dim=-1).values[..., -1:]\n"
            "    return logits.masked_fill(logits < kth, 0.0)\n",
            "0 instead of -inf"),
        "sorted in ascending order": (
            "def top_k(logits, k):\n"
            "    k = min(k, logits.shape[-1])\n"
            "    kth = torch.sort(logits, dim=-1).values[..., k - 1:k]\n"
            "    return torch.where(logits >= kth, logits, torch.full_like(logits, float('-inf')))\n",
            "ascending order"),
        "returns probabilities instead of logits": (
            "def top_k(logits, k):\n"
            "    k = min(k, logits.shape[-1])\n"
            "    kth = torch.topk(logits, k, dim=-1).values[..., -1:]\n"
            "    return torch.softmax(logits.masked_fill(logits < kth, float('-inf')), dim=-1)\n",
            "probabilities"),
        "nucleus sampling under the name top-k (a fixed p = 0.9)": (
            "def top_k(logits, k):\n"
            "    probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)\n"
            "    keep_sorted = probs.cumsum(dim=-1) - probs < 0.9\n"
            "    keep = keep_sorted.scatter(-1, order, keep_sorted)\n"
            "    return logits.masked_fill(~keep, float('-inf'))\n",
            "nucleus (top-p) sampling under the name top-k"),
        "calls glmlib.sampling, which the prompt forbids": (
            "def top_k(logits, k):\n"
            "    from glmlib.sampling import top_k_filter\n"
            "    return top_k_filter(logits, k)\n",
            "calls `glmlib.sampling.top_k_filter`"),
    },
    "q07_top_p": {
        "keeps cumsum <= p, dropping the token that crosses p": (
            "def top_p(logits, p):\n"
            "    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)\n"
            "    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)\n"
            "    remove_sorted = cumulative > p\n"
            "    remove_sorted[..., 0] = False\n"
            "    return logits.masked_fill(remove_sorted.scatter(-1, order, remove_sorted), float('-inf'))\n",
            "cumsum <= p"),
        "sorted in ascending order": (
            "def top_p(logits, p):\n"
            "    if p >= 1.0:\n"
            "        return logits.clone()\n"
            "    sorted_logits, order = torch.sort(logits, dim=-1)\n"
            "    probs = torch.softmax(sorted_logits, dim=-1)\n"
            "    remove_sorted = torch.cumsum(probs, dim=-1) - probs >= p\n"
            "    return logits.masked_fill(remove_sorted.scatter(-1, order, remove_sorted), float('-inf'))\n",
            "descending"),
        "no special case for p = 1 (float32 running sum reaches 1.0 early)": (
            "def top_p(logits, p):\n"
            "    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)\n"
            "    probs = torch.softmax(sorted_logits, dim=-1)\n"
            "    remove_sorted = torch.cumsum(probs, dim=-1) - probs >= p\n"
            "    return logits.masked_fill(remove_sorted.scatter(-1, order, remove_sorted), float('-inf'))\n",
            "treat p >= 1 as 'keep everything'"),
        "removed tokens set to 0 instead of -inf": (
            "def top_p(logits, p):\n"
            "    if p >= 1.0:\n"
            "        return logits.clone()\n"
            "    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)\n"
            "    probs = torch.softmax(sorted_logits, dim=-1)\n"
            "    remove_sorted = torch.cumsum(probs, dim=-1) - probs >= p\n"
            "    return logits.masked_fill(remove_sorted.scatter(-1, order, remove_sorted), 0.0)\n",
            "0 instead of -inf"),
        "decisions made in sorted order, never scattered back": (
            "def top_p(logits, p):\n"
            "    if p >= 1.0:\n"
            "        return logits.clone()\n"
            "    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)\n"
            "    probs = torch.softmax(sorted_logits, dim=-1)\n"
            "    return logits.masked_fill(torch.cumsum(probs, dim=-1) - probs >= p, float('-inf'))\n",
            "scatter"),
    },
    "q07_min_p": {
        "compares each probability with min_p itself": (
            "def min_p(logits, min_p):\n"
            "    return logits.masked_fill(torch.softmax(logits, dim=-1) < min_p, float('-inf'))\n",
            "min_p itself"),
        "compares logits instead of probabilities": (
            "def min_p(logits, min_p):\n"
            "    return logits.masked_fill(logits < min_p * logits.max(dim=-1, keepdim=True).values, float('-inf'))\n",
            "compare logits instead of probabilities"),
        "strict > removes the top token at min_p = 1": (
            "def min_p(logits, min_p):\n"
            "    probs = torch.softmax(logits, dim=-1)\n"
            "    return logits.masked_fill(probs <= min_p * probs.max(dim=-1, keepdim=True).values, float('-inf'))\n",
            "instead of >="),
        "the maximum over the whole batch": (
            "def min_p(logits, min_p):\n"
            "    probs = torch.softmax(logits, dim=-1)\n"
            "    return logits.masked_fill(probs < min_p * probs.max(), float('-inf'))\n",
            "whole batch"),
        "the maximum over the batch axis (dim=0)": (
            "def min_p(logits, min_p):\n"
            "    probs = torch.softmax(logits, dim=-1)\n"
            "    return logits.masked_fill(probs < min_p * probs.max(dim=0).values, float('-inf'))\n",
            "over the batch axis"),
        "removed tokens set to 0 instead of -inf": (
            "def min_p(logits, min_p):\n"
            "    probs = torch.softmax(logits, dim=-1)\n"
            "    return logits.masked_fill(probs < min_p * probs.max(dim=-1, keepdim=True).values, 0.0)\n",
            "0 instead of -inf"),
    },
    "q07_repetition_penalty": {
        "divides negative logits too, which raises them": (
            "def repetition_penalty(logits, context, penalty):\n"
            "    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, context, True)\n"
            "    return torch.where(seen, logits / penalty, logits)\n",
            "multiply negative logits"),
        "penalises a token once per occurrence": (
            "def repetition_penalty(logits, context, penalty):\n"
            "    logits = logits.clone()\n"
            "    for b in range(logits.shape[0]):\n"
            "        for t in context[b].tolist():\n"
            "            z = logits[b, t]\n"
            "            logits[b, t] = z / penalty if z > 0 else z * penalty\n"
            "    return logits\n",
            "penalised c times"),
        "penalises every token, in the context or not": (
            "def repetition_penalty(logits, context, penalty):\n"
            "    return torch.where(logits > 0, logits / penalty, logits * penalty)\n",
            "do not occur in the context"),
        "penalises the first T token ids (positions, not ids)": (
            "def repetition_penalty(logits, context, penalty):\n"
            "    out = logits.clone()\n"
            "    T = context.shape[1]\n"
            "    part = out[:, :T]\n"
            "    out[:, :T] = torch.where(part > 0, part / penalty, part * penalty)\n"
            "    return out\n",
            "positions"),
        "uses row 0's context for every row": (
            "def repetition_penalty(logits, context, penalty):\n"
            "    seen = torch.zeros_like(logits, dtype=torch.bool)\n"
            "    seen[:, context[0]] = True\n"
            "    return torch.where(seen, torch.where(logits > 0, logits / penalty, logits * penalty), logits)\n",
            "row 0's context"),
        "the identity: logits returned unchanged": (
            "def repetition_penalty(logits, context, penalty):\n"
            "    return logits\n",
            "returns the logits unchanged"),
        "penalises a copy, returns the original": (
            "def repetition_penalty(logits, context, penalty):\n"
            "    out = logits.clone()\n"
            "    for b in range(logits.shape[0]):\n"
            "        ids = context[b].unique()\n"
            "        z = out[b, ids]\n"
            "        out[b, ids] = torch.where(z > 0, z / penalty, z * penalty)\n"
            "    return logits\n",
            "returns the logits unchanged"),
        "the penalty the wrong way round": (
            "def repetition_penalty(logits, context, penalty):\n"
            "    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, context, True)\n"
            "    return torch.where(seen, torch.where(logits > 0, logits * penalty, logits / penalty), logits)\n",
            "became *more* likely"),
    },
}
