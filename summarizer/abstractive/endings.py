"""Whole sentences: an abstractive summary never ends inside a sentence or a number.

A token budget runs out wherever it runs out: "...during a row in front of their north",
"made from 2,00" (the built-in summarizer, before this). So decoding gets a margin past
the budget (``MARGIN``, a fifth more tokens) and a stop rule (``SentenceStop``: a row past
its budget ends as soon as its text holds a whole sentence), and ``end_whole`` then cuts
the text:

* back to the last sentence that ended within the budget, if one did ("cut");
* else at the end of the first sentence, which the margin let finish ("finished");
* else, when no sentence ended even within the margin, at the last whole word, never
  inside a number ("word"), and the note says the summary stops mid-sentence.

The same cut applies where decoding stopped short of the budget inside a sentence: the
repeat rule ends a summary where it starts over ("...from $1"). A text the model ended
with its end token is whole as it is, full stop or not (a chat summary may end without).

Sentences are the project's (``summarizer/nlp.py``, sentencex), so "Mr." and "1.5" end none;
and a sentence counts as ended only once the text goes on after it (or the model ended
it), since "$1." may be going on to "$1.29". Each result says what was done, and
``Ending.note`` says it in plain words for the summary's notes.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from summarizer.nlp import tokenizer_for

# The note of a summary that stops inside a sentence; the quality suite counts them by it.
MID_SENTENCE = ("No sentence ended within the length limit and a fifth more, so the summary "
                "stops mid-sentence, at its last whole word.")
MARGIN = 0.2  # extra tokens a sentence may take to finish, as a fraction of the budget
_TERMINAL = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]\u300d\u300f\uff09\u3011\u300b]*$")
# A sentence end with text after it, or a CJK one (no space follows those): the cheap test
# before the sentence splitter runs.
_GOES_ON = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+\S|[\u3002\uff01\uff1f]")
_CLOSING = ".!?\u2026\u3002\uff01\uff1f\"'\u201d\u2019)]\u300d\u300f\uff09\u3011\u300b"
# What may not end a text cut at a word: joiners and openers of what follows (not straight
# quotes, which close as often as they open: 'said "no,"').
_DANGLING = " \t\n,;:-\u2013\u2014(\u201c\u2018\uff0c\u3001\uff1b\uff1a\uff08"
_AFTER_DIGIT = re.compile(r"\d[.,:]$")
_UNSPACED_TAIL = re.compile(r"[0-9A-Za-z.,:%$\u00a3\u20ac]+$")


def margin_tokens(budget: int) -> int:
    """Tokens past ``budget`` a sentence may take to finish."""
    return max(1, math.ceil(MARGIN * budget))


def sentence_ends(text: str, lang: str, *, last: str = "never") -> List[int]:
    """Offsets in ``text`` where its whole sentences end: each sentence that ends with
    terminal punctuation and has text after it. The last sentence, which has none:
    ``last="always"`` (the model ended the text, full stop or not), "punctuated" (decoding
    stopped there for another reason: it counts if it ends with terminal punctuation, but
    not a full stop after a digit, as in "$1.", which may have been going on to "$1.29"),
    "never" (the text is still being written: the stop rule's view)."""
    sentences = tokenizer_for(lang).sentences(text)
    ends = []
    for k, sentence in enumerate(sentences):
        if k < len(sentences) - 1:
            whole = ends_sentence(sentence.text)
        elif last == "punctuated":
            whole = ends_sentence(sentence.text) and not _AFTER_DIGIT.search(sentence.text)
        else:
            whole = last == "always"
        if whole:
            ends.append(sentence.end)
    return ends


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends with terminal punctuation, then any closing quotes or brackets
    (no stripping: a trailing space is not an end)."""
    return bool(_TERMINAL.search(text))


class SentenceStop:
    """Stop rule for greedy search (``runtime.search.StopRule``): a row past ``budget``
    tokens ends once its text holds a whole sentence. Past the budget that happens at
    once when one ended within it (one token later, which shows that it ended), else
    where the first sentence ends. ``langs[row]``: the language of row ``row``."""

    def __init__(self, decode: Callable[[Sequence[int]], str], budget: int,
                 langs: Sequence[str]) -> None:
        self.decode, self.budget, self.langs = decode, budget, list(langs)

    def __call__(self, row: int, tokens: List[int]) -> bool:
        if len(tokens) <= self.budget:
            return False
        text = self.decode(tokens)
        return bool(_GOES_ON.search(text)) and bool(sentence_ends(text, self.langs[row]))


@dataclass(frozen=True)
class Ending:
    """A generated text cut to whole sentences. ``how``: "whole" (nothing cut that the
    budget let the model write), "cut" (back to the last whole sentence), "finished" (the
    first sentence, let run ``over`` tokens past the budget), "word" (no sentence ended:
    at the last whole word). ``why``: what stopped decoding: "limit" (the length),
    "model" (its end token), "repeat" (the repeat rule, short of the length)."""

    text: str
    how: str
    why: str
    over: int = 0

    def note(self) -> Optional[str]:
        if self.how == "cut":
            if self.why == "repeat":
                return ("Ended at the last whole sentence: the model broke off the next one "
                        "where it began repeating itself.")
            return "Ended at the last whole sentence: the length limit fell inside the next one."
        if self.how == "finished":
            return (f"Let the first sentence finish: it ran {self.over:,} token"
                    f"{'' if self.over == 1 else 's'} past the length limit.")
        if self.how == "word":
            return MID_SENTENCE
        return None


def end_whole(tokens: Sequence[int], *, budget: int, limit: int, finished: bool,
              decode: Callable[[Sequence[int]], str], lang: str) -> Ending:
    """``tokens`` (what decoding wrote, without the end token; ``finished``: it wrote one)
    as text that ends at a sentence end; ``budget``: the tokens the length allows,
    ``limit``: the tokens decoding was let write (the budget and its margin).
    ``decode``: token ids to text (not stripped)."""
    text = decode(tokens)
    why = "model" if finished else ("limit" if len(tokens) >= min(budget, limit) else "repeat")
    ends = sentence_ends(text, lang, last="always" if finished else "punctuated")
    stripped = len(text.rstrip())
    over = len(tokens) > budget
    if not over and (not text.strip() or (ends and ends[-1] >= stripped)):
        return Ending(text.strip(), "whole", why)
    within = len(decode(tokens[:budget])) if over else len(text)
    # a sentence whose closing marks came after the budget still ended within it
    inside = [e for e in ends if not text[within:e].strip(_CLOSING)]
    if inside:
        cut = inside[-1]
        how = "cut" if text[cut:within].strip() else "whole"  # only margin text dropped
        if _has_words(text[:cut]):
            return Ending(text[:cut].strip(), how, why)
    if ends:  # none within the budget: the first sentence, finished in the margin
        cut = ends[0]
        k = budget
        while k < len(tokens) and len(decode(tokens[:k])) < cut:
            k += 1
        return Ending(text[:cut].strip(), "finished", why, over=k - budget)
    cut = cut_at_word(text)
    # a text with one word (or none after punctuation) keeps it: a summary is never emptied
    return Ending(cut if _has_words(cut) else text.strip(), "word", why)


def _has_words(text: str) -> bool:
    """Whether a cut kept a word: one that keeps only punctuation ("." of a run that began
    with one) would empty the summary, so the cut is not taken."""
    return any(c.isalnum() for c in text)


def cut_at_word(text: str) -> str:
    """``text`` without its last word, which decoding may have stopped inside (the last
    characters of a run with no spaces, in Chinese), and without what would dangle
    after the cut (a comma, a dash, an opening quote)."""
    text = text.rstrip().rstrip("\ufffd")
    head, space, _ = text.rpartition(" ")
    if space and head.strip():
        text = head
    elif not space and any(unicodedata.east_asian_width(c) in "WF" for c in text):
        text = _UNSPACED_TAIL.sub("", text)
    return text.rstrip(_DANGLING)
