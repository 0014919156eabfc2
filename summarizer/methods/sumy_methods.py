"""sumy's summarizers (LexRank, LSA, Luhn, KL-Sum, SumBasic, and its TextRank for
comparison) behind our interface, with our offline tokenizer instead of NLTK's.

sumy's own ``Tokenizer`` needs the NLTK "punkt" download; we build sumy's document model
from our sentences instead, so sumy sees exactly the sentences whose offsets we report.
sumy returns only the chosen sentences, so we read every sentence's rating by replacing,
on the instance, the ``_get_best_sentences`` step all its summarizers end with.

References: LexRank, Erkan and Radev 2004; LSA, Steinberger and Jezek 2004; Luhn 1958;
KL-Sum, Haghighi and Vanderwende 2009; SumBasic, Nenkova and Vanderwende 2005.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Type

import numpy as np

from summarizer.base import RankingSummarizer
from summarizer.nlp import Tokenizer, stemmer, stopwords
from summarizer.types import Sentence


class OfflineSumyTokenizer:
    """The two methods sumy asks of a tokenizer, answered by ours (no NLTK data)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self.language = tokenizer.lang

    def to_sentences(self, paragraph: str) -> List[str]:
        return [s.text for s in self._tokenizer.sentences(paragraph)]

    def to_words(self, sentence: str) -> List[str]:
        return self._tokenizer.words(sentence)


def sumy_document(sentences: Sequence[Sentence], tokenizer: Tokenizer):
    """sumy's ObjectDocumentModel holding exactly ``sentences`` (one paragraph)."""
    from sumy.models.dom import ObjectDocumentModel, Paragraph
    from sumy.models.dom import Sentence as SumySentence

    adapter = OfflineSumyTokenizer(tokenizer)
    return ObjectDocumentModel([Paragraph([SumySentence(s.text, adapter) for s in sentences])])


def sumy_ratings(summarizer, document) -> List[float]:
    """Every sentence's rating under ``summarizer``, in document order."""
    captured: List[float] = []

    def capture(sentences, count, rating, *args, **kwargs):
        rate = (lambda s: rating[s]) if isinstance(rating, dict) else (
            lambda s: rating(s, *args, **kwargs)
        )
        captured.extend(float(rate(s)) for s in sentences)
        return ()

    # Instance attribute shadows sumy's staticmethod; only this object is affected.
    summarizer._get_best_sentences = capture
    summarizer(document, len(document.sentences))
    return captured


class SumyMethod(RankingSummarizer):
    """Wraps one sumy summarizer class; ``options`` set its tunables (class attributes)."""

    sumy_class_path = ""

    def __init__(self, *, options: Dict[str, float] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.options = dict(options or {})

    def _sumy_class(self) -> Type:
        module, _, cls = self.sumy_class_path.rpartition(".")
        return getattr(__import__(module, fromlist=[cls]), cls)

    def score(self, sentences: Sequence[Sentence], tokenizer: Tokenizer) -> np.ndarray:
        summarizer = self._sumy_class()(stemmer(tokenizer.lang))
        summarizer.stop_words = stopwords(tokenizer.lang)
        for key, value in self.options.items():
            setattr(summarizer, key, value)
        with np.errstate(invalid="ignore", divide="ignore"):  # NaNs are zeroed by the base
            ratings = sumy_ratings(summarizer, sumy_document(sentences, tokenizer))
        if not ratings:  # sumy returns early for documents without content words
            return np.zeros(len(sentences))
        assert len(ratings) == len(sentences), (len(ratings), len(sentences))
        return np.asarray(ratings)


class LexRank(SumyMethod):
    name = "lexrank"
    sumy_class_path = "sumy.summarizers.lex_rank.LexRankSummarizer"


class LSA(SumyMethod):
    name = "lsa"
    sumy_class_path = "sumy.summarizers.lsa.LsaSummarizer"


class Luhn(SumyMethod):
    name = "luhn"
    sumy_class_path = "sumy.summarizers.luhn.LuhnSummarizer"


class KLSum(SumyMethod):
    name = "kl"
    sumy_class_path = "sumy.summarizers.kl.KLSummarizer"


class SumBasic(SumyMethod):
    name = "sumbasic"
    sumy_class_path = "sumy.summarizers.sum_basic.SumBasicSummarizer"


class SumyTextRank(SumyMethod):
    """sumy's own TextRank, kept as the baseline our vectorized TextRank is measured against."""

    name = "sumy-textrank"
    sumy_class_path = "sumy.summarizers.text_rank.TextRankSummarizer"
