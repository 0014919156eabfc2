"""Compare page: one document through several methods at the same length, side by side.

Each summary shows its length in words, the words only it uses (highlighted) and, for an
extractive one, where each sentence stands in the document and which other methods chose
it; then the scores (ROUGE against a reference, the matrix between summaries), the
comparison as files, and a winner to export. Every comparison is kept in the history and
reopened from ``?run=<id>``. The logic is ``summarizer.evaluation.compare``; this module
draws it.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import Dict, List, Optional

import streamlit as st

from summarizer.errors import CondenseError
from summarizer.evaluation.compare import (Comparison, SummaryLine, budget_from_text,
                                           compare_summaries, sentence_overlap, summary_lines,
                                           word_count)
from summarizer.evaluation.datasets import reference_lines
from summarizer.evaluation.rouge import ROUGE_TYPES
from summarizer.languages import detect_language
from summarizer.registry import DEFAULT_METHOD
from summarizer.results.comparison import WRITERS as COMPARISON_WRITERS
from summarizer.results.files import ResultRow
from summarizer.types import Budget, Document, Summary

from .history import run_from_url, save_run
from .models import method_names
from .render import escape, highlight
from .settings import AppSettings
from .summarize import run_summary
from .widgets import budget_ui, document_ui, downloads_ui, file_downloads_ui

UNIQUE_STYLE = "background:#fde68a;border-radius:2px"
LABEL_STYLE = "color:#6b7280;font-size:0.8em"
SHOWN = "cmp.shown_run"  # the history run this page shows (saved or reopened)
REOPENED = "cmp.reopened"  # a reopened run's stored comparison, while its inputs stand
LENGTH_KEYS = {"sentences": "cmp.sentences", "ratio": "cmp.ratio", "words": "cmp.words"}


@dataclass(frozen=True)
class Choice:
    """What the user asked for. ``length``: the Length widgets' budget; with
    ``match_reference`` and a reference, a words budget becomes the reference's length."""

    methods: List[str]
    length: Budget
    reference: str
    match_reference: bool
    rouge_type: str

    @property
    def matches_reference(self) -> bool:
        return self.length.words is not None and bool(self.reference) and self.match_reference

    @cached_property
    def budget(self) -> Budget:
        """What every method gets. The reference's words are counted in its own language
        (a Chinese one by jieba's words), as the budget will count the summary's."""
        if self.matches_reference:
            lang = detect_language(self.reference)
            return Budget(words=max(1, word_count(self.reference, lang)))
        return self.length

    def settings(self, lang: str) -> dict:
        """The history's settings of a run (its texts are its inputs)."""
        return {"methods": list(self.methods), "length": self.length.describe(),
                "match_reference": self.match_reference, "rouge_type": self.rouge_type,
                "budget": self.budget.describe(), "lang": lang}


def _key(text: str, reference: str, settings: dict) -> str:
    return json.dumps([text, reference, settings], sort_keys=True, ensure_ascii=False)


# -- reopening a run from the history ------------------------------------------------
def reopen_ui(settings: AppSettings) -> None:
    """When ``?run=`` names a comparison this page is not showing, put its inputs back
    into the widgets' keys (before they are drawn) and keep its stored result to show."""
    run = run_from_url("comparison")
    if run is None or run.id == st.session_state.get(SHOWN):
        return
    state, saved = st.session_state, run.settings
    state[SHOWN] = run.id
    try:
        wanted, length = list(saved["methods"]), budget_from_text(saved["length"])
        match, rouge_type = bool(saved["match_reference"]), saved["rouge_type"]
        if rouge_type not in ROUGE_TYPES:
            raise ValueError(rouge_type)
    except (KeyError, TypeError, ValueError, CondenseError) as e:
        st.warning(f"Run {run.id} cannot be reopened here: its settings are not a "
                   f"comparison's ({type(e).__name__}: {e}).")
        return
    available = method_names(settings)
    methods = [m for m in wanted if m in available]
    missing = [m for m in wanted if m not in available]
    if missing:
        st.warning(f"Run {run.id} compared {', '.join(missing)}, not available now; the "
                   "other methods are compared again.")
    kind = length.describe().partition("=")[0]
    state.update({"cmp.text": run.inputs.get("text", ""), "cmp.methods": methods,
                  "cmp.kind": kind, "cmp.reference": run.inputs.get("reference", ""),
                  "cmp.match_reference": match, "cmp.rouge": rouge_type})
    if kind in LENGTH_KEYS:
        state[LENGTH_KEYS[kind]] = getattr(length, kind)
    state.pop("cmp.kept_upload", None)  # the run's text, not an earlier upload
    state[REOPENED] = {"id": run.id, "created": run.created, "source": run.source,
                       "key": _key(run.inputs.get("text", ""), run.inputs.get("reference", ""),
                                   saved), "outputs": run.outputs}


# -- inputs --------------------------------------------------------------------------
def options_ui(settings: AppSettings) -> Choice:
    names = method_names(settings)
    methods = st.multiselect("Methods to compare", names, default=[DEFAULT_METHOD, "lead"],
                             key="cmp.methods", persist_state="session")
    length = budget_ui("cmp", default_kind="words")
    c1, c2 = st.columns([3, 1])
    reference = c1.text_area("Reference summary (optional)", height=90, key="cmp.reference",
                             persist_state="session")
    rouge_type = c2.selectbox("ROUGE type", ROUGE_TYPES, key="cmp.rouge", persist_state="session")
    match = True
    if length.words is not None and reference.strip():
        match = c2.checkbox("Reference's length", value=True, key="cmp.match_reference",
                            persist_state="session",
                            help="Give every method as many words as the reference has")
    choice = Choice(methods, length, reference.strip(), match, rouge_type)
    budget_caption(choice)
    return choice


def budget_caption(choice: Choice) -> None:
    budget = choice.budget
    if budget.words is None:
        each = (f"{budget.sentences} sentence{'s' if budget.sentences > 1 else ''}"
                if budget.sentences else
                f"{budget.ratio:g} of the document's sentences" if budget.ratio else
                "its automatic length")
        st.caption(f"Length: {each} per method. Summaries of different lengths are not "
                   "comparable by ROUGE, which favours the longer one: choose words to "
                   "compare at equal length.")
        return
    why = ("the reference's length" if choice.matches_reference else
           "give a reference to use its length")
    st.caption(f"Equal length: every method may use up to **{budget.words} words** ({why}), "
               "so that ROUGE compares what the summaries say, not how long they are. Beside "
               "each summary: the words it used.")


# -- results -------------------------------------------------------------------------
def _line_html(line: SummaryLine, total: int) -> str:
    label = ""
    if line.source is not None:
        also = f"also in {', '.join(line.also_in)}" if line.also_in else "only this method"
        label = (f"<div style='{LABEL_STYLE}'>"
                 f"{escape(f'sentence {line.source + 1} of {total} · {also}')}</div>")
    return (f"<div style='margin-bottom:0.6em'>{label}"
            f"{highlight(line.text, line.unique, style=UNIQUE_STYLE)}</div>")


def side_by_side_ui(comparison: Comparison) -> None:
    st.subheader("Side by side")
    st.markdown(f"<span style='{UNIQUE_STYLE}'>Highlighted</span>: words only that summary "
                "uses (stop words aside; forms of one word count as one). Above each "
                "extracted sentence: where it stands in the document and which other methods "
                "chose it.", unsafe_allow_html=True)
    lines = summary_lines(comparison.summaries)
    for column, result in zip(st.columns(len(comparison.results)), comparison.results):
        own = sum(len(x.unique) for x in lines[result.method])
        words = f"{result.words} words"
        if result.over_budget:
            words += f", over the {result.summary.budget.words}-word budget"
        with column:
            st.markdown(f"<b>{escape(result.method)}</b> · {escape(words)} · {own} highlighted",
                        unsafe_allow_html=True)
            if result.summary.is_abstractive:
                st.caption("Written by the model: no source sentences to point at.")
            st.markdown("".join(_line_html(x, comparison.sentences_in_document)
                                for x in lines[result.method]), unsafe_allow_html=True)
            for note in result.summary.notes:  # e.g. a long article summarized in parts
                st.caption(escape(note))


def overlap_ui(comparison: Comparison) -> None:
    overlap = sentence_overlap(comparison.summaries)
    if len(overlap) < 2:
        return
    st.subheader("Sentences in common")
    st.caption(f"How many of the document's {comparison.sentences_in_document} sentences "
               "both methods chose; on the diagonal, how many each chose.")
    st.dataframe([{"method": m, **row} for m, row in overlap.items()], hide_index=True)


def scores_ui(comparison: Comparison) -> None:
    kind = comparison.matrix.rouge_type
    st.subheader("Scores")
    table = [{"method": r.method, "words": r.words,
              **{k: round(v, 2) for k, v in (r.rouge or {}).items()},
              f"agreement ({kind})": round(r.agreement, 2)} for r in comparison.results]
    st.dataframe(table, hide_index=True)
    uneven = comparison.uneven()
    if uneven:
        st.warning(f"The summaries are {uneven[0]} to {uneven[1]} words long: ROUGE favours "
                   "the longer ones, so weigh the scores with that in mind.")
    st.caption(("ROUGE F1 x 100 against the reference; " if comparison.reference else "")
               + "agreement: mean ROUGE F1 x 100 against the other summaries.")
    st.markdown(f"**{kind} F1 x 100 between summaries**")
    st.dataframe([{"method": n, **{k: round(v, 2) for k, v in row.items()}}
                  for n, row in zip(comparison.matrix.names, comparison.matrix.rows())],
                 hide_index=True)
    if comparison.reference:
        chart = {r.method: r.rouge[kind] for r in comparison.results}
        label = f"{kind} against the reference"
    else:
        chart = {r.method: r.agreement for r in comparison.results}
        label = f"mean {kind} against the other summaries"
    st.caption(f"Chart: {label}")
    st.bar_chart({"method": list(chart), label: list(chart.values())}, x="method", y=label,
                 horizontal=True, height=60 + 40 * len(chart))


def comparison_downloads_ui(comparison: Comparison) -> None:
    st.subheader("Download the comparison")
    files = [(fmt, partial(writer, comparison, **({"title": "Comparison"}
                                                  if fmt in ("md", "docx") else {})), mime)
             for fmt, (writer, mime) in COMPARISON_WRITERS.items()]
    with st.container(key="cmp_downloads"):
        file_downloads_ui(files, prefix="cmp", stem="condense-comparison")


def winner_ui(document: Document, comparison: Comparison) -> None:
    st.subheader("Winner")
    summaries = comparison.summaries
    winner = st.radio("Choose the best summary", list(summaries), horizontal=True,
                      key="cmp.winner", persist_state="session")
    if winner is None or winner not in summaries:
        return
    rouge = next(r.rouge for r in comparison.results if r.method == winner) or {}
    row = ResultRow(id=document.source or "document", method=winner,
                    summary=summaries[winner].text, rouge=rouge)
    with st.container(key="cmp_winner_downloads"):
        downloads_ui([row], prefix="cmp.winner", stem=f"condense-{winner}",
                     title=f"Summary ({winner})", formats=("md", "docx", "csv", "jsonl"))


# -- running -------------------------------------------------------------------------
def _name(document: Document) -> str:
    if document.title:
        return document.title
    first = document.text.strip().split("\n", 1)[0]
    return first if len(first) <= 60 else first[:59].rstrip() + "…"


def compare_ui(document: Document, choice: Choice, settings: AppSettings
               ) -> Optional[Comparison]:
    """The comparison: the reopened run's while its inputs stand, else computed anew and
    kept in the history."""
    saved_settings = choice.settings(document.lang)
    reopened = st.session_state.get(REOPENED)
    if reopened and reopened["key"] == _key(document.text, choice.reference, saved_settings):
        when = reopened["created"][:16].replace("T", " ")
        st.caption(f"Run {reopened['id']} from the history ({when} UTC), as it was saved.")
        source = replace(document, source=reopened["source"])
        return Comparison.from_dict(reopened["outputs"], source)
    started = time.perf_counter()
    summaries: Dict[str, Summary] = {}
    for method in choice.methods:
        summary = run_summary(document, method, choice.budget, settings)
        if summary is not None:
            summaries[method] = summary
    if not summaries:
        return None
    reference = reference_lines(choice.reference, "", document.lang) if choice.reference else None
    comparison = compare_summaries(summaries, reference=reference, rouge_type=choice.rouge_type)
    inputs = {"text": document.text, **({"reference": choice.reference} if choice.reference else {})}
    scores = ({r.method: r.rouge for r in comparison.results} if comparison.reference else None)
    run_id = save_run("comparison", name=_name(document), source=document.source or "document",
                      method=", ".join(summaries), settings=saved_settings, inputs=inputs,
                      outputs=comparison.to_dict(), scores=scores,
                      seconds=time.perf_counter() - started)
    if run_id is not None:
        st.session_state[SHOWN] = run_id
    return comparison


def page(settings: AppSettings) -> None:
    st.header("Compare")
    reopen_ui(settings)
    choice = options_ui(settings)
    document = document_ui("cmp", settings, height=150)
    if document is None:
        st.caption("Paste text or upload a file, then compare methods on it.")
        return
    if not choice.methods:
        st.caption("Choose at least one method.")
        return
    comparison = compare_ui(document, choice, settings)
    if comparison is None:
        return
    side_by_side_ui(comparison)
    overlap_ui(comparison)
    scores_ui(comparison)
    comparison_downloads_ui(comparison)
    winner_ui(document, comparison)
