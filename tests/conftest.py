import os
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BBC = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"


@contextmanager
def _session_env(name: str, value: str):
    """``name=value`` in os.environ for a session fixture (monkeypatch is per test), so
    that servers and CLIs started before a test's own fixtures inherit it; restored after."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@pytest.fixture
def bbc_pairs_path():
    """The BBC pairs file, or a clean skip where ../shared is absent (CI clones)."""
    path = Path(os.environ.get("CONDENSE_BBC", BBC))
    if not path.is_file():
        pytest.skip(f"BBC data not found at {path}")
    return path


@pytest.fixture(autouse=True, scope="session")
def _isolated_model_cache(tmp_path_factory):
    """Built-in models prepared on this machine (``~/.cache/condense``) must not change what
    a test sees (the abstractive method appears in the app once the summarizer is ready):
    every test, and every server or CLI it starts, gets an empty cache of its own."""
    with _session_env("CONDENSE_CACHE", str(tmp_path_factory.mktemp("model-cache"))):
        yield


@pytest.fixture(autouse=True)
def _isolated_settings_file(tmp_path, monkeypatch):
    """The app saves its settings to the user's data folder; a test (and every app it
    starts) saves to a file of its own instead."""
    monkeypatch.setenv("CONDENSE_SETTINGS", str(tmp_path / "condense-settings.json"))


@pytest.fixture(autouse=True, scope="session")
def _history_off_the_home_folder(tmp_path_factory):
    """The run history (``summarizer/results/history.py``) of anything started before a
    test's own fixtures (a module's app server) goes to a temporary file, never to
    ``~/.local/share/condense``."""
    with _session_env("CONDENSE_HISTORY",
                      str(tmp_path_factory.mktemp("history") / "history.sqlite3")):
        yield


@pytest.fixture(autouse=True)
def _isolated_history(tmp_path_factory, monkeypatch):
    """Each test starts with an empty history of its own, in a folder apart from its
    ``tmp_path`` (tests that list their tmp_path must not find it there)."""
    monkeypatch.setenv("CONDENSE_HISTORY",
                       str(tmp_path_factory.mktemp("history") / "history.sqlite3"))
