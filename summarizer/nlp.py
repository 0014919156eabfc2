"""Offline sentence splitting and word tokenization, per language.

Nothing here downloads data: sentences come from sentencex (Wikimedia's rule-based
segmenter: per-language abbreviation lists and terminators, compiled, no model) run line
by line, Chinese words from jieba's bundled dictionary; stop words, stems and language
detection live in ``languages.py`` (re-exported here).

Departure from the splitter we used before, pySBD (Sadvilkar and Neumann 2020): sentencex
is about 100x faster inside our Tokenizer (0.015 s against 1.78 s for 200 BBC articles)
with the same overall F1 on our gold set (0.951 against 0.949; English 0.944 against
0.952, Chinese 0.958 against 0.915), and the learned ranker was retrained on its units
(docs/BENCHMARKS.md, "Sentence splitting").

Departure for dialogues and chat transcripts (SAMSum, DialogSum): when most lines open
with a speaker tag (:func:`is_dialogue`), each turn (one line, speaker name included) is
one unit, never split into its sentences nor merged with the next, because a summary of
a conversation quotes who said what, and a half turn without its speaker means little.

Departure for the languages other than English and Chinese: the splitter's pieces are
repaired (:func:`_repair`). It ends sentences at abbreviations it does not list (Russian
"т. е.", French "Sr."), so a piece that the next one continues in lower case, or that
ends with a title before a name, is joined to the next; and Russian "и т. д." / "и т. п."
before a capital ends a sentence, which it misses.
"""
from __future__ import annotations

import logging
import re
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional, Tuple

from summarizer.documents.cleaning import looks_like_dialogue, speaker_tag_end
from summarizer.languages import (LANG_CHOICES, LANGUAGE_NAMES, SUPPORTED_LANGUAGES,  # noqa: F401
                        detect_language, language_name, stem, stemmer, stopwords)
from summarizer.types import Sentence

# A word is a run of letters/digits; for ASCII this matches rouge-score's tokenizer.
_WORD = re.compile(r"[^\W_]+")
# Closing quotes and brackets that belong to the sentence before them (a splitter may leave
# them at the start of the next sentence: “好的。 / ”他说。).
_CLOSERS = "”’」』）】》"


def is_dialogue(text: str) -> bool:
    """True when at least two, and at least half, of the non-blank lines of ``text`` open
    with a speaker tag (``Amanda:``, ``#Person1#:``, ``张三：``; see ``cleaning.py``)."""
    tagged = [speaker_tag_end(line.lstrip()) > 0 for line in text.split("\n") if line.strip()]
    return looks_like_dialogue(tagged)


def resolve_language(lang: Optional[str], text: str) -> str:
    if lang is None or lang == "auto":
        return detect_language(text)
    if lang not in SUPPORTED_LANGUAGES:
        from summarizer.errors import CondenseError

        raise CondenseError(
            f"language {lang!r} is not supported; use one of auto, {', '.join(SUPPORTED_LANGUAGES)}"
        )
    return lang


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


class _Sentencex:
    """The splitter behind ``Tokenizer``: ``segment(block)`` gives the block's sentences as
    sentencex cuts them (each with its trailing spaces). Stateless, so one per language
    serves every thread."""

    def __init__(self, lang: str):
        import sentencex

        self.lang = lang
        self._bounds = sentencex.get_sentence_boundaries

    def segment(self, block: str) -> List[str]:
        return [block[d["start_index"]:d["end_index"]] for d in self._bounds(self.lang, block)]


@lru_cache(maxsize=None)
def _segmenter(lang: str) -> _Sentencex:
    return _Sentencex(lang)


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
        headings or list items, never two halves of one sentence. In a dialogue
        (:func:`is_dialogue`) each line is one unit: a turn with its speaker tag.
        """
        spans: List[Tuple[int, int]] = []
        dialogue = is_dialogue(text)
        for block in re.finditer(r"[^\n]+", text):
            if dialogue:
                spans.append(block.span())  # stripped, and cut if too long, below
            elif block.group().strip():
                for a, b in _pieces(block.group()):
                    a, b = block.start() + a, block.start() + b
                    if b - a <= MAX_PIECE_CHARS:
                        spans.extend(self._split_block(text, a, b))
                    else:  # a long run with no sentence end at all
                        spans.extend(_cut_at_spaces(text, a, b))
        spans = [piece for a, b in spans for piece in _cut_at_spaces(text, a, b)]
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
            if at < 0:  # a piece that is not the text; fall back to the rest of the block
                rest = block[cursor:]
                lead = len(rest) - len(rest.lstrip())
                at, piece = cursor + lead, rest.strip()
            spans.append((at, at + len(piece)))
            cursor = at + len(piece)
            if cursor >= len(block):
                break
        if cursor < len(block.rstrip()):  # keep any tail the splitter dropped
            rest = block[cursor:]
            lead = len(rest) - len(rest.lstrip())
            spans.append((cursor + lead, cursor + lead + len(rest.strip())))
        if self.lang != "zh":
            spans = _join_abutting(block, spans)
        spans = _attach_closers(block, spans)
        if self.lang not in ("en", "zh"):
            spans = _repair(block, spans, self.lang)
        return [(start + a, start + b) for a, b in spans if b > a]

    # -- words -----------------------------------------------------------------------
    def words(self, text: str) -> List[str]:
        """Lower-cased word tokens, punctuation dropped."""
        if self.lang == "zh":
            return [w.lower() for w in _jieba().lcut(text) if _WORD.search(w)]
        return _WORD.findall(text.lower())

    def terms(self, text: str) -> List[str]:
        """Content terms: words without stop words, stemmed (Chinese words as they are);
        in the languages other than English and Chinese, without lone letters either."""
        return self.content_terms(self.words(text))

    def content_terms(self, words: List[str]) -> List[str]:
        """``terms`` of a sentence whose ``words`` the caller already has."""
        stop = stopwords(self.lang)
        words = [w for w in words if w not in stop]
        if self.lang == "zh":
            return words
        if self.lang != "en":
            # a lone letter is a piece of an abbreviation (z. B., т. е.); sumy's English
            # stop words already hold every letter
            words = [w for w in words if len(w) > 1 or w.isdigit()]
        stem_word = stemmer(self.lang)
        return [stem_word(w) for w in words]

    def stem(self, word: str) -> str:
        """The stem of a lower-cased word (Chinese words are their own stem)."""
        return stemmer(self.lang)(word)


# Titles that stand before a name: a piece ending in one does not end a sentence.
_TITLES = {
    "de": ("dr", "prof", "hr", "fr", "st"),
    "fr": ("mme", "mlle", "dr", "pr", "me", "st", "ste"),  # not "m": also metres
    "es": ("sr", "sra", "srta", "dr", "dra", "d", "dña", "prof", "profa", "lic", "ing"),
    "it": ("sig", "sigg", "sig.ra", "dott", "dott.ssa", "prof", "ing", "avv", "on", "s"),
    "pt": ("sr", "sra", "srta", "dr", "dra", "prof", "profa", "eng", "d", "exmo", "exma"),
    "nl": ("dhr", "mevr", "mr", "dr", "prof", "ir", "drs", "ing", "st"),
    "ru": ("г-н", "г-жа", "д-р", "проф", "акад", "им", "св", "ул"),
}
# Titles that are one capital letter, matched with their case: French "M." (Monsieur),
# which sentencex ends a sentence at; a lower-case "m." is metres.
_CASED_TITLES = {"fr": ("M",)}
_LAST_WORD = re.compile(r"(?:^|\s)([^\W\d_][\w.-]*)\.$")
# Russian "и т. д." / "и т. п." (and so on) before a capital: the sentence ends there.
_RU_ETC = re.compile(r"\bи\s?т\.\s?[дп]\.(?=\s+[А-ЯЁA-Z«\"])")


def _repair(block: str, spans: List[Tuple[int, int]], lang: str) -> List[Tuple[int, int]]:
    """Join a piece to the next when the next opens in lower case or with punctuation
    that continues a sentence, or when the piece ends with a title (Sr., Dr., проф.);
    then (Russian) split after "и т. д." before a capital. See the module docstring."""
    out: List[Tuple[int, int]] = []
    for a, b in spans:
        if out:
            prev = block[out[-1][0]:out[-1][1]]
            nxt = block[a:b]
            last = _LAST_WORD.search(prev)
            continues = nxt[:1].islower() or nxt[:1] in ",;:)»-"
            titled = bool(last) and (last.group(1).lower() in _TITLES.get(lang, ())
                                     or last.group(1) in _CASED_TITLES.get(lang, ()))
            if continues or titled:
                out[-1] = (out[-1][0], b)
                continue
        out.append((a, b))
    if lang != "ru":
        return out
    split: List[Tuple[int, int]] = []
    for a, b in out:
        for m in _RU_ETC.finditer(block, a, b):
            rest = block[m.end():b]
            split.append((a, m.end()))
            a = m.end() + len(rest) - len(rest.lstrip())
        split.append((a, b))
    return split


# Long paragraphs are cut into pieces of a few thousand characters at likely sentence
# ends first, and the splitter decides within each piece: pySBD, used before, took 266 s
# for one 500,000-character line, and a bounded piece keeps any splitter's worst case small.
PIECE_CHARS = 4_000
MAX_PIECE_CHARS = 10_000
# A "sentence" longer than this (a run of text without any sentence end) is cut at spaces
# (or between characters in Chinese) so that every unit stays summarizable.
MAX_SENTENCE_CHARS = 3_000
_LIKELY_END = re.compile(r"[.!?。！？…][\"'”’)\]」』）]*\s*")


def _pieces(block: str) -> List[Tuple[int, int]]:
    """Spans of ``block`` of about PIECE_CHARS, cut only after a likely sentence end."""
    if len(block) <= MAX_PIECE_CHARS:
        return [(0, len(block))]
    out, start = [], 0
    for m in _LIKELY_END.finditer(block):
        if m.end() - start >= PIECE_CHARS:
            out.append((start, m.end()))
            start = m.end()
    if start < len(block):
        out.append((start, len(block)))
    return out


def _cut_at_spaces(text: str, start: int, end: int) -> List[Tuple[int, int]]:
    """(start, end) as is when short enough, else cut into spans of at most
    MAX_SENTENCE_CHARS at the last space before each limit (at the limit if none)."""
    spans = []
    while end - start > MAX_SENTENCE_CHARS:
        limit = start + MAX_SENTENCE_CHARS
        cut = text.rfind(" ", start + 1, limit)
        cut = limit if cut <= start else cut
        spans.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    # strip again: cutting may leave spaces at the edges
    a, b = start, end
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        spans.append((a, b))
    return [(a, b) for a, b in spans if b > a]


def _join_abutting(block: str, spans: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Join a piece to the one before when nothing separates them and it does not open
    with a capital: sentencex ends a sentence at a full stop before an underscore
    ("window.__x"). "in 2004.The firm" stays two sentences: BBC's texts lose the space
    after many full stops (joining those too cost 1.25 ROUGE-1 on the BBC validation
    split; this rule costs it 0.11, docs/QUALITY.md)."""
    out: List[Tuple[int, int]] = []
    for a, b in spans:
        if out and out[-1][1] == a and not block[a].isupper():
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


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
