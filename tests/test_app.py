"""The workbench's pages driven with streamlit.testing's AppTest (no browser), plus the
pure helpers of ui/ (escaping, highlighting, progress text, settings)."""
import html as html_module
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from summarizer.evaluation.faithfulness import FaithfulnessReport
from ui.render import escape, highlight, progress_text
from ui.settings import AppSettings

from tests.files import docx_bytes, zip_bytes

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TEXT = "Apple banana cherry. Apple kiwi. Banana melon. Cherry grape."
ARTICLE = (
    "The council approved the new budget on Monday. The budget raises school spending. "
    "Teachers welcomed the school spending rise. Critics said the council ignored roads."
)


def start(page: str = "Summarize", settings: AppSettings = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if settings is not None:
        at.session_state["settings"] = settings
    at.run()
    assert not at.exception, at.exception
    if page != "Summarize":
        go(at, page)
    return at


def go(at: AppTest, page: str) -> AppTest:
    """Open ``page`` as its URL would (one script per page under ui/pages/)."""
    at.switch_page(f"ui/pages/{page.lower()}.py").run()
    assert not at.exception, at.exception
    return at


# -- pure helpers --------------------------------------------------------------------
def test_escape_neutralizes_html_and_markdown():
    out = escape("<img src=x onerror=alert(1)> $5 *b* [l](u) # h\nline")
    assert "<img" not in out and "&lt;img" in out
    for raw in ("$", "*", "[", "](", "# h"):
        assert raw not in out
    assert "&#35; h" in out
    assert out.endswith("<br>line")


@pytest.mark.parametrize("text", [
    "He said: 'We strive' & \"so\" <script>x</script>",
    "Rock & roll, AT&T, &amp; literally, &#x27; literally, 5 > 3",
    "#Person1#: it's $5 *now*\nIggy: [ok](u)",
])
def test_escape_shows_exactly_the_text(text):
    # what a browser displays is the text itself: every character escaped exactly once
    out = escape(text)
    assert "<" not in out.replace("<br>", "")
    assert html_module.unescape(out.replace("<br>", "\n")) == text


def test_highlight_merges_overlaps_and_escapes():
    html = highlight("a <b> c d", [(4, 5), (0, 1), (2, 5)])
    assert html == "<mark>a</mark> <mark>&lt;b&gt;</mark> c d"
    assert highlight("x", []) == "x"


def test_progress_text_counts_and_eta():
    assert progress_text(0, 4, 0.0) == "0 / 4 files · 0.0 s elapsed"
    assert progress_text(1, 4, 2.0, failed=1) == "1 / 4 files · 1 failed · 2.0 s elapsed · about 6.0 s left"
    assert progress_text(4, 4, 8.0).endswith("done")


def test_settings_from_env_and_limits():
    s = AppSettings.from_env({"CONDENSE_THREADS": "2", "CONDENSE_BATCH_ROOT": "/data",
                              "CONDENSE_GENERATOR_MODEL": "models/g"})
    assert (s.threads, s.batch_root, s.generator_dir, s.device) == (2, "/data", "models/g", "cpu")
    assert s.loader_config().max_bytes == 50 * 2**20
    assert s.archive_limits().max_files == 200
    assert s.abstractive_config() is None
    assert AppSettings(abstractive_dir="m").abstractive_config().model_dir == "m"


# -- Summarize -----------------------------------------------------------------------
def test_paste_and_summarize_with_lead():
    at = start()
    at.selectbox(key="sum.method").set_value("lead")
    at.radio(key="sum.kind").set_value("sentences").run()
    at.number_input(key="sum.sentences").set_value(2)
    at.text_area(key="sum.text").input(TEXT).run()
    assert not at.exception
    assert at.text[0].value == "Apple banana cherry.\nApple kiwi."
    marked = [m.value for m in at.markdown if "<mark>" in m.value]
    assert marked and marked[0].count("<mark>") == 2
    scores = at.dataframe[0].value
    assert list(scores["#"]) == [0, 1] and list(scores.columns) == ["#", "score", "sentence"]
    assert any(s.value == "Keyphrases" for s in at.subheader)


def test_ranker_default_and_highlight_escapes_html():
    at = start()
    at.radio(key="sum.kind").set_value("sentences").run()
    at.number_input(key="sum.sentences").set_value(1)
    text = TEXT + " <script>x</script> apple banana $5 and $6."
    at.text_area(key="sum.text").input(text).run()
    assert at.selectbox(key="sum.method").value == "ranker"
    # the app shows what the library's default method writes (the ranker picks the
    # script sentence here, which the highlight below must show as text)
    from summarizer import summarize
    from summarizer.types import Budget

    assert at.text[0].value == summarize(text, budget=Budget(sentences=1)).text
    page = "".join(m.value for m in at.markdown)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "$5" not in page and "&#36;5" in page  # no LaTeX from dollar signs


def test_empty_paste_shows_hint_not_error():
    at = start()
    assert not at.error
    assert any("Paste text or upload" in c.value for c in at.caption)


def test_upload_docx_and_bad_file():
    at = start()
    at.file_uploader(key="sum.upload").upload("report.docx", docx_bytes(ARTICLE.split(". ")))
    at.radio(key="sum.kind").set_value("sentences").run()
    assert not at.exception and not at.error
    assert at.text[0].value.count("\n") == 2  # three sentences
    assert any("report.docx" in c.value for c in at.caption)
    at.file_uploader(key="sum.upload").set_value(("broken.pdf", b"%PDF-1.4 nothing", "application/pdf"))
    at.run()
    assert at.error and "broken.pdf" in at.error[0].value


def test_document_length_limit_from_settings():
    at = start(settings=AppSettings(max_chars=1000))
    at.text_area(key="sum.text").input(ARTICLE * 20).run()
    assert at.error and "max_chars" in at.error[0].value


def test_faithfulness_panel_lists_flagged_items():
    def panel():
        from summarizer.evaluation.faithfulness import FaithfulnessReport
        from ui.summarize import faithfulness_ui

        faithfulness_ui(FaithfulnessReport(numbers=("$12bn",), names=("Angela <b>Merkel",)))

    at = AppTest.from_function(panel).run()
    assert "Possibly unfaithful" in at.warning[0].value
    html = "".join(m.value for m in at.markdown)
    assert "&#36;12bn" in html and "Angela &lt;b&gt;Merkel" in html
    assert FaithfulnessReport((), ()).ok


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory):
    from export import ExportConfig, export_onnx
    from tests.tiny_models import make_tiny_seq2seq

    root = tmp_path_factory.mktemp("app-bart")
    ckpt = make_tiny_seq2seq("bart", root / "ckpt")
    return export_onnx(str(ckpt), out=root / "onnx", config=ExportConfig(validate=False)).folder


def test_abstractive_with_configured_model_runs_faithfulness_check(tiny_bart):
    at = start()
    assert "abstractive" not in at.selectbox(key="sum.method").options
    at = start(settings=AppSettings(abstractive_dir=str(tiny_bart)))
    at.selectbox(key="sum.method").set_value("abstractive")
    at.radio(key="sum.kind").set_value("words").run()
    at.number_input(key="sum.words").set_value(10)
    at.text_area(key="sum.text").input(
        "The council approved the new budget for the city library on Monday. "
        "Prices of bread and milk rose again this month, the report said.").run()
    assert not at.exception and not at.error
    assert any(s.value == "Faithfulness check" for s in at.subheader)
    assert at.success or at.warning  # a verdict either way
    assert not [m for m in at.markdown if "<mark>" in m.value]  # nothing to highlight


def test_abstractive_bad_folder_is_an_error_not_a_crash(tmp_path):
    at = start(settings=AppSettings(abstractive_dir=str(tmp_path)))
    at.selectbox(key="sum.method").set_value("abstractive")
    at.text_area(key="sum.text").input(ARTICLE).run()
    assert not at.exception
    assert at.error and "not an exported seq2seq model" in at.error[0].value
    assert "python -m export onnx" in at.error[0].value  # the message says how to fix it


def test_abstractive_folder_with_broken_graphs_keeps_the_page_up(tmp_path):
    for name in ("encoder_model.onnx", "decoder_model.onnx"):
        (tmp_path / name).write_bytes(b"not an onnx graph")
    at = start(settings=AppSettings(abstractive_dir=str(tmp_path)))
    at.selectbox(key="sum.method").set_value("abstractive")
    at.text_area(key="sum.text").input(ARTICLE).run()
    assert not at.exception
    assert at.error and "Check the folder in Settings" in at.error[0].value


# -- Batch ---------------------------------------------------------------------------
def test_batch_zip_with_corrupt_file_gives_error_row_and_downloads():
    at = start("Batch")
    assert at.button(key="batch.run").disabled
    archive = zip_bytes([("a.txt", ARTICLE), ("sub/b.md", "# Budget\n\n" + ARTICLE),
                         ("broken.pdf", b"%PDF-1.4 this is not really a pdf"),
                         ("notes.xyz", "skipped")])
    at.file_uploader(key="batch.files").upload("docs.zip", archive, "application/zip")
    at.selectbox(key="batch.method").set_value("lead")
    at.run()
    at.button(key="batch.run").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["file"]) == ["docs/a.txt", "docs/broken.pdf", "docs/sub/b.md"]
    assert list(table["status"]) == ["ok", "error", "ok"]
    assert "docs/broken.pdf" in table["error"][1] and table["summary"][1] == ""
    assert [m.value for m in at.metric][:2] == ["2", "1"]
    assert len(at.error) == 1 and at.error[0].value.startswith("docs/broken.pdf: the PDF")
    assert any("notes.xyz" in c.value for c in at.caption)
    assert [b.label for b in at.get("download_button")] == ["CSV", "JSONL", "Markdown", "DOCX"]
    at.run()  # results survive a rerun (e.g. after a download)
    assert len(at.dataframe[0].value) == 3


def test_batch_loose_files_with_references_gets_rouge():
    at = start("Batch")
    at.file_uploader(key="batch.files").set_value([
        ("a.txt", ARTICLE.encode(), "text/plain"),
        ("b.txt", b"Dogs bark at night. Cats sleep all day. Birds sing.", "text/plain")])
    refs = "\n".join(json.dumps(r) for r in [
        {"id": "a", "summary": "The council approved the new budget on Monday."},
        {"id": "b.txt", "summary": "Dogs bark at night."}])
    at.file_uploader(key="batch.refs").upload("refs.jsonl", refs.encode())
    at.selectbox(key="batch.method").set_value("lead")
    at.radio(key="batch.kind").set_value("sentences").run()
    at.number_input(key="batch.sentences").set_value(1)
    at.button(key="batch.run").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["rouge1"]) == [pytest.approx(100.0), pytest.approx(100.0)]
    assert any("Mean ROUGE" in c.value for c in at.caption)


def test_batch_folder_confined_to_root(tmp_path):
    root = tmp_path / "root"
    (root / "news").mkdir(parents=True)
    (root / "news" / "a.txt").write_text(ARTICLE)
    (tmp_path / "secret.txt").write_text("Secret text. Never read this.")
    (root / "news" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    at = start("Batch")
    at.radio(key="batch.source").set_value("A folder under the batch root").run()
    assert "No batch root" in at.info[0].value
    at = start("Batch", settings=AppSettings(batch_root=str(root)))
    at.radio(key="batch.source").set_value("A folder under the batch root").run()
    at.text_input(key="batch.folder").input("../").run()
    at.button(key="batch.run").click().run()
    assert at.error and "outside the batch root" in at.error[0].value
    at.text_input(key="batch.folder").input("news").run()
    at.button(key="batch.run").click().run()
    assert not at.exception
    assert list(at.dataframe[0].value["file"]) == ["a.txt"]
    assert any("leak.txt" in c.value and "outside the batch root" in c.value for c in at.caption)


def test_batch_zip_over_file_limit_refused():
    at = start("Batch", settings=AppSettings(max_batch_files=2))
    archive = zip_bytes([(f"{i}.txt", ARTICLE) for i in range(3)])
    at.file_uploader(key="batch.files").upload("many.zip", archive)
    at.run()
    at.button(key="batch.run").click().run()
    assert at.error and "more than 2 files" in at.error[0].value
    assert not at.dataframe


# -- Compare -------------------------------------------------------------------------
def test_compare_two_methods_matrix_reference_and_winner():
    at = start("Compare")
    assert at.multiselect(key="cmp.methods").value == ["ranker", "lead"]
    at.text_area(key="cmp.text").input(ARTICLE).run()
    assert not at.exception
    columns = [m.value for m in at.markdown if "background:#d4f3d0" in m.value]
    assert len(columns) == 2
    matrix = at.dataframe[0].value
    assert list(matrix["method"]) == ["ranker", "lead"]
    assert matrix["ranker"][0] == 100.0 and matrix["lead"][0] == matrix["ranker"][1]
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    at.text_area(key="cmp.reference").input("The council approved the new budget on Monday.").run()
    versus = at.dataframe[1].value
    assert list(versus.columns) == ["method", "rouge1", "rouge2", "rougeL", "rougeLsum"]
    at.radio(key="cmp.winner").set_value("lead").run()
    assert [b.label for b in at.get("download_button")] == ["Markdown", "DOCX", "JSONL", "CSV"]


# -- Evaluate ------------------------------------------------------------------------
def test_evaluate_pairs_file_with_slider_limit():
    pairs = [{"id": str(i), "article": ARTICLE, "summary": "The council approved the new budget."}
             for i in range(5)]
    at = start("Evaluate")
    assert any("Upload a pairs file" in c.value for c in at.caption)
    at.file_uploader(key="eval.pairs").upload(
        "pairs.jsonl", "\n".join(json.dumps(p) for p in pairs).encode())
    at.run()
    at.slider(key="eval.count").set_value(3)
    at.multiselect(key="eval.methods").set_value(["lead", "textrank"])
    at.button(key="eval.run").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["method"]) == ["lead", "textrank"]
    assert "[" in table["rouge1"][0]  # mean [low, high]
    assert any("3 pairs" in c.value for c in at.caption)


def test_evaluate_bad_pairs_file():
    at = start("Evaluate")
    at.file_uploader(key="eval.pairs").upload("mine.jsonl", b'{"id": 1, "article": "x"}\n')
    at.run()
    message = at.error[0].value
    assert message.startswith("mine.jsonl: line 1 has no 'summary' field. ")
    assert "/tmp" not in message and "condense-pairs" not in message  # no server path


# -- Settings ------------------------------------------------------------------------
def test_settings_are_kept_and_used_by_other_pages(tmp_path):
    at = start("Settings")
    assert at.selectbox(key="set.device").options[0] == "cpu"
    at.text_input(key="set.abstractive").input(str(tmp_path)).run()
    assert any("no .onnx graph" in w.value for w in at.warning)
    at.number_input(key="set.batch").set_value(7).run()
    assert at.session_state["settings"].max_batch_files == 7
    assert at.session_state["settings"].abstractive_dir == str(tmp_path)
    go(at, "Summarize")
    assert "abstractive" in at.selectbox(key="sum.method").options
    go(at, "Settings")
    assert at.number_input(key="set.batch").value == 7  # shown again after leaving the page


# -- Generate ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    from export import ExportConfig, export_onnx
    from tests.tiny_models import make_tiny_causal

    root = tmp_path_factory.mktemp("app-gpt2")
    ckpt = make_tiny_causal("gpt2", root / "ckpt")
    return export_onnx(str(ckpt), out=root / "onnx",
                       config=ExportConfig(task="causal-lm", validate=False)).folder


def test_generate_says_how_to_prepare_the_default_model(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "empty-cache"))
    at = start("Generate")
    assert "python -m generation setup" in at.info[0].value
    assert not at.button  # nothing to press without a model
    at = start("Generate", settings=AppSettings(generator_dir=str(tmp_path)))
    assert "not an exported causal LM" in at.info[0].value


def test_generate_streams_with_preset_and_controls(tiny_gpt2):
    at = start("Generate", settings=AppSettings(generator_dir=str(tiny_gpt2)))
    assert at.selectbox(key="gen.preset").options[0].startswith("news")
    assert at.button(key="gen.run").disabled  # no prompt yet
    length = at.slider(key="gen.news.max_new")
    # the preset's default (220) capped by the tiny model's 64-token context
    assert length.max == 63 and length.value == 63
    at.text_area(key="gen.prompt").input("rain floods the river valley").run()
    at.slider(key="gen.news.max_new").set_value(12)
    at.slider(key="gen.news.temperature").set_value(0.0)
    at.button(key="gen.run").click().run()
    assert not at.exception and not at.error
    streamed = [m.value for m in at.markdown if m.value.strip()]
    assert streamed and len(streamed[-1].split()) >= 1
    first = at.session_state["gen.output"][1]
    assert any("preset news · seed 0" in c.value for c in at.main.caption)
    assert first and len(first.split()) <= 12
    at.run()  # a rerun shows the last output, unchanged
    assert at.text[0].value == first
    # greedy decoding is reproducible
    at.button(key="gen.run").click().run()
    assert at.session_state["gen.output"][1] == first
    at.selectbox(key="gen.preset").set_value("abstract").run()
    assert at.slider(key="gen.abstract.temperature").value == 0.4


# -- built-in models and LM summarizers ---------------------------------------------------
def test_news_preset_uses_its_own_model_once_prepared(tiny_gpt2, tmp_path, monkeypatch):
    """A stand-in for the shipped news model (a tiny GPT-2 export in its cache folder):
    until it is prepared the preset runs on the default model and says how to prepare it;
    then it writes with its own model, prompted by a headline, without keywords."""
    import shutil

    import runtime.builtin as builtin

    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    news_model = builtin.BuiltinModel(name="tiny-news")
    monkeypatch.setitem(builtin.BUILTIN_MODELS, "news", news_model)
    shutil.copytree(tiny_gpt2, builtin.DEFAULT_MODEL.folder())  # the default generator, prepared
    at = start("Generate")
    assert any("python -m generation setup --model news" in c.value for c in at.caption)
    assert at.text_input(key="gen.keywords")  # the default model takes keywords

    shutil.copytree(tiny_gpt2, news_model.folder())
    at = start("Generate")
    assert not any("--model news" in c.value for c in at.caption)
    assert at.text_area(key="gen.prompt").label == "Headline"
    assert not [t for t in at.text_input if t.key == "gen.keywords"]
    at.text_area(key="gen.prompt").input("Council approves library budget").run()
    at.slider(key="gen.news.max_new").set_value(6)
    at.button(key="gen.run").click().run()
    assert not at.exception and not at.error
    assert any(f"Model: {news_model.folder().name}" in c.value for c in at.main.caption)


def test_an_lm_summarizer_folder_summarizes_in_the_app(tiny_gpt2, tmp_path):
    """A decoder-only summarizer (a causal export plus condense_summary.json) set in
    Settings: the page's summary is LMSummarizer's."""
    import shutil

    from summarizer.abstractive.seq2seq import AbstractiveConfig
    from summarizer.abstractive.decoder_only import LMSummarizer
    from summarizer.types import Budget, Document

    folder = tmp_path / "lm-sum"
    shutil.copytree(tiny_gpt2, folder)
    (folder / "condense_summary.json").write_text(json.dumps(
        {"format": "condense-summary-prompt", "format_version": 1, "prefix": "",
         "suffix": " summary :", "max_source_tokens": 40, "max_target_tokens": 8}))
    at = start(settings=AppSettings(abstractive_dir=str(folder)))
    at.selectbox(key="sum.method").set_value("abstractive")
    text = "The council approved the new budget for the city library on Monday."
    at.text_area(key="sum.text").input(text).run()
    assert not at.exception and not at.error
    expected = LMSummarizer(AbstractiveConfig(model_dir=str(folder)))(Document(text, "en"), Budget(auto=True))
    assert at.text[0].value == expected.text


def test_builtin_summarizer_is_offered_once_prepared(tiny_gpt2, tmp_path, monkeypatch):
    """A stand-in for the shipped summarizer (a tiny GPT-2 export plus a prompt format in
    its cache folder): no abstractive method until it is prepared, then its summaries."""
    import shutil

    import runtime.builtin as builtin
    from summarizer.abstractive.seq2seq import AbstractiveConfig
    from summarizer.abstractive.decoder_only import LMSummarizer
    from summarizer.types import Budget, Document

    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    summary_model = builtin.BuiltinModel(name="tiny-sum")
    monkeypatch.setattr(builtin, "SUMMARY_MODEL", summary_model)
    at = start()
    assert "abstractive" not in at.selectbox(key="sum.method").options
    shutil.copytree(tiny_gpt2, summary_model.folder())
    (summary_model.folder() / "condense_summary.json").write_text(json.dumps(
        {"format": "condense-summary-prompt", "format_version": 2, "prefix": "",
         "suffix": " summary :", "max_source_tokens": 40, "max_target_tokens": 8,
         "article_whitespace": "collapse"}))
    at = start()
    at.selectbox(key="sum.method").set_value("abstractive")
    text = "The council approved the new budget for the city library on Monday."
    at.text_area(key="sum.text").input(text).run()
    assert not at.exception and not at.error
    expected = LMSummarizer(AbstractiveConfig(model_dir=str(summary_model.folder())))(
        Document(text, "en"), Budget(auto=True))
    assert at.text[0].value == expected.text


# -- pages keep what the user typed; settings survive a new session ------------------
def test_pasted_text_and_choices_survive_switching_pages():
    at = start()
    at.text_area(key="sum.text").set_value(TEXT).run()
    at.selectbox(key="sum.method").set_value("lead").run()
    go(at, "Compare")
    go(at, "Summarize")
    assert at.text_area(key="sum.text").value == TEXT
    assert at.selectbox(key="sum.method").value == "lead"
    # lead at the automatic length (at least 25 words: the whole of this short text)
    assert at.text[0].value == "Apple banana cherry.\nApple kiwi.\nBanana melon.\nCherry grape."


def test_inputs_kept_are_page_inputs_only():
    from ui.state import is_kept

    assert [k for k in ("sum.text", "cmp.methods", "set.batch", "gen.news.top_k",
                        "sum.upload", "batch.run", "sum.dl.csv", "batch.files",
                        "settings", "nav.page", "sum.kept_upload") if is_kept(k)] == \
        ["sum.text", "cmp.methods", "set.batch", "gen.news.top_k", "sum.kept_upload"]


def test_settings_are_saved_and_read_by_a_new_session(tmp_path, monkeypatch):
    path = tmp_path / "saved" / "settings.json"
    monkeypatch.setenv("CONDENSE_SETTINGS", str(path))
    at = start("Settings")
    at.number_input(key="set.batch").set_value(7).run()
    assert json.loads(path.read_text())["max_batch_files"] == 7
    again = start("Settings")  # a reload is a new session
    assert again.number_input(key="set.batch").value == 7
    assert again.session_state["settings"].max_batch_files == 7


def test_unreadable_saved_settings_fall_back_to_defaults(tmp_path, monkeypatch):
    from ui.settings import read_saved

    path = tmp_path / "settings.json"
    path.write_text('{"max_batch_files": "seven", "threads": 3, "device": "cpu", "x": 1}')
    assert read_saved(path) == ({"threads": 3, "device": "cpu"}, None)  # wrong types dropped
    path.write_text("{not json")
    monkeypatch.setenv("CONDENSE_SETTINGS", str(path))
    at = AppTest.from_file(APP, default_timeout=60).run()  # the first page says it once
    assert any(str(path) in w.value and "the defaults apply" in w.value for w in at.warning)
    go(at, "Settings")
    assert at.number_input(key="set.batch").value == AppSettings().max_batch_files
