"""Offline language detection, sentence splitting and word tokenization (English, Chinese).

Nothing here downloads data: sentences come from pySBD (Sadvilkar and Neumann 2020, a
rule-based port of the "Golden Rules" segmenter) run paragraph by paragraph, Chinese
words from jieba's bundled dictionary, English stems from NLTK's Snowball stemmer (pure
code, no corpus) and stop words from the lists that ship inside sumy.
"""
from __future__ import annotations

import logging
import re
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import FrozenSet, List, Optional, Tuple

from .types import Sentence

SUPPORTED_LANGUAGES = ("en", "zh")

# CJK Unified Ideographs (+ extension A, compatibility ideographs).
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
# A word is a run of letters/digits; for ASCII this matches rouge-score's tokenizer.
_WORD = re.compile(r"[^\W_]+")
# Closing quotes and brackets that belong to the sentence before them (pySBD's Chinese
# rules leave them at the start of the next sentence: “好的。 / ”他说。).
_CLOSERS = "”’」』）】》"


def detect_language(text: str) -> str:
    """'zh' when at least a fifth of the letters are CJK ideographs, else 'en'.

    We support two languages, so the script is a sufficient and deterministic signal;
    mixed Chinese-English text with a fifth of Chinese is segmented with jieba, which
    keeps embedded Latin words whole.
    """
    sample = text[:20000]
    letters = len(_LETTER.findall(sample))
    if letters == 0:
        return "en"
    return "zh" if len(_CJK.findall(sample)) / letters >= 0.2 else "en"


def resolve_language(lang: Optional[str], text: str) -> str:
    if lang is None or lang == "auto":
        return detect_language(text)
    if lang not in SUPPORTED_LANGUAGES:
        from .errors import CondenseError

        raise CondenseError(
            f"language {lang!r} is not supported; use one of auto, {', '.join(SUPPORTED_LANGUAGES)}"
        )
    return lang


@lru_cache(maxsize=None)
def stopwords(lang: str) -> FrozenSet[str]:
    name = {"en": "english", "zh": "chinese"}[lang]
    text = resources.files("sumy").joinpath(f"data/stopwords/{name}.txt").read_text("utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip())


_jieba_lock = threading.Lock()


@lru_cache(maxsize=None)
def _jieba():
    with warnings.catch_warnings():  # jieba imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary load on stderr otherwise
    with _jieba_lock:
        jieba.initialize()
    return jieba


@lru_cache(maxsize=None)
def _segmenter(lang: str):
    import pysbd

    return pysbd.Segmenter(language=lang, clean=False)


@lru_cache(maxsize=None)
def _snowball():
    from nltk.stem.snowball import SnowballStemmer

    return SnowballStemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _snowball().stem(word)


@dataclass(frozen=True)
class Tokenizer:
    """Sentences, words and content terms for one language. Stateless and thread-safe."""

    lang: str = "en"

    def __post_init__(self) -> None:
        if self.lang not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unsupported language {self.lang!r}")

    # -- sentences -------------------------------------------------------------------
    def sentences(self, text: str) -> List[Sentence]:
        """Sentences with offsets such that ``text[s.start:s.end] == s.text``.

        Line breaks always end a sentence: after cleaning, a newline separates paragraphs,
        headings or list items, never two halves of one sentence.
        """
        spans: List[Tuple[int, int]] = []
        for block in re.finditer(r"[^\n]+", text):
            if block.group().strip():
                spans.extend(self._split_block(text, block.start(), block.end()))
        return [Sentence(i, a, b, text[a:b]) for i, (a, b) in enumerate(spans)]

    def _split_block(self, text: str, start: int, end: int) -> List[Tuple[int, int]]:
        block = text[start:end]
        pieces = _segmenter(self.lang).segment(block)
        spans: List[Tuple[int, int]] = []
        cursor = 0
        for piece in pieces:
            piece = piece.strip()
            if not piece:
                continue
            at = block.find(piece, cursor)
            if at < 0:  # pySBD altered the text; fall back to the rest of the block
                rest = block[cursor:]
                lead = len(rest) - len(rest.lstrip())
                at, piece = cursor + lead, rest.strip()
            spans.append((at, at + len(piece)))
            cursor = at + len(piece)
            if cursor >= len(block):
                break
        if cursor < len(block.rstrip()):  # keep any tail pySBD dropped
            rest = block[cursor:]
            lead = len(rest) - len(rest.lstrip())
            spans.append((cursor + lead, cursor + lead + len(rest.strip())))
        spans = _attach_closers(block, spans)
        return [(start + a, start + b) for a, b in spans if b > a]

    # -- words -----------------------------------------------------------------------
    def words(self, text: str) -> List[str]:
        """Lower-cased word tokens, punctuation dropped."""
        if self.lang == "zh":
            return [w.lower() for w in _jieba().lcut(text) if _WORD.search(w)]
        return _WORD.findall(text.lower())

    def terms(self, text: str) -> List[str]:
        """Content terms: words without stop words, English words stemmed."""
        stop = stopwords(self.lang)
        words = [w for w in self.words(text) if w not in stop]
        if self.lang == "en":
            return [stem(w) for w in words]
        return words


def _attach_closers(block: str, spans: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Move closing quotes/brackets that open a sentence onto the end of the previous one."""
    out: List[Tuple[int, int]] = []
    for a, b in spans:
        moved = a
        while out and moved < b and block[moved] in _CLOSERS and block[out[-1][1]:moved].strip() == "":
            moved += 1
        if moved != a:
            prev_a, _ = out[-1]
            out[-1] = (prev_a, moved)
            rest = block[moved:b]
            a = moved + (len(rest) - len(rest.lstrip()))
        if b > a:
            out.append((a, b))
    return out


@lru_cache(maxsize=None)
def tokenizer_for(lang: str) -> Tokenizer:
    return Tokenizer(lang)
