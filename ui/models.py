"""Heavy objects, built once per server process and shared by every session.

``st.cache_resource`` keys each on its arguments (folder, device, threads), so changing a
setting loads a second copy instead of mutating the one other sessions use.
"""
from __future__ import annotations

from typing import List

import streamlit as st

from runtime.errors import ModelFileError
from summarizer.base import Summarizer
from summarizer.registry import ABSTRACTIVE, DEFAULT_METHOD, EXTRACTIVE_METHODS, get_summarizer

from .settings import AppSettings


@st.cache_resource(show_spinner="Loading the abstractive model (once per server)…", max_entries=2)
def abstractive_summarizer(model_dir: str, device: str, threads: int) -> Summarizer:
    """The shared summarizer. A folder that does not load raises its ``ModelFileError``
    (the pages show it with ``st.error``; nothing is cached), its fix pointing to Settings,
    where the app's user chooses the folder."""
    from summarizer.abstractive.seq2seq import AbstractiveConfig
    from summarizer.abstractive.factory import make_abstractive

    try:
        config = AbstractiveConfig(model_dir=model_dir, device=device, threads=threads)
        return make_abstractive(config)
    except ModelFileError as e:
        raise type(e)(e.path, e.problem, f"{e.fix}. Check the folder in Settings") from e


def method_names(settings: AppSettings) -> List[str]:
    """Extractive methods, default first, and "abstractive" when a model is configured or
    the built-in summarizer is prepared."""
    names = [DEFAULT_METHOD] + [m for m in EXTRACTIVE_METHODS if m != DEFAULT_METHOD]
    return names + ([ABSTRACTIVE] if settings.abstractive_folder() else [])


def summarizer_for(method: str, settings: AppSettings) -> Summarizer:
    """The summarizer for ``method``; the abstractive one comes from the shared cache."""
    if method == ABSTRACTIVE:
        config = settings.abstractive_config()
        return abstractive_summarizer(config.model_dir, config.device, config.threads)
    return get_summarizer(method)
