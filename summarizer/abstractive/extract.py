"""Extract-then-abstract: the input for a document longer than an abstractive model reads.

Instead of summarizing every part and then the parts' summaries (map-reduce), the
extractive ranker picks the document's most summary-worthy sentences until the model's
input is full, and the model summarizes those once, in document order. This is the
two-stage design of Liu et al. 2018 ("Generating Wikipedia by Summarizing Long
Sequences": an extractive stage picks what fits the abstractive model's input) and of
Pilault et al. 2020 for papers. It costs one model pass instead of several; what it
loses is whatever the ranker leaves out. docs/QUALITY.md compares the two on the
suite's long documents.

Departure: the ranker is told it keeps the share of the document that fits (its
``budget_fraction`` feature), as it would be for an extractive summary of that length.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

from summarizer.nlp import tokenizer_for
from summarizer.types import Budget, Document


@dataclass(frozen=True)
class Extracted:
    text: str  # the kept sentences in document order, joined
    kept: int  # sentences kept
    sentences: int  # sentences in the document
    tokens: int  # of ``text``, by the model's tokenizer

    def note(self, total_tokens: int, limit: int) -> str:
        return (f"Long article: summarized from its {self.kept:,} most informative sentences "
                f"of {self.sentences:,}, in their order (chosen by the extractive ranker). It has "
                f"{total_tokens:,} tokens and the model reads at most {limit:,} at a time.")


def extract_to_fit(document: Document, limit: int, count_many: Callable[[List[str]], List[int]],
                   ranker=None) -> Optional[Extracted]:
    """The ranker's best sentences of ``document`` that fit ``limit`` tokens together, or
    None when not even one sentence fits (the caller then falls back to map-reduce).
    ``ranker``: a ``RankingSummarizer`` (default: the learned ranker, the extractive
    default); ``count_many``: the model's token counts of a list of texts."""
    if limit < 1:
        return None
    if ranker is None:
        from summarizer.methods.ranker import LearnedRanker

        ranker = LearnedRanker()
    tok = tokenizer_for(document.lang)
    sentences = tok.sentences(document.text)
    texts = [s.text for s in sentences]
    counts = count_many(texts)
    total = max(1, sum(counts))
    budget = Budget(ratio=min(1.0, limit / total))
    order = ranker.rank(ranker.score_for(document, sentences, tok, budget), sentences, tok, budget)
    joiner = "" if document.lang == "zh" else " "
    picked: List[int] = []
    used = 0
    for i in order:
        if used + counts[i] <= limit:
            picked.append(i)
            used += counts[i]
    picked.sort()
    place = {i: r for r, i in enumerate(order)}  # the ranker's place of each sentence
    while picked:  # joined text can tokenize a little longer than its sentences
        text = joiner.join(texts[i] for i in picked)
        (tokens,) = count_many([text])
        if tokens <= limit:
            return Extracted(text, len(picked), len(texts), tokens)
        picked.remove(max(picked, key=place.__getitem__))  # the one it placed last goes
    return None
