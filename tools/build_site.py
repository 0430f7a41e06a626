"""Build the course website (``make site``): static HTML of the executed course in ``site/``.

Nothing is executed: the pages show the outputs stored in ``notebooks/*.ipynb``.
For each edition this script stages, in ``build/site-src/<edition>/``,

- ``index.md``, the home page: the README, with the notebook table linked;
- ``notebooks/NN_name.ipynb``, prepared for the edition (see :func:`prepare`);
- ``glossary.md`` and ``_static/`` from ``website/``, and MathJax 3 in ``_static/mathjax``;

then runs Sphinx with ``website/conf.py``. The self-study edition (solutions
folded under each exercise) goes to ``site/``, the student edition (no
solutions) to ``site/student/``. The new site is written next to ``site/`` and
swapped in at the end, so a failed build leaves the old one in place.

    python tools/build_site.py [--out site] [--edition all|self-study|student]
"""
from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded from its path
from outputs import OutputError, check_replaceable, staging, swap_in  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WEBSITE = ROOT / "website"
BUILD = ROOT / "build"
EDITIONS = ("self-study", "student")
SUBDIR = {"self-study": "", "student": "student"}  # where each edition lands inside the site

SITE_ALWAYS = (".nojekyll", "index.html", "search.html")  # a site built before outputs.MARK existed
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
LIVE_NOTE = ("<p class=\"glm-live-note\">A picture of this widget as the notebook last drew it. "
             "To use it live, run the notebook in JupyterLab: <code>make lab</code>.</p>")
# comment lines meant for the tools, not the reader: nbval's and otter's markers
DIRECTIVE = re.compile(r"^[ \t]*# (?:NBVAL_[A-Z_]+|BEGIN SOLUTION(?: NO PROMPT)?|END SOLUTION)[ \t]*(?:\n|$)",
                       re.MULTILINE)
PROGRESS_BAR = re.compile(r"\d+%\|")  # a tqdm bar's text, e.g. "sampling: 100%|####| 16/16"

# glossary term -> the words that link to it (case-insensitive, whole words).
# In each notebook the first use of a term in prose links to website/glossary.md.
TERMS: dict[str, str] = {
    "AdamW": r"AdamW",
    "attention": r"attention",
    "autoregressive generation": r"autoregressive(?: generation| loop)?",
    "bigram model": r"bigram(?: model| LM)?",
    "causal mask": r"causal masks?",
    "chain rule": r"chain rule",
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
    "nucleus sampling": r"nucleus(?: sampling)?|top-p",
    "padding mask": r"padding masks?",
    "perplexity": r"perplexity",
    "positional embedding": r"positional embeddings?",
    "query, key and value": r"quer(?:y|ies)",
    "residual stream": r"residual (?:stream|connections?)",
    "softmax": r"softmax",
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


# --------------------------------------------------------------------------- notebooks

def marker(cell: nbformat.NotebookNode) -> str | None:
    """The otter-grader block marker of a raw cell (``"BEGIN SOLUTION"``, ...), else ``None``."""
    if cell.cell_type != "raw":
        return None
    m = re.match(r"\s*#\s*(BEGIN|END)\s+(QUESTION|SOLUTION|TESTS|PROMPT)\b", cell.source)
    return f"{m.group(1)} {m.group(2)}" if m else None


def prepare(nb: nbformat.NotebookNode, edition: str, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of an executed notebook, ready for the site's ``edition``.

    - Otter-Grader's marker cells and the hidden test blocks are dropped, and
      so are the marker comments in code (``# NBVAL_CHECK_OUTPUT``, ...).
    - Solution blocks: folded (``hide-input``) in the self-study edition,
      removed, prose included, from the student edition.
    - An explorer's output keeps its stored picture (``image/png``) and gains a
      one-line note on running it live; a progress bar is dropped; any other
      widget output without a picture is an error, never an empty box.
    - The notebook's widget state is dropped (no widget JavaScript on the page).
    - The first use of each glossary term in the prose links to the glossary.
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells, block = [], None
    for cell in nb.cells:
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
            cell.outputs = _static_outputs(cell.outputs, name)
        cells.append(cell)
    if block is not None:
        raise SiteError(f"{name}: a BEGIN {block} marker has no END {block}")
    nb.cells = cells
    link_glossary(nb)
    return nb


def _static_outputs(outputs: list, name: str) -> list:
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
            result.append(nbformat.v4.new_output("display_data", data={"text/html": LIVE_NOTE}))
        elif PROGRESS_BAR.search(text):
            continue  # a finished progress bar says nothing on a static page
        else:
            raise SiteError(f"{name}: a widget output has no stored picture (it would show as "
                            f"{text[:40]!r}); re-execute the notebook so its explorers store one")
    return result


def link_glossary(nb: nbformat.NotebookNode) -> int:
    """Link the first use of each glossary term in ``nb``'s Markdown prose (headings excepted).

    Returns the number of links made.
    """
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
            line, n = _link_line(line, seen)
            made += n
            lines.append(line)
        cell.source = "\n".join(lines)
    return made


def _link_line(line: str, seen: set[str]) -> tuple[str, int]:
    pieces, last = [], 0
    for m in _PROTECTED.finditer(line):  # alternate plain text and protected spans
        pieces.append((line[last:m.start()], True))
        pieces.append((m.group(0), False))
        last = m.end()
    pieces.append((line[last:], True))
    made = 0
    for term in _TERM_ORDER:
        if term in seen:
            continue
        for i, (text, plain) in enumerate(pieces):
            m = _TERM_RES[term].search(text) if plain else None
            if m:
                role = f"{{term}}`{m.group(0)} <{term}>`"
                pieces[i:i + 1] = [(text[:m.start()], True), (role, False), (text[m.end():], True)]
                seen.add(term)
                made += 1
                break
    return "".join(text for text, _ in pieces), made


# --------------------------------------------------------------------------- home page

def home_page(readme: str, edition: str, notebooks: list[Path]) -> str:
    """The README as the site's home page: notebook names linked, repository links made plain."""
    stems = {p.stem for p in notebooks}

    def link_notebook(m: re.Match) -> str:
        stem = m.group(1)
        return f"[`{stem}`](notebooks/{stem}.ipynb)" if stem in stems else m.group(0)

    # links into the repository (not part of the site) become plain text
    text = re.sub(r"\[([^\]]+)\]\((?!https?://|#)([^)]+)\)", r"\1", readme)
    text = re.sub(r"`(\d\d_[a-z_]+)`", link_notebook, text)
    lines = text.split("\n")
    note = ("This is the **student edition**: the exercises without their solutions."
            if edition == "student" else
            "This is the **self-study edition**: each exercise's worked solution is folded under it; "
            "the <a href=\"student/index.html\">student edition</a> has none.")
    block = ["", "```{admonition} Reading the course", ":class: glm-edition-note",
             "This website shows the notebooks as they were last run, with their outputs. "
             "The explorers appear as pictures; to use them live, and to do the exercises, "
             "clone the repository and run `make lab`. " + note,
             "Every page is searchable (the search box on the left) and the first use of each "
             "technical word links to the [glossary](glossary.md).", "```", ""]
    toc = ["", "```{toctree}", ":maxdepth: 1", ":caption: The course", ":hidden:", ""]
    toc += [f"notebooks/{p.stem}" for p in notebooks] + ["glossary", "```", ""]
    return "\n".join(lines[:1] + block + lines[1:] + toc)


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


def stage(edition: str, dest: Path, notebooks: list[Path]) -> None:
    """Write the Sphinx sources of ``edition`` into ``dest`` (emptied first)."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "notebooks").mkdir(parents=True)
    shutil.copytree(WEBSITE / "_static", dest / "_static")
    copy_mathjax(dest / "_static" / "mathjax")
    shutil.copy(WEBSITE / "glossary.md", dest / "glossary.md")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (dest / "index.md").write_text(home_page(readme, edition, notebooks), encoding="utf-8")
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nbformat.write(prepare(nb, edition, path.name), dest / "notebooks" / path.name)


def sphinx(src: Path, out: Path, edition: str) -> None:
    env = {**os.environ, "GLM_SITE_EDITION": edition, "GLM_SITE_STATIC": str(src / "_static"),
           "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-j", "auto",
           "-c", str(WEBSITE), "-d", str(src.parent / f".doctrees-{edition}"), str(src), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode != 0:
        raise SiteError(f"sphinx-build failed for the {edition} edition:\n" + "\n".join(warnings[-40:]))
    if warnings:
        print(f"{edition}: {len(warnings)} Sphinx warning line(s):\n  " + "\n  ".join(warnings[:20]),
              file=sys.stderr)


def build(out: Path, editions: tuple[str, ...] = EDITIONS, notebooks: list[Path] | None = None) -> Path:
    """Build ``editions`` and put the site in ``out`` (replaced whole at the end)."""
    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if notebooks is None else notebooks
    if not notebooks:
        raise SiteError(f"no notebooks NN_name.ipynb in {NOTEBOOKS}")
    out = out.resolve()
    check_replaceable(out, SITE_ALWAYS)  # before any work: never replace what the user made
    with staging(out) as new:
        for edition in editions:
            src, html = BUILD / "site-src" / edition, BUILD / "site-html" / edition
            stage(edition, src, notebooks)
            if html.exists():
                shutil.rmtree(html)
            sphinx(src, html, edition)
            shutil.copytree(html, new / SUBDIR[edition], dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".buildinfo*", "_sources", ".doctrees"))
        (new / ".nojekyll").write_text("")  # GitHub Pages: serve _static/ and _images/ as they are
        return swap_in(new, out, SITE_ALWAYS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "site"), help="where the site goes (default: site/)")
    parser.add_argument("--edition", default="all", choices=("all",) + EDITIONS)
    args = parser.parse_args(argv)
    editions = EDITIONS if args.edition == "all" else (args.edition,)
    start = time.perf_counter()
    try:
        out = build(Path(args.out), editions)
    except (SiteError, OutputError) as exc:
        print(f"site: {exc}", file=sys.stderr)
        return 1
    print(f"site: {', '.join(editions)} built in {time.perf_counter() - start:.0f} s -> {out}/index.html; "
          f"open it with: python -m http.server -d {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
