"""Summaries as downloadable files: CSV, JSONL, Markdown and DOCX, each a pure function
``rows -> bytes``.

The app's Batch and Compare pages hand these a list of :class:`ResultRow`. The module
needs only the standard library and python-docx (imported when a DOCX is written); it lives
with the summarizer, not in ``export/`` (ONNX export, torch), because it is what a user
downloads, not a model.

Choices, so that the files are safe to open:
- CSV: the one results format of ``summarizer.results.csvfile`` (also the batch command's):
  UTF-8 with a byte-order mark, and a cell that starts like a formula is prefixed with
  ``'`` so a spreadsheet shows it as text instead of running it (OWASP's advice).
- Markdown: ``<``, ``>`` and ``&`` are written as entities so that a summary holding
  HTML shows as text in a Markdown viewer instead of being rendered.
- DOCX: characters that XML 1.0 forbids (control codes) are dropped.
"""
from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

from summarizer.results.csvfile import csv_bytes

ROUGE_COLUMNS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class ResultRow:
    """One document's outcome: a summary, or the error that stopped it."""

    id: str
    method: str
    summary: Optional[str] = None
    error: Optional[str] = None
    rouge: Mapping[str, float] = field(default_factory=dict)  # F1 x 100 per ROUGE type

    @classmethod
    def from_record(cls, record: Mapping[str, object],
                    rouge: Optional[Mapping[str, float]] = None) -> "ResultRow":
        """From a batch record ``{"id", "summary", "method", "error"}``."""
        return cls(id=str(record["id"]), method=str(record.get("method") or ""),
                   summary=record.get("summary"), error=record.get("error"),  # type: ignore[arg-type]
                   rouge=dict(rouge or {}))

    @property
    def ok(self) -> bool:
        return self.error is None


def _rouge_columns(rows: Sequence[ResultRow]) -> List[str]:
    present = {k for r in rows for k in r.rouge}
    return [k for k in ROUGE_COLUMNS if k in present]


# -- CSV and JSONL -------------------------------------------------------------------
def to_csv(rows: Sequence[ResultRow]) -> bytes:
    """Columns id, method, summary, error, then any ROUGE columns (F1 x 100, 2 decimals)."""
    extra = _rouge_columns(rows)
    return csv_bytes(["id", "method", "summary", "error", *extra],
                     ([r.id, r.method, r.summary, r.error,
                       *(f"{r.rouge[k]:.2f}" if k in r.rouge else None for k in extra)]
                      for r in rows))


def to_jsonl(rows: Sequence[ResultRow]) -> bytes:
    """One JSON object per line, values exactly as given (``rouge`` only when scored)."""
    lines = []
    for r in rows:
        rec: Dict[str, object] = {"id": r.id, "method": r.method, "summary": r.summary,
                                  "error": r.error}
        if r.rouge:
            rec["rouge"] = {k: round(v, 4) for k, v in r.rouge.items()}
        lines.append(json.dumps(rec, ensure_ascii=False))
    return ("\n".join(lines) + "\n" if lines else "").encode("utf-8")


# -- Markdown ------------------------------------------------------------------------
def _md(text: str) -> str:
    return html.escape(text, quote=False)


def to_markdown(rows: Sequence[ResultRow], *, title: str = "Summaries") -> bytes:
    """A heading per document with its summary (one sentence per line) or its error."""
    out = [f"# {_md(title)}", ""]
    ok = sum(r.ok for r in rows)
    out += [f"{len(rows)} documents: {ok} summarized, {len(rows) - ok} failed.", ""]
    for r in rows:
        out += [f"## {_md(r.id)}", "", f"*method: {_md(r.method)}*", ""]
        if r.error is not None:
            out += [f"**Error:** {_md(r.error)}", ""]
        else:
            # Two trailing spaces make each sentence its own line in rendered Markdown.
            out += [_md(line) + "  " for line in (r.summary or "").splitlines()] + [""]
        if r.rouge:
            out += [", ".join(f"{k} {v:.2f}" for k, v in r.rouge.items()), ""]
    return "\n".join(out).encode("utf-8")


# -- DOCX ----------------------------------------------------------------------------
def _xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def to_docx(rows: Sequence[ResultRow], *, title: str = "Summaries") -> bytes:
    """A Word document: a title, then per document a heading, its summary paragraphs (or
    its error), and its ROUGE when scored."""
    import docx

    document = docx.Document()
    document.add_heading(_xml_safe(title), level=0)
    ok = sum(r.ok for r in rows)
    document.add_paragraph(f"{len(rows)} documents: {ok} summarized, {len(rows) - ok} failed.")
    for r in rows:
        document.add_heading(_xml_safe(r.id), level=1)
        document.add_paragraph(f"method: {_xml_safe(r.method)}").runs[0].italic = True
        if r.error is not None:
            para = document.add_paragraph()
            para.add_run("Error: ").bold = True
            para.add_run(_xml_safe(r.error))
        else:
            for line in (r.summary or "").splitlines():
                document.add_paragraph(_xml_safe(line))
        if r.rouge:
            document.add_paragraph(", ".join(f"{k} {v:.2f}" for k, v in r.rouge.items()))
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


WRITERS = {
    "csv": (to_csv, "text/csv"),
    "jsonl": (to_jsonl, "application/jsonl"),
    "md": (to_markdown, "text/markdown"),
    "docx": (to_docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
}
