"""Flag numbers and names in a summary that its source does not contain.

An abstractive model can write a figure or a name that is in no sentence of the input
(a hallucination). This check is a cheap, transparent screen for that, not a proof:

- **Numbers**: ``1,000``, ``3.5%``, ``$10bn``, ``£2.5 million``, ``-4``, ``2004`` ... are
  read to a value (thousands separators dropped, ``k``/``m``/``bn``/``tn`` and the words
  ``thousand``/``million``/``billion``/``trillion`` multiplied out, a percent kept as a
  percent; currency symbols ignored) and a summary number counts as supported when the
  source has the same value, in any of these spellings. ``10bn`` matches ``10 billion``
  and ``10,000,000,000``; ``3.5%`` matches ``3.5 per cent`` but not a bare ``3.5``.
- **Names**: runs of capitalized words (``Gordon Brown``, ``BBC``, ``New York``). A run is
  supported when each of its words (less titles such as ``Mr`` and a possessive ``'s``)
  occurs in the source, case-insensitively. A lone capitalized word that starts a
  sentence is skipped unless it is an acronym: it is usually an ordinary word
  ("Officials said ..."), and a leading stop word of a run is dropped ("The BBC" -> "BBC").

Numbers spelled as words ("three") and names without capitals (Chinese) are not checked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import FrozenSet, List, Optional, Set, Tuple

from summarizer.nlp import stopwords

_SCALES = {
    "k": 3, "thousand": 3, "m": 6, "mn": 6, "million": 6, "bn": 9, "b": 9, "billion": 9,
    "tn": 12, "trillion": 12,
}
# A number: optional sign, digits with , separators or plain, optional decimals; then an
# optional scale (glued "10bn" or spaced "10 billion") and an optional percent.
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.,])(?P<sign>[-\u2212])?[$£€¥]?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s?(?P<scale>k|mn|m|bn|b|tn)\b|\s(?P<word>thousand|million|billion|trillion)\b)?"
    r"(?P<pct>\s?%|\s(?:per\s?cent|percent)\b)?",
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
    """Numbers and names of ``summary`` that ``source`` does not support."""
    have = {value for _, value in extract_numbers(source)}
    numbers = _unique(form for form, value in extract_numbers(summary) if value not in have)
    source_words = _words(source)
    names: List[str] = []
    if lang != "zh":
        stop = stopwords("en")
        for name in extract_names(summary, stop=stop):
            parts = [_base(w) for w in _WORD.findall(name)]
            content = [p for p in parts if p not in TITLES] or parts
            if any(p not in source_words for p in content):
                names.append(name)
    return FaithfulnessReport(tuple(numbers), tuple(_unique(names)))


# -- numbers -------------------------------------------------------------------------
def parse_number(match: "re.Match[str]") -> Optional[Tuple[Decimal, bool]]:
    """(value, is_percent) of one ``_NUMBER`` match; None if it does not parse."""
    try:
        value = Decimal(match["num"].replace(",", ""))
    except InvalidOperation:
        return None
    scale = (match["scale"] or match["word"] or "").lower()
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


def _is_acronym(word: str) -> bool:
    return len(word) >= 2 and word.isupper()


def _base(word: str) -> str:
    """Lower-cased word without a possessive ending ("Brown's" -> "brown")."""
    w = word.lower().replace("\u2019", "'")
    return w[:-2] if w.endswith("'s") else w


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
