"""Text to safe HTML for ``st.markdown(..., unsafe_allow_html=True)``.

Everything from a document or a model is escaped twice over: as HTML (so ``<script>``
shows as text and never runs) and as Markdown (``$`` would start LaTeX, ``*`` emphasis,
``[x](y)`` a link), by writing those characters as numeric character references, which
Markdown shows literally. The only tags in the output are the ones written here.
"""
from __future__ import annotations

import html
from typing import Iterable, Sequence, Tuple

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
    merged: list = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    attr = f' style="{html.escape(style)}"' if style else ""
    out, last = [], 0
    for start, end in merged:
        out.append(escape(text[last:start]))
        out.append(f"<{tag}{attr}>{escape(text[start:end])}</{tag}>")
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


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
