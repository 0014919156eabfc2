"""Condense workbench (Streamlit). A thin shell: ``main()`` builds the navigation, one page
per URL (``/summarize``, ``/compare``, ...), and runs the chosen page's script from
``ui/pages/``; each page lives in ``ui/`` and calls the packages. Every input widget is
drawn with ``persist_state="session"``, so what the user typed is still there after a look
at another page (an uploaded file is kept by ``ui.widgets.upload_ui``).

Start it with ``make run`` (127.0.0.1, headless, no usage statistics).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.models import availability
from ui.settings import get_settings

PAGES_DIR = Path(__file__).resolve().parent / "ui" / "pages"
# (title, script, url path, icon); the first is the default page at "/"
PAGES = [
    ("Summarize", "summarize.py", "summarize", ":material/summarize:"),
    ("Compare", "compare.py", "compare", ":material/compare:"),
    ("Batch", "batch.py", "batch", ":material/folder_copy:"),
    ("Generate", "generate.py", "generate", ":material/edit_note:"),
    ("Evaluate", "evaluate.py", "evaluate", ":material/analytics:"),
    ("History", "history.py", "history", ":material/history:"),
    ("Settings", "settings.py", "settings", ":material/settings:"),
]


def pages() -> list:
    return [st.Page(PAGES_DIR / script, title=title, url_path=url, icon=icon,
                    default=(i == 0))
            for i, (title, script, url, icon) in enumerate(PAGES)]


def status_ui() -> None:
    """What is ready to use, in a line under the navigation."""
    st.sidebar.caption(availability(get_settings()))


def main() -> None:
    st.set_page_config(page_title="Condense", page_icon=":material/summarize:", layout="wide")
    st.sidebar.title("Condense")
    st.sidebar.caption("Local summarization and generation workbench")
    page = st.navigation(pages())
    page.run()
    status_ui()


if __name__ == "__main__":
    main()
