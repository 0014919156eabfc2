"""TextRank keyword and keyphrase extraction.

Mihalcea and Tarau 2004, section 3: words are vertices, an edge joins two words that
co-occur within a window of ``window`` tokens, vertices are ranked by PageRank, the top
third (at most ``top_words``) are kept, and runs of adjacent kept words in the text are
collapsed into multi-word phrases.

Departures: the paper keeps nouns and adjectives with a part-of-speech tagger; we have
none offline, so candidates are content words (no stop words, no pure numbers, at least
two characters, or one CJK character). A phrase scores the sum of its words' scores and
is shown in its first surface form from the document.

Dialogues and chat transcripts (SAMSum, DialogSum): the speaker tag opening a turn
(``Amanda:``, ``#Person1#:``) is skipped, since every turn repeats it and it would win the
ranking on frequency alone; a name mentioned inside a turn stays a candidate. Chat
placeholders for attachments (``<file_gif>``, ``<file_photo>``, ``<link>``) are skipped
and break phrases, in any text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
import scipy.sparse as sp

from summarizer.methods.textrank import TextRankConfig, pagerank
from summarizer.documents.cleaning import speaker_tag_end
from summarizer.nlp import Tokenizer, is_dialogue, stemmer, stopwords, tokenizer_for
from summarizer.types import Document

_CJK = re.compile(r"[\u3400-\u9fff]")
# An angle-bracketed token that stands for something not in the text: <file_gif>, <link>.
_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_:]{0,30}>", re.IGNORECASE)


@dataclass(frozen=True)
class Keyphrase:
    text: str
    score: float


@dataclass(frozen=True)
class KeyphraseConfig:
    window: int = 2
    top_words: int = 30
    top_phrases: int = 10


def _candidate(word: str, stop: frozenset) -> bool:
    if word in stop or word.isdigit():
        return False
    return len(word) >= 2 or bool(_CJK.match(word))


def _opens_line(text: str, start: int) -> bool:
    """True when only spaces stand between ``start`` and the line's beginning."""
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return start == 0 or text[start - 1] == "\n"


def keyphrases(
    document: Document,
    config: KeyphraseConfig = KeyphraseConfig(),
    *,
    tokenizer: Tokenizer | None = None,
) -> List[Keyphrase]:
    tok = tokenizer or tokenizer_for(document.lang)
    stop = stopwords(document.lang)
    norm = stemmer(document.lang)
    # One token stream per sentence; None marks a non-candidate that breaks phrases.
    streams: List[List[Tuple[str, str] | None]] = []
    dialogue = is_dialogue(document.text)
    for s in tok.sentences(document.text):
        body = s.text
        if dialogue and _opens_line(document.text, s.start):
            body = body[speaker_tag_end(body):]  # a turn: drop "Amanda:", keep what she says
        stream: List[Tuple[str, str] | None] = []
        for i, part in enumerate(_PLACEHOLDER.split(body)):
            if i:
                stream.append(None)  # where a placeholder stood
            stream.extend((norm(w), w) if _candidate(w, stop) else None for w in tok.words(part))
        streams.append(stream)
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
    joiner = "" if document.lang == "zh" else " "
    for stream in streams:
        run: List[Tuple[str, str]] = []
        for t in stream + [None]:
            if t is not None and vocab[t[0]] in kept:
                run.append(t)
                continue
            if run:
                key = tuple(k for k, _ in run)
                phrases.setdefault(key, float(sum(scores[vocab[k]] for k in key)))
                shown.setdefault(key, joiner.join(w for _, w in run))
                run = []
    ranked = sorted(phrases.items(), key=lambda kv: (-kv[1], shown[kv[0]]))
    return [Keyphrase(shown[k], s) for k, s in ranked[: config.top_phrases]]
