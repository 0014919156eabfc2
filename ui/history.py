"""History page, and the calls the other pages make to keep their runs.

Pages call :func:`save_run` after each run (it puts ``?run=<id>`` in the URL) and
:func:`run_from_url` (or :func:`load_run`) to reopen that run after a reload. The store is
``summarizer.results.history``; this module only shows it. When the history is off
(``CONDENSE_HISTORY=off``) or its file cannot be used, every call returns None and the app
works without it; a broken file is named in one warning with its fix.
"""
from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import streamlit as st

from summarizer.results.history import (
    ENV, KINDS, History, HistoryConfig, HistoryError, Run, RunNotFoundError, RunRow)

from .settings import AppSettings

QUERY_KEY = "run"  # ?run=<id> names the run a page shows
# The URL path of each kind's page, for the link used when no st.Page objects are passed in.
PAGE_PATHS = {"summary": "summarize", "comparison": "compare", "batch": "batch",
              "generation": "generate", "evaluation": "evaluate"}
LIMIT = 200  # runs listed at once; the search reaches older ones
_SAVED = "hist.saved"  # this session's saved runs: fingerprint -> id


@st.cache_resource(show_spinner=False, max_entries=4)
def _open(path: str) -> History:
    # One store per file and server process. A HistoryError is not cached, so a file that
    # was moved aside is retried on the next rerun.
    return History(HistoryConfig(path=Path(path)))


def history() -> Optional[History]:
    """The process-wide store, or None when the history is off or broken (then a warning
    names the file and the fix)."""
    config = HistoryConfig.from_env()
    if not config.enabled:
        return None
    try:
        return _open(str(config.path))
    except HistoryError as e:
        st.warning(f"The history is not available, so runs are not kept. {e}")
        return None


def _failed(store: History, message: str, error: HistoryError) -> None:
    # The file may have been replaced or damaged under a cached store: reopen next time.
    _open.clear(str(store.path))
    st.warning(f"{message} {error}")


def _fingerprint(kind: str, parts: Dict[str, Any]) -> str:
    text = json.dumps([kind, parts], sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_run(kind: str, *, name: str, source: str, method: str, settings: Dict[str, Any],
             inputs: Dict[str, Any], outputs: Dict[str, Any],
             scores: Optional[Dict[str, Any]] = None, seconds: float) -> Optional[int]:
    """Keep a finished run; returns its id (also put in the URL as ``?run=<id>``), or None
    when the history is off or failed (a warning says why).

    A page reruns on every widget change and shows its cached result again: the same run
    (same kind, name, source, method, settings, inputs and outputs; time and scores aside)
    is stored once per session and its first id returned."""
    store = history()
    if store is None:
        return None
    key = _fingerprint(kind, {"name": name, "source": source, "method": method,
                              "settings": settings, "inputs": inputs, "outputs": outputs})
    saved: Dict[str, int] = st.session_state.setdefault(_SAVED, {})
    try:
        run_id = saved.get(key)
        if run_id is None or not store.exists(run_id):  # deleted meanwhile: save anew
            run_id = store.save(kind, name=name, source=source, method=method,
                                settings=settings, inputs=inputs, outputs=outputs,
                                scores=scores, seconds=seconds)
            saved[key] = run_id
    except HistoryError as e:
        _failed(store, "This run was not saved in the history.", e)
        return None
    st.query_params[QUERY_KEY] = str(run_id)
    return run_id


def load_run(run_id: Union[int, str, None]) -> Optional[Run]:
    """The run with this id (an int, or the text of ``?run=``), or None after saying why."""
    if run_id is None:
        return None
    try:
        number = int(str(run_id).strip())
    except ValueError:
        st.warning(f"?{QUERY_KEY}={run_id} is not a run number; showing a new page instead.")
        return None
    store = history()
    if store is None:
        return None
    try:
        return store.get(number)
    except RunNotFoundError:
        st.info(f"Run {number} is not in the history any more (it was deleted).")
    except HistoryError as e:
        _failed(store, f"Run {number} could not be read from the history.", e)
    return None


def run_from_url(kind: str) -> Optional[Run]:
    """The run ``?run=`` names when it is of this kind (a reload of the page that made it);
    None otherwise."""
    raw = st.query_params.get(QUERY_KEY)
    run = load_run(raw) if raw else None
    return run if run is not None and run.kind == kind else None


# -- the page -----------------------------------------------------------------------
def filters_ui() -> Tuple[List[str], str]:
    c1, c2 = st.columns([1, 2])
    kinds = c1.multiselect("Kinds", KINDS, key="hist.kinds",
                           persist_state="session", placeholder="all kinds")
    text = c2.text_input("Search names, methods and sources", key="hist.search",
                         persist_state="session")
    return kinds, text.strip()


def _label(row: RunRow) -> str:
    return f"#{row.id} · {row.kind} · {row.name or row.source or 'untitled'}"


def table_ui(rows: Sequence[RunRow], total: int) -> None:
    st.dataframe([{"id": r.id, "when (UTC)": r.created[:19].replace("T", " "), "kind": r.kind,
                   "name": r.name, "method": r.method, "seconds": round(r.seconds, 2)}
                  for r in rows], hide_index=True, width="stretch")
    if total > len(rows):
        st.caption(f"The newest {len(rows)} of {total} runs; search to find older ones.")


def selection_ui(rows: Sequence[RunRow]) -> List[int]:
    labels = {r.id: _label(r) for r in rows}
    # Runs filtered out (or deleted by another session) leave the selection before the
    # widget is drawn, so it never holds an option it no longer offers.
    kept = [i for i in st.session_state.get("hist.selected", []) if i in labels]
    st.session_state["hist.selected"] = kept
    return st.multiselect("Selected runs", list(labels), format_func=labels.__getitem__,
                          key="hist.selected", persist_state="session",
                          placeholder="choose runs to see, export or delete")


def export_ui(store: History, ids: Sequence[int], what: str) -> None:
    c1, c2 = st.columns(2)
    # Callables: the file is built only when a button is clicked, not on every rerun.
    c1.download_button(f"JSONL ({len(ids)} {what})", partial(store.export_jsonl, list(ids)),
                       file_name="condense-history.jsonl", mime="application/jsonl",
                       key="hist.dl.jsonl", on_click="ignore", icon=":material/download:",
                       disabled=not ids)
    c2.download_button(f"CSV ({len(ids)} {what})", partial(store.export_csv, list(ids)),
                       file_name="condense-history.csv", mime="text/csv", key="hist.dl.csv",
                       on_click="ignore", icon=":material/download:", disabled=not ids)


def _ask(ids: List[int]) -> None:
    st.session_state["hist.pending"] = ids


def _cancel() -> None:
    st.session_state.pop("hist.pending", None)


def _delete(store: History, ids: List[int]) -> None:
    # A callback runs before the page: the selection can still be emptied here.
    st.session_state.pop("hist.pending", None)
    st.session_state["hist.selected"] = []
    try:
        st.session_state["hist.done"] = f"Deleted {store.delete(ids)} runs."
    except HistoryError as e:
        st.session_state["hist.done"] = f"Nothing was deleted. {e}"


def delete_ui(store: History, ids: Sequence[int]) -> None:
    pending = st.session_state.get("hist.pending")
    if not pending:
        st.button(f"Delete {len(ids)} selected", key="hist.delete", disabled=not ids,
                  on_click=_ask, args=(list(ids),), icon=":material/delete:")
        return
    numbers = ", ".join(f"#{i}" for i in pending)
    st.warning(f"Delete {len(pending)} runs ({numbers})? This cannot be undone.")
    c1, c2 = st.columns(2)
    c1.button("Yes, delete", key="hist.confirm", type="primary", on_click=_delete,
              args=(store, pending))
    c2.button("Cancel", key="hist.cancel", on_click=_cancel)


def _values_ui(values: Mapping[str, Any], *, texts_in_expanders: bool) -> None:
    """Texts as plain text (never Markdown or HTML), everything else as JSON."""
    rest = {k: v for k, v in values.items() if not isinstance(v, str)}
    for key, value in values.items():
        if not isinstance(value, str):
            continue
        if texts_in_expanders:
            with st.expander(f"{key} ({len(value):,} characters)"):
                st.text(value)
        else:
            st.caption(key)
            st.text(value)
    if rest:
        st.json(rest)


def open_ui(run: Run, pages: Optional[Mapping[str, Any]]) -> None:
    target = (pages or {}).get(run.kind)
    if target is not None:
        if st.button("Open in its page", key="hist.open", icon=":material/open_in_new:"):
            st.switch_page(target, query_params={QUERY_KEY: str(run.id)})
    else:  # not wired to st.Page objects: a link to the page's URL reopens it too
        st.markdown(f"[Open in its page](./{PAGE_PATHS[run.kind]}?{QUERY_KEY}={run.id})")


def detail_ui(run: Run, pages: Optional[Mapping[str, Any]]) -> None:
    st.subheader(f"Run {run.id} · {run.kind}")
    st.text(f"{run.name}\n{run.source} · {run.method} · {run.created} · {run.seconds:.2f} s")
    open_ui(run, pages)
    left, right = st.columns(2)
    with left:
        st.markdown("**Inputs**")
        _values_ui(run.inputs, texts_in_expanders=True)
        st.markdown("**Settings**")
        st.json(run.settings)
    with right:
        st.markdown("**Outputs**")
        _values_ui(run.outputs, texts_in_expanders=False)
        if run.scores is not None:
            st.markdown("**Scores**")
            st.json(run.scores)


def page(settings: AppSettings, *, pages: Optional[Mapping[str, Any]] = None) -> None:
    """``pages``: kind -> the ``st.Page`` that shows it, for "Open in its page"
    (``st.switch_page`` needs the Page object of a page defined by a function)."""
    st.header("History")
    config = HistoryConfig.from_env()
    if not config.enabled:
        st.info(f"The history is off ({ENV}=off): runs are not kept.")
        return
    store = history()
    if store is None:
        return
    st.caption(f"Every run of every session, kept in {config.path}.")
    if "hist.done" in st.session_state:
        st.success(st.session_state.pop("hist.done"))
    kinds, text = filters_ui()
    try:
        rows = store.list(kind=kinds, text=text, limit=LIMIT)
        total = store.count(kind=kinds, text=text)
    except HistoryError as e:
        _failed(store, "The history could not be read.", e)
        return
    if not rows:
        st.caption("No runs match." if kinds or text else
                   "No runs yet: each summary, comparison, batch, generation and evaluation "
                   "is kept here.")
        return
    table_ui(rows, total)
    ids = selection_ui(rows)
    c1, c2 = st.columns([2, 1])
    with c1:
        export_ui(store, ids or [r.id for r in rows], "selected" if ids else "shown")
    with c2:
        delete_ui(store, ids)
    if len(ids) == 1:
        run = load_run(ids[0])
        if run is not None:
            detail_ui(run, pages)
    elif ids:
        st.caption("Select one run to see it in full.")
