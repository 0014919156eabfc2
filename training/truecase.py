"""Case and spacing back for lowercased, PTB-tokenized text (the suite's CNN/DailyMail).

A model trained to write lowercase highlights would write lowercase summaries, so the
multi-domain mix (``mixture.py``) gives it CNN/DailyMail with the case restored. The
method is the simplest truecaser, the "unigram" baseline of Lita et al. 2003
("tRuEcasIng", ACL): every word takes the form it most often has in cased text away from
a sentence start, and a sentence's first word is capitalised. The cased text is the
suite's other English train splits (BBC articles, chats, dialogues, abstracts).

Departure: a word the table has never seen cannot be restored, and a lowercase name in a
training target would teach the very fault this exists to avoid, so ``restore`` counts
such words and the mix keeps only pairs whose highlights have none (``unknown_words``).
Detokenizing (``detokenize``) undoes the PTB splits the data README lists: clitics
("he 's"), punctuation, brackets, straight quotes (paired open/close in order), hyphens
inside words ("14 - year - old").
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Tuple

_WORD = re.compile(r"[A-Za-z][A-Za-z'.&-]*[A-Za-z]|[A-Za-z]")
_CLITIC = re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m)(?=\s|$)", re.IGNORECASE)
_BEFORE = re.compile(r" ([,.;:?!%)\]}])")
_AFTER = re.compile(r"([(\[{$£€]) ")
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:(?:[A-Za-z]\.)*[A-Za-z]|mr|mrs|ms|dr|st|rev|gen|col|lt|sgt|gov|sen|rep|prof|"
    r"jr|sr|vs|no)$", re.IGNORECASE)
_HYPHEN = re.compile(r"(?<=\w) - (?=\w)")


def starts_sentence(text: str, i: int) -> bool:
    """Whether the word at ``i`` opens a sentence, a line or a quotation."""
    j = i
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    if j == 0 or text[j - 1] == "\n":
        return True
    prev = text[j - 1]
    if prev in ".!?":
        if prev == "." and _ABBREVIATION.search(text, 0, j - 1):
            return False  # "U.S. forces", "Mr. Smith"
        return j < i
    if prev in "\"“" and j == i:  # an opening quote glued to the word
        return True
    return prev in "\"')”’" and j < i and j >= 2 and text[j - 2] in ".!?"


def detokenize(text: str) -> str:
    """PTB-tokenized text back to ordinary spacing, line by line."""
    lines = []
    for line in text.split("\n"):
        s = " ".join(line.split())
        s = _CLITIC.sub(r"\1", s)
        s = _pair_quotes(_pair_quotes(s, '"'), "'")  # while quotes still stand alone
        s = _HYPHEN.sub("-", s)
        s = _BEFORE.sub(r"\1", s)
        lines.append(_AFTER.sub(r"\1", s))
    return "\n".join(lines)


def _pair_quotes(s: str, quote: str) -> str:
    """Straight quotes standing alone as tokens: odd ones open (glued to the word after),
    even ones close (glued to the word before)."""
    parts = s.split(" ")
    out: List[str] = []
    opening = True
    for p in parts:
        if p == quote:
            if opening:
                out.append(quote)  # joined to the next token below
            elif out:
                out[-1] += quote
            opening = not opening
        elif out and out[-1] == quote and not opening:
            out[-1] = quote + p
        else:
            out.append(p)
    return " ".join(out)


@dataclass
class CaseTable:
    """The most frequent cased form of each word, and of each pair of adjacent words, seen
    away from a sentence start. A pair's form wins over the word's: "world" is lowercase
    alone but "World Cup" is a name (the bigram step of Lita et al.'s model)."""

    forms: Dict[str, str]
    pairs: Dict[Tuple[str, str], Tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, texts: Iterable[str], *, min_count: int = 2) -> "CaseTable":
        counts: Dict[str, Counter] = defaultdict(Counter)
        pair_counts: Dict[Tuple[str, str], Counter] = defaultdict(Counter)
        for text in texts:
            prev = None  # (match, counted) of the word before, when adjacent
            for m in _WORD.finditer(text):
                w = m.group()
                first = starts_sentence(text, m.start())
                if not first:  # a sentence's first word says nothing about its case
                    counts[w.lower()][w] += 1
                if prev is not None and not prev[1] and text[prev[0].end():m.start()] == " ":
                    p = prev[0].group()
                    pair_counts[(p.lower(), w.lower())][(p, w)] += 1
                prev = (m, first)
        forms = _most_common(counts, min_count)
        forms["i"] = "I"
        pairs = {k: v for k, v in _most_common(pair_counts, min_count).items()
                 if v != (forms.get(k[0]), forms.get(k[1]))}  # only where the pair differs
        return cls(forms, pairs)

    def restore(self, text: str) -> Tuple[str, int]:
        """``text`` with each word in its table form and sentence starts capitalised, and
        how many words the table did not know (left as they were)."""
        matches = list(_WORD.finditer(text))
        lows = [m.group().lower() for m in matches]
        unknown = 0
        out: List[str] = []
        last = 0
        for i, m in enumerate(matches):
            form = self.forms.get(lows[i])
            if i + 1 < len(matches) and (lows[i], lows[i + 1]) in self.pairs:
                form = self.pairs[(lows[i], lows[i + 1])][0]
            elif i > 0 and (lows[i - 1], lows[i]) in self.pairs:
                form = self.pairs[(lows[i - 1], lows[i])][1]
            if form is None:
                unknown += 1
                form = m.group()
            if starts_sentence(text, m.start()):
                form = form[:1].upper() + form[1:]
            out.append(text[last:m.start()])
            out.append(form)
            last = m.end()
        out.append(text[last:])
        return "".join(out), unknown


def _most_common(counts: Dict, min_count: int) -> Dict:
    out = {}
    for key, c in counts.items():
        form, n = c.most_common(1)[0]
        if n >= min_count:
            out[key] = form
    return out
