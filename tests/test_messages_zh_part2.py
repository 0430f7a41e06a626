"""The checkers of notebooks 06-09 speak Chinese when the language is zh-CN, and English otherwise.

Every catalogued wrong answer of those notebooks (``tests/wrong_answers/nb06.py`` ... ``nb09.py``,
the rows ``test_exercise_catalogues.py`` runs) is checked three times: in English, in Chinese,
in English again. The English diagnosis holds the row's expected words and no Chinese; the
Chinese one holds Chinese, none of the English words the question's rows expect (code such as
``F.cross_entropy`` or ``window + 1 =`` stays as written) and no run of English prose outside code,
quoted values and the learner's own error text; switching back to English gives the very same
English message. The same rules as ``test_messages_zh_part1.py`` (notebooks 00-05).

The training loop's rows train a small GPT (seconds each, twice: a verdict is remembered per
language), so they are ``slow``; the other rows take a few seconds together.
"""
from __future__ import annotations

import re

import pytest

from messages_zh import CHINESE, CODE_CHARS, CODE_SPAN, ENGLISH_RUN, QUOTED_ERROR, result_of
from test_exercise_catalogues import CATALOGUES, QUESTIONS

STEMS = ["06", "07", "08", "09"]
TRAINS = {"q06_train_loop"}  # each check trains a GPT
BY_QUESTION = [(stem, name) for stem in STEMS for name in CATALOGUES[stem].WRONG if name not in TRAINS]
LOOP_ROWS = list(CATALOGUES["06"].WRONG["q06_train_loop"])

# A value shown as Python writes it ('aab ab', a fresh text of the BPE cases): the learner's data.
QUOTED_VALUE = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
# An English case name, with the inputs it shows (a fresh text may hold any character, Chinese too).
CASE_NAME = re.compile(r"case '.*?'(?=: | raised )")
OPERATORS = {"+", "-", "=", "*", "/", "//", "<", ">", "<=", ">=", "==", "!="}


def identifiers(message: str) -> set[str]:
    """The words inside the code spans of a message (`descending=True` -> descending, True)."""
    return {w for span in CODE_SPAN.findall(message) for w in re.findall(r"[A-Za-z_]\w*", span)}


def is_prose(fragment: str, english: str) -> bool:
    """Whether a row's expected words are English prose, not code: a function (``F.cross_entropy``),
    a formula (``window + 1 =``, ``sqrt(D)``) or a name the English message writes as code (``scatter``)."""
    names = identifiers(english)
    words = [w.strip(",;:*") for w in CODE_SPAN.sub(" ", fragment).split()]

    def in_formula(i: int) -> bool:  # `window` in "window + 1 =": a variable of a formula
        return any(0 <= j < len(words) and words[j].strip("()") in OPERATORS for j in (i - 1, i + 1))

    return any(re.search(r"[a-z]{3,}", w) and not CODE_CHARS & set(w) and w not in names and not in_formula(i)
               for i, w in enumerate(words))


def english_left(message: str) -> list[str]:
    """Runs of English words in a Chinese message, outside code spans, quoted values and quoted errors."""
    rest = QUOTED_ERROR.sub(" ", QUOTED_VALUE.sub(" ", CODE_SPAN.sub(" ", message)))
    return ENGLISH_RUN.findall(rest)


def check_row(stem: str, name: str, label: str, code: str, fragment: str, language, again: bool = True) -> None:
    """One wrong answer in English, in Chinese, in English again (``again=False``: not the last run)."""
    others = [f for _, f in CATALOGUES[stem].WRONG[name].values()]
    language("en")
    english = result_of(stem, name, code)
    assert english.status == "fail" and fragment.lower() in english.message.lower(), (label, english)
    assert not CHINESE.search(QUOTED_VALUE.sub(" ", CASE_NAME.sub(" ", english.message))), (label, english.message)

    language("zh-CN")
    chinese = result_of(stem, name, code)
    assert chinese.status == "fail", (label, chinese)  # the status values stay what code compares
    assert CHINESE.search(chinese.message), (label, chinese.message)
    outside_code = CODE_SPAN.sub(" ", chinese.message).lower()
    for words in others:  # this row's words, and those of the question's other mistakes
        if is_prose(words, english.message):
            assert words.lower() not in outside_code, (label, words, chinese.message)
    assert not english_left(chinese.message), (label, english_left(chinese.message), chinese.message)
    assert chinese._repr_markdown_().startswith("**[未通过]**"), chinese._repr_markdown_()
    if not again:
        return

    language("en")
    later = result_of(stem, name, code)
    assert later.message == english.message, label
    assert later._repr_markdown_().startswith("**[FAIL]**")


@pytest.mark.parametrize("stem, name", BY_QUESTION, ids=[f"{s}-{n}" for s, n in BY_QUESTION])
def test_every_diagnosis_is_chinese_in_zh_and_unchanged_in_english(stem: str, name: str, language,
                                                                   one_thread) -> None:
    for label, (code, fragment) in CATALOGUES[stem].WRONG[name].items():
        check_row(stem, name, label, code, fragment, language)


@pytest.mark.slow
@pytest.mark.parametrize("label", LOOP_ROWS)
def test_every_training_loop_diagnosis_is_chinese_in_zh(label: str, language, one_thread) -> None:
    code, fragment = CATALOGUES["06"].WRONG["q06_train_loop"][label]
    # each run trains a GPT: English, then Chinese (English after Chinese is checked on the other questions)
    check_row("06", "q06_train_loop", label, code, fragment, language, again=False)


def test_not_yet_and_pass_are_translated_too(language, one_thread) -> None:
    for stem in STEMS:
        for name, q in QUESTIONS[stem].items():
            if name in TRAINS:
                continue
            language("zh-CN")
            stub = result_of(stem, name, q.stub)
            assert stub.status == "not yet" and CHINESE.search(stub.message), stub
            solved = result_of(stem, name, q.solution)
            assert solved.passed and CHINESE.search(solved.message), solved
            assert solved._repr_markdown_().startswith("**[通过]**")
            language("en")
            solved = result_of(stem, name, q.solution)
            assert solved.passed and not CHINESE.search(solved.message), solved
    language("zh-CN")
    assert result_of("08", "q08_window_step", QUESTIONS["08"]["q08_window_step"].solution).message == \
        "全部 4 个序列（25 步）通过"
    language("en")
    assert result_of("08", "q08_window_step", QUESTIONS["08"]["q08_window_step"].solution).message == \
        "all 4 sequences (25 steps) pass"


@pytest.mark.slow
def test_the_training_loop_passes_in_chinese(language, one_thread) -> None:
    q = QUESTIONS["06"]["q06_train_loop"]
    language("zh-CN")
    solved = result_of("06", "q06_train_loop", q.solution)
    assert solved.passed and solved.message.startswith("你的循环在 300 步内把 GPT 训练到了"), solved
    language("en")
    solved = result_of("06", "q06_train_loop", q.solution)
    assert solved.passed and solved.message.startswith("your loop trained the GPT to a validation loss of")


def test_a_diagnosis_follows_the_language_of_the_moment(language, one_thread) -> None:
    """Messages are translated when a check runs, not when glmlib is imported: the same checker,
    called again after ``set_language``, answers in the new language; a shortcut's hint too."""
    code, _ = CATALOGUES["07"].WRONG["q07_top_k"]["calls glmlib.sampling, which the prompt forbids"]
    language("zh-CN")
    assert "自己与第 k 大的 logit 比较" in result_of("07", "q07_top_k", code).message
    language("en")
    assert "compare with the k-th largest logit yourself" in result_of("07", "q07_top_k", code).message


def test_the_prose_rule_of_this_file() -> None:
    """Function names, formulas and names the English writes as code are kept; words are not."""
    english = "keep the last `window` entries (`descending=True`? `scatter`?)"
    assert not any(is_prose(f, english) for f in ("F.cross_entropy", "sqrt(D)", "window - 1 = ", "descending",
                                                   "scatter", "max(1, block_size // 2)", "BPETokenizer.decode",
                                                   "cumsum <= p", "N*V"))
    assert all(is_prose(f, english) for f in ("positions", "*oldest*", "instead of >=", "one chunk",
                                              "calls `glmlib.sampling.top_k_filter`", "glmlib.bpe's trainer"))
    assert english_left("用例“随机生成的新文本 'aab ab ba ab'”：你先把文本切成了单词") == []
    assert english_left("（原始错误 RuntimeError：selected index k out of range）") == []
    assert english_left("用例“x”：the cache is wrong") == ["the cache is wrong"]
    assert CASE_NAME.sub("", "case 'a fresh text '猫: ab' (first merge)': you merged") == ": you merged"
