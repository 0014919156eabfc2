"""What every browser test uses: the app started as ``streamlit run`` on a free port
(one server per test module), Chromium driven by Playwright, and helpers to act on pages.

A browser test module starts with ``from tests.browser import *``: that brings in the
fixtures (``app_url``, ``browser``, ``page``, ``generator_dir``, ``batch_root``,
``app_env``) and the helpers. It skips cleanly where Playwright or Chromium is missing
(``.ci/run`` installs both). Each test saves a full-page screenshot under
``tests/artifacts/`` for a human to look at.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = Path(os.environ.get("CONDENSE_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000
ARTICLE = (
    "The council approved the new budget on Monday. The budget raises school spending by "
    "4%. Teachers welcomed the school spending rise. Critics said the council ignored "
    "roads. The mayor will present the plan to residents next week."
)
SCRIPTED = "<script>window.__pwned = 1</script> <img src=x onerror=\"window.__pwned = 2\">"

TEST_TIMEOUT_S = 300  # each browser module sets pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)


# -- the app and the browser ---------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer on {url} in {seconds} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory):
    """A generator folder for the Generate page: a tiny random GPT-2 exported in the test
    (fast and the same everywhere, unlike the default model, which needs a 2-minute
    setup); None when export's dependencies are missing."""
    return _tiny_generator(tmp_path_factory.mktemp("generator"))


def _tiny_generator(folder: Path):
    try:
        from export import ExportConfig, export_onnx
        from tests.tiny_models import make_tiny_causal
    except ImportError:
        return None
    # Wider and deeper than tests/tiny_models' GPT-2, so that each token takes a
    # measurable time: with a model that writes all 16 tokens of the streaming test before
    # Streamlit sends its first message, the text arrives whole (seen in CI twice, the
    # second time with an unsimplified graph of the smaller model), as it would for a
    # user only if the model were that fast.
    make_tiny_causal("gpt2", folder / "ckpt", wide=True)
    return export_onnx(str(folder / "ckpt"), out=folder / "onnx",
                       config=ExportConfig(task="causal-lm", validate=False)).folder


@pytest.fixture(scope="module")
def batch_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch-root")
    (root / "news").mkdir()
    (root / "news" / "a.txt").write_text(ARTICLE)
    return root


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, batch_root, generator_dir):
    """The server's environment; a module overrides this fixture to add its own. Each
    module's server gets its own history database and settings file."""
    data = tmp_path_factory.mktemp("condense-data")
    env = {**os.environ, "CONDENSE_BATCH_ROOT": str(batch_root), "PYTHONUNBUFFERED": "1",
           "CONDENSE_HISTORY": str(data / "history.sqlite3"),
           "CONDENSE_SETTINGS": str(data / "settings.json")}
    if generator_dir is not None:
        env["CONDENSE_GENERATOR_MODEL"] = str(generator_dir)
    return env


class Server:
    """``streamlit run app.py`` on a free port; ``restart()`` stops it and starts it again
    on the same port with the same environment (the History test's server restart)."""

    def __init__(self, env: dict, log: Path):
        self.env, self.log = env, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> "Server":
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address",
                 "127.0.0.1", "--server.port", str(self.port), "--server.headless", "true",
                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        _wait_healthy(self.url, self.proc, self.log)
        return self

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def server(tmp_path_factory, app_env):
    srv = Server(app_env, tmp_path_factory.mktemp("streamlit") / "server.log").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def app_url(server):
    return server.url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.goto(app_url)
    pg.get_by_test_id("stSidebar").get_by_text("Summarize", exact=True).wait_for()
    wait_idle(pg)
    yield pg
    context.close()


# -- helpers -------------------------------------------------------------------------
def wait_idle(page) -> None:
    """Until the script run has finished (the attribute Streamlit's own e2e tests use)."""
    page.wait_for_timeout(300)  # a rerun that an action triggers starts asynchronously
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def go(page, name: str) -> None:
    """Open a page from the sidebar's navigation (one URL per page)."""
    page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=name, exact=True).wait_for()
    wait_idle(page)


def type_into(page, label: str, text: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Control+Enter")  # a text area applies its value on Ctrl+Enter
    wait_idle(page)


def upload(page, index: int, files) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").nth(index).set_input_files(files)
    wait_idle(page)


def download(page, label: str, scope=None) -> bytes:
    where = scope or page
    with page.expect_download() as info:
        where.get_by_test_id("stDownloadButton").filter(has_text=label).click()
    return Path(info.value.path()).read_bytes()


def shot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its own container, so the window is made
    as tall as the content for the picture, then restored."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('section, div')).map(e => e.scrollHeight))")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 8000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.set_viewport_size(size)


def make_pdf(paragraphs) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for text in paragraphs:
        pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
