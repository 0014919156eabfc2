"""The Batch page in a real browser (#18 items 5 and 7 for batches): progress inside long
documents summarized in parts, the faithfulness flags of abstractive summaries as columns
of the table and of every download, and a batch reopened from its URL after a reload and a
server restart. The abstractive model is a tiny decoder-only summarizer, a random GPT-2
built here (its summaries are nonsense; what is checked is what the page does with them)."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from tests.browser import *  # noqa: F401,F403  (fixtures and helpers)
from tests.browser import (ARTICLE, TEST_TIMEOUT_S, download, go, shot, sync_api, upload,
                           wait_idle)

from summarizer.evaluation.faithfulness import check_faithfulness
from tests.tiny_models import CORPUS

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
expect = sync_api.expect
LONG = {f"long-{i}.txt": " ".join(CORPUS[i:] + CORPUS * 3) for i in range(3)}
SHORT = {"a.txt": CORPUS[0] + " " + CORPUS[5], "b.txt": CORPUS[2] + " " + CORPUS[4]}


@pytest.fixture(scope="module")
def summarizer_dir(tmp_path_factory):
    """A decoder-only summarizer that reads 24 article tokens at a time: the long files
    are summarized in dozens of parts. A GPT-2 as wide and deep as the Generate tests'
    (each part takes a moment, so the browser sees the progress), with sharpened weights
    (clear next-token choices: its summaries have words)."""
    try:
        from transformers import AutoModelForCausalLM

        from export import ExportConfig, export_onnx
        from tests.tiny_models import make_tiny_causal, sharpen
    except ImportError:
        pytest.skip("export's dependencies (torch, transformers) are missing")
    root = tmp_path_factory.mktemp("lm-summarizer")
    make_tiny_causal("gpt2", root / "ckpt", wide=True)
    sharpen(root / "ckpt", AutoModelForCausalLM)
    folder = export_onnx(str(root / "ckpt"), out=root / "tiny-summarizer",
                         config=ExportConfig(task="causal-lm", validate=False)).folder
    (folder / "condense_summary.json").write_text(json.dumps(
        {"format": "condense-summary-prompt", "format_version": 2, "prefix": "",
         "suffix": " summary :", "max_source_tokens": 24, "max_target_tokens": 8,
         "article_whitespace": "collapse"}))
    return folder


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, batch_root, summarizer_dir):
    data = tmp_path_factory.mktemp("condense-data")
    return {**os.environ, "CONDENSE_BATCH_ROOT": str(batch_root), "PYTHONUNBUFFERED": "1",
            "CONDENSE_HISTORY": str(data / "history.sqlite3"),
            "CONDENSE_SETTINGS": str(data / "settings.json"),
            "CONDENSE_ABSTRACTIVE_MODEL": str(summarizer_dir),
            # the long documents here are read in parts, which the page shows as they go
            "CONDENSE_LONG_DOCUMENTS": "map-reduce"}


def zipped(tmp_path, files: dict, name: str = "docs.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        for member, text in files.items():
            z.writestr(member, text)
    return str(path)


def run_batch(page, archive: str, *, method: str = "abstractive") -> None:
    go(page, "Batch")
    upload(page, 0, archive)
    page.get_by_test_id("stSelectbox").filter(has_text="Method").click()
    page.get_by_role("option", name=method, exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Summarize all").click()


def table_csv(page, index: int = 0) -> list:
    """The rows of a results table as the page shows it, through its own "Download as
    CSV" (the grid draws on a canvas: its cells are not in the page's text)."""
    # Chromium's save dialog cannot be driven: without it, Streamlit's exporter falls back
    # to an ordinary download
    page.evaluate("delete window.showSaveFilePicker")
    grid = page.get_by_test_id("stDataFrame").nth(index)
    grid.hover()
    with page.expect_download() as info:
        grid.get_by_role("button", name="Download as CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def results(page) -> None:
    page.get_by_role("heading", name="Results").wait_for()
    wait_idle(page)
    page.get_by_test_id("stMetricValue").nth(1).wait_for()


def test_progress_inside_long_documents(page, tmp_path):
    run_batch(page, zipped(tmp_path, LONG))
    inside = page.get_by_test_id("stProgress").filter(has_text=re.compile(r"long-\d\.txt: writing part"))
    inside.first.wait_for()
    overall = page.get_by_test_id("stProgress").filter(has_text=" files · ").first.inner_text()
    assert re.match(r"\d / 3 files · [\d.]+ s elapsed", overall)
    shot(page, "batch-progress")
    # Stop once the first file is done: what was finished stays, and is not done again
    page.get_by_test_id("stProgress").filter(has_text="long-1.txt: writing part").first.wait_for()
    page.get_by_role("button", name="Stop").click()
    stopped = page.get_by_test_id("stAlert").filter(has_text=re.compile(r"Stopped after [12] of 3"))
    stopped.wait_for()
    wait_idle(page)
    finished = int(re.search(r"after (\d)", stopped.inner_text()).group(1))
    assert [r["file"] for r in table_csv(page)] == list(f"docs/{n}" for n in LONG)[:finished]
    shot(page, "batch-stopped")
    page.get_by_role("button", name="Summarize all").click()
    page.get_by_test_id("stProgress").filter(has_text=f"{finished} / 3 files").first.wait_for()
    results(page)
    assert page.get_by_test_id("stMetricValue").all_inner_texts()[:2] == ["3", "0"]
    done = page.get_by_test_id("stProgress").first.inner_text()
    assert done.startswith("3 / 3 files · ") and done.endswith("done")


def test_faithfulness_flags_are_columns_of_the_table(page, tmp_path):
    run_batch(page, zipped(tmp_path, SHORT))
    results(page)
    rows = table_csv(page)
    assert list(rows[0]) == ["file", "status", "summary", "faithful", "not in the document", "error"]
    assert [r["file"] for r in rows] == ["docs/a.txt", "docs/b.txt"]
    assert any(r["summary"] for r in rows)
    for row, article in zip(rows, SHORT.values()):
        report = check_faithfulness(row["summary"], article, lang="en")
        # (the tiny model's final pass may write nothing at all for a.txt: the flags must
        # still be the check's)
        assert row["faithful"] == str(report.ok).lower()
        assert row["not in the document"] == "; ".join(report.numbers + report.names)
    labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
    assert labels == ["Summarized", "Failed", "Time", "Possibly unfaithful"]
    shot(page, "batch-flags")


def test_downloads_carry_the_flags(page, tmp_path):
    run_batch(page, zipped(tmp_path, SHORT))
    results(page)
    rows = list(csv.DictReader(io.StringIO(download(page, "CSV").decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == ["docs/a.txt", "docs/b.txt"]
    assert list(rows[0])[:7] == ["id", "method", "summary", "error", "faithful",
                                 "unsupported_numbers", "unsupported_names"]
    records = [json.loads(line) for line in download(page, "JSONL").decode().splitlines()]
    for record, row, article in zip(records, rows, SHORT.values()):
        report = check_faithfulness(record["summary"], article, lang="en")
        assert (record["faithful"], record["unsupported_numbers"], record["unsupported_names"]) == (
            report.ok, list(report.numbers), list(report.names))
        assert row["faithful"] == ("true" if report.ok else "false")
    markdown = download(page, "Markdown").decode()
    assert markdown.count("Faithfulness: every number and name is in the document.") + \
        markdown.count("Possibly unfaithful, not in the document:") == 2
    import docx

    texts = [p.text for p in docx.Document(io.BytesIO(download(page, "DOCX"))).paragraphs]
    assert sum(t.startswith(("Faithfulness:", "Possibly unfaithful")) for t in texts) == 2
    shot(page, "batch-downloads")


def test_batch_reopens_from_its_url_after_reload_and_restart(page, server, tmp_path):
    run_batch(page, zipped(tmp_path, {"a.txt": ARTICLE, "b.txt": CORPUS[1]}), method="lead")
    results(page)
    page.wait_for_url(re.compile(r"/batch\?run=\d+$"))
    url = page.url
    run = url.rsplit("=", 1)[1]
    table = table_csv(page)
    assert [r["file"] for r in table] == ["docs/a.txt", "docs/b.txt"]
    page.reload()
    page.get_by_text(f"Run {run} from the history", exact=False).wait_for()
    wait_idle(page)
    assert page.url == url
    assert table_csv(page) == table
    assert page.get_by_test_id("stMetricValue").all_inner_texts()[:2] == ["2", "0"]
    server.restart()
    page.goto(url)
    page.get_by_text(f"Run {run} from the history", exact=False).wait_for()
    wait_idle(page)
    assert table_csv(page) == table
    shot(page, "batch-reopen")
