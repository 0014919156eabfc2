"""The Generate and Evaluate pages with streamlit.testing's AppTest (no browser), and the
pure parts behind them: the files of a generation (generation/record.py) and of a results
table (summarizer/results/tables.py). How the page names its model is read by
runtime/catalog.py (tests/test_catalog.py)."""
import io
import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tests.apptest import open_page

from generation import PRESETS
from generation.record import GenerationRecord, to_jsonl, to_markdown, to_text
from summarizer.evaluation.evaluate import EvaluationReport, MethodResult
from summarizer.evaluation.rouge import Interval
from summarizer.results.history import History, HistoryConfig
from summarizer.results.tables import Table, to_csv, to_docx, to_markdown as table_markdown
from ui.settings import AppSettings

APP = str(Path(__file__).resolve().parents[1] / "app.py")
ARTICLE = (
    "The council approved the new budget on Monday. The budget raises school spending. "
    "Teachers welcomed the school spending rise. Critics said the council ignored roads."
)


def start(page: str, settings: AppSettings = None, run_id: str = None) -> AppTest:
    """A new session (as a new tab) on ``page``; ``run_id`` puts ``?run=`` in its URL."""
    return open_page(page, settings, run_id=run_id)


def stored_runs():
    return History(HistoryConfig.from_env()).list()


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    from export import ExportConfig, export_onnx
    from tests.tiny_models import make_tiny_causal

    root = tmp_path_factory.mktemp("gen-gpt2")
    ckpt = make_tiny_causal("gpt2", root / "ckpt")
    return export_onnx(str(ckpt), out=root / "onnx",
                       config=ExportConfig(task="causal-lm", validate=False)).folder


def generate(at: AppTest, prompt: str, tokens: int) -> AppTest:
    at.text_area(key="gen.prompt").input(prompt).run()
    at.slider(key="gen.news.max_new").set_value(tokens)
    at.slider(key="gen.news.temperature").set_value(0.0)
    at.button(key="gen.run").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    return at


# -- the model's name (point 3; its reading is tested in test_catalog.py) -------------
def test_the_page_names_the_model_not_its_folder(tiny_gpt2):
    at = start("Generate", AppSettings(generator_dir=str(tiny_gpt2)))
    captions = [c.value for c in at.main.caption]
    assert "Model: ckpt · GPT2LMHeadModel · fp32 · your folder" in captions
    assert not any("onnx" in c for c in captions)  # the folder's name


# -- files of a generation (point 2) -------------------------------------------------
RECORD = GenerationRecord(
    prompt="rain <b>floods</b>\nthe valley", output="Water & mud.\nRoads shut.", model="Tiny · q4",
    preset="news", settings={"max_new_tokens": 12, "temperature": 0.0, "seed": 3},
    keywords=("rain", "river"), tokens=5, seconds=1.25, stopped=True)


def test_generation_files():
    assert to_text(RECORD) == "Water & mud.\nRoads shut.".encode()
    assert json.loads(to_jsonl(RECORD)) == {
        "prompt": "rain <b>floods</b>\nthe valley", "keywords": ["rain", "river"],
        "preset": "news", "model": "Tiny · q4",
        "settings": {"max_new_tokens": 12, "temperature": 0.0, "seed": 3},
        "output": "Water & mud.\nRoads shut.", "tokens": 5, "seconds": 1.25, "stopped": True}
    assert to_markdown(RECORD).decode() == "\n".join([
        "# Generated text", "", "*Tiny · q4 · preset news · stopped after 5 tokens (1.2 s)*", "",
        "## Prompt", "", "rain &lt;b&gt;floods&lt;/b&gt;  ", "the valley  ", "",
        "Keywords: rain, river", "", "## Output", "", "Water &amp; mud.  ", "Roads shut.  ", "",
        "## Settings", "", "max_new_tokens 12, temperature 0.0, seed 3", ""])


def test_generation_docx():
    import docx

    from generation.record import to_docx as generation_docx

    paragraphs = [p.text for p in docx.Document(io.BytesIO(generation_docx(RECORD))).paragraphs]
    assert paragraphs == ["Generated text",
                          "Tiny · q4 · preset news · stopped after 5 tokens (1.2 s)", "Prompt",
                          "rain <b>floods</b>\nthe valley", "Keywords: rain, river",
                          "Output", "Water & mud.", "Roads shut.", "Settings",
                          "max_new_tokens 12, temperature 0.0, seed 3"]


def test_the_page_offers_copy_and_downloads_of_the_text(tiny_gpt2):
    at = generate(start("Generate", AppSettings(generator_dir=str(tiny_gpt2))),
                  "rain floods the river valley", 6)
    record = at.session_state["gen.output"]
    assert len(record.output.split()) == 6 == record.tokens  # word-level tokens: one a word
    assert [c.value for c in at.code] == [record.output]  # st.code: the copy button
    assert [b.label for b in at.get("download_button")] == ["Markdown", "Text", "DOCX", "JSONL"]
    line = "ckpt · GPT2LMHeadModel · fp32 · your folder · preset news · seed 0 · 6 tokens in "
    assert any(c.value.startswith(line) for c in at.main.caption)
    settings = json.loads(to_jsonl(record))["settings"]
    assert (settings["max_new_tokens"], settings["temperature"], settings["seed"]) == (6, 0.0, 0)
    assert settings["repetition_penalty"] == PRESETS["news"].settings["repetition_penalty"]


def test_a_generation_error_is_shown_and_nothing_is_kept(tiny_gpt2):
    from tokenizers import Tokenizer

    # the preset's words around the topic (the tiny model has no chat template), by its tokenizer
    prompt = PRESETS["news"].prompt("rain", chat=False)
    length = len(Tokenizer.from_file(str(tiny_gpt2 / "tokenizer.json")).encode(prompt).ids)
    at = start("Generate", AppSettings(generator_dir=str(tiny_gpt2)))
    at.text_area(key="gen.prompt").input("rain").run()
    at.button(key="gen.run").click().run()  # the length slider starts at 63: too long
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"the prompt ({length} tokens) plus max_new_tokens (63) is longer than the model's "
        "context of 64 tokens: shorten the prompt or lower max_new_tokens"]
    assert "gen.partial" not in at.session_state and "gen.output" not in at.session_state
    assert not at.code and not [b for b in at.button if b.key == "gen.stop"]
    assert stored_runs() == []


# -- Stop (point 1; the click itself is in the browser test) ---------------------------
def test_a_generation_interrupted_by_stop_is_kept_and_saved(tiny_gpt2):
    from ui.generate import Partial, Request

    at = start("Generate", AppSettings(generator_dir=str(tiny_gpt2)))
    request = Request(PRESETS["news"], "rain floods the valley", (), 40, 0.0, 50, 0.9, 7)
    # what a run interrupted by the Stop click leaves: the pieces written so far
    at.session_state["gen.partial"] = Partial(request, "Tiny · fp32", time.monotonic(),
                                              ["the council", " approved", " the budget"])
    at.run()
    assert not at.exception
    record = at.session_state["gen.output"]
    assert (record.output, record.tokens, record.stopped) == ("the council approved the budget",
                                                              5, True)
    assert at.info[0].value.startswith("Stopped after 5 tokens (")
    assert [c.value for c in at.code] == ["the council approved the budget"]
    assert "gen.partial" not in at.session_state
    (row,) = stored_runs()
    run = History(HistoryConfig.from_env()).get(row.id)
    assert run.outputs == {"output": "the council approved the budget", "tokens": 5,
                           "stopped": True}
    assert (run.settings["max_new_tokens"], run.settings["seed"]) == (40, 7)
    assert at.query_params["run"] == str(row.id)
    at.run()  # a rerun does not save it again
    assert len(stored_runs()) == 1


# -- history (point 4) ---------------------------------------------------------------
def test_a_generation_is_saved_and_reopened_from_its_url(tiny_gpt2):
    settings = AppSettings(generator_dir=str(tiny_gpt2))
    at = generate(start("Generate", settings), "rain floods the river valley", 5)
    first = at.session_state["gen.output"].output
    (row,) = stored_runs()
    assert (row.kind, row.name, row.method) == ("generation", "rain floods the river valley",
                                                "news")
    assert row.source == "ckpt · GPT2LMHeadModel · fp32 · your folder"
    at.run()
    assert len(stored_runs()) == 1  # once per run, not per rerun

    again = start("Generate", settings, run_id=str(row.id))  # a reload of the tab
    assert again.text_area(key="gen.prompt").value == "rain floods the river valley"
    assert again.slider(key="gen.news.max_new").value == 5
    assert again.slider(key="gen.news.temperature").value == 0.0
    assert [c.value for c in again.code] == [first]
    again.run()
    assert [c.value for c in again.code] == [first]
    again.slider(key="gen.news.max_new").set_value(3).run()  # the user's change stays
    assert again.slider(key="gen.news.max_new").value == 3


def test_a_reopened_length_is_bounded_by_the_model(tiny_gpt2):
    store = History(HistoryConfig.from_env())
    run_id = store.save("generation", name="x", source="a bigger model", method="news",
                        settings={"max_new_tokens": 500, "temperature": 0.7, "seed": 2},
                        inputs={"prompt": "rain", "keywords": []},
                        outputs={"output": "rain falls", "tokens": 2, "stopped": False},
                        seconds=1.0)
    at = start("Generate", AppSettings(generator_dir=str(tiny_gpt2)), run_id=str(run_id))
    assert at.slider(key="gen.news.max_new").value == 63  # the tiny model's context, 64 - 1
    assert at.number_input(key="gen.news.seed").value == 2
    assert [c.value for c in at.code] == ["rain falls"]
    line = (f"Run {run_id} from the history · a bigger model · preset news · seed 2 · "
            "2 tokens in 1.0 s")
    assert line in [c.value for c in at.main.caption]


# -- Evaluate ------------------------------------------------------------------------
def _pairs_file(n: int) -> bytes:
    return "\n".join(json.dumps({"id": str(i), "article": ARTICLE,
                                 "summary": "The council approved the new budget."})
                     for i in range(n)).encode()


def evaluate_pairs(at: AppTest, name: str, data: bytes, methods, count: int) -> AppTest:
    at.file_uploader(key="eval.pairs").upload(name, data)
    at.run()
    at.slider(key="eval.count").set_value(count)
    at.multiselect(key="eval.methods").set_value(methods)
    at.radio(key="eval.kind").set_value("sentences").run()
    at.number_input(key="eval.sentences").set_value(1)
    at.button(key="eval.run").click().run()
    assert not at.exception and not at.error
    return at


def _report() -> EvaluationReport:
    scores = {"rouge1": Interval(40.0, 30.5, 49.25), "rouge2": Interval(20.0, 10.0, 30.0),
              "rougeL": Interval(35.125, 25.0, 45.0), "rougeLsum": Interval(36.0, 26.0, 46.0)}
    return EvaluationReport("all", "sentences=1", [MethodResult("lead|1", 4, 1, scores, 0.5)])


def test_evaluation_tables_and_files():
    from ui.evaluate import Evaluation, PairsFile, tables

    numbers, shown = tables(Evaluation(_report(), PairsFile("p.jsonl", "ab" * 32, 9), 4, 1.0))
    assert numbers.rows == [{"method": "lead|1", "pairs": 4, "failed": 1,
                             "rouge1": 40.0, "rouge1_low": 30.5, "rouge1_high": 49.25,
                             "rouge2": 20.0, "rouge2_low": 10.0, "rouge2_high": 30.0,
                             "rougeL": 35.12, "rougeL_low": 25.0, "rougeL_high": 45.0,
                             "rougeLsum": 36.0, "rougeLsum_low": 26.0, "rougeLsum_high": 46.0}]
    note = ("F1 x 100, mean and 95% bootstrap interval; the first 4 of 9 pairs of p.jsonl "
            f"(sha256 {'ab' * 32}); budget sentences=1.")
    assert to_csv(numbers).decode("utf-8-sig").splitlines()[:2] == [
        "method,pairs,failed,rouge1,rouge1_low,rouge1_high,rouge2,rouge2_low,rouge2_high,"
        "rougeL,rougeL_low,rougeL_high,rougeLsum,rougeLsum_low,rougeLsum_high",
        "lead|1,4,1,40.0,30.5,49.25,20.0,10.0,30.0,35.12,25.0,45.0,36.0,26.0,46.0"]
    assert table_markdown(shown).decode() == "\n".join([
        "# ROUGE of p.jsonl", "", note, "",
        "| method | failed | rouge1 | rouge2 | rougeL | rougeLsum |",
        "| --- | --- | --- | --- | --- | --- |",
        "| lead\\|1 | 1 | 40.00 [30.50, 49.25] | 20.00 [10.00, 30.00] | 35.12 [25.00, 45.00] "
        "| 36.00 [26.00, 46.00] |", ""])


def test_table_files_are_safe():
    import docx

    table = Table("T <x>", ["a", "b"], [{"a": "=cmd()", "b": "x\ny | <i>"}, {"a": None}])
    assert to_csv(table).decode("utf-8-sig") == 'a,b\r\n\'=cmd(),"x\ny | <i>"\r\n,\r\n'
    assert table_markdown(table).decode().splitlines()[-2:] == [
        "| =cmd() | x y \\| &lt;i&gt; |", "|  |  |"]
    grid = docx.Document(io.BytesIO(to_docx(table))).tables[0]
    assert [[c.text for c in row.cells] for row in grid.rows] == [
        ["a", "b"], ["=cmd()", "x\ny | <i>"], ["", ""]]


def test_the_chart_draws_intervals_apart_from_the_bars_and_labels_flat():
    from ui.evaluate import INTERVAL_COLOR, chart

    spec = chart(_report()).to_dict()
    bars, rules, ticks = spec["layer"]
    assert bars["encoding"]["y"]["field"] == "method"  # method names on the y axis...
    assert bars["encoding"]["y"]["axis"]["labelAngle"] == 0  # ...written flat
    assert bars["encoding"]["color"]["field"] == "rouge"
    for layer in (rules, ticks):  # one dark colour, not the bars' colours
        assert "color" not in layer["encoding"]
        assert layer["mark"]["color"] == INTERVAL_COLOR
    assert (rules["encoding"]["x"]["field"], rules["encoding"]["x2"]["field"]) == ("low", "high")


def test_the_page_offers_the_table_as_files():
    at = evaluate_pairs(start("Evaluate"), "pairs.jsonl", _pairs_file(5), ["lead", "textrank"], 3)
    assert [b.label for b in at.get("download_button")] == ["CSV", "JSONL", "Markdown", "DOCX"]
    assert list(at.dataframe[0].value["method"]) == ["lead", "textrank"]


def test_an_evaluation_is_saved_and_reopened_from_its_url():
    import hashlib

    data = _pairs_file(5)
    at = evaluate_pairs(start("Evaluate"), "pairs.jsonl", data, ["lead", "textrank"], 3)
    shown = at.dataframe[0].value.to_dict("records")
    (row,) = stored_runs()
    run = History(HistoryConfig.from_env()).get(row.id)
    assert (run.kind, run.name, run.method) == ("evaluation", "pairs.jsonl · 3 pairs",
                                                "lead, textrank")
    assert run.inputs == {"pairs_file": {"name": "pairs.jsonl",
                                         "sha256": hashlib.sha256(data).hexdigest(), "pairs": 5}}
    assert run.settings == {"methods": ["lead", "textrank"], "budget": "sentences=1", "pairs": 3}
    assert set(run.scores) == {"lead", "textrank"}
    at.run()
    assert len(stored_runs()) == 1

    again = start("Evaluate", run_id=str(row.id))  # a new tab on the run's URL, no upload
    assert again.dataframe[0].value.to_dict("records") == shown
    line = (f"Run {row.id} from the history · the first 3 pairs of pairs.jsonl (5 pairs, "
            f"sha256 {hashlib.sha256(data).hexdigest()[:12]}…)")
    assert any(c.value.startswith(line) for c in again.caption)
    assert not any("Upload a pairs file" in c.value for c in again.caption)
    again.file_uploader(key="eval.pairs").upload("pairs.jsonl", data).run()
    assert again.multiselect(key="eval.methods").value == ["lead", "textrank"]
    assert again.radio(key="eval.kind").value == "sentences"
    assert again.number_input(key="eval.sentences").value == 1
    assert again.slider(key="eval.count").value == 3


def test_a_reopened_count_is_bounded_by_a_smaller_file():
    evaluate_pairs(start("Evaluate"), "pairs.jsonl", _pairs_file(5), ["lead"], 4)
    (row,) = stored_runs()
    again = start("Evaluate", run_id=str(row.id))
    again.file_uploader(key="eval.pairs").upload("small.jsonl", _pairs_file(2)).run()
    assert not again.exception
    assert again.slider(key="eval.count").value == 2


@pytest.mark.parametrize("name, data, message", [
    ("mine.jsonl", b"\xff\xfe{}", "mine.jsonl: line 1 is not UTF-8 text (invalid start byte at "
                                  "byte 0). Save it as UTF-8"),
    ("mine.csv", b"id,article,text\n1,a,b\n", "mine.csv: has no 'summary' column (its first "
                                              "line names 'id', 'article', 'text')."),
    ("mine.csv", b"id,article,summary\n1,\"a,b\n", "mine.csv: line 2 has no 'summary' cell "
                                                  "(the row has fewer cells than the header)."),
    ("mine.csv", b"id,article,summary\n1,a,\n", "mine.csv: line 2: 'summary' is empty."),
    ("mine.jsonl", b'{"id": 1, "article": "x"}\n', "mine.jsonl: line 1 has no 'summary' field."),
    ("mine.jsonl", b"{not json\n", "mine.jsonl: line 1 is not valid JSON (Expecting property "
                                   "name enclosed in double quotes). Fix or remove that line"),
    ("mine.jsonl", b"1" * 5000 + b"\n", "mine.jsonl: could not be read as pairs (Exceeds the "
                                        "limit (4300 digits) for integer string conversion"),
    ("mine.jsonl", b"[" * 100_000 + b"\n", "mine.jsonl: could not be read as pairs (maximum "
                                           "recursion depth exceeded"),
    ("mine.jsonl", b"\n\n", "mine.jsonl: no pairs found."),
])
def test_upload_errors_name_the_upload_never_the_server_path(name, data, message):
    at = start("Evaluate")
    at.file_uploader(key="eval.pairs").upload(name, data).run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith(message), error
    assert "/tmp" not in error and "condense-pairs" not in error and "pairs." not in error
    assert not any("Upload a pairs file" in c.value for c in at.caption)  # one was uploaded


def test_hide_replaces_the_temporary_folder_and_file(tmp_path):
    from ui.evaluate import _hide

    (tmp_path / "pairs.csv").write_text("x")
    text = f"[Errno 5] I/O error: '{tmp_path}/pairs.csv' in {tmp_path}"
    assert _hide(text, str(tmp_path), "mine.csv") == "[Errno 5] I/O error: 'mine.csv' in mine.csv"
