"""Compare page: one document through several methods side by side, the words they share
highlighted, a ROUGE matrix and a bar chart; pick the winner and export it."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import streamlit as st

from summarizer.results.files import ResultRow
from summarizer.evaluation.compare import against_reference, mean_agreement, rouge_matrix, shared_spans
from summarizer.evaluation.datasets import reference_lines
from summarizer.nlp import stopwords
from summarizer.registry import DEFAULT_METHOD
from summarizer.evaluation.rouge import ROUGE_TYPES
from summarizer.types import Budget, Document, Summary

from .models import method_names
from .render import highlight
from .settings import AppSettings
from .summarize import run_summary
from .widgets import budget_ui, document_ui, downloads_ui

SHARED_STYLE = "background:#d4f3d0"


def options_ui(settings: AppSettings) -> Tuple[List[str], Budget, str, str]:
    """Methods (in the order chosen), budget, reference text and ROUGE type."""
    names = method_names(settings)
    default = [DEFAULT_METHOD, "lead"]
    methods = st.multiselect("Methods to compare", names, default=default, key="cmp.methods")
    budget = budget_ui("cmp")
    c1, c2 = st.columns([3, 1])
    reference = c1.text_area("Reference summary (optional)", height=90, key="cmp.reference")
    rouge_type = c2.selectbox("ROUGE type", ROUGE_TYPES, key="cmp.rouge")
    return methods, budget, reference.strip(), rouge_type


def side_by_side_ui(summaries: Dict[str, Summary], lang: str) -> None:
    st.subheader("Side by side")
    st.caption("Words that another summary also uses are highlighted.")
    texts = {m: s.text for m, s in summaries.items()}
    spans = shared_spans(texts, stop=stopwords(lang))
    for column, (method, text) in zip(st.columns(len(texts)), texts.items()):
        with column:
            st.markdown(f"**{method}** · {len(text.split())} words")
            st.markdown(highlight(text, spans[method], style=SHARED_STYLE), unsafe_allow_html=True)


def scores_ui(texts: Dict[str, str], reference: str, rouge_type: str, lang: str
              ) -> Dict[str, Dict[str, float]]:
    """The pairwise matrix, ROUGE against the reference, and the chart; returns the
    reference scores per method (empty without a reference)."""
    matrix = rouge_matrix(texts, rouge_type=rouge_type, lang=lang)
    st.subheader(f"{rouge_type} F1 x 100 between summaries")
    st.dataframe([{"method": n, **{k: round(v, 2) for k, v in row.items()}}
                  for n, row in zip(matrix.names, matrix.rows())], hide_index=True)
    by_reference: Dict[str, Dict[str, float]] = {}
    if reference:
        lines = reference_lines(reference, "", lang)
        by_reference = against_reference(texts, lines, lang=lang)
        st.subheader("Against the reference (F1 x 100)")
        st.dataframe([{"method": m, **{k: round(v, 2) for k, v in s.items()}}
                      for m, s in by_reference.items()], hide_index=True)
        chart = {m: s[rouge_type] for m, s in by_reference.items()}
        label = f"{rouge_type} against the reference"
    else:
        chart = mean_agreement(matrix)
        label = f"mean {rouge_type} against the other summaries"
    st.caption(f"Chart: {label}")
    st.bar_chart({"method": list(chart), label: list(chart.values())}, x="method", y=label,
                 horizontal=True, height=60 + 40 * len(chart))
    return by_reference


def winner_ui(document: Document, summaries: Dict[str, Summary],
              by_reference: Dict[str, Dict[str, float]]) -> Optional[str]:
    st.subheader("Winner")
    winner = st.radio("Choose the best summary", list(summaries), horizontal=True,
                      key="cmp.winner")
    if winner is None:
        return None
    row = ResultRow(id=document.source or "document", method=winner,
                    summary=summaries[winner].text, rouge=by_reference.get(winner, {}))
    downloads_ui([row], prefix="cmp", stem=f"condense-{winner}", title=f"Summary ({winner})",
                 formats=("md", "docx", "jsonl", "csv"))
    return winner


def page(settings: AppSettings) -> None:
    st.header("Compare")
    methods, budget, reference, rouge_type = options_ui(settings)
    document = document_ui("cmp", settings, height=150)
    if document is None:
        st.caption("Paste text or upload a file, then compare methods on it.")
        return
    if not methods:
        st.caption("Choose at least one method.")
        return
    summaries: Dict[str, Summary] = {}
    for method in methods:
        summary = run_summary(document, method, budget, settings)
        if summary is not None:
            summaries[method] = summary
    if not summaries:
        return
    side_by_side_ui(summaries, document.lang)
    by_reference = scores_ui({m: s.text for m, s in summaries.items()}, reference, rouge_type,
                             document.lang)
    winner_ui(document, summaries, by_reference)
