"""A comparison of several summaries of one document as downloadable files: Markdown,
DOCX, CSV and JSONL, each a pure function ``Comparison -> bytes``.

``files.py`` writes one row per document (id, method, summary, ROUGE); a comparison also
has each summary's length in words and the ROUGE matrix between the summaries, which
those rows cannot carry. The same safety rules hold: the CSV is ``csvfile``'s (formula
cells neutralized), Markdown writes ``< > &`` as entities and ``|`` escaped in tables,
DOCX drops the control characters XML forbids.

What each file holds: the budget and language; the reference (Markdown, DOCX) when there
was one; per method its summary, words, ROUGE F1 x 100 against the reference (when
given), its mean agreement with the others, and its row of the matrix (CSV columns
``<rouge type> vs <method>``, JSONL ``"vs"``; Markdown and DOCX a table).
"""
from __future__ import annotations

import html
import json
from typing import Dict, List, Sequence

from summarizer.evaluation.compare import Comparison, MethodResult
from summarizer.results.csvfile import csv_bytes
from summarizer.results.files import MIME, ROUGE_COLUMNS, docx_bytes, _xml_safe


def _rouge_types(comparison: Comparison) -> List[str]:
    present = {k for r in comparison.results for k in (r.rouge or {})}
    return [k for k in ROUGE_COLUMNS if k in present]


def _vs(comparison: Comparison, result: MethodResult) -> Dict[str, float]:
    """The method's row of the matrix: F1 x 100 against each method (itself 100)."""
    row = comparison.matrix.names.index(result.method)
    return dict(zip(comparison.matrix.names, comparison.matrix.values[row]))


def _score_table(comparison: Comparison) -> List[List[str]]:
    """Header and rows: method, words, ROUGE against the reference, agreement."""
    types = _rouge_types(comparison)
    head = ["method", "words", *types, f"agreement ({comparison.matrix.rouge_type})"]
    return [head] + [[r.method, str(r.words), *(f"{r.rouge[k]:.2f}" for k in types),
                      f"{r.agreement:.2f}"] for r in comparison.results]


def _matrix_table(comparison: Comparison) -> List[List[str]]:
    names = list(comparison.matrix.names)
    return [["", *names]] + [[n, *(f"{v:.2f}" for v in row)]
                             for n, row in zip(names, comparison.matrix.values)]


def _about(comparison: Comparison) -> str:
    first = comparison.results[0].summary if comparison.results else None
    if first is None:
        return "No summaries."
    n = len(comparison.results)
    return (f"Document: {first.document.source or 'document'} · language {first.document.lang}"
            f" · budget {first.budget.describe()} · {n} method{'s' if n != 1 else ''}")


SCORES_NOTE = ("Words as the budget counts them. ROUGE F1 x 100 against the reference; "
               "agreement: mean ROUGE F1 x 100 against the other summaries.")


# -- CSV and JSONL -------------------------------------------------------------------
def to_csv(comparison: Comparison) -> bytes:
    """A row per method: method, words, budget, summary, ROUGE against the reference (when
    given), agreement, then its F1 against each method (``rouge1 vs lead``)."""
    types = _rouge_types(comparison)
    names = comparison.matrix.names
    kind = comparison.matrix.rouge_type
    header = ["method", "words", "budget", "summary", *types, f"agreement ({kind})",
              *(f"{kind} vs {n}" for n in names)]
    rows = ([r.method, str(r.words), r.summary.budget.describe(), r.summary.text,
             *(f"{r.rouge[k]:.2f}" for k in types), f"{r.agreement:.2f}",
             *(f"{v:.2f}" for v in _vs(comparison, r).values())]
            for r in comparison.results)
    return csv_bytes(header, rows)


def to_jsonl(comparison: Comparison) -> bytes:
    """One JSON object per method (scores rounded to 4 decimals)."""
    lines = []
    for r in comparison.results:
        lines.append(json.dumps({
            "source": r.summary.document.source, "lang": r.summary.document.lang,
            "budget": r.summary.budget.describe(), "method": r.method, "words": r.words,
            "summary": r.summary.text,
            "rouge": None if r.rouge is None else {k: round(v, 4) for k, v in r.rouge.items()},
            "agreement": round(r.agreement, 4), "rouge_type": comparison.matrix.rouge_type,
            "vs": {n: round(v, 4) for n, v in _vs(comparison, r).items()},
            "notes": list(r.summary.notes)}, ensure_ascii=False))
    return ("\n".join(lines) + "\n" if lines else "").encode("utf-8")


# -- Markdown ------------------------------------------------------------------------
def _md(text: str) -> str:
    return html.escape(text, quote=False)


def _md_table(rows: Sequence[Sequence[str]]) -> List[str]:
    def line(cells):
        return "| " + " | ".join(_md(c).replace("|", "\\|") for c in cells) + " |"

    align = ["---"] + ["---:"] * (len(rows[0]) - 1)
    return [line(rows[0]), "| " + " | ".join(align) + " |", *(line(r) for r in rows[1:])]


def to_markdown(comparison: Comparison, *, title: str = "Comparison") -> bytes:
    out = [f"# {_md(title)}", "", _md(_about(comparison)), ""]
    if comparison.reference:
        # Two trailing spaces make each sentence its own line in rendered Markdown.
        out += ["## Reference", "", *(_md(x) + "  " for x in comparison.reference.splitlines()), ""]
    for r in comparison.results:
        out += [f"## {_md(r.method)} ({r.words} words)", ""]
        out += [_md(line) + "  " for line in r.summary.text.splitlines()] + [""]
        out += [f"*{_md(note)}*" for note in r.summary.notes] + ([""] if r.summary.notes else [])
    out += ["## Scores", "", *_md_table(_score_table(comparison)), "", SCORES_NOTE, ""]
    out += [f"## {comparison.matrix.rouge_type} F1 x 100 between summaries", "",
            *_md_table(_matrix_table(comparison)), ""]
    return "\n".join(out).encode("utf-8")


# -- DOCX ----------------------------------------------------------------------------
def _docx_table(document, rows: Sequence[Sequence[str]]) -> None:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            table.cell(i, j).text = _xml_safe(value)


def to_docx(comparison: Comparison, *, title: str = "Comparison") -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(_xml_safe(title), level=0)
    document.add_paragraph(_xml_safe(_about(comparison)))
    if comparison.reference:
        document.add_heading("Reference", level=1)
        for line in comparison.reference.splitlines():
            document.add_paragraph(_xml_safe(line))
    for r in comparison.results:
        document.add_heading(_xml_safe(f"{r.method} ({r.words} words)"), level=1)
        for line in r.summary.text.splitlines():
            document.add_paragraph(_xml_safe(line))
        for note in r.summary.notes:
            document.add_paragraph(_xml_safe(note)).runs[0].italic = True
    document.add_heading("Scores", level=1)
    _docx_table(document, _score_table(comparison))
    document.add_paragraph(SCORES_NOTE)
    document.add_heading(f"{comparison.matrix.rouge_type} F1 x 100 between summaries", level=1)
    _docx_table(document, _matrix_table(comparison))
    return docx_bytes(document)


WRITERS = {fmt: (writer, MIME[fmt]) for fmt, writer in (
    ("md", to_markdown), ("docx", to_docx), ("csv", to_csv), ("jsonl", to_jsonl))}
