"""Tokens in, text pieces out: incremental decoding that never shows half a character or
the start of a stop string.

Byte-level BPE (GPT-2, Llama 3, SmolLM2) splits a Chinese character or an emoji into
several tokens; decoding a prefix that ends inside one gives U+FFFD for the missing
bytes. So after every token we decode the whole generated prefix and hand out only what
is new since the last piece, holding back

* a trailing run of U+FFFD (the character is not complete yet), and
* a tail that could be the beginning of a stop string (it may still become one).

When a stop string appears, the text is cut just before it and the stream is over. When
the tokens run out inside a character (the token limit), ``finish`` drops that half
character and sets ``incomplete``: the text never ends in U+FFFD. The pieces handed out
always join to ``text``. One ``TextStream`` serves one sequence of one
call; it is not shared.
"""
from __future__ import annotations

from typing import Callable, List, Sequence

from runtime.text import REPLACEMENT, complete_text  # noqa: F401  (REPLACEMENT re-exported)

Decode = Callable[[List[int]], str]


def stop_index(text: str, stops: Sequence[str]) -> int:
    """Where the earliest stop string starts in ``text``, or -1."""
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(found) if found else -1


def partial_stop_length(text: str, stops: Sequence[str]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of a stop string."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best


class TextStream:
    """``push(token)`` returns the text that is safe to show now (often ""), ``finish()``
    what was held back at the end; ``stopped`` turns true at a stop string."""

    def __init__(self, decode: Decode, stops: Sequence[str] = ()) -> None:
        self._decode = decode
        self._stops = tuple(s for s in stops if s)
        self._ids: List[int] = []
        self._shown = ""
        self.stopped = False
        self.incomplete = False  # set by finish() when it dropped half a character
        self.text = ""  # the whole text so far, cut at a stop string once one appears

    def push(self, token: int) -> str:
        if self.stopped:
            return ""
        self._ids.append(int(token))
        full = self._decode(self._ids)
        cut = stop_index(full, self._stops)
        if cut >= 0:
            self.stopped = True
            self.text = full[:cut]
            return self._show(self.text)
        self.text = full
        safe = full.rstrip(REPLACEMENT)
        safe = safe[: len(safe) - partial_stop_length(safe, self._stops)]
        return self._show(safe)

    def finish(self) -> str:
        """The rest of ``text`` (a held-back tail). An unfinished character at the very end
        (the tokens ran out inside it) is dropped from ``text`` and ``incomplete`` set."""
        self.text, dropped = complete_text(self.text)
        self.incomplete = self.incomplete or dropped
        return self._show(self.text)

    def _show(self, upto: str) -> str:
        # Decoders that rewrite earlier text (clean-up of spaces before punctuation, say)
        # can make the new text disagree with what was shown: hold until they agree again.
        if len(upto) <= len(self._shown) or not upto.startswith(self._shown):
            return ""
        piece = upto[len(self._shown):]
        self._shown = upto
        return piece
