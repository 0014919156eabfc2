"""A learned extractive ranker: sentence features in, a score per sentence out.

The design follows BertSumExt (Liu and Lapata, "Text Summarization with Pretrained
Encoders", EMNLP 2019, section 3.2): a classifier scores every sentence, trained on
labels from a greedy ROUGE oracle, and at inference the best sentences are taken with
trigram blocking (a sentence that shares a trigram with one already chosen is skipped).

Departures, on purpose:
- BertSumExt runs BERT over the whole document; we have two cores and a 0.3 s budget per
  article, so a sentence is described by cheap features instead (``FEATURES``): its
  position, its length, its TextRank centrality, its similarity to the document and to
  the opening, what kind of text it is in (dialogue, Chinese), what share of the
  document the budget keeps, and how salient its words are by a lexicon of word weights
  learned with the model (a logistic regression on the oracle labels, standing in for
  the content BERT reads). Three small MLPs (``training/extractive.py``) map them to a
  score, averaged. The suite table in docs/QUALITY.md says what this keeps and loses
  against Lead and TextRank on each corpus (about 1 ROUGE-1 over Lead-3 on
  CNN/DailyMail, where BertSumExt reaches 3: the content the features cannot see).
  Sentence embeddings from all-MiniLM-L6-v2 (cosines with the document's mean, with the
  opening, with each other) were tried as five more features and left out: trained on
  the same documents, the suite's mean ROUGE-1 went from 39.13 to 39.12 at 61 times the
  time (``bench/ranker_minilm.py``, docs/QUALITY.md).
- A blocked sentence is not dropped but moved behind the others, so a budget larger than
  what blocking allows still fills up; and blocking applies only when the budget keeps
  less than a quarter of the document (``RankerConfig.block_below``): on the BBC
  validation split, at 40%, it cost 5 ROUGE-1 (80.3 without, 75.2 with), while on
  CNN/DailyMail at 3 sentences it adds 1.4 (40.5 against 39.0, first 500 documents).
  Above that share only repeats are held back (``RankerConfig.repeat_share``: more than
  half of a sentence's trigrams already taken), since news pages repeat their opening
  as a photo caption: CNN/DailyMail 40.77 -> 40.90, the other sets unchanged.

The model is an ONNX graph (feature normalization and the MLPs) and a JSON lexicon in
``assets/extractive-ranker/``, run on onnxruntime; this module never imports torch.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp

from summarizer.base import RankingSummarizer
from summarizer.errors import CondenseError
from summarizer.documents.cleaning import speaker_tag_end
from summarizer.nlp import Tokenizer, is_dialogue, stemmer
from summarizer.types import Budget, Document, Sentence, auto_words
from summarizer.methods.textrank import pagerank, similarity_of, term_matrix

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "assets" / "extractive-ranker"

# The order is the model's input order; config.json in the model folder repeats it and
# loading checks the two agree. BASE_FEATURES depend on the document and the budget; the
# last four on the salience lexicon learned with the model.
BASE_FEATURES = (
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
    "centrality_rank", "centroid_rank",  # 0 for the document's highest, 1 for its lowest
)
FEATURES = BASE_FEATURES + (
    "salience_mean", "salience_max",  # the lexicon's weights of the sentence's terms
    "salience_mean_rank", "salience_max_rank",  # 0 for the document's highest, 1 for its lowest
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


def _rank_fraction(values: np.ndarray) -> np.ndarray:
    """0 for the largest value, 1 for the smallest (ties by position), 0 when n = 1."""
    n = len(values)
    ranks = np.empty(n)
    ranks[np.argsort(-values, kind="stable")] = np.arange(n)
    return ranks / max(1, n - 1)


def salience_ranks(sal: np.ndarray) -> np.ndarray:
    """(n, 2) rank fractions within one document of ``salience``'s two columns: the
    network compares sentences of one document, and a word weight that is high for
    one article may be the lowest of another's."""
    return np.stack([_rank_fraction(sal[:, 0]), _rank_fraction(sal[:, 1])], axis=1)


def salience(terms: Sequence[Sequence[str]], lexicon: Mapping[str, float]) -> np.ndarray:
    """(n, 2): mean and max of the lexicon's weights over each sentence's distinct known
    terms, 0 where it has none."""
    out = np.zeros((len(terms), 2), dtype=np.float64)
    for i, ts in enumerate(terms):
        w = [lexicon[t] for t in set(ts) if t in lexicon]
        if w:
            out[i] = (sum(w) / len(w), max(w))
    return out


# What the salience lexicon is keyed by; config.json records it and loading checks it,
# so a lexicon of other tokens is refused rather than silently matching nothing.
LEXICON_TOKENS = "words-with-stopwords+first-word+dialogue-apart"
# A dialogue's tokens are looked up with this prefix: "i", "we" and "will" weigh differently
# in a chat turn (a plan people agree on) than in a news sentence (a quote).
DIALOGUE_PREFIX = "d:"
# The languages the lexicon was learned on. Others get no salience (0, as a sentence of
# unknown words would): their words only collide with English ones, and on a German
# article "die" and "hat" weighed as English pushed the lead sentence out of the summary.
LEXICON_LANGUAGES = ("en", "zh")


def lexicon_tokens(text: str, tokenizer: Tokenizer, *, dialogue: bool,
                   words: Optional[List[str]] = None) -> List[str]:
    """The tokens a sentence is looked up by: every word, stop words included (stemmed,
    but for Chinese), and its first word marked ``^word``. The lexicon was learned on
    English and Chinese, so other languages get no salience (``LEXICON_LANGUAGES``) and
    the other features carry their ranking. Stop words are kept because they tell
    a quote ("i", "we", "you") or a continuation ("but", "however", "he") from a sentence
    that stands on its own; a speaker's tag is left out, as names say nothing across
    documents. A dialogue's tokens carry ``DIALOGUE_PREFIX``, so that they have their own
    weights (on validation the lexicon fitted so lowered the loss from 2.022 to 1.988,
    with CNN/DailyMail unchanged). ``words``: the whole sentence's words, when the caller
    has them (a dialogue's are taken again, after its tag)."""
    if dialogue:
        words = tokenizer.words(text[speaker_tag_end(text):])
    elif words is None:
        words = tokenizer.words(text)
    stem_word = stemmer(tokenizer.lang)  # the identity for Chinese
    tokens = [stem_word(w) for w in words] + ([f"^{words[0]}"] if words else [])
    return [DIALOGUE_PREFIX + t for t in tokens] if dialogue else tokens


def sentence_features(
    sentences: Sequence[Sentence], tokenizer: Tokenizer, budget: Budget, *,
    lexicon: Mapping[str, float], dialogue: Optional[bool] = None,
) -> np.ndarray:
    """Features of every sentence in ``FEATURES`` order, float32 of shape (n, F)."""
    base, tokens = base_features(sentences, tokenizer, budget, dialogue=dialogue)
    if tokenizer.lang not in LEXICON_LANGUAGES:
        lexicon = {}
    sal = salience(tokens, lexicon).astype(np.float32)  # ranked in float32, as in training
    return np.concatenate([base, sal, salience_ranks(sal).astype(np.float32)], axis=1)


def base_features(
    sentences: Sequence[Sentence], tokenizer: Tokenizer, budget: Budget, *,
    dialogue: Optional[bool] = None,
) -> Tuple[np.ndarray, List[List[str]]]:
    """``BASE_FEATURES`` of every sentence, float32 (n, F0), and its lexicon tokens."""
    n = len(sentences)
    # each sentence tokenized once: words, then terms, lexicon tokens and counts from them
    word_lists = [tokenizer.words(s.text) for s in sentences]
    terms = [tokenizer.content_terms(w) for w in word_lists]
    words = np.array([len(w) for w in word_lists], dtype=np.float64)
    b, lengths = term_matrix(terms)
    centroid = np.asarray(b.sum(axis=0)).ravel()
    opening = b[0].toarray().ravel()
    df = np.asarray((b > 0).sum(axis=0)).ravel()
    shared = np.asarray((b > 0) @ (df > 1).astype(np.float64)).ravel()
    n_terms = np.asarray((b > 0).sum(axis=1)).ravel()
    if dialogue is None:
        dialogue = is_dialogue("\n".join(s.text for s in sentences))
    i = np.arange(n, dtype=np.float64)
    f = np.zeros((n, len(BASE_FEATURES)), dtype=np.float64)
    f[:, 0] = i / max(1, n - 1)
    f[:, 1] = 1.0 / (i + 1.0)
    for k in range(5):
        f[:, 2 + k] = i == k
    f[:, 7] = math.log(n)
    f[:, 8] = np.log1p(words)
    f[:, 9] = words / max(1e-9, words.mean())
    f[:, 10] = pagerank(similarity_of(b, lengths)) * n
    f[:, 11] = _cosines(b, centroid)
    f[:, 12] = _cosines(b, opening)
    f[:, 13] = np.where(n_terms > 0, shared / np.maximum(n_terms, 1), 0.0)
    f[:, 14] = [bool(_QUOTES.search(s.text)) for s in sentences]
    f[:, 15] = ["?" in s.text or "？" in s.text for s in sentences]
    f[:, 16] = [any(c.isdigit() for c in s.text) for s in sentences]
    f[:, 17] = float(dialogue)
    f[:, 18] = float(tokenizer.lang == "zh")
    f[:, 19] = budget_fraction(budget, n, float(words.sum()))
    f[:, 20] = _rank_fraction(f[:, 10])
    f[:, 21] = _rank_fraction(f[:, 11])
    tokens = [lexicon_tokens(s.text, tokenizer, dialogue=dialogue, words=w)
              for s, w in zip(sentences, word_lists)]
    return f.astype(np.float32), tokens


def trigram_order(scores: np.ndarray, grams: Sequence[frozenset], *,
                  share: float = 0.0) -> List[int]:
    """Sentence indices best first, where a sentence sharing a trigram with a better one
    already taken goes behind every unblocked one (BertSumExt's trigram blocking). With
    ``share`` > 0 only a sentence that shares more than that fraction of its trigrams is
    held back: a repeat, not a sentence that reuses a phrase."""
    ranked = np.argsort(-scores, kind="stable").tolist()
    taken: set = set()
    kept, blocked = [], []
    for i in ranked:
        if len(grams[i] & taken) > share * len(grams[i]):
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
    # Blocking only for short summaries: on validation it adds 1.4 ROUGE-1 on CNN/DailyMail
    # at 3 of ~30 sentences and costs 5 on BBC at 40% (where the references themselves
    # repeat phrases across the sentences they keep).
    block_below: float = 0.25
    # Above block_below, only repeats are held back: a sentence more than half of whose
    # trigrams are in the sentences already taken. News pages repeat their opening as a
    # photo caption ("discovery : authorities reportedly discovered ..."), and a short
    # article (3 of 10 sentences is over block_below) got both.
    repeat_share: float = 0.5
    threads: int = 1  # one document is a few hundred multiply-adds; more threads only wait


@lru_cache(maxsize=4)
def load_ranker(model_dir: str, threads: int = 1):
    """(onnxruntime session, salience lexicon) of a ranker folder, checked against FEATURES."""
    folder = Path(model_dir)
    config_path, onnx_path = folder / "config.json", folder / "model.onnx"
    lexicon_path = folder / "lexicon.json"
    if not all(p.is_file() for p in (onnx_path, config_path, lexicon_path)):
        raise CondenseError(f"{folder}: no ranker model (model.onnx, config.json, lexicon.json); "
                            "restore assets/extractive-ranker from the repository or train one "
                            "with python -m training extractive")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        features = tuple(config["features"])
        lexicon: Dict[str, float] = {
            str(k): float(v)
            for k, v in json.loads(lexicon_path.read_text(encoding="utf-8"))["weights"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CondenseError(f"{folder}: config.json or lexicon.json is not a ranker's ({e}); "
                            "restore the folder or retrain it with python -m training "
                            "extractive") from None
    tokens = config.get("lexicon_tokens")
    if tokens != LEXICON_TOKENS:
        raise CondenseError(f"{config_path}: its lexicon is keyed by {tokens!r}, not "
                            f"{LEXICON_TOKENS!r}; retrain it with python -m training extractive")
    if features != FEATURES:
        raise CondenseError(f"{config_path}: the model was trained on other features "
                            f"({len(features)} vs {len(FEATURES)}); retrain it with python -m "
                            "training extractive")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's own error types (InvalidProtobuf, Fail, ...)
        raise CondenseError(f"{onnx_path}: onnxruntime cannot load it ({type(e).__name__}); "
                            "restore the folder or retrain it with python -m training "
                            "extractive") from None
    shape = session.get_inputs()[0].shape
    if len(shape) != 2 or shape[1] != len(FEATURES):
        raise CondenseError(f"{onnx_path}: the graph takes features of shape {shape}, not "
                            f"(n, {len(FEATURES)}) as config.json says; the files come from "
                            "different trainings: restore the folder or retrain it")
    return session, lexicon


class LearnedRanker(RankingSummarizer):
    name = "ranker"

    def __init__(self, config: RankerConfig = RankerConfig(), *, session=None,
                 lexicon: Optional[Mapping[str, float]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        # tests pass a session (and a lexicon) in; else both load once from config.model_dir.
        # One attribute for the pair, so a thread never sees a session without its lexicon.
        self._loaded = None if session is None else (session, dict(lexicon or {}))

    def _model(self):
        if self._loaded is None:
            self._loaded = load_ranker(self.config.model_dir, self.config.threads)
        return self._loaded

    def score(self, sentences: Sequence[Sentence], tokenizer: Tokenizer) -> np.ndarray:
        return self._scores(sentences, tokenizer, Budget(auto=True), dialogue=None)

    def score_for(self, document: Document, sentences: Sequence[Sentence], tokenizer: Tokenizer,
                  budget: Budget) -> np.ndarray:
        # whether the text is a dialogue is the document's property, decided on its lines
        # as the sentence splitter decides it (not on the units, which split prose lines)
        return self._scores(sentences, tokenizer, budget, dialogue=is_dialogue(document.text))

    def _scores(self, sentences, tokenizer, budget, *, dialogue) -> np.ndarray:
        session, lexicon = self._model()
        x = sentence_features(sentences, tokenizer, budget, lexicon=lexicon, dialogue=dialogue)
        (out,) = session.run(None, {"features": x})
        return out.reshape(-1).astype(np.float64)

    def rank(self, scores: np.ndarray, sentences: Sequence[Sentence], tokenizer: Tokenizer,
             budget: Budget) -> List[int]:
        words = [tokenizer.words(s.text) for s in sentences]
        fraction = budget_fraction(budget, len(sentences), float(sum(len(w) for w in words)))
        if not self.config.trigram_blocking:
            return super().rank(scores, sentences, tokenizer, budget)
        share = 0.0 if fraction < self.config.block_below else self.config.repeat_share
        return trigram_order(scores, [trigrams(w) for w in words], share=share)
