"""Load test: 20 browser sessions at once against one app server on localhost.

Every session pastes a different document and summarizes it; all 20 script runs overlap
on the server. We count sessions that fail (an exception box, or no highlighted summary:
target 0) and the server's resident memory after one warm session and after all 20: each
extra session may add less than 10% of that baseline. Bounded: 20 sessions, 4 minutes.
Skips where Playwright or Chromium is missing, like the other browser tests.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import (  # noqa: E402  (skips this module without a browser)
    CHROMIUM, LAUNCH_ARGS, ROOT, _free_port, _wait_healthy, sync_api, wait_idle,
)

SESSIONS = 20
ARTIFACTS = ROOT / "tests" / "artifacts"
pytestmark = pytest.mark.timeout(240)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def document(i: int) -> str:
    return (f"Session {i} opened the meeting. The council of town {i} approved a budget of "
            f"{i + 1} million pounds. Teachers in district {i} welcomed the rise. Critics said "
            f"roads in area {i} were ignored. The mayor will present plan {i} next week.")


def paste(page, text: str) -> None:
    box = page.get_by_label("…or paste text", exact=True)
    box.fill(text)
    box.press("Control+Enter")


def test_twenty_concurrent_sessions(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(url, server, log)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            # one warm session: models, tokenizers and caches are loaded once per process
            warm = browser.new_context().new_page()
            warm.set_default_timeout(120_000)
            warm.goto(url)
            wait_idle(warm)
            paste(warm, document(-1))
            warm.locator("mark").first.wait_for()
            baseline = rss_mb(server.pid)

            pages = []
            for i in range(SESSIONS):
                pg = browser.new_context().new_page()
                pg.set_default_timeout(180_000)
                pg.goto(url)
                pages.append(pg)
            for pg in pages:
                pg.get_by_label("…or paste text", exact=True).wait_for()
            for i, pg in enumerate(pages):  # fire all 20 runs before waiting for any
                paste(pg, document(i))
            failures = {}
            for i, pg in enumerate(pages):
                try:
                    pg.locator("mark").first.wait_for()
                    wait_idle(pg)
                    if pg.get_by_test_id("stException").count():
                        failures[i] = "exception shown"
                    else:
                        shown = " ".join(pg.get_by_test_id("stMarkdownContainer").all_inner_texts())
                        if f"town {i} " not in shown:
                            failures[i] = "summary of another session"
                except sync_api.Error as e:
                    failures[i] = str(e).splitlines()[0]
            after = rss_mb(server.pid)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    per_session = (after - baseline) / SESSIONS / baseline
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps({
        "sessions": SESSIONS, "failures": failures, "baseline_rss_mb": baseline,
        "after_rss_mb": after, "growth_per_session": per_session}, indent=2))
    assert failures == {}
    assert per_session < 0.10, f"{per_session:.1%} of {baseline:.0f} MB per session"
