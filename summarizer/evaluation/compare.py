"""Several summaries of one document side by side: what each says that the others do not,
where its sentences come from, and a ROUGE matrix.

- ``word_count`` counts words as a words budget does (``Tokenizer.words``), so "100 words"
  means the same hundred in the budget, on the page and in the files.
- ``unique_spans`` finds, in each summary, the content words no other summary uses (stop
  words aside, compared by stem: "councils" matches "council"), as character spans to
  highlight. Marking the words another summary *also* uses marked nearly every word of
  two summaries of one article, which told the reader nothing.
- ``summary_lines`` cuts each summary into its lines (one sentence each) with those spans
  and, for an extractive summary, the document sentence each line is and which other
  methods chose it too; ``sentence_overlap`` counts the source sentences two methods share.
- ``rouge_matrix`` scores every pair of summaries with ROUGE F1 (symmetric: swapping
  reference and candidate swaps precision and recall, not F1), ``against_reference``
  each summary against a reference, and ``compare_summaries`` puts it together for the
  command line (``condense compare``) and the app's Compare page, whose history keeps
  ``Comparison.to_dict`` and reopens it with ``Comparison.from_dict``.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from summarizer.evaluation.rouge import ROUGE_TYPES, make_scorer, score_pair
from summarizer.nlp import tokenizer_for
from summarizer.types import Budget, Document, ScoredSentence, Sentence, Summary

# A word as Tokenizer.words finds it outside Chinese: a run of letters or digits.
_WORD = re.compile(r"[^\W_]+")
Span = Tuple[int, int]


def word_count(text: str, lang: str = "en") -> int:
    """Words of ``text`` as a words budget counts them (letters and digits; Chinese words
    by jieba): "4%" is one word, "U.S." two."""
    return len(tokenizer_for(lang).words(text))


def _word_spans(text: str, lang: str) -> List[Tuple[str, Span]]:
    """``(lower-cased word, span)`` of each word ``Tokenizer.words`` finds in ``text``."""
    if lang != "zh":
        return [(m.group(0).lower(), m.span()) for m in _WORD.finditer(text)]
    # jieba's words, found in order (lower-casing leaves Chinese text its length)
    out, cursor, low = [], 0, text.lower()
    for word in tokenizer_for(lang).words(text):
        at = low.find(word, cursor)
        if at >= 0:
            cursor = at + len(word)
            out.append((word, (at, cursor)))
    return out


def _term_spans(text: str, lang: str) -> List[Tuple[str, Span]]:
    """``(term, span)`` of each content word: stop words dropped, the rest stemmed, as
    ``Tokenizer.terms`` has them."""
    tokenizer = tokenizer_for(lang)
    out = []
    for word, span in _word_spans(text, lang):
        terms = tokenizer.content_terms([word])
        if terms:
            out.append((terms[0], span))
    return out


def unique_spans(summaries: Mapping[str, str], *, lang: str = "en") -> Dict[str, List[Span]]:
    """For each summary, the spans of its content words that no other summary uses.
    One summary alone has nothing to be compared with: nothing is marked."""
    terms = {name: _term_spans(text, lang) for name, text in summaries.items()}
    if len(terms) < 2:
        return {name: [] for name in terms}
    used_by = Counter(t for found in terms.values() for t in {t for t, _ in found})
    return {name: [span for t, span in found if used_by[t] == 1]
            for name, found in terms.items()}


@dataclass(frozen=True)
class SummaryLine:
    """One line of a summary (one sentence) as the Compare page shows it."""

    text: str
    unique: Tuple[Span, ...]  # spans in ``text`` of words no other summary uses
    source: Optional[int] = None  # the document sentence it is (0-based); extractive only
    also_in: Tuple[str, ...] = ()  # the other methods that chose that sentence too


def _lines_of(summary: Summary) -> List[Tuple[int, str, Optional[int]]]:
    """``(offset in summary.text, line, source sentence index)`` of each line."""
    if summary.sentences:  # text is the sentences joined by newlines
        out, offset = [], 0
        for s in summary.sentences:
            out.append((offset, s.text, s.sentence.index))
            offset += len(s.text) + 1
        return out
    out, offset = [], 0
    for line in summary.text.split("\n"):
        if line.strip():
            out.append((offset, line, None))
        offset += len(line) + 1
    return out


def summary_lines(summaries: Mapping[str, Summary]) -> Dict[str, List[SummaryLine]]:
    """Each summary as its lines, with the words only it uses and, for extractive ones,
    the source sentence of each line and the other methods that picked it."""
    lang = next((s.document.lang for s in summaries.values()), "en")
    spans = unique_spans({n: s.text for n, s in summaries.items()}, lang=lang)
    chosen = {n: {x.sentence.index for x in s.sentences} for n, s in summaries.items()}
    out: Dict[str, List[SummaryLine]] = {}
    for name, summary in summaries.items():
        lines = []
        for offset, text, source in _lines_of(summary):
            inside = tuple((a - offset, b - offset) for a, b in spans[name]
                           if offset <= a and b <= offset + len(text))
            others = () if source is None else tuple(
                n for n in summaries if n != name and source in chosen[n])
            lines.append(SummaryLine(text, inside, source, others))
        out[name] = lines
    return out


def sentence_overlap(summaries: Mapping[str, Summary]) -> Dict[str, Dict[str, int]]:
    """For the extractive summaries: how many source sentences each two of them both
    chose (the diagonal: how many each chose)."""
    chosen = {n: {x.sentence.index for x in s.sentences}
              for n, s in summaries.items() if not s.is_abstractive}
    return {a: {b: len(chosen[a] & chosen[b]) for b in chosen} for a in chosen}


def sentence_count(document: Document) -> int:
    """How many sentences the extractive methods saw in ``document``."""
    return len(tokenizer_for(document.lang).sentences(document.text))


@dataclass(frozen=True)
class RougeMatrix:
    """``values[i][j]``: ROUGE F1 x 100 of ``names[i]`` against ``names[j]`` (diagonal 100)."""

    names: Tuple[str, ...]
    rouge_type: str
    values: Tuple[Tuple[float, ...], ...]

    def rows(self) -> List[Dict[str, float]]:
        return [dict(zip(self.names, row)) for row in self.values]


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
    the reference (None without one); ``agreement``: mean ROUGE F1 x 100 (the matrix's
    type) against the other summaries."""

    summary: Summary
    rouge: Optional[Dict[str, float]]
    agreement: float

    @property
    def method(self) -> str:
        return self.summary.method

    @property
    def words(self) -> int:
        return word_count(self.summary.text, self.summary.document.lang)

    @property
    def over_budget(self) -> bool:
        """More words than a words budget allows (an abstractive model writes to about
        its length; an extractive method keeps a first sentence longer than the budget)."""
        limit = self.summary.budget.words
        return limit is not None and self.words > limit


def budget_from_text(text: str) -> Budget:
    """The inverse of ``Budget.describe``: "auto", "sentences=3", "ratio=0.2", "words=100"."""
    if text == "auto":
        return Budget(auto=True)
    kind, _, value = text.partition("=")
    if kind in ("sentences", "words"):
        return Budget(**{kind: int(value)})
    if kind == "ratio":
        return Budget(ratio=float(value))
    raise ValueError(f"not a budget: {text!r}")


@dataclass(frozen=True)
class Comparison:
    """Several summaries of one document, what the Compare page shows in numbers.
    ``reference``: the reference one sentence per line, when there was one;
    ``sentences_in_document``: how many sentences the extractive methods chose from."""

    results: Tuple[MethodResult, ...]
    matrix: RougeMatrix
    reference: Optional[str] = None
    sentences_in_document: int = 0

    @property
    def summaries(self) -> Dict[str, Summary]:
        return {r.method: r.summary for r in self.results}

    def uneven(self, tolerance: float = 0.8) -> Optional[Tuple[int, int]]:
        """``(fewest, most)`` words when the shortest summary has less than ``tolerance``
        of the longest's words (then ROUGE favours the longer ones); None when they are
        about equal. An abstractive model may stop well short of a words budget."""
        words = [r.words for r in self.results]
        if not words or min(words) >= tolerance * max(words):
            return None
        return min(words), max(words)

    def to_dict(self) -> dict:
        first = self.results[0].summary if self.results else None
        return {
            "source": first.document.source if first else None,
            "lang": first.document.lang if first else None,
            "budget": first.budget.describe() if first else None,
            "reference": self.reference,
            "sentences_in_document": self.sentences_in_document,
            "methods": [{"method": r.method, "summary": r.summary.text, "words": r.words,
                         "budget": r.summary.budget.describe(),
                         "abstractive": r.summary.is_abstractive,
                         "sentences": [[s.sentence.index, s.start, s.end, s.score]
                                       for s in r.summary.sentences],
                         "rouge": r.rouge, "agreement": r.agreement,
                         "notes": list(r.summary.notes)} for r in self.results],
            "matrix": {"rouge_type": self.matrix.rouge_type, "names": list(self.matrix.names),
                       "values": [list(row) for row in self.matrix.values]},
        }

    @classmethod
    def from_dict(cls, record: Mapping, document: Document) -> "Comparison":
        """A comparison as ``to_dict`` wrote it, its summaries rebuilt on ``document`` (the
        one they were made from: sentences are offsets into its text)."""
        results = []
        for m in record["methods"]:
            sentences = tuple(ScoredSentence(Sentence(i, a, b, document.text[a:b]), score)
                              for i, a, b, score in m["sentences"])
            summary = Summary(m["method"], document, sentences, budget_from_text(m["budget"]),
                              tuple(m["notes"]), m["summary"] if m["abstractive"] else None)
            results.append(MethodResult(summary, m["rouge"], m["agreement"]))
        matrix = record["matrix"]
        return cls(tuple(results), RougeMatrix(tuple(matrix["names"]), matrix["rouge_type"],
                                               tuple(tuple(row) for row in matrix["values"])),
                   record.get("reference"), record.get("sentences_in_document", 0))

    def text(self) -> str:
        """Each summary under its method's name, then one table: words, ROUGE F1 x 100
        against the reference (when given) and the mean agreement with the others."""
        blocks = [f"== {r.method} ({r.words} words) ==\n{r.summary.text}" for r in self.results]
        rouge_types = list(next((r.rouge for r in self.results if r.rouge), {}))
        head = ["method", "words", *rouge_types, f"agreement ({self.matrix.rouge_type})"]
        rows = [[r.method, str(r.words), *(f"{r.rouge[k]:.2f}" for k in rouge_types),
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
    # The mapping's names are the methods' names throughout (the matrix, the files).
    summaries = {name: s if s.method == name else replace(s, method=name)
                 for name, s in summaries.items()}
    texts = {name: s.text for name, s in summaries.items()}
    first = next(iter(summaries.values()), None)
    lang = first.document.lang if first else None
    matrix = rouge_matrix(texts, rouge_type=rouge_type, lang=lang)
    agreement = mean_agreement(matrix)
    by_reference = against_reference(texts, reference, lang=lang) if reference else {}
    extractive = any(not s.is_abstractive for s in summaries.values())
    return Comparison(
        tuple(MethodResult(s, by_reference.get(name), agreement[name])
              for name, s in summaries.items()), matrix, reference or None,
        sentence_count(first.document) if extractive else 0)
