"""Article/summary pairs: reading, glued-sentence repair, deduplication, the shared split.

The split every part of the project uses (docs/ARCHITECTURE.md, "Data and splits"): drop
later copies of a duplicated article, then by position ``i % 10 == 0`` is test,
``i % 10 == 1`` is validation and the rest is train. Never tune on test.
"""
from __future__ import annotations

import csv
import gzip
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple

from summarizer.errors import DocumentError
from summarizer.languages import reference_language
from summarizer.nlp import resolve_language, tokenizer_for
from summarizer.results.csvfile import allow_long_cells

SPLITS = ("train", "validation", "test", "all")

# A sentence end glued to the next sentence: "...$10.9bn.For the" or 'months."The'.
_GLUE = re.compile(r"[.!?][\"'”’]?(?=[\"“'‘]?[A-Z])")


@dataclass(frozen=True)
class Pair:
    id: str
    article: str
    summary: str  # as given
    category: Optional[str] = None

    @cached_property
    def reference(self) -> str:
        """The summary repaired, one sentence per line (as ROUGE-Lsum wants)."""
        return reference_lines(self.summary, self.article)


def repair_glued_sentences(summary: str, article: str) -> str:
    """Put a space back where the BBC summaries glue two sentences together.

    A candidate join is only split when the same characters around it do not occur in
    the article, because some articles glue sentences themselves (``read:"We``) and
    abbreviations such as ``U.S.A`` must stay whole.
    """
    out, last = [], 0
    for m in _GLUE.finditer(summary):
        cut = m.end()
        context = summary[max(0, cut - 12) : cut + 12]
        if context not in article:
            out.append(summary[last:cut])
            last = cut
    out.append(summary[last:])
    return " ".join(part.strip() for part in out if part.strip())


def reference_lines(summary: str, article: str, lang: Optional[str] = None) -> str:
    """The reference summary repaired and split one sentence per line."""
    text = repair_glued_sentences(summary, article)
    if lang is None or lang == "auto":
        lang = reference_language(text, article)
    tok = tokenizer_for(resolve_language(lang, text))
    return "\n".join(s.text for s in tok.sentences(text))


# Excel's "CSV UTF-8" and Windows Notepad start a file with a byte-order mark: decoded as
# plain UTF-8 it stays glued to the first field name ("\ufeffid") or makes line 1 invalid
# JSON, so the first line is decoded as utf-8-sig, which drops it.
_FIELDS = ("article", "summary")
_RECORD = '{"id", "article", "summary"}'


def _lines(path: Path) -> Iterator[Tuple[int, str]]:
    """Numbered lines of a UTF-8 file (a ``.gz`` file through gzip), each ending in its
    own newline. Lines are decoded one by one so that bytes that are not UTF-8 raise a
    DocumentError naming their line; so does a damaged or cut gzip file."""
    opener = gzip.open if path.suffix == ".gz" else open
    n = 0
    try:
        with opener(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    raise DocumentError(
                        str(path), f"line {n} is not UTF-8 text ({e.reason} at byte {e.start})",
                        "Save it as UTF-8" + (" (in Excel: Save As > CSV UTF-8)"
                                              if path.suffix == ".csv" else "")) from None
                yield n, line
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise DocumentError(str(path), f"cannot be read past line {n} ({e})",
                            "Download or copy the file again") from None


def iter_jsonl(path: Path) -> Iterator[Tuple[int, object]]:
    """(line number, parsed value) of every non-blank line; invalid JSON raises a
    DocumentError naming the line. A ``.gz`` file is read through gzip; a leading UTF-8
    byte-order mark is dropped."""
    for n, line in _lines(path):
        if line.strip():
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise DocumentError(
                    str(path), f"line {n} is not valid JSON ({e.msg})",
                    "Fix or remove that line",
                ) from None


def _csv_rows(path: Path, required: Tuple[str, ...]) -> Iterator[Tuple[int, dict]]:
    """(line where the row starts, {column: cell}) of every non-blank row after the header,
    whose column names must include ``required``.

    A row with fewer cells than the header lacks the missing columns' keys; extra cells
    are ignored. Line numbers count the file's lines, so they match the row numbers a
    spreadsheet shows unless a cell holds a line break."""
    allow_long_cells()
    reader = csv.reader(line for _, line in _lines(path))
    try:
        header = next(reader, None)
        if header is None:
            return
        columns = [c.strip() for c in header]
        missing = [c for c in required if c not in columns]
        if missing:
            raise DocumentError(
                str(path), f"has no {' or '.join(repr(c) for c in missing)} column "
                f"(its first line names {', '.join(map(repr, columns)) or 'nothing'})",
                "Name the columns id, article and summary in the first line"
                + ("; the file seems to separate cells with ';' or tabs, save it with commas"
                   if len(columns) == 1 and any(s in columns[0] for s in ";\t") else ""))
        while True:
            start = reader.line_num + 1
            cells = next(reader, None)
            if cells is None:
                return
            if any(c.strip() for c in cells):
                yield start, dict(zip(columns, cells))
    except csv.Error as e:
        raise DocumentError(str(path), f"line {reader.line_num} is not valid CSV ({e})",
                            "Fix that line, or save the file again from its spreadsheet") from None


def _numbered_records(path: Path, required: Tuple[str, ...] = ()) -> Iterator[Tuple[str, object]]:
    """("line N", record) of every record of a pairs file, in file order; a CSV file's
    header must name the ``required`` columns."""
    if path.suffix == ".jsonl" or path.name.endswith(".jsonl.gz"):
        for n, rec in iter_jsonl(path):
            yield f"line {n}", rec
    elif path.suffix == ".csv":
        for n, rec in _csv_rows(path, required):
            yield f"line {n}", rec
    else:
        raise DocumentError(
            str(path), "pairs files must be .jsonl, .jsonl.gz or .csv",
            f"Write one {_RECORD} record per line",
        )


def _records(path: Path) -> Iterable[object]:
    yield from (rec for _, rec in _numbered_records(path))


def _kind(value: object) -> str:
    """What a JSON value is, for a message: 'a number (42)', 'null', 'a list'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({_short(value)})"
    return {list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _short(text: str, width: int = 40) -> str:
    return repr(text if len(text) <= width else text[:width] + "…")


def _check_record(path: Path, where: str, rec: object, *, require_text: bool) -> dict:
    """The record as a dict whose article and summary are text, or a DocumentError naming
    the line and what to write there instead."""
    fix = ("Give that line an article and a summary, or remove it (bad pairs are not skipped: "
           "scores over fewer pairs than the file holds would mislead)")
    if not isinstance(rec, dict):
        raise DocumentError(str(path), f"{where} is {_kind(rec)}, not a JSON object",
                            f"Write one {_RECORD} object per line")
    for name in _FIELDS:
        value = rec.get(name)
        if name not in rec:
            raise DocumentError(str(path), f"{where} has no {name!r} " + (
                "cell (the row has fewer cells than the header)" if path.suffix == ".csv"
                else "field"), fix)
        if not isinstance(value, str):
            raise DocumentError(str(path), f"{where}: {name!r} is {_kind(value)}, not text", fix)
        if require_text and not value.strip():
            raise DocumentError(str(path), f"{where}: {name!r} is empty", fix)
    return rec


def load_pairs(path: str | Path, *, require_text: bool = False) -> List[Pair]:
    """Pairs in file order; each record needs ``article`` and ``summary`` text (``id``
    optional). A record that is not an object, or whose article or summary is missing or
    not a string (a number, null, NaN, a list) raises a DocumentError naming the file and
    line; so does an empty article or summary when ``require_text`` (evaluation: an empty
    reference would score 0 for every method). Training readers keep empty pairs and
    drop them themselves."""
    path = Path(path)
    if not path.is_file():
        raise DocumentError(str(path), "no such pairs file", "Check the path given to --data")
    pairs = []
    for n, (where, rec) in enumerate(_numbered_records(path, _FIELDS)):
        rec = _check_record(path, where, rec, require_text=require_text)
        rid = rec.get("id")
        pairs.append(
            Pair(
                id=str(n if rid is None or rid == "" else rid),
                article=rec["article"],
                summary=rec["summary"],
                category=rec.get("category") or None,
            )
        )
    return pairs


def deduplicate(pairs: Iterable[Pair]) -> List[Pair]:
    """Keep the first pair of each distinct article text."""
    seen, out = set(), []
    for p in pairs:
        if p.article not in seen:
            seen.add(p.article)
            out.append(p)
    return out


def split(pairs: List[Pair], name: str) -> List[Pair]:
    """The shared split of already deduplicated pairs."""
    if name == "all":
        return list(pairs)
    rule = {"test": lambda i: i % 10 == 0, "validation": lambda i: i % 10 == 1,
            "train": lambda i: i % 10 >= 2}
    if name not in rule:
        raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
    return [p for i, p in enumerate(pairs) if rule[name](i)]


def load_split(path: str | Path, name: str) -> List[Pair]:
    """The named split of a pairs file, for scoring: every pair needs a non-empty article
    and summary (``load_pairs(require_text=True)``), and an empty split raises a
    DocumentError instead of a table of nothing."""
    unique = deduplicate(load_pairs(path, require_text=True))
    pairs = split(unique, name)
    if not pairs:
        where = {"test": "positions 0, 10, 20, ...", "validation": "positions 1, 11, 21, ...",
                 "train": "positions 2-9, 12-19, ..."}.get(name, "")
        raise DocumentError(
            str(path), f"the {name!r} split holds no pairs ({len(unique)} distinct pairs in the "
            f"file{'; ' + name + ' takes ' + where if where else ''})",
            "Give the file more pairs" + ("" if name == "all" else
                                          ", or score every pair with `evaluate --split all`"))
    return pairs
