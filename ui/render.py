"""Text to safe HTML for ``st.markdown(..., unsafe_allow_html=True)``.

Everything from a document or a model is escaped twice over: as HTML (so ``<script>``
shows as text and never runs) and as Markdown (``$`` would start LaTeX, ``*`` emphasis,
``[x](y)`` a link), by writing those characters as numeric character references, which
Markdown shows literally. The only tags in the output are the ones written here.
"""
from __future__ import annotations

import bisect
import html
from typing import Iterable, List, Sequence, Tuple

from summarizer.documents.cleaning import speaker_tag_end
from summarizer.nlp import is_dialogue  # noqa: F401  (the page asks it for document_html)

_MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|~$:\"'"
_TABLE = {ord(c): f"&#{ord(c)};" for c in _MARKDOWN_SPECIAL}


def escape(text: str) -> str:
    """``text`` as inert HTML+Markdown; newlines become ``<br>``.

    Once each: ``&``, ``<`` and ``>`` by ``html.escape`` (without quotes, whose
    references ``&#x27;`` contain ``#``), then quotes and Markdown's characters by one
    pass of the table, which never revisits what it wrote. Escaping quotes before the
    table showed every apostrophe as ``&#x27;``."""
    return html.escape(text, quote=False).translate(_TABLE).replace("\n", "<br>")


def highlight(text: str, spans: Iterable[Tuple[int, int]], *, tag: str = "mark",
              style: str = "") -> str:
    """``text`` escaped, with each ``(start, end)`` span wrapped in ``<tag>``.

    Spans are sorted; overlapping or touching spans are merged first.
    """
    attr = f' style="{html.escape(style)}"' if style else ""
    out, last = [], 0
    for start, end in _merge(spans):
        out.append(escape(text[last:start]))
        out.append(f"<{tag}{attr}>{escape(text[start:end])}</{tag}>")
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


def _merge(spans: Iterable[Tuple[int, int]]) -> List[List[int]]:
    merged: List[List[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


# One block per line of a dialogue: a turn starts on its own line however the Markdown
# renderer treats <br>, and a long turn wraps under itself. min-height keeps a blank line.
TURN_OPEN = "<div style='margin:0 0 0.3em 0;min-height:1em'>"


def document_html(text: str, spans: Iterable[Tuple[int, int]], *, dialogue: bool,
                  tag: str = "mark", style: str = "") -> str:
    """The document pane: :func:`highlight` of ``text`` for prose; for a dialogue
    (``dialogue=is_dialogue(text)``) each line in its own ``<div>``, the speaker tag that
    opens a turn (``Amanda:``, ``#Person1#:``) in ``<b>``, and the spans (offsets into
    ``text``; one may cover a whole turn, tag included) highlighted within each line.

    A span that covers a tag opens outside the ``<b>``: ``<mark><b>Jerry:</b> Sure</mark>``.
    """
    if not dialogue:
        return highlight(text, spans, tag=tag, style=style)
    attr = f' style="{html.escape(style)}"' if style else ""
    merged = _merge(spans)
    ends = [end for _, end in merged]
    out, start = [], 0
    for line in text.split("\n"):
        end = start + len(line)
        lead = len(line) - len(line.lstrip())
        tag_len = speaker_tag_end(line[lead:])
        bold_end = start + lead + tag_len if tag_len else start
        pos, pieces = start, []
        i = bisect.bisect_right(ends, start)  # the first span that ends inside this line or after
        while i < len(merged) and merged[i][0] < end:
            a, b = max(merged[i][0], start), min(merged[i][1], end)
            i += 1
            if a > pos:
                pieces.append(_bold_head(text, pos, a, bold_end))
            pieces.append(f"<{tag}{attr}>{_bold_head(text, a, b, bold_end)}</{tag}>")
            pos = b
        if pos < end:
            pieces.append(_bold_head(text, pos, end, bold_end))
        out.append(f"{TURN_OPEN}{''.join(pieces)}</div>")
        start = end + 1
    return "".join(out)


def _bold_head(text: str, a: int, b: int, bold_end: int) -> str:
    """``text[a:b]`` escaped, the part of it before ``bold_end`` in ``<b>``."""
    cut = min(max(a, bold_end), b)
    head = f"<b>{escape(text[a:cut])}</b>" if cut > a else ""
    return head + escape(text[cut:b])


def scrolling_box(inner_html: str, *, height_px: int = 400) -> str:
    return (f"<div style='max-height:{height_px}px;overflow:auto;border:1px solid #ddd;"
            f"padding:0.5em;border-radius:4px'>{inner_html}</div>")


def chip_list(items: Sequence[str], *, color: str = "#fde2e2") -> str:
    """Escaped items as inline chips."""
    return " ".join(
        f"<span style='background:{html.escape(color)};padding:1px 6px;border-radius:8px'>"
        f"{escape(item)}</span>" for item in items)


def progress_text(done: int, total: int, elapsed: float, *, failed: int = 0,
                  unit: str = "files") -> str:
    """``"3 / 10 files · 1 failed · 2.0 s elapsed · about 4.7 s left"``; the estimate is
    the mean time per finished file times the files left."""
    parts = [f"{done} / {total} {unit}"]
    if failed:
        parts.append(f"{failed} failed")
    parts.append(f"{elapsed:.1f} s elapsed")
    if 0 < done < total:
        parts.append(f"about {elapsed / done * (total - done):.1f} s left")
    elif done == total and total:
        parts.append("done")
    return " · ".join(parts)
