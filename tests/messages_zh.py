"""What the tests of the checkers' Chinese (``test_messages_zh_part1.py``, ``..._part2.py``) share:
the patterns that tell Chinese from English prose and a catalogued answer's checker result (their
``language`` fixture is in ``tests/conftest.py``)."""
from __future__ import annotations

import re

from notebook_solutions import run_code
from test_exercise_catalogues import CATALOGUES, QUESTIONS, checker_call

CHINESE = re.compile(r"[\u4e00-\u9fff]")
CODE_SPAN = re.compile(r"`[^`]*`")
CODE_CHARS = set("._()[]*<>=|+-/`{}'\"0123456789")
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}\b")  # three English words in a row
# The learner's own exception, quoted after its type: its text is PyTorch's or Python's, not ours.
QUOTED_ERROR = re.compile(r"\b\w*(?:Error|Exception)：[^。）]*")


def result_of(stem: str, name: str, code: str):
    """The checker's result for ``code`` as the answer to question ``name`` of notebook ``stem``."""
    call, _ = checker_call(QUESTIONS[stem][name].test)
    return eval(call, run_code(CATALOGUES[stem].SETUP + code))
