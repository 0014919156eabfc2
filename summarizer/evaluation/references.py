"""Reference summaries for a batch, matched to its documents by id, and their ROUGE.

A pairs file (``.jsonl`` or ``.csv``, the format of ``datasets.load_pairs``) gives each
reference an ``id`` and a ``summary`` (``article`` is optional here). A batch document's
id is its path relative to the batch folder (``news/a.txt``); a reference matches it by
the exact id, else by the path without its extension (``news/a``), else by the bare file
stem (``a``) when only one document has that stem.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from summarizer.evaluation.datasets import _records, reference_lines
from summarizer.errors import DocumentError
from summarizer.languages import detect_language
from summarizer.evaluation.rouge import ROUGE_TYPES, make_scorer, score_pair


@dataclass(frozen=True)
class Reference:
    id: str
    summary: str  # one sentence per line, as ROUGE-Lsum wants


def load_references(path: str | Path) -> Dict[str, Reference]:
    """References by id from a pairs file; each record needs ``summary`` (and an ``id``,
    else its 0-based position is the id)."""
    path = Path(path)
    out: Dict[str, Reference] = {}
    for n, rec in enumerate(_records(path)):
        if not isinstance(rec, dict) or not isinstance(rec.get("summary"), str):
            raise DocumentError(str(path), f"record {n} has no 'summary' text",
                                'Each record needs {"id", "summary"} (and optionally "article")')
        rid = str(rec.get("id") if rec.get("id") not in (None, "") else n)
        article = rec.get("article") if isinstance(rec.get("article"), str) else ""
        out[rid] = Reference(rid, reference_lines(rec["summary"], article))
    return out


def match_references(ids: Sequence[str], references: Mapping[str, Reference]
                     ) -> Dict[str, Reference]:
    """Document id -> its reference, for the documents that have one."""
    stems = Counter(PurePosixPath(i).stem for i in ids)
    out: Dict[str, Reference] = {}
    for rid in ids:
        path = PurePosixPath(rid)
        keys = [rid, path.with_suffix("").as_posix()]
        if stems[path.stem] == 1:
            keys.append(path.stem)
        ref = next((references[k] for k in keys if k in references), None)
        if ref is not None:
            out[rid] = ref
    return out


def score_summaries(summaries: Sequence[Tuple[str, Optional[str]]],
                    references: Mapping[str, Reference], *,
                    langs: Optional[Mapping[str, Optional[str]]] = None) -> Dict[str, Dict[str, float]]:
    """ROUGE F1 x 100 per type for each (id, summary) that has a summary and a reference,
    tokenized for the language its document was read in (``langs``, by id: a batch
    record's ``lang``), else for the language of the two texts."""
    matched = match_references([i for i, _ in summaries], references)
    scorers: Dict[str, object] = {}  # one per language: German words keep their umlauts
    out: Dict[str, Dict[str, float]] = {}
    for rid, summary in summaries:
        if summary is None or rid not in matched:
            continue
        lang = (langs or {}).get(rid) or detect_language(matched[rid].summary + "\n" + summary)
        if lang not in scorers:
            scorers[lang] = make_scorer(lang=lang)
        scorer = scorers[lang]
        scores = score_pair(matched[rid].summary, summary, scorer=scorer)
        out[rid] = {k: scores[k].fmeasure for k in ROUGE_TYPES}
    return out


def mean_scores(per_doc: Mapping[str, Mapping[str, float]]) -> Dict[str, float]:
    """Mean F1 per ROUGE type over the scored documents (empty when none)."""
    rows: List[Mapping[str, float]] = list(per_doc.values())
    if not rows:
        return {}
    return {k: sum(r[k] for r in rows) / len(rows) for k in ROUGE_TYPES}
