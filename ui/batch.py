"""Batch page: many files, a zip, or a folder under the batch root; progress over the files
and, for abstractive summaries of long documents, inside the one being written (part k of
n), with the time so far and an estimate; a results table with each file's error and, for
abstractive summaries, the faithfulness flags; downloads; ROUGE against references.

Finished work is never lost: every finished record is kept in the session as it comes
(``JOURNAL``), so a run that is stopped (the Stop button, another page, any click that
reruns the page) shows what it finished, and pressing Summarize all again summarizes only
the rest. Each finished run is saved in the history (file names and SHA-256s, not their
texts; the records) and ``?run=<id>`` brings its results back after a reload.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import streamlit as st

from summarizer.batch.engine import (BatchConfig, Task, settings_key, task_record, task_sha256,
                                     tasks_for_files)
from summarizer.batch.progress import PartProgress
from summarizer.documents.archive import ArchiveError, unpack_uploads
from summarizer.documents.paths import files_under, resolve_under
from summarizer.errors import CondenseError
from summarizer.evaluation.compare import budget_from_text
from summarizer.evaluation.references import load_references, mean_scores, score_summaries
from summarizer.registry import ABSTRACTIVE
from summarizer.results.files import ResultRow
from summarizer.types import Budget

from .history import run_from_url, save_run
from .models import method_names, summarizer_for
from .settings import AppSettings
from .widgets import UPLOAD_TYPES, budget_ui, downloads_ui

RESULT_KEY = "batch.outcome"
JOURNAL = "batch.journal"  # {"settings": settings_key, "records": {id\0sha256: record}}
SHOWN = "batch.shown_run"  # the history run this page shows (saved or reopened)
LENGTH_KEYS = {"sentences": "batch.sentences", "ratio": "batch.ratio", "words": "batch.words"}
MAX_ERRORS_SHOWN = 10
UPLOADS, FOLDER = "Upload files or a zip", "A folder under the batch root"


@dataclass(frozen=True)
class BatchOutcome:
    rows: List[ResultRow]
    skipped: List[str] = field(default_factory=list)
    seconds: float = 0.0
    rouge: Dict[str, float] = field(default_factory=dict)  # mean F1 x 100 per type
    total: int = 0  # files asked for; more than len(rows) when the run was stopped
    origin: str = ""  # where the outcome comes from, when not from a run just now


@dataclass(frozen=True)
class BatchRequest:
    """What the widgets asked for: uploads (name, bytes) or a folder name."""

    uploads: List[Tuple[str, bytes]]
    folder: Optional[str]
    method: str
    budget: Budget
    references: Optional[Tuple[str, bytes]]

    def name(self) -> str:
        """How the history lists the run: the uploads' names, or the folder."""
        if self.folder is not None:
            return f"{self.folder.rstrip('/')}/"
        names = [n for n, _ in self.uploads]
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


# -- time and progress in words ------------------------------------------------------
def duration(seconds: float) -> str:
    """``"8.2 s"``, ``"2 min 05 s"``, ``"1 h 02 min"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def overall_text(done: int, total: int, elapsed: float, *, failed: int = 0,
                 current: float = 0.0) -> str:
    """``"2 / 5 files · 1 failed · 12.0 s elapsed · about 18.0 s left"``. ``current``: the
    finished fraction of the file being summarized; the estimate is the time per file so
    far (counting that fraction) times the files left."""
    parts = [f"{done} / {total} files"]
    if failed:
        parts.append(f"{failed} failed")
    parts.append(f"{duration(elapsed)} elapsed")
    progress = done + current
    if done == total and total:
        parts.append("done")
    elif progress > 0:
        parts.append(f"about {duration(elapsed / progress * (total - progress))} left")
    return " · ".join(parts)


# -- widgets -------------------------------------------------------------------------
def reopen_ui(settings: AppSettings) -> None:
    """When ``?run=`` names a batch this page is not showing, put its method and length
    back into the widgets' keys (before they are drawn) and show its stored results."""
    run = run_from_url("batch")
    if run is None or run.id == st.session_state.get(SHOWN):
        return
    state = st.session_state
    method = run.settings.get("method", "")
    if method in method_names(settings):
        state["batch.method"] = method
    else:
        st.warning(f"Run {run.id} used {method!r}, which is not available now.")
    try:
        budget = budget_from_text(run.settings.get("budget", "auto"))
    except ValueError:
        budget = Budget(auto=True)
    kind = budget.describe().partition("=")[0]
    state["batch.kind"] = kind
    if kind in LENGTH_KEYS:
        state[LENGTH_KEYS[kind]] = getattr(budget, kind)
    outputs = run.outputs
    rouge = outputs.get("rouge") or {}
    rows = [ResultRow.from_record(r, rouge.get(r["id"])) for r in outputs.get("records", [])]
    files = len(run.inputs.get("files", []))
    state[RESULT_KEY] = BatchOutcome(
        rows, list(outputs.get("skipped", [])), run.seconds, dict(run.scores or {}),
        total=files, origin=f"Run {run.id} from the history ({run.created[:16].replace('T', ' ')} "
                            f"UTC): {run.name}, {files} files. Upload them again to run anew.")
    state[SHOWN] = run.id


def request_ui(settings: AppSettings) -> Tuple[Optional[BatchRequest], bool]:
    """The batch asked for (None until there is input) and whether Run was pressed."""
    source = st.radio("Documents from", [UPLOADS, FOLDER], horizontal=True, key="batch.source",
                      persist_state="session")
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
                               key="batch.folder", persist_state="session").strip() or None
    c1, c2 = st.columns([1, 3])
    method = c1.selectbox("Method", method_names(settings), key="batch.method",
                          persist_state="session")
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
    checked = any(r.checked for r in rows)
    st.subheader("Results")
    if outcome.origin:
        st.caption(outcome.origin)
    if outcome.total > len(rows):
        st.warning(f"Stopped after {len(rows)} of {outcome.total} files. Press Summarize all "
                   "to summarize the rest: the finished ones are kept, not done again.")
    columns = st.columns(4 if checked else 3)
    columns[0].metric("Summarized", len(rows) - failed)
    columns[1].metric("Failed", failed)
    columns[2].metric("Time", duration(outcome.seconds))
    if checked:
        columns[3].metric("Possibly unfaithful", sum(r.faithful is False for r in rows),
                          help="Summaries with a number or a name that is not in their document")
    if outcome.rouge:
        st.caption("Mean ROUGE F1 x 100 against the references: " +
                   ", ".join(f"{k} {v:.2f}" for k, v in outcome.rouge.items()))
    rouge_keys = [k for k in ("rouge1", "rouge2", "rougeL") if any(k in r.rouge for r in rows)]
    flags = ({"faithful": st.column_config.CheckboxColumn(
                 "faithful", help="Every number and name of the summary is in its document"),
              "not in the document": st.column_config.TextColumn(width="medium")}
             if checked else {})
    st.dataframe(
        [{"file": r.id, "status": "ok" if r.ok else "error", "summary": r.summary or "",
          **({"faithful": r.faithful,
              "not in the document": "; ".join(r.unsupported_numbers + r.unsupported_names)}
             if checked else {}),
          "error": r.error or "", **{k: r.rouge.get(k) for k in rouge_keys}} for r in rows],
        hide_index=True, width="stretch",
        column_config={"summary": st.column_config.TextColumn(width="large"),
                       "error": st.column_config.TextColumn(width="medium"), **flags})
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


def _journal(config: BatchConfig) -> Dict[str, dict]:
    """This session's finished records for ``config``'s settings (a change of method,
    length or model starts afresh)."""
    key = settings_key(config)
    journal = st.session_state.get(JOURNAL)
    if not journal or journal["settings"] != key:
        journal = st.session_state[JOURNAL] = {"settings": key, "records": {}}
    return journal["records"]


def run_tasks(tasks: Sequence[Task], digests: Sequence[Optional[str]], config: BatchConfig,
              summarizer=None) -> Tuple[List[dict], float]:
    """Summarize one task at a time in this process, with a bar over the files and one
    inside the current file. A record finished in this session with these settings, of
    the same bytes, is taken as it is; each new one is kept as soon as it is done."""
    journal = _journal(config)
    overall = st.progress(0.0, text=overall_text(0, len(tasks), 0.0))
    inside, stop = st.empty(), st.empty()
    # Any click reruns the page, which stops this loop where it is; the records so far
    # are in the session already.
    stop.button("Stop", key="batch.stop", icon=":material/stop:",
                help="Stops after the part being written; finished files are kept")
    records: List[dict] = []
    rows: List[ResultRow] = []
    start = time.monotonic()

    def keep(record: dict) -> None:
        records.append(record)
        rows.append(ResultRow.from_record(record))
        # what the page shows if the run is stopped before the end
        st.session_state[RESULT_KEY] = BatchOutcome(rows, seconds=time.monotonic() - start,
                                                    total=len(tasks))

    def show(current: float = 0.0) -> None:
        failed = sum(r["error"] is not None for r in records)
        elapsed = time.monotonic() - start
        overall.progress(min(1.0, (len(records) + current) / len(tasks)),
                         text=overall_text(len(records), len(tasks), elapsed, failed=failed,
                                           current=current))

    for task, digest in zip(tasks, digests, strict=True):
        rid, path = task[0], task[1]
        done_key = f"{rid}\0{digest}"
        if digest is not None and done_key in journal:
            keep(journal[done_key])
            show()
            continue
        inside.progress(0.0, text=f"{rid}: summarizing")
        reached = [0.0]  # a later round of parts can lower the estimate; the bar never goes back

        def on_part(p: PartProgress, rid: str = rid) -> None:
            reached[0] = max(reached[0], p.fraction)
            inside.progress(reached[0], text=f"{rid}: {p.describe()}")
            show(reached[0])

        record = task_record(task, config, summarizer=summarizer, on_part=on_part)
        if record["error"] and path:  # name the file as the user knows it, not our temp path
            record["error"] = record["error"].replace(path, rid)
        keep(record)
        if digest is not None and record["error"] is None:
            journal[done_key] = record
        show()
    inside.empty()
    stop.empty()
    return records, time.monotonic() - start


def _score(records: List[dict], references: Tuple[str, bytes], tmp: Path
           ) -> Dict[str, Dict[str, float]]:
    name, data = references
    path = tmp / f"references{Path(name).suffix.lower()}"
    path.write_bytes(data)
    try:
        refs = load_references(path)
    except CondenseError as e:
        st.error(f"References: {str(e).replace(str(path), name)}")
        return {}
    rouge = score_summaries([(r["id"], r["summary"]) for r in records], refs,
                            langs={r["id"]: r.get("lang") for r in records})
    if not rouge:
        st.warning("No reference matched a document id (ids are file paths, "
                   "e.g. news/a.txt, or their stems).")
    return rouge


def run_request(request: BatchRequest, settings: AppSettings) -> Optional[BatchOutcome]:
    abstractive = request.method == ABSTRACTIVE
    config = BatchConfig(
        method=request.method, budget=request.budget, workers=1, progress=False,
        loader=settings.loader_config(),
        abstractive=settings.abstractive_config() if abstractive else None)
    with tempfile.TemporaryDirectory(prefix="condense-batch-") as tmp:
        try:
            tasks, skipped = collect_tasks(request, settings, Path(tmp))
            # the shared, already loaded model (a broken folder fails here, before any file)
            summarizer = summarizer_for(request.method, settings) if abstractive else None
        except CondenseError as e:
            st.error(str(e))
            return None
        shas = [task_sha256(t, config.loader.max_bytes) for t in tasks]
        records, seconds = run_tasks(tasks, shas, config, summarizer)
        rouge = _score(records, request.references, Path(tmp)) if request.references else {}
    rows = [ResultRow.from_record(r, rouge.get(r["id"])) for r in records]
    outcome = BatchOutcome(rows, skipped, seconds, mean_scores(rouge), total=len(tasks))
    run_id = save_run(
        "batch", name=request.name(), source="batch root" if request.folder else "uploads",
        method=request.method,
        settings={"method": request.method, "budget": request.budget.describe(),
                  "model": config.abstractive.model_dir if config.abstractive else None},
        inputs={"files": [{"id": t[0], "sha256": s} for t, s in zip(tasks, shas)],
                **({"references": {"name": request.references[0]}} if request.references else {})},
        outputs={"records": records, "skipped": skipped, "rouge": rouge},
        scores=outcome.rouge or None, seconds=seconds)
    if run_id is not None:
        st.session_state[SHOWN] = run_id
    return outcome


def page(settings: AppSettings) -> None:
    st.header("Batch")
    reopen_ui(settings)
    request, run = request_ui(settings)
    if request is not None and run:
        st.session_state.pop(RESULT_KEY, None)
        outcome = run_request(request, settings)
        if outcome is not None:
            st.session_state[RESULT_KEY] = outcome
    outcome = st.session_state.get(RESULT_KEY)
    if outcome is not None:
        results_ui(outcome)
    elif request is None:
        st.caption("Upload files or a zip (or name a folder), then press Summarize all.")
