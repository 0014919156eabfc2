"""Flag numbers and names in a summary that its source does not contain.

An abstractive model can write a figure or a name that is in no sentence of the input
(a hallucination). This check is a cheap, transparent screen for that, not a proof:

- **Numbers**: ``1,000``, ``3.5%``, ``$10bn``, ``£2.5 million``, ``-4``, ``2004``,
  ``10.5亿`` ... are read to a value (thousands separators dropped, ``k``/``m``/``bn``/``tn``,
  the words ``thousand``/``million``/``billion``/``trillion`` and the Chinese ``千``/``万``/
  ``亿`` multiplied out, a percent (``%``, ``％``) kept as a percent; currency symbols
  ignored) and a summary number counts as supported when the source has the same value,
  in any of these spellings. ``10bn`` matches ``10 billion`` and ``10,000,000,000``;
  ``3.5%`` matches ``3.5 per cent`` but not a bare ``3.5``; ``2.6万`` matches ``26,000``.
- **Names**: runs of capitalized words (``Gordon Brown``, ``BBC``, ``New York``). A run is
  supported when each of its words (less titles such as ``Mr`` and a possessive ``'s``)
  occurs in the source, case-insensitively. A lone capitalized word that starts a
  sentence is skipped unless it is an acronym: it is usually an ordinary word
  ("Officials said ..."), and a leading stop word of a run is dropped ("The BBC" -> "BBC").
- **Chinese** (``lang="zh"``, ``chinese_names``): Latin-script words ("IBM", "iPhone", or
  English mixed into the summary) the source lacks, and person names (jieba's ``nr``) the
  source does not contain that are new to jieba's dictionary (found by its HMM) or one
  character off a name of the source (李嘉成 for 李嘉诚), or cut short: a summary's
  person name that the source holds only inside a longer name of its own (李嘉 for 李嘉诚;
  on all 2,985 LCSTS and CSL validation references it flags 5, of which 谷歌 in jieba's
  谷歌正 and 鲁棒 in 鲁棒性 are no names, and 小平 for 邓小平 is one). Measured on the
  985 LCSTS validation references (written from the article, so every flag is either the
  headline adding what the short text lacks or a false alarm): Latin words flag 21, these
  names 45, of which 7 are not names (北漂, 金改, 普惠式, ...): 0.7 false flags per 100.
  Not used: other dictionary names and the place tag (``ns``), because jieba's dictionary
  tags ordinary words as names (安静, 养老金, 解密 are ``nr``; 青春, 深度 ``ns``): on the
  first 300 references dictionary ``nr`` words flagged 17, 12 of them ordinary words, and
  ``ns`` flagged 27, about 9 of them ordinary words (and 中国, 美国 added as context).
- **Dialogue speakers** (a source whose turns open with speaker tags, ``unknown_speakers``):
  in its summary a placeholder such as ``#Person3#`` that no turn has, and a capitalised
  word opening a sentence (skipped in prose, but in a dialogue's summary mostly who did
  what) that is no stop word and no word of the dialogue. Both go into ``names``. On the
  validation references it flags 19 of 814 SAMSum summaries, 12 of them naming someone
  the chat lacks (Georgina for Georgia, Joe for Jo, Casole for Carole, Paul for Tim) and
  7 an ordinary word (Earlier, Yesterday, Unlike, ...: 0.9 false flags per 100), and 3 of
  491 DialogSum summaries (1 false: "Due to").

Numbers spelled as words ("three", "五") are not checked.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import FrozenSet, List, Optional, Set, Tuple

from summarizer.documents.cleaning import speaker_tag_end
from summarizer.nlp import _jieba, is_dialogue, stopwords

_SCALES = {
    "k": 3, "thousand": 3, "m": 6, "mn": 6, "million": 6, "bn": 9, "b": 9, "billion": 9,
    "tn": 12, "trillion": 12, "千": 3, "万": 4, "百万": 6, "千万": 7, "亿": 8, "百亿": 10,
    "千亿": 11, "万亿": 12,
}
# A number: optional sign (glued on: the dash of "40 - 10" is no minus), digits with ,
# separators or plain, optional decimals; then an
# optional scale (glued "10bn" or spaced "10 billion") and an optional percent.
# Chinese scales (万 10^4, 亿 10^8) are glued on; a Latin scale ends where no letter or
# digit follows (not ``\b``: "4K电视" has no word boundary between K and 电).
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.,])(?P<sign>[-\u2212])?(?:[$£€¥]\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s?(?P<scale>k|mn|m|bn|b|tn)(?![A-Za-z0-9])|\s(?P<word>thousand|million|billion|trillion)\b"
    r"|(?P<zh>[百千万]亿|[百千]万|[千万亿]))?"
    r"(?P<pct>\s?[%\uff05]|\s(?:per\s?cent|percent)\b)?",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")
_SENTENCE_START = re.compile(r"(?:^|\n|[.!?][\"'\u201d\u2019)\]]*\s+)\s*$")
TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", "lord", "lady",
                    "st", "rev", "gen", "col", "capt", "sen", "rep", "gov", "pres"})


@dataclass(frozen=True)
class FaithfulnessReport:
    """Surface forms from the summary, in order of appearance, each listed once."""

    numbers: Tuple[str, ...]
    names: Tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.numbers and not self.names


def check_faithfulness(summary: str, source: str, *, lang: str = "en") -> FaithfulnessReport:
    """Numbers and names of ``summary`` that ``source`` does not support; for a dialogue
    source, also speakers it does not have (``unknown_speakers``, listed with the names)."""
    have = {value for _, value in extract_numbers(source)}
    numbers = _unique(form for form, value in extract_numbers(summary) if value not in have)
    source_words = _words(source)
    names: List[str] = []
    if lang == "zh":
        names = chinese_names(summary, source)
    else:
        stop = stopwords("en")
        for name in extract_names(summary, stop=stop):
            parts = [_base(w) for w in _WORD.findall(name)]
            content = [p for p in parts if p not in TITLES] or parts
            if any(p not in source_words for p in content):
                names.append(name)
    if is_dialogue(source):  # a word already flagged within a name is not listed again
        flagged = {_base(w) for name in names for w in _WORD.findall(name)}
        names += [w for w in unknown_speakers(summary, source, lang=lang)
                  if _base(w) not in flagged]
    return FaithfulnessReport(tuple(numbers), tuple(_unique(names)))


# -- numbers -------------------------------------------------------------------------
def parse_number(match: "re.Match[str]") -> Optional[Tuple[Decimal, bool]]:
    """(value, is_percent) of one ``_NUMBER`` match; None if it does not parse."""
    try:
        value = Decimal(match["num"].replace(",", ""))
    except InvalidOperation:
        return None
    scale = (match["scale"] or match["word"] or match["zh"] or "").lower()
    if scale:
        value = value.scaleb(_SCALES[scale])
    if match["sign"]:
        value = -value
    # normalize() makes 10, 10.0 and 1E+1 one key; an integral value is shown plainly.
    return value.normalize(), bool(match["pct"])


def extract_numbers(text: str) -> List[Tuple[str, Tuple[Decimal, bool]]]:
    """(surface form, (value, is_percent)) for every number in ``text``."""
    out = []
    for m in _NUMBER.finditer(text):
        parsed = parse_number(m)
        if parsed is not None:
            out.append((m.group(0).strip(), parsed))
    return out


# -- names ---------------------------------------------------------------------------
def extract_names(text: str, *, stop: FrozenSet[str] = frozenset()) -> List[str]:
    """Runs of capitalized words, as written; see the module docstring for the rules."""
    names: List[str] = []
    run: List["re.Match[str]"] = []

    def flush() -> None:
        if not run:
            return
        words = [m.group(0) for m in run]
        at_start = bool(_SENTENCE_START.search(text[: run[0].start()]))
        if at_start and words[0].lower() in stop:
            words = words[1:]
            at_start = False
        if words and not (at_start and len(words) == 1 and not _is_acronym(words[0])):
            names.append(" ".join(words))
        run.clear()

    for m in _WORD.finditer(text):
        word = m.group(0)
        gap = text[run[-1].end(): m.start()] if run else " "
        if word[0].isupper() and (not run or gap.strip() == ""):
            run.append(m)
            continue
        flush()
        if word[0].isupper():
            run.append(m)
    flush()
    return names


# -- Chinese ---------------------------------------------------------------------------
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:['\u2019\-][A-Za-z\u00c0-\u024f]+)*")


def chinese_names(summary: str, source: str) -> List[str]:
    """Names in Chinese ``summary`` that ``source`` lacks: Latin-script words of two or
    more letters ("IBM", "iPhone", an English word in a Chinese summary) not among the
    source's, case-insensitively; and person names (jieba's tag ``nr``, two characters or
    more) that do not occur in the source and are either new to jieba's dictionary (found
    by its HMM, as an invented name would be) or one character off a person name of the
    source (李嘉成 for 李嘉诚, both in the dictionary), and person names the source has
    only inside a longer one (李嘉 for 李嘉诚). See the module docstring."""
    have = {w.lower() for w in _LATIN.findall(source)}
    out = [w for w in _LATIN.findall(summary) if len(w) > 1 and w.lower() not in have]
    posseg = _posseg()
    known: Optional[Set[str]] = None  # the source's person names, cut only when needed

    def source_names() -> Set[str]:
        nonlocal known
        if known is None:
            known = {p.word for p in posseg.cut(source) if p.flag == "nr"}
        return known

    for pair in posseg.cut(summary):
        word = pair.word
        if pair.flag != "nr" or len(word) < 2:
            continue
        if word in source:
            if _only_inside(word, source, source_names()):
                out.append(word)
            continue
        if word in posseg.dt.word_tag_tab and not any(_one_off(word, n) for n in source_names()):
            continue
        out.append(word)
    return _unique(out)


def _only_inside(word: str, source: str, names: Set[str]) -> bool:
    """Whether every occurrence of ``word`` in ``source`` is inside one of the longer
    ``names`` that contain it (a name cut short, 李嘉 of 李嘉诚)."""
    longer = sorted((n for n in names if word in n and n != word), key=len, reverse=True)
    if not longer:
        return False
    for name in longer:
        source = source.replace(name, "\0")
    return word not in source


def _one_off(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1


@lru_cache(maxsize=1)
def _posseg():
    _jieba()  # the dictionary, loaded once and quietly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import jieba.posseg

    return jieba.posseg


# -- dialogue speakers ---------------------------------------------------------------
_PLACEHOLDER = re.compile(r"#[^\W_]+#")  # DialogSum's "#Person1#"


def speakers(dialogue: str) -> List[str]:
    """The speaker tags of ``dialogue``'s turns ("Amanda", "#Person1#", "张三"), in order."""
    out = []
    for line in dialogue.split("\n"):
        line = line.lstrip()
        end = speaker_tag_end(line)
        if end:
            out.append(line[:end].rstrip(":\uff1a").strip())
    return _unique(out)


def unknown_speakers(summary: str, dialogue: str, *, lang: str = "en") -> List[str]:
    """People in a dialogue's ``summary`` who neither speak in it nor are mentioned:
    placeholders such as "#Person3#" that no turn has, and (not Chinese) capitalised words
    that open a sentence, which ``extract_names`` skips in prose (usually an ordinary word
    there) but which in a dialogue's summary are mostly who did what ("Amanda will ...").
    Such a word is flagged when it is no stop word and no word of the dialogue."""
    tags = set(speakers(dialogue))
    out = [p for p in _PLACEHOLDER.findall(summary) if p not in tags and p not in dialogue]
    if lang == "zh":
        return _unique(out)
    stop, words, seen = stopwords("en"), _words(dialogue), set()
    for m in _WORD.finditer(summary):
        word, base = m.group(0), _base(m.group(0))
        if (word[0].isupper() and _SENTENCE_START.search(summary[: m.start()])
                and base not in stop and base not in words and base not in seen
                and summary[m.start() - 1: m.start()] != "#"):
            seen.add(base)
            out.append(word)
    return _unique(out)


def _is_acronym(word: str) -> bool:
    return len(word) >= 2 and word.isupper()


_CLITIC = re.compile(r"'(?:s|ll|d|re|ve|m)$")


def _base(word: str) -> str:
    """Lower-cased word without a possessive or a clitic ("Brown's" -> "brown",
    "June'll" -> "june")."""
    return _CLITIC.sub("", word.lower().replace("\u2019", "'"))


def _words(text: str) -> Set[str]:
    found: Set[str] = set()
    for m in _WORD.finditer(text):
        found.add(_base(m.group(0)))
        found.update(_base(p) for p in re.split(r"[-]", m.group(0)) if p)
    return found


def _unique(items) -> List[str]:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
