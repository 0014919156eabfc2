"""Several summaries of one document side by side: shared words and a ROUGE matrix.

``shared_spans`` finds, in each summary, the words that another summary also uses
(case-folded, stop words and punctuation ignored), as character spans to highlight.
``rouge_matrix`` scores every pair of summaries with ROUGE F1 (symmetric: swapping
reference and candidate swaps precision and recall, not F1), and ``against_reference``
scores each summary against a reference.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Mapping, Sequence, Tuple

from .rouge import ROUGE_TYPES, make_scorer, score_pair

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


def rouge_matrix(summaries: Mapping[str, str], *, rouge_type: str = "rouge1") -> RougeMatrix:
    """Pairwise ROUGE F1 x 100 between every two summaries."""
    if rouge_type not in ROUGE_TYPES:
        raise ValueError(f"rouge_type must be one of {', '.join(ROUGE_TYPES)}, got {rouge_type!r}")
    names = tuple(summaries)
    scorer = make_scorer(rouge_types=(rouge_type,))
    values = [[100.0 if i == j else 0.0 for j in range(len(names))] for i in range(len(names))]
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            scores = score_pair(summaries[names[j]], summaries[names[i]], scorer=scorer)
            values[i][j] = values[j][i] = scores[rouge_type].fmeasure
    return RougeMatrix(names, rouge_type, tuple(tuple(r) for r in values))


def against_reference(summaries: Mapping[str, str], reference: str,
                      rouge_types: Sequence[str] = ROUGE_TYPES) -> Dict[str, Dict[str, float]]:
    """ROUGE F1 x 100 of each summary against ``reference`` (one sentence per line)."""
    scorer = make_scorer(rouge_types=tuple(rouge_types))
    return {name: {k: s.fmeasure for k, s in score_pair(reference, text, scorer=scorer).items()}
            for name, text in summaries.items()}


def mean_agreement(matrix: RougeMatrix) -> Dict[str, float]:
    """Each summary's mean ROUGE F1 against the others (how central it is)."""
    n = len(matrix.names)
    if n < 2:
        return {name: 0.0 for name in matrix.names}
    return {name: (sum(row) - row[i]) / (n - 1)
            for i, (name, row) in enumerate(zip(matrix.names, matrix.values))}
