"""The History page in a real browser: a run survives a restart of the server and opens in
its page again (issue #18, item 3). Screenshots: ``tests/artifacts/history-*.png``."""
from __future__ import annotations

import json

import pytest

from tests.browser import *  # noqa: F401,F403  (fixtures and helpers)
from tests.browser import ARTICLE, TEST_TIMEOUT_S, download, go, shot, type_into, wait_idle

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)


def test_a_run_survives_a_server_restart_and_reopens_in_its_page(page, server):
    type_into(page, "…or paste text", ARTICLE)
    summary = page.get_by_test_id("stText").first.inner_text()
    assert summary.startswith("The council approved the new budget on Monday.")
    assert "run=" in page.url  # the URL names the run
    server.restart()  # a new process: nothing but the database file carries the run
    page.goto(f"{server.url}/history")
    page.get_by_role("heading", name="History", exact=True).wait_for()
    wait_idle(page)
    page.get_by_test_id("stDataFrame").wait_for()
    chooser = page.get_by_test_id("stMultiSelect").filter(has_text="Selected runs")
    chooser.click()
    page.get_by_role("option").first.click()
    page.keyboard.press("Escape")
    wait_idle(page)
    page.get_by_role("heading", name="Run 1 · summary").wait_for()
    exported = [json.loads(line) for line in download(page, "JSONL (1 selected)").splitlines()]
    # a pasted text is named by its first sentence
    assert [(r["id"], r["kind"], r["name"], r["source"], r["method"]) for r in exported] == \
        [(1, "summary", "The council approved the new budget on Monday.…", "pasted text",
          "ranker")]
    assert exported[0]["inputs"]["text"] == ARTICLE
    shot(page, "history-after-restart")
    page.get_by_role("button", name="Open in its page").click()
    page.get_by_role("heading", name="Summarize", exact=True).wait_for()
    wait_idle(page)
    assert page.url.rsplit("/", 1)[1] in ("?run=1", "summarize?run=1")  # Summarize is "/"
    assert page.get_by_test_id("stText").first.inner_text() == summary
    assert page.get_by_label("…or paste text", exact=True).input_value() == ARTICLE
    shot(page, "history-reopened")
