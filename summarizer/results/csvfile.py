"""The one CSV format for results: the batch command's ``--out x.csv`` and the app's downloads.

Written so that a spreadsheet opens it safely and a rerun can read it back exactly:
- UTF-8 with a byte-order mark (Excel then reads non-ASCII text right), CRLF rows.
- A cell that starts with ``= + - @``, a tab or a carriage return is prefixed with ``'``
  so a spreadsheet shows it as text instead of running it as a formula (OWASP's advice
  on CSV injection). A cell that starts with ``'`` itself gets one more, so reading
  drops exactly one leading ``'`` and gives back the value as it was: the batch engine
  resumes from a finished CSV and must see the same ids and summaries it wrote.
- ``None`` is an empty cell; reading gives ``None`` for an empty cell.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def cell(value: Optional[str]) -> str:
    """A value as written: ``None`` -> empty, a formula-like start -> ``'`` prefix."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def uncell(text: str) -> Optional[str]:
    """The inverse of :func:`cell`."""
    if text == "":
        return None
    return text[1:] if text.startswith("'") else text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Optional[str]]]) -> bytes:
    """``header`` then ``rows`` (each as long as the header), every cell neutralized."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells under a header of {len(header)}")
        writer.writerow([cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def allow_long_cells() -> None:
    """Raise the csv module's process-wide cell limit (131,072 characters by default, below
    a long article or summary) to its maximum; only ever upwards, so safe for every reader."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


def read_csv(path: Path) -> List[Dict[str, Optional[str]]]:
    """The rows of a file written by :func:`csv_bytes` (its byte-order mark optional, as
    when a spreadsheet saved it again), as dicts keyed by the header, cells restored by
    :func:`uncell`. Cells beyond the header are dropped, missing ones read as ``None``."""
    allow_long_cells()
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        return [{uncell(k) or "": uncell(v) if isinstance(v, str) else None
                 for k, v in rec.items() if k is not None}
                for rec in csv.DictReader(f)]
