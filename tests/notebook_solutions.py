"""Read the worked solutions that notebooks show behind "Show solution"."""
from __future__ import annotations

import re
from pathlib import Path


def shown_solutions(notebook: Path) -> list[str]:
    """The Python code inside each "Show solution" block of a py:percent notebook."""
    text = notebook.read_text(encoding="utf-8")
    blocks = re.findall(r"# <details><summary>Show solution</summary>\n(.*?)# </details>", text, re.S)
    codes = []
    for block in blocks:
        markdown = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in block.splitlines())
        codes += re.findall(r"```python\n(.*?)```", markdown, re.S)
    return codes
