"""Small test files: zip archives and DOCX documents built in memory, and a stand-in for
the model export command."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
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


FAKE_EXPORT = """#!/bin/sh
# Stands in for `python -m export gguf FILE --out DIR ...`: records its arguments, writes the files.
echo "$@" > "$ARGS_FILE"
while [ "$#" -gt 0 ]; do [ "$1" = "--out" ] && out="$2"; shift; done
[ -n "$FAIL" ] && { echo "conversion exploded" >&2; exit 3; }
mkdir -p "$out" && touch "$out/model.onnx" "$out/tokenizer.json" "$out/config.json"
"""


def fake_export(path: Path) -> Path:
    """An executable at ``path`` that ``ensure_model(python=...)`` can run instead of Python:
    it writes its arguments to $ARGS_FILE and an exported folder's files (or fails with exit
    3 when $FAIL is set)."""
    path.write_text(FAKE_EXPORT)
    path.chmod(0o755)
    return path
