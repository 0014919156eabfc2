"""Batch page: many files, a zip, or a folder under the batch root; progress with counts
and an ETA; a results table with each file's error; downloads; ROUGE against references."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import streamlit as st

from summarizer.results.files import ResultRow
from summarizer.documents.archive import ArchiveError, unpack_uploads
from summarizer.batch.engine import BatchConfig, Task, task_record, tasks_for_files
from summarizer.errors import CondenseError
from summarizer.documents.paths import files_under, resolve_under
from summarizer.evaluation.references import load_references, mean_scores, score_summaries
from summarizer.registry import ABSTRACTIVE
from summarizer.types import Budget

from .models import method_names
from .render import progress_text
from .settings import AppSettings
from .widgets import UPLOAD_TYPES, budget_ui, downloads_ui

RESULT_KEY = "batch.outcome"
MAX_ERRORS_SHOWN = 10
UPLOADS, FOLDER = "Upload files or a zip", "A folder under the batch root"


@dataclass(frozen=True)
class BatchOutcome:
    rows: List[ResultRow]
    skipped: List[str] = field(default_factory=list)
    seconds: float = 0.0
    rouge: Dict[str, float] = field(default_factory=dict)  # mean F1 x 100 per type


@dataclass(frozen=True)
class BatchRequest:
    """What the widgets asked for: uploads (name, bytes) or a folder name."""

    uploads: List[Tuple[str, bytes]]
    folder: Optional[str]
    method: str
    budget: Budget
    references: Optional[Tuple[str, bytes]]


# -- widgets -------------------------------------------------------------------------
def request_ui(settings: AppSettings) -> Tuple[Optional[BatchRequest], bool]:
    """The batch asked for (None until there is input) and whether Run was pressed."""
    source = st.radio("Documents from", [UPLOADS, FOLDER], horizontal=True, key="batch.source")
    uploads: List[Tuple[str, bytes]] = []
    folder: Optional[str] = None
    if source == UPLOADS:
        files = st.file_uploader("Files, or a .zip of them", type=UPLOAD_TYPES + ["zip"],
                                 accept_multiple_files=True, key="batch.files",
                                 max_upload_size=settings.archive_limits().max_total_bytes // 2**20)
        uploads = [(f.name, f.getvalue()) for f in files or []]
    elif not settings.batch_root:
        st.info("No batch root folder is set. Set one in Settings; the Batch page reads "
                "folders only under it.")
    else:
        st.caption(f"Batch root: {settings.batch_root}")
        folder = st.text_input("Folder, relative to the batch root (. for the root itself)",
                               key="batch.folder").strip() or None
    c1, c2 = st.columns([1, 3])
    method = c1.selectbox("Method", method_names(settings), key="batch.method")
    with c2:
        budget = budget_ui("batch")
    refs = st.file_uploader("References for ROUGE (optional): a pairs file with id and summary",
                            type=["jsonl", "csv"], key="batch.refs",
                            max_upload_size=settings.max_upload_mb)
    references = (refs.name, refs.getvalue()) if refs is not None else None
    ready = bool(uploads) or folder is not None
    run = st.button("Summarize all", type="primary", key="batch.run", disabled=not ready)
    if not ready:
        return None, False
    return BatchRequest(uploads, folder, method, budget, references), run


def results_ui(outcome: BatchOutcome) -> None:
    rows = outcome.rows
    failed = sum(not r.ok for r in rows)
    st.subheader("Results")
    c1, c2, c3 = st.columns(3)
    c1.metric("Summarized", len(rows) - failed)
    c2.metric("Failed", failed)
    c3.metric("Time", f"{outcome.seconds:.1f} s")
    if outcome.rouge:
        st.caption("Mean ROUGE F1 x 100 against the references: " +
                   ", ".join(f"{k} {v:.2f}" for k, v in outcome.rouge.items()))
    rouge_keys = [k for k in ("rouge1", "rouge2", "rougeL") if any(k in r.rouge for r in rows)]
    st.dataframe(
        [{"file": r.id, "status": "ok" if r.ok else "error", "summary": r.summary or "",
          "error": r.error or "", **{k: r.rouge.get(k) for k in rouge_keys}} for r in rows],
        hide_index=True, width="stretch",
        column_config={"summary": st.column_config.TextColumn(width="large"),
                       "error": st.column_config.TextColumn(width="medium")})
    errors = [r for r in rows if not r.ok]
    for r in errors[:MAX_ERRORS_SHOWN]:
        st.error(r.error)
    if len(errors) > MAX_ERRORS_SHOWN:
        st.caption(f"… and {len(errors) - MAX_ERRORS_SHOWN} more errors in the table.")
    for note in outcome.skipped:
        st.caption(f"Skipped: {note}")
    downloads_ui(rows, prefix="batch", stem="condense-batch", title="Batch summaries")


# -- work ----------------------------------------------------------------------------
def collect_tasks(request: BatchRequest, settings: AppSettings, tmp: Path
                  ) -> Tuple[List[Task], List[str]]:
    """Tasks for the request (uploads unpacked into ``tmp``) and notes on skipped files."""
    limits = settings.archive_limits()
    if request.folder is not None:
        target = resolve_under(settings.batch_root, request.folder)
        files, refused = files_under(settings.batch_root, target)
        base = target if target.is_dir() else target.parent
    else:
        extracted = unpack_uploads(request.uploads, tmp, limits=limits)
        files, refused, base = extracted.files, extracted.skipped, tmp
    if len(files) > limits.max_files:
        raise ArchiveError(f"{len(files)} files, over the batch size of {limits.max_files}. "
                           "Choose a smaller folder, or raise the batch size in Settings")
    if not files:
        raise ArchiveError("no supported documents found (.txt, .md, .html, .pdf, .docx)")
    return sorted(tasks_for_files(base, files)), refused


def run_tasks(tasks: Sequence[Task], config: BatchConfig) -> Tuple[List[dict], float]:
    """Summarize one task at a time in this process, updating a progress bar."""
    bar = st.progress(0.0, text=progress_text(0, len(tasks), 0.0))
    records: List[dict] = []
    start = time.monotonic()
    for task in tasks:
        record = task_record(task, config)
        rid, path = task[0], task[1]
        if record["error"] and path:  # name the file as the user knows it, not our temp path
            record["error"] = record["error"].replace(path, rid)
        records.append(record)
        failed = sum(r["error"] is not None for r in records)
        elapsed = time.monotonic() - start
        bar.progress(len(records) / len(tasks),
                     text=progress_text(len(records), len(tasks), elapsed, failed=failed))
    return records, time.monotonic() - start


def run_request(request: BatchRequest, settings: AppSettings) -> Optional[BatchOutcome]:
    config = BatchConfig(
        method=request.method, budget=request.budget, workers=1, progress=False,
        loader=settings.loader_config(),
        abstractive=settings.abstractive_config() if request.method == ABSTRACTIVE else None)
    with tempfile.TemporaryDirectory(prefix="condense-batch-") as tmp:
        try:
            tasks, skipped = collect_tasks(request, settings, Path(tmp))
        except CondenseError as e:
            st.error(str(e))
            return None
        records, seconds = run_tasks(tasks, config)
        rouge: Dict[str, Dict[str, float]] = {}
        if request.references is not None:
            name, data = request.references
            path = Path(tmp) / f"references{Path(name).suffix.lower()}"
            path.write_bytes(data)
            try:
                refs = load_references(path)
            except CondenseError as e:
                st.error(f"References: {e}")
            else:
                rouge = score_summaries([(r["id"], r["summary"]) for r in records], refs,
                                        langs={r["id"]: r.get("lang") for r in records})
                if not rouge:
                    st.warning("No reference matched a document id (ids are file paths, "
                               "e.g. news/a.txt, or their stems).")
    rows = [ResultRow.from_record(r, rouge.get(r["id"])) for r in records]
    return BatchOutcome(rows, skipped, seconds, mean_scores(rouge))


def page(settings: AppSettings) -> None:
    st.header("Batch")
    request, run = request_ui(settings)
    if request is not None and run:
        outcome = run_request(request, settings)
        if outcome is not None:
            st.session_state[RESULT_KEY] = outcome
    outcome = st.session_state.get(RESULT_KEY)
    if outcome is not None:
        results_ui(outcome)
    elif request is None:
        st.caption("Upload files or a zip (or name a folder), then press Summarize all.")
