"""Keyphrases: TextRank over words, and TF-IDF over jieba's words for Chinese.

Mihalcea and Tarau 2004, section 3: words are vertices, an edge joins two words that
co-occur within a window of ``window`` tokens, vertices are ranked by PageRank, the top
third (at most ``top_words``) are kept, and runs of adjacent kept words in the text are
collapsed into multi-word phrases.

Departures: the paper keeps nouns and adjectives with a part-of-speech tagger; we have
none offline, so candidates are content words (no stop words, no pure numbers, at least
two characters, or one CJK character). A phrase scores the sum of its words' scores and
is shown in its first surface form from the document.

Chinese (``lang == "zh"``) departs further. TextRank over jieba's words returned
fragments (克尔恺郭尔对, 人作出): jieba splits a name its dictionary lacks (克尔 恺 郭尔),
and a run of kept words glued a noun to the preposition or verb beside it. Measured with
``bench/keyphrases_zh.py`` on the validation splits of ``../shared/data/multidomain``
(csl_title: 1,000 paper abstracts; lcsts_part2: 985 microblog posts) as the share of the
top five found verbatim in the title or headline:

- words are scored by TF-IDF (Salton and Buckley 1988) with jieba's bundled IDF table and
  shown one by one, not as runs: 0.52 / 0.27 against 0.16 / 0.13 for the TextRank above
  over jieba's words (before) and 0.18 / 0.12 for TextRank over the candidates used
  here. An IDF from a large corpus knows that 进行 and 研究 say little, which the graph
  of one short abstract cannot;
- a candidate has at least two characters and a letter (not 两, 2%, 4300) and is not a
  stop word; a word jieba's dictionary lacks (a guess of its HMM; about half of those in
  the top five were fragments such as 能化, 而前) must occur twice, which took such words
  from 8% / 21% of the top five to 5% / 3% at the same overlap;
- two adjacent words that occur together at least three times and never apart are one
  term (克尔 恺 郭尔 -> 克尔恺郭尔; 补肾 活血 汤; 机器 学习), weighted by its most
  specific piece's IDF; a term does not open with a one-character word (a measure word
  after a number: 3 月 新房 价格). Joining lowered the verbatim overlap to 0.50 / 0.27
  (a longer term matches a title verbatim less often) and raised the share of title
  characters covered from 0.348 to 0.358 (csl_title; lcsts_part2 0.184 both); joining
  at two occurrences gave 0.49 / 0.26 and more chance pairs (一部分 集中).

A Chinese keyphrase's score is its TF-IDF, not a PageRank; ``window`` and ``top_words``
are TextRank's and unused there.

Dialogues and chat transcripts (SAMSum, DialogSum): the speaker tag opening a turn
(``Amanda:``, ``#Person1#:``, ``张三：``) is skipped, since every turn repeats it and it
would win the ranking on frequency alone; a name mentioned inside a turn stays a
candidate. Chat placeholders for attachments (``<file_gif>``, ``<file_photo>``,
``<link>``) are skipped and break phrases, in any text.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from summarizer.methods.textrank import TextRankConfig, pagerank
from summarizer.documents.cleaning import speaker_tag_end
from summarizer.nlp import Tokenizer, _jieba, is_dialogue, stemmer, stopwords, tokenizer_for
from summarizer.types import Document

_CJK = re.compile(r"[\u3400-\u9fff]")
# An angle-bracketed token that stands for something not in the text: <file_gif>, <link>.
_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_:]{0,30}>", re.IGNORECASE)

# A token of a sentence for TextRank: (key, surface form), or None for a non-candidate
# that breaks phrases. The key is what is counted and ranked (a stem in English).
Token = Optional[Tuple[str, str]]


@dataclass(frozen=True)
class Keyphrase:
    text: str
    score: float


@dataclass(frozen=True)
class KeyphraseConfig:
    window: int = 2
    top_words: int = 30
    top_phrases: int = 10
    # Chinese: how often two words must occur together, and never apart, to be joined into
    # one term, and how often a word that jieba's dictionary lacks must occur to be a candidate
    zh_term_repeats: int = 3
    zh_guess_repeats: int = 2


def keyphrases(
    document: Document,
    config: KeyphraseConfig = KeyphraseConfig(),
    *,
    tokenizer: Tokenizer | None = None,
) -> List[Keyphrase]:
    """The document's ``config.top_phrases`` best keyphrases, best first.

    ``tokenizer`` splits sentences, and words except in Chinese, whose words come from
    jieba with their punctuation (the tokenizer drops it, and it keeps words apart)."""
    tok = tokenizer or tokenizer_for(document.lang)
    stop = stopwords(document.lang)
    if document.lang == "zh":
        # jieba's words, punctuation and spaces included: they keep neighbours apart
        return _chinese_keywords(_streams(document.text, tok, _jieba().lcut), stop, config)
    norm = stemmer(document.lang)

    def words(part: str) -> List[Token]:
        return [(norm(w), w) if _candidate(w, stop) else None for w in tok.words(part)]

    return _textrank_phrases(_streams(document.text, tok, words), config)


# -- token streams: one per sentence, speaker tags and placeholders left out ---------------
def _streams(text: str, tok: Tokenizer, words: Callable[[str], list]) -> List[list]:
    """``words`` of each sentence, None where a placeholder stood."""
    streams: List[list] = []
    dialogue = is_dialogue(text)
    for s in tok.sentences(text):
        body = s.text
        if dialogue and _opens_line(text, s.start):
            body = body[speaker_tag_end(body):]  # a turn: drop "Amanda:", keep what she says
        stream: list = []
        for i, part in enumerate(_PLACEHOLDER.split(body)):
            if i:
                stream.append(None)  # where a placeholder stood
            stream.extend(words(part))
        streams.append(stream)
    return streams


# What the word splitter leaves of English contractions ("we've" -> "we", "ve"): the one-
# letter tails fall to the length rule, these would start phrases like "ve discussed".
_CONTRACTION_TAILS = frozenset({"ve", "ll", "re"})


def _candidate(word: str, stop: frozenset) -> bool:
    if word in stop or word in _CONTRACTION_TAILS or word.isdigit():
        return False
    return len(word) >= 2 or bool(_CJK.match(word))


def _opens_line(text: str, start: int) -> bool:
    """True when only spaces stand between ``start`` and the line's beginning."""
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return start == 0 or text[start - 1] == "\n"


# -- TextRank: every language but Chinese ----------------------------------------------
def _textrank_phrases(streams: List[List[Token]], config: KeyphraseConfig) -> List[Keyphrase]:
    vocab: Dict[str, int] = {}
    rows, cols = [], []
    for stream in streams:
        ids = [None if t is None else vocab.setdefault(t[0], len(vocab)) for t in stream]
        for i, a in enumerate(ids):
            for b in ids[i + 1 : i + config.window]:
                if a is not None and b is not None and a != b:
                    rows += [a, b]
                    cols += [b, a]
    if not vocab:
        return []
    n = len(vocab)
    graph = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    graph.data[:] = 1.0  # unweighted: repeated co-occurrences count once
    scores = pagerank(graph, TextRankConfig())
    keep_n = min(config.top_words, max(1, n // 3))
    kept = set(np.argsort(-scores, kind="stable")[:keep_n].tolist())

    phrases: Dict[Tuple[str, ...], float] = {}
    shown: Dict[Tuple[str, ...], str] = {}
    for stream in streams:
        run: List[Tuple[str, str]] = []
        for t in stream + [None]:
            if t is not None and vocab[t[0]] in kept:
                run.append(t)
                continue
            if run:
                key = tuple(k for k, _ in run)
                phrases.setdefault(key, float(sum(scores[vocab[k]] for k in key)))
                shown.setdefault(key, " ".join(w for _, w in run))
                run = []
    ranked = sorted(phrases.items(), key=lambda kv: (-kv[1], shown[kv[0]]))
    return [Keyphrase(shown[k], s) for k, s in ranked[: config.top_phrases]]


# -- Chinese: TF-IDF over jieba's words -------------------------------------------------
def _chinese_keywords(streams: List[List[Optional[str]]], stop: frozenset,
                      config: KeyphraseConfig) -> List[Keyphrase]:
    """``streams`` hold jieba's tokens, punctuation included, None where a placeholder
    stood; the steps are the module docstring's."""
    counts: Counter = Counter()
    pieces_of: Dict[str, Tuple[str, ...]] = {}  # first surface form, as jieba's pieces
    for stream in _join_inseparable(streams, stop, config.zh_term_repeats):
        for pieces in stream:
            word = "".join(pieces or ())
            key = word.lower()
            if len(word) >= 2 and key not in stop and any(c.isalpha() for c in word):
                counts[key] += 1
                pieces_of.setdefault(key, tuple(pieces))
    jieba = _jieba()
    for key, pieces in pieces_of.items():
        if (len(pieces) == 1 and counts[key] < config.zh_guess_repeats
                and _CJK.search(key) and not jieba.get_FREQ(pieces[0])):
            del counts[key]  # a guess of jieba's HMM, seen too rarely to trust
    if not counts:
        return []
    idf, median_idf = _idf_table()
    total = sum(counts.values())
    scores = {}
    for key, count in counts.items():
        pieces = pieces_of[key]
        # a joined term is as specific as its most specific piece
        parts = [key] if len(pieces) == 1 else [p.lower() for p in pieces]
        scores[key] = count / total * max(idf.get(p, median_idf) for p in parts)
    shown = {key: "".join(pieces_of[key]) for key in scores}
    ranked = sorted(scores, key=lambda k: (-scores[k], shown[k]))
    return [Keyphrase(shown[k], scores[k]) for k in ranked[: config.top_phrases]]


def _join_inseparable(streams: List[List[Optional[str]]], stop: frozenset,
                      repeats: int) -> List[List[Optional[List[str]]]]:
    """Each stream's tokens as lists of pieces, two adjacent CJK tokens ``a b`` joined when
    they occur together at least ``repeats`` times and never apart (every ``a`` is
    followed by ``b``, every ``b`` preceded by ``a``): 克尔 恺 郭尔 -> 克尔恺郭尔. Stop words
    never join; a term does not open with a one-character word."""
    def joinable(t: Optional[str]) -> bool:
        return t is not None and t not in stop and bool(_CJK.search(t))

    alone = Counter(t for s in streams for t in s if joinable(t))
    pairs = Counter((a, b) for s in streams for a, b in zip(s, s[1:])
                    if a != b and joinable(a) and joinable(b))
    bound = {(a, b) for (a, b), n in pairs.items() if n >= repeats and n == alone[a] == alone[b]}
    out: List[List[Optional[List[str]]]] = []
    for stream in streams:
        joined: List[Optional[List[str]]] = []
        for prev, t in zip([None] + stream[:-1], stream):
            if (prev, t) in bound:
                joined[-1].append(t)
            else:
                joined.append(None if t is None else [t])
        out.append([part for pieces in joined for part in _split_leading_chars(pieces)])
    return out


def _split_leading_chars(pieces: Optional[List[str]]) -> List[Optional[List[str]]]:
    """One-character words that open a joined term, split off: they were measure words
    after a number (3 月 新房 价格, 5 家 合资 券商) or a negation (不)."""
    out: List[Optional[List[str]]] = []
    while pieces is not None and len(pieces) > 1 and len(pieces[0]) == 1:
        out.append(pieces[:1])
        pieces = pieces[1:]
    return out + [pieces]


@lru_cache(maxsize=None)
def _idf_table() -> Tuple[Dict[str, float], float]:
    """jieba's IDF table (``jieba/analyse/idf.txt``, 270,000 words) and its median, which
    jieba gives to words it lacks. Read here rather than through ``jieba.analyse``, whose
    import also loads the part-of-speech tagger we do not use (0.3 s)."""
    _jieba()
    text = resources.files("jieba").joinpath("analyse/idf.txt").read_text("utf-8")
    idf: Dict[str, float] = {}
    for line in text.splitlines():
        word, value = line.split(" ")
        idf[word] = float(value)
    return idf, sorted(idf.values())[len(idf) // 2]
