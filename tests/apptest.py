"""Opening a page of the app as a new browser tab would, for streamlit.testing's AppTest:
the page's address (one script per page under ``ui/pages/``), with ``?run=`` when a test
reopens a saved run, and this session's settings."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(page: str, settings=None, *, run_id: Optional[str] = None,
              timeout: float = 60) -> AppTest:
    """A new session on ``page`` ("Batch", "Compare", ...); ``settings``: an AppSettings
    for the session; ``run_id``: puts ``?run=`` in its URL."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if settings is not None:
        at.session_state["settings"] = settings
    if run_id is not None:
        at.query_params["run"] = str(run_id)
    at.switch_page(f"ui/pages/{page.lower()}.py").run()
    assert not at.exception, at.exception
    return at
