"""The app's first summary after start: a fresh Streamlit server, a browser opens the page,
pastes a one-page text and waits until the highlighted summary is on screen.

    python bench/app_first_summary.py [--runs 5] [--chromium /usr/bin/chromium]

Needs Playwright (requirements-e2e.txt) and Chromium. Each run starts a new server (so
nothing is cached or imported yet), and reports three times: server start to healthy,
page open to the Summarize page drawn, and paste (Ctrl+Enter) to the summary drawn: the
last is what a user waits for after typing. Then the same paste again on the warm server.
Medians over the runs.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = (
    "The city council approved the new budget on Monday after a long debate. The plan raises "
    "spending on schools by four percent and sets aside money for road repairs. Teachers "
    "welcomed the rise, saying classes had grown too large over the last five years. Critics "
    "said the council had ignored the state of the roads in the northern districts. The mayor "
    "promised to present the plan to residents at a public meeting next week. "
) * 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no answer from {url}")


def idle(page) -> None:
    page.wait_for_timeout(100)  # a rerun starts asynchronously
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def one_run(browser) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(url)
        healthy = time.perf_counter() - t0
        page = browser.new_page()
        page.set_default_timeout(120_000)
        t1 = time.perf_counter()
        page.goto(url)
        page.get_by_label("…or paste text", exact=True).wait_for()
        idle(page)
        drawn = time.perf_counter() - t1
        times = []
        for _ in range(2):  # the first summary, then the same on the warm server
            box = page.get_by_label("…or paste text", exact=True)
            box.fill(TEXT if not times else TEXT + " ")
            t2 = time.perf_counter()
            box.press("Control+Enter")
            page.locator("mark").first.wait_for()
            idle(page)
            times.append(time.perf_counter() - t2)
        page.close()
        return {"server start": healthy, "page drawn": drawn, "first summary": times[0],
                "warm summary": times[1]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        runs = [one_run(browser) for _ in range(args.runs)]
        browser.close()
    print(f"{args.runs} fresh servers, {len(TEXT.split())}-word text, default method and length")
    print("| step | median s | min s | max s |\n|---|---:|---:|---:|")
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"| {key} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")


if __name__ == "__main__":
    main()
