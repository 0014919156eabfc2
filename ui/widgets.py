"""Widgets more than one page uses. Each returns plain values; none computes anything."""
from __future__ import annotations

from functools import partial
from typing import Callable, List, Optional, Sequence, Tuple

import streamlit as st

from summarizer.results.files import WRITERS, ResultRow
from summarizer.errors import CondenseError
from summarizer.documents.loaders import SUPPORTED_EXTENSIONS, document_from_text, load_bytes
from summarizer.types import Budget, Document

from .render import escape
from .settings import AppSettings

UPLOAD_TYPES = [e.lstrip(".") for e in SUPPORTED_EXTENSIONS]
LENGTH_KINDS = ["auto", "sentences", "ratio", "words"]
DOWNLOAD_LABELS = {"csv": "CSV", "jsonl": "JSONL", "md": "Markdown", "docx": "DOCX"}
PASTED = "pasted text"  # the source of a document from the paste box


def document_ui(prefix: str, settings: AppSettings, *, height: int = 200) -> Optional[Document]:
    """Pasted text or one uploaded file as a Document; None until there is input.

    A file wins over pasted text. Problems (bad file, too long) are shown, not raised.
    """
    upload = upload_ui(prefix, settings)
    pasted = st.text_area("…or paste text", height=height, key=f"{prefix}.text",
                          persist_state="session")
    try:
        if upload is not None:
            return load_bytes(upload[1], upload[0], config=settings.loader_config())
        if pasted.strip():
            return document_from_text(pasted, source=PASTED, config=settings.loader_config())
    except CondenseError as e:
        st.error(str(e))
    return None


def upload_ui(prefix: str, settings: AppSettings, *, label: str = "Upload a document"
              ) -> Optional[Tuple[str, bytes]]:
    """``(name, bytes)`` of the page's uploaded file, kept across page switches.

    Streamlit drops an uploader's file when its page is not drawn, and an uploader cannot
    be given a value back, so the bytes are kept beside it. The uploader's key is absent
    before the widget is drawn only when its page was left (or on the first visit); a key
    holding None means the user removed the file, which forgets the kept copy too."""
    key, kept_key = f"{prefix}.upload", f"{prefix}.kept_upload"
    returning = key not in st.session_state
    upload = st.file_uploader(label, type=UPLOAD_TYPES, key=key,
                              max_upload_size=settings.max_upload_mb)
    if upload is not None:
        st.session_state[kept_key] = (upload.name, upload.getvalue())
    elif not returning:
        st.session_state.pop(kept_key, None)
    kept = st.session_state.get(kept_key)
    if upload is None and kept is not None:
        c1, c2 = st.columns([4, 1])
        c1.caption(f"Using {kept[0]}, uploaded before you left this page.")
        if c2.button("Forget it", key=f"{prefix}.clear"):
            st.session_state.pop(kept_key, None)
            st.rerun()
    return kept


AUTO_CAPTION = ("Whole sentences nearest a tenth of the document's words (a target of 25 to "
                "250); the note under the summary says what was chosen.")


def budget_ui(prefix: str, *, default_kind: str = "auto", auto_caption: str = AUTO_CAPTION
              ) -> Budget:
    """Length of the summary: automatic (``auto_caption`` says what that means), sentences,
    a ratio of the sentences, or a word ceiling."""
    c1, c2 = st.columns([1, 2])
    kind = c1.radio("Length", LENGTH_KINDS, index=LENGTH_KINDS.index(default_kind),
                    horizontal=True, key=f"{prefix}.kind", persist_state="session")
    if kind == "auto":
        c2.caption(auto_caption)
        return Budget(auto=True)
    if kind == "sentences":
        count = c2.number_input("Sentences", 1, 500, 3, key=f"{prefix}.sentences",
                                persist_state="session")
        return Budget(sentences=int(count))
    if kind == "ratio":
        return Budget(ratio=float(c2.slider("Ratio of sentences", 0.05, 1.0, 0.2, 0.05,
                                            key=f"{prefix}.ratio", persist_state="session")))
    words = c2.number_input("Words", 10, 10_000, 100, step=10, key=f"{prefix}.words",
                            persist_state="session")
    return Budget(words=int(words))


def downloads_ui(rows: Sequence[ResultRow], *, prefix: str, stem: str, title: str,
                 formats: Sequence[str] = ("csv", "jsonl", "md", "docx")) -> None:
    """One download button per format of ``rows``; downloading does not rerun the page."""
    files = []
    for fmt in formats:
        writer, mime = WRITERS[fmt]
        kwargs = {"title": title} if fmt in ("md", "docx") else {}
        files.append((fmt, partial(writer, list(rows), **kwargs), mime))
    file_downloads_ui(files, prefix=prefix, stem=stem)


def file_downloads_ui(files: Sequence[Tuple[str, Callable[[], bytes], str]], *, prefix: str,
                      stem: str) -> None:
    """One download button per ``(format, make the bytes, mime type)``, side by side (each
    as wide as its label, wrapping on a narrow page), keyed ``<prefix>.dl.<format>``. The
    callables run only when a button is clicked: no file is built per rerun, and
    downloading does not rerun the page."""
    row = st.container(horizontal=True)
    for fmt, data, mime in files:
        row.download_button(DOWNLOAD_LABELS[fmt], data, file_name=f"{stem}.{fmt}", mime=mime,
                            key=f"{prefix}.dl.{fmt}", on_click="ignore",
                            icon=":material/download:")


def notes_ui(notes: List[str]) -> None:
    """The notes of a summary, one box, one line each (escaped: a note may quote a file
    name)."""
    if notes:
        st.info("\n".join(f"- {escape(note)}" for note in notes), icon=":material/info:")
