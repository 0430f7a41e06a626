"""Build the course website (``make site``): static HTML of the executed course in ``site/``.

Nothing is executed: the pages show the outputs stored in ``notebooks/*.ipynb``.
For each edition this script stages, in ``build/site-src/<edition>/``,

- ``index.md``, the home page: the course (the README's introduction, its
  notebook table with each notebook's run and study times, its explorers'
  pictures from ``docs/screenshots/``, its quick start);
- one page per entry of :data:`PAGES`, made of the README's other sections;
- ``notebooks/NN_name.ipynb``, prepared for the edition (see :func:`prepare`),
  with its run and study times under its title;
- ``glossary.md`` and ``_static/`` from ``website/``, and MathJax 3 in ``_static/mathjax``;

Before anything is staged, each notebook is checked (:func:`check_notebook`): one that
Jupyter cannot read or calls invalid, or a picture that would show broken (an output,
an attachment, a linked file; so are the pictures the pages link), stops the build
with one line naming the notebook, the cell and what is wrong.

It then runs Sphinx with ``website/conf.py``, checks that MathJax can typeset
every maths expression of the pages (:func:`check_maths`; the build fails
otherwise) and writes the search index's titles as text, not TeX. The self-study edition (solutions
folded under each exercise) goes to ``site/``, the student edition (no
solutions) to ``site/student/``. The new site is written next to ``site/`` and
swapped in at the end, so a failed build leaves the old one in place.

    python tools/build_site.py [--out site] [--edition all|self-study|student]
"""
from __future__ import annotations

import argparse
import base64
import binascii
import copy
import html
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from urllib.parse import unquote

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded from its path
import exercise_marks  # noqa: E402
from outputs import OutputError, check_replaceable, staging, swap_in  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WEBSITE = ROOT / "website"
BUILD = ROOT / "build"
EDITIONS = ("self-study", "student")
SUBDIR = {"self-study": "", "student": "student"}  # where each edition lands inside the site
# The site's languages: English, and the Chinese edition in site/zh-CN/ (its notebooks and pages built
# from the English ones by tools/i18n.py). Each page links to the same page in the other language.
LANGUAGES = ("en", "zh-CN")
LANGUAGE_DIR = {"en": "", "zh-CN": "zh-CN"}


def subdir(language: str, edition: str) -> str:
    """Where one language's edition lands inside the site: "", "student", "zh-CN", "zh-CN/student"."""
    return "/".join(p for p in (LANGUAGE_DIR[language], SUBDIR[edition]) if p)


# The words the site itself writes, in each language
WORDS = {
    "en": {
        "live_note": "A picture of this widget as the notebook last drew it. To use it live, run the "
                     "notebook in JupyterLab: <code>make lab</code>.",
        "reading": "Reading the course",
        "reading_body": "This website shows the notebooks as they were last run, with their outputs. The explorers "
                        "appear as pictures; to use them live, and to do the exercises, clone the repository and "
                        "run `make lab`. ",
        "student_note": "This is the **student edition**: the exercises without their solutions.",
        "self_study_note": "This is the **self-study edition**: each exercise's worked solution is folded under "
                           "it; the <a href=\"student/index.html\">student edition</a> has none.",
        "search_note": "Every page is searchable (the search box on the left) and the first use of each "
                       "technical word links to the [glossary](glossary.md).",
        "build": "What you will build", "explorers": "The explorers", "start": "How to start",
        "more": "More about the course", "toc_course": "The course", "toc_about": "About the course",
        "under": "under {n} min", "about_hour": "about 1 h", "study": "60–90 min",
        "times": "<p class=\"glm-times\"><strong>Run time:</strong> {run} on a 2-core CPU. "
                 "<strong>Study time:</strong> {study}, exercises included.</p>",
        "table_head": " run | study |",
        "table_note": "\n*Run*: the notebook top to bottom on a 2-core CPU, as its stored outputs were last made "
                      "(each notebook's limit is {budget:g} minutes, `benchmarks/time_notebooks.py`). "
                      "*Study*: a careful learner's time, exercises included.\n",
    },
    "zh-CN": {
        "live_note": "这是笔记本上次运行时绘制的交互控件的图片。要实际操作它，请在 JupyterLab 中运行笔记本："
                     "<code>make lab-zh</code>。",
        "reading": "如何阅读本课程",
        "reading_body": "本网站展示的是各笔记本上次运行的结果及其输出。探索器在这里显示为图片；要实际操作它们并完成练习，"
                        "请克隆仓库并运行 `make lab-zh`。",
        "student_note": "这是**学生版**：练习不附解答。",
        "self_study_note": "这是**自学版**：每道练习的参考解答折叠在练习下方；"
                           "<a href=\"student/index.html\">学生版</a>不含解答。",
        "search_note": "每一页都可以搜索（左侧的搜索框），每个术语在文中第一次出现时都链接到[术语表](glossary.md)。"
                       "图表和程序输出保持英文，正文会加以说明。",
        "build": "你将构建什么", "explorers": "探索器", "start": "如何开始",
        "more": "关于本课程的更多内容", "toc_course": "课程", "toc_about": "关于本课程",
        "under": "不到 {n} 分钟", "about_hour": "约 1 小时", "study": "60–90 分钟",
        "times": "<p class=\"glm-times\"><strong>运行时间：</strong>在 2 核 CPU 上{run}。"
                 "<strong>学习时间：</strong>{study}，含练习。</p>",
        "table_head": " 运行 | 学习 |",
        "table_note": "\n*运行*：在 2 核 CPU 上从头到尾运行该笔记本所需的时间，以其保存的输出上次生成时为准"
                      "（每个笔记本的上限为 {budget:g} 分钟，见 `benchmarks/time_notebooks.py`）。"
                      "*学习*：认真的学习者所需的时间，含练习。\n",
    },
}
LANGUAGE_LINE = re.compile(r"^.*English.*·.*简体中文.*$\n?", re.M)  # "**English** · [简体中文](README.zh-CN.md)"
# The site's other pages, by language: file -> title (the README's sections placed by PAGES)
PAGE_TITLES = {"zh-CN": {"install": "安装课程", "teaching": "练习、各版本与课堂教学",
                         "library": "库、模型与训练", "tests": "测试与基准", "about": "关于本网站"}}

SITE_ALWAYS = (".nojekyll", "index.html", "search.html")  # a site built before outputs.MARK existed
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
LIVE_NOTE = f"<p class=\"glm-live-note\">{WORDS['en']['live_note']}</p>"
# comment lines meant for the tools, not the reader: nbval's and otter's markers
DIRECTIVE = re.compile(r"^[ \t]*# (?:NBVAL_[A-Z_]+|BEGIN SOLUTION(?: NO PROMPT)?|END SOLUTION)[ \t]*(?:\n|$)",
                       re.MULTILINE)
PROGRESS_BAR = re.compile(r"\d+%\|")  # a tqdm bar's text, e.g. "sampling: 100%|####| 16/16"
# the first bytes of each raster picture a page may show
PICTURE_SIGNATURES = {"image/png": (b"\x89PNG\r\n\x1a\n", "PNG"), "image/jpeg": (b"\xff\xd8\xff", "JPEG"),
                      "image/gif": (b"GIF8", "GIF")}
PICTURE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                    ".svg": "image/svg+xml"}
# a picture in Markdown or HTML: ![alt](src "title") or <img ... src="src">
MARKDOWN_PICTURE = re.compile(r"""!\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+["'][^)]*)?\)"""
                              r"""|<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
MARKDOWN_CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.DOTALL)  # pictures there are only shown as text


def markdown_pictures(text: str) -> list[str]:
    """The ``src`` of every picture a Markdown text shows (not those quoted in code)."""
    return [m.group(1) or m.group(2) for m in MARKDOWN_PICTURE.finditer(MARKDOWN_CODE.sub("", text))]

# glossary term -> the words that link to it (case-insensitive, whole words).
# In each notebook the first use of a term in prose links to website/glossary.md.
TERMS: dict[str, str] = {
    "AdamW": r"AdamW",
    "attention": r"attention",
    "autoregressive generation": r"autoregressive(?: generation| loop)?",
    "bigram model": r"bigram(?: model| LM)?",
    "byte": r"bytes?",
    "byte-pair encoding": r"byte-pair encoding|BPE",
    "causal mask": r"causal masks?",
    "chain rule": r"chain rule",
    "code point": r"code points?",
    "context window": r"context window",
    "cross-entropy": r"cross-entropy",
    "decoder block": r"decoder blocks?",
    "embedding": r"embeddings?",
    "feed-forward network": r"feed-forward(?: network| layer)?s?|FFN",
    "gradient clipping": r"gradient clipping|clip(?:s|ping)? (?:the )?gradients?|clipping",
    "greedy decoding": r"greedy(?: decoding)?",
    "head": r"(?:attention )?heads?",
    "KV cache": r"KV[ -]cache",
    "LayerNorm": r"LayerNorm",
    "logit": r"logits?",
    "merge": r"merges",  # plural only: 04's "the merge" of heads is another idea
    "nucleus sampling": r"nucleus(?: sampling)?|top-p",
    "padding mask": r"padding masks?",
    "perplexity": r"perplexity",
    "positional embedding": r"positional embeddings?",
    "pre-tokenizer": r"pre-tokeni[sz]ers?",
    "query, key and value": r"quer(?:y|ies)",
    "residual stream": r"residual (?:stream|connections?)",
    "softmax": r"softmax",
    "special token": r"special tokens?",
    "temperature": r"temperature",
    "token": r"tokens?",
    "tokenizer": r"tokeni[sz]er",
    "top-k": r"top-k",
    "vocabulary": r"vocabulary",
    "warmup": r"warm-?up",
}
# Longer terms first, so "positional embedding" wins over "embedding" where both match.
_TERM_ORDER = sorted(TERMS, key=lambda t: -len(TERMS[t]))
_TERM_RES = {t: re.compile(rf"(?<![\w`{{-])(?:{TERMS[t]})(?![\w-])", re.IGNORECASE) for t in TERMS}
# Markdown that must not be touched: code, maths, links, roles, HTML tags, URLs
_PROTECTED = re.compile(
    r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]+\$|\\\(.*?\\\)|\\\[.*?\\\]"
    r"|!?\[[^\]\n]*\]\([^)\n]*\)|\[[^\]\n]*\]|\{[a-z-]+\}`[^`]*`|<[^>\n]+>|https?://\S+",
    re.DOTALL)


class SiteError(RuntimeError):
    """The site cannot be built from the notebooks as they are."""


# --------------------------------------------------------------------------- checks
# A page with a broken picture or a notebook Jupyter calls invalid is never published:
# the build stops with one line naming the notebook, the cell and what is wrong.

def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def cell_name(nb: nbformat.NotebookNode, index: int) -> str:
    """``cell 7 (code: "fig = plot(...)")``: the 1-based position and the first line of its source."""
    cell = nb.cells[index] if 0 <= index < len(nb.cells) else {}
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    source = "".join(source) if isinstance(source, list) else str(source)
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    kind = cell.get("cell_type", "cell") if isinstance(cell, dict) else "cell"
    return f"cell {index + 1} ({kind}: {_one_line(first, 50)!r})" if first else f"cell {index + 1} ({kind}, empty)"


def picture_problem(mime: str, data) -> str | None:
    """What is wrong with a picture stored as ``mime`` (base64 text, or SVG text), or ``None``."""
    text = "".join(data) if isinstance(data, list) else data
    if not isinstance(text, str) or not text.strip():
        return "is empty"
    if mime == "image/svg+xml":
        try:
            root = ElementTree.fromstring(text.encode("utf-8"))
        except ElementTree.ParseError as exc:
            return f"is not valid SVG ({_one_line(exc, 60)})"
        return None if root.tag.rsplit("}", 1)[-1] == "svg" else f"is not SVG (its root is <{root.tag}>)"
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        return f"is not valid base64 ({_one_line(exc, 60)})"
    return picture_bytes_problem(mime, raw)


def picture_bytes_problem(mime: str, raw: bytes) -> str | None:
    """What is wrong with the bytes of a picture of type ``mime``, or ``None`` (decoded in full)."""
    if mime not in PICTURE_SIGNATURES:
        return None  # a type browsers may or may not show: not ours to judge
    signature, kind = PICTURE_SIGNATURES[mime]
    if not raw.startswith(signature):
        return f"is not a {kind} file (it starts {raw[:8]!r})"
    from PIL import Image  # matplotlib's dependency

    try:
        with Image.open(io.BytesIO(raw)) as picture:
            picture.verify()  # the file's structure and checksums
        with Image.open(io.BytesIO(raw)) as picture:
            picture.load()  # every pixel decodes: a truncated picture fails here
    except Exception as exc:  # noqa: BLE001 (Pillow raises many kinds for a damaged file)
        return f"is a damaged {kind} file ({_one_line(exc, 60)})"
    return None


def local_picture_problem(folder: Path, src: str) -> str | None:
    """What is wrong with a picture a page links as ``src`` relative to ``folder``, or ``None``;
    pictures on the web, ``data:`` URLs and notebook attachments are checked elsewhere or not at all."""
    if re.match(r"[a-z][a-z0-9+.-]*:", src, re.IGNORECASE) or src.startswith(("//", "#")):
        return None
    path = folder / unquote(src.split("#")[0].split("?")[0])
    if not path.is_file():
        return "is missing"
    mime = PICTURE_SUFFIXES.get(path.suffix.lower())
    if mime == "image/svg+xml":
        return picture_problem(mime, path.read_text(encoding="utf-8", errors="replace"))
    return picture_bytes_problem(mime, path.read_bytes()) if mime else None


def check_notebook(nb: nbformat.NotebookNode, name: str, folder: Path | None = None) -> None:
    """Fail with one line naming ``name`` and the cell when the notebook is invalid (nbformat's
    schema) or holds a picture that would show broken: an output, an attachment, or (with
    ``folder``, where the notebook lies) a local file linked from its Markdown."""
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        where = list(exc.absolute_path)
        place = cell_name(nb, where[1]) if len(where) > 1 and where[0] == "cells" else "its metadata"
        raise SiteError(f"{name}, {place}: not a valid notebook: {_schema_problem(exc)} "
                        f"(at {'/'.join(map(str, where)) or 'the top'}); repair it in JupyterLab or re-create "
                        "it from its .py pair") from None
    for index, cell in enumerate(nb.cells):
        for number, out in enumerate(cell.get("outputs", []), 1):
            for mime, data in out.get("data", {}).items():
                problem = picture_problem(mime, data) if mime.startswith("image/") else None
                if problem:
                    raise SiteError(f"{name}, {cell_name(nb, index)}, output {number}: its {mime} picture "
                                    f"{problem}; re-execute the notebook so it stores a good one")
        for attachment, bundle in (cell.get("attachments") or {}).items():
            for mime, data in bundle.items():
                problem = picture_problem(mime, data) if mime.startswith("image/") else None
                if problem:
                    raise SiteError(f"{name}, {cell_name(nb, index)}: the attached picture {attachment!r} "
                                    f"({mime}) {problem}")
        if cell.cell_type == "markdown":
            for src in markdown_pictures(cell.source):
                if src.startswith("attachment:"):
                    if src[len("attachment:"):] not in (cell.get("attachments") or {}):
                        raise SiteError(f"{name}, {cell_name(nb, index)}: the picture {src!r} is not "
                                        "attached to the cell")
                    continue
                problem = local_picture_problem(folder, src) if folder is not None else None
                if problem:
                    raise SiteError(f"{name}, {cell_name(nb, index)}: the picture {src!r} {problem} "
                                    f"(looked for in {folder})")


def _schema_problem(exc: nbformat.ValidationError) -> str:
    """nbformat's complaint in a few words (its own message of a "one of" rule quotes the whole entry)."""
    if exc.validator in ("oneOf", "anyOf"):
        entry = exc.instance
        kinds = [f"{key} {entry[key]!r}" for key in ("output_type", "cell_type") if isinstance(entry, dict)
                 and key in entry]
        shown = kinds[0] if kinds else _one_line(repr(entry), 40)
        return f"{shown} is none of the forms nbformat allows"
    return _one_line(exc.message, 100)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, checked (:func:`check_notebook`); one line naming it if it cannot be read."""
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:  # NotJSONError and UnicodeDecodeError are ValueErrors
        raise SiteError(f"{path.name}: not a notebook Jupyter can read ({_one_line(exc, 100)}); "
                        "re-create it from its .py pair") from None
    except Exception as exc:  # noqa: BLE001 (nbformat's reader raises other kinds for odd JSON)
        raise SiteError(f"{path.name}: not a notebook Jupyter can read ({type(exc).__name__}: "
                        f"{_one_line(exc, 100)})") from None
    check_notebook(nb, path.name, path.parent)
    return nb


def check_page_pictures(page: Path, root: Path) -> None:
    """Fail with one line when a staged page links a picture that is missing or damaged."""
    for src in markdown_pictures(page.read_text(encoding="utf-8")):
        problem = local_picture_problem(page.parent, src)
        if problem:
            shown = page.relative_to(root).as_posix()
            raise SiteError(f"the site's page {shown}: the picture {src!r} {problem}")


# --------------------------------------------------------------------------- notebooks

def marker(cell: nbformat.NotebookNode) -> str | None:
    """The otter-grader block marker of a raw cell (``"BEGIN SOLUTION"``, ...), else ``None``."""
    return exercise_marks.marker(cell)


def prepare(nb: nbformat.NotebookNode, edition: str, name: str = "notebook",
            language: str = "en") -> nbformat.NotebookNode:
    """A copy of an executed notebook, ready for the site's ``edition``.

    - The exercise marks (cell metadata, see ``tools/exercise_marks.py``) or
      Otter-Grader's marker cells delimit the exercises; the markers and the hidden test blocks are dropped, and
      so are the marker comments in code (``# NBVAL_CHECK_OUTPUT``, ...).
    - Solution blocks: folded (``hide-input``) in the self-study edition,
      removed, prose included, from the student edition.
    - An explorer's output keeps its stored picture (``image/png``) and gains a
      one-line note on running it live; a progress bar is dropped; any other
      widget output without a picture is an error, never an empty box.
    - The notebook's widget state is dropped (no widget JavaScript on the page).
    - The first use of each glossary term in the prose links to the glossary.
    - A translated notebook's cell that sets the kernel's language is dropped (a page has no kernel).
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    try:
        nb = exercise_marks.expand(nb, name)  # a copy, with otter's marker cells
    except exercise_marks.MarkError as exc:
        raise SiteError(str(exc)) from exc
    nb.metadata.pop("widgets", None)
    cells, block = [], None
    for cell in nb.cells:
        if "glmlib-language" in cell.metadata.get("tags", []):
            continue
        mark = marker(cell)
        if mark is not None:
            kind = mark.split()[1]
            if kind in ("SOLUTION", "TESTS"):
                block = kind if mark.startswith("BEGIN") else None
            continue
        if block == "TESTS" or (block == "SOLUTION" and edition == "student"):
            continue
        if cell.cell_type == "code":
            if edition == "student" and "BEGIN SOLUTION" in cell.source:
                raise SiteError(f"{name}: a solution outside a solution block would reach the student "
                                f"site:\n{cell.source[:200]}")
            cell.source = DIRECTIVE.sub("", cell.source).strip("\n")  # test and grading markers
            if block == "SOLUTION":
                tags = cell.metadata.setdefault("tags", [])
                if "hide-input" not in tags:
                    tags.append("hide-input")
            cell.outputs = _static_outputs(cell.outputs, name, language)
        cells.append(cell)
    if block is not None:
        raise SiteError(f"{name}: a BEGIN {block} marker has no END {block}")
    nb.cells = cells
    link_glossary(nb, language)
    return nb


def _static_outputs(outputs: list, name: str, language: str = "en") -> list:
    result = []
    for out in outputs:
        data = out.get("data", {})
        if WIDGET_MIME not in data:
            result.append(out)
            continue
        text = data.get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else text
        if "image/png" in data:
            out = copy.deepcopy(out)
            out.data = {"image/png": data["image/png"]}
            out.pop("transient", None)
            result.append(out)
            note = f"<p class=\"glm-live-note\">{WORDS[language]['live_note']}</p>"
            result.append(nbformat.v4.new_output("display_data", data={"text/html": note}))
        elif PROGRESS_BAR.search(text):
            continue  # a finished progress bar says nothing on a static page
        else:
            raise SiteError(f"{name}: a widget output has no stored picture (it would show as "
                            f"{text[:40]!r}); re-execute the notebook so its explorers store one")
    return result


def link_glossary(nb: nbformat.NotebookNode, language: str = "en") -> int:
    """Link the first use of each glossary term in ``nb``'s Markdown prose (headings excepted).

    Returns the number of links made.
    """
    terms = glossary_terms(language)
    seen: set[str] = set()
    made = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines, fence, maths = [], False, False
        for line in cell.source.split("\n"):
            stripped = line.strip()
            was_inside = fence or maths
            if stripped.startswith(("```", "~~~")):
                fence = not fence
            if line.count("$$") % 2:
                maths = not maths
            if (was_inside or fence or maths or not stripped
                    or stripped.startswith(("#", "<", "|", "```", "~~~", ":::"))):
                lines.append(line)  # code and maths blocks, headings, HTML, tables stay as they are
                continue
            line, n = _link_line(line, seen, terms)
            made += n
            lines.append(line)
        cell.source = "\n".join(lines)
    return made


# Chinese words that link to an entry besides its term (as "autoregressive loop" links in English)
ZH_LINK_WORDS = {"autoregressive generation": r"自回归(?:生成|循环)?"}


def glossary_terms(language: str) -> list[tuple[str, re.Pattern]]:
    """(glossary entry, the words that link to it), longest first, for ``language``'s glossary.

    The Chinese glossary's entries are its translated terms (注意力（attention）); the words that
    link to one are the term of the course's terminology list (``i18n/zh_CN/terminology.tsv``).
    """
    if language == "en":
        return [(t, _TERM_RES[t]) for t in _TERM_ORDER]
    import i18n

    chinese = dict(i18n.terminology())
    entries = chinese_glossary_entries()
    found = []
    for term in _TERM_ORDER:
        if term not in entries:
            continue
        head = entries[term].split("（")[0].strip()  # 注意力头（head） -> 注意力头
        words = chinese.get(term) or chinese.get(term.split(",")[0])
        if term in ZH_LINK_WORDS:
            found.append((entries[term], re.compile(ZH_LINK_WORDS[term])))
        elif words and words != term:
            found.append((entries[term], re.compile(re.escape(words))))
        elif re.search(r"[\u4e00-\u9fff]", head):
            found.append((entries[term], re.compile(re.escape(head))))
        else:  # kept in English (AdamW, softmax, top-k, logits): the English words link
            found.append((entries[term], _TERM_RES[term]))
    return sorted(found, key=lambda t: -len(t[1].pattern))


def chinese_glossary_entries() -> dict[str, str]:
    """English glossary term -> the Chinese glossary's term for it (the first line of its entry)."""
    import i18n

    source = next(s for s in i18n.sources() if s.english.name == "glossary.md")
    table = i18n.table_of(i18n.load(source.po))
    entries = {}
    for english, _ in i18n.english_messages(source):
        head = english.split("\n", 1)[0].strip()
        if english.startswith(head) and "\n  " in english and english in table:
            entries[head] = table[english].split("\n", 1)[0].strip()
    return entries


def _link_line(line: str, seen: set[str], terms: list[tuple[str, re.Pattern]] | None = None) -> tuple[str, int]:
    terms = glossary_terms("en") if terms is None else terms
    pieces, last = [], 0
    for m in _PROTECTED.finditer(line):  # alternate plain text and protected spans
        pieces.append((line[last:m.start()], True))
        pieces.append((m.group(0), False))
        last = m.end()
    pieces.append((line[last:], True))
    made = 0
    for term, pattern in terms:
        if term in seen:
            continue
        for i, (text, plain) in enumerate(pieces):
            m = pattern.search(text) if plain else None
            if m:
                role = f"{{term}}`{m.group(0)} <{term}>`"
                pieces[i:i + 1] = [(text[:m.start()], True), (role, False), (text[m.end():], True)]
                seen.add(term)
                made += 1
                break
    return "".join(text for text, _ in pieces), made


# --------------------------------------------------------------------------- home page and pages

# The README's sections, by title, on the site's pages other than the home page (in this order).
# The home page takes "Quick start", "The notebooks" and "The explorers"; a "###" section goes with its "##"
# section unless it is named here; a section named nowhere lands on the last page.
PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "install": ("Installing the course", ("Installation", "Troubleshooting")),
    "teaching": ("Exercises, editions and teaching a class",
                 ("Exercises, and the editions for a class", "Editing notebooks",
                  "Teaching a class on JupyterHub")),
    "library": ("The library, the model and training",
                ("The library: `glmlib`", "The corpus and the trained model", "Training from the shell",
                 "Using a GPU")),
    "tests": ("Tests and benchmarks", ("Tests and benchmarks",)),
    "about": ("About this website", ("Read the course as a website", "Licence")),
}
HOME_SECTIONS = ("Quick start", "The notebooks", "The explorers")
SCREENSHOTS = ROOT / "docs" / "screenshots"  # the explorers as JupyterLab draws them (README and home page)
STUDY_TIME = "60–90 min"  # per notebook, exercises included (the course handbook)
TIME_BUDGETS = ROOT / "benchmarks" / "time_notebooks.py"


class Section:
    """One ``##`` or ``###`` section of the README: its level, title and body (heading excluded)."""

    def __init__(self, level: int, title: str, body: str = "", parent: str | None = None) -> None:
        self.level, self.title, self.body, self.parent = level, title, body, parent
        self.key, self.parent_key = title, parent  # the English titles (another language's README)


def readme_sections(readme: str) -> tuple[str, str, list[Section]]:
    """The README's title, its introduction (before the first section) and its sections."""
    lines = readme.split("\n")
    title, intro, sections = "", [], []
    fence, current, parent = False, None, None
    for line in lines:
        if line.strip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else re.match(r"(#{1,3}) (.+?)\s*$", line)
        if m and len(m.group(1)) == 1 and not title:
            title = m.group(2)
            continue
        if m and len(m.group(1)) in (2, 3):
            level = len(m.group(1))
            parent = m.group(2) if level == 2 else parent
            current = Section(level, m.group(2), "", parent if level == 3 else None)
            sections.append(current)
            continue
        if current is None:
            intro.append(line)
        else:
            current.body += line + "\n"
    return title, "\n".join(intro).strip(), sections


def page_of(section: Section) -> str:
    """The page a README section lands on: ``"index"`` or a key of :data:`PAGES`."""
    for title in (section.title, section.parent):
        if title in HOME_SECTIONS:
            return "index"
        for page, (_, titles) in PAGES.items():
            if title in titles:
                return page
    return list(PAGES)[-1]


def _site_links(text: str, stems: set[str]) -> str:
    """Repository links made plain text; notebook names linked to their pages."""
    def link_notebook(m: re.Match) -> str:
        stem = m.group(1)
        return f"[`{stem}`](notebooks/{stem}.ipynb)" if stem in stems else m.group(0)

    text = text.replace(f"]({SCREENSHOTS.relative_to(ROOT).as_posix()}/", "](screenshots/")
    text = re.sub(r"(?<!!)\[([^\]]+)\]\((?!https?://|#)([^)]+)\)", r"\1", text)  # images stay
    return re.sub(r"`(\d\d_[a-z_]+)`", link_notebook, text)


def _join(sections: list[Section], page_title: str) -> str:
    """The sections of one page, a ``###`` whose ``##`` is elsewhere raised to ``##``; a section
    named as the page itself gives its text without a heading, its ``###`` raised to ``##``."""
    here = {s.title for s in sections} - {page_title}
    out = []
    for s in sections:
        level = 3 if s.level == 3 and s.parent in here else 2
        heading = "" if s.title == page_title else f"{'#' * level} {s.title}\n\n"
        out.append(f"{heading}{s.body.strip()}\n")
    return "\n".join(out)


def run_seconds(path: Path) -> float | None:
    """How long the notebook's stored run took, top to bottom, from its cells' recorded times."""
    from datetime import datetime

    nb = nbformat.read(path, as_version=4)
    times = [c.metadata.get("execution", {}) for c in nb.cells if c.cell_type == "code"]
    times = [t for t in times if "iopub.execute_input" in t and "iopub.status.idle" in t]
    if not times:
        return None
    start = datetime.fromisoformat(times[0]["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(times[-1]["iopub.status.idle"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def notebook_budget_s() -> float:
    """The time limit of one notebook, ``NOTEBOOK_BUDGET_S`` of ``benchmarks/time_notebooks.py``."""
    import ast

    tree = ast.parse(TIME_BUDGETS.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NOTEBOOK_BUDGET_S":
            return float(ast.literal_eval(node.value))
    raise SiteError(f"no NOTEBOOK_BUDGET_S in {TIME_BUDGETS}")


def run_time(path: Path, language: str = "en") -> str:
    """A notebook's run time in words: its last recorded run rounded up, else its time limit."""
    seconds = run_seconds(path)
    seconds = notebook_budget_s() if seconds is None else seconds
    return WORDS[language]["under"].format(n=max(1, math.ceil(seconds / 60)))


OWN_TIMES = re.compile(r"\*\*Time:\*\*")  # a notebook that states its own times under its title
OWN_STUDY = re.compile(r"set aside (\d+[–-]\d+\s+minutes|about an hour)")


def study_time(path: Path, language: str = "en") -> str:
    """A notebook's study time: what its own (English) header says, else the handbook's 60-90 minutes."""
    path = english_notebook(path)
    nb = nbformat.read(path, as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    m = OWN_STUDY.search(re.sub(r"\s+", " ", first.replace("\n#", " ")))
    if not m:
        return STUDY_TIME if language == "en" else WORDS[language]["study"]
    if m.group(1) == "about an hour":
        return WORDS[language]["about_hour"]
    return re.sub(r"\s+minutes", " min" if language == "en" else " 分钟", m.group(1))


def english_notebook(path: Path) -> Path:
    """The English notebook a translated one (notebooks/zh-CN/NN.ipynb) was built from."""
    return path.parent.parent / path.name if path.parent.name in LANGUAGE_DIR.values() and path.parent.name else path


def times_line(path: Path, language: str = "en") -> str:
    """The line under a notebook page's title: how long it takes to run and to study."""
    return WORDS[language]["times"].format(run=run_time(path, language), study=study_time(path, language))


def _notebook_table(body: str, notebooks: list[Path], language: str = "en") -> str:
    """The README's notebook table with a run-time and a study-time column."""
    paths = {p.stem: p for p in notebooks}
    rows = []
    for line in body.split("\n"):
        m = re.match(r"\|\s*\d\d\s*\|\s*\[?`(\d\d_[a-z_]+)`", line)
        if line.startswith("| # |"):
            line += WORDS[language]["table_head"]
        elif re.match(r"\|(-+\|)+$", line):
            line += "---|---|"
        elif m and m.group(1) in paths:
            line += f" {run_time(paths[m.group(1)], language)} | {study_time(paths[m.group(1)], language)} |"
        rows.append(line)
    note = WORDS[language]["table_note"].format(budget=notebook_budget_s() / 60)
    return "\n".join(rows).rstrip() + "\n" + note


def keyed_sections(readme: str, english: str | None = None) -> tuple[str, str, list[Section]]:
    """``readme_sections``, each section's ``key`` its English title: a translated README's sections
    are the English one's in the same order (``tools/i18n.py`` translates block by block)."""
    title, intro, sections = readme_sections(readme)
    originals = sections if english is None else readme_sections(english)[2]
    if len(originals) != len(sections):
        raise SiteError(f"the translated README has {len(sections)} sections, the English one {len(originals)}: "
                        "rebuild it (python tools/i18n.py build)")
    for section, original in zip(sections, originals):
        section.key, section.parent_key = original.title, original.parent
    return title, intro, sections


def _placed(section: Section) -> Section:
    """The section as :func:`page_of` reads it: by its English titles."""
    return Section(section.level, section.key, "", section.parent_key)


def site_pages(readme: str, edition: str, notebooks: list[Path], language: str = "en",
               english: str | None = None) -> dict[str, str]:
    """The site's pages made from the README: ``index`` (the course) and one per :data:`PAGES`
    (``english``: the English README, when ``readme`` is a translation of it)."""
    _, _, sections = keyed_sections(readme, english)
    stems = {p.stem for p in notebooks}
    placed: dict[str, list[Section]] = {"index": [], **{page: [] for page in PAGES}}
    for section in sections:
        placed[page_of(_placed(section))].append(section)
    pages = {}
    for page, (page_title, _) in PAGES.items():
        title = PAGE_TITLES.get(language, {}).get(page, page_title)
        own = next((s.title for s in placed[page] if s.key == page_title), title)
        pages[page] = f"# {title}\n\n" + _site_links(_join(placed[page], own), stems)
    pages["index"] = home_page(readme, edition, notebooks, language, english)
    return pages


def home_page(readme: str, edition: str, notebooks: list[Path], language: str = "en",
              english: str | None = None) -> str:
    """The course's home page: what you will build, the notebooks with their times, how to start."""
    words = WORDS[language]
    title, intro, sections = keyed_sections(readme, english)
    by_key = {s.key: s for s in sections}
    note = words["student_note"] if edition == "student" else words["self_study_note"]
    block = [f"```{{admonition}} {words['reading']}", ":class: glm-edition-note",
             words["reading_body"] + note, words["search_note"], "```"]
    stems = {p.stem for p in notebooks}
    intro = LANGUAGE_LINE.sub("", intro).strip()  # the README's own language switch: the site has one on every page
    parts = [f"# {title}", _site_links(intro, stems), "\n".join(block)]
    if "The notebooks" in by_key:
        table = _site_links(by_key["The notebooks"].body, stems)
        parts.append(f"## {words['build']}\n\n" + _notebook_table(table, notebooks, language))
    if "The explorers" in by_key:
        parts.append(f"## {words['explorers']}\n\n" + _site_links(by_key["The explorers"].body.strip(), stems))
    if "Quick start" in by_key:
        parts.append(f"## {words['start']}\n\n" + _site_links(by_key["Quick start"].body.strip(), stems))
    titles = {page: PAGE_TITLES.get(language, {}).get(page, t) for page, (t, _) in PAGES.items()}
    more = [f"- [{t}]({page}.md)" for page, t in titles.items()]
    parts.append(f"## {words['more']}\n\n" + "\n".join(more))
    toc = ["```{toctree}", ":maxdepth: 1", f":caption: {words['toc_course']}", ":hidden:", ""]
    toc += [f"notebooks/{p.stem}" for p in notebooks] + ["glossary", "```"]
    toc += ["", "```{toctree}", ":maxdepth: 1", f":caption: {words['toc_about']}", ":hidden:", ""]
    toc += list(PAGES) + ["```"]
    return "\n\n".join(part for part in parts if part) + "\n\n" + "\n".join(toc) + "\n"


# --------------------------------------------------------------------------- build

MATHJAX_PARTS = ("tex-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors")


def mathjax_dir() -> Path:
    """MathJax 3 (its ``es5`` folder) as shipped by the PyPI package django-static-mathjax."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(distribution("django-static-mathjax").locate_file("mathjax/static/mathjax/es5"))
    except PackageNotFoundError as exc:
        raise SiteError("MathJax for the site comes from the package django-static-mathjax: "
                        "pip install -r requirements.txt") from exc
    if not (path / "tex-chtml.js").is_file():
        raise SiteError(f"no tex-chtml.js in {path}")
    return path


def copy_mathjax(dest: Path) -> None:
    """The parts of MathJax that typesetting TeX as HTML needs (about 4 MB of its 24)."""
    source = mathjax_dir()
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, dest / part)
        elif (source / part).is_file():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / part, dest / part)


def translated_notebooks(notebooks: list[Path], language: str) -> list[Path]:
    """The notebooks of ``language``'s edition: ``notebooks/zh-CN/NN.ipynb`` for each English one."""
    if language == "en":
        return notebooks
    found = [p.parent / LANGUAGE_DIR[language] / p.name for p in notebooks]
    missing = [p for p in found if not p.is_file()]
    if missing:
        raise SiteError(f"{missing[0].relative_to(ROOT) if missing[0].is_relative_to(ROOT) else missing[0]} is "
                        f"missing: build the {language} edition first (python tools/i18n.py build)")
    return found


def stage(edition: str, dest: Path, notebooks: list[Path], language: str = "en") -> None:
    """Write the Sphinx sources of ``edition`` in ``language`` into ``dest`` (emptied first)."""
    pages = translated_notebooks(notebooks, language)
    read = {path: read_notebook(path) for path in pages}  # each checked before any page uses it
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "notebooks").mkdir(parents=True)
    shutil.copytree(WEBSITE / "_static", dest / "_static")
    copy_mathjax(dest / "_static" / "mathjax")
    glossary = WEBSITE / LANGUAGE_DIR[language] / "glossary.md"
    if not glossary.is_file():
        raise SiteError(f"{glossary} is missing: build the {language} edition first (python tools/i18n.py build)")
    shutil.copy(glossary, dest / "glossary.md")
    shutil.copytree(SCREENSHOTS, dest / "screenshots")
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    readme = english if language == "en" else (ROOT / f"README.{language}.md").read_text(encoding="utf-8")
    for page, text in site_pages(readme, edition, pages, language,
                                 None if language == "en" else english).items():
        (dest / f"{page}.md").write_text(text, encoding="utf-8")
        check_page_pictures(dest / f"{page}.md", dest)
    for path in pages:
        nb = prepare(read[path], edition, path.name, language)
        add_times(nb, times_line(path, language))
        nbformat.write(nb, dest / "notebooks" / path.name)


def add_times(nb: nbformat.NotebookNode, line: str) -> None:
    """Put ``line`` under the notebook's title (the first heading of its first Markdown cell),
    unless the notebook states its times there itself."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if OWN_TIMES.search(cell.source):
                return
            head, sep, rest = cell.source.partition("\n")
            if head.startswith("# "):
                cell.source = f"{head}\n\n{line}\n{sep}{rest}"
            else:
                cell.source = f"{line}\n\n{cell.source}"
            return


# TeX commands a search result can show as text (what is not here loses its backslash)
TEX_SYMBOLS = {
    "approx": "≈", "cdot": "·", "times": "×", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠",
    "neq": "≠", "to": "→", "rightarrow": "→", "leftarrow": "←", "infty": "∞", "sum": "Σ", "prod": "Π",
    "mid": "|", "in": "∈", "ldots": "…", "dots": "…", "cdots": "…", "sqrt": "√", "propto": "∝",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ", "phi": "φ",
    "Delta": "Δ", "Sigma": "Σ", "log": "log", "ln": "ln", "exp": "exp", "max": "max", "min": "min",
    "quad": " ", "qquad": " ", "left": "", "right": "", "big": "", "Big": "", "displaystyle": "",
}


def plain_tex(tex: str) -> str:
    """TeX as readable text, for search results: ``\\(\\sqrt{d_k}\\)`` -> ``√d_k``."""
    text = re.sub(r"\\[()\[\]]", "", tex)
    text = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", text)
    text = re.sub(r"\\(?:text|mathrm|mathbf|mathit|operatorname|textbf|textit)\s*\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\\([A-Za-z]+)\s?", _plain_command, text)
    text = re.sub(r"\\[,;:! ]", " ", text).replace("\\{", "{").replace("\\}", "}")
    text = text.replace("{", "").replace("}", "").replace("\\", " ")
    return re.sub(r"\s+", " ", text).strip()


def _plain_command(m: re.Match) -> str:
    text = TEX_SYMBOLS.get(m.group(1), m.group(1))
    return text if text in ("√", "") else text + " "


def clean_search_index(html_dir: Path) -> int:
    """Write the titles in the search index as text, not TeX; return how many changed."""
    path = html_dir / "searchindex.js"
    raw = path.read_text(encoding="utf-8")
    head, _, rest = raw.partition("(")
    index = json.loads(rest[:rest.rindex(")")])
    changed = sum("\\" in t for t in index.get("titles", [])) + sum("\\" in t for t in index.get("alltitles", {}))
    index["titles"] = [plain_tex(t) if "\\" in t else t for t in index.get("titles", [])]
    index["alltitles"] = {(plain_tex(t) if "\\" in t else t): v for t, v in index.get("alltitles", {}).items()}
    path.write_text(f"{head}({json.dumps(index, ensure_ascii=False, separators=(',', ':'))})",
                    encoding="utf-8")
    return changed


MATH_ELEMENT = re.compile(r'<(span|div) class="math notranslate nohighlight">(.*?)</\1>', re.DOTALL)


def page_maths(html_dir: Path) -> list[tuple[str, str, bool]]:
    """Every maths expression of the built pages: (page, TeX without delimiters, display)."""
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts:
            continue
        for m in MATH_ELEMENT.finditer(page.read_text(encoding="utf-8")):
            tex = html.unescape(m.group(2)).strip()
            display = tex.startswith("\\[") or m.group(1) == "div"
            if tex[:2] in ("\\(", "\\[") and tex[-2:] in ("\\)", "\\]"):
                tex = tex[2:-2]
            found.append((page.relative_to(html_dir).as_posix(), tex, display))
    return found


def maths_errors(items: list[tuple[str, str, bool]]) -> list[str]:
    """What MathJax cannot typeset among ``items``, as "page: TeX: message" lines.

    The site's own MathJax typesets every expression in Node.js (``tools/check_maths.js``);
    without Node.js, only control characters and unbalanced braces are caught.
    """
    node = shutil.which("node")
    if node is None:
        print("site: Node.js not found: the maths is checked for control characters and braces only",
              file=sys.stderr)
        return [f"{page}: {tex!r}: {why}" for page, tex, _ in items if (why := _tex_slip(tex))]
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "maths.json"
        listing.write_text(json.dumps([[i, tex, display] for i, (_, tex, display) in enumerate(items)]))
        proc = subprocess.run([node, str(ROOT / "tools" / "check_maths.js"), str(mathjax_dir()), str(listing)],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        raise SiteError(f"checking the maths with MathJax failed:\n{proc.stderr[-2000:]}")
    return [f"{items[i][0]}: {items[i][1]!r}: {message}" + (f" ({slip})" if (slip := _tex_slip(items[i][1])) else "")
            for i, message in json.loads(proc.stdout)]


def _tex_slip(tex: str) -> str | None:
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", tex):
        return "a control character (a backslash lost to a string escape, e.g. \\a of \\approx?)"
    depth = 0
    for i, ch in enumerate(tex):
        if ch in "{}" and (i == 0 or tex[i - 1] != "\\"):
            depth += 1 if ch == "{" else -1
            if depth < 0:
                return "a } without its {"
    return "a { without its }" if depth else None


def check_maths(html_dir: Path, edition: str) -> int:
    """Fail the build when MathJax cannot typeset some maths of ``html_dir``; return how many were checked."""
    items = page_maths(html_dir)
    errors = maths_errors(items)
    if errors:
        raise SiteError(f"{len(errors)} maths expression(s) of the {edition} edition MathJax cannot typeset "
                        "(it would show 'Math input error' or red text):\n  " + "\n  ".join(errors[:20]))
    return len(items)


def sphinx(src: Path, out: Path, edition: str, language: str = "en") -> None:
    env = {**os.environ, "GLM_SITE_EDITION": edition, "GLM_SITE_STATIC": str(src / "_static"),
           "GLM_SITE_LANGUAGE": language, "GLM_SITE_JIEBA_DICT": str(search_dictionary(src.parent)),
           "PYTHONHASHSEED": "0"}
    name = edition if language == "en" else f"{language}-{edition}"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-j", "auto",
           "-c", str(WEBSITE), "-d", str(src.parent / f".doctrees-{name}"), str(src), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode != 0:
        raise SiteError(f"sphinx-build failed for the {name} edition:\n" + "\n".join(warnings[-40:]))
    if warnings:
        print(f"{name}: {len(warnings)} Sphinx warning line(s):\n  " + "\n  ".join(warnings[:20]),
              file=sys.stderr)


def search_dictionary(folder: Path) -> Path:
    """A jieba user dictionary of the course's Chinese terms, so that the Chinese search indexes
    核采样 or 因果掩码 as words (jieba alone cuts them into 核 + 采样)."""
    import i18n

    words = sorted({zh.replace(" ", "") for _, zh in i18n.terminology() if re.search(r"[\u4e00-\u9fff]", zh)})
    path = folder / "jieba_terms.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{w} 100000 n\n" for w in words), encoding="utf-8")
    return path


def build(out: Path, editions: tuple[str, ...] = EDITIONS, notebooks: list[Path] | None = None,
          languages: tuple[str, ...] = LANGUAGES) -> Path:
    """Build ``editions`` in ``languages`` and put the site in ``out`` (replaced whole at the end)."""
    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if notebooks is None else notebooks
    if not notebooks:
        raise SiteError(f"no notebooks NN_name.ipynb in {NOTEBOOKS}")
    out = out.resolve()
    check_replaceable(out, SITE_ALWAYS)  # before any work: never replace what the user made
    with staging(out) as new:
        for language in languages:
            for edition in editions:
                name = edition if language == "en" else f"{language}-{edition}"
                src, html = BUILD / "site-src" / name, BUILD / "site-html" / name
                stage(edition, src, notebooks, language)
                if html.exists():
                    shutil.rmtree(html)
                sphinx(src, html, edition, language)
                check_maths(html, name)
                clean_search_index(html)
                shutil.copytree(html, new / subdir(language, edition), dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns(".buildinfo*", "_sources", ".doctrees"))
        (new / ".nojekyll").write_text("")  # GitHub Pages: serve _static/ and _images/ as they are
        return swap_in(new, out, SITE_ALWAYS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "site"), help="where the site goes (default: site/)")
    parser.add_argument("--edition", default="all", choices=("all",) + EDITIONS)
    parser.add_argument("--language", default="all", choices=("all",) + LANGUAGES)
    args = parser.parse_args(argv)
    editions = EDITIONS if args.edition == "all" else (args.edition,)
    languages = LANGUAGES if args.language == "all" else (args.language,)
    start = time.perf_counter()
    try:
        out = build(Path(args.out), editions, languages=languages)
    except (SiteError, OutputError) as exc:
        print(f"site: {exc}", file=sys.stderr)
        return 1
    print(f"site: {', '.join(editions)} ({', '.join(languages)}) built in {time.perf_counter() - start:.0f} s -> {out}/index.html; "
          f"open it with: python -m http.server -d {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
