"""The "Prepare the built-in models" button: the commands ``make models`` runs, one per model,
each in a subprocess, with a progress bar (one step per model) and their output as it comes.

The preparation runs in a thread of the server, not in the page's script run: it takes
minutes, and a user who opens another page (which stops the script) must not stop it. One
preparation at a time per server; every session sees it, and the page follows it by
polling until it ends. The commands themselves lock each model's folder, so even two
servers never convert one model twice.

``PREPARE`` (the interpreter, the commands, the folder they run in) is a module setting so
that a test can run stub commands instead of the multi-minute conversion.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Deque, List, Optional, Sequence, Tuple

import streamlit as st

from runtime.catalog import ModelInfo

ROOT = Path(__file__).resolve().parents[1]
# Converting one model from the GGUF file takes 20-60 s on 2 cores (docs/BENCHMARKS.md).
POLL_S = 0.5
SHOWN_LINES = 12


@dataclass(frozen=True)
class PrepareStep:
    builtin: str  # the model's key in runtime.builtin.BUILTIN_MODELS
    args: Tuple[str, ...]  # after the interpreter


@dataclass(frozen=True)
class PrepareConfig:
    python: str = sys.executable
    # the Makefile's `models` target, in its order
    steps: Tuple[PrepareStep, ...] = (
        PrepareStep("default", ("-m", "generation", "setup")),
        PrepareStep("news", ("-m", "generation", "setup", "--model", "news")),
        PrepareStep("summary", ("-m", "summarizer", "setup")),
    )
    cwd: Path = ROOT


PREPARE = PrepareConfig()


@dataclass
class StepResult:
    title: str
    code: Optional[int] = None  # None: running or not started; 0: ready
    seconds: float = 0.0
    skipped: bool = False  # prepared already: no command run
    error: str = ""  # the command's "error: ..." line, or its last lines


@dataclass
class Preparation:
    """One run of the steps, in a thread; ``snapshot`` is safe to call from any session.
    ``ready``: per step, whether its model was prepared already (no command is run)."""

    config: PrepareConfig
    steps: Sequence[PrepareStep]
    titles: Sequence[str]
    ready: Sequence[bool]
    started: float = field(default_factory=time.monotonic)
    results: List[StepResult] = field(default_factory=list)
    lines: Deque[str] = field(default_factory=lambda: deque(maxlen=200))
    done: bool = False
    ended: Optional[float] = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "Preparation":
        threading.Thread(target=self._run, name="condense-prepare", daemon=True).start()
        return self

    def _run(self) -> None:
        for step, title, ready in zip(self.steps, self.titles, self.ready, strict=True):
            result = StepResult(title, skipped=ready, code=0 if ready else None)
            with self._lock:
                self.results.append(result)
            if not ready:
                self._command(step, result)
        with self._lock:
            self.done, self.ended = True, time.monotonic()

    def _command(self, step: PrepareStep, result: StepResult) -> None:
        began = time.monotonic()
        cmd = [self.config.python, *step.args]
        tail: Deque[str] = deque(maxlen=3)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            with subprocess.Popen(cmd, cwd=self.config.cwd, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace",
                                  env=env) as proc:
                assert proc.stdout is not None
                for line in proc.stdout:  # text mode: a progress bar's \r ends a line too
                    line = line.rstrip()
                    if not line:
                        continue
                    tail.append(line)
                    with self._lock:
                        self.lines.append(line)
                        if line.startswith("error: "):
                            result.error = line[len("error: "):]
            code = proc.returncode
        except OSError as e:  # the interpreter itself could not start
            code, tail = -1, deque([f"could not start {cmd[0]}: {e.strerror or e}"])
        with self._lock:
            result.code = code
            result.seconds = time.monotonic() - began
            if code != 0 and not result.error:
                result.error = " | ".join(tail) or f"exit status {code}"

    def snapshot(self) -> Tuple[List[StepResult], List[str], bool, float]:
        """(steps so far, the output lines, finished, seconds since the start)."""
        with self._lock:
            results = [replace(r) for r in self.results]
            return (results, list(self.lines), self.done,
                    (self.ended or time.monotonic()) - self.started)


@st.cache_resource(show_spinner=False)
def _current() -> dict:
    """The server's preparation, shared by every session: {"job": Preparation or None}."""
    return {"job": None}


def status_text(results: Sequence[StepResult], total: int, elapsed: float) -> str:
    """``"2 / 3 models · now: SmolLM2-135M-Instruct + BBC news adapter · 75 s elapsed"``."""
    finished = [r for r in results if r.code is not None]
    parts = [f"{len(finished)} / {total} models"]
    running = [r for r in results if r.code is None]
    if running:
        parts.append(f"now: {running[0].title}")
    failed = sum(r.code not in (None, 0) for r in results)
    if failed:
        parts.append(f"{failed} failed")
    parts.append(f"{elapsed:.0f} s elapsed")
    return " · ".join(parts)


def _show(job: Preparation, bar, output) -> bool:
    """Draw the job's state into the placeholders; whether it has finished."""
    results, lines, done, elapsed = job.snapshot()
    total = len(job.titles)
    finished = sum(r.code is not None for r in results)
    bar.progress(finished / total if total else 1.0, text=status_text(results, total, elapsed))
    if lines:
        output.code("\n".join(lines[-SHOWN_LINES:]), language=None)
    return done


def report_ui(job: Preparation) -> None:
    results, lines, _, elapsed = job.snapshot()
    for r in results:
        if r.skipped:
            st.caption(f"{r.title}: prepared already.")
        elif r.code == 0:
            st.success(f"{r.title}: ready ({r.seconds:.0f} s).")
        else:
            st.error(f"{r.title} could not be prepared: {r.error}")
    st.caption(f"Finished in {elapsed:.0f} s.")
    if lines:
        with st.expander("Output of the preparation"):
            st.code("\n".join(lines), language=None)


def prepare_ui(models: Sequence[ModelInfo]) -> None:
    """The button, and the running or last preparation of this server."""
    # each built-in model's own listing: the first with its key (runtime.catalog.all_models)
    builtin = {m.builtin: m for m in reversed(models) if m.builtin}
    config = PREPARE
    steps = [s for s in config.steps if s.builtin in builtin]
    missing = [s for s in steps if not builtin[s.builtin].ready]
    holder = _current()
    job: Optional[Preparation] = holder["job"]
    running = job is not None and not job.snapshot()[2]
    seen_key = "set.prepare_seen"  # the preparation this session started or followed
    c1, c2 = st.columns([1, 2])
    clicked = c1.button("Prepare the built-in models", key="set.prepare",
                        icon=":material/download:", disabled=running or not missing)
    if missing:
        c2.caption(f"{len(missing)} of {len(steps)} built-in models not prepared: each is "
                   f"converted once into the cache, under a minute per model "
                   "on 2 cores (what `make models` does).")
    else:
        c2.caption("Every built-in model is prepared.")
    if clicked and not running:
        job = Preparation(config, steps, [builtin[s.builtin].title for s in steps],
                          [builtin[s.builtin].ready for s in steps]).start()
        holder["job"] = job
        running = True
    if job is None or not (running or st.session_state.get(seen_key) == id(job)):
        return  # nothing running, and the last preparation was another session's
    st.session_state[seen_key] = id(job)
    bar, output = st.empty(), st.empty()
    # Follow a running preparation until it ends (leaving the page stops only this loop).
    while not _show(job, bar, output):
        time.sleep(POLL_S)
    if running:  # models changed: draw the table and the pickers again, then this report
        st.rerun()
    output.empty()
    report_ui(job)
