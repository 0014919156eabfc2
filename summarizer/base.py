"""The one interface every summarizer shares, and the steps they all reuse.

A summarizer is called as ``summarizer(document, budget)`` and returns a
:class:`~summarizer.types.Summary`. Extractive methods differ in how they score
sentences (and some in the order they take them), so they subclass
:class:`RankingSummarizer` and implement ``score``; choosing sentences under the budget
and restoring document order (sumy's ``_get_best_sentences``) lives here once.
"""
from __future__ import annotations

from typing import List, Optional, Protocol, Sequence, Tuple

import numpy as np

from summarizer.errors import EmptyDocumentError
from summarizer.nlp import Tokenizer, tokenizer_for
from summarizer.types import (Budget, Document, ScoredSentence, Sentence, Summary, auto_bound,
                              auto_words)


class Summarizer(Protocol):
    name: str

    def __call__(self, document: Document, budget: Budget) -> Summary: ...


def select(
    scores: Sequence[float], word_counts: Sequence[int], budget: Budget,
    ranked: Optional[Sequence[int]] = None,
) -> Tuple[List[int], List[str]]:
    """Indices of the sentences to keep (document order) and notes about the choice.

    Sentences are taken best score first (or in the order ``ranked`` gives); ties go to
    the earlier sentence so results are deterministic. With a word budget a sentence that
    does not fit is skipped and shorter ones further down the ranking may still fill the
    space.
    """
    n = len(scores)
    notes: List[str] = []
    if ranked is None:
        # stable sort on -score keeps document order among equal scores
        ranked = np.argsort(-np.asarray(scores, dtype=float), kind="stable").tolist()
    ranked = list(ranked)
    if budget.sentences is not None:
        k = budget.sentences
        if k > n:
            notes.append(f"Asked for {k} sentences; the document has only {n}, so all are kept.")
        chosen = ranked[:k]
    elif budget.ratio is not None:
        chosen = ranked[: max(1, int(round(budget.ratio * n)))]
    else:
        assert budget.words is not None
        chosen, used = [], 0
        for i in ranked:
            if not chosen or used + word_counts[i] <= budget.words:
                chosen.append(i)
                used += word_counts[i]
        if used > budget.words:
            notes.append(
                f"The best sentence alone has {used} words, more than the {budget.words} asked "
                "for; it is kept so that the summary is not empty."
            )
    return sorted(chosen), notes


def resolve_auto(word_counts: Sequence[int], ranked: Sequence[int]) -> Tuple[Budget, str]:
    """An automatic budget made concrete: the best sentences, in ranking order, while
    each one brings the total nearer ``auto_words`` of the document's length (at least
    one), and a note that says what was chosen. Counting whole best sentences, rather
    than filling the words with shorter low-ranked ones, keeps the choice the method's
    own; stopping only when the next one would overshoot by more than it leaves short
    keeps a 44-word target from ending at 22 words because the next sentence has 24."""
    total = int(sum(word_counts))
    target = auto_words(total)
    k, used = 0, 0
    for i in ranked:
        if k and abs(used + word_counts[i] - target) >= target - used:
            break
        k, used = k + 1, used + word_counts[i]
    bound = auto_bound(total)
    if bound:
        why = f"the {bound} automatic length (the document has {total:,} words)"
    else:
        why = f"about a tenth of the document's {total:,} words"
    note = (f"Length: {k} sentence{'s' if k != 1 else ''} ({used} words), chosen to come near "
            f"{target} words, {why}.")
    return Budget(sentences=k), note


class RankingSummarizer:
    """Base of the extractive methods: split, score every sentence, select by budget."""

    name = "abstract"

    def __init__(self, *, tokenizer: Optional[Tokenizer] = None) -> None:
        # A fixed tokenizer is for tests; normally the document's language picks one.
        self._tokenizer = tokenizer

    def tokenizer(self, document: Document) -> Tokenizer:
        return self._tokenizer or tokenizer_for(document.lang)

    def score(self, sentences: Sequence[Sentence], tokenizer: Tokenizer) -> np.ndarray:
        """One score per sentence, higher is better. Shape (n,)."""
        raise NotImplementedError

    def score_for(self, document: Document, sentences: Sequence[Sentence], tokenizer: Tokenizer,
                  budget: Budget) -> np.ndarray:
        """The scores of a document's sentences under a budget; a method whose scores
        depend on the document as a whole or on how much will be kept (the learned
        ranker) overrides this. Most do not."""
        return self.score(sentences, tokenizer)

    def rank(self, scores: np.ndarray, sentences: Sequence[Sentence], tokenizer: Tokenizer,
             budget: Budget) -> List[int]:
        """Sentence indices in the order they are taken: best score first, the earlier
        sentence on a tie. Methods with redundancy control override this."""
        return np.argsort(-scores, kind="stable").tolist()

    def __call__(self, document: Document, budget: Budget) -> Summary:
        tokenizer = self.tokenizer(document)
        sentences = tokenizer.sentences(document.text)
        if not sentences:
            raise EmptyDocumentError(
                document.source, "the document has no sentences", "Give it some text to summarize"
            )
        scores = np.asarray(self.score_for(document, sentences, tokenizer, budget), dtype=float)
        assert scores.shape == (len(sentences),), scores.shape
        # sumy's LexRank divides by a zero norm when no two sentences share a term; a NaN
        # score would sort arbitrarily and is not valid JSON, so such scores become 0.
        scores = np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
        counts = (
            [max(1, len(tokenizer.words(s.text))) for s in sentences]
            if budget.words is not None or budget.auto
            else [1] * len(sentences)
        )
        ranked = self.rank(scores, sentences, tokenizer, budget)
        auto_note = None
        if budget.auto:
            budget, auto_note = resolve_auto(counts, ranked)
        chosen, notes = select(scores, counts, budget, ranked)
        if auto_note:
            notes.insert(0, auto_note)
        picked = tuple(ScoredSentence(sentences[i], float(scores[i])) for i in chosen)
        return Summary(self.name, document, picked, budget, tuple(notes))
