"""Evaluate page: a pairs file in, ROUGE per method with 95% bootstrap intervals out."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

import streamlit as st

from summarizer.evaluation.datasets import Pair, load_pairs
from summarizer.errors import CondenseError, DocumentError
from summarizer.evaluation.evaluate import REPORTED, EvaluationReport, evaluate
from summarizer.registry import ABSTRACTIVE, DEFAULT_METHOD
from summarizer.types import Budget

from .models import method_names
from .render import progress_text
from .settings import AppSettings
from .widgets import budget_ui

RESULT_KEY = "eval.report"
DEFAULT_PAIRS = 50


@st.cache_data(max_entries=4, show_spinner="Reading the pairs file…")
def read_pairs(name: str, data: bytes) -> List[Pair]:
    """Pairs from an uploaded .jsonl/.csv (written to a temporary file for load_pairs)."""
    with tempfile.TemporaryDirectory(prefix="condense-pairs-") as tmp:
        path = Path(tmp) / f"pairs{Path(name).suffix.lower()}"
        path.write_bytes(data)
        try:
            # empty articles or references are refused: they would score 0 for every method
            return load_pairs(path, require_text=True)
        except DocumentError as e:  # name the upload, not the temporary file
            raise DocumentError(name, e.problem, e.fix) from None


def pairs_ui(settings: AppSettings) -> Optional[List[Pair]]:
    upload = st.file_uploader("Pairs file: .jsonl or .csv with article and summary fields",
                              type=["jsonl", "csv"], key="eval.pairs",
                              max_upload_size=settings.max_upload_mb)
    if upload is None:
        return None
    try:
        pairs = read_pairs(upload.name, upload.getvalue())
    except DocumentError as e:
        st.error(str(e))
        return None
    except (CondenseError, UnicodeDecodeError) as e:
        st.error(f"{upload.name}: {e}")
        return None
    if not pairs:
        st.error(f"{upload.name}: no pairs found")
        return None
    return pairs


def options_ui(settings: AppSettings, available: int) -> Tuple[int, List[str], Budget, bool]:
    count = st.slider("Pairs to evaluate (the first N)", 1, available,
                      min(available, DEFAULT_PAIRS), key="eval.count") if available > 1 else 1
    names = method_names(settings)
    methods = st.multiselect("Methods", names, default=[DEFAULT_METHOD, "lead"], key="eval.methods")
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


def report_ui(report: EvaluationReport) -> None:
    import altair as alt
    import pandas as pd

    st.subheader("ROUGE F1 x 100, mean and 95% bootstrap interval")
    st.caption(f"{report.results[0].documents if report.results else 0} pairs · budget "
               f"{report.budget}")
    rows = []
    for r in report.results:
        for k in REPORTED:
            s = r.scores[k]
            rows.append({"method": r.method, "rouge": k, "mean": round(s.mean, 2),
                         "low": round(s.low, 2), "high": round(s.high, 2), "failed": r.failures})
    table = pd.DataFrame(rows)
    wide = [{"method": r.method, "failed": r.failures,
             **{k: f"{r.scores[k].mean:.2f} [{r.scores[k].low:.2f}, {r.scores[k].high:.2f}]"
                for k in REPORTED}} for r in report.results]
    st.dataframe(wide, hide_index=True, width="stretch")
    base = alt.Chart(table).encode(x=alt.X("method:N", title=None),
                                   xOffset="rouge:N", color="rouge:N")
    bars = base.mark_bar().encode(y=alt.Y("mean:Q", title="F1 x 100"))
    errors = base.mark_rule(color="black").encode(y="low:Q", y2="high:Q")
    st.altair_chart(bars + errors, width="stretch")


def page(settings: AppSettings) -> None:
    st.header("Evaluate")
    pairs = pairs_ui(settings)
    if pairs is None:
        st.caption("Upload a pairs file to score methods with ROUGE.")
        return
    count, methods, budget, run = options_ui(settings, len(pairs))
    if run:
        report = run_evaluation(pairs[:count], methods, budget, settings)
        if report is not None:
            st.session_state[RESULT_KEY] = report
    report = st.session_state.get(RESULT_KEY)
    if report is not None:
        report_ui(report)
