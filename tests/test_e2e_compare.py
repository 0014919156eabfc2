"""The Compare page in a real browser (#18 item 6): equal length by default with each
summary's words shown, the highlight of words only one summary uses with the source of
each extracted sentence, the comparison downloaded and read back, and a comparison
reopened from its URL after a reload and after a server restart."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.browser import *  # noqa: F401,F403  (fixtures and helpers)
from tests.browser import TEST_TIMEOUT_S, download, go, shot, sync_api, type_into, wait_idle

from summarizer.documents.loaders import document_from_text
from summarizer.evaluation.compare import sentence_count, unique_spans, word_count
from tests.test_app_compare import ARTICLE, REFERENCE, expected

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
expect = sync_api.expect


def compare(page, reference: str = "") -> None:
    go(page, "Compare")
    if reference:
        type_into(page, "Reference summary (optional)", reference)
    type_into(page, "…or paste text", ARTICLE)
    page.get_by_role("heading", name="Side by side").wait_for()
    wait_idle(page)


def headers(page) -> dict:
    """``{method: "97 words"}`` from the header above each summary."""
    out = {}
    for text in page.get_by_test_id("stMarkdown").filter(has_text=re.compile(r" words")).all_inner_texts():
        m = re.fullmatch(r"(\S+) · (\d+ words[^·]*) · \d+ highlighted", text.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_equal_length_by_default_with_word_counts(page):
    compare(page)
    length = page.get_by_test_id("stRadio").filter(has_text="Length")
    assert length.get_by_role("radio", name="words").is_checked()
    assert page.get_by_label("Words", exact=True).input_value() == "100"
    page.get_by_text("every method may use up to 100 words", exact=False).wait_for()
    want = expected()
    counts = {m: word_count(s.text) for m, s in want.items()}
    assert counts == {"ranker": 97, "lead": 98}
    assert headers(page) == {m: f"{n} words" for m, n in counts.items()}
    shot(page, "compare-equal-length")
    # with a reference, every method gets the reference's length
    type_into(page, "Reference summary (optional)", REFERENCE)
    n = word_count(REFERENCE)
    page.get_by_text(f"every method may use up to {n} words (the reference's length)",
                     exact=False).wait_for()
    counts = {m: word_count(s.text) for m, s in expected(words=n).items()}
    assert headers(page) == {m: f"{c} words" for m, c in counts.items()}
    assert all(c <= n for c in counts.values())


def test_highlight_marks_words_only_one_summary_uses(page):
    compare(page)
    want = expected()
    texts = {m: s.text for m, s in want.items()}
    spans = unique_spans(texts)
    total = sentence_count(document_from_text(ARTICLE))
    columns = page.get_by_test_id("stColumn").filter(has_text="highlighted")
    for column, method in zip(columns.all(), ("ranker", "lead")):
        marked = column.locator("mark").all_inner_texts()
        assert marked == [texts[method][a:b] for a, b in spans[method]]
        assert marked  # the two summaries differ somewhere
        labels = column.get_by_text(re.compile(r"^sentence \d+ of \d+ · ")).all_inner_texts()
        chosen = [s.sentence.index + 1 for s in want[method].sentences]
        other = "lead" if method == "ranker" else "ranker"
        theirs = {s.sentence.index + 1 for s in want[other].sentences}
        assert labels == [f"sentence {i} of {total} · "
                          + (f"also in {other}" if i in theirs else "only this method")
                          for i in chosen]
    page.get_by_role("heading", name="Sentences in common").wait_for()
    shot(page, "compare-highlight")


def test_comparison_downloads_read_back(page):
    compare(page, reference=REFERENCE)
    page.get_by_role("heading", name="Download the comparison").wait_for()
    scope = page.locator(".st-key-cmp_downloads")
    markdown = download(page, "Markdown", scope).decode()
    n = word_count(REFERENCE)
    summaries = expected(words=n)
    for method, summary in summaries.items():
        heading = f"## {method} ({word_count(summary.text)} words)\n\n"
        assert heading + summary.text.splitlines()[0] + "  \n" in markdown
    assert "|  | ranker | lead |" in markdown and f"budget words={n}" in markdown
    assert "## Reference" in markdown
    rows = list(csv.DictReader(io.StringIO(download(page, "CSV", scope).decode("utf-8-sig"))))
    assert [r["method"] for r in rows] == ["ranker", "lead"]
    assert [int(r["words"]) for r in rows] == [word_count(s.text) for s in summaries.values()]
    assert [r["summary"] for r in rows] == [s.text for s in summaries.values()]
    assert rows[0]["rouge1 vs ranker"] == "100.00" and rows[0]["rouge1 vs lead"] == rows[1]["rouge1 vs ranker"]
    assert all(0 < float(r["rouge1"]) <= 100 for r in rows)
    shot(page, "compare-downloads")


def test_comparison_reopens_from_its_url_after_reload_and_restart(page, server):
    compare(page, reference=REFERENCE)
    page.wait_for_url(re.compile(r"/compare\?run=\d+$"))
    url = page.url
    run = url.rsplit("=", 1)[1]
    before = headers(page)
    table = page.get_by_test_id("stDataFrame").nth(1).inner_text()
    page.reload()
    page.get_by_text(f"Run {run} from the history", exact=False).wait_for()
    wait_idle(page)
    assert page.url == url
    # the inputs are back in the widgets (the text area may fill a moment after it is drawn)
    expect(page.get_by_label("…or paste text", exact=True)).to_have_value(ARTICLE.strip())
    expect(page.get_by_label("Reference summary (optional)", exact=True)).to_have_value(REFERENCE)
    assert headers(page) == before
    assert page.get_by_test_id("stDataFrame").nth(1).inner_text() == table
    server.restart()
    page.goto(url)
    page.get_by_text(f"Run {run} from the history", exact=False).wait_for()
    wait_idle(page)
    assert headers(page) == before
    shot(page, "compare-reopen")
