"""The Summarize page driven with streamlit.testing's AppTest (no browser): the method
choice (extractive default and abstractive side by side), abstractive summaries streamed
with their parts, notes in plain words, downloads, and the history (saved once, reopened
from ``?run=``). Abstractive summaries come from the tiny folders of
``tests/summary_models.py``: no downloads, no real model."""
import csv
import html
import io
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.summarize as summarize_page
import ui.summary_runs as summary_runs
from summarizer import summarize
from summarizer.abstractive.factory import make_abstractive
from summarizer.abstractive.seq2seq import AbstractiveConfig, Progress
from summarizer.documents.loaders import document_from_text
from summarizer.evaluation.faithfulness import check_faithfulness
from summarizer.results.history import History, HistoryConfig
from summarizer.results.summary_file import SummaryFile, to_csv, to_docx, to_jsonl, to_markdown
from summarizer.types import Budget, Document, Summary
from ui.settings import AppSettings
from ui.summarize import OTHER_METHODS
from ui.summary_runs import progress_label

from tests.files import docx_bytes
from tests.summary_models import bart_summarizer, lm_summarizer
from tests.tiny_models import CORPUS

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TEXT = "Apple banana cherry. Apple kiwi. Banana melon. Cherry grape."
# 8 + 5 + 6 + 6 = 25 words
ARTICLE = (
    "The council approved the new budget on Monday. The budget raises school spending. "
    "Teachers welcomed the school spending rise. Critics said the council ignored roads."
)
CHOICES = ["Extractive (default ranker)", "Abstractive (built-in SmolLM2 summary model)",
           "Other methods"]


def start(settings: AppSettings = None, *, run: str = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    if settings is not None:
        at.session_state["settings"] = settings
    if run is not None:
        at.query_params["run"] = run
    at.run()
    assert not at.exception, at.exception
    return at


def choose(at: AppTest, method: str) -> AppTest:
    """Pick ``method`` the way a user does: a choice, and for the rest, the list."""
    if method in ("ranker", "abstractive"):
        at.radio(key="sum.choice").set_value("extractive" if method == "ranker" else method)
    else:
        at.radio(key="sum.choice").set_value("other").run()
        at.selectbox(key="sum.other").set_value(method)
    return at.run()


def notes_shown(at: AppTest) -> list:
    """The notes box's lines as a reader sees them (the box holds them escaped)."""
    box = [i.value for i in at.info if i.value.startswith("- ")]
    return [html.unescape(line[2:]) for line in box[0].splitlines()] if box else []


def history() -> History:
    return History(HistoryConfig.from_env())


@pytest.fixture(autouse=True)
def _fresh_results():
    """Results are cached per server process, across sessions; each test starts without
    another test's."""
    summary_runs.result_cache.clear()
    yield


@pytest.fixture(scope="module")
def bart(tmp_path_factory):
    return str(bart_summarizer(tmp_path_factory.mktemp("app-sum-bart")))


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return str(lm_summarizer(tmp_path_factory.mktemp("app-sum-lm"), max_source_tokens=40))


@pytest.fixture
def progress(monkeypatch):
    """What the page was told while an abstractive summary was written."""
    seen = []
    shown = summarize_page.streaming_ui

    def recording(place):
        show = shown(place)
        return lambda p: (seen.append(p), show(p))

    monkeypatch.setattr(summarize_page, "streaming_ui", recording)
    return seen


# -- 1. the method choice ------------------------------------------------------------
def test_extractive_default_and_abstractive_are_the_first_choices():
    at = start()
    choice = at.radio(key="sum.choice")
    assert choice.options == CHOICES and choice.value == "extractive"
    assert not [s for s in at.selectbox if s.key == "sum.other"]  # the rest wait behind "Other"
    at.radio(key="sum.kind").set_value("sentences").run()
    at.number_input(key="sum.sentences").set_value(2)
    at.text_area(key="sum.text").input(ARTICLE).run()
    assert at.text[0].value == summarize(ARTICLE, budget=Budget(sentences=2)).text  # the ranker
    choose(at, "lead")
    assert at.selectbox(key="sum.other").options == OTHER_METHODS
    assert OTHER_METHODS[:3] == ["textrank", "lead", "pacsum"] and len(OTHER_METHODS) == 9
    assert at.text[0].value == ("The council approved the new budget on Monday.\n"
                                "The budget raises school spending.")


def test_a_configured_folder_is_named_in_the_choice(bart):
    at = start(AppSettings(abstractive_dir=bart))
    assert at.radio(key="sum.choice").options[1] == "Abstractive (onnx)"


def test_abstractive_not_prepared_says_where_to_prepare_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "empty-cache"))
    at = choose(start(), "abstractive")
    at.text_area(key="sum.text").input(ARTICLE).run()
    assert not at.exception and not at.error
    hint = at.info[0].value
    assert "not prepared yet" in hint and "Settings page" in hint
    assert "python -m summarizer setup" in hint
    assert at.get("page_link")[0].proto.label == "Open Settings"
    assert not at.text and not [s for s in at.subheader if s.value == "Summary"]


def test_builtin_summarizer_is_offered_once_prepared(lm, tmp_path, monkeypatch):
    """A stand-in for the shipped summarizer (a tiny export in its cache folder)."""
    import shutil

    import runtime.builtin as builtin

    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    model = builtin.BuiltinModel(name="tiny-sum")
    monkeypatch.setattr(builtin, "SUMMARY_MODEL", model)
    at = choose(start(), "abstractive")
    at.text_area(key="sum.text").input(CORPUS[0]).run()
    assert "not prepared yet" in at.info[0].value
    shutil.copytree(lm, model.folder())
    at.run()
    expected = make_abstractive(AbstractiveConfig(model_dir=str(model.folder())))(
        document_from_text(CORPUS[0], source="pasted text"), Budget(auto=True))
    assert at.text[0].value == expected.text and len(expected.text.split()) >= 3


# -- 2. streaming ----------------------------------------------------------------------
def test_abstractive_streams_and_a_rerun_does_not_write_it_again(bart, progress):
    at = choose(start(AppSettings(abstractive_dir=bart)), "abstractive")
    at.text_area(key="sum.text").input(CORPUS[0]).run()
    assert not at.exception and not at.error
    expected = make_abstractive(AbstractiveConfig(model_dir=bart))(
        document_from_text(CORPUS[0], source="pasted text"), Budget(auto=True))
    assert at.text[0].value == expected.text and len(expected.text.split()) >= 5
    texts = [p.text for p in progress]
    assert texts[0] == "" and len(texts) > 3  # shown as it grew, word by word
    assert all(a == b[:len(a)] for a, b in zip(texts, texts[1:]))
    assert texts[-1].split() == expected.text.split()
    assert any(s.value == "Faithfulness check" for s in at.subheader)
    progress.clear()
    at.run()  # same inputs: the cached summary, nothing written again
    assert progress == [] and at.text[0].value == expected.text


def test_a_long_document_is_summarized_from_its_best_sentences_by_default(lm, progress):
    at = choose(start(AppSettings(abstractive_dir=lm)), "abstractive")
    text = " ".join(CORPUS * 2)  # 164 tokens; the model reads 40 at a time
    at.text_area(key="sum.text").input(text).run()
    assert not at.exception and not at.error
    expected = make_abstractive(AbstractiveConfig(model_dir=lm, long_documents="extract"))(
        document_from_text(text, source="pasted text"), Budget(auto=True))
    assert at.text[0].value == expected.text
    note = expected.notes[-1]
    assert note.startswith("Long article: summarized from its ") and notes_shown(at)[-1] == note
    assert [progress_label(p) for p in progress if p.text == ""] == ["Writing the summary"]


def test_a_long_document_shows_each_part(lm, progress):
    at = choose(start(AppSettings(abstractive_dir=lm, long_documents="map-reduce")), "abstractive")
    text = " ".join(CORPUS * 2)  # 164 tokens; the model reads 40 at a time
    at.text_area(key="sum.text").input(text).run()
    assert not at.exception and not at.error
    expected = make_abstractive(AbstractiveConfig(model_dir=lm, long_documents="map-reduce"))(
        document_from_text(text, source="pasted text"), Budget(auto=True))
    assert at.text[0].value == expected.text
    note = expected.notes[-1]  # "... summarized in 11 parts, their summaries again in 3 ..."
    first, again = int(note.split("summarized in ")[1].split()[0]), int(note.split("again in ")[1].split()[0])
    steps = [progress_label(p) for p in progress if p.text == ""]  # as each step began
    assert steps == ([f"Long article: summarizing part {i} of {first}" for i in range(1, first + 1)]
                     + [f"Summarizing the parts' summaries again: part {i} of {again}"
                        for i in range(1, again + 1)]
                     + ["Combining the parts' summaries"])
    assert notes_shown(at)[-1] == note


def test_progress_labels():
    assert progress_label(Progress()) == "Writing the summary"
    assert progress_label(Progress("a b", round=2)) == "Combining the parts' summaries"
    assert progress_label(Progress("", 2, 2, 3, 1)) == "Long article: summarizing part 2 of 3"
    assert progress_label(Progress("", 1, 8, 12, 1)) == "Long article: summarizing parts 1–8 of 12"
    assert progress_label(Progress("", 1, 1, 2, 2)) == \
        "Summarizing the parts' summaries again: part 1 of 2"


# -- 3. notes in plain words -----------------------------------------------------------
def test_notes_on_the_page_are_plain_words(bart):
    at = start(AppSettings(abstractive_dir=bart))
    at.text_area(key="sum.text").input(ARTICLE).run()
    # the whole 25-word article is the automatic length's floor
    assert notes_shown(at) == ["Length: 4 sentences (25 words), chosen to come near 25 words, "
                               "the shortest automatic length (the document has 25 words)."]
    choose(at, "abstractive")
    shown = notes_shown(at)
    # 29 tokens (~21 words) of article: the floor of 25 words, 35 tokens
    assert shown == ["Length: up to about 25 words (35 tokens): the shortest automatic length "
                     "(the article has about 21 words).",
                     # the tiny model's sentence ran on: whole sentences say what they did
                     "Let the first sentence finish: it ran 6 tokens past the length limit."]
    assert not [n for n in shown if "->" in n or "ratio=" in n or "new tokens" in n]


# -- 4. downloads ----------------------------------------------------------------------
def test_the_page_offers_the_summary_in_four_formats():
    at = start()
    at.text_area(key="sum.text").input(ARTICLE).run()
    buttons = at.get("download_button")
    assert [b.label for b in buttons] == ["Markdown", "DOCX", "JSONL", "CSV"]
    assert [b.key for b in buttons] == [f"sum.dl.{f}" for f in ("md", "docx", "jsonl", "csv")]
    assert all(b.proto.deferred_file_id for b in buttons)  # built only when clicked


ABSTRACT = Summary("abstractive", Document("The council met on Monday. It spent $5m.", "en",
                                           source="council.txt"), (), Budget(words=20),
                   ("Length: up to about 20 words (28 tokens), as asked.",),
                   generated="The council spent $7m in Paris.\nIt met on Monday.")


def test_summary_files_hold_summary_notes_method_length_source_and_flags():
    item = SummaryFile(ABSTRACT, Budget(words=20), check_faithfulness(ABSTRACT.generated,
                                                                     ABSTRACT.document.text))
    assert to_markdown(item).decode() == (
        "# Summary of council.txt\n\n"
        "- Source: council.txt\n- Method: abstractive\n"
        "- Length: up to 20 words; this summary has 10 words\n- Language: English\n\n"
        "## Summary\n\nThe council spent $7m in Paris.  \nIt met on Monday.  \n\n"
        "## Notes\n\n- Length: up to about 20 words (28 tokens), as asked.\n\n"
        "## Faithfulness check\n\n"
        "Possibly unfaithful: the summary has numbers $7m and names Paris, which the document "
        "does not.\n")
    record = json.loads(to_jsonl(item))
    assert record == {"source": "council.txt", "title": "", "language": "English",
                      "method": "abstractive", "length": "up to 20 words", "words": 10,
                      "summary": ABSTRACT.generated, "notes": list(ABSTRACT.notes),
                      "faithful": False, "unsupported_numbers": ["$7m"],
                      "unsupported_names": ["Paris"]}
    rows = list(csv.DictReader(io.StringIO(to_csv(item).decode("utf-8-sig"))))
    assert len(rows) == 1 and rows[0]["faithful"] == "no"
    assert (rows[0]["unsupported_numbers"], rows[0]["unsupported_names"]) == ("$7m", "Paris")
    assert rows[0]["summary"] == ABSTRACT.generated and rows[0]["length"] == "up to 20 words"
    import docx

    paragraphs = [p.text for p in docx.Document(io.BytesIO(to_docx(item))).paragraphs]
    assert paragraphs[:5] == ["Summary of council.txt", "Source: council.txt",
                              "Method: abstractive",
                              "Length: up to 20 words; this summary has 10 words",
                              "Language: English"]
    assert "The council spent $7m in Paris." in paragraphs and ABSTRACT.notes[0] in paragraphs
    # an extractive summary has no faithfulness columns
    extractive = SummaryFile(summarize(ARTICLE, method="lead", budget=Budget(sentences=1)),
                             Budget(sentences=1))
    header = to_csv(extractive).decode("utf-8-sig").splitlines()[0]
    assert header == "source,title,language,method,length,words,summary,notes"


# -- 5. history ------------------------------------------------------------------------
def test_a_summary_is_saved_once_and_reopened_from_the_url(monkeypatch):
    at = choose(start(), "lead")
    at.radio(key="sum.kind").set_value("sentences").run()
    at.number_input(key="sum.sentences").set_value(2)
    at.text_area(key="sum.text").input(TEXT).run()
    at.run()
    at.run()  # reruns show the same summary and save nothing more
    store = history()
    assert store.count(kind="summary") == 1
    run_id = at.query_params["run"]
    run = store.get(int(run_id))
    assert (run.method, run.source, run.inputs) == ("lead", "pasted text", {"text": TEXT})
    assert run.settings["length"] == "sentences=2"
    assert run.outputs["summary"] == "Apple banana cherry.\nApple kiwi."

    # a reload: a new session with the same URL shows the saved summary, computing nothing
    def not_again(*args, **kwargs):
        raise AssertionError("a reopened run is shown as saved, not summarized again")

    computes = summary_runs.summarize
    monkeypatch.setattr(summary_runs, "summarize", not_again)
    again = start(run=run_id)
    assert again.text_area(key="sum.text").value == TEXT
    assert again.radio(key="sum.choice").value == "other"
    assert again.selectbox(key="sum.other").value == "lead"
    assert again.radio(key="sum.kind").value == "sentences"
    assert again.number_input(key="sum.sentences").value == 2
    assert again.text[0].value == "Apple banana cherry.\nApple kiwi."
    assert any(f"reopened from the history (run {run_id})" in c.value for c in again.caption)
    assert [m.value.count("<mark>") for m in again.markdown if "<mark>" in m.value] == [2]
    assert store.count(kind="summary") == 1 and again.query_params["run"] == run_id
    # changed inputs make a new run, saved and named in the URL
    monkeypatch.setattr(summary_runs, "summarize", computes)
    again.number_input(key="sum.sentences").set_value(1).run()
    assert store.count(kind="summary") == 2 and again.query_params["run"] != run_id


def test_an_abstractive_run_reopens_without_its_model(bart):
    at = choose(start(AppSettings(abstractive_dir=bart)), "abstractive")
    at.text_area(key="sum.text").input(ARTICLE).run()
    summary = at.text[0].value
    run = history().get(int(at.query_params["run"]))
    assert run.outputs["generated"] and run.settings["model"] == bart
    report = check_faithfulness(summary, ARTICLE)
    assert run.outputs["faithfulness"] == {"numbers": list(report.numbers), "names": list(report.names)}
    again = start(run=str(run.id))  # no model configured in this session
    assert again.radio(key="sum.choice").value == "abstractive"
    assert again.text[0].value == summary
    assert not [i for i in again.info if "not prepared" in i.value]
    assert any(s.value == "Faithfulness check" for s in again.subheader)


def test_an_uploaded_file_reopens_as_its_text():
    at = start()
    at.file_uploader(key="sum.upload").upload("report.docx", docx_bytes(ARTICLE.split(". ")))
    at.run()
    run = history().get(int(at.query_params["run"]))
    assert run.source == "report.docx"
    again = start(run=str(run.id))
    assert again.text_area(key="sum.text").value == run.inputs["text"]
    assert again.text[0].value == at.text[0].value
    assert any(c.value.startswith("report.docx · Language: English") for c in again.caption)


def test_a_url_naming_no_summary_shows_a_fresh_page():
    at = start(run="999")
    assert "Run 999 is not in the history" in at.info[0].value
    assert "run" not in at.query_params and not at.text


# -- kept from the page's first tests (with the new choice) -------------------------------
def test_paste_and_summarize_with_lead():
    at = choose(start(), "lead")
    at.radio(key="sum.kind").set_value("sentences").run()
    at.number_input(key="sum.sentences").set_value(2)
    at.text_area(key="sum.text").input(TEXT).run()
    assert at.text[0].value == "Apple banana cherry.\nApple kiwi."
    marked = [m.value for m in at.markdown if "<mark>" in m.value]
    assert marked and marked[0].count("<mark>") == 2
    scores = at.dataframe[0].value
    assert list(scores["#"]) == [0, 1] and list(scores.columns) == ["#", "score", "sentence"]


def test_ranker_default_and_highlight_escapes_html():
    at = start()
    at.radio(key="sum.kind").set_value("sentences").run()
    at.number_input(key="sum.sentences").set_value(1)
    text = TEXT + " <script>x</script> apple banana $5 and $6."
    at.text_area(key="sum.text").input(text).run()
    assert at.radio(key="sum.choice").value == "extractive"
    # the app shows what the library's default method writes (the ranker picks the script
    # sentence here, which the highlight must show as text)
    assert at.text[0].value == summarize(text, budget=Budget(sentences=1)).text
    page = "".join(m.value for m in at.markdown)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "$5" not in page and "&#36;5" in page  # no LaTeX from dollar signs


def test_abstractive_bad_folder_is_an_error_not_a_crash(tmp_path):
    at = choose(start(AppSettings(abstractive_dir=str(tmp_path))), "abstractive")
    at.text_area(key="sum.text").input(ARTICLE).run()
    assert not at.exception
    assert at.error and "not an exported seq2seq model" in at.error[0].value
    assert "python -m export onnx" in at.error[0].value


def test_abstractive_folder_with_broken_graphs_keeps_the_page_up(tmp_path):
    for name in ("encoder_model.onnx", "decoder_model.onnx"):
        (tmp_path / name).write_bytes(b"not an onnx graph")
    at = choose(start(AppSettings(abstractive_dir=str(tmp_path))), "abstractive")
    at.text_area(key="sum.text").input(ARTICLE).run()
    assert not at.exception
    assert at.error and "Check the folder in Settings" in at.error[0].value


def test_pasted_text_and_choices_survive_switching_pages():
    at = choose(start(), "lead")
    at.text_area(key="sum.text").set_value(TEXT).run()
    at.switch_page("ui/pages/compare.py").run()
    at.switch_page("ui/pages/summarize.py").run()
    assert at.text_area(key="sum.text").value == TEXT
    assert at.radio(key="sum.choice").value == "other"
    assert at.selectbox(key="sum.other").value == "lead"
    assert at.text[0].value == "Apple banana cherry.\nApple kiwi.\nBanana melon.\nCherry grape."
