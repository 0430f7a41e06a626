"""The Chinese edition (and any other), built from the English source and translation catalogues.

The English notebooks and pages are the source of truth. Their prose is cut into
blocks (a paragraph, a list, a table, a heading: what a blank line separates); each
block that has words to translate is one entry of a gettext catalogue in
``i18n/<lang>/`` (``i18n/zh_CN/notebooks/03_masks.po``, ...). From the English file
and its catalogue this tool builds the translated file:

- a notebook ``notebooks/zh-CN/NN_name.ipynb``: code cells and their outputs the
  English notebook's own, only Markdown translated, and one more code cell before
  the first code cell that sets the language (``glmlib.set_language("zh-CN")``);
- a page: ``README.zh-CN.md``, ``classroom/README.zh-CN.md``,
  ``docs/instructor/zh-CN/*.md``, ``website/zh-CN/glossary.md``.

Commands (``python tools/i18n.py CMD``):

- ``update``: after an English change, bring every catalogue in step (new blocks added
  empty, a changed block marked fuzzy with its old translation kept as a draft, gone
  ones kept at the end as obsolete);
- ``build``: write the translated files (refuses while a catalogue has a missing or
  fuzzy entry, naming it; never overwrites a Chinese notebook whose code a learner
  changed);
- ``check``: what ``tests/test_translations.py`` checks, as a list: entries missing,
  fuzzy or broken, and built files out of date;
- ``sheet PO`` / ``unsheet SHEET PO``: a catalogue's open entries as a plain-text sheet to
  translate (no escaping), and the sheet read back into the catalogue.
"""
from __future__ import annotations

import argparse
import copy
import functools
import io
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # glmlib of this checkout (its messages and catalogues), once
    sys.path.insert(0, str(ROOT))
I18N = ROOT / "i18n"
LANGUAGE = "zh-CN"          # the course's name for it (glmlib.set_language, folders of built files)
GETTEXT = "zh_CN"           # gettext's name for it (catalogue folders)
LANGUAGE_CELL = ('import glmlib\n\n'
                 'glmlib.set_language("zh-CN")  # 检查器提示和交互控件使用中文；改回英文：glmlib.set_language("en")')
LANGUAGE_TAG = "glmlib-language"


# ------------------------------------------------------------------ what is translated

@dataclass(frozen=True)
class Source:
    """One English file, its catalogue and the file built from them."""

    english: Path
    po: Path
    built: Path
    relink: bool = True  # False: its links are relative to the website's root, not to the file

    @property
    def name(self) -> str:
        try:
            return self.english.relative_to(ROOT).as_posix()
        except ValueError:  # a copy elsewhere (the tests change one)
            return self.english.as_posix()

    @property
    def is_notebook(self) -> bool:
        return self.english.suffix == ".ipynb"


def sources() -> list[Source]:
    """Every English file the edition translates, in course order."""
    found = [Source(nb, I18N / GETTEXT / "notebooks" / f"{nb.stem}.po", ROOT / "notebooks" / LANGUAGE / nb.name)
             for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    found += [Source(page, I18N / GETTEXT / "docs" / "instructor" / f"{page.stem}.po",
                     ROOT / "docs" / "instructor" / LANGUAGE / page.name)
              for page in sorted((ROOT / "docs" / "instructor").glob("*.md"))]
    found += [Source(ROOT / "README.md", I18N / GETTEXT / "README.po", ROOT / f"README.{LANGUAGE}.md"),
              Source(ROOT / "classroom" / "README.md", I18N / GETTEXT / "classroom" / "README.po",
                     ROOT / "classroom" / f"README.{LANGUAGE}.md"),
              Source(ROOT / "website" / "glossary.md", I18N / GETTEXT / "website" / "glossary.po",
                     ROOT / "website" / LANGUAGE / "glossary.md", relink=False)]
    return found


# ------------------------------------------------------------------ blocks

_FENCE = re.compile(r"^\s*(```|~~~)")
_PROSE_DIRECTIVE = re.compile(r"^\s*(```|~~~)\{(glossary|note|tip|warning|important|admonition)\}")


def split_blocks(text: str) -> list[str]:
    """``text`` cut into blocks and the blank lines between them; joined, they give ``text`` back.

    A fenced code block or a ``$$`` display stays one block even across blank lines.
    """
    segments: list[str] = []
    current: list[str] = []
    current_blank = None
    fence: str | None = None
    prose_fence: str | None = None
    in_math = False
    for line in text.splitlines(keepends=True):
        blank = not line.strip() and fence is None and not in_math
        if current and blank != current_blank:
            segments.append("".join(current))
            current = []
        current_blank = blank
        current.append(line)
        if blank:
            continue
        match = _FENCE.match(line)
        if fence is None and _PROSE_DIRECTIVE.match(line):  # ```{glossary}: prose inside, cut as usual
            prose_fence = match.group(1)
            segments.append("".join(current))
            current, current_blank = [], None
            continue
        if prose_fence is not None and fence is None and line.strip() == prose_fence:
            if len(current) > 1:
                segments.append("".join(current[:-1]))
            segments.append(line)
            current, current_blank, prose_fence = [], None, None
            continue
        if fence is None and match:
            fence = match.group(1)
            if line.strip().count(fence) >= 2:  # ```one line```
                fence = None
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None and line.count("$$") % 2 == 1:
            in_math = not in_math
    if current:
        segments.append("".join(current))
    return segments


def _message(block: str) -> tuple[str, str, str]:
    """A block as (leading whitespace, the message, trailing whitespace and newline)."""
    stripped = block.strip()
    if not stripped:
        return block, "", ""
    start = block.index(stripped[0])
    end = start + len(stripped)
    return block[:start], stripped, block[end:]


_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$", re.S)
_HTML = re.compile(r"<[^>\n]+>")
_URL = re.compile(r"\]\([^)]*\)|https?://\S+")


def protected(text: str) -> list[str]:
    """What a translation must keep exactly: inline code and maths, in the order found."""
    found = []
    for match in re.finditer(f"{_CODE_SPAN.pattern}|{_MATH.pattern}", text, re.S):
        found.append(match.group(0))
    return found


def needs_translation(block: str) -> bool:
    """Whether a block has words to translate (not only code, maths, tags, links or figures)."""
    if _FENCE.match(block):
        return False
    rest = _MATH.sub(" ", _CODE_SPAN.sub(" ", block))
    rest = _URL.sub(" ", _HTML.sub(" ", rest))
    return re.search(r"[A-Za-z]{2,}", rest) is not None


def messages_of(text: str) -> list[str]:
    """The catalogue entries of a piece of Markdown, in order."""
    found = []
    for part in split_blocks(text):
        _, message, _ = _message(part)
        if message and needs_translation(message):
            found.append(message)
    return found


def translate_text(text: str, table: dict[str, str], missing: list[str]) -> str:
    """``text`` with every block that has a translation in ``table`` replaced; the others noted."""
    out = []
    for part in split_blocks(text):
        lead, message, tail = _message(part)
        if message and needs_translation(message):
            if message in table:
                message = table[message]
            else:
                missing.append(message)
        out.append(lead + message + tail)
    return "".join(out)


# ------------------------------------------------------------------ reading the English

def markdown_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    return [(i, cell.source) for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"]


def english_messages(source: Source) -> list[tuple[str, str]]:
    """(message, where) for every entry of ``source``; where: "cell 12" or "line 40"."""
    if source.is_notebook:
        nb = nbformat.read(source.english, as_version=4)
        return [(m, f"cell {i}") for i, text in markdown_cells(nb) for m in messages_of(text)]
    text = source.english.read_text(encoding="utf-8")
    found, line = [], 1
    for part in split_blocks(text):
        _, message, _ = _message(part)
        if message and needs_translation(message):
            found.append((message, f"line {line}"))
        line += part.count("\n")
    return found


def template(source: Source) -> Catalog:
    catalog = Catalog(locale=GETTEXT, project="glmlib course", fuzzy=False)
    for message, where in english_messages(source):
        if message in catalog:
            catalog[message].auto_comments.append(where)
        else:
            catalog.add(message, auto_comments=[where])
    return catalog


def load(po: Path) -> Catalog:
    if not po.exists():
        return Catalog(locale=GETTEXT, project="glmlib course", fuzzy=False)
    with po.open("rb") as f:
        return read_po(f, locale=GETTEXT)


def save(catalog: Catalog, po: Path) -> None:
    """Write ``catalog`` whole or not at all (a temporary file renamed over the old one)."""
    po.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, sort_output=False, include_previous=False, omit_header=False)
    _write_atomically(po, buffer.getvalue())


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def table_of(catalog: Catalog) -> dict[str, str]:
    """English -> translation for the usable entries (translated, not fuzzy)."""
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


# ------------------------------------------------------------------ update

def update(source: Source) -> tuple[int, int, int]:
    """Bring ``source``'s catalogue in step with the English; (new, fuzzy, obsolete) counts."""
    catalog = load(source.po)
    before = {m.id for m in catalog if m.id}
    new_template = template(source)
    new_template.creation_date = catalog.creation_date  # no date churn when nothing changed
    catalog.update(new_template, no_fuzzy_matching=False, update_header_comment=False)
    # Babel's fuzzy matching needs a close match; keep the order of the English
    catalog._messages = type(catalog._messages)(
        sorted(catalog._messages.items(), key=lambda kv: _order(new_template, kv[0])))
    keep_previous(catalog)
    save(catalog, source.po)
    added = sum(1 for m in catalog if m.id and m.id not in before and not m.string)
    fuzzy = sum(1 for m in catalog if m.id and m.fuzzy)
    return added, fuzzy, len(catalog.obsolete)


PREVIOUS = "previous English: "


def keep_previous(catalog: Catalog) -> None:
    """A fuzzy entry's old English kept in a comment, one JSON line (Babel cannot read back a
    multi-line ``#| msgid``), so that the check can say what changed; gone entries kept only
    when they hold a translation (to reuse by hand)."""
    for key in [k for k, m in catalog.obsolete.items() if not m.string]:
        del catalog.obsolete[key]
    for message in catalog:
        if message.id and message.fuzzy and message.previous_id:
            message.user_comments = [PREVIOUS + json.dumps(message.previous_id[0], ensure_ascii=False)]
            message.previous_id = []


def previous_english(message) -> str:
    """The old English of a fuzzy entry (the comment may come back wrapped over several lines)."""
    joined = " ".join(message.user_comments)
    if PREVIOUS not in joined:
        return ""
    try:
        return json.JSONDecoder().raw_decode(joined[joined.index(PREVIOUS) + len(PREVIOUS):])[0]
    except ValueError:
        return ""


def _order(template_: Catalog, key: str) -> int:
    for i, message in enumerate(template_):
        if message.id == key:
            return i
    return 10 ** 9


# ------------------------------------------------------------------ problems

@dataclass
class Problem:
    source: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.source} {self.where}: {self.what}"


def _display(path: Path) -> str:
    """A path as the messages show it: relative to the checkout when it is inside it."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def catalogue_problems(source: Source) -> list[Problem]:
    """Entries the English has that the catalogue lacks, leaves empty or marks fuzzy, and broken ones."""
    catalog = load(source.po)
    po = source.po.relative_to(ROOT).as_posix() if source.po.is_relative_to(ROOT) else source.po.as_posix()
    problems = []
    for message, where in english_messages(source):
        entry = catalog.get(message)
        if entry is None:
            problems.append(Problem(source.name, where, f"no entry in {po} for the English "
                                    f"\"{_short(message)}\"{_what_changed(message, catalog)} (run "
                                    "`python tools/i18n.py update`, then translate it)"))
        elif not entry.string:
            problems.append(Problem(source.name, where, f"entry not translated in {po}: \"{_short(message)}\""))
        elif entry.fuzzy:
            previous = previous_english(entry)
            old = Catalog()
            if previous:
                old.add(previous)
            problems.append(Problem(source.name, where, f"entry fuzzy (its English changed; translation kept "
                                    f"as a draft) in {po}: \"{_short(message)}\"{_what_changed(message, old)}"))
        else:
            problems += [Problem(source.name, where, p) for p in entry_problems(message, entry.string)]
    return problems


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?:;])\s+", " ".join(text.split())) if s]


def _what_changed(message: str, catalog: Catalog) -> str:
    """For a block that is not in the catalogue: the sentence that differs from its closest entry."""
    import difflib

    known = [m.id for m in catalog if m.id and isinstance(m.id, str)]
    close = difflib.get_close_matches(message, known, n=1, cutoff=0.6)
    if not close:
        return ", a new block"
    new, old = _sentences(message), _sentences(close[0])
    changed = [s for s in new if s not in old]
    gone = [s for s in old if s not in new]
    now = f": changed, now \"{_short(changed[0], 200)}\"" if changed else ": changed"
    was = f" (was \"{_short(gone[0], 200)}\")" if gone else ""
    return now + was


def entry_problems(english: str, translated: str) -> list[str]:
    """What a translation broke: inline code or maths changed, lost or added; a heading's level."""
    problems = []
    if GETTEXT.startswith("zh") and not re.search(r"[\u4e00-\u9fff]", translated):
        problems.append(f"the translation of \"{_short(english, 50)}\" has no Chinese in it (left in English?)")
    want, got = protected(english), protected(translated)
    if sorted(want) != sorted(got):
        lost = [p for p in want if p not in got]
        added = [p for p in got if p not in want]
        problems.append(f"the translation of \"{_short(english, 50)}\" changes its code or maths "
                        f"(lost {lost[:3]}, added {added[:3]})")
    level = re.match(r"#+ ", english)
    if level and not translated.startswith(level.group(0)):
        problems.append(f"the translation of the heading \"{_short(english, 50)}\" is not a "
                        f"{len(level.group(0)) - 1}-level heading")
    if english.lstrip().startswith(">") and not translated.lstrip().startswith(">"):
        problems.append(f"the translation of \"{_short(english, 50)}\" lost its quote marks (>)")
    return problems


# ------------------------------------------------------------------ building

def _relink(text: str, english_dir: Path, built_dir: Path, mapping: dict[Path, Path],
            own: Path | None = None) -> str:
    """Relative links of a page moved to ``built_dir``: to the translated file when there is one
    (``own``: the page's English original, whose links stay English)."""
    def fix(target: str) -> str:
        if re.match(r"^([a-z]+:|#|/)", target) or not target:
            return target
        path, _, anchor = target.partition("#")
        resolved = (english_dir / path).resolve()
        if resolved != own:  # a link to the page's own English original stays one (the language switch)
            resolved = mapping.get(resolved, resolved)
        new = os.path.relpath(resolved, built_dir).replace(os.sep, "/")
        return new + (f"#{anchor}" if anchor else "")

    text = re.sub(r"(\]\()([^)\s]+)(\))", lambda m: m.group(1) + fix(m.group(2)) + m.group(3), text)
    return re.sub(r'((?:src|href)=")([^"]+)(")', lambda m: m.group(1) + fix(m.group(2)) + m.group(3), text)


def _mapping() -> dict[Path, Path]:
    return {s.english.resolve(): s.built.resolve() for s in sources()}


# ------------------------------------------------------------------ checker results in outputs

_RESULT = re.compile(r"^\*\*\[(PASS|NOT YET|FAIL)\]\*\* \*\*(\w+)\*\*: (.*)$", re.S)
_STATUS = {"PASS": "pass", "NOT YET": "not yet", "FAIL": "fail"}


def _template_pattern(template: str) -> re.Pattern | None:
    """A regex that matches what ``template.format(...)`` writes, one named group per placeholder."""
    import string

    parts, seen = ["^"], set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    for literal, field, _spec, _conv in parsed:
        parts.append(re.escape(literal))
        if field is None:
            continue
        if not re.fullmatch(r"[A-Za-z_]\w*", field):
            return None
        parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+?)")
        seen.add(field)
    return re.compile("".join(parts) + "$", re.S)


def _fill(translation: str, values: dict[str, str]) -> str:
    """``translation`` with each placeholder (its format spec dropped) replaced by the text it stood for."""
    return re.sub(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}", lambda m: values[m.group(1)],
                  translation.replace("{{", "\0").replace("}}", "\1")).replace("\0", "{").replace("\1", "}")


@functools.lru_cache(maxsize=1)
def _message_templates() -> list[tuple[re.Pattern, str]]:
    """(pattern of an English glmlib message, its translation), longest first."""
    found = []
    for po in sorted((GLMLIB / "locale" / GETTEXT).glob("*.po")):
        for english, translation in table_of(load(po)).items():
            pattern = _template_pattern(english) if "{" in english else re.compile(re.escape(english) + "$")
            if pattern is not None:
                found.append((pattern, translation, len(english)))
    return [(p, t) for p, t, _ in sorted(found, key=lambda x: -x[2])]


def translate_message(english: str) -> str | None:
    """A checker message as glmlib writes it in the other language, or ``None`` if no template fits."""
    for pattern, translation in _message_templates():
        match = pattern.match(english)
        if match:
            try:
                return _fill(translation, match.groupdict())
            except KeyError:
                return None
    return None


def translated_outputs(outputs: list) -> list:
    """A code cell's outputs with each checker result (``**[PASS]** **name**: message``) written as the
    Chinese kernel writes it: what a learner's run of the Chinese notebook shows. Other outputs unchanged."""
    from glmlib.exercises.checking import CheckResult
    from glmlib.i18n import language

    result = []
    for out in outputs:
        markdown = out.get("data", {}).get("text/markdown") if out.get("output_type") in (
            "execute_result", "display_data") else None
        match = _RESULT.match(markdown) if isinstance(markdown, str) else None
        message = translate_message(match.group(3)) if match else None
        if message is None:
            result.append(out)
            continue
        with language(LANGUAGE):
            shown = CheckResult(match.group(2), _STATUS[match.group(1)], message)
            data = {"text/markdown": shown._repr_markdown_(), "text/plain": repr(shown)}
        out = copy.deepcopy(out)
        out["data"] = {**out["data"], **data}
        result.append(out)
    return result


def built_notebook(source: Source, table: dict[str, str], missing: list[str]) -> nbformat.NotebookNode:
    """The translated notebook: the English one's cells, Markdown translated, the language cell added."""
    nb = nbformat.read(source.english, as_version=4)
    out = copy.deepcopy(nb)
    mapping = _mapping()
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = translated_outputs(cell.outputs)
        if cell.cell_type == "markdown":
            text = translate_text(cell.source, table, missing)
            cell.source = _relink(text, source.english.parent, source.built.parent, mapping,
                                  source.english.resolve())
    first_code = next(i for i, c in enumerate(out.cells) if c.cell_type == "code")
    language = nbformat.v4.new_code_cell(LANGUAGE_CELL, metadata={"tags": [LANGUAGE_TAG]})
    language.id = "glmlib-language"
    language.execution_count = None
    out.cells.insert(first_code, language)
    out.metadata.pop("jupytext", None)  # no .py pair for a built notebook
    out.metadata["glmlib"] = {"language": LANGUAGE, "source": source.name, "code_sha256": code_hash(out)}
    return out


def code_of(nb: nbformat.NotebookNode) -> list[tuple[str, list]]:
    """A notebook's code cells (source and outputs), the language cell left out."""
    return [(c.source, c.get("outputs", [])) for c in nb.cells
            if c.cell_type == "code" and LANGUAGE_TAG not in c.metadata.get("tags", [])]


def built_text(source: Source, table: dict[str, str], missing: list[str]) -> str:
    if source.is_notebook:
        return nbformat.writes(built_notebook(source, table, missing)) + "\n"
    text = translate_text(source.english.read_text(encoding="utf-8"), table, missing)
    if not source.relink:
        return text
    return _relink(text, source.english.parent, source.built.parent, _mapping(), source.english.resolve())


def build(source: Source, force: bool = False, partial: bool = False) -> str:
    """Write ``source``'s translated file; refuses on missing entries or on a learner's edits."""
    problems = catalogue_problems(source)
    if problems and not partial:
        raise SystemExit(f"{source.name}: not built, {len(problems)} entries to fix first:\n  "
                         + "\n  ".join(str(p) for p in problems[:20]))
    missing: list[str] = []
    text = built_text(source, table_of(load(source.po)), missing)
    if source.built.exists() and source.is_notebook and not force:
        old = nbformat.read(source.built, as_version=4)
        if old.metadata.get("glmlib", {}).get("code_sha256") != code_hash(old):
            raise SystemExit(f"{_display(source.built)}: its code was changed after it was built "
                             "(a learner's work?); not overwritten. Move it away, or pass --force.")
    _write_atomically(source.built, text.encode("utf-8"))
    return f"{_display(source.built)}" + (f" ({len(missing)} blocks left in English)" if missing else "")


def code_hash(nb: nbformat.NotebookNode) -> str:
    """SHA-256 of a notebook's code cells' sources (the language cell included)."""
    import hashlib

    sources_ = [c.source for c in nb.cells if c.cell_type == "code"]
    return hashlib.sha256(json.dumps(sources_).encode("utf-8")).hexdigest()


def built_problems(source: Source) -> list[Problem]:
    """Whether the committed translated file is what ``build`` would write now."""
    name = _display(source.built)
    if not source.built.exists():
        return [Problem(source.name, "", f"{name} is missing (run `python tools/i18n.py build`)")]
    missing: list[str] = []
    want = built_text(source, table_of(load(source.po)), missing)
    have = source.built.read_text(encoding="utf-8")
    if source.is_notebook:
        new, old = nbformat.reads(want, as_version=4), nbformat.reads(have, as_version=4)
        problems = []
        if code_of(new) != code_of(old):
            problems.append(Problem(source.name, "", f"{name}: its code cells or outputs differ from the English "
                                    "notebook's (run `python tools/i18n.py build`)"))
        if [c.source for c in new.cells if c.cell_type == "markdown"] != \
                [c.source for c in old.cells if c.cell_type == "markdown"]:
            problems.append(Problem(source.name, "", f"{name}: its prose is not the catalogue's "
                                    "(run `python tools/i18n.py build`)"))
        if not problems and want != have:
            problems.append(Problem(source.name, "", f"{name} is out of date (run `python tools/i18n.py build`)"))
        return problems
    if want != have:
        return [Problem(source.name, "", f"{name} is out of date (run `python tools/i18n.py build`)")]
    return []


# ------------------------------------------------------------------ glmlib's own messages

GLMLIB = ROOT / "glmlib"


def message_modules() -> dict[str, list[tuple[str, int]]]:
    """Module name ("exercises.sampling") -> the ``_("...")`` messages of glmlib's code, with lines."""
    import ast

    found: dict[str, list[tuple[str, int]]] = {}
    for path in sorted(GLMLIB.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_") and node.args]
        messages = []
        for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
            first = call.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                raise SystemExit(f"{path.relative_to(ROOT)}:{call.lineno}: _() needs a string literal "
                                 "(use named {placeholders}, not an f-string)")
            messages.append((first.value, call.lineno))
        if messages:
            found[".".join(path.relative_to(GLMLIB).with_suffix("").parts)] = messages
    return found


def message_po(module: str) -> Path:
    return GLMLIB / "locale" / GETTEXT / f"{module}.po"


def update_messages(names: list[str] | None = None) -> list[str]:
    report = []
    for module, messages in message_modules().items():
        if names and not any(n in module for n in names):
            continue
        new_template = Catalog(locale=GETTEXT, project="glmlib", fuzzy=False)
        for message, line in messages:
            if message in new_template:
                new_template[message].locations.append((f"glmlib/{module.replace('.', '/')}.py", line))
            else:
                new_template.add(message, locations=[(f"glmlib/{module.replace('.', '/')}.py", line)])
        po = message_po(module)
        catalog = load(po)
        before = {m.id for m in catalog if m.id}
        new_template.creation_date = catalog.creation_date
        catalog.update(new_template, no_fuzzy_matching=False, update_header_comment=False)
        keep_previous(catalog)
        save(catalog, po)
        added = sum(1 for m in catalog if m.id and m.id not in before and not m.string)
        report.append(f"{po.relative_to(ROOT)}: {added} new, {sum(1 for m in catalog if m.id and m.fuzzy)} "
                      f"fuzzy, {len(catalog.obsolete)} obsolete")
    return report


def message_problems() -> list[Problem]:
    """glmlib messages without a usable translation, or whose translation has other placeholders."""
    from glmlib.i18n import placeholders

    problems = []
    for module, messages in message_modules().items():
        catalog = load(message_po(module))
        po = message_po(module).relative_to(ROOT).as_posix()
        for message, line in messages:
            where = f"line {line}"
            name = f"glmlib/{module.replace('.', '/')}.py"
            entry = catalog.get(message)
            if entry is None or not entry.string:
                problems.append(Problem(name, where, f"no translation in {po} for \"{_short(message)}\" "
                                        "(run `python tools/i18n.py update`, then translate it)"))
            elif entry.fuzzy:
                problems.append(Problem(name, where, f"entry fuzzy (its English changed) in {po}: "
                                        f"\"{_short(message)}\""))
            elif placeholders(entry.string) != placeholders(message):
                problems.append(Problem(name, where, f"the translation of \"{_short(message)}\" has the "
                                        f"placeholders {sorted(placeholders(entry.string))}, the English "
                                        f"{sorted(placeholders(message))}"))
            else:
                problems += [Problem(name, where, p) for p in entry_problems(message, entry.string)
                             if "heading" not in p]
    return problems


# ------------------------------------------------------------------ sheets

_SHEET = re.compile(r"^<<<< (\d+) (en|zh) >>>>\n", re.M)


def sheet(po: Path, everything: bool = False) -> str:
    """The catalogue's open entries (or all) as blocks to fill in, one per entry."""
    catalog = load(po)
    out = [f"# {po.relative_to(ROOT)}: write each translation under its <<<< N zh >>>> line "
           "(plain text, no escaping); leave a block empty to skip it.\n"]
    for n, message in enumerate(m for m in catalog if m.id):
        if everything or not message.string or message.fuzzy:
            draft = message.string if message.fuzzy else ("" if not everything else message.string)
            out.append(f"<<<< {n} en >>>>\n{message.id}\n<<<< {n} zh >>>>\n{draft}\n")
    return "\n".join(out)


def unsheet(text: str, po: Path) -> int:
    """Read a filled sheet back into the catalogue; the number of entries set."""
    catalog = load(po)
    entries = [m for m in catalog if m.id]
    pieces = _SHEET.split(text)
    count = 0
    for i in range(1, len(pieces) - 2, 3):
        n, kind, body = int(pieces[i]), pieces[i + 1], pieces[i + 2]
        if kind != "zh":
            continue
        translated = body.strip("\n")
        english = pieces[i - 1].strip("\n") if i >= 3 else None
        if not translated.strip():
            continue
        message = entries[n]
        if english is not None and english != message.id:
            raise SystemExit(f"sheet entry {n} is not the catalogue's entry {n} any more "
                             f"(\"{_short(message.id, 40)}\"): make a new sheet")
        problems = entry_problems(message.id, translated)
        if problems:
            raise SystemExit(f"sheet entry {n}: " + "; ".join(problems))
        message.string = translated
        message.flags.discard("fuzzy")
        message.previous_id = []
        message.user_comments = []
        count += 1
    save(catalog, po)
    return count


# ------------------------------------------------------------------ glossary check

def terminology() -> list[tuple[str, str]]:
    """(English, Chinese) pairs of the course's terminology list."""
    rows = []
    for line in (I18N / GETTEXT / "terminology.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            english, chinese, *_ = line.split("\t")
            rows.append((english.strip(), chinese.strip()))
    return rows


# Terms checked for "English at first use": distinctive ones (a two-character word such as 参数 or 合并
# is also everyday Chinese inside other words, so only these short ones are checked)
_SHORT_TERMS_CHECKED = {"词元", "词表", "温度", "掩码", "嵌入", "码位"}
# everyday words that contain a term without being it (a laptop is not a notebook)
_NOT_THE_TERM = ("笔记本电脑",)


def checked_terms() -> list[tuple[str, str]]:
    return [(en, zh) for en, zh in terminology()
            if zh != en and not re.search(r"[A-Za-z]", zh) and (len(zh) >= 3 or zh in _SHORT_TERMS_CHECKED)]


def first_use_problems(source: Source) -> list[Problem]:
    """Terms of the list whose first use in a translated notebook or page lacks its English term
    in parentheses right after it (词元（token）)."""
    table = table_of(load(source.po))
    blocks = [table[m] for m, _ in english_messages(source) if m in table]
    text = "\n\n".join(blocks)
    terms = checked_terms()
    problems = []
    for english, chinese in terms:
        longer = [zh for _, zh in terms if chinese in zh and zh != chinese]
        inside = [range(m.start(), m.end()) for zh in longer for m in re.finditer(re.escape(zh), text)]
        inside += [range(m.start(), m.end()) for m in re.finditer(r"（[^（）]*）", text)]  # a gloss in brackets
        inside += [range(m.start(), m.end()) for word in _NOT_THE_TERM for m in re.finditer(word, text)]
        for match in re.finditer(re.escape(chinese), text):
            start = match.start()
            if any(start in span for span in inside):
                continue  # part of a longer term (掩码 in 因果掩码)
            after = text[match.end(): match.end() + 60]
            stem = re.sub(r"[^a-z]", "", english.lower())[:5]
            if not re.match(r"\s*[（(]", after) or stem not in re.sub(r"[^a-z]", "", after.lower()):
                line = _short(text[max(0, start - 20): match.end() + 30], 60)
                problems.append(Problem(source.name, "", f"first use of {chinese} without its English term "
                                        f"({chinese}（{english}）): \"{line}\""))
            break
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("update", help="bring the catalogues in step with the English")
    up.add_argument("--messages", action="store_true", help="only glmlib's messages (glmlib/locale)")
    up.add_argument("--prose", action="store_true", help="only the notebooks' and pages' prose (i18n/)")
    up.add_argument("names", nargs="*", help="only these (e.g. 03_masks, exercises.sampling)")
    b = sub.add_parser("build", help="write the translated files")
    b.add_argument("--force", action="store_true", help="overwrite a Chinese notebook with changed code")
    b.add_argument("--partial", action="store_true", help="leave untranslated blocks in English (a preview)")
    b.add_argument("names", nargs="*", help="only these sources (e.g. 03_masks)")
    sub.add_parser("check", help="list every problem")
    s = sub.add_parser("sheet", help="a catalogue's open entries as a plain-text sheet")
    s.add_argument("po", type=Path)
    s.add_argument("--all", action="store_true", help="every entry, translated ones too")
    u = sub.add_parser("unsheet", help="read a filled sheet back into its catalogue")
    u.add_argument("sheet", type=Path)
    u.add_argument("po", type=Path)
    args = parser.parse_args(argv)

    if args.command == "update":
        if not args.messages:
            for source in sources():
                if not args.names or any(n in source.name for n in args.names):
                    added, fuzzy, gone = update(source)
                    print(f"{source.po.relative_to(ROOT)}: {added} new, {fuzzy} fuzzy, {gone} obsolete")
        if not args.prose:
            print("\n".join(update_messages(args.names)))
    elif args.command == "build":
        chosen = [s for s in sources() if not args.names or any(n in s.name for n in args.names)]
        for source in chosen:
            print(build(source, force=args.force, partial=args.partial))
    elif args.command == "check":
        problems = [p for s in sources() for p in catalogue_problems(s) + built_problems(s)]
        problems += message_problems()
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problems")
        return 1 if problems else 0
    elif args.command == "sheet":
        sys.stdout.write(sheet(args.po.resolve(), args.all))
    elif args.command == "unsheet":
        print(f"{unsheet(args.sheet.read_text(encoding='utf-8'), args.po.resolve())} entries set in {args.po}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
