"""One summary as a file to download: Markdown, DOCX, JSONL or CSV, each a pure function
``SummaryFile -> bytes``.

The Summarize page hands one summary with what a reader needs beside it: where it came
from, the method, the length asked for, the notes, and for abstractive output the
faithfulness check. ``files.py`` writes many documents' summaries (Batch, Compare); this
module writes one, with its notes, which those rows do not carry. The same safety rules
apply and are reused from there: Markdown escapes ``<``, ``>`` and ``&``; DOCX drops
characters XML forbids; CSV is the one results format (formula-like cells neutralized).

The JSONL and CSV record is flat, one row: ``source, title, language, method, length,
words, summary, notes``, and for abstractive output ``faithful, unsupported_numbers,
unsupported_names`` (the flags of ``summarizer.evaluation.faithfulness``), so a
spreadsheet can filter on them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from summarizer.evaluation.faithfulness import FaithfulnessReport
from summarizer.languages import language_name
from summarizer.nlp import tokenizer_for
from summarizer.results.csvfile import csv_bytes
from summarizer.results.files import MIME, docx_bytes, _md, _xml_safe
from summarizer.types import Budget, Summary

FAITHFULNESS_COLUMNS = ("faithful", "unsupported_numbers", "unsupported_names")
LIST_SEPARATOR = "; "  # between flagged items in one CSV cell


def describe_length(budget: Budget) -> str:
    """A length budget in words: "automatic (about a tenth of the document)", "3 sentences",
    "20% of the document", "up to 100 words"."""
    if budget.auto:
        return "automatic (about a tenth of the document)"
    if budget.sentences is not None:
        return f"{budget.sentences} sentence{'s' if budget.sentences != 1 else ''}"
    if budget.ratio is not None:
        return f"{budget.ratio:.0%} of the document"
    return f"up to {budget.words} words"


@dataclass(frozen=True)
class SummaryFile:
    """A summary and what goes with it into a file. ``length`` is the budget the user asked
    for (an extractive summary's own budget is the resolved one, e.g. 6 sentences for
    "automatic"); ``faithfulness`` is given for abstractive output."""

    summary: Summary
    length: Budget
    faithfulness: Optional[FaithfulnessReport] = None

    @property
    def source(self) -> str:
        return self.summary.document.source or "document"

    def words(self) -> int:
        return len(tokenizer_for(self.summary.document.lang).words(self.summary.text))

    def record(self) -> Dict[str, Union[str, int, bool, List[str]]]:
        """The flat record of JSONL and CSV (lists stay lists here)."""
        document = self.summary.document
        rec: Dict[str, Union[str, int, bool, List[str]]] = {
            "source": self.source, "title": document.title or "",
            "language": language_name(document.lang), "method": self.summary.method,
            "length": describe_length(self.length), "words": self.words(),
            "summary": self.summary.text, "notes": list(self.summary.notes)}
        if self.faithfulness is not None:
            rec.update(faithful=self.faithfulness.ok,
                       unsupported_numbers=list(self.faithfulness.numbers),
                       unsupported_names=list(self.faithfulness.names))
        return rec

    def facts(self) -> List[str]:
        """The lines under the title: source, method, length, language."""
        return [f"Source: {self.source}", f"Method: {self.summary.method}",
                f"Length: {describe_length(self.length)}; this summary has {self.words()} words",
                f"Language: {language_name(self.summary.document.lang)}"]

    def verdict(self) -> Optional[str]:
        """The faithfulness check in a sentence, or None for extractive output."""
        report = self.faithfulness
        if report is None:
            return None
        if report.ok:
            return "Every number and name in the summary also appears in the document."
        found = [f"numbers {', '.join(report.numbers)}"] if report.numbers else []
        found += [f"names {', '.join(report.names)}"] if report.names else []
        return ("Possibly unfaithful: the summary has " + " and ".join(found)
                + ", which the document does not.")


def to_jsonl(item: SummaryFile) -> bytes:
    return (json.dumps(item.record(), ensure_ascii=False) + "\n").encode("utf-8")


def _cell(key: str, value: Union[str, int, bool, List[str]]) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ("\n" if key == "notes" else LIST_SEPARATOR).join(value)
    return str(value)


def to_csv(item: SummaryFile) -> bytes:
    """A header and one row; notes one per line in their cell, flagged items joined by
    ``LIST_SEPARATOR``, ``faithful`` as yes or no."""
    rec = item.record()
    return csv_bytes(list(rec), [[_cell(k, v) for k, v in rec.items()]])


def to_markdown(item: SummaryFile) -> bytes:
    out = [f"# Summary of {_md(item.source)}", ""]
    out += [f"- {_md(fact)}" for fact in item.facts()] + ["", "## Summary", ""]
    # Two trailing spaces make each sentence its own line in rendered Markdown.
    out += [_md(line) + "  " for line in item.summary.text.splitlines()] + [""]
    if item.summary.notes:
        out += ["## Notes", ""] + [f"- {_md(note)}" for note in item.summary.notes] + [""]
    if item.verdict() is not None:
        out += ["## Faithfulness check", "", _md(item.verdict()), ""]
    return "\n".join(out).encode("utf-8")


def to_docx(item: SummaryFile) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(_xml_safe(f"Summary of {item.source}"), level=0)
    for fact in item.facts():
        document.add_paragraph(_xml_safe(fact)).runs[0].italic = True
    document.add_heading("Summary", level=1)
    for line in item.summary.text.splitlines():
        document.add_paragraph(_xml_safe(line))
    if item.summary.notes:
        document.add_heading("Notes", level=1)
        for note in item.summary.notes:
            document.add_paragraph(_xml_safe(note), style="List Bullet")
    if item.verdict() is not None:
        document.add_heading("Faithfulness check", level=1)
        document.add_paragraph(_xml_safe(item.verdict()))
    return docx_bytes(document)


WRITERS = {fmt: (writer, MIME[fmt]) for fmt, writer in (
    ("md", to_markdown), ("docx", to_docx), ("jsonl", to_jsonl), ("csv", to_csv))}
