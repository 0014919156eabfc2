"""A learned extractive ranker: sentence features in, a score per sentence out.

The design follows BertSumExt (Liu and Lapata, "Text Summarization with Pretrained
Encoders", EMNLP 2019, section 3.2): a classifier scores every sentence, trained on
labels from a greedy ROUGE oracle, and at inference the best sentences are taken with
trigram blocking (a sentence that shares a trigram with one already chosen is skipped).

Departures, on purpose:
- BertSumExt runs BERT over the whole document; we have two cores and a 0.3 s budget per
  article, so a sentence is described by cheap features instead (``FEATURES``): its
  position, its length, its TextRank centrality, its similarity to the document and to
  the opening, what kind of text it is in (dialogue, Chinese) and what share of the
  document the budget keeps. A small MLP
  (``training/extractive.py``) maps them to a score. The suite table in docs/QUALITY.md
  says what this keeps and loses against Lead and TextRank on each corpus.
- A blocked sentence is not dropped but moved behind the others, so a budget larger than
  what blocking allows still fills up.

The model is an ONNX graph (feature normalization and the MLP) in
``assets/extractive-ranker/``, run on onnxruntime; this module never imports torch.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import scipy.sparse as sp

from ..base import RankingSummarizer
from ..errors import CondenseError
from ..nlp import Tokenizer, is_dialogue
from ..types import Budget, Sentence, auto_words
from .textrank import pagerank, similarity_matrix, term_matrix

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "assets" / "extractive-ranker"

# The order is the model's input order; config.json in the model folder repeats it and
# loading checks the two agree.
FEATURES = (
    "position",  # i / (n - 1): 0 first, 1 last
    "inverse_position",  # 1 / (i + 1)
    "is_first", "is_second", "is_third", "is_fourth", "is_fifth",
    "log_sentences",  # log n
    "log_words",  # log(1 + words in the sentence)
    "relative_length",  # words / mean words per sentence
    "centrality",  # TextRank score x n (1 on average)
    "centroid_cosine",  # cosine of the sentence's terms with the whole document's
    "opening_cosine",  # cosine with the first sentence
    "shared_terms",  # fraction of its terms that occur in another sentence
    "has_quote", "has_question", "has_digit",
    "dialogue", "chinese",
    "selected_fraction",  # the share of the words the budget keeps (see budget_fraction)
)

_QUOTES = re.compile("[\"“”‘’「」『』]|(?:^|\\s)'|'(?:\\s|$)")


def _cosines(b: sp.csr_matrix, ref: np.ndarray) -> np.ndarray:
    """Cosine of every row of ``b`` (n, V) with the vector ``ref`` (V,)."""
    dots = b @ ref
    norms = np.sqrt(np.asarray(b.multiply(b).sum(axis=1)).ravel()) * math.sqrt(float(ref @ ref))
    return np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)


def budget_fraction(budget: Budget, n: int, words: float) -> float:
    """About what share of the document the budget keeps: k / n for k sentences, the
    ratio itself, or the word budget over the document's words (the automatic one too).
    The oracle picks differently when it keeps 3 of 35 sentences (news highlights: the
    opening) than when it keeps 40% (BBC: the central ones), and the ranker is told."""
    if budget.sentences is not None:
        return min(1.0, budget.sentences / n)
    if budget.ratio is not None:
        return budget.ratio
    target = budget.words if budget.words is not None else auto_words(int(words))
    return min(1.0, target / max(1.0, words))


def sentence_features(
    sentences: Sequence[Sentence], tokenizer: Tokenizer, budget: Budget, *,
    dialogue: Optional[bool] = None,
) -> np.ndarray:
    """Features of every sentence in ``FEATURES`` order, float32 of shape (n, F)."""
    n = len(sentences)
    terms = [tokenizer.terms(s.text) for s in sentences]
    words = np.array([len(tokenizer.words(s.text)) for s in sentences], dtype=np.float64)
    b, _ = term_matrix(terms)
    centroid = np.asarray(b.sum(axis=0)).ravel()
    opening = b[0].toarray().ravel()
    df = np.asarray((b > 0).sum(axis=0)).ravel()
    shared = np.asarray((b > 0) @ (df > 1).astype(np.float64)).ravel()
    n_terms = np.asarray((b > 0).sum(axis=1)).ravel()
    if dialogue is None:
        dialogue = is_dialogue("\n".join(s.text for s in sentences))
    i = np.arange(n, dtype=np.float64)
    f = np.zeros((n, len(FEATURES)), dtype=np.float64)
    f[:, 0] = i / max(1, n - 1)
    f[:, 1] = 1.0 / (i + 1.0)
    for k in range(5):
        f[:, 2 + k] = i == k
    f[:, 7] = math.log(n)
    f[:, 8] = np.log1p(words)
    f[:, 9] = words / max(1e-9, words.mean())
    f[:, 10] = pagerank(similarity_matrix(terms)) * n
    f[:, 11] = _cosines(b, centroid)
    f[:, 12] = _cosines(b, opening)
    f[:, 13] = np.where(n_terms > 0, shared / np.maximum(n_terms, 1), 0.0)
    f[:, 14] = [bool(_QUOTES.search(s.text)) for s in sentences]
    f[:, 15] = ["?" in s.text or "？" in s.text for s in sentences]
    f[:, 16] = [any(c.isdigit() for c in s.text) for s in sentences]
    f[:, 17] = float(dialogue)
    f[:, 18] = float(tokenizer.lang == "zh")
    f[:, 19] = budget_fraction(budget, n, float(words.sum()))
    return f.astype(np.float32)


def trigram_order(scores: np.ndarray, grams: Sequence[frozenset]) -> List[int]:
    """Sentence indices best first, where a sentence sharing a trigram with a better one
    already taken goes behind every unblocked one (BertSumExt's trigram blocking)."""
    ranked = np.argsort(-scores, kind="stable").tolist()
    taken: set = set()
    kept, blocked = [], []
    for i in ranked:
        if grams[i] & taken:
            blocked.append(i)
        else:
            kept.append(i)
            taken |= grams[i]
    return kept + blocked


def trigrams(words: Sequence[str]) -> frozenset:
    return frozenset(zip(words, words[1:], words[2:]))


@dataclass(frozen=True)
class RankerConfig:
    model_dir: str = str(DEFAULT_MODEL)
    trigram_blocking: bool = True
    threads: int = 1  # one document is a few hundred multiply-adds; more threads only wait


@lru_cache(maxsize=4)
def load_ranker(model_dir: str, threads: int = 1):
    """The ranker's onnxruntime session, checked against FEATURES."""
    folder = Path(model_dir)
    config_path, onnx_path = folder / "config.json", folder / "model.onnx"
    if not onnx_path.is_file() or not config_path.is_file():
        raise CondenseError(f"{folder}: no ranker model (model.onnx and config.json); restore "
                            "assets/extractive-ranker from the repository or train one with "
                            "python -m training extractive")
    features = tuple(json.loads(config_path.read_text(encoding="utf-8"))["features"])
    if features != FEATURES:
        raise CondenseError(f"{config_path}: the model was trained on other features "
                            f"({len(features)} vs {len(FEATURES)}); retrain it with python -m "
                            "training extractive")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


class LearnedRanker(RankingSummarizer):
    name = "ranker"

    def __init__(self, config: RankerConfig = RankerConfig(), *, session=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self._session = session  # tests pass one in; else loaded (once) from config.model_dir

    @property
    def session(self):
        if self._session is None:
            self._session = load_ranker(self.config.model_dir, self.config.threads)
        return self._session

    def score(self, sentences: Sequence[Sentence], tokenizer: Tokenizer) -> np.ndarray:
        return self.score_for(sentences, tokenizer, Budget(auto=True))

    def score_for(self, sentences: Sequence[Sentence], tokenizer: Tokenizer, budget: Budget) -> np.ndarray:
        x = sentence_features(sentences, tokenizer, budget)
        (out,) = self.session.run(None, {"features": x})
        return out.reshape(-1).astype(np.float64)

    def rank(self, scores: np.ndarray, sentences: Sequence[Sentence], tokenizer: Tokenizer) -> List[int]:
        if not self.config.trigram_blocking:
            return super().rank(scores, sentences, tokenizer)
        return trigram_order(scores, [trigrams(tokenizer.words(s.text)) for s in sentences])
