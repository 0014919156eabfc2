"""Summarize page: one document in; the summary (an abstractive one streams in as it is
written), its notes and downloads, its sentences highlighted in the document with their
scores, keyphrases, and for abstractive output a faithfulness check.

Every new summary is kept in the history once and named in the URL (``?run=<id>``); a
page opened with ``?run=`` (a reload, or the History page's "Open in its page") puts the
run's text, method and length back into the widgets and shows the summary as it was saved
while those inputs stand.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import streamlit as st

from summarizer.evaluation.compare import budget_from_text
from summarizer.evaluation.faithfulness import FaithfulnessReport, check_faithfulness
from summarizer.keyphrases import Keyphrase, keyphrases
from summarizer.languages import language_name
from summarizer.registry import ABSTRACTIVE, DEFAULT_METHOD, EXTRACTIVE_METHODS
from summarizer.results.history import Run
from summarizer.results.summary_file import WRITERS, SummaryFile, describe_length
from summarizer.types import Budget, Document, ScoredSentence, Sentence, Summary

from .history import run_from_url, save_run
from .render import chip_list, document_html, is_dialogue, scrolling_box
from .settings import AppSettings
from .summary_runs import Result, run_result, streaming_ui
from .summary_runs import run_summary  # noqa: F401  (the Compare page imports it from here)
from .widgets import AUTO_CAPTION, PASTED, budget_ui, document_ui, file_downloads_ui, notes_ui

EXTRACTIVE, OTHER = "extractive", "other"
CHOICES = (EXTRACTIVE, ABSTRACTIVE, OTHER)
OTHER_METHODS = [m for m in EXTRACTIVE_METHODS if m != DEFAULT_METHOD]
BUILTIN_LABEL = "built-in SmolLM2 summary model"
LENGTH_KEYS = {"sentences": "sum.sentences", "ratio": "sum.ratio", "words": "sum.words"}
SHOWN = "sum.shown"  # what the page shows: (inputs key, history run id or None)
REOPENED = "sum.reopened"  # a run reopened from the history, shown while its inputs stand
ABSTRACTIVE_AUTO = ("About a tenth of the document's words (25 to 250), as a limit the model "
                    "writes within; the note under the summary says what it was.")


@st.cache_data(max_entries=64, show_spinner=False)
def keyphrases_cached(document: Document) -> list:
    return keyphrases(document)


# -- reopening a run from the history ------------------------------------------------
def inputs_key(document: Document, method: str, budget: Budget) -> Tuple[str, str, str]:
    """What makes a summary: the document's text (by hash), the method and the length."""
    return hashlib.sha256(document.text.encode("utf-8")).hexdigest(), method, budget.describe()


def run_key(run: Run) -> Tuple[str, str, str]:
    """``inputs_key`` of the summary a run saved."""
    return run.outputs.get("document_sha256", ""), run.method, run.settings.get("length", "auto")


def reopen_ui() -> None:
    """When ``?run=`` names a summary this page is not showing, put its text, method and
    length into the widgets' keys (before they are drawn) and keep the run to show."""
    raw = st.query_params.get("run")
    shown = st.session_state.get(SHOWN)
    if not raw or (shown is not None and str(shown[1]) == raw):
        return
    run = run_from_url("summary")
    if run is None:
        st.query_params.pop("run", None)  # not a summary, or gone: say so once
        return
    state = st.session_state
    state["sum.text"] = run.inputs.get("text", "")
    state.pop("sum.kept_upload", None)  # the run's text, not an earlier upload
    if run.method in (DEFAULT_METHOD, ABSTRACTIVE):
        state["sum.choice"] = EXTRACTIVE if run.method == DEFAULT_METHOD else ABSTRACTIVE
    elif run.method in OTHER_METHODS:
        state["sum.choice"], state["sum.other"] = OTHER, run.method
    length = budget_from_text(run_key(run)[2])
    kind = "auto" if length.auto else length.describe().partition("=")[0]
    state["sum.kind"] = kind
    if kind in LENGTH_KEYS:
        state[LENGTH_KEYS[kind]] = getattr(length, kind)
    state[REOPENED] = run
    state[SHOWN] = (run_key(run), run.id)


def reopened_result(document: Document, key: Tuple[str, str, str]) -> Optional[Result]:
    """The reopened run's summary of ``document``, while the inputs are the run's."""
    run = st.session_state.get(REOPENED)
    if run is None or run_key(run) != key:
        return None
    out = run.outputs
    sentences = tuple(ScoredSentence(Sentence(s["index"], s["start"], s["end"], s["text"]),
                                     s["score"]) for s in out["sentences"])
    summary = Summary(run.method, replace(document, source=run.source), sentences,
                      budget_from_text(out["budget"]), tuple(out["notes"]),
                      generated=out["summary"] if out["generated"] else None)
    # What the page shows now is this run: a reload (the URL) reopens it again.
    st.session_state[SHOWN] = (key, run.id)
    st.query_params["run"] = str(run.id)
    return Result(summary, run.seconds, run=run.id)


def save_ui(result: Result, report: Optional[FaithfulnessReport], budget: Budget, key: tuple,
            settings: AppSettings) -> None:
    """Keep a summary the page has not shown before in the history (once: reruns that show
    it again save nothing)."""
    shown = st.session_state.get(SHOWN)
    if shown is not None and shown[0] == key:
        return
    summary, document = result.summary, result.summary.document
    run_settings = {"length": budget.describe(), "device": settings.device}
    if summary.is_abstractive:
        run_settings["model"] = settings.abstractive_folder()
    outputs = {**summary.to_dict(), "generated": summary.is_abstractive,
               "document_sha256": key[0], "title": document.title or "",
               "faithfulness": None if report is None else
               {"numbers": list(report.numbers), "names": list(report.names)}}
    # The paste box's text as typed; an uploaded file's text as extracted (it goes back
    # into the paste box when the run is reopened).
    pasted = document.source == PASTED
    text = st.session_state.get("sum.text", "") if pasted else document.text
    run_id = save_run("summary", name=run_name(document), source=document.source or "document",
                      method=summary.method, settings=run_settings, inputs={"text": text},
                      outputs=outputs, seconds=result.seconds)
    if run_id is None:
        st.query_params.pop("run", None)
    st.session_state[SHOWN] = (key, run_id)


def run_name(document: Document) -> str:
    if document.title:
        return document.title
    words = document.text.split()
    return " ".join(words[:8]) + ("…" if len(words) > 8 else "")


# -- inputs --------------------------------------------------------------------------
def abstractive_label(settings: AppSettings) -> str:
    """"Abstractive (<the configured folder's name>)", shortened to keep the choices on one
    line, or the built-in summarizer."""
    folder = settings.abstractive_dir.strip()
    if not folder:
        return f"Abstractive ({BUILTIN_LABEL})"
    name = Path(folder).name or folder
    return f"Abstractive ({name if len(name) <= 28 else name[:27] + '…'})"


def method_ui(settings: AppSettings) -> str:
    """The extractive default and abstractive side by side, the other methods behind a
    third choice."""
    labels = {EXTRACTIVE: f"Extractive (default {DEFAULT_METHOD})",
              ABSTRACTIVE: abstractive_label(settings), OTHER: "Other methods"}
    ready = bool(settings.abstractive_folder())
    captions = ["picks the document's own sentences",
                "writes new sentences" if ready else "not prepared yet: see Settings",
                f"{', '.join(OTHER_METHODS[:3])} and {len(OTHER_METHODS) - 3} more"]
    c1, c2 = st.columns([3, 1])
    model = settings.abstractive_folder() or f"the {BUILTIN_LABEL}, once prepared in Settings"
    choice = c1.radio("Method", CHOICES, format_func=labels.__getitem__, captions=captions,
                      horizontal=True, key="sum.choice", persist_state="session",
                      help=f"Extractive methods choose sentences of the document; abstractive "
                           f"writes new ones with a model ({model}).")
    if choice == OTHER:
        return c2.selectbox("Other method", OTHER_METHODS, key="sum.other", persist_state="session")
    return DEFAULT_METHOD if choice == EXTRACTIVE else ABSTRACTIVE


def prepare_ui() -> None:
    st.info("The abstractive summarizer is not prepared yet. Prepare the "
            f"{BUILTIN_LABEL} on the Settings page (once; it takes a few minutes), or give "
            "the folder of a summarization model of your own there. From a terminal: "
            "`python -m summarizer setup`.")
    st.page_link("ui/pages/settings.py", label="Open Settings", icon=":material/settings:")


# -- results -------------------------------------------------------------------------
def faithfulness(summary: Summary) -> Optional[FaithfulnessReport]:
    if not summary.is_abstractive:
        return None
    return check_faithfulness(summary.text, summary.document.text, lang=summary.document.lang)


def summary_ui(result: Result, item: SummaryFile) -> None:
    summary = result.summary
    st.text(summary.text)
    said = f"{summary.method} · length {describe_length(item.length)} · " \
           f"{item.words()} words · {result.seconds:.1f} s"
    if result.run is not None:
        said += f" · reopened from the history (run {result.run})"
    st.caption(said)
    notes_ui(list(summary.notes))
    downloads_ui(item)
    if summary.sentences:
        st.caption("Chosen sentences and their scores")
        st.dataframe(
            [{"#": s.sentence.index, "score": round(s.score, 4), "sentence": s.text}
             for s in summary.sentences], hide_index=True, width="stretch")


def downloads_ui(item: SummaryFile) -> None:
    source = Path(item.source).stem if item.summary.document.source != PASTED else ""
    stem = "summary" + ("-" + "".join(c if c.isalnum() else "-" for c in source)[:40]
                        if source else "")
    file_downloads_ui([(fmt, partial(writer, item), mime) for fmt, (writer, mime)
                       in WRITERS.items()], prefix="sum", stem=stem)


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


def document_view_ui(document: Document, spans: Sequence[Tuple[int, int]], *,
                     abstractive: bool) -> None:
    st.subheader("Document")
    caption = "An abstractive summary has no source sentences to highlight." if abstractive \
        else "Chosen sentences are highlighted."
    language = f"Language: {language_name(document.lang)} (detected)"  # the app never asks
    st.caption(f"{document.source or 'document'} · {language} · {caption}")
    # A dialogue shows one turn per line, its speaker in bold.
    html = document_html(document.text, spans, dialogue=is_dialogue(document.text))
    st.markdown(scrolling_box(html, height_px=520), unsafe_allow_html=True)


def keyphrases_ui(found: List[Keyphrase]) -> None:
    st.subheader("Keyphrases")
    if found:
        st.markdown(chip_list([k.text for k in found], color="#e3ecfa"), unsafe_allow_html=True)
    else:
        st.write("none found")


def page(settings: AppSettings) -> None:
    st.header("Summarize")
    reopen_ui()
    method = method_ui(settings)
    budget = budget_ui("sum", auto_caption=(ABSTRACTIVE_AUTO if method == ABSTRACTIVE
                                            else AUTO_CAPTION))
    document = document_ui("sum", settings)
    if document is None:
        st.caption("Paste text or upload a file to summarize it.")
        st.query_params.pop("run", None)
        return
    key = inputs_key(document, method, budget)
    result = reopened_result(document, key)
    if result is not None:
        document = result.summary.document  # the same text, with the run's source name
    elif method == ABSTRACTIVE and not settings.abstractive_folder():
        prepare_ui()
        return
    left, right = st.columns(2)
    if method == ABSTRACTIVE:  # nothing to highlight: the document shows while it is written
        with right:
            document_view_ui(document, (), abstractive=True)
    with left:
        st.subheader("Summary")
        # One slot for the text as it is written, then the summary and all that goes with
        # it: the previous run's summary leaves the page as soon as the new one starts.
        body = st.empty()
        if result is None:
            result = run_result(document, method, budget, settings, streaming_ui(body))
            if result is None:
                body.empty()
                return
            save_ui(result, faithfulness(result.summary), budget, key, settings)
        summary = result.summary
        report = faithfulness(summary)
        with body.container():
            summary_ui(result, SummaryFile(summary, budget, report))
            if report is not None:
                faithfulness_ui(report)
            keyphrases_ui(keyphrases_cached(document))
    if method != ABSTRACTIVE:
        with right:
            document_view_ui(document, summary.spans, abstractive=False)
