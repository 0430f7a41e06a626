"""The benchmarks' tables: every figure a row of four cells, printed as one Markdown table.

Imported by each benchmark (bench_train.py, bench_generate.py) and by report.py, which
puts their rows together; it imports none of them.
"""
from __future__ import annotations

Row = tuple[str, str, str, str]  # figure, glmlib, peer, glmlib / peer
HEADER: Row = ("figure", "glmlib", "peer", "ratio")


def fmt_rate(values: list[float], unit: str = "") -> str:
    """The median of ``values`` with thousands separators."""
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 2]:,.0f}{unit}"


def print_table(rows: list[Row]) -> None:
    """``rows`` under :data:`HEADER` as a Markdown table with aligned columns."""
    rows = [HEADER, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(rows[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows[1:]:
        print(line(r))
