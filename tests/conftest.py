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
