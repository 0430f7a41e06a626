"""The tokenizer explorer (notebook 09): a text as tokens, one per character or by byte-pair merges.

Type or pick a text and see its tokens as coloured chips, each with its id
(hover for its bytes; the table view lists them all). A character of several
UTF-8 bytes that the merges split across tokens is shown as its bytes in
hex (``e4 bd``), never as a broken glyph. The ``merges`` slider keeps only
the first ``n`` merges of a trained byte-level BPE tokenizer (vocabulary
``256 + n``): 0 merges is plain bytes. The picture shows, for the text, how
the tokens per character and the attention cost ``T^2`` (relative to one
token per character) fall as the vocabulary grows.

Speed: the text is encoded once with every merge. With only the first ``n``
merges, BPE's encoding is that one with every token of a later merge split
back into the two it was made of (merges apply in the order they were
learned, and each only joins neighbours), so a slider move costs a split of
a few hundred tokens, never a new encode; the count for every ``n`` at once
comes from how many merges of each rank the text's tokens hold.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import ipywidgets as widgets
import numpy as np

from ..data import load_shakespeare, train_val_split, visible
from ..i18n import _, translate
from ..tokenizers import CharTokenizer
from ._backgrounds import LayoutFigure
from ._checks import is_whole
from ._render import (YOUR_TEXT, Explorer, N_, TextExamples, beside, example_choices, html_escape,
                      image_widget, message_html, separator, small_html)

DEFAULT_VOCAB_SIZE = 512  # the default BPE tokenizer: 256 bytes + 256 merges
TRAIN_CHARS = 1_000_000  # it learns its merges from the start of the corpus's training part
MAX_CHARS = 5_000  # the longest text the explorer shows
MAX_CHIPS = 1_500  # tokens drawn as chips (the counts and the picture cover the whole text)
TABLE_ROWS = 400  # the table view lists at most this many tokens
MODES = {"BPE": "bpe", N_("characters"): "char"}  # the toggle's labels (translated) -> the ``tokenizer`` argument
EXAMPLE_NAMES = (N_("English"), N_("Shakespeare"), N_("Chinese"), N_("code"))  # shown translated, kept as values

# One meaning per colour: a chip's background only separates neighbouring tokens; grey with a
# dashed outline is a character the character tokenizer does not know; brown hex is raw bytes.
CHIP_COLORS = ("#fde68a", "#bfdbfe", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa")
UNKNOWN_COLOR = "#e5e5e5"
BYTES_COLOR = "#9a3412"
BPE_COLOR = "#1f77b4"  # the BPE curves and the current number of merges
CHAR_COLOR = "#7f7f7f"  # the character tokenizer: one token per character

ENGLISH = ("Tokenizers cut text into pieces. A model never sees letters, only token ids:\n"
           "\"unbelievable\" may be one token or four, and \" the\" (with its space) is often one.\n")
CHINESE = ("床前明月光，疑是地上霜。举头望明月，低头思故乡。\n"
           "语言模型不认识汉字，只认识词元：每个汉字是三个字节。\n")
CODE = ("def count_pairs(ids):\n"
        "    counts = {}\n"
        "    for pair in zip(ids, ids[1:]):\n"
        "        counts[pair] = counts.get(pair, 0) + 1\n"
        "    return counts  # {(101, 32): 7, ...}\n")


@lru_cache(maxsize=1)
def _corpus_parts() -> tuple[str, str]:
    return train_val_split(load_shakespeare())


def shakespeare_passage(max_chars: int = 420) -> str:
    """The start of the corpus's validation part, cut after a line (text the default BPE never saw)."""
    val = _corpus_parts()[1][:max_chars]
    return val[:val.rfind("\n") + 1] or val


def examples() -> dict[str, str]:
    """The explorer's preset texts: English, a Shakespeare passage from the corpus, Chinese, code."""
    return dict(zip(EXAMPLE_NAMES, (ENGLISH, shakespeare_passage(), CHINESE, CODE)))


@lru_cache(maxsize=4)
def default_bpe(vocab_size: int = DEFAULT_VOCAB_SIZE, train_chars: int = TRAIN_CHARS) -> Any:
    """A byte-level BPE tokenizer of ``vocab_size`` tokens trained on the first ``train_chars``
    characters of the corpus's training part (trained once per session, then shared)."""
    from ..bpe import BPETokenizer

    return BPETokenizer.train(_corpus_parts()[0][:train_chars], vocab_size)


@lru_cache(maxsize=1)
def default_char_tokenizer() -> CharTokenizer:
    """The character tokenizer of the whole corpus (the course's tokenizer before notebook 09)."""
    return CharTokenizer.from_text(load_shakespeare())


class MergeForest:
    """A BPE tokenizer's merges as a forest: which two tokens each merged token was made of.

    ``split(ids, n)`` turns an encoding with every merge into the encoding with
    only the first ``n`` (then ``renumber`` gives special tokens ``with_merges(n)``'s
    ids); ``counts(ids)`` is the number of tokens for every
    ``n = 0..N`` at once.
    """

    def __init__(self, bpe: Any) -> None:
        merges = [tuple(int(i) for i in pair) for pair in bpe.merges]
        self.n_merges = len(merges)
        self.children = {256 + r: pair for r, pair in enumerate(merges)}
        self._ranks: dict[int, np.ndarray] = {}

    def split(self, ids: list[int], n: int) -> list[int]:
        """The tokens of ``ids`` with merges ``n`` and later undone (in order)."""
        first_undone = 256 + n
        out: list[int] = []
        for t in ids:
            if t < first_undone or t not in self.children:
                out.append(t)
                continue
            stack = [t]
            while stack:  # depth first, left child first: the bytes keep their order
                u = stack.pop()
                if u >= first_undone and u in self.children:
                    a, b = self.children[u]
                    stack += (b, a)
                else:
                    out.append(u)
        return out

    def renumber(self, ids: list[int], n: int) -> list[int]:
        """Ids of the full vocabulary as ``with_merges(n)`` numbers them: special tokens (after the
        merges) move down by the merges undone; every other id is the same."""
        first_special, shift = 256 + self.n_merges, self.n_merges - n
        return [i - shift if i >= first_special else i for i in ids]

    def ranks(self, t: int) -> np.ndarray:
        """The rank of every merge inside token ``t`` (``len(bytes) - 1`` of them for a merged token)."""
        got = self._ranks.get(t)
        if got is None:
            kids = self.children.get(t)
            got = (np.zeros(0, dtype=np.int64) if kids is None else
                   np.concatenate([[t - 256], self.ranks(kids[0]), self.ranks(kids[1])]).astype(np.int64))
            self._ranks[t] = got
        return got

    def counts(self, ids: list[int]) -> np.ndarray:
        """``(N + 1,)``: how many tokens the text of ``ids`` has with only the first ``n`` merges.

        Each merge inside a token joined two tokens into one, so with ``n``
        merges the count is the number of base tokens less the merges of rank
        below ``n`` that the tokens hold.
        """
        distinct, times = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
        hist = np.zeros(self.n_merges, dtype=np.int64)
        base = 0
        for t, k in zip(distinct.tolist(), times.tolist()):
            r = self.ranks(t)
            base += k * (len(r) + 1)
            if len(r):
                hist += k * np.bincount(r, minlength=self.n_merges)
        return base - np.concatenate([[0], np.cumsum(hist)])


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def _char_note(ch: str) -> str:
    return _("{char} (U+{code:04X}, {n} bytes {hex})", char=visible(ch), code=ord(ch), n=len(ch.encode("utf-8")),
             hex=_hex(ch.encode("utf-8")))


class TokenizerExplorer(TextExamples, Explorer):
    """A text as tokens under the character tokenizer or a byte-level BPE tokenizer cut to ``n`` merges.

    Controls: ``examples`` (the preset texts), ``text``, ``mode`` (``"bpe"``
    or ``"char"``), ``merges`` (0 to the tokenizer's merges) and ``view``
    (chips or a table). ``state`` holds what was last shown: ``ids`` (the
    token ids; ``None`` for a character not in the character vocabulary),
    ``pieces`` (each token's bytes), ``n_chars``, ``n_bytes``, ``n_tokens``,
    ``tokens_per_char``, ``attention_cost`` (``(T / n_chars)^2``, the cost of
    attention relative to one token per character), ``unknown`` (characters
    outside the character vocabulary), ``counts`` (tokens for every number of
    merges), ``vocab_size`` and ``message``.
    """

    def __init__(self, text: str | None = None, bpe: Any = None, char_tokenizer: CharTokenizer | None = None,
                 merges: int | None = None, tokenizer: str = "bpe", example: str | None = None) -> None:
        presets = examples()
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if example is not None and example not in presets:
            raise ValueError(f"example must be one of {list(presets)}, got {example!r}")
        if text is None:
            text = presets[example or "English"]
        problem = text_problem(text)
        if problem:
            raise ValueError(problem)
        if tokenizer not in MODES.values():
            raise ValueError(f"tokenizer must be 'bpe' or 'char', got {tokenizer!r}")
        if char_tokenizer is None:
            char_tokenizer = default_char_tokenizer()
        elif not isinstance(char_tokenizer, CharTokenizer):
            raise TypeError(f"char_tokenizer must be a glmlib.tokenizers.CharTokenizer, "
                            f"got {type(char_tokenizer).__name__}")
        if bpe is None:
            bpe = default_bpe()
        _check_bpe(bpe)
        self.bpe, self.char_tokenizer = bpe, char_tokenizer
        self.forest = MergeForest(bpe)
        N = self.forest.n_merges
        if merges is None:
            merges = N
        if not is_whole(merges) or not 0 <= merges <= N:
            raise ValueError(f"merges must be a whole number from 0 to {N} (the tokenizer's merges), "
                             f"got {merges!r}")
        self._examples = presets
        self._build_controls(text, int(merges), tokenizer)
        self.state: dict[str, Any] = {"message": ""}
        self._encoded: tuple[str, list[int]] | None = None  # the text and its encoding with every merge
        self._busy = False
        self._fig = LayoutFigure((5.9, 4.3))
        self._build_axes()
        self.text.observe(self._on_text, "value")
        self.examples.observe(self._on_example, "value")
        for control in (self.mode, self.merges, self.view):
            control.observe(lambda _change: self.refresh(), "value")
        self.refresh()

    # ------------------------------------------------------------------ controls

    def _build_controls(self, text: str, merges: int, mode: str) -> None:
        style = {"description_width": "56px"}
        chosen = next((name for name, t in self._examples.items() if t == text), YOUR_TEXT)
        self.examples = widgets.Dropdown(options=example_choices(list(self._examples), translate), value=chosen,
                                         description=_("example"), style=style,
                                         layout=widgets.Layout(width="230px"))
        self.mode = widgets.ToggleButtons(options=[(translate(label), value) for label, value in MODES.items()],
                                          value=mode, style={"button_width": "90px"},
                                          tooltips=[_("byte-pair merges"), _("one token per character")])
        self.view = widgets.ToggleButtons(options=[(_("chips"), "chips"), (_("table"), "table")], value="chips",
                                          style={"button_width": "60px"},
                                          tooltips=[_("the text as tokens"), _("every token's id and bytes")])
        self.merges = widgets.IntSlider(value=merges, min=0, max=self.forest.n_merges, description=_("merges"),
                                        style=style, continuous_update=True,
                                        layout=widgets.Layout(width="98%"))
        self.text = widgets.Textarea(value=text, description=_("text"), continuous_update=False, style=style,
                                     layout=widgets.Layout(width="98%", height="64px"))
        self.readout = widgets.HTML()
        self.tokens = widgets.HTML()
        self.tokens.add_class("glm-token-spans")
        self.image = image_widget()
        help_line = small_html(_(
            "Each chip is one token, its id below (hover for its bytes). Brown hex: bytes of a character "
            "split across tokens; grey dashed: a character the character vocabulary lacks. "
            "<b>merges</b>: keep only the first n merges (vocabulary 256 + n)."))
        self.widget = widgets.VBox([
            widgets.HBox([self.examples, self.mode, self.view], layout=widgets.Layout(align_items="center")),
            self.text, self.merges, self.readout,
            beside([self.tokens, help_line], [self.image], width="440px")])
        self.widget.add_class("glm-tokenizer-explorer")

    # ------------------------------------------------------------------ numbers

    def compute(self) -> dict[str, Any]:
        """The tokens of the text under the current controls (raises ValueError for a text it cannot show)."""
        text = self.text.value
        problem = text_problem(text)
        if problem:
            raise ValueError(problem)
        if self._encoded is None or self._encoded[0] != text:
            full = list(self.bpe.encode(text)) if text else []
            self._encoded = (text, full)
            self._counts = self.forest.counts(full)
        full = self._encoded[1]
        n_chars, raw = len(text), text.encode("utf-8")
        n = int(self.merges.value)
        if self.mode.value == "char":
            stoi = self.char_tokenizer.stoi
            specials = set(self.char_tokenizer.specials)
            ids = [stoi[c] if c in stoi and c not in specials else None for c in text]
            pieces = [c.encode("utf-8") for c in text]
            vocab = self.char_tokenizer.vocab_size
        else:
            made = self.forest.split(full, n)
            pieces = [bytes(self.bpe.token_bytes(i)) for i in made]
            ids = self.forest.renumber(made, n)
            vocab = self.bpe.vocab_size - self.forest.n_merges + n
        T = len(ids)
        return {"text": text, "mode": self.mode.value, "merges": n, "ids": ids, "pieces": pieces,
                "n_chars": n_chars, "n_bytes": len(raw), "n_tokens": T, "vocab_size": vocab,
                "tokens_per_char": T / n_chars if n_chars else float("nan"),
                "attention_cost": (T / n_chars) ** 2 if n_chars else float("nan"),
                "unknown": sorted({c for c, i in zip(text, ids) if i is None}),
                "counts": self._counts, "message": ""}

    def refresh(self) -> None:
        """Recompute and redraw everything; a text it cannot show becomes a message."""
        self.merges.disabled = self.mode.value == "char"  # merges are BPE's
        try:
            st = self.compute()
        except (ValueError, TypeError) as err:
            self.state["message"] = str(err)
            self.readout.value = message_html(str(err))
            self.tokens.value = ""
            return
        self.state.clear()
        self.state.update(st)
        st = self.state
        self.readout.value = self._summary(st)
        self.tokens.value = self._table(st) if self.view.value == "table" else self._chips(st)
        self.image.value = self._draw(st)

    # ------------------------------------------------------------------ text panels

    def _summary(self, st: dict[str, Any]) -> str:
        n, T = st["n_chars"], st["n_tokens"]
        if st["mode"] == "char":
            unknown = st["unknown"]
            if unknown:
                listed = " ".join(html_escape(visible(c)) for c in unknown[:12])
                more = " \u2026" if len(unknown) > 12 else ""
                how = _("characters (vocabulary {vocab}, from the corpus); <b>{n} not in it</b> (shown as "
                        "unknown): {chars}", vocab=st["vocab_size"], n=len(unknown), chars=f"{listed}{more}")
            else:
                how = _("characters (vocabulary {vocab}, from the corpus)", vocab=st["vocab_size"])
        else:
            how = _("BPE with {merges} of {all} merges (vocabulary {vocab})", merges=st["merges"],
                    all=self.forest.n_merges, vocab=st["vocab_size"])
        if not n:
            return "<div style='font-family:monospace'>{}</div>".format(
                _("an empty text: no tokens. Tokenizer: {how}.", how=how))
        line = _("{n} characters, {n_bytes} UTF-8 bytes &rarr; <b>{T} tokens</b>, <b>{per_char:.2f}</b> per "
                 "character; attention T&sup2; = {pairs:,} pairs, <b>{cost:.2f}&times;</b> that of one token per "
                 "character ({char_pairs:,}).<br>Tokenizer: {how}.", n=n, n_bytes=st["n_bytes"], T=T,
                 per_char=st["tokens_per_char"], pairs=T * T, cost=st["attention_cost"], char_pairs=n * n, how=how)
        return f"<div style='font-family:monospace;font-size:12px;line-height:1.45'>{line}</div>"

    def _segments(self, st: dict[str, Any], limit: int) -> list[tuple[list[tuple[str, str]], str]]:
        """The first ``limit`` tokens as display segments (``("text", s)`` or ``("bytes", hex)``) and
        a tooltip each."""
        text, pieces = st["text"], st["pieces"]
        raw = text.encode("utf-8")
        aligned = b"".join(pieces) == raw
        if aligned:  # the character each byte belongs to, and where each character starts
            char_len = np.fromiter((len(c.encode("utf-8")) for c in text), dtype=np.int64, count=len(text))
            starts = np.concatenate([[0], np.cumsum(char_len)])
            char_of = np.repeat(np.arange(len(text)), char_len)
        out, pos = [], 0
        for k, (i, piece) in enumerate(zip(st["ids"][:limit], pieces)):
            segs: list[tuple[str, str]] = []
            notes: list[str] = []
            if not aligned:  # a special token or an unusual tokenizer: bytes decoded on their own
                shown = piece.decode("utf-8", errors="replace")
                segs.append(("text", shown) if "\ufffd" not in shown else ("bytes", _hex(piece)))
            else:
                p, end = pos, pos + len(piece)
                while p < end:
                    c = int(char_of[p])
                    c0, c1 = int(starts[c]), int(starts[c + 1])
                    if c0 >= pos and c1 <= end:
                        segs.append(("text", text[c]))
                    else:
                        part = raw[max(c0, p):min(c1, end)]
                        segs.append(("bytes", _hex(part)))
                        notes.append(_("bytes {first}-{last} of {n} of {char}", first=max(c0, p) - c0 + 1,
                                       last=min(c1, end) - c0, n=c1 - c0, char=_char_note(text[c])))
                    p = min(c1, end)
                pos = end
            ident = _("unknown: not in the character vocabulary") if i is None else f"id {i}"
            size = _("{n} byte", n=len(piece)) if len(piece) == 1 else _("{n} bytes", n=len(piece))
            title = _("token {k}: {ident}; {size}: {hex}", k=k, ident=ident, size=size, hex=_hex(piece))
            if i is None:
                notes.insert(0, _char_note(piece.decode("utf-8")))
            title = separator("; ").join([title, *notes])
            out.append((segs, title))
        return out

    def _chips(self, st: dict[str, Any]) -> str:
        parts = []
        for k, ((segs, title), i) in enumerate(zip(self._segments(st, MAX_CHIPS), st["ids"])):
            shown, newline = [], False
            for kind, s in segs:
                if kind == "bytes":
                    shown.append(f"<span class='glm-hex'>{s}</span>")
                else:
                    newline = newline or s.endswith("\n")
                    shown.append("".join(_shown_char(c) for c in s))
            cls, label = ("glm-unknown", "?") if i is None else (f"glm-c{k % len(CHIP_COLORS)}", str(i))
            parts.append(f"<span class='glm-token {cls}' title='{html_escape(title)}'>"
                         f"<span class='glm-t'>{''.join(shown)}</span><br><span class='glm-id'>{label}</span></span>")
            if newline:
                parts.append("<br>")
        more = len(st["ids"]) - MAX_CHIPS
        if more > 0:
            parts.append("<div><i>&hellip; {}</i></div>".format(_(
                "and {more:,} more tokens (not drawn here; the numbers and the picture count them all)", more=more)))
        return _box("".join(parts))

    def _table(self, st: dict[str, Any]) -> str:
        rows = []
        for k, ((segs, _title), i, piece) in enumerate(zip(self._segments(st, TABLE_ROWS), st["ids"], st["pieces"])):
            shown = "".join(f"<span class='glm-hex'>{s}</span>" if kind == "bytes" else
                            "".join(_shown_char(c) for c in s) for kind, s in segs)
            rows.append(f"<tr><td>{k}</td><td style='white-space:pre'>{shown}</td>"
                        f"<td>{'?' if i is None else i}</td><td>{len(piece)}</td><td>{_hex(piece)}</td></tr>")
        if len(st["ids"]) > TABLE_ROWS:
            rows.append("<tr><td colspan=5>&hellip; {}</td></tr>".format(
                _("and {more:,} more tokens", more=len(st["ids"]) - TABLE_ROWS)))
        head = "<tr>" + "".join(f"<th>{h}</th>" for h in ("#", _("token"), "id", _("bytes"), "hex")) + "</tr>"
        return _box(f"<table style='border-collapse:collapse;font-size:11px;text-align:left' cellpadding=2>"
                    f"{head}{''.join(rows)}</table>")

    # ------------------------------------------------------------------ drawing

    def _build_axes(self) -> None:
        fig = self._fig.figure
        fig.subplots_adjust(left=0.14, right=0.97, top=0.86, bottom=0.12, hspace=0.42)
        self._ax_rate, self._ax_cost = axes = fig.subplots(2, 1, sharex=True)
        N = self.forest.n_merges
        x = np.arange(N + 1)
        self._curves, self._dots = [], []
        for ax in axes:
            ax.set_xlim(0, max(N, 1))
            ax.grid(alpha=0.3)
            ax.axhline(1.0, color=CHAR_COLOR, ls="--", lw=1.2, label="characters (1 token each)")
            (curve,) = ax.plot(x, np.ones_like(x, dtype=float), color=BPE_COLOR, lw=1.8, label="BPE, this text")
            (dot,) = ax.plot([], [], "o", color=BPE_COLOR, mec="black", ms=7, zorder=5)
            self._curves.append(curve)
            self._dots.append(dot)
        self._ax_rate.set_ylabel("tokens per\ncharacter")
        self._ax_cost.set_ylabel("attention cost T\u00b2\n\u00f7 characters\u00b2")
        self._ax_cost.set_xlabel("merges learned (vocabulary = 256 + merges)")
        handles, labels = self._ax_rate.get_legend_handles_labels()
        fig.legend(handles[::-1], labels[::-1], loc="upper center", ncol=2, fontsize=9, frameon=False)
        self._ax_rate.set_title(" ", fontsize=10)
        self._ax_cost.set_title(" ", fontsize=10)
        self._marker = [ax.axvline(0, color="#111111", lw=1) for ax in axes]
        self._fig.dynamic(*self._curves, *self._dots, *self._marker, self._ax_rate.title, self._ax_cost.title)

    def _draw(self, st: dict[str, Any]) -> bytes:
        n_chars = st["n_chars"]
        rate = st["counts"] / n_chars if n_chars else np.zeros(len(st["counts"]))
        top = _nice_limit(max(1.0, float(rate.max(initial=0.0))))

        def apply(top: float) -> None:
            self._ax_rate.set_ylim(0, top)
            self._ax_cost.set_ylim(0, top * top)

        self._fig.layout(top, apply)
        self._curves[0].set_ydata(rate)
        self._curves[1].set_ydata(rate * rate)
        bpe = st["mode"] == "bpe"
        n = st["merges"]
        for dot, y in zip(self._dots, (rate[n], rate[n] ** 2) if n_chars else (0.0, 0.0)):
            dot.set_data([n], [y])
            dot.set_visible(bpe and bool(n_chars))
        for line in self._marker:
            line.set_xdata([n, n])
            line.set_visible(bpe)
        if not n_chars:
            rate_title = "an empty text"
            cost_title = " "
        elif bpe:
            rate_title = (f"{n} merges: {st['n_tokens']} tokens for {n_chars} characters, "
                          f"{st['tokens_per_char']:.2f} per character")
            cost_title = f"attention over T = {st['n_tokens']} tokens costs {st['attention_cost']:.2f}\u00d7 characters'"
        else:
            rate_title = f"characters: {n_chars} tokens, 1 per character (BPE curve for comparison)"
            cost_title = "attention cost 1\u00d7 (T = number of characters)"
        self._ax_rate.set_title(rate_title, fontsize=10)
        self._ax_cost.set_title(cost_title, fontsize=10)
        st["drawn_rate"] = np.asarray(self._curves[0].get_ydata(), dtype=float)
        st["drawn_cost"] = np.asarray(self._curves[1].get_ydata(), dtype=float)
        return self._fig.render()


def _shown_char(c: str) -> str:
    """A character inside a chip: spaces and line ends visible (in grey), the rest as itself."""
    if c in ("\n", " ", "\t", "\r"):
        return f"<span class='glm-ws'>{visible(c)}</span>"
    return html_escape(visible(c))


# the chips' look, once per panel instead of on every chip (a text of 5,000 tokens stays small)
_CHIP_CSS = (
    ".glm-token{display:inline-block;margin:1px;padding:0 2px;border-radius:3px;text-align:center;"
    "vertical-align:top;line-height:1.15}"
    ".glm-token .glm-t{white-space:pre}.glm-token .glm-id{font-size:9px;color:#555}"
    f".glm-hex{{color:{BYTES_COLOR};font-size:10px}}.glm-ws{{color:#888}}"
    f".glm-unknown{{background:{UNKNOWN_COLOR};outline:1px dashed #555;outline-offset:-1px}}"
    + "".join(f".glm-c{k}{{background:{c}}}" for k, c in enumerate(CHIP_COLORS)))


def _box(inner: str) -> str:
    return (f"<style>{_CHIP_CSS}</style><div style='font-family:monospace;font-size:13px;max-height:330px;"
            f"overflow-y:auto;border:1px solid #ddd;padding:4px;margin-right:8px'>{inner}</div>")


def _nice_limit(top: float) -> float:
    """The smallest of a few fixed limits above ``top`` (few limits: few full redraws). Tokens per
    character are at most 4 (a character is at most 4 UTF-8 bytes)."""
    for limit in (1.25, 2.0, 3.25, 4.25):
        if top * 1.04 <= limit:
            return limit
    return top * 1.05


def text_problem(text: str) -> str:
    """Why the explorer cannot show ``text``, or ``""``."""
    if not isinstance(text, str):
        return _("text must be a str, got {kind}", kind=type(text).__name__)
    if len(text) > MAX_CHARS:
        return _("the text has {n:,} characters; the explorer shows at most {most:,}", n=len(text), most=MAX_CHARS)
    bad = next((k for k, c in enumerate(text) if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        return _("the text has a lone surrogate U+{code:04X} at character {at}, which is not a character and has "
                 "no UTF-8 bytes; remove it", code=ord(text[bad]), at=bad)
    return ""


def _check_bpe(bpe: Any) -> None:
    from ..bpe import BPETokenizer

    if not isinstance(bpe, BPETokenizer):
        raise TypeError(f"bpe must be a trained glmlib.bpe.BPETokenizer, got {type(bpe).__name__}")
    for r, pair in enumerate(bpe.merges):  # the forest relies on merge r making token 256 + r
        if bytes(bpe.token_bytes(256 + r)) != bytes(bpe.token_bytes(pair[0])) + bytes(bpe.token_bytes(pair[1])):
            raise ValueError(f"bpe's merge {r} {tuple(pair)!r} does not make token {256 + r}; "
                             f"the explorer needs merge r to make token 256 + r")


def tokenizer_explorer(text: str | None = None, bpe: Any = None, char_tokenizer: CharTokenizer | None = None,
                       merges: int | None = None, tokenizer: str = "bpe",
                       example: str | None = None) -> TokenizerExplorer:
    """Build a :class:`TokenizerExplorer`; the last expression of a cell displays it.

    ``text`` (or ``example``, one of English, Shakespeare, Chinese, code; English
    by default) is the text shown. ``bpe`` is a trained
    :class:`glmlib.bpe.BPETokenizer` (default: 512 tokens learned from 1,000,000
    characters of the corpus, trained once per session); ``char_tokenizer`` a
    :class:`~glmlib.tokenizers.CharTokenizer` (default: the corpus's).
    ``merges`` (default: all) and ``tokenizer`` (``"bpe"`` or ``"char"``) set
    the controls.
    """
    return TokenizerExplorer(text=text, bpe=bpe, char_tokenizer=char_tokenizer, merges=merges,
                             tokenizer=tokenizer, example=example)
