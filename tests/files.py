"""Small test files built in memory: zip archives and DOCX documents."""
from __future__ import annotations

import io
import zipfile
from typing import Iterable, Tuple, Union


def zip_bytes(entries: Iterable[Tuple[Union[str, zipfile.ZipInfo], Union[str, bytes]]], *,
              compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of (name or ZipInfo, data) entries, in order (duplicates allowed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def docx_bytes(paragraphs: Iterable[str]) -> bytes:
    """A DOCX with one paragraph per string."""
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()
