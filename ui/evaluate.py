"""Evaluate page: a pairs file in, ROUGE per method with 95% bootstrap intervals out, as a
table, a chart and downloads. Each evaluation is kept in the run history (the pairs file
by name, SHA-256 and count, not its text) and comes back from ``?run=<id>``.

The chart draws each method's bars across the page with its name on the y axis (horizontal
labels, never rotated) and each interval as a dark line over the bar of its colour. Every
error about the upload names the uploaded file: the server's temporary copy never shows.
"""
from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import streamlit as st

from summarizer.errors import CondenseError, DocumentError
from summarizer.evaluation.datasets import Pair, load_pairs
from summarizer.evaluation.evaluate import REPORTED, EvaluationReport, MethodResult, evaluate
from summarizer.evaluation.rouge import Interval
from summarizer.registry import ABSTRACTIVE, DEFAULT_METHOD
from summarizer.results.tables import WRITERS, Table
from summarizer.types import Budget

from .history import run_from_url, save_run
from .models import method_names
from .render import progress_text
from .settings import AppSettings
from .widgets import DOWNLOAD_LABELS, budget_ui

RESULT_KEY = "eval.report"  # the Evaluation shown
SEEN_KEY = "eval.seen_run"  # the ?run= this session has already reopened or saved
KIND = "evaluation"
DEFAULT_PAIRS = 50
INTERVAL_COLOR = "#1f1f1f"  # dark over every bar colour of the default scheme


@dataclass(frozen=True)
class PairsFile:
    """What the history keeps of an uploaded pairs file (its text may be large)."""

    name: str
    sha256: str
    pairs: int  # in the whole file

    def short(self) -> str:
        return f"{self.name} ({self.pairs} pairs, sha256 {self.sha256[:12]}…)"


@dataclass(frozen=True)
class Evaluation:
    report: EvaluationReport
    file: PairsFile
    evaluated: int  # the first N pairs of the file
    seconds: float
    run_id: Optional[int] = None  # in the history, when kept there
    reopened: bool = False  # shown from the history (a reload, a link)


# -- the pairs file ------------------------------------------------------------------
def _hide(text: str, folder: str, name: str) -> str:
    """``text`` with the temporary folder (and the file in it) written as the upload's name."""
    for where in sorted({str(Path(folder) / p.name) for p in Path(folder).iterdir()}
                        | {str(Path(folder).resolve())}, key=len, reverse=True):
        text = text.replace(where, name)
    return text.replace(folder, name)


@st.cache_data(max_entries=4, show_spinner="Reading the pairs file…")
def read_pairs(name: str, data: bytes) -> List[Pair]:
    """Pairs from an uploaded .jsonl/.csv (written to a temporary file for load_pairs).
    Every problem is a DocumentError naming ``name``."""
    with tempfile.TemporaryDirectory(prefix="condense-pairs-") as tmp:
        path = Path(tmp) / f"pairs{Path(name).suffix.lower()}"
        path.write_bytes(data)
        try:
            # empty articles or references are refused: they would score 0 for every method
            return load_pairs(path, require_text=True)
        except DocumentError as e:  # name the upload, not the temporary file
            raise DocumentError(name, _hide(e.problem, tmp, name), _hide(e.fix, tmp, name)
                                ) from None
        except (CondenseError, ValueError, RecursionError, OSError) as e:
            # json's own limits (a number of 5,000 digits, nesting 100,000 deep) and the like
            raise DocumentError(
                name, f"could not be read as pairs ({_hide(str(e), tmp, name)})",
                "Write one {\"id\", \"article\", \"summary\"} object per line (.jsonl), or a "
                "header line naming id, article and summary (.csv)") from None


def pairs_ui(settings: AppSettings) -> Optional[Tuple[PairsFile, List[Pair]]]:
    upload = st.file_uploader("Pairs file: .jsonl or .csv with article and summary fields",
                              type=["jsonl", "csv"], key="eval.pairs",
                              max_upload_size=settings.max_upload_mb)
    if upload is None:
        return None
    data = upload.getvalue()
    try:
        pairs = read_pairs(upload.name, data)
    except DocumentError as e:
        st.error(str(e))
        return None
    if not pairs:
        st.error(f"{upload.name}: no pairs found. Write one {{\"id\", \"article\", "
                 "\"summary\"} object per line (.jsonl), or rows under a header (.csv)")
        return None
    return PairsFile(upload.name, hashlib.sha256(data).hexdigest(), len(pairs)), pairs


# -- the controls --------------------------------------------------------------------
def options_ui(settings: AppSettings, available: int) -> Tuple[int, List[str], Budget, bool]:
    count = available
    if available > 1:
        kept = st.session_state.get("eval.count")
        if kept is not None and kept > available:  # a reopened run, or a bigger file before
            st.session_state["eval.count"] = available
        count = st.slider("Pairs to evaluate (the first N)", 1, available,
                          min(available, DEFAULT_PAIRS), key="eval.count", persist_state="session")
    names = method_names(settings)
    methods = st.multiselect("Methods", names, default=[DEFAULT_METHOD, "lead"], key="eval.methods",
                             persist_state="session")
    budget = budget_ui("eval")
    run = st.button("Evaluate", type="primary", key="eval.run", disabled=not methods)
    return count, methods, budget, run


def run_evaluation(pairs: List[Pair], methods: List[str], budget: Budget,
                   settings: AppSettings) -> Optional[EvaluationReport]:
    bar = st.progress(0.0, text=progress_text(0, len(pairs), 0.0, unit="pairs"))
    start = time.monotonic()

    def on_progress(done: int, total: int) -> None:
        text = progress_text(done, total, time.monotonic() - start, unit="pairs")
        bar.progress(done / total, text=text)

    abstractive = settings.abstractive_config() if ABSTRACTIVE in methods else None
    try:
        return evaluate(pairs, methods, budget, workers=1, abstractive=abstractive,
                        loader=settings.loader_config(), on_progress=on_progress)
    except CondenseError as e:
        st.error(str(e))
        return None


# -- the history ---------------------------------------------------------------------
def save(evaluation: Evaluation) -> Evaluation:
    report = evaluation.report
    methods = [r.method for r in report.results]
    scores = {r.method: {k: round(r.scores[k].mean, 4) for k in REPORTED} for r in report.results}
    run_id = save_run(
        KIND, name=f"{evaluation.file.name} · {evaluation.evaluated} pairs",
        source=evaluation.file.name, method=", ".join(methods),
        settings={"methods": methods, "budget": report.budget, "pairs": evaluation.evaluated},
        # nested, so that the history keeps these as values, not as documents' texts
        inputs={"pairs_file": asdict(evaluation.file)},
        outputs={"report": asdict(report)}, scores=scores, seconds=evaluation.seconds)
    if run_id is None:
        return evaluation
    st.session_state[SEEN_KEY] = str(run_id)  # this session's own run: not reopened
    return Evaluation(report, evaluation.file, evaluation.evaluated, evaluation.seconds, run_id)


def evaluation_from_run(run) -> Evaluation:
    data = run.outputs["report"]
    results = [MethodResult(r["method"], int(r["documents"]), int(r["failures"]),
                            {k: Interval(**v) for k, v in r["scores"].items()},
                            float(r.get("seconds", 0.0))) for r in data["results"]]
    report = EvaluationReport(data["split"], data["budget"], results)
    file = PairsFile(**run.inputs["pairs_file"])
    return Evaluation(report, file, int(run.settings.get("pairs", file.pairs)), run.seconds,
                      run.id, reopened=True)


def budget_keys(prefix: str, described: str) -> Dict[str, Any]:
    """The budget widgets' values for ``Budget.describe()``'s text ("sentences=3")."""
    kind, _, value = described.partition("=")
    if kind == "sentences":
        return {f"{prefix}.kind": kind, f"{prefix}.sentences": int(value)}
    if kind == "ratio":
        return {f"{prefix}.kind": kind, f"{prefix}.ratio": float(value)}
    if kind == "words":
        return {f"{prefix}.kind": kind, f"{prefix}.words": int(value)}
    return {f"{prefix}.kind": "auto"}


def reopen_ui(settings: AppSettings) -> None:
    """When ``?run=`` names an evaluation this session has not shown, show it again with
    its methods, budget and count in the controls (the file must be uploaded again to
    evaluate anew: the history keeps its hash, not its text)."""
    raw = st.query_params.get("run")
    if not raw or raw == st.session_state.get(SEEN_KEY):
        return
    st.session_state[SEEN_KEY] = raw
    run = run_from_url(KIND)
    if run is None:
        return
    try:
        evaluation = evaluation_from_run(run)
    except (KeyError, TypeError, ValueError) as e:
        st.warning(f"Run {run.id} cannot be shown here: its stored report is incomplete ({e}).")
        return
    offered = method_names(settings)
    st.session_state["eval.methods"] = [r.method for r in evaluation.report.results
                                        if r.method in offered]
    st.session_state["eval.count"] = evaluation.evaluated
    st.session_state.update(budget_keys("eval", evaluation.report.budget))
    st.session_state[RESULT_KEY] = evaluation


# -- the result ----------------------------------------------------------------------
def score_rows(report: EvaluationReport) -> List[Dict[str, Any]]:
    """Numbers per method (CSV and JSONL): mean, low and high of each ROUGE, 2 decimals."""
    rows = []
    for r in report.results:
        row: Dict[str, Any] = {"method": r.method, "pairs": r.documents, "failed": r.failures}
        for k in REPORTED:
            s = r.scores[k]
            row.update({k: round(s.mean, 2), f"{k}_low": round(s.low, 2),
                        f"{k}_high": round(s.high, 2)})
        rows.append(row)
    return rows


def shown_rows(report: EvaluationReport) -> List[Dict[str, Any]]:
    """The table as the page shows it (Markdown and DOCX): "mean [low, high]" per ROUGE."""
    return [{"method": r.method, "failed": r.failures,
             **{k: f"{r.scores[k].mean:.2f} [{r.scores[k].low:.2f}, {r.scores[k].high:.2f}]"
                for k in REPORTED}} for r in report.results]


def tables(evaluation: Evaluation) -> Tuple[Table, Table]:
    """(numbers for CSV/JSONL, the shown table for Markdown/DOCX)."""
    report = evaluation.report
    title = f"ROUGE of {evaluation.file.name}"
    notes = (f"F1 x 100, mean and 95% bootstrap interval; the first {evaluation.evaluated} "
             f"of {evaluation.file.pairs} pairs of {evaluation.file.name} "
             f"(sha256 {evaluation.file.sha256}); budget {report.budget}.",)
    numbers = score_rows(report)
    shown = shown_rows(report)
    return (Table(title, list(numbers[0]) if numbers else ["method"], numbers, notes),
            Table(title, list(shown[0]) if shown else ["method"], shown, notes))


def chart(report: EvaluationReport):
    """Horizontal bars per method and ROUGE type, each with its interval as a dark line."""
    import altair as alt
    import pandas as pd

    rows = [{"method": r.method, "rouge": k, "mean": round(r.scores[k].mean, 2),
             "low": round(r.scores[k].low, 2), "high": round(r.scores[k].high, 2)}
            for r in report.results for k in REPORTED]
    data = pd.DataFrame(rows)
    order = [r.method for r in report.results]
    y = alt.Y("method:N", title=None, sort=order, axis=alt.Axis(labelLimit=240, labelAngle=0))
    offset = alt.YOffset("rouge:N", sort=list(REPORTED))
    tooltip = ["method", "rouge", "mean", "low", "high"]
    bars = alt.Chart(data).mark_bar(opacity=0.8).encode(
        y=y, yOffset=offset, x=alt.X("mean:Q", title="ROUGE F1 x 100"),
        color=alt.Color("rouge:N", sort=list(REPORTED),
                        legend=alt.Legend(title=None, orient="bottom")),
        tooltip=tooltip)
    # Not encoded by colour (a colour encoding would paint each line in its bar's colour).
    intervals = alt.Chart(data).mark_rule(color=INTERVAL_COLOR, strokeWidth=2).encode(
        y=y, yOffset=offset, x="low:Q", x2="high:Q", tooltip=tooltip)
    ends = alt.Chart(data).transform_fold(["low", "high"], as_=["end", "at"]).mark_tick(
        color=INTERVAL_COLOR, opacity=1, thickness=2, size=10, orient="vertical").encode(
        y=y, yOffset=offset, x="at:Q")
    # 14 px per bar: the height follows the number of methods (a fixed height is ignored
    # for a banded axis with offsets, and three methods squeezed bars to 5 px)
    return (bars + intervals + ends).properties(height={"step": 14, "for": "offset"})


def report_ui(evaluation: Evaluation) -> None:
    report = evaluation.report
    st.subheader("ROUGE F1 x 100, mean and 95% bootstrap interval")
    where = "" if evaluation.run_id is None else (
        f"Run {evaluation.run_id}{' from the history' if evaluation.reopened else ''} · ")
    st.caption(f"{where}the first {evaluation.evaluated} pairs of {evaluation.file.short()} · "
               f"budget {report.budget} · {evaluation.seconds:.1f} s")
    st.dataframe(shown_rows(report), hide_index=True, width="stretch")
    if report.results:
        st.altair_chart(chart(report), width="stretch")
    numbers, shown = tables(evaluation)
    stem = f"evaluation-{Path(evaluation.file.name).stem}"
    row = st.container(horizontal=True)
    for fmt, (writer, mime) in WRITERS.items():
        table = numbers if fmt in ("csv", "jsonl") else shown
        row.download_button(DOWNLOAD_LABELS[fmt], partial(writer, table),
                            file_name=f"{stem}.{fmt}", mime=mime, key=f"eval.dl.{fmt}",
                            on_click="ignore", icon=":material/download:")


def page(settings: AppSettings) -> None:
    st.header("Evaluate")
    reopen_ui(settings)
    loaded = pairs_ui(settings)
    if loaded is None:
        if RESULT_KEY not in st.session_state and st.session_state.get("eval.pairs") is None:
            st.caption("Upload a pairs file to score methods with ROUGE.")
    else:
        file, pairs = loaded
        count, methods, budget, run = options_ui(settings, len(pairs))
        if run:
            start = time.monotonic()
            report = run_evaluation(pairs[:count], methods, budget, settings)
            if report is not None:
                evaluation = Evaluation(report, file, count, time.monotonic() - start)
                st.session_state[RESULT_KEY] = save(evaluation)
    evaluation = st.session_state.get(RESULT_KEY)
    if evaluation is not None:
        report_ui(evaluation)
