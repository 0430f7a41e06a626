"""The checkers of notebooks 00-05 speak Chinese when the language is zh-CN, and English otherwise.

Every catalogued wrong answer of those notebooks (``tests/wrong_answers/nb00.py`` ... ``nb05.py``,
the rows ``test_exercise_catalogues.py`` runs) is checked three times: in English, in Chinese,
in English again. The English diagnosis holds the row's expected words and no Chinese; the
Chinese one holds Chinese, none of the row's English words and no run of English prose outside
code, names and the learner's own error text; switching back to English gives the very same
English message. The status marks a notebook shows are translated too, the status values are not.
"""
from __future__ import annotations

import re

import pytest

from messages_zh import CHINESE, CODE_CHARS, CODE_SPAN, ENGLISH_RUN, QUOTED_ERROR, result_of
from test_exercise_catalogues import CATALOGUES, QUESTIONS

STEMS = ["00", "01", "02", "03", "04", "05"]
BY_QUESTION = [(stem, name) for stem in STEMS for name in CATALOGUES[stem].WRONG]



def is_prose(fragment: str) -> bool:
    """Whether a catalogue row's expected words are English prose (not a function name such as
    ``F.softmax`` or a formula such as ``sqrt(d_v)``, which the Chinese message keeps)."""
    words = [w.strip(",;:") for w in CODE_SPAN.sub(" ", fragment).split()]
    return any(re.search(r"[a-z]{3,}", w) and not CODE_CHARS & set(w) for w in words)


def english_left(message: str) -> list[str]:
    """Runs of English words in a Chinese message, outside code spans and quoted errors."""
    rest = QUOTED_ERROR.sub(" ", CODE_SPAN.sub(" ", message))
    return ENGLISH_RUN.findall(rest)


@pytest.mark.parametrize("stem, name", BY_QUESTION, ids=[f"{s}-{n}" for s, n in BY_QUESTION])
def test_every_diagnosis_is_chinese_in_zh_and_unchanged_in_english(stem: str, name: str, language,
                                                                   one_thread) -> None:
    for label, (code, fragment) in CATALOGUES[stem].WRONG[name].items():
        language("en")
        english = result_of(stem, name, code)
        assert english.status == "fail" and fragment.lower() in english.message.lower(), (label, english)
        assert not CHINESE.search(english.message), (label, english.message)

        language("zh-CN")
        chinese = result_of(stem, name, code)
        assert chinese.status == "fail", (label, chinese)  # the status values stay what code compares
        assert CHINESE.search(chinese.message), (label, chinese.message)
        if is_prose(fragment):
            assert fragment.lower() not in chinese.message.lower(), (label, fragment, chinese.message)
        assert not english_left(chinese.message), (label, english_left(chinese.message), chinese.message)
        assert chinese._repr_markdown_().startswith("**[未通过]**"), chinese._repr_markdown_()

        language("en")
        again = result_of(stem, name, code)
        assert again.message == english.message, label
        assert again._repr_markdown_().startswith("**[FAIL]**")


def test_not_yet_and_pass_are_translated_too(language, one_thread) -> None:
    for stem in STEMS:
        for name, q in QUESTIONS[stem].items():
            language("zh-CN")
            stub = result_of(stem, name, q.stub)
            assert stub.status == "not yet" and CHINESE.search(stub.message), stub
            assert stub._repr_markdown_().startswith("**[尚未完成]**")
            language("en")
            stub = result_of(stem, name, q.stub)
            assert stub.message.startswith("replace the `raise NotImplementedError`"), stub
            assert stub._repr_markdown_().startswith("**[NOT YET]**")
    q = QUESTIONS["00"]["q00_causal_row"]
    language("zh-CN")
    solved = result_of("00", "q00_causal_row", q.solution)
    assert solved.passed and solved.message == "全部 5 个用例通过", solved
    assert solved._repr_markdown_().startswith("**[通过]**")
    language("en")
    assert result_of("00", "q00_causal_row", q.solution).message == "all 5 cases pass"


def test_the_prose_rule_of_this_file() -> None:
    """Function names and formulas are kept in Chinese messages; words are not."""
    assert not any(is_prose(f) for f in ("F.softmax", "sqrt(d_v)", "(C, V)", "probs[next, prev]", "NaN",
                                          "glmlib.masks.causal_mask", "k.transpose(-2, -1)"))
    assert all(is_prose(f) for f in ("raw logits", "W_o is missing", "calls `causal_mask`", "bits",
                                     "*sum* of the gradients", "N(a) + kV, not N(a) + k"))
    assert english_left("用例“x”抛出了 IndexError：index 14 is out of bounds。有窗口超出了数据的末尾") == []
    assert english_left("用例“x”：the mask is ignored") == ["the mask is ignored"]
