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
    assert AppSettings(abstractive_dir="m").abstractive_config().long_documents == "extract"
    parts = AppSettings.from_env({"CONDENSE_LONG_DOCUMENTS": "map-reduce",
                                  "CONDENSE_ABSTRACTIVE_MODEL": "m"})
    assert parts.abstractive_config().long_documents == "map-reduce"


# -- Summarize -----------------------------------------------------------------------


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
    assert at.radio(key="set.long").value == "extract"
    at.radio(key="set.long").set_value("map-reduce").run()
    assert at.session_state["settings"].long_documents == "map-reduce"
    assert at.session_state["settings"].abstractive_dir == str(tmp_path)
    go(at, "Summarize")
    assert at.radio(key="sum.choice").options[1].startswith("Abstractive (test_settings_are")
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
    first = at.session_state["gen.output"].output
    assert at.code[0].value == first
    assert any("preset news · seed 0" in c.value for c in at.main.caption)
    assert first and len(first.split()) <= 12
    at.run()  # a rerun shows the last output, unchanged
    assert at.code[0].value == first
    # greedy decoding is reproducible
    at.button(key="gen.run").click().run()
    assert at.session_state["gen.output"].output == first
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
    assert "Model: SmolLM2-135M-Instruct · fp32 · built-in" in [c.value for c in at.main.caption]


# -- pages keep what the user typed; settings survive a new session ------------------
def test_pasted_text_and_choices_survive_switching_pages():
    at = start()
    at.text_area(key="sum.text").set_value(TEXT).run()
    at.radio(key="sum.choice").set_value("other").run()
    at.selectbox(key="sum.other").set_value("lead").run()
    go(at, "Compare")
    go(at, "Summarize")
    assert at.text_area(key="sum.text").value == TEXT
    assert at.radio(key="sum.choice").value == "other"
    assert at.selectbox(key="sum.other").value == "lead"
    # lead at the automatic length (at least 25 words: the whole of this short text)
    assert at.text[0].value == "Apple banana cherry.\nApple kiwi.\nBanana melon.\nCherry grape."


def test_every_input_widget_keeps_its_value_across_pages():
    """Streamlit drops a widget's value when its page is left unless the widget says
    ``persist_state="session"``: every keyed input in ui/ does (buttons and uploaders
    cannot; the upload is kept by ``ui.widgets.upload_ui``)."""
    import ast

    inputs = {"text_area", "text_input", "selectbox", "multiselect", "radio", "slider",
              "number_input", "checkbox", "toggle", "segmented_control", "pills",
              "select_slider"}
    missing, seen = [], 0
    for path in sorted((Path(APP).parent / "ui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in inputs:
                keywords = {k.arg: k.value for k in node.keywords}
                if "key" not in keywords:
                    continue
                seen += 1
                persist = keywords.get("persist_state")
                if not (isinstance(persist, ast.Constant) and persist.value == "session"):
                    missing.append(f"{path.name}:{node.lineno}")
    assert seen >= 30 and missing == []


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
