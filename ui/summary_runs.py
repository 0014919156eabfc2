"""Summaries for the Summarize page: each computed once (a result cache shared by every
session, so a rerun or a reload with the same inputs does not write it again) and, when
abstractive, shown as it is written: each part of a long document, then the summary, with
the time so far (``Progress`` from ``summarizer.abstractive``)."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import streamlit as st

from summarizer.abstractive.seq2seq import Progress
from summarizer.errors import CondenseError
from summarizer.registry import ABSTRACTIVE
from summarizer.types import Budget, Document, Summary

from .models import summarizer_for
from .settings import AppSettings

CACHE_ENTRIES = 64


@dataclass(frozen=True)
class Result:
    summary: Summary
    seconds: float  # to compute it (for a reopened run: as saved)
    run: Optional[int] = None  # the history run it was reopened from


# -- computing, once per input ------------------------------------------------------
class ResultCache:
    """The last ``CACHE_ENTRIES`` results by (document, method, budget, settings), shared by
    every session. Not ``st.cache_data``: a cached function may not draw into the page's
    placeholders (Streamlit could not replay that), and the abstractive summary streams into
    one while it is computed."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._items: "OrderedDict[tuple, Result]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Optional[Result]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key: tuple, result: Result) -> None:
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def result_cache() -> ResultCache:
    return ResultCache()


def summarize(document: Document, method: str, budget: Budget, settings: AppSettings,
              on_progress: Optional[Callable[[Progress], None]] = None) -> Result:
    """The cached result, else a new one (an abstractive summary tells ``on_progress`` as
    it is written)."""
    key = (document, method, budget, settings)
    cached = result_cache().get(key)
    if cached is not None:
        return cached
    started = time.perf_counter()
    summarizer = summarizer_for(method, settings)
    if method == ABSTRACTIVE and on_progress is not None:
        summary = summarizer(document, budget, on_progress=on_progress)
    else:
        with st.spinner("Summarizing…"):
            summary = summarizer(document, budget)
    result = Result(summary, time.perf_counter() - started)
    result_cache().put(key, result)
    return result


def run_result(document: Document, method: str, budget: Budget, settings: AppSettings,
               on_progress: Optional[Callable[[Progress], None]] = None) -> Optional[Result]:
    """The result, or None after showing why there is none."""
    try:
        return summarize(document, method, budget, settings, on_progress)
    except CondenseError as e:
        st.error(str(e))
    except Exception as e:  # a model folder that does not load: say so, keep the page up
        if method != ABSTRACTIVE:
            raise
        st.error(f"The abstractive model in {settings.abstractive_folder()!r} could not be used "
                 f"({type(e).__name__}: {e}). Check the folder in Settings.")
    return None


def run_summary(document: Document, method: str, budget: Budget,
                settings: AppSettings) -> Optional[Summary]:
    """The summary (cached), or None after showing why there is none; the Compare page's
    call too."""
    result = run_result(document, method, budget, settings)
    return result.summary if result is not None else None


# -- streaming ------------------------------------------------------------------------
def progress_label(p: Progress) -> str:
    """What an abstractive summary is doing, in words: "Long article: summarizing part 2
    of 3", "Combining the parts' summaries", "Writing the summary"."""
    if not p.parts:
        return "Combining the parts' summaries" if p.round else "Writing the summary"
    which = f"part {p.part} of {p.parts}" if p.part == p.last else \
        f"parts {p.part}–{p.last} of {p.parts}"
    if p.round == 1:
        return f"Long article: summarizing {which}"
    return f"Summarizing the parts' summaries again: {which}"


def streaming_ui(place) -> Callable[[Progress], None]:
    """A callback that shows each step in ``place`` (an ``st.empty``): what is being done
    and the time so far, then the summary as it is written, or until it starts, the parts'
    summaries so far (a model that takes back repeats streams text that grows and, when
    it takes some back, shrinks)."""
    started = time.perf_counter()
    parts: Dict[int, str] = {}  # the current round's part summaries so far, by part
    rounds = [0]

    def show(p: Progress) -> None:
        if p.parts and p.round != rounds[0]:
            parts.clear()
            rounds[0] = p.round
        if p.parts and p.text:
            parts[p.part] = p.text
        writing = not p.parts and p.text  # the summary itself, as it is written
        text = p.text if writing else "\n\n".join(parts[k] for k in sorted(parts))
        elapsed = f"{time.perf_counter() - started:.1f} s"
        with place.container():
            if p.parts:  # parts done before this batch, of all
                st.progress((p.part - 1) / p.parts, text=f"{progress_label(p)} · {elapsed}")
            else:
                st.caption(f"{progress_label(p)}… · {elapsed}")
            # always the same three elements: a container with fewer would keep showing the
            # last ones of the one it replaces until the run ends
            st.caption("The parts' summaries so far:" if text and not writing else "")
            st.text(text)

    return show
