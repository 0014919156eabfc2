"""Token-budgeted chunks of sentences, with overlap, for documents longer than a model's
input. Pure functions over token counts so they can be tested without a model."""
from __future__ import annotations

import re
from typing import Callable, List, Sequence


def pack(counts: Sequence[int], budget: int, *, overlap: int = 1) -> List[List[int]]:
    """Group consecutive sentence indices into chunks of at most ``budget`` tokens.

    Each chunk after the first repeats the last ``overlap`` sentences of the one before
    (fewer when they would not leave room for a new sentence), so that a statement cut
    at a boundary is seen whole at least once. Every count must be <= budget.
    """
    if any(c > budget for c in counts):
        raise ValueError("every sentence must fit the budget; split long ones first")
    chunks: List[List[int]] = []
    start, n = 0, len(counts)
    while start < n:
        end, used = start, 0
        while end < n and used + counts[end] <= budget:
            used += counts[end]
            end += 1
        chunks.append(list(range(start, end)))
        if end >= n:
            break
        back = min(overlap, end - start - 1)
        # shrink the overlap until the next new sentence fits beside it
        while back > 0 and sum(counts[end - back:end]) + counts[end] > budget:
            back -= 1
        start = end - back
    return chunks


def split_long(text: str, budget: int, count: Callable[[List[str]], List[int]]) -> List[str]:
    """Cut one over-long sentence into pieces of at most ``budget`` tokens, at spaces
    (between characters for unspaced scripts such as Chinese, and inside a "word" that
    alone exceeds the budget). ``count`` gives the token counts of a list of strings.

    Pieces are sized by the sum of their units' counts; a piece whose real count comes
    out higher (tokenizers merge across units now and then) is halved until it fits.
    """
    units = re.findall(r"\S+\s*", text) if " " in text.strip() else list(text)
    expanded: List[str] = []
    for unit, c in zip(units, count(units)):
        expanded.extend(list(unit) if c > budget else [unit])
    pieces: List[str] = []
    current, used = "", 0
    for unit, c in zip(expanded, count(expanded)):
        if current and used + c > budget:
            pieces.append(current)
            current, used = "", 0
        current += unit
        used += c
    if current.strip():
        pieces.append(current)
    out: List[str] = []
    for piece, c in zip(pieces, count(pieces)):
        if c > budget and len(piece) > 1:
            half = len(piece) // 2
            out.extend(split_long(piece[:half], budget, count) + split_long(piece[half:], budget, count))
        elif piece.strip():
            out.append(piece.strip())
    return out
