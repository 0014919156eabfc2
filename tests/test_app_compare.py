"""The Compare page driven with AppTest (no browser): equal length by default, the word
counts shown, the highlight of words only one summary uses and the source of each
extracted sentence, the downloads, and the history (each comparison saved once, reopened
from ``?run=`` with its stored result)."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tests.apptest import open_page

from summarizer.documents.loaders import document_from_text
from summarizer.evaluation.compare import compare_summaries, sentence_count, unique_spans, word_count
from summarizer.registry import get_summarizer
from summarizer.results.history import History, open_history
from summarizer.types import Budget
from ui.settings import AppSettings

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# Written for these tests (a news story: a headline and 19 sentences, 305 words); the
# browser tests (tests/test_e2e_compare.py) use it too.
ARTICLE = """Harbour town votes to rebuild its flooded seafront

Councillors in Port Elm voted on Tuesday to spend £12m rebuilding the seafront that winter storms destroyed. The plan replaces the broken sea wall, reopens the promenade and moves the lifeboat station to higher ground. Work is due to start in April and to finish before the summer of next year.

The storms in January flooded more than 200 homes and closed the harbour for six weeks. Fishing crews lost most of the season's catch, and two cafés on the promenade have not reopened. "We can't go through another winter like that," said Mary Quinn, who has run the harbour shop for thirty years.

The council's engineers said the new wall will be a metre higher than the old one. It will be built from concrete blocks faced with local stone, so that it matches the old harbour buildings. Drainage under the promenade will be doubled to carry storm water back to the sea.

Not everyone supports the plan. Residents of the north beach say the money should protect their homes first, because the sea reaches their gardens at every spring tide. A petition signed by 900 people asks the council to build a second wall there. The council said the north beach will be studied next year.

The government will pay £8m of the cost from its coastal defence fund. The rest will come from the council's reserves and a loan, which the finance director said the town can afford. Council tax will not rise to pay for the work, she added.

Local businesses welcomed the decision. The chamber of commerce said visitors had stayed away since the storms and that a rebuilt promenade would bring them back. The lifeboat crew said the new station will let them launch at any tide.
"""
REFERENCE = ("Port Elm council will spend £12m rebuilding the seafront destroyed by winter storms. "
             "The government pays £8m. North beach residents want a second wall.")
HEADER = re.compile(r"<b>(?P<method>[^<]+)</b> · (?P<words>[^·]+) · (?P<own>\d+) highlighted")


def expected(methods=("ranker", "lead"), words=100):
    """Each method's summary of ARTICLE at ``words``, from the library."""
    document = document_from_text(ARTICLE, source="pasted text")
    return {m: get_summarizer(m)(document, Budget(words=words)) for m in methods}


def start(settings: AppSettings = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if settings is not None:
        at.session_state["settings"] = settings
    at.run()
    at.switch_page("ui/pages/compare.py").run()
    assert not at.exception, at.exception
    return at


def reopen(run_id: int, settings: AppSettings = None) -> AppTest:
    """A new session opening /compare?run=<id> (a reload of the tab)."""
    return open_page("Compare", settings, run_id=run_id, timeout=120)


def headers(at: AppTest) -> dict:
    """``{method: (words text, highlighted count)}`` from the header over each summary."""
    found = [HEADER.fullmatch(html.unescape(m.value)) for m in at.markdown]
    return {m["method"]: (m["words"], int(m["own"])) for m in found if m}


def columns(at: AppTest) -> list:
    """The HTML of each summary (the blocks of sentences under the headers)."""
    return [m.value for m in at.markdown if m.value.startswith("<div style='margin-bottom")]


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def store() -> History:
    return open_history()


# -- equal length --------------------------------------------------------------------
def test_every_method_gets_100_words_by_default_and_shows_its_count():
    at = start()
    assert at.radio(key="cmp.kind").value == "words" and at.number_input(key="cmp.words").value == 100
    at.text_area(key="cmp.text").input(ARTICLE).run()
    assert "every method may use up to **100 words** (give a reference to use its length)" in captions(at)
    counts = {m: word_count(s.text) for m, s in expected().items()}
    assert counts == {"ranker": 97, "lead": 98}  # the library's own answer at 100 words
    assert {m: w for m, (w, _) in headers(at).items()} == {"ranker": "97 words", "lead": "98 words"}
    assert at.dataframe[1].value["words"].tolist() == [97, 98]  # the Scores table


def test_a_reference_sets_the_length_until_unticked():
    at = start()
    at.text_area(key="cmp.reference").input(REFERENCE).run()
    at.text_area(key="cmp.text").input(ARTICLE).run()
    n = word_count(REFERENCE)
    assert n == 24
    assert f"up to **{n} words** (the reference's length)" in captions(at)
    want = {m: f"{word_count(s.text)} words" for m, s in expected(words=n).items()}
    assert {m: w for m, (w, _) in headers(at).items()} == want == {"ranker": "22 words",
                                                                   "lead": "24 words"}
    at.checkbox(key="cmp.match_reference").uncheck().run()
    assert "up to **100 words**" in captions(at)
    assert {m: w for m, (w, _) in headers(at).items()} == {"ranker": "97 words", "lead": "98 words"}


def test_a_sentences_budget_says_that_rouge_favours_the_longer_summary():
    at = start()
    at.radio(key="cmp.kind").set_value("sentences").run()
    at.text_area(key="cmp.text").input(ARTICLE).run()
    assert ("Length: 3 sentences per method. Summaries of different lengths are not comparable "
            "by ROUGE, which favours the longer one: choose words to compare at equal length."
            in captions(at))
    assert not at.warning  # 51 and 43 words: within 80 %
    at.number_input(key="cmp.sentences").set_value(1).run()
    # the headline (8 words) against ranker's 17: the page says so
    assert at.warning[0].value == ("The summaries are 8 to 17 words long: ROUGE favours the "
                                   "longer ones, so weigh the scores with that in mind.")


# -- the highlight -------------------------------------------------------------------
def test_highlight_marks_the_words_only_one_summary_uses_and_each_sentences_source():
    at = start()
    at.text_area(key="cmp.text").input(ARTICLE).run()
    want = expected()
    texts = {m: s.text for m, s in want.items()}
    spans = unique_spans(texts)
    total = sentence_count(document_from_text(ARTICLE))
    for method, block in zip(("ranker", "lead"), columns(at)):
        marked = [html.unescape(w) for w in re.findall(r"<mark[^>]*>(.*?)</mark>", block)]
        assert marked == [texts[method][a:b] for a, b in spans[method]]
        assert headers(at)[method][1] == len(marked)
        other = "lead" if method == "ranker" else "ranker"
        theirs = {s.sentence.index for s in want[other].sentences}
        labels = [html.unescape(x) for x in re.findall(r"<div style='color[^>]*>(.*?)</div>", block)]
        assert labels == [f"sentence {s.sentence.index + 1} of {total} · "
                          + (f"also in {other}" if s.sentence.index in theirs else "only this method")
                          for s in want[method].sentences]
    # ranker and lead share 2 source sentences (3 and 5, counting from 1)
    overlap = at.dataframe[0].value
    assert overlap.to_dict("records") == [{"method": "ranker", "ranker": 7, "lead": 2},
                                          {"method": "lead", "ranker": 2, "lead": 7}]


def test_highlight_escapes_the_document_text():
    at = start()
    at.multiselect(key="cmp.methods").set_value(["lead", "textrank"])
    at.radio(key="cmp.kind").set_value("sentences").run()
    at.number_input(key="cmp.sentences").set_value(1)
    at.text_area(key="cmp.text").input(
        "Fans said: 'We <b>won</b> & more.' The club agreed. Critics said <script>x</script> "
        "ignored roads and the club.").run()
    lead, textrank = columns(at)
    mark = '<mark style="background:#fde68a;border-radius:2px">'
    # lead's one sentence: "We", the tag's "b" and "more" are stop words; fans, won its own
    assert lead == ("<div style='margin-bottom:0.6em'><div style='color:#6b7280;font-size:0.8em'>"
                    "sentence 1 of 3 · only this method</div>"
                    f"{mark}Fans</mark> said&#58; &#39;We &lt;b&gt;{mark}won</mark>&lt;/b&gt; "
                    "&amp; more&#46;&#39;</div>")
    assert "<script>" not in textrank and "<b>" not in textrank


# -- abstractive: the actual words ---------------------------------------------------
@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory):
    from export import ExportConfig, export_onnx
    from tests.tiny_models import make_tiny_seq2seq

    root = tmp_path_factory.mktemp("compare-bart")
    ckpt = make_tiny_seq2seq("bart", root / "ckpt")
    return export_onnx(str(ckpt), out=root / "onnx", config=ExportConfig(validate=False)).folder


def test_abstractive_shows_the_words_it_wrote_against_the_budget(tiny_bart):
    from summarizer.abstractive.seq2seq import AbstractiveConfig
    from summarizer.registry import get_summarizer as make

    settings = AppSettings(abstractive_dir=str(tiny_bart))
    at = start(settings)
    at.multiselect(key="cmp.methods").set_value(["abstractive", "lead"])
    at.number_input(key="cmp.words").set_value(10)
    text = ("The council approved the new budget for the city library on Monday. "
            "Prices of bread and milk rose again this month, the report said.")
    at.text_area(key="cmp.text").input(text).run()
    assert not at.exception and not at.error
    summary = make("abstractive", abstractive=AbstractiveConfig(model_dir=str(tiny_bart)))(
        document_from_text(text), Budget(words=10))
    n = word_count(summary.text)
    words = f"{n} words" + (", over the 10-word budget" if n > 10 else "")
    assert headers(at)["abstractive"][0] == words
    assert "Written by the model: no source sentences to point at." in captions(at)
    # reopened where no abstractive model is set up: the stored result is not shown, the
    # rest is compared again, and the page says why
    run_id = int(at.query_params["run"][0])
    again = reopen(run_id)
    assert again.warning[0].value == (f"Run {run_id} compared abstractive, not available now; "
                                      "the other methods are compared again.")
    assert list(headers(again)) == ["lead"]
    assert int(again.query_params["run"][0]) == run_id + 1  # a new comparison, a new run


# -- downloads -----------------------------------------------------------------------
def test_the_comparison_and_the_winner_can_be_downloaded():
    at = start()
    at.text_area(key="cmp.text").input(ARTICLE).run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Markdown", "DOCX", "CSV", "JSONL"] * 2  # the comparison, then the winner


# -- history -------------------------------------------------------------------------
def test_a_comparison_is_saved_once_with_its_inputs_and_result():
    at = start()
    at.text_area(key="cmp.reference").input(REFERENCE).run()
    at.text_area(key="cmp.text").input(ARTICLE).run()
    run_id = int(at.query_params["run"][0])
    at.radio(key="cmp.winner").set_value("lead").run()  # a rerun saves nothing new
    runs = store().list(kind="comparison")
    assert [r.id for r in runs] == [run_id]
    run = store().get(run_id)
    assert (run.name, run.source, run.method) == ("Harbour town votes to rebuild its flooded seafront",
                                                 "pasted text", "ranker, lead")
    assert run.inputs == {"text": ARTICLE.strip(), "reference": REFERENCE}
    assert run.settings == {"methods": ["ranker", "lead"], "length": "words=100",
                            "match_reference": True, "rouge_type": "rouge1",
                            "budget": "words=24", "lang": "en"}
    document = document_from_text(ARTICLE, source="pasted text")
    summaries = {m: get_summarizer(m)(document, Budget(words=24)) for m in ("ranker", "lead")}
    from summarizer.evaluation.datasets import reference_lines

    want = compare_summaries(summaries, reference=reference_lines(REFERENCE, "", "en"))
    assert run.outputs == json.loads(json.dumps(want.to_dict()))
    assert run.scores == {r.method: r.rouge for r in want.results}


def test_a_reload_reopens_the_run_with_its_inputs_and_stored_result():
    at = start()
    at.radio(key="cmp.kind").set_value("sentences").run()
    at.number_input(key="cmp.sentences").set_value(2)
    at.selectbox(key="cmp.rouge").set_value("rouge2")
    at.text_area(key="cmp.text").input(ARTICLE).run()
    run_id = int(at.query_params["run"][0])
    # The stored result is what a reopened page shows, not a new computation: mark it.
    run = store().get(run_id)
    outputs = run.outputs
    outputs["methods"][0]["agreement"] = 12.5
    marked = store().save("comparison", name=run.name, source=run.source, method=run.method,
                          settings=run.settings, inputs=run.inputs, outputs=outputs,
                          seconds=run.seconds)
    again = reopen(marked)
    assert again.text_area(key="cmp.text").value == ARTICLE.strip()
    assert (again.radio(key="cmp.kind").value, again.number_input(key="cmp.sentences").value,
            again.selectbox(key="cmp.rouge").value) == ("sentences", 2, "rouge2")
    assert again.multiselect(key="cmp.methods").value == ["ranker", "lead"]
    assert f"Run {marked} from the history" in captions(again)
    assert again.dataframe[1].value["agreement (rouge2)"].tolist() == [12.5,
                                                                       round(outputs["methods"][1]["agreement"], 2)]
    assert headers(again) == headers(at)
    # A change makes a new comparison, saved as a new run and named in the URL.
    again.number_input(key="cmp.sentences").set_value(3).run()
    assert int(again.query_params["run"][0]) == marked + 1
    assert "from the history" not in captions(again)
    assert store().get(marked + 1).settings["length"] == "sentences=3"


def test_a_run_of_another_kind_or_a_deleted_one_opens_an_empty_page():
    run_id = store().save("summary", name="x", source="pasted text", method="lead",
                          settings={}, inputs={"text": ARTICLE}, outputs={}, seconds=0.1)
    at = reopen(run_id)
    assert at.text_area(key="cmp.text").value == "" and not headers(at)
    at = reopen(run_id + 5)
    assert "not in the history any more" in at.info[0].value and not headers(at)


def test_a_run_whose_settings_are_not_a_comparisons_says_so():
    run_id = store().save("comparison", name="x", source="pasted text", method="lead",
                          settings={"methods": ["lead"]}, inputs={"text": ARTICLE}, outputs={},
                          seconds=0.1)
    at = reopen(run_id)
    assert at.warning[0].value == (f"Run {run_id} cannot be reopened here: its settings are "
                                   "not a comparison's (KeyError: 'length').")
    assert at.text_area(key="cmp.text").value == "" and not headers(at)


def test_without_a_history_the_page_still_compares(monkeypatch):
    monkeypatch.setenv("CONDENSE_HISTORY", "off")
    at = start()
    at.text_area(key="cmp.text").input(ARTICLE).run()
    assert not at.warning and "run" not in at.query_params
    assert list(headers(at)) == ["ranker", "lead"]
