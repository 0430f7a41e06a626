"""Wrong answers a learner might write for notebook 09, by question."""
SETUP = ("from collections import Counter\n"
         "import torch\n"
         "import glmlib.exercises.subwords as ex\n"
         "from glmlib.bpe import BPETokenizer, pretokenize, tie_break_key\n")

_STEP = ("def merge_step(ids, new_id):\n"
         "    counts = {count}\n"
         "    pair = {choose}\n"
         "{merge}"
         "    return pair, out\n")
_COUNT = "Counter(zip(ids, ids[1:]))"
_CHOOSE = "min(counts, key=lambda p: (-counts[p], tie_break_key(p[0]), tie_break_key(p[1])))"
_MERGE = ("    out, i = [], 0\n"
          "    while i < len(ids):\n"
          "        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:\n"
          "            out.append(new_id)\n"
          "            i += {skip}\n"
          "        else:\n"
          "            out.append(ids[i])\n"
          "            i += 1\n")


def _step(count: str = _COUNT, choose: str = _CHOOSE, merge: str = _MERGE, skip: str = "2") -> str:
    return _STEP.format(count=count, choose=choose, merge=merge.format(skip=skip))


_RIGHT_TO_LEFT = ("    out, i = [], len(ids) - 1\n"
                  "    while i >= 0:\n"
                  "        if i >= 1 and (ids[i - 1], ids[i]) == pair:\n"
                  "            out.insert(0, new_id)\n"
                  "            i -= 2\n"
                  "        else:\n"
                  "            out.insert(0, ids[i])\n"
                  "            i -= 1\n")

_DECODE = ("def decode(ids, merges):\n"
           "    vocab = {{i: bytes([i]) for i in range(256)}}\n"
           "    for k, (a, b) in enumerate(merges):\n"
           "        vocab[256 + k] = {join}\n"
           "    return {text}\n")


def _decode(join: str = "vocab[a] + vocab[b]",
            text: str = "b''.join(vocab[i] for i in ids).decode('utf-8', errors='replace')") -> str:
    return _DECODE.format(join=join, text=text)


_ENCODE = ("def encode(text, merges):\n"
           "    rank = {{pair: 256 + k for k, pair in enumerate(merges)}}\n"
           "    ids = {start}\n"
           "    while len(ids) > 1:\n"
           "        present = [rank[p] for p in zip(ids, ids[1:]) if p in rank]\n"
           "        if not present:\n"
           "            break\n"
           "        new_id = {choose}\n"
           "        a, b = merges[new_id - 256]\n"
           "        out, i = [], 0\n"
           "        while i < len(ids):\n"
           "            if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:\n"
           "                out.append(new_id)\n"
           "                i += {skip}\n"
           "            else:\n"
           "                out.append(ids[i])\n"
           "                i += 1\n"
           "        ids = out\n"
           "        {stop}\n"
           "    return ids\n")


def _encode(start: str = "list(text.encode('utf-8'))", choose: str = "min(present)", skip: str = "2",
            stop: str = "pass") -> str:
    return _ENCODE.format(start=start, choose=choose, skip=skip, stop=stop)


WRONG = {
    "q09_merge_step": {
        "overlapping pairs merged (i += 1 after a merge)": (_step(skip="1"), "overlapping"),
        "merged from the right": (_step(merge=_RIGHT_TO_LEFT), "from the right"),
        "counts that skip overlaps (str.count)": (
            _step(count="{p: ''.join(map(chr, ids)).count(chr(p[0]) + chr(p[1])) for p in zip(ids, ids[1:])}"),
            "overlapping ones included"),
        "tie-break: the first pair seen (max over counts)": (_step(choose="max(counts, key=counts.get)"),
                                                             "first one seen"),
        "tie-break: the largest pair": (_step(choose="max(counts, key=lambda p: (counts[p], p))"), "took the largest"),
        "tie-break: the smallest pair of raw ids": (_step(choose="min(counts, key=lambda p: (-counts[p], p))"),
                                                    "you took the smallest pair of ids"),
        "pairs reversed (zip(ids[1:], ids))": (_step(count="Counter(zip(ids[1:], ids))"), "reversed"),
        "the ids returned unmerged": (_step(merge="    out = list(ids)\n"), "returned the ids unchanged"),
        "the library's trainer": (
            "def merge_step(ids, new_id):\n"
            "    tok = BPETokenizer.train(bytes(ids).decode('utf-8'), new_id + 1, pattern=None)\n"
            "    return tok.merges[-1], tok.encode(bytes(ids).decode('utf-8'))\n",
            "glmlib.bpe's trainer"),
    },
    "q09_decode": {
        "each token decoded on its own": (
            _decode(text="''.join(vocab[i].decode('utf-8', errors='replace') for i in ids)"),
            "decoded each token on its own"),
        "a character per byte (chr)": (_decode(text="''.join(chr(c) for c in b''.join(vocab[i] for i in ids))"),
                                       "each byte into a character of its own"),
        "decoded as latin-1": (_decode(text="b''.join(vocab[i] for i in ids).decode('latin-1')"),
                               "each byte into a character of its own"),
        "the halves of a merge swapped": (_decode(join="vocab[b] + vocab[a]"), "wrong way round"),
        "bytes([a, b]) for a merge": (_decode(join="bytes([a, b])"), "merges themselves"),
        "errors='strict'": (_decode(text="b''.join(vocab[i] for i in ids).decode('utf-8')"), "not valid UTF-8"),
        "errors='ignore'": (_decode(text="b''.join(vocab[i] for i in ids).decode('utf-8', errors='ignore')"),
                            "not vanish"),
        "returns the bytes": (_decode(text="b''.join(vocab[i] for i in ids)"), "you returned bytes"),
        "the library's decoder": (
            "def decode(ids, merges):\n"
            "    return BPETokenizer(merges, pattern=None).decode(ids)\n",
            "BPETokenizer.decode"),
    },
    "q09_encode": {
        "code points instead of bytes": (_encode(start="[ord(c) for c in text]"), "code point"),
        "overlapping pairs merged": (_encode(skip="1"), "overlapping"),
        "merges in the order of the text": (_encode(choose="present[0]"), "wrong order"),
        "the latest merge first": (_encode(choose="max(present)"), "wrong order"),
        "one merge, then stop": (_encode(stop="break"), "stopped too early"),
        "split first, as the library does": (
            "def encode(text, merges):\n"
            "    return [i for chunk in pretokenize(text) for i in BPE(chunk, merges)]\n\n\n"
            "def BPE(text, merges):\n"
            "    rank = {pair: 256 + k for k, pair in enumerate(merges)}\n"
            "    ids = list(text.encode('utf-8'))\n"
            "    for k, (a, b) in enumerate(merges):\n"
            "        out, i = [], 0\n"
            "        while i < len(ids):\n"
            "            if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:\n"
            "                out.append(256 + k)\n"
            "                i += 2\n"
            "            else:\n"
            "                out.append(ids[i])\n"
            "                i += 1\n"
            "        ids = out\n"
            "    return ids\n",
            "one chunk"),
        "the library's encoder": (
            "def encode(text, merges):\n"
            "    return BPETokenizer(merges, pattern=None).encode(text)\n",
            "BPETokenizer.encode"),
    },
}
