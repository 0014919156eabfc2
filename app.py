"""Condense workbench (Streamlit). A thin shell: ``main()`` picks a page from the sidebar
and hands it this session's settings; each page lives in ``ui/`` and calls the packages.

Start it with ``make run`` (127.0.0.1, headless, no usage statistics).
"""
from __future__ import annotations

import streamlit as st

from ui import batch, compare, evaluate, generate, summarize
from ui.settings import AppSettings, get_settings, settings_ui

PAGES = {
    "Summarize": summarize.page,
    "Batch": batch.page,
    "Compare": compare.page,
    "Generate": generate.page,
    "Evaluate": evaluate.page,
}
SETTINGS = "Settings"


def navigation_ui() -> str:
    """The page chosen in the sidebar."""
    st.sidebar.title("Condense")
    st.sidebar.caption("Local summarization and generation workbench")
    return st.sidebar.radio("Page", [*PAGES, SETTINGS], key="nav.page")


def status_ui(settings: AppSettings) -> None:
    """What the session is set to, in a line under the navigation."""
    model = "abstractive on" if settings.abstractive_dir else "extractive only"
    st.sidebar.caption(f"Device {settings.device} · {model}")


def main() -> None:
    st.set_page_config(page_title="Condense", page_icon=":material/summarize:", layout="wide")
    choice = navigation_ui()
    if choice == SETTINGS:
        settings = settings_ui()
    else:
        settings = get_settings()
        PAGES[choice](settings)
    status_ui(settings)


if __name__ == "__main__":
    main()
