"""Summarize page: one document in; the summary, its sentences highlighted in the
document with their scores, keyphrases, and for abstractive output a faithfulness check."""
from __future__ import annotations

from typing import Tuple

import streamlit as st

from summarizer.errors import CondenseError
from summarizer.evaluation.faithfulness import FaithfulnessReport, check_faithfulness
from summarizer.keyphrases import Keyphrase, keyphrases
from summarizer.languages import language_name
from summarizer.registry import ABSTRACTIVE
from summarizer.types import Budget, Document, Summary

from .models import method_names, summarizer_for
from .render import chip_list, highlight, scrolling_box
from .settings import AppSettings
from .widgets import budget_ui, document_ui, notes_ui


@st.cache_data(max_entries=64, show_spinner="Summarizing…")
def summarize_cached(document: Document, method: str, budget: Budget,
                     settings: AppSettings) -> Summary:
    return summarizer_for(method, settings)(document, budget)


@st.cache_data(max_entries=64, show_spinner=False)
def keyphrases_cached(document: Document) -> list:
    return keyphrases(document)


def run_summary(document: Document, method: str, budget: Budget, settings: AppSettings):
    """The summary, or None after showing why there is none."""
    try:
        return summarize_cached(document, method, budget, settings)
    except CondenseError as e:
        st.error(str(e))
    except Exception as e:  # a model folder that does not load: say so, keep the page up
        if method != ABSTRACTIVE:
            raise
        st.error(f"The abstractive model in {settings.abstractive_folder()!r} could not be used "
                 f"({type(e).__name__}: {e}). Check the folder in Settings.")
    return None


def options_ui(settings: AppSettings) -> Tuple[str, Budget]:
    methods = method_names(settings)
    c1, c2 = st.columns([1, 3])
    method = c1.selectbox("Method", methods, key="sum.method",
                          help="'abstractive' appears when a model folder is set in Settings, "
                               "or once `python -m summarizer setup` has prepared the built-in "
                               "summarizer")
    with c2:
        budget = budget_ui("sum")
    return method, budget


def summary_ui(summary: Summary) -> None:
    st.subheader("Summary")
    st.text(summary.text)
    notes_ui(list(summary.notes))
    if summary.sentences:
        st.caption("Chosen sentences and their scores")
        st.dataframe(
            [{"#": s.sentence.index, "score": round(s.score, 4), "sentence": s.text}
             for s in summary.sentences], hide_index=True, width="stretch")


def faithfulness_ui(report: FaithfulnessReport) -> None:
    st.subheader("Faithfulness check")
    if report.ok:
        st.success("Every number and name in the summary also appears in the document.")
        return
    st.warning("Possibly unfaithful: these are in the summary but not in the document.")
    if report.numbers:
        st.markdown("**Numbers:** " + chip_list(report.numbers), unsafe_allow_html=True)
    if report.names:
        st.markdown("**Names:** " + chip_list(report.names), unsafe_allow_html=True)


def document_view_ui(summary: Summary) -> None:
    st.subheader("Document")
    caption = "Chosen sentences are highlighted." if summary.sentences else \
        "An abstractive summary has no source sentences to highlight."
    language = f"Language: {language_name(summary.document.lang)} (detected)"  # the app never asks
    st.caption(f"{summary.document.source or 'document'} · {language} · {caption}")
    st.markdown(scrolling_box(highlight(summary.document.text, summary.spans), height_px=520),
                unsafe_allow_html=True)


def keyphrases_ui(found: list) -> None:
    st.subheader("Keyphrases")
    if found:
        st.markdown(chip_list([k.text for k in found], color="#e3ecfa"), unsafe_allow_html=True)
    else:
        st.write("none found")


def page(settings: AppSettings) -> None:
    st.header("Summarize")
    method, budget = options_ui(settings)
    document = document_ui("sum", settings)
    if document is None:
        st.caption("Paste text or upload a file to summarize it.")
        return
    summary = run_summary(document, method, budget, settings)
    if summary is None:
        return
    left, right = st.columns(2)
    with left:
        summary_ui(summary)
        if summary.is_abstractive:
            faithfulness_ui(check_faithfulness(summary.text, document.text, lang=document.lang))
        found: list[Keyphrase] = keyphrases_cached(document)
        keyphrases_ui(found)
    with right:
        document_view_ui(summary)
