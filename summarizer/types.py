"""Small named result types shared by every summarizer, exporter and the app.

A summarizer takes a :class:`Document` and a :class:`Budget` and returns a
:class:`Summary`: the chosen sentences in document order, each with its score and
its character span in ``Document.text`` so that callers can highlight them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from summarizer.errors import BudgetError


@dataclass(frozen=True)
class Sentence:
    """One sentence of a document: ``text == document.text[start:end]``."""

    index: int  # position among the document's sentences (0-based)
    start: int  # character offset in Document.text
    end: int
    text: str


@dataclass(frozen=True)
class ScoredSentence:
    sentence: Sentence
    score: float

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def start(self) -> int:
        return self.sentence.start

    @property
    def end(self) -> int:
        return self.sentence.end


@dataclass(frozen=True)
class Document:
    """Clean text plus where it came from. ``lang`` is an ISO 639-1 code, one of
    ``languages.SUPPORTED_LANGUAGES`` ('en', 'zh', 'de', ...)."""

    text: str
    lang: str
    source: Optional[str] = None  # file path or record id, for error messages and exports
    title: Optional[str] = None


@dataclass(frozen=True)
class Budget:
    """How long a summary may be: exactly one of ``sentences``, ``ratio`` or ``words``,
    or ``auto``.

    ``ratio`` is a fraction of the document's sentences (rounded, at least one);
    ``words`` is a ceiling on the summary's word count that the first chosen sentence
    may exceed, so that a summary is never empty. ``auto`` (what you get when you give
    no length) lets the document decide: see :func:`auto_words`.
    """

    sentences: Optional[int] = None
    ratio: Optional[float] = None
    words: Optional[int] = None
    auto: bool = False

    def __post_init__(self) -> None:
        given = [v for v in (self.sentences, self.ratio, self.words) if v is not None]
        if len(given) != (0 if self.auto else 1):
            raise BudgetError(
                "give exactly one length budget: sentences=N, ratio=R or words=W (or auto alone)"
            )
        if self.sentences is not None and self.sentences < 1:
            raise BudgetError(f"sentences must be at least 1, got {self.sentences}")
        if self.ratio is not None and not 0.0 < self.ratio <= 1.0:
            raise BudgetError(f"ratio must be in (0, 1], got {self.ratio}")
        if self.words is not None and self.words < 1:
            raise BudgetError(f"words must be at least 1, got {self.words}")

    def describe(self) -> str:
        if self.auto:
            return "auto"
        if self.sentences is not None:
            return f"sentences={self.sentences}"
        if self.ratio is not None:
            return f"ratio={self.ratio:g}"
        return f"words={self.words}"


DEFAULT_BUDGET = Budget(auto=True)


@dataclass(frozen=True)
class ExtractedText:
    """Text of a file as a loader extracts it (paragraphs separated by blank lines) and its
    title if obvious."""

    text: str
    title: Optional[str] = None

# The automatic length: about a tenth of the document's words, at least 25 and at most
# 250. Measured on the suite's references (mean words): chats 20 and spoken dialogues 23
# of 94 and 131 (-> 25), TL;DRs 19 of 159 (-> 25), CNN/DailyMail highlights 55 of 704
# (-> 70, where Lead-3 writes about 80 and 3 TextRank sentences 190), SumPubMed
# abstracts 277 of 4,232 (-> 250). A fixed count of sentences cannot serve all of these:
# one chat turn is 8 words, one sentence of a paper 30.
AUTO_FRACTION, AUTO_MIN_WORDS, AUTO_MAX_WORDS = 0.1, 25, 250


def auto_words(document_words: int) -> int:
    """The word target of an automatic budget for a document of this many words."""
    return int(min(AUTO_MAX_WORDS, max(AUTO_MIN_WORDS, round(AUTO_FRACTION * document_words))))


def auto_bound(document_words: int) -> Optional[str]:
    """Which bound ``auto_words`` hit for this document: "shortest" (the tenth was under
    AUTO_MIN_WORDS), "longest" (over AUTO_MAX_WORDS), or None (a tenth it is)."""
    target, tenth = auto_words(document_words), AUTO_FRACTION * document_words
    if target == AUTO_MIN_WORDS and target > tenth:
        return "shortest"
    if target == AUTO_MAX_WORDS and target < tenth:
        return "longest"
    return None


@dataclass(frozen=True)
class Summary:
    """A summary of one document.

    Extractive: ``sentences`` are the chosen ones, in document order, and ``text`` joins
    them with newlines (one sentence per line, as ROUGE-Lsum expects). Abstractive:
    ``generated`` holds the new text, one sentence per line, and ``sentences`` is empty
    (nothing in the source to point at). ``notes`` record anything the caller should
    know: a budget larger than the document, a long input summarized in chunks, a
    device that was not available.
    """

    method: str
    document: Document
    sentences: Tuple[ScoredSentence, ...]
    budget: Budget
    notes: Tuple[str, ...] = field(default_factory=tuple)
    generated: Optional[str] = None

    @property
    def is_abstractive(self) -> bool:
        return self.generated is not None

    @property
    def text(self) -> str:
        if self.generated is not None:
            return self.generated
        return "\n".join(s.text for s in self.sentences)

    @property
    def spans(self) -> Tuple[Tuple[int, int], ...]:
        return tuple((s.start, s.end) for s in self.sentences)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "source": self.document.source,
            "lang": self.document.lang,
            "budget": self.budget.describe(),
            "summary": self.text,
            "sentences": [
                {
                    "index": s.sentence.index,
                    "start": s.start,
                    "end": s.end,
                    "score": s.score,
                    "text": s.text,
                }
                for s in self.sentences
            ],
            "notes": list(self.notes),
        }
