"""Progress inside one document, for a batch: an abstractive summarizer asked for
map-reduce writes a long document's summary in parts, then combines them
(``summarizer/abstractive/seq2seq.py``), which can take minutes on a CPU. Its
``on_progress`` events (a ``Progress`` per batch of parts, and per token of the text being
written) become, here, one :class:`PartProgress` per step, "writing part 3 of 7", with
the fraction of the document done, so a batch can show more than one bar standing still.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple


@dataclass(frozen=True)
class PartProgress:
    """One step of one document's summary. ``parts`` > 0: parts ``part`` to ``last`` of
    ``parts`` (round ``round``) are being written; ``parts`` == 0: the summary itself,
    after ``round`` rounds of parts (0: the document fit the model in one pass)."""

    round: int
    part: int
    last: int
    parts: int
    combined: int  # parts of the last round, which the summary combines
    fraction: float  # of the document's work known so far (done parts / parts + summary)

    def describe(self) -> str:
        """``"writing part 3 of 7"``, ``"writing parts 1-8 of 20 (round 2)"``,
        ``"combining the 7 parts"`` or ``"writing the summary"``."""
        if self.parts:
            which = (f"part {self.part}" if self.last == self.part
                     else f"parts {self.part}-{self.last}")
            round_note = f" (round {self.round})" if self.round > 1 else ""
            return f"writing {which} of {self.parts}{round_note}"
        if self.round:
            return f"combining the {self.combined} parts"
        return "writing the summary"


class PartTracker:
    """An ``on_progress`` for one document: passes each new step to ``on_part``; the
    events of a text growing token by token are not steps and are not passed on."""

    def __init__(self, on_part: Callable[[PartProgress], None]) -> None:
        self.on_part = on_part
        self.rounds: List[int] = []  # parts per round seen so far
        self._step: Optional[Tuple[int, int, int, int]] = None

    def __call__(self, progress) -> None:  # a summarizer.abstractive.seq2seq.Progress
        step = (progress.round, progress.parts, progress.part, progress.last)
        if step == self._step:
            return
        self._step = step
        if progress.parts and len(self.rounds) < progress.round:
            self.rounds.append(progress.parts)
        earlier = sum(self.rounds[:-1]) if progress.parts else sum(self.rounds)
        done = earlier + (progress.part - 1 if progress.parts else 0)
        known = sum(self.rounds) + 1  # every part seen, and the summary that combines them
        self.on_part(PartProgress(progress.round, progress.part, progress.last, progress.parts,
                                  self.rounds[-1] if self.rounds else 0, done / known))
