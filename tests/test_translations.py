"""The Chinese edition is kept in step with the English one (``tools/i18n.py``, ``i18n/README.md``).

- every English block of prose has a translation that is neither missing nor fuzzy, keeps its
  inline code and maths, and is Chinese;
- every built file (``notebooks/zh-CN/``, ``README.zh-CN.md``, ...) is what the tool builds now:
  a Chinese notebook's code cells and outputs are the English notebook's own;
- changing one English sentence makes the check fail, naming the entry;
- each term of the terminology list comes with its English at its first use;
- every checker message and explorer label of glmlib has a Chinese text with the same placeholders.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import i18n  # noqa: E402

SOURCES = i18n.sources()
IDS = [s.name for s in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_every_block_is_translated(source):
    problems = i18n.catalogue_problems(source)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(map(str, problems[:15]))


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_built_file_is_in_step(source):
    problems = i18n.built_problems(source)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("source", [s for s in SOURCES if s.is_notebook], ids=lambda s: s.english.stem)
def test_chinese_notebook_has_the_english_code_and_outputs(source):
    english = nbformat.read(source.english, as_version=4)
    chinese = nbformat.read(source.built, as_version=4)
    # the same code, and the same outputs but for the checkers' results, which read as the Chinese kernel writes them
    assert [(code, i18n.translated_outputs(outputs)) for code, outputs in i18n.code_of(english)] \
        == i18n.code_of(chinese)
    language = [c for c in chinese.cells if i18n.LANGUAGE_TAG in c.metadata.get("tags", [])]
    assert [c.source for c in language] == [i18n.LANGUAGE_CELL]
    first_code = next(c for c in chinese.cells if c.cell_type == "code")
    assert first_code is language[0], "the language is set before any other code runs"
    assert sum(c.cell_type == "markdown" for c in chinese.cells) == sum(c.cell_type == "markdown"
                                                                        for c in english.cells)
    assert "jupytext" not in chinese.metadata  # no .py pair is made beside it


@pytest.mark.parametrize("source", [s for s in SOURCES if s.is_notebook], ids=lambda s: s.english.stem)
def test_every_checker_result_shown_has_its_chinese(source):
    """A checker result stored in an English notebook (a solution's "[PASS] ... all 6 cases pass") is
    shown in Chinese in the Chinese notebook, as running it there prints it."""
    english = nbformat.read(source.english, as_version=4)
    results = [out["data"]["text/markdown"] for cell in english.cells if cell.cell_type == "code"
               for out in cell.outputs if i18n._RESULT.match(str(out.get("data", {}).get("text/markdown", "")))]
    for shown in results:
        message = i18n._RESULT.match(shown).group(3)
        assert i18n.translate_message(message), f"no Chinese for the checker's message {message!r}"


def test_a_checker_message_is_translated_with_its_values():
    assert i18n.translate_message("all 6 cases pass") == "全部 6 个用例通过"
    assert i18n.translate_message("a sentence no checker writes") is None


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_terms_come_with_their_english_at_first_use(source):
    problems = i18n.first_use_problems(source)
    assert not problems, "\n".join(map(str, problems[:15]))


def test_changing_one_english_sentence_names_the_entry(tmp_path):
    source = next(s for s in SOURCES if s.english.name == "03_masks.ipynb")
    nb = nbformat.read(source.english, as_version=4)
    cell_index, cell = next((i, c) for i, c in enumerate(nb.cells)
                            if c.cell_type == "markdown" and "Padding masks" in c.source)
    sentence = "so shorter ones are **padded** with a filler token."
    assert sentence in cell.source
    cell.source = cell.source.replace(sentence, "so shorter ones are **padded** with a pad token.")
    changed = tmp_path / source.english.name
    nbformat.write(nb, changed)
    copy = i18n.Source(changed, source.po, tmp_path / "zh" / changed.name)
    before = {str(p).split(": ", 1)[1] for p in i18n.catalogue_problems(source)}
    problems = [str(p) for p in i18n.catalogue_problems(copy) if str(p).split(": ", 1)[1] not in before]
    assert len(problems) == 1, problems
    assert f"cell {cell_index}" in problems[0] and "padded" in problems[0] and "03_masks.po" in problems[0]


def test_update_keeps_a_changed_entry_as_a_fuzzy_draft(tmp_path):
    source = next(s for s in SOURCES if s.english.name == "03_masks.ipynb")
    nb = nbformat.read(source.english, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "Padding masks" in c.source)
    cell.source = cell.source.replace("with a filler token.", "with a pad token.")
    changed = tmp_path / source.english.name
    nbformat.write(nb, changed)
    po = tmp_path / "03_masks.po"
    shutil.copy(source.po, po)
    i18n.update(i18n.Source(changed, po, tmp_path / "zh.ipynb"))
    catalog = i18n.load(po)
    fuzzy = [m for m in catalog if m.id and m.fuzzy]
    assert [m.id for m in fuzzy if "pad token" in m.id], "the changed block is marked fuzzy"
    old = next(m for m in i18n.load(source.po) if m.id and "with a filler token." in m.id)
    assert next(m for m in fuzzy if "pad token" in m.id).string == old.string  # its old translation, a draft
    problems = [str(p) for p in i18n.catalogue_problems(i18n.Source(changed, po, tmp_path / "zh.ipynb"))]
    assert any("fuzzy" in p and "pad token" in p for p in problems)


def test_a_translation_that_changes_code_or_maths_is_refused():
    english = "The mask is `causal_mask(T)`, lower-triangular: $j \\le i$."
    assert i18n.entry_problems(english, "掩码是 `causal_mask(T)`，下三角：$j \\le i$。") == []
    assert i18n.entry_problems(english, "掩码是 `causal_mask(t)`，下三角：$j \\le i$。")
    assert i18n.entry_problems(english, "掩码是 `causal_mask(T)`，下三角：$j \\leq i$。")
    assert i18n.entry_problems(english, "The mask is `causal_mask(T)`, lower-triangular: $j \\le i$.")


def test_blocks_round_trip_and_code_is_never_an_entry():
    text = "# Title\n\nSome prose.\n\n```python\nx = 1\n\ny = 2\n```\n\n$$\na\n\nb\n$$\n\n- a list\n- of items\n"
    assert "".join(i18n.split_blocks(text)) == text
    assert i18n.messages_of(text) == ["# Title", "Some prose.", "- a list\n- of items"]


def test_every_glmlib_message_has_a_chinese_text():
    problems = i18n.message_problems()
    assert i18n.message_modules(), "no _() messages found in glmlib"
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(map(str, problems[:20]))


def test_build_never_overwrites_a_chinese_notebook_a_learner_changed(tmp_path):
    source = next(s for s in SOURCES if s.english.name == "03_masks.ipynb")
    copy = i18n.Source(source.english, source.po, tmp_path / "03_masks.ipynb")
    i18n.build(copy)
    nb = nbformat.read(copy.built, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and i18n.LANGUAGE_TAG not in c.metadata.get("tags", []))
    cell.source += "\nmy_answer = 42  # a learner's work"
    nbformat.write(nb, copy.built)
    before = copy.built.read_bytes()
    with pytest.raises(SystemExit, match="not overwritten"):
        i18n.build(copy)
    assert copy.built.read_bytes() == before
    i18n.build(copy, force=True)  # asked for: rebuilt
    assert "my_answer" not in copy.built.read_text(encoding="utf-8")


def test_a_submissions_stated_language_only_ever_chooses_the_feedback_language(tmp_path):
    from glmlib.exercises.grading import language_of

    for stated, expected in (("zh-CN", "zh-CN"), ("zh_CN", "zh-CN"), ("fr", "en"), (["zh-CN"], "en"),
                             ({"x": 1}, "en"), (None, "en")):
        nb = nbformat.v4.new_notebook()
        nb.metadata["glmlib"] = {"language": stated}
        nbformat.write(nb, tmp_path / "s.ipynb")
        assert language_of(tmp_path / "s.ipynb") == expected, stated
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    assert language_of(tmp_path / "broken.ipynb") == "en"
