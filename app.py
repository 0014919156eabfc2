"""Condense workbench (Streamlit). A thin shell: widgets in, library calls, results out.

Start it with ``make run`` (127.0.0.1, headless, no usage statistics).
"""
from __future__ import annotations

import html
from typing import Optional, Sequence, Tuple

import streamlit as st

from summarizer.errors import CondenseError
from summarizer.keyphrases import keyphrases
from summarizer.loaders import SUPPORTED_EXTENSIONS, document_from_text, load_bytes
from summarizer.registry import DEFAULT_METHOD, EXTRACTIVE_METHODS, get_summarizer
from summarizer.types import Budget, Document, Summary


def highlight(text: str, spans: Sequence[Tuple[int, int]]) -> str:
    """HTML of ``text`` with the chosen sentence spans marked (everything escaped)."""
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(html.escape(text[last:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>")


def input_ui() -> Optional[Document]:
    """Pasted text or an uploaded file, as a Document (None until there is input)."""
    upload = st.file_uploader("Upload a document", type=[e.lstrip(".") for e in SUPPORTED_EXTENSIONS])
    pasted = st.text_area("…or paste text", height=200)
    try:
        if upload is not None:
            return load_bytes(upload.getvalue(), upload.name)
        if pasted.strip():
            return document_from_text(pasted, source="pasted text")
    except CondenseError as e:
        st.error(str(e))
    return None


def budget_ui() -> Tuple[str, Budget]:
    methods = list(EXTRACTIVE_METHODS)
    method = st.sidebar.selectbox("Method", methods, index=methods.index(DEFAULT_METHOD))
    kind = st.sidebar.radio("Length", ["sentences", "ratio", "words"], horizontal=True)
    if kind == "sentences":
        budget = Budget(sentences=st.sidebar.number_input("Sentences", 1, 500, 3))
    elif kind == "ratio":
        budget = Budget(ratio=st.sidebar.slider("Ratio of sentences", 0.05, 1.0, 0.2, 0.05))
    else:
        budget = Budget(words=st.sidebar.number_input("Words", 10, 10000, 100))
    return method, budget


def summary_ui(summary: Summary) -> None:
    st.subheader("Summary")
    st.text(summary.text)
    for note in summary.notes:
        st.info(note)
    st.caption("Chosen sentences, highlighted in the document")
    st.markdown(
        f"<div style='max-height:400px;overflow:auto'>{highlight(summary.document.text, summary.spans)}</div>",
        unsafe_allow_html=True,
    )
    st.dataframe(
        [{"#": s.sentence.index, "score": round(s.score, 4), "sentence": s.text} for s in summary.sentences],
        hide_index=True,
    )


def main() -> None:
    st.set_page_config(page_title="Condense", layout="wide")
    st.title("Condense")
    method, budget = budget_ui()
    doc = input_ui()
    if doc is None:
        st.caption("Paste text or upload a file to summarize it.")
        return
    try:
        summary = get_summarizer(method)(doc, budget)
    except CondenseError as e:
        st.error(str(e))
        return
    summary_ui(summary)
    st.subheader("Keyphrases")
    st.write(", ".join(k.text for k in keyphrases(doc)) or "none found")


if __name__ == "__main__":
    main()
