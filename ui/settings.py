"""Settings: typed defaults in a dataclass, kept in ``st.session_state``, saved to a file,
and their page.

Defaults can be given to a deployment by environment variables (read once per session):
``CONDENSE_DEVICE``, ``CONDENSE_THREADS``, ``CONDENSE_ABSTRACTIVE_MODEL``,
``CONDENSE_GENERATOR_MODEL``, ``CONDENSE_MODELS_DIR``, ``CONDENSE_BATCH_ROOT`` and
``CONDENSE_LONG_DOCUMENTS`` (extract or map-reduce). What the user sets on the
Settings page is saved to ``settings.json`` in the user's data folder
(``$XDG_DATA_HOME/condense``, or ``$CONDENSE_SETTINGS``; ``off`` saves nothing) and wins
over those defaults, so a reload or a server restart keeps it. The app is a local
workbench: every browser session of one server shares that file.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import List, Mapping, Optional, Tuple

import streamlit as st

from summarizer.documents.archive import ArchiveLimits
from .models import models_ui
from summarizer.documents.loaders import LoaderConfig

STATE_KEY = "settings"
_ENV = {
    "device": "CONDENSE_DEVICE", "threads": "CONDENSE_THREADS",
    "abstractive_dir": "CONDENSE_ABSTRACTIVE_MODEL", "generator_dir": "CONDENSE_GENERATOR_MODEL",
    "batch_root": "CONDENSE_BATCH_ROOT", "models_dir": "CONDENSE_MODELS_DIR",
    "long_documents": "CONDENSE_LONG_DOCUMENTS",
}
# How the abstractive summarizer reads a document longer than its input (AbstractiveConfig)
LONG_DOCUMENTS = {"extract": "Its best sentences, in one pass (faster)",
                  "map-reduce": "All of it, in parts, then their summaries"}


@dataclass(frozen=True)
class AppSettings:
    device: str = "cpu"  # "cpu" or "cuda" (onnxruntime's CUDA provider)
    threads: int = 0  # onnxruntime intra-op threads; 0 = one per core
    abstractive_dir: str = ""  # exported summarizer folder; empty = the built-in one, if prepared
    generator_dir: str = ""  # exported causal-LM folder; empty = generation's default
    max_upload_mb: int = 50  # per uploaded file (and per archive member)
    max_chars: int = 1_000_000  # cleaned document length
    max_batch_files: int = 200  # files in one batch
    max_new_tokens: int = 512  # ceiling of the Generate page's length slider
    batch_root: str = ""  # the only folder tree the Batch page may read by name
    models_dir: str = ""  # exported model folders under it are offered on the Settings page
    long_documents: str = "extract"  # one of LONG_DOCUMENTS

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "AppSettings":
        values = {}
        for f in fields(cls):
            raw = env.get(_ENV.get(f.name, ""), "").strip()
            if raw:
                values[f.name] = int(raw) if f.type in ("int", int) else raw
        return cls(**values)

    def loader_config(self) -> LoaderConfig:
        return LoaderConfig(max_bytes=self.max_upload_mb * 1024 * 1024, max_chars=self.max_chars)

    def archive_limits(self) -> ArchiveLimits:
        per_file = self.max_upload_mb * 1024 * 1024
        return ArchiveLimits(max_files=self.max_batch_files, max_file_bytes=per_file,
                             max_total_bytes=max(per_file, 4 * per_file))

    def abstractive_folder(self) -> str:
        """The configured folder, else the built-in summarizer's once ``python -m summarizer
        setup`` has prepared it, else "" (no abstractive method). Never prepares it here:
        a page render must not start a two-minute conversion."""
        if self.abstractive_dir.strip():
            return self.abstractive_dir.strip()
        from runtime.builtin import SUMMARY_MODEL, is_ready
        from runtime.errors import CondenseError

        try:
            folder = SUMMARY_MODEL.folder()
        except CondenseError:  # its adapter is not in assets/
            return ""
        return str(folder) if is_ready(folder) else ""

    def abstractive_config(self):
        """An AbstractiveConfig for ``abstractive_folder()``, or None when there is none."""
        folder = self.abstractive_folder()
        if not folder:
            return None
        from summarizer.abstractive.seq2seq import AbstractiveConfig

        return AbstractiveConfig(model_dir=folder, device=self.device, threads=self.threads,
                                 long_documents=self.long_documents)


def settings_file(env: Mapping[str, str] = os.environ) -> Optional[Path]:
    """Where the Settings page saves, or None when ``CONDENSE_SETTINGS=off``."""
    raw = env.get("CONDENSE_SETTINGS", "").strip()
    if raw.lower() == "off":
        return None
    if raw:
        return Path(raw).expanduser()
    data = env.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local" / "share")
    return Path(data) / "condense" / "settings.json"


def read_saved(path: Optional[Path]) -> Tuple[dict, Optional[str]]:
    """The saved fields that ``AppSettings`` knows with the right type, and a problem to
    show (an unreadable file is ignored, never fatal: the defaults apply)."""
    if path is None or not path.is_file():
        return {}, None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        return {}, (f"{path}: saved settings could not be read ({e}); the defaults apply. "
                    "Save on the Settings page to write a new file, or delete it.")
    types = {f.name: (int if f.type in ("int", int) else str) for f in fields(AppSettings)}
    kept = {k: v for k, v in raw.items()
            if k in types and type(v) is types[k]}  # noqa: E721  (bool is not an int here)
    return kept, None


def save_settings(settings: AppSettings, path: Optional[Path]) -> Optional[str]:
    """Write ``settings`` atomically (a crash never leaves half a file); a problem to show,
    or None."""
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False,
                                         encoding="utf-8") as f:
            json.dump(asdict(settings), f, indent=1)
        os.replace(f.name, path)
    except OSError as e:
        return (f"{path}: settings could not be saved ({e.strerror or e}); they hold for "
                "this session only. Set CONDENSE_SETTINGS to a writable file.")
    return None


def get_settings() -> AppSettings:
    """This session's settings: the saved ones over the environment's defaults, on first
    use."""
    if STATE_KEY not in st.session_state:
        saved, problem = read_saved(settings_file())
        if problem:
            st.warning(problem)
        st.session_state[STATE_KEY] = replace(AppSettings.from_env(), **saved)
    return st.session_state[STATE_KEY]


def available_devices() -> List[str]:
    """"cpu", plus "cuda" when this onnxruntime has the CUDA provider."""
    import onnxruntime as ort

    return ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in ort.get_available_providers() else [])


def folder_problem(path: str, *, need: str = "onnx") -> Optional[str]:
    """Why ``path`` is not a usable exported model folder, or None when it looks fine."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return f"{path}: no such folder"
    if need == "onnx" and not any(folder.glob("*.onnx")):
        return (f"{path}: holds no .onnx graph; export a model into it first "
                "(python -m export onnx ...)")
    return None


def settings_ui() -> AppSettings:
    """The Settings page; returns (and stores) the settings the widgets now show."""
    current = get_settings()
    st.header("Settings")
    where = settings_file()
    st.caption((f"Saved to {where}, so they survive a reload and a restart. " if where else
                "Kept for this browser session (CONDENSE_SETTINGS=off). ") +
               "Models load once per server process and are shared by every session.")
    devices = available_devices()
    c1, c2 = st.columns(2)
    device = c1.selectbox("Device", devices, key="set.device", persist_state="session",
                          index=devices.index(current.device) if current.device in devices else 0,
                          help="CUDA is offered when onnxruntime has its CUDA provider")
    threads = c2.number_input("Threads (0 = one per core)", 0, os.cpu_count() or 64,
                              current.threads, key="set.threads", persist_state="session")
    chosen = models_ui(current)
    abstractive_dir, generator_dir = chosen.abstractive_dir, chosen.generator_dir
    modes = list(LONG_DOCUMENTS)
    long_documents = st.radio(
        "Documents longer than the abstractive model reads", modes, key="set.long",
        persist_state="session", format_func=LONG_DOCUMENTS.get, horizontal=True,
        index=modes.index(current.long_documents) if current.long_documents in modes else 0,
        help="Best sentences: the extractive ranker picks what fits, summarized once. Parts: "
             "every part summarized, then the parts' summaries (minutes for a long paper). "
             "On long papers the first scored higher in a seventeenth of the time "
             "(docs/QUALITY.md)")
    for path in (abstractive_dir, generator_dir):
        problem = folder_problem(path) if path.strip() else None
        if problem:
            st.warning(problem)
    st.subheader("Limits")
    c1, c2, c3, c4 = st.columns(4)
    max_upload_mb = c1.number_input("Upload size (MB)", 1, 1024, current.max_upload_mb,
                                    key="set.upload", persist_state="session")
    max_chars = c2.number_input("Document length (characters)", 1_000, 5_000_000,
                                current.max_chars, step=10_000, key="set.chars",
                                persist_state="session")
    max_batch_files = c3.number_input("Batch size (files)", 1, 10_000, current.max_batch_files,
                                      key="set.batch", persist_state="session")
    max_new_tokens = c4.number_input("Generation length (tokens)", 16, 4096,
                                     current.max_new_tokens, key="set.tokens",
                                     persist_state="session")
    st.subheader("Batch folders")
    batch_root = st.text_input("Batch root folder (the Batch page reads only under it)",
                               current.batch_root, key="set.root", persist_state="session",
                               placeholder="(none: the Batch page takes uploads only)")
    if batch_root.strip() and not Path(batch_root).expanduser().is_dir():
        st.warning(f"{batch_root}: no such folder")
    updated = replace(current, device=device, threads=int(threads),
                      abstractive_dir=abstractive_dir.strip(), generator_dir=generator_dir.strip(),
                      max_upload_mb=int(max_upload_mb), max_chars=int(max_chars),
                      max_batch_files=int(max_batch_files), max_new_tokens=int(max_new_tokens),
                      batch_root=batch_root.strip(), models_dir=chosen.models_dir,
                      long_documents=long_documents)
    if updated != current:
        problem = save_settings(updated, settings_file())
        if problem:
            st.warning(problem)
    st.session_state[STATE_KEY] = updated
    with st.expander("Current settings"):
        st.json(asdict(updated))
    return updated
