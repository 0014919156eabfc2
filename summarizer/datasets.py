"""Article/summary pairs: reading, glued-sentence repair, deduplication, the shared split.

The split every part of the project uses (DEVELOPERS.md): drop later copies of a
duplicated article, then by position ``i % 10 == 0`` is test, ``i % 10 == 1`` is
validation and the rest is train. Never tune on test.
"""
from __future__ import annotations

import csv
import gzip
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple

from .errors import DocumentError
from .nlp import resolve_language, tokenizer_for

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
    tok = tokenizer_for(resolve_language(lang, text))
    return "\n".join(s.text for s in tok.sentences(text))


def _lines(f, path: Path) -> Iterator[Tuple[int, str]]:
    """Numbered lines; a damaged or cut gzip file raises a DocumentError naming it."""
    n = 0
    try:
        for n, line in enumerate(f, 1):
            yield n, line
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise DocumentError(str(path), f"cannot be read past line {n} ({e})",
                            "Download or copy the file again") from None


def iter_jsonl(path: Path) -> Iterator[Tuple[int, object]]:
    """(line number, parsed value) of every non-blank line; invalid JSON raises a
    DocumentError naming the line. A ``.gz`` file is read through gzip."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in _lines(f, path):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as e:
                    raise DocumentError(
                        str(path), f"line {n} is not valid JSON ({e.msg})",
                        "Fix or remove that line",
                    ) from None


def _records(path: Path) -> Iterable[dict]:
    if path.suffix == ".jsonl" or path.name.endswith(".jsonl.gz"):
        yield from (rec for _, rec in iter_jsonl(path))
    elif path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            yield from csv.DictReader(f)
    else:
        raise DocumentError(
            str(path), "pairs files must be .jsonl, .jsonl.gz or .csv",
            'Write one {"id", "article", "summary"} record per line',
        )


def load_pairs(path: str | Path) -> List[Pair]:
    """Pairs in file order; each record needs ``article`` and ``summary`` (``id`` optional)."""
    path = Path(path)
    if not path.is_file():
        raise DocumentError(str(path), "no such pairs file", "Check the path given to --data")
    pairs = []
    for n, rec in enumerate(_records(path)):
        if "article" not in rec or "summary" not in rec:
            raise DocumentError(
                str(path), f"record {n} lacks an 'article' or 'summary' field",
                'Each record needs {"id", "article", "summary"}',
            )
        pairs.append(
            Pair(
                id=str(rec.get("id") or n),
                article=rec["article"],
                summary=rec["summary"],
                category=rec.get("category"),
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
    return split(deduplicate(load_pairs(path)), name)
