"""Several summaries of one document side by side: shared words and a ROUGE matrix.

``shared_spans`` finds, in each summary, the words that another summary also uses
(case-folded, stop words and punctuation ignored), as character spans to highlight.
``rouge_matrix`` scores every pair of summaries with ROUGE F1 (symmetric: swapping
reference and candidate swaps precision and recall, not F1), and ``against_reference``
scores each summary against a reference. ``compare_summaries`` puts it together for
the command line (``python -m summarizer compare``, ``condense compare``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from summarizer.evaluation.rouge import ROUGE_TYPES, make_scorer, score_pair
from summarizer.types import Summary

# A CJK ideograph alone, or a run of letters/digits of any script (as in rouge.py).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")
Span = Tuple[int, int]


@dataclass(frozen=True)
class RougeMatrix:
    """``values[i][j]``: ROUGE F1 x 100 of ``names[i]`` against ``names[j]`` (diagonal 100)."""

    names: Tuple[str, ...]
    rouge_type: str
    values: Tuple[Tuple[float, ...], ...]

    def rows(self) -> List[Dict[str, float]]:
        return [dict(zip(self.names, row)) for row in self.values]


def _tokens(text: str, stop: FrozenSet[str]) -> List[Tuple[str, Span]]:
    return [(m.group(0).casefold(), m.span()) for m in _TOKEN.finditer(text)
            if m.group(0).casefold() not in stop]


def shared_spans(summaries: Mapping[str, str], *, stop: FrozenSet[str] = frozenset()
                 ) -> Dict[str, List[Span]]:
    """For each summary, the spans of its words that occur in at least one other summary."""
    tokens = {name: _tokens(text, stop) for name, text in summaries.items()}
    vocab = {name: {t for t, _ in toks} for name, toks in tokens.items()}
    out: Dict[str, List[Span]] = {}
    for name, toks in tokens.items():
        others = set().union(*(v for n, v in vocab.items() if n != name))
        out[name] = [span for t, span in toks if t in others]
    return out


def rouge_matrix(summaries: Mapping[str, str], *, rouge_type: str = "rouge1",
                 lang: Optional[str] = None) -> RougeMatrix:
    """Pairwise ROUGE F1 x 100 between every two summaries (tokenized for ``lang``)."""
    if rouge_type not in ROUGE_TYPES:
        raise ValueError(f"rouge_type must be one of {', '.join(ROUGE_TYPES)}, got {rouge_type!r}")
    names = tuple(summaries)
    scorer = make_scorer(rouge_types=(rouge_type,), lang=lang)
    values = [[100.0 if i == j else 0.0 for j in range(len(names))] for i in range(len(names))]
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            scores = score_pair(summaries[names[j]], summaries[names[i]], scorer=scorer)
            values[i][j] = values[j][i] = scores[rouge_type].fmeasure
    return RougeMatrix(names, rouge_type, tuple(tuple(r) for r in values))


def against_reference(summaries: Mapping[str, str], reference: str,
                      rouge_types: Sequence[str] = ROUGE_TYPES, *,
                      lang: Optional[str] = None) -> Dict[str, Dict[str, float]]:
    """ROUGE F1 x 100 of each summary against ``reference`` (one sentence per line),
    tokenized for ``lang`` (German words keep their umlauts, Russian ones their letters)."""
    scorer = make_scorer(rouge_types=tuple(rouge_types), lang=lang)
    return {name: {k: s.fmeasure for k, s in score_pair(reference, text, scorer=scorer).items()}
            for name, text in summaries.items()}


def mean_agreement(matrix: RougeMatrix) -> Dict[str, float]:
    """Each summary's mean ROUGE F1 against the others (how central it is)."""
    n = len(matrix.names)
    if n < 2:
        return {name: 0.0 for name in matrix.names}
    return {name: (sum(row) - row[i]) / (n - 1)
            for i, (name, row) in enumerate(zip(matrix.names, matrix.values))}


@dataclass(frozen=True)
class MethodResult:
    """One method's summary in a comparison; ``rouge``: F1 x 100 per ROUGE type against
    the reference (None without one); ``agreement``: mean ROUGE-1 F1 x 100 against the
    other summaries."""

    summary: Summary
    rouge: Optional[Dict[str, float]]
    agreement: float

    @property
    def words(self) -> int:
        return len(self.summary.text.split())  # as the app's Compare page counts them


@dataclass(frozen=True)
class Comparison:
    """Several summaries of one document, what the Compare page shows in numbers."""

    results: Tuple[MethodResult, ...]
    matrix: RougeMatrix

    def to_dict(self) -> dict:
        first = self.results[0].summary if self.results else None
        return {
            "source": first.document.source if first else None,
            "lang": first.document.lang if first else None,
            "budget": first.budget.describe() if first else None,
            "methods": [{"method": r.summary.method, "summary": r.summary.text,
                         "words": r.words, "rouge": r.rouge, "agreement": r.agreement,
                         "notes": list(r.summary.notes)} for r in self.results],
            "matrix": {"rouge_type": self.matrix.rouge_type, "names": list(self.matrix.names),
                       "values": [list(row) for row in self.matrix.values]},
        }

    def text(self) -> str:
        """Each summary under its method's name, then one table: words, ROUGE F1 x 100
        against the reference (when given) and the mean agreement with the others."""
        blocks = [f"== {r.summary.method} ({r.words} words) ==\n{r.summary.text}"
                  for r in self.results]
        rouge_types = list(next((r.rouge for r in self.results if r.rouge), {}))
        head = ["method", "words", *rouge_types, f"agreement ({self.matrix.rouge_type})"]
        rows = [[r.summary.method, str(r.words), *(f"{r.rouge[k]:.2f}" for k in rouge_types),
                 f"{r.agreement:.2f}"] for r in self.results]
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(row, widths)))
                 for row in [head, *rows]]
        what = ("ROUGE F1 x 100 against the reference; agreement: mean F1 x 100 against the "
                "other summaries" if rouge_types else
                "agreement: mean ROUGE F1 x 100 against the other summaries")
        return "\n\n".join(blocks) + "\n\n" + "\n".join(lines) + f"\n({what})"


def compare_summaries(summaries: Mapping[str, Summary], *, reference: Optional[str] = None,
                      rouge_type: str = "rouge1") -> Comparison:
    """Score ``summaries`` (method -> summary of one document) against each other and, when
    given, against ``reference`` (one sentence per line: see ``datasets.reference_lines``)."""
    texts = {name: s.text for name, s in summaries.items()}
    lang = next((s.document.lang for s in summaries.values()), None)
    matrix = rouge_matrix(texts, rouge_type=rouge_type, lang=lang)
    agreement = mean_agreement(matrix)
    by_reference = against_reference(texts, reference, lang=lang) if reference else {}
    return Comparison(
        tuple(MethodResult(s, by_reference.get(name), agreement[name])
              for name, s in summaries.items()), matrix)
