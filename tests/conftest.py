import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BBC = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"


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
    previous = os.environ.get("CONDENSE_CACHE")
    os.environ["CONDENSE_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))
    yield
    if previous is None:
        os.environ.pop("CONDENSE_CACHE", None)
    else:
        os.environ["CONDENSE_CACHE"] = previous


@pytest.fixture(autouse=True)
def _isolated_settings_file(tmp_path, monkeypatch):
    """The app saves its settings to the user's data folder; a test (and every app it
    starts) saves to a file of its own instead."""
    monkeypatch.setenv("CONDENSE_SETTINGS", str(tmp_path / "condense-settings.json"))
