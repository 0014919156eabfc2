"""Summaries as downloadable files: CSV, JSONL, Markdown and DOCX, each a pure function
``rows -> bytes``.

The app's Batch and Compare pages hand these a list of :class:`ResultRow`. An abstractive
summary's row carries the faithfulness flags (numbers and names that are not in its
document, ``summarizer.evaluation.faithfulness``); CSV and JSONL give them as columns
``faithful``, ``unsupported_numbers``, ``unsupported_names`` when any row was checked,
Markdown and DOCX list them under the summary. The module
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
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from summarizer.results.csvfile import csv_bytes

ROUGE_COLUMNS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
# A record's faithfulness flags: a bool, then two lists of what the summary has and its
# document does not. Absent (None) where nothing was checked: extractive summaries (every
# sentence is the document's), failures, and records written before the flags existed.
FLAG_COLUMNS = ("faithful", "unsupported_numbers", "unsupported_names")
LIST_SEPARATOR = "; "  # in a CSV cell; numbers and names never hold one
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# -- faithfulness flags in records and cells ---------------------------------------
def flags_of(report) -> Dict[str, object]:
    """A ``FaithfulnessReport`` as record fields."""
    return {"faithful": report.ok, "unsupported_numbers": list(report.numbers),
            "unsupported_names": list(report.names)}


def cell_text(value: object) -> Optional[str]:
    """A record value as CSV text: a list joined by ``LIST_SEPARATOR``, a bool as
    ``true``/``false``; strings and None as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(value)
    return value  # type: ignore[return-value]


def _as_list(value: object) -> List[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):  # from a CSV cell
        return value.split(LIST_SEPARATOR)
    return [str(v) for v in value]  # type: ignore[union-attr]


def flags_from_cells(record: Mapping[str, object]) -> Dict[str, object]:
    """The flags of a record however it was read back: typed (JSONL, Parquet), as CSV
    text, or absent (older files: None, not checked)."""
    faithful = record.get("faithful")
    if isinstance(faithful, str):
        faithful = {"true": True, "false": False}.get(faithful.strip().lower())
    if not isinstance(faithful, bool):
        return {k: None for k in FLAG_COLUMNS}
    return {"faithful": faithful,
            "unsupported_numbers": _as_list(record.get("unsupported_numbers")),
            "unsupported_names": _as_list(record.get("unsupported_names"))}


@dataclass(frozen=True)
class ResultRow:
    """One document's outcome: a summary, or the error that stopped it."""

    id: str
    method: str
    summary: Optional[str] = None
    error: Optional[str] = None
    rouge: Mapping[str, float] = field(default_factory=dict)  # F1 x 100 per ROUGE type
    faithful: Optional[bool] = None  # None: not checked (see FLAG_COLUMNS)
    unsupported_numbers: Tuple[str, ...] = ()
    unsupported_names: Tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: Mapping[str, object],
                    rouge: Optional[Mapping[str, float]] = None) -> "ResultRow":
        """From a batch record ``{"id", "summary", "method", "error"}`` and its flags, if
        any (typed, or as a CSV gives them back)."""
        flags = flags_from_cells(record)
        return cls(id=str(record["id"]), method=str(record.get("method") or ""),
                   summary=record.get("summary"), error=record.get("error"),  # type: ignore[arg-type]
                   rouge=dict(rouge or {}), faithful=flags["faithful"],  # type: ignore[arg-type]
                   unsupported_numbers=tuple(flags["unsupported_numbers"] or ()),  # type: ignore[arg-type]
                   unsupported_names=tuple(flags["unsupported_names"] or ()))  # type: ignore[arg-type]

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def checked(self) -> bool:
        return self.faithful is not None

    def flags(self) -> Dict[str, object]:
        """The flags as record fields (None each when not checked)."""
        if not self.checked:
            return {k: None for k in FLAG_COLUMNS}
        return {"faithful": self.faithful, "unsupported_numbers": list(self.unsupported_numbers),
                "unsupported_names": list(self.unsupported_names)}

    def flags_line(self) -> Optional[str]:
        """The flags in words, for Markdown and DOCX; None when not checked."""
        if not self.checked:
            return None
        if self.faithful:
            return "Faithfulness: every number and name is in the document."
        found = [f"numbers {', '.join(self.unsupported_numbers)}" if self.unsupported_numbers else "",
                 f"names {', '.join(self.unsupported_names)}" if self.unsupported_names else ""]
        return "Possibly unfaithful, not in the document: " + "; ".join(f for f in found if f) + "."


def _rouge_columns(rows: Sequence[ResultRow]) -> List[str]:
    present = {k for r in rows for k in r.rouge}
    return [k for k in ROUGE_COLUMNS if k in present]


def _flag_columns(rows: Sequence[ResultRow]) -> Tuple[str, ...]:
    return FLAG_COLUMNS if any(r.checked for r in rows) else ()


def _counts(rows: Sequence[ResultRow]) -> str:
    ok = sum(r.ok for r in rows)
    flagged = sum(r.faithful is False for r in rows)
    line = f"{len(rows)} documents: {ok} summarized, {len(rows) - ok} failed"
    if any(r.checked for r in rows):
        line += f"; {flagged} possibly unfaithful (a number or name not in the document)"
    return line + "."


# -- CSV and JSONL -------------------------------------------------------------------
def to_csv(rows: Sequence[ResultRow]) -> bytes:
    """Columns id, method, summary, error, then the faithfulness flags when any row was
    checked (``true``/``false``, lists joined by ``; ``), then any ROUGE columns (F1 x 100,
    2 decimals)."""
    flags = _flag_columns(rows)
    extra = _rouge_columns(rows)
    return csv_bytes(["id", "method", "summary", "error", *flags, *extra],
                     ([r.id, r.method, r.summary, r.error,
                       *(cell_text(r.flags()[k]) for k in flags),
                       *(f"{r.rouge[k]:.2f}" if k in r.rouge else None for k in extra)]
                      for r in rows))


def to_jsonl(rows: Sequence[ResultRow]) -> bytes:
    """One JSON object per line, values exactly as given (the flags when any row was
    checked, null where a row was not; ``rouge`` only when scored)."""
    flags = _flag_columns(rows)
    lines = []
    for r in rows:
        rec: Dict[str, object] = {"id": r.id, "method": r.method, "summary": r.summary,
                                  "error": r.error}
        rec.update({k: r.flags()[k] for k in flags})
        if r.rouge:
            rec["rouge"] = {k: round(v, 4) for k, v in r.rouge.items()}
        lines.append(json.dumps(rec, ensure_ascii=False))
    return ("\n".join(lines) + "\n" if lines else "").encode("utf-8")


# -- Markdown ------------------------------------------------------------------------
def _md(text: str) -> str:
    return html.escape(text, quote=False)


def to_markdown(rows: Sequence[ResultRow], *, title: str = "Summaries") -> bytes:
    """A heading per document with its summary (one sentence per line) or its error."""
    out = [f"# {_md(title)}", "", _counts(rows), ""]
    for r in rows:
        out += [f"## {_md(r.id)}", "", f"*method: {_md(r.method)}*", ""]
        if r.error is not None:
            out += [f"**Error:** {_md(r.error)}", ""]
        else:
            # Two trailing spaces make each sentence its own line in rendered Markdown.
            out += [_md(line) + "  " for line in (r.summary or "").splitlines()] + [""]
        if r.flags_line() is not None:
            out += [f"*{_md(r.flags_line())}*", ""]
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
    document.add_paragraph(_counts(rows))
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
        if r.flags_line() is not None:
            document.add_paragraph(_xml_safe(r.flags_line())).runs[0].italic = True
        if r.rouge:
            document.add_paragraph(", ".join(f"{k} {v:.2f}" for k, v in r.rouge.items()))
    return docx_bytes(document)


# Each format's MIME type, for every writer table (this module's, the comparison's,
# one summary's, any table's).
MIME = {"csv": "text/csv", "jsonl": "application/jsonl", "md": "text/markdown",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def docx_bytes(document) -> bytes:
    """A python-docx Document as the bytes of its .docx file."""
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


WRITERS = {fmt: (writer, MIME[fmt]) for fmt, writer in (
    ("csv", to_csv), ("jsonl", to_jsonl), ("md", to_markdown), ("docx", to_docx))}
