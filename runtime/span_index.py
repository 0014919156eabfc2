"""The source's capitalised words, numbers and amounts as a character trie, and the
automaton that reads text against it (for ``runtime/constraints.py``).

States: DEAD; BOUND (a word may start here), WORD (inside a lower-case word: free),
NUMSEP (after a whole number and a separator: no digit may follow); or a trie node,
inside a word that must stay a prefix of an entry. A free state dies only on a capital,
a digit or a currency sign that opens a word no entry begins with; a node dies on a
character that no entry continues with, unless the entry may end there and the character
ends the word (a name ends before a space, punctuation or a joiner such as "'s"; a number
before anything but a digit, so units and suffixes may follow: "10bn", "5th").

The automaton is deterministic: a separator after a complete word ("'", "-", ".", ",")
that some longer entry continues with ("Brown's", "2,000.5") follows that entry, and the
next character decides: it goes on in the entry if it can, else the word had ended.
(A word that goes on in the entry for more than one character and then leaves it, as
"Coca-Co" + "x" would, is refused: no backtracking.)

``SpanIndex.scan`` runs the same automaton over every token of a vocabulary at once in
numpy: a character at a time over the tokens still undecided, dropping a token once it
is dead or free with no capital, digit or currency sign left to read.
"""
from __future__ import annotations

import re
import unicodedata
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from .token_texts import TokenTexts

DEAD, BOUND, WORD, NUMSEP, ROOT = 0, 1, 2, 3, 4  # states; trie nodes follow ROOT
UPPER, DIGIT, CURRENCY, LOWER, SEP, OTHER = range(6)  # kinds of character
_WORDISH = (UPPER, DIGIT, LOWER)
NUMBER_SEPARATORS = ".,:"
WORD_JOINERS = "'\u2019-"
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_CURRENCY_BEFORE = re.compile(r"(\S)\s?$")  # the character before a number, a space between


def is_wordish(c: str) -> bool:
    return char_kind(c) in _WORDISH


@lru_cache(maxsize=65536)
def char_kind(c: str) -> int:
    """UPPER, DIGIT, CURRENCY, LOWER (other word characters), SEP (``.,:``) or OTHER.
    CJK ideographs, kana and full-width forms are OTHER: a Latin name or a number next to
    Chinese characters is a word of its own."""
    if c.isdecimal():
        return DIGIT
    if c.isalpha():
        if unicodedata.east_asian_width(c) in "WF":
            return OTHER
        return UPPER if (c.isupper() or c.istitle()) else LOWER
    if c in NUMBER_SEPARATORS:
        return SEP
    category = unicodedata.category(c)
    if category == "Sc":
        return CURRENCY
    if category[0] == "M" or c.isalnum():  # combining marks, other numerals
        return LOWER
    return OTHER


def source_words(text: str) -> List[str]:
    """Words as the automaton reads them: runs of word characters, joined across a single
    ``'``, ``’`` or ``-`` between word characters ("O'Brien", "Coca-Cola")."""
    words, start, i, n = [], None, 0, len(text)
    while i < n:
        wordish = char_kind(text[i]) in _WORDISH
        if wordish and start is None:
            start = i
        elif not wordish and start is not None:
            if not (text[i] in WORD_JOINERS and i + 1 < n and char_kind(text[i + 1]) in _WORDISH):
                words.append(text[start:i])
                start = None
        i += 1
    if start is not None:
        words.append(text[start:])
    return words


def number_entries(text: str) -> List[str]:
    """The source's numbers as they may be written: as in the source, with a currency sign
    that precedes them (glued, or spaced as in the source), without thousands separators.
    Digits inside a word ("G7", "MP3") are that word's, not a number of their own (the
    faithfulness check reads them so too); next to Chinese characters they are numbers."""
    out: List[str] = []
    for m in _NUMBER.finditer(text):
        if m.start() and char_kind(text[m.start() - 1]) in (UPPER, LOWER):
            continue
        number = m.group(0)
        forms = [number]
        if _THOUSANDS.fullmatch(number):
            forms.append(number.replace(",", ""))
        before = _CURRENCY_BEFORE.search(text, max(0, m.start() - 2), m.start())
        signs = []
        if before and char_kind(before.group(1)) == CURRENCY:  # "$10", and "$ 10" as written
            signs = sorted({before.group(1), text[before.start(1):m.start()]})
        out.extend(forms + [sign + f for sign in signs for f in forms])
    return out


class SpanIndex:
    """A character trie over one source's capitalised words, numbers and amounts, and the
    automaton over it. States: DEAD, BOUND (a word may start), WORD (inside a free word),
    NUMSEP (after a number and a separator: no digit may follow), or a trie node."""

    def __init__(self, *, names: bool = True) -> None:
        self.names = names  # False: capitals start no entry (German capitalises its nouns)
        self.children: List[Dict[str, int]] = [{} for _ in range(ROOT + 1)]
        self.end: List[bool] = [False] * (ROOT + 1)
        self.numeric: List[bool] = [False] * (ROOT + 1)
        self.parent: List[Tuple[int, str]] = [(0, "")] * (ROOT + 1)
        self.fallback: List[int] = [DEAD] * (ROOT + 1)
        self._vector: Optional[dict] = None

    @classmethod
    def build(cls, source: str, *, common_words: Iterable[str] = (),
              names: bool = True) -> "SpanIndex":
        """Entries: every source word that opens with a capital (``Yeaman``, ``BBC``, and
        ``Brown`` of ``Brown's``); the title case of every lower-case source word, of every
        all-capitals one and of ``common_words``; every number (``number_entries``).
        ``names=False``: numbers and amounts only; capitalised words are free."""
        index = cls(names=names)
        for word in source_words(source) if names else ():
            kind = char_kind(word[0])
            if kind == UPPER:
                index.add(word)
                if word.isupper() and len(word) > 1:
                    index.add(word[0] + word[1:].lower())
            elif kind == LOWER and word[0].isalpha():
                index.add(word[0].upper() + word[1:])
        for word in common_words if names else ():
            if word and word[0].isalpha():
                index.add(word[0].upper() + word[1:])
        for number in number_entries(source):
            index.add(number, numeric=True)
        index.finish()
        return index

    def add(self, entry: str, *, numeric: bool = False) -> None:
        node = ROOT
        for i, c in enumerate(entry):
            nxt = self.children[node].get(c)
            if nxt is None:
                nxt = len(self.children)
                self.children[node][c] = nxt
                self.children.append({})
                self.end.append(False)
                self.numeric.append(numeric)
                self.parent.append((node, c))
                self.fallback.append(DEAD)
            node = nxt
            # A name may end before a joiner ("Brown" of "Brown's"); a number only at its end.
            if not numeric and i + 1 < len(entry) and entry[i + 1] in WORD_JOINERS:
                self.end[node] = True
        self.end[node] = True

    def finish(self) -> None:
        """Where a separator after a complete word also continues an entry, the node after
        it remembers the free state the word's end would have led to."""
        for node in range(ROOT + 1, len(self.children)):
            up, c = self.parent[node]
            if up > ROOT and self.end[up] and char_kind(c) not in _WORDISH:
                numeric = self.numeric[up] and c in NUMBER_SEPARATORS
                self.fallback[node] = NUMSEP if numeric else BOUND

    # -- the automaton, one character at a time ------------------------------------------
    def step(self, s: int, c: str) -> int:
        kind = char_kind(c)
        if kind == UPPER and not self.names:
            kind = LOWER
        if s <= NUMSEP:
            return self._free(s, c, kind)
        nxt = self.children[s].get(c)
        if nxt is not None:
            return nxt
        if self.end[s]:
            if kind not in _WORDISH:
                return NUMSEP if self.numeric[s] and kind == SEP else BOUND
            return WORD if self.numeric[s] and kind != DIGIT else DEAD
        return self._free(self.fallback[s], c, kind) if self.fallback[s] != DEAD else DEAD

    def _free(self, s: int, c: str, kind: int) -> int:
        if s == DEAD:
            return DEAD
        if s == WORD:
            return WORD if kind in _WORDISH else BOUND
        if kind == DIGIT and s == NUMSEP:
            return DEAD
        if kind in (UPPER, DIGIT, CURRENCY):
            return self.children[ROOT].get(c, DEAD)
        return WORD if kind == LOWER else BOUND

    def run(self, s: int, text: str) -> int:
        for c in text:
            s = self.step(s, c)
            if s == DEAD:
                return DEAD
        return s

    def may_follow(self, s: int, pending: bytes) -> bool:
        """Whether a character that starts with the bytes ``pending`` may come next: in a
        word of the index, only if one of its next characters starts so (or it may end)."""
        if s <= NUMSEP or self.end[s] or self.fallback[s] != DEAD:
            return s != DEAD
        return any(c.encode("utf-8").startswith(pending) for c in self.children[s])

    def can_end(self, s: int) -> bool:
        """Whether the text may stop in state ``s`` (end token, or nothing more)."""
        return BOUND <= s <= NUMSEP or (s > ROOT and (self.end[s] or self.fallback[s] != DEAD))

    # -- the same automaton over the whole vocabulary at once ----------------------------
    def scan(self, s: int, vocab: TokenTexts) -> np.ndarray:
        """(V,) bool: which of ``vocab``'s whole-character tokens (``vocab.plain``) keep
        state ``s`` alive; other tokens are False here (the caller checks them by string).
        A token leaves the loop once it is dead, or in a free state with no capital, digit
        or currency sign left to read (a free state dies only on those)."""
        v, ks = self._vectors(vocab), per_vocab(vocab)
        todo = np.arange(len(vocab.plain))
        if s > ROOT and not self.end[s] and self.fallback[s] == DEAD:  # only its children
            firsts = [i for i, c in enumerate(vocab.chars) if c in self.children[s]]
            todo = todo[np.isin(ks.first, firsts)]
        alive = np.zeros(len(vocab.plain), dtype=bool)
        state = np.full(len(todo), s, dtype=np.int64)
        j = 0
        while len(todo):
            c = vocab.flat[vocab.offsets[todo] + j]
            state = self._vstep(state, v["alpha"][c], ks.kinds[c], v)
            j += 1
            live = state != DEAD
            free_from_here = (state <= NUMSEP) & (ks.last_starter[todo] < j)
            settled = live & ((vocab.lengths[todo] == j) | free_from_here)
            alive[todo[settled]] = True
            more = live & ~settled
            todo, state = todo[more], state[more]
        out = np.zeros(vocab.size, dtype=bool)
        out[vocab.plain] = alive
        return out

    def _vectors(self, vocab: TokenTexts) -> dict:
        if self._vector is None or self._vector["vocab"] is not vocab:
            alphabet = sorted({c for kids in self.children for c in kids})
            code = {c: i for i, c in enumerate(alphabet)}
            keys, values = [], []
            for node, kids in enumerate(self.children):
                for c, child in kids.items():
                    keys.append(node * len(alphabet) + code[c])
                    values.append(child)
            order = np.argsort(np.array(keys, dtype=np.int64), kind="stable")
            self._vector = dict(
                vocab=vocab, width=max(1, len(alphabet)),
                alpha=np.array([code.get(c, -1) for c in vocab.chars], dtype=np.int64),
                keys=np.array(keys, dtype=np.int64)[order],
                values=np.array(values, dtype=np.int64)[order],
                end=np.array(self.end), numeric=np.array(self.numeric),
                fallback=np.array(self.fallback, dtype=np.int64))
        return self._vector

    def _edge(self, s: np.ndarray, alpha: np.ndarray, v: dict) -> np.ndarray:
        """Child of node ``s`` by character ``alpha``, or -1."""
        if not len(v["keys"]):
            return np.full(s.shape, -1, dtype=np.int64)
        key = s * v["width"] + alpha
        at = np.minimum(np.searchsorted(v["keys"], key), len(v["keys"]) - 1)
        return np.where((alpha >= 0) & (v["keys"][at] == key), v["values"][at], -1)

    def _vfree(self, s, alpha, kind, v):
        """The free states' step (``_free``) on arrays: s in DEAD..NUMSEP."""
        out = np.where((kind == UPPER) | (kind == DIGIT) | (kind == LOWER),
                       np.where(s == WORD, WORD, np.where(kind == LOWER, WORD, -1)), BOUND)
        opens = (out == -1) | ((kind == CURRENCY) & (s != WORD))
        if opens.any():
            child = self._edge(np.full(int(opens.sum()), ROOT), alpha[opens], v)
            out[opens] = np.where(child >= 0, child, DEAD)
        out[(s == NUMSEP) & (kind == DIGIT)] = DEAD
        out[s == DEAD] = DEAD
        return out

    def _vstep(self, s, alpha, kind, v):
        """``step`` on arrays."""
        if not self.names:
            kind = np.where(kind == UPPER, LOWER, kind)
        out = np.empty_like(s)
        free = s <= NUMSEP
        if free.any():
            out[free] = self._vfree(s[free], alpha[free], kind[free], v)
        node = ~free
        if node.any():
            n, a, k = s[node], alpha[node], kind[node]
            child = self._edge(n, a, v)
            wordish = (k == UPPER) | (k == DIGIT) | (k == LOWER)
            numeric = v["numeric"][n]
            after = np.where(~wordish, np.where(numeric & (k == SEP), NUMSEP, BOUND),
                             np.where(numeric & (k != DIGIT), WORD, DEAD))
            fb = ~v["end"][n] & (child < 0)
            if fb.any():
                after[fb] = self._vfree(v["fallback"][n][fb], a[fb], k[fb], v)
            out[node] = np.where(child >= 0, child, after)
        return out


@dataclass(frozen=True)
class _VocabKinds:
    kinds: np.ndarray  # char_kind of each of vocab.chars
    first: np.ndarray  # per plain token: its first character (an index into vocab.chars)
    last_starter: np.ndarray  # per plain token: its last capital/digit/currency sign, or -1


_PER_VOCAB: "weakref.WeakKeyDictionary[TokenTexts, _VocabKinds]" = weakref.WeakKeyDictionary()


def per_vocab(vocab: TokenTexts) -> _VocabKinds:
    """What ``SpanIndex.scan`` reads of a vocabulary, computed once per vocabulary."""
    if vocab not in _PER_VOCAB:
        kinds = np.array([char_kind(c) for c in vocab.chars], dtype=np.int64)
        starter = (kinds == UPPER) | (kinds == DIGIT) | (kinds == CURRENCY)
        position = np.arange(len(vocab.flat)) - np.repeat(vocab.offsets, vocab.lengths)
        last = np.full(len(vocab.plain), -1, dtype=np.int64)
        hits = np.flatnonzero(starter[vocab.flat])
        owner = np.repeat(np.arange(len(vocab.plain)), vocab.lengths)[hits]
        np.maximum.at(last, owner, position[hits])
        first = vocab.flat[vocab.offsets] if len(vocab.plain) else np.zeros(0, dtype=np.int64)
        _PER_VOCAB[vocab] = _VocabKinds(kinds, first, last)
    return _PER_VOCAB[vocab]
