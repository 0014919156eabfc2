"""Models in the app: the heavy objects, built once per server process and shared by every
session; what the sidebar says is available; and the Models section of the Settings page,
which lists the built-in models and the folders under the models folder and lets the user
pick the summarizer and the generator from them (or type a folder).

``st.cache_resource`` keys each model on its arguments (folder, device, threads), so
changing a setting loads a second copy instead of mutating the one other sessions use.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List

import streamlit as st

from runtime.catalog import (GENERATOR, SUMMARIZER, ModelInfo, all_models, builtin_ready,
                             describe, human_size)
from runtime.errors import ModelFileError
from summarizer.base import Summarizer
from summarizer.registry import ABSTRACTIVE, DEFAULT_METHOD, EXTRACTIVE_METHODS, get_summarizer

if TYPE_CHECKING:  # ui.settings draws this module's section; a real import would be a cycle
    from .settings import AppSettings

OTHER = "\x00other"  # the pickers' "a folder I type" choice (no folder path starts with NUL)


@st.cache_resource(show_spinner="Loading the abstractive model (once per server)…", max_entries=2)
def abstractive_summarizer(model_dir: str, device: str, threads: int,
                           long_documents: str) -> Summarizer:
    """The shared summarizer. A folder that does not load raises its ``ModelFileError``
    (the pages show it with ``st.error``; nothing is cached), its fix pointing to Settings,
    where the app's user chooses the folder."""
    from summarizer.abstractive.seq2seq import AbstractiveConfig
    from summarizer.abstractive.factory import make_abstractive

    try:
        config = AbstractiveConfig(model_dir=model_dir, device=device, threads=threads,
                                   long_documents=long_documents)
        return make_abstractive(config)
    except ModelFileError as e:
        raise type(e)(e.path, e.problem, f"{e.fix}. Check the folder in Settings") from e


def method_names(settings: "AppSettings") -> List[str]:
    """The default (extractive) method, then "abstractive" when a model is configured or
    the built-in summarizer is prepared (a first-class choice, not the last of ten), then
    the other extractive methods."""
    abstractive = [ABSTRACTIVE] if settings.abstractive_folder() else []
    return [DEFAULT_METHOD] + abstractive + [m for m in EXTRACTIVE_METHODS if m != DEFAULT_METHOD]


def summarizer_for(method: str, settings: "AppSettings") -> Summarizer:
    """The summarizer for ``method``; the abstractive one comes from the shared cache."""
    if method == ABSTRACTIVE:
        config = settings.abstractive_config()
        return abstractive_summarizer(config.model_dir, config.device, config.threads,
                                      config.long_documents)
    return get_summarizer(method)


# -- what is available -------------------------------------------------------------
def _chosen(folder: str, role: str) -> str:
    """A configured folder in a few words: its name, or why it cannot be used."""
    info = describe(Path(folder).expanduser())
    if info is None:
        return f"{Path(folder).name or folder} (not a model folder)"
    name = _name(info)
    if info.role != role:
        return f"{name} (a {info.role}, not a {role})"
    return name


def _name(info: ModelInfo) -> str:
    """A built-in model's title; a folder of the user's by its folder name first (two
    exports of one checkpoint carry the same title, their folders tell them apart), with
    the title when it says more."""
    if info.builtin is not None or info.title == info.folder.name:
        return info.title
    return f"{info.folder.name} — {info.title}"


def availability(settings: "AppSettings") -> str:
    """One line for the sidebar, true to what the pages can do now, e.g. ``"Device cpu ·
    extractive ready · abstractive: built-in summarizer ready · generator: not prepared"``."""
    if settings.abstractive_dir.strip():
        abstractive = _chosen(settings.abstractive_dir.strip(), SUMMARIZER)
    elif builtin_ready("summary"):
        abstractive = "built-in summarizer ready"
    else:
        abstractive = "not prepared"
    if settings.generator_dir.strip():
        generator = _chosen(settings.generator_dir.strip(), GENERATOR)
    elif builtin_ready("default"):
        generator = "built-in ready"
    else:
        generator = "not prepared"
    return (f"Device {settings.device} · extractive ready · abstractive: {abstractive} · "
            f"generator: {generator}")


# -- the Models section of Settings ------------------------------------------------
@dataclass(frozen=True)
class ModelChoice:
    """What the Models section sets: folders, "" meaning the built-in model."""

    abstractive_dir: str
    generator_dir: str
    models_dir: str


def table_ui(models: List[ModelInfo]) -> None:
    st.dataframe(
        [{"model": _name(m), "what": m.role, "architecture": m.architecture,
          "precision": m.precision, "size": human_size(m.size_bytes) if m.ready else "",
          "status": ("built-in, ready" if m.builtin and m.ready else
                     "built-in, not prepared" if m.builtin else "in the models folder"),
          "folder": str(m.folder)} for m in models],
        hide_index=True, width="stretch",
        column_config={"folder": st.column_config.TextColumn(width="medium")})


def _options(models: List[ModelInfo], role: str, builtin_label: str) -> Dict[str, str]:
    """Picker options: value (a folder, "" for the built-in default, OTHER) -> label."""
    options = {"": builtin_label}
    default = "summary" if role == SUMMARIZER else "default"
    # What "" stands for: that built-in model's own listing, the first with its key (a
    # models folder may hold the same model at another precision: that one is offered).
    standing = next((m for m in models if m.builtin == default), None)
    for m in models:
        if m.role == role and m.ready and m is not standing:
            where = "built-in" if m.builtin else m.folder.parent.name or str(m.folder.parent)
            options[str(m.folder)] = f"{_name(m)} ({m.describe()}; {where})"
    options[OTHER] = "Another folder (type its path below)"
    return options


def _pick(pick_key: str, text_key: str) -> None:
    """A picker's choice goes into its folder box (a callback: runs before the widgets)."""
    if st.session_state[pick_key] != OTHER:
        st.session_state[text_key] = st.session_state[pick_key]


def picker_ui(label: str, options: Dict[str, str], *, key: str, current: str,
              help_text: str) -> str:
    """A select box over ``options`` above a box with the folder in use ("" = built-in).
    The box is the setting; the select box fills it. A folder typed into the box selects
    its option, or "Another folder" when it is not listed."""
    pick_key, text_key, seen_key = f"{key}_pick", key, f"{key}_seen"
    state = st.session_state
    state.setdefault(text_key, current)
    typed = state[text_key].strip()
    # Follow the box when it changed (typed, or a new session), or when the choice is gone
    # from the list; otherwise keep the choice ("Another folder" picked before typing).
    if state.get(seen_key) != typed or state.get(pick_key) not in options:
        state[pick_key] = typed if typed in options else OTHER
    state[seen_key] = typed
    st.selectbox(label, list(options), format_func=options.__getitem__, key=pick_key,
                 persist_state="session",
                 on_change=_pick, args=(pick_key, text_key), help=help_text)
    folder = st.text_input(f"{label} folder", key=text_key, persist_state="session",
                           placeholder="(empty: the built-in model)")
    return folder.strip()


def models_ui(current: "AppSettings") -> ModelChoice:
    """The Models section: the models folder, the table, the preparation, the pickers."""
    from .prepare import prepare_ui

    st.subheader("Models")
    st.session_state.setdefault("set.models_dir", current.models_dir)
    models_dir = st.text_input(
        "Models folder (exported model folders under it are listed here)", key="set.models_dir",
        persist_state="session",
        placeholder="(none: only the built-in models are listed)",
        help="Each model folder written by `python -m export ...`, directly in it or one "
             "folder down. Can also be set with CONDENSE_MODELS_DIR.").strip()
    if models_dir and not Path(models_dir).expanduser().is_dir():
        st.warning(f"{models_dir}: no such folder")
    models = all_models(models_dir)
    table_ui(models)
    prepare_ui(models)
    summary = next((m for m in models if m.builtin == "summary"), None)
    generator = next((m for m in models if m.builtin == "default"), None)
    c1, c2 = st.columns(2)
    with c1:
        abstractive_dir = picker_ui(
            "Abstractive summarizer",
            _options(models, SUMMARIZER, "Built-in summarizer" + (
                "" if summary and summary.ready else " (not prepared yet)")),
            key="set.abstractive", current=current.abstractive_dir,
            help_text="What the 'abstractive' method uses on every page")
    with c2:
        generator_dir = picker_ui(
            "Generator",
            _options(models, GENERATOR, "Built-in generator" + (
                "" if generator and generator.ready else " (not prepared yet)")),
            key="set.generator", current=current.generator_dir,
            help_text="What the Generate page writes with (the news preset uses its own "
                      "built-in model when that is prepared)")
    return ModelChoice(abstractive_dir, generator_dir, models_dir)
