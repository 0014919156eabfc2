"""Lead-N: the first sentences of the document, the standard news baseline."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from summarizer.base import RankingSummarizer
from summarizer.nlp import Tokenizer
from summarizer.types import Sentence


class Lead(RankingSummarizer):
    """Scores fall linearly with position (1 for the first sentence, 1/n for the last),
    so any budget keeps a prefix of the document."""

    name = "lead"

    def score(self, sentences: Sequence[Sentence], tokenizer: Tokenizer) -> np.ndarray:
        n = len(sentences)
        return (n - np.arange(n, dtype=float)) / n
