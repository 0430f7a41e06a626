"""glmlib.bpe, the byte-level BPE tokenizer, checked against Hugging Face ``tokenizers`` built
locally (no files downloaded) and against a slow trainer written out here.

* encoding: a ``tokenizers`` BPE model given our vocabulary and merges, with GPT-2's
  byte-level pre-tokenizer, gives the same ids on every test text;
* training: ``tokenizers``' ``BpeTrainer`` learns the same merges on the same text (its
  tie-break is ours: see glmlib.bpe's docstring), and so does a trainer that recounts all
  pairs before each merge;
* round trips on random Unicode, ``with_merges``, special tokens, saving, bad inputs, and the
  tokenizer inside a model: generation, a checkpoint and every explorer.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter

import matplotlib.pyplot as plt
import pytest
import torch

from glmlib.bpe import GPT2_PATTERN, BPETokenizer, pretokenize
from glmlib.checkpoints import load_checkpoint, save_checkpoint
from glmlib.data import load_shakespeare
from glmlib.model import GPT, GPTConfig
from glmlib.tokenizers import CharTokenizer, Tokenizer, tokenizer_from_record

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import decoders, models, pre_tokenizers, trainers  # noqa: E402

EOT = "<|endoftext|>"

TEXTS = {
    "english": "The quick brown fox jumps over the lazy dog. Isn't it? We'll see; they've gone.",
    "shakespeare": "ROMEO:\nBut, soft! what light through yonder window breaks?\n"
                   "It is the east, and Juliet is the sun.\n\nJULIET:\nO Romeo, Romeo! wherefore art thou Romeo?",
    "chinese": "床前明月光，疑是地上霜。举头望明月，低头思故乡。我们今天学习字节对编码。",
    "emoji": "I 🤖 love 🎉🎉 tokens 👩‍👩‍👧 and flags 🇫🇷🇯🇵 ok ✨",
    "code": "def f(x: int) -> int:\n    return x ** 2 + 1  # square\n\nfor i in range(10):\n\tprint(f(i))\n",
    "whitespace": "a  b   c    d\n\n\n  e \t\t f\r\n   \n    ",
    "numbers": "1 12 123 1234 3.14159 2024-06-01 $1,000,000",
    "accents": "café naïve résumé Ångström São Paulo Dvořák",
    "scripts": "Привет мир. Γειά σου. مرحبا. שלום. こんにちは世界. 안녕하세요.",
    "contractions": "'s 't 're 've 'm 'll 'd don't I'M YOU'RE '' ''' 'x",
    "edges": "",
}


# -- an independent byte-level mapping (GPT-2's bytes_to_unicode, written out here) ------------
def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()


def as_hf(token: bytes) -> str:
    return "".join(B2U[b] for b in token)


def hf_tokenizer(tok: BPETokenizer) -> "tokenizers.Tokenizer":
    """A ``tokenizers`` BPE model with ``tok``'s vocabulary and merges, GPT-2's byte-level set-up."""
    normal = range(256 + len(tok.merges))
    vocab = {as_hf(tok.vocab[i]): i for i in normal}
    assert len(vocab) == len(normal), "two merges made the same bytes: tokenizers cannot hold that"
    vocab.update(tok.special_tokens)
    merges = [(as_hf(tok.vocab[a]), as_hf(tok.vocab[b])) for a, b in tok.merges]
    hf = tokenizers.Tokenizer(models.BPE(vocab, merges))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    if tok.special_tokens:
        hf.add_special_tokens(list(tok.special_tokens))
    return hf


def hf_train_merges(text: str, vocab_size: int) -> list[tuple[str, str]]:
    """The merges ``tokenizers``' BpeTrainer learns on ``text`` (byte level, no special tokens)."""
    hf = tokenizers.Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator([text], trainer=trainer)
    merges = json.loads(hf.to_str())["model"]["merges"]
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]


def our_merges(tok: BPETokenizer) -> list[tuple[str, str]]:
    return [(as_hf(tok.vocab[a]), as_hf(tok.vocab[b])) for a, b in tok.merges]


# -- a slow trainer: recount every pair before each merge ------------------------------------
GPT2_ORDER = {b: i for i, b in enumerate(B2U)}  # bytes in the order tokenizers numbers them


def slow_train(text: str, n_merges: int) -> tuple[list[tuple[int, int]], int]:
    """Merges by recounting all pairs each time; ties to the smallest pair in tokenizers' numbering.

    Returns the merges and how many of them were chosen among tied pairs.
    """
    words = Counter(pretokenize(text))
    seqs = {w: list(w.encode("utf-8")) for w in words}
    order = lambda t: GPT2_ORDER[t] if t < 256 else t  # noqa: E731
    merges, ties = [], 0
    for k in range(n_merges):
        counts: Counter = Counter()
        for w, f in words.items():
            s = seqs[w]
            for p in zip(s, s[1:]):
                counts[p] += f
        if not counts:
            break
        top = max(counts.values())
        tied = [p for p, c in counts.items() if c == top]
        ties += len(tied) > 1
        a, b = min(tied, key=lambda p: (order(p[0]), order(p[1])))
        merges.append((a, b))
        for w, s in seqs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(256 + k)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return merges, ties


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus() -> str:
    return load_shakespeare()


@pytest.fixture(scope="module")
def tok(corpus) -> BPETokenizer:
    """1,024 tokens learned on a slice of Shakespeare (plus a little Chinese and code)."""
    text = corpus[:400_000] + TEXTS["chinese"] * 20 + TEXTS["code"] * 20
    return BPETokenizer.train(text, 1024)


@pytest.fixture(scope="module")
def tok_eot(corpus) -> BPETokenizer:
    return BPETokenizer.train(corpus[:50_000], 400, special_tokens=[EOT, "<pad>"])


# -- the pre-tokenizer ------------------------------------------------------------------------
def test_pretokenize_splits_like_gpt2():
    assert pretokenize("Hello world's 123 ok!!  \n") == ["Hello", " world", "'s", " 123", " ok", "!!", "  \n"]
    assert pretokenize("") == []
    assert pretokenize("abc def", pattern=None) == ["abc def"]


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_pretokenize_agrees_with_tokenizers_byte_level(name):
    text = TEXTS[name]
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    theirs = [bytes(GPT2_ORDER_INV[c] for c in piece).decode("utf-8") for piece, _ in pre.pre_tokenize_str(text)]
    assert pretokenize(text) == theirs
    assert "".join(pretokenize(text)) == text


GPT2_ORDER_INV = {c: b for b, c in B2U.items()}


def test_a_pattern_that_skips_text_loses_nothing():
    tok = BPETokenizer.train("aaa bbb aaa bbb", 258, pattern=r"[a-z]+")
    assert pretokenize("aa, bb!", pattern=r"[a-z]+") == ["aa", ", ", "bb", "!"]
    assert tok.decode(tok.encode("aaa, bbb!")) == "aaa, bbb!"


# -- encoding against tokenizers --------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_encode_matches_tokenizers(tok, name):
    text = TEXTS[name]
    hf = hf_tokenizer(tok)
    ids = tok.encode(text)
    assert ids == hf.encode(text).ids
    assert tok.decode(ids) == text == hf.decode(ids)


def test_encode_matches_tokenizers_on_shakespeare(tok, corpus):
    hf = hf_tokenizer(tok)
    lines = corpus[1_000_000:1_040_000].split("\n")  # text the tokenizer was not trained on
    ours = [tok.encode(line) for line in lines]
    theirs = [e.ids for e in hf.encode_batch(lines)]
    assert ours == theirs
    assert tok.encode(corpus[2_000_000:2_020_000]) == hf.encode(corpus[2_000_000:2_020_000]).ids


def test_encode_matches_tokenizers_on_random_text(tok):
    alphabet = ("abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 .,;:!?'\"-()[]{}<>/\\|_*&^%$#@~`+= "
                "\n\t  \r 的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年 éèêëàâäôöûüçñ "
                "😀😂🤖🎉👍🏽❤️✨🇺🇸 αβγδ АБВГД")
    hf = hf_tokenizer(tok)
    for seed in range(20):
        rng = random.Random(seed)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        assert tok.encode(text) == hf.encode(text).ids, f"seed {seed}: {text!r}"


def test_special_tokens_encode_as_tokenizers_does(tok_eot):
    hf = hf_tokenizer(tok_eot)
    for text in [f"ROMEO:{EOT}JULIET: hi<pad><pad>", f"{EOT}{EOT}", f"a {EOT} b", "<|endof", f"x<{EOT}>y"]:
        assert tok_eot.encode(text) == hf.encode(text).ids, text


# -- training against tokenizers and the slow trainer ----------------------------------------
def test_tie_break_is_tokenizers_byte_order():
    # (x, y), (a, b) and (" ", a) all occur twice: "a" comes first in GPT-2's byte order
    # (printable bytes, then the rest: space is among the last), so (a, b) is merged first
    tok = BPETokenizer.train("xy xy ab ab", 257)
    assert tok.merges == [(ord("a"), ord("b"))]
    assert our_merges(tok) == hf_train_merges("xy xy ab ab", 257)
    # a space pair loses its tie against any printable pair
    assert BPETokenizer.train("  ab  ab", 257).merges == [(ord("a"), ord("b"))]


@pytest.mark.parametrize("text_name, vocab_size", [("mixed", 600), ("shakespeare", 700), ("ties", 270)])
def test_trainer_learns_the_merges_tokenizers_learns(corpus, text_name, vocab_size):
    text = {"mixed": corpus[:30_000] + "".join(TEXTS.values()) * 3,
            "shakespeare": corpus[500_000:650_000],
            "ties": "ab cd ef gh ab cd ef gh abc abd  \n\n 世界 世界 🎉🎉 x1 x2 x3 " * 2}[text_name]
    tok = BPETokenizer.train(text, vocab_size)
    theirs = hf_train_merges(text, vocab_size)
    assert len(set(tok.vocab.values())) == tok.vocab_size, "a merge repeated a token: tokenizers differs there"
    assert our_merges(tok) == theirs


def test_incremental_counts_learn_what_recounting_learns(corpus):
    text = corpus[:20_000] + TEXTS["chinese"] + TEXTS["emoji"] + TEXTS["whitespace"] * 5
    slow, ties = slow_train(text, 150)
    assert ties > 10  # the text has ties to break, so the rule is exercised
    assert BPETokenizer.train(text, 256 + 150).merges == slow


def test_training_the_whole_corpus_is_fast(corpus):
    start = time.process_time()
    tok = BPETokenizer.train(corpus, 1024)
    seconds = time.process_time() - start
    assert tok.vocab_size == 1024 and len(tok.merges) == 768
    assert seconds < 30, f"training 1,024 tokens on the corpus took {seconds:.1f} s of CPU"
    assert tok.vocab[256 + tok.merges.index((ord(" "), ord("t")))] == b" t"


def test_special_tokens_are_not_learned_from():
    text = (EOT + "ab ab ") * 50
    tok = BPETokenizer.train(text, 256 + 2 + 1, special_tokens=[EOT])
    learned = b"".join(tok.vocab[i] for i in range(256, 256 + len(tok.merges)))
    assert b"<" not in learned and b"|" not in learned
    assert tok.special_tokens == {EOT: 258} and tok.vocab_size == 259


def test_too_little_text_gives_fewer_merges_with_a_warning():
    with pytest.warns(UserWarning, match=r"only enough pairs for 2 merges, not 10"):
        tok = BPETokenizer.train("abc", 266)
    assert tok.vocab_size == 258


# -- round trips, decoding, with_merges -------------------------------------------------------
def random_unicode(rng: random.Random, n: int) -> str:
    """Any code points (not surrogates), weighted toward ASCII, CJK and emoji."""
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.4:
            cp = rng.randint(0, 0x7F)
        elif r < 0.6:
            cp = rng.randint(0x4E00, 0x9FFF)
        elif r < 0.75:
            cp = rng.randint(0x1F300, 0x1FAFF)
        else:
            cp = rng.randint(0, 0x10FFFF)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD
        out.append(chr(cp))
    return "".join(out)


@pytest.mark.parametrize("seed", range(8))
def test_round_trip_on_random_unicode(tok, tok_eot, seed):
    rng = random.Random(seed)
    for _ in range(25):
        text = random_unicode(rng, rng.randint(0, 80))
        for t in (tok, tok_eot, tok.with_merges(rng.randint(0, len(tok.merges)))):
            ids = t.encode(text)
            assert t.decode(ids) == text
            assert t.decode(torch.tensor(ids, dtype=torch.long)) == text
            assert all(0 <= i < t.vocab_size for i in ids)


def test_decode_joins_bytes_before_decoding():
    tok = BPETokenizer()  # the bytes alone
    ids = tok.encode("世界🎉")
    assert len(ids) == 3 + 3 + 4  # one id per UTF-8 byte
    assert tok.decode(ids) == "世界🎉"  # never character by character
    assert tok.decode(ids[:2]) == "\ufffd"  # half a character: the replacement character, no error
    assert tok.decode([]) == ""
    assert tok.itos[ids[0]] == "\\xe4"  # a label for a byte that is part of a character


def test_with_merges(tok, tok_eot):
    text = TEXTS["shakespeare"] + TEXTS["chinese"]
    assert tok.with_merges(0).encode(text) == list(text.encode("utf-8"))
    assert tok.with_merges(len(tok.merges)).encode(text) == tok.encode(text)
    lengths = [len(tok.with_merges(n).encode(text)) for n in range(0, len(tok.merges) + 1, 64)]
    assert lengths == sorted(lengths, reverse=True)  # more merges never mean more tokens
    small = tok.with_merges(10)
    assert small.vocab_size == 266 and small.merges == tok.merges[:10]
    assert small.vocab == {i: tok.vocab[i] for i in range(266)}
    fewer = tok_eot.with_merges(3)
    assert fewer.special_tokens == {EOT: 259, "<pad>": 260}  # renumbered after the merges
    assert fewer.decode(fewer.encode(f"hi{EOT}")) == f"hi{EOT}"
    for bad in (-1, len(tok.merges) + 1):
        with pytest.raises(ValueError, match=rf"n must be between 0 and {len(tok.merges)}.*got {bad}"):
            tok.with_merges(bad)
    with pytest.raises(TypeError, match="must be an int"):
        tok.with_merges(2.0)


def test_vocab_and_token_bytes(tok_eot):
    t = tok_eot
    assert t.vocab_size == 400 == len(t.vocab)
    assert t.vocab[65] == b"A" and t.token_bytes(65) == b"A"
    for k, (a, b) in enumerate(t.merges):
        assert t.vocab[256 + k] == t.vocab[a] + t.vocab[b] and a < 256 + k and b < 256 + k
    assert t.token_bytes(t.special_tokens[EOT]) == EOT.encode()
    assert t.special_tokens == {EOT: 398, "<pad>": 399}
    assert t.decode(t.encode(f"a{EOT}b")) == f"a{EOT}b"
    with pytest.raises(ValueError, match=r"token id 400 out of range \[0, 400\)"):
        t.token_bytes(400)


# -- state, records and checkpoints ----------------------------------------------------------
def test_to_dict_is_json_and_round_trips(tok_eot):
    d = json.loads(json.dumps(tok_eot.to_dict()))
    back = BPETokenizer.from_dict(d)
    assert back.merges == tok_eot.merges and back.special_tokens == tok_eot.special_tokens
    assert back.pattern == GPT2_PATTERN and back.same_as(tok_eot)
    record = json.loads(json.dumps(tok_eot.to_record()))
    assert record["kind"] == "bpe"
    assert tokenizer_from_record(record).encode(TEXTS["english"] + EOT) == tok_eot.encode(TEXTS["english"] + EOT)
    no_split = BPETokenizer.train("aaaa bbbb", 258, pattern=None)
    assert BPETokenizer.from_dict(json.loads(json.dumps(no_split.to_dict()))).pattern is None


def test_a_record_finds_the_bpe_kind_with_only_glmlib_tokenizers_imported(tok_eot):
    code = ("import json, sys\nfrom glmlib.tokenizers import tokenizer_from_record\n"
            "t = tokenizer_from_record(json.loads(sys.stdin.read()))\n"
            "print(type(t).__name__, t.vocab_size, t.encode('hi <|endoftext|>'))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(tok_eot.to_record()),
                         capture_output=True, text=True, check=True).stdout.split(" ", 2)
    assert out[:2] == ["BPETokenizer", "400"]
    assert json.loads(out[2]) == tok_eot.encode("hi <|endoftext|>")


@pytest.fixture(scope="module")
def tiny(tok_eot) -> GPT:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok_eot.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    with torch.no_grad():
        model.wte.weight.mul_(20)
    return model


def test_checkpoint_round_trip_and_generation(tiny, tok_eot, tmp_path):
    path = save_checkpoint(tiny, tok_eot, tmp_path / "bpe_model", {"note": "bpe"})
    model, tokenizer, record = load_checkpoint(path)
    assert isinstance(tokenizer, BPETokenizer) and tokenizer.same_as(tok_eot)
    assert record["tokenizer"]["kind"] == "bpe" and record["note"] == "bpe"
    idx = torch.tensor([tokenizer.encode("ROMEO:")])
    out = model.generate(idx, 20, generator=torch.Generator().manual_seed(0))
    again = tiny.generate(idx, 20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    text = tokenizer.decode(out[0])
    assert text.startswith("ROMEO:") and isinstance(text, str)


@pytest.fixture
def no_figure_leaks():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_every_explorer_takes_a_bpe_tokenizer(tiny, tok_eot, no_figure_leaks):
    from glmlib.widgets import (attention_explorer, chain_rule_view, generation_explorer, sampling_explorer,
                                surprise_view)
    t = tok_eot
    text = "ROMEO: thou art 世"  # several characters per token, and one character in three tokens
    ids = t.encode(text)
    assert len(ids) < len(text) + 2 and len(ids) <= 16

    ex = attention_explorer(tiny, t, text=text)
    assert not ex.state.get("message")
    assert ex.state["chars"] == [t.itos[i] for i in ids] and ex.state["weights"].shape[-1] == len(ids)
    assert ex.query.max == len(ids) - 1 and not ex.state["cropped"]
    ex.head.value = ex.head.options[-1][1]  # all heads: the grid
    assert not ex.state["message"]

    ex = chain_rule_view(tiny, t, text)
    assert not ex.state["message"]
    assert len(ex.state["labels"]) == len(ex.state["log_probs"]) == len(ids) - 1

    ex = surprise_view(tiny, t, text=text * 2)
    score = ex.state["score"]
    assert list(score.ids) == t.encode(text * 2) and len(score.ranks) == len(score.ids) - 1
    assert t.decode(score.ids) == text * 2
    ex.select(3)
    assert ex.state["char"] == t.itos[score.ids[3]] and ex.state["drawn_order"]
    assert score.ids[3] in ex.state["drawn_order"]

    ex = sampling_explorer(tiny, t, prompt="ROMEO:")
    assert not ex.state["message"]
    assert isinstance(ex.generate(), str)

    ex = generation_explorer(tiny, t, prompt="ROMEO:", seed=1)
    ex.step(5)
    assert len(ex.path.tokens) == 5
    assert t.decode(ex.path.ids).startswith("ROMEO:")
    ex.force(t.special_tokens[EOT])
    assert ex.path.tokens[-1] == t.special_tokens[EOT]


# -- bad inputs -----------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, match", [
    (lambda: BPETokenizer.train(b"bytes", 300), TypeError, "train expects text as a str, got bytes"),
    (lambda: BPETokenizer.train("abc", 255), ValueError, r"vocab_size must be at least 256.*got 255"),
    (lambda: BPETokenizer.train("abc", 257, special_tokens=["<a>", "<b>"]), ValueError,
     r"at least .*= 258, got 257"),
    (lambda: BPETokenizer.train("abc", "300"), TypeError, "vocab_size must be an int"),
    (lambda: BPETokenizer.train("abc", 300.0), TypeError, "vocab_size must be an int"),
    (lambda: BPETokenizer.train("abc", 300, special_tokens="<eot>"), TypeError, "special_tokens must be a sequence"),
    (lambda: BPETokenizer.train("abc", 300, special_tokens=["", "x"]), ValueError, "non-empty strings"),
    (lambda: BPETokenizer.train("abc", 300, special_tokens=["<a>", "<a>"]), ValueError, "must not repeat"),
    (lambda: BPETokenizer.train("abc", 300, pattern="(["), ValueError, "not a valid regular expression"),
    (lambda: BPETokenizer.train("abc", 300, pattern=3), TypeError, "pattern must be"),
    (lambda: BPETokenizer().encode(None), TypeError, "encode expects a str, got NoneType"),
    (lambda: BPETokenizer().decode([256]), ValueError, r"token id 256 out of range \[0, 256\)"),
    (lambda: BPETokenizer().decode([-1]), ValueError, r"token id -1 out of range"),
    (lambda: BPETokenizer().decode([1.5]), TypeError, "must be ints"),
    (lambda: BPETokenizer().decode("abc"), TypeError, "sequence of ints"),
    (lambda: BPETokenizer().decode(torch.zeros(2, 3, dtype=torch.long)), ValueError, "must be 1-D"),
    (lambda: BPETokenizer([(1, 256)]), ValueError, r"merge 0 \(1, 256\) may only join ids made before it"),
    (lambda: BPETokenizer([(1, 2, 3)]), TypeError, "merge 0 must be a pair of ints"),
    (lambda: BPETokenizer.from_dict({"merges": [[1, 300]]}), ValueError, "may only join ids made before it"),
    (lambda: BPETokenizer.from_dict({"merges": [["a", "b"]]}), ValueError, "must be a pair of ints"),
    (lambda: BPETokenizer.from_dict({"merges": "1 2"}), ValueError, "needs 'merges'"),
    (lambda: BPETokenizer.from_dict({"merges": [], "special_tokens": "x"}), ValueError, "'special_tokens' must be a list"),
    (lambda: BPETokenizer.from_dict({"merges": [], "kind": "char"}), ValueError, "not a 'bpe' one"),
    (lambda: BPETokenizer.from_dict([]), ValueError, "state is a dict"),
    (lambda: pretokenize(3), TypeError, "pretokenize expects a str"),
])
def test_bad_input_is_refused_with_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_it_is_a_tokenizer_beside_the_char_one(tok_eot):
    assert isinstance(tok_eot, Tokenizer) and tok_eot.kind == "bpe"
    assert not tok_eot.same_as(CharTokenizer.from_text("abc"))
    assert torch.equal(tok_eot.encode_tensor("hi there"), torch.tensor(tok_eot.encode("hi there")))


# -- the trainer ----------------------------------------------------------------------------
def test_train_on_bpe_tokens_saves_a_bpe_checkpoint(corpus, tmp_path):
    from glmlib.train import TrainConfig, train
    cfg = TrainConfig(tokenizer="bpe", vocab_size=300, block_size=16, n_layer=1, n_head=2, n_embd=16,
                      batch_size=4, max_iters=3, warmup_iters=1, eval_interval=3, eval_iters=1,
                      sample_chars=10, threads=1, out=str(tmp_path / "bpe_run"))
    text = corpus[:20_000]
    result = train(cfg, text=text)
    assert isinstance(result.tokenizer, BPETokenizer) and result.tokenizer.vocab_size == 300
    # learned on the training split only
    from glmlib.data import train_val_split
    assert result.tokenizer.same_as(BPETokenizer.train(train_val_split(text)[0], 300))
    assert result.model.config.vocab_size == 300
    model, tokenizer, record = load_checkpoint(tmp_path / "bpe_run")
    assert tokenizer.same_as(result.tokenizer) and record["train_config"]["tokenizer"] == "bpe"


@pytest.mark.parametrize("kwargs, match", [
    (dict(tokenizer="word"), r"tokenizer must be one of \('char', 'bpe'\), got 'word'"),
    (dict(vocab_size=512), "vocab_size is for tokenizer='bpe'"),
    (dict(tokenizer="bpe", vocab_size=100), "vocab_size"),
])
def test_train_config_refuses_bad_tokenizer_settings(kwargs, match):
    from glmlib.train import TrainConfig
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_command_line_takes_tokenizer_and_vocab_size():
    from glmlib.train import _config_from_args, _parser
    cfg = _config_from_args(_parser(), ["--tokenizer", "bpe", "--vocab-size", "512", "--max-iters", "1"])
    assert cfg.tokenizer == "bpe" and cfg.vocab_size == 512
    with pytest.raises(SystemExit):
        _config_from_args(_parser(), ["--vocab-size", "512"])  # a char run has no vocab_size
