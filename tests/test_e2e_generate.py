"""The Generate and Evaluate pages in a real browser (#18): Stop while the text streams,
with the time so far; copy and downloads of the text; the model named by what it is;
generations and evaluations reopened from their URL; the evaluation chart, its downloads,
and upload errors that name the file, never the server's temporary copy.

The generator is a tiny random GPT-2 exported here, with a context long enough (2,048
tokens) that a generation lasts seconds, so that Stop can be clicked while it writes."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.browser import *  # noqa: F401,F403  (fixtures and helpers)
from tests.browser import (ARTICLE, TEST_TIMEOUT_S, Server, download, go, shot, sync_api,
                           type_into, upload, wait_idle)

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)
expect = sync_api.expect
CONTEXT = 2048
LONGEST = 2000  # the Settings ceiling of the length slider, raised for the Stop test
MODEL = "ckpt · GPT2LMHeadModel · fp32 · your folder"
PROMPT = "heavy rain floods the river valley"


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory):
    """tests/browser.py's tiny GPT-2 with a 2,048-token context (None without torch)."""
    try:
        import torch
        from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

        from export import ExportConfig, export_onnx
        from tests.tiny_models import SEED, VOCAB_SIZE, make_tokenizer, special_ids
    except ImportError:
        return None
    folder = tmp_path_factory.mktemp("long-generator")
    eos = special_ids("gpt2")["eos"]
    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB_SIZE, n_embd=256, n_layer=8, n_head=4,
                                       n_positions=CONTEXT, bos_token_id=eos,
                                       eos_token_id=eos)).eval()
    model.generation_config = GenerationConfig(bos_token_id=eos, eos_token_id=eos,
                                               max_length=CONTEXT)
    model.save_pretrained(folder / "ckpt", safe_serialization=True)
    make_tokenizer("gpt2", folder / "ckpt")
    return export_onnx(str(folder / "ckpt"), out=folder / "onnx",
                       config=ExportConfig(task="causal-lm", validate=False)).folder


@pytest.fixture(scope="module")
def server(tmp_path_factory, app_env):
    """tests/browser.py's server, started with saved settings that let the length slider
    reach 2,000 tokens."""
    with open(app_env["CONDENSE_SETTINGS"], "w", encoding="utf-8") as f:
        json.dump({"max_new_tokens": LONGEST}, f)
    srv = Server(app_env, tmp_path_factory.mktemp("streamlit") / "server.log").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def generate_page(page, generator_dir):
    if generator_dir is None:
        pytest.skip("no generator model could be made here (export needs torch)")
    go(page, "Generate")
    return page


def set_length(page, tokens: int) -> None:
    """Greedy decoding and ``tokens`` new tokens, with the keyboard on the sliders. Each
    change reruns the page, which can drop a key pressed meanwhile: the length is moved
    until the slider shows it."""
    length, temperature = page.get_by_role("slider").nth(0), page.get_by_role("slider").nth(1)
    temperature.focus()
    temperature.press("Home")
    wait_idle(page)
    values = page.get_by_test_id("stSliderThumbValue")
    for _ in range(6):
        shown = int(values.nth(0).inner_text())
        if shown == tokens:
            break
        length.focus()
        if tokens == LONGEST:
            length.press("End")
        elif abs(tokens - shown) > 40:
            length.press("Home")  # from 1, a few steps
        else:
            for _ in range(abs(tokens - shown)):
                length.press("ArrowRight" if tokens > shown else "ArrowLeft")
        wait_idle(page)
    assert values.all_inner_texts()[:2] == [str(tokens), "0.00"], values.all_inner_texts()


def write(page, tokens: int) -> str:
    """Generate greedily; the text the page shows when it is done."""
    type_into(page, "Prompt (the topic)", PROMPT)
    set_length(page, tokens)
    page.get_by_role("button", name="Generate").click()
    output = page.locator(".st-key-gen-output")
    output.wait_for()
    wait_idle(page)
    return output.get_by_test_id("stCode").inner_text().strip()


# -- Generate ------------------------------------------------------------------------
def test_stop_keeps_the_text_written_so_far(generate_page):
    page = generate_page
    type_into(page, "Prompt (the topic)", PROMPT)
    set_length(page, LONGEST)
    page.get_by_role("button", name="Generate").click()
    # the time so far and the tokens written, while it writes
    status = page.get_by_text(re.compile(r"^Writing… \d+\.\d s · [1-9]\d* tokens$"))
    status.wait_for()
    shot(page, "generate-writing")
    page.get_by_role("button", name="Stop").click()
    note = page.get_by_text(re.compile(r"^Stopped after \d+ tokens"))
    note.wait_for()
    wait_idle(page)
    tokens = int(re.search(r"Stopped after (\d+) tokens", note.inner_text()).group(1))
    text = page.locator(".st-key-gen-output").get_by_test_id("stCode").inner_text().strip()
    assert 0 < tokens < LONGEST
    assert len(text.split()) == tokens  # the tiny tokenizer's tokens are words
    assert page.get_by_role("button", name="Stop").count() == 0
    assert status.count() == 0
    shot(page, "generate-stop")
    assert json.loads(download(page, "JSONL"))["stopped"] is True


def test_copy_and_download_the_text(generate_page):
    page = generate_page
    text = write(page, 12)
    assert len(text.split()) == 12
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    code = page.locator(".st-key-gen-output").get_by_test_id("stCode")
    code.hover()
    code.get_by_role("button").click()  # st.code's copy button
    assert page.evaluate("navigator.clipboard.readText()").strip() == text
    record = json.loads(download(page, "JSONL"))
    assert (record["prompt"], record["output"].strip(), record["preset"]) == (PROMPT, text, "news")
    settings = record["settings"]
    assert (settings["max_new_tokens"], settings["temperature"], settings["seed"],
            record["tokens"], record["stopped"]) == (12, 0.0, 0, 12, False)
    assert record["model"] == MODEL
    assert download(page, "Text").decode().strip() == text
    markdown = download(page, "Markdown").decode()
    assert markdown.startswith("# Generated text\n\n*" + MODEL + " · preset news · 12 tokens in ")
    assert f"## Prompt\n\n{PROMPT}  \n" in markdown and f"## Output\n\n{text}  \n" in markdown
    import docx

    paragraphs = [p.text for p in docx.Document(io.BytesIO(download(page, "DOCX"))).paragraphs]
    assert paragraphs[2:6] == ["Prompt", PROMPT, "Output", text]
    shot(page, "generate-downloads")


def test_the_model_is_named_by_what_it_is(generate_page, generator_dir):
    page = generate_page
    page.get_by_text(f"Model: {MODEL}", exact=True).wait_for()
    main = page.get_by_test_id("stMain").inner_text()
    assert generator_dir.name not in main.replace("your folder", "")  # not its folder ("onnx")
    shot(page, "generate-model")


def test_a_generation_reopens_from_its_url(generate_page):
    page = generate_page
    text = write(page, 8)
    page.wait_for_url(re.compile(r"/generate\?run=\d+$"))
    url = page.url
    run = url.rsplit("=", 1)[1]
    page.reload()
    page.get_by_text(f"Run {run} from the history · {MODEL} · preset news · seed 0",
                     exact=False).wait_for()
    wait_idle(page)
    assert page.url == url
    expect(page.get_by_label("Prompt (the topic)", exact=True)).to_have_value(PROMPT)
    assert page.get_by_test_id("stSliderThumbValue").all_inner_texts()[:2] == ["8", "0.00"]
    shown = page.locator(".st-key-gen-output").get_by_test_id("stCode").inner_text().strip()
    assert shown == text
    shot(page, "generate-reopen")


# -- Evaluate ------------------------------------------------------------------------
METHODS = ("ranker", "lead", "textrank")  # the two defaults, then one added


# References that agree with the article more or less, so that the intervals have a width
REFERENCES = ("The council approved the budget.", "Teachers welcomed more school spending.",
              "Roads were ignored, critics said.", "The mayor will present the plan next week.")


def pairs_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps({"id": str(i), "article": ARTICLE, "summary": ref})
                              for i, ref in enumerate(REFERENCES)))
    return path


def evaluate(page, tmp_path) -> None:
    go(page, "Evaluate")
    upload(page, 0, str(pairs_file(tmp_path)))
    methods = page.get_by_test_id("stMultiSelect")
    methods.click()
    page.get_by_role("option", name="textrank", exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    page.get_by_role("button", name="Evaluate").click()
    page.get_by_role("heading", name="ROUGE F1 x 100, mean and 95% bootstrap interval").wait_for()
    page.get_by_test_id("stVegaLiteChart").first.wait_for()
    wait_idle(page)


def test_the_chart_shows_intervals_and_flat_method_names(page, tmp_path):
    from ui.evaluate import INTERVAL_COLOR

    evaluate(page, tmp_path)
    scores = {r["method"]: r for r in csv.DictReader(
        io.StringIO(download(page, "CSV").decode("utf-8-sig")))}
    svg = page.get_by_test_id("stVegaLiteChart").first.locator("svg")  # Vega draws SVG
    labels = svg.evaluate("""s => Array.from(s.querySelectorAll('g.role-axis-label text'))
        .map(t => [t.textContent, t.getAttribute('transform') || ''])""")
    methods = [(text, transform) for text, transform in labels if not text[0].isdigit()]
    assert [text for text, _ in methods] == list(METHODS)  # the y axis names the methods...
    assert not any("rotate" in transform for _, transform in methods)  # ...written flat
    marks = svg.evaluate("""s => Array.from(s.querySelectorAll('g.role-mark')).map(g =>
        Array.from(g.children).map(m => [m.getAttribute('aria-label'),
                                          m.getAttribute('fill'), m.getAttribute('stroke')]))""")
    bars, rules, ends = marks
    assert len(bars) == len(rules) == 4 * len(METHODS) and len(ends) == 2 * len(rules)
    assert INTERVAL_COLOR not in {fill for _, fill, _ in bars}  # the bars' colours...
    assert {stroke for _, _, stroke in rules} == {INTERVAL_COLOR}  # ...are not the lines'
    assert {fill for _, fill, _ in ends} == {INTERVAL_COLOR}
    # each line spans its method's interval, as the table gives it
    for label, _, _ in rules:
        fields = dict(part.split(": ") for part in label.split("; "))
        row = scores[fields["method"]]
        rouge = fields["rouge"]
        assert (float(fields["low"]), float(fields["high"])) == (
            float(row[f"{rouge}_low"]), float(row[f"{rouge}_high"]))
    shot(page, "evaluate-chart")


def test_the_evaluation_downloads(page, tmp_path):
    evaluate(page, tmp_path)
    rows = list(csv.DictReader(io.StringIO(download(page, "CSV").decode("utf-8-sig"))))
    assert [r["method"] for r in rows] == list(METHODS)
    assert all(r["pairs"] == "4" and r["failed"] == "0" for r in rows)
    assert all(float(r["rouge1_low"]) <= float(r["rouge1"]) <= float(r["rouge1_high"])
               for r in rows)
    lines = [json.loads(line) for line in download(page, "JSONL").decode().splitlines()]
    assert [(r["method"], r["rouge1"]) for r in lines] == [(r["method"], float(r["rouge1"]))
                                                           for r in rows]
    markdown = download(page, "Markdown").decode()
    assert markdown.startswith("# ROUGE of pairs.jsonl\n")
    assert "| method | failed | rouge1 | rouge2 | rougeL | rougeLsum |" in markdown
    first = rows[0]
    assert (f"| ranker | 0 | {float(first['rouge1']):.2f} [{float(first['rouge1_low']):.2f}, "
            f"{float(first['rouge1_high']):.2f}]") in markdown
    import docx

    grid = docx.Document(io.BytesIO(download(page, "DOCX"))).tables[0]
    assert [row.cells[0].text for row in grid.rows] == ["method", *METHODS]
    shot(page, "evaluate-downloads")


def test_an_evaluation_reopens_from_its_url(page, tmp_path):
    evaluate(page, tmp_path)
    page.wait_for_url(re.compile(r"/evaluate\?run=\d+$"))
    url = page.url
    run = url.rsplit("=", 1)[1]
    table = download(page, "CSV")  # the grid draws on a canvas: its text is read here
    page.reload()  # a new session: no upload, the result from the history
    page.get_by_text(f"Run {run} from the history · the first 4 pairs of pairs.jsonl",
                     exact=False).wait_for()
    page.get_by_test_id("stVegaLiteChart").first.wait_for()
    wait_idle(page)
    assert download(page, "CSV") == table
    shot(page, "evaluate-reopen")


@pytest.mark.parametrize("name, data, message", [
    ("latin1.csv", "id,article,summary\n1,Caf\xe9 news,Caf\xe9\n".encode("latin-1"),
     "latin1.csv: line 2 is not UTF-8 text"),
    ("columns.csv", b"id,text,summary\n1,a,b\n", "columns.csv: has no 'article' column"),
])
def test_upload_errors_name_the_file_not_a_server_path(page, tmp_path, name, data, message):
    go(page, "Evaluate")
    path = tmp_path / name
    path.write_bytes(data)
    upload(page, 0, str(path))
    error = page.get_by_test_id("stAlertContentError")
    error.wait_for()
    text = error.inner_text()
    assert text.startswith(message), text
    assert "/tmp" not in text and "condense-pairs" not in text
    shot(page, f"evaluate-error-{path.stem}")
