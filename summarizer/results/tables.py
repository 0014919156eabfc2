"""A table of results (an evaluation's scores per method, say) as downloadable files: CSV,
JSONL, Markdown and DOCX, each a pure function ``Table -> bytes``.

``files.py`` writes one summary per document; this writes rows of named values. The same
safety choices: CSV through the one results writer (``csvfile.csv_bytes``: a byte-order
mark, formula-like cells neutralized), Markdown with ``<``, ``>`` and ``&`` as entities and
``|`` escaped so that a cell cannot break out of its column, DOCX without the control
characters XML forbids.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence

from summarizer.results.csvfile import csv_bytes
from summarizer.results.files import MIME, docx_bytes

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Table:
    """``rows``: one mapping per row, keyed by ``columns`` (a missing key is an empty cell).
    ``notes``: lines written under the title (what was measured, on what)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Mapping[str, Any]]
    notes: Sequence[str] = ()


def _cell(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def to_csv(table: Table) -> bytes:
    return csv_bytes(list(table.columns),
                     ([_cell(row.get(c)) for c in table.columns] for row in table.rows))


def to_jsonl(table: Table) -> bytes:
    """One JSON object per row, the columns in order, values as given."""
    lines = [json.dumps({c: row.get(c) for c in table.columns}, ensure_ascii=False)
             for row in table.rows]
    return ("\n".join(lines) + "\n" if lines else "").encode("utf-8")


def _md(value: Any) -> str:
    text = "" if value is None else str(value)
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def to_markdown(table: Table) -> bytes:
    out: List[str] = [f"# {_md(table.title)}", ""]
    out += [line for note in table.notes for line in (_md(note), "")]
    out.append("| " + " | ".join(_md(c) for c in table.columns) + " |")
    out.append("|" + "|".join(" --- " for _ in table.columns) + "|")
    out += ["| " + " | ".join(_md(row.get(c)) for c in table.columns) + " |"
            for row in table.rows]
    return ("\n".join(out) + "\n").encode("utf-8")


def _xml(value: Any) -> str:
    return _XML_ILLEGAL.sub("", "" if value is None else str(value))


def to_docx(table: Table) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(_xml(table.title), level=0)
    for note in table.notes:
        document.add_paragraph(_xml(note))
    grid = document.add_table(rows=1, cols=len(table.columns))
    grid.style = "Table Grid"
    for cell, name in zip(grid.rows[0].cells, table.columns):
        cell.text = _xml(name)
        cell.paragraphs[0].runs[0].bold = True
    for row in table.rows:
        for cell, name in zip(grid.add_row().cells, table.columns):
            cell.text = _xml(row.get(name))
    return docx_bytes(document)


WRITERS = {fmt: (writer, MIME[fmt]) for fmt, writer in (
    ("csv", to_csv), ("jsonl", to_jsonl), ("md", to_markdown), ("docx", to_docx))}
