"""Plain-text tables for the reports bench/ writes into docs/ (fenced in Markdown); terminals get rich tables."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.console import cell_text, is_number


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> str:
    cells = [[str(h) for h in headers], *[[cell_text(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(is_number(r[i]) for r in rows) and bool(rows) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        padded = (c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        return "  ".join(padded)

    out = [title] if title else []
    out += [line(cells[0]), "  ".join("-" * w for w in widths), *(line(r) for r in cells[1:])]
    return "\n".join(s.rstrip() for s in out)
