"""Comparing summaries (words only one uses, source sentences, ROUGE matrix, the files a
comparison downloads as) and batch references (matching, ROUGE)."""
import csv
import io
import json

import pytest

from summarizer.evaluation.compare import (Comparison, MethodResult, SummaryLine, against_reference,
                                           budget_from_text, compare_summaries, mean_agreement,
                                           rouge_matrix, sentence_overlap, summary_lines,
                                           unique_spans, word_count)
from summarizer.evaluation.references import load_references, match_references, mean_scores, score_summaries
from summarizer.evaluation.rouge import score_pair
from summarizer.nlp import tokenizer_for
from summarizer.registry import EXTRACTIVE_METHODS, get_summarizer
from summarizer.results import comparison as files
from summarizer.types import Budget, Document, ScoredSentence, Summary

# Four sentences: 0 "The council met." (0-16), 1 "Roads were closed." (17-35),
# 2 "The mayor spoke." (36-52), 3 "Taxes rose." (53-64).
TOWN = Document("The council met. Roads were closed. The mayor spoke. Taxes rose.", "en", "test")


def extractive(method: str, picks, budget=Budget(words=6)) -> Summary:
    sentences = tokenizer_for("en").sentences(TOWN.text)
    return Summary(method, TOWN, tuple(ScoredSentence(sentences[i], 1.0 - i / 10) for i in picks),
                   budget)


def written(method: str, text: str, budget=Budget(words=6)) -> Summary:
    return Summary(method, TOWN, (), budget, generated=text)


# -- words, and the words only one summary uses ---------------------------------------
def test_word_count_counts_as_the_budget_does():
    # letters and digits: "4%" is one word, "U.S." two (u, s)
    assert word_count("Prices rose 4% in the U.S. on Monday.") == 9
    assert word_count("我爱北京天安门", "zh") == 4  # jieba: 我 / 爱 / 北京 / 天安门
    assert word_count("") == 0


def test_unique_spans_mark_content_words_no_other_summary_uses():
    texts = {"a": "The councils approved the budget.", "b": "The council cut the budget on Monday.",
             "c": "Monday was quiet."}
    spans = unique_spans(texts)
    words = {k: [texts[k][s:e] for s, e in v] for k, v in spans.items()}
    # stems: council (a, b), approv (a), budget (a, b), cut (b), monday (b, c), quiet (c);
    # "the", "on", "was" are stop words
    assert words == {"a": ["approved"], "b": ["cut"], "c": ["quiet"]}
    assert spans["a"] == [(13, 21)]


def test_unique_spans_in_chinese_use_jieba_words():
    texts = {"a": "我爱北京", "b": "我爱上海"}  # 我 is a stop word; 爱 is in both
    assert unique_spans(texts, lang="zh") == {"a": [(2, 4)], "b": [(2, 4)]}


def test_unique_spans_single_summary_has_none():
    assert unique_spans({"a": "Only one."}) == {"a": []}


def test_summary_lines_give_source_sentences_and_who_else_chose_them():
    x = extractive("x", [0, 2])  # The council met. / The mayor spoke.
    y = extractive("y", [0, 3])  # The council met. / Taxes rose.
    z = written("z", "The mayor met taxpayers.")
    lines = summary_lines({"x": x, "y": y, "z": z})
    # council (x, y), met (x, y, z), mayor (x, z): shared; spoke, tax, rose, taxpay: one each
    assert lines == {
        "x": [SummaryLine("The council met.", (), 0, ("y",)),
              SummaryLine("The mayor spoke.", ((10, 15),), 2, ())],
        "y": [SummaryLine("The council met.", (), 0, ("x",)),
              SummaryLine("Taxes rose.", ((0, 5), (6, 10)), 3, ())],
        "z": [SummaryLine("The mayor met taxpayers.", ((14, 23),), None, ())],
    }


def test_sentence_overlap_counts_shared_source_sentences_of_extractive_summaries():
    overlap = sentence_overlap({"x": extractive("x", [0, 2]), "y": extractive("y", [0, 1, 3]),
                                "z": written("z", "The mayor met taxpayers.")})
    assert overlap == {"x": {"x": 2, "y": 1}, "y": {"x": 1, "y": 3}}


@pytest.mark.parametrize("method", list(EXTRACTIVE_METHODS))
def test_every_extractive_method_honours_a_words_budget(method):
    text = " ".join(f"Sentence {i} tells of the council, its budget and {i} roads near town."
                    for i in range(1, 13))
    document = Document(text, "en")
    summary = get_summarizer(method)(document, Budget(words=30))
    # each sentence is 13 words: two fit in 30, a third would not
    assert word_count(summary.text) == 26 and len(summary.sentences) == 2


def test_over_budget_is_more_words_than_a_words_budget():
    assert MethodResult(written("z", "one two three four five six seven"), None, 0.0).over_budget
    assert not MethodResult(written("z", "one two three four five six"), None, 0.0).over_budget
    assert not MethodResult(extractive("x", [1], Budget(sentences=1)), None, 0.0).over_budget


def test_uneven_names_the_word_range_when_the_shortest_has_under_80_percent():
    def of(*texts):
        return compare_summaries({str(i): written(str(i), t) for i, t in enumerate(texts)})

    assert of("one two three four five", "one two three four").uneven() is None  # 4 >= 0.8 * 5
    assert of("one two three four five", "one two three").uneven() == (3, 5)  # 3 < 4
    assert of("alone here").uneven() is None


@pytest.mark.parametrize("text", ["auto", "sentences=3", "ratio=0.25", "words=100"])
def test_budget_from_text_inverts_describe(text):
    assert budget_from_text(text).describe() == text


def test_budget_from_text_refuses_anything_else():
    with pytest.raises(ValueError, match="not a budget"):
        budget_from_text("pages=2")


def test_compare_summaries_names_each_summary_by_its_key():
    comparison = compare_summaries({"lead-2": extractive("lead", [0, 1])})
    assert [r.method for r in comparison.results] == ["lead-2"] == list(comparison.matrix.names)


def test_comparison_survives_to_dict_json_and_from_dict():
    summaries = {"x": extractive("x", [0, 2]), "z": written("z", "The mayor met taxpayers.")}
    comparison = compare_summaries(summaries, reference="The council met.")
    record = json.loads(json.dumps(comparison.to_dict()))  # what the history stores
    assert Comparison.from_dict(record, TOWN) == comparison
    assert record["sentences_in_document"] == 4 and record["reference"] == "The council met."
    assert record["methods"][0]["sentences"] == [[0, 0, 16, 1.0], [2, 36, 52, 0.8]]


def test_rouge_matrix_symmetric_with_hand_computed_value():
    texts = {"x": "the cat sat", "y": "the cat ran", "z": "dogs bark"}
    m = rouge_matrix(texts, rouge_type="rouge1")
    assert m.names == ("x", "y", "z")
    # 2 of 3 unigrams shared: P = R = F1 = 2/3
    assert m.values[0][1] == pytest.approx(200 / 3) == m.values[1][0]
    assert m.values[0][2] == 0.0 and m.values[2][2] == 100.0
    assert m.rows()[0] == {"x": 100.0, "y": pytest.approx(200 / 3), "z": 0.0}
    assert mean_agreement(m)["x"] == pytest.approx(100 / 3)
    with pytest.raises(ValueError):
        rouge_matrix(texts, rouge_type="rouge9")


def test_against_reference_matches_score_pair():
    got = against_reference({"x": "the cat sat"}, "the cat ran")
    assert got["x"]["rouge2"] == pytest.approx(score_pair("the cat ran", "the cat sat")["rouge2"].fmeasure)
    assert set(got["x"]) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}


# -- the comparison as files ------------------------------------------------------------
def town_comparison() -> Comparison:
    """x: "The council met. / The mayor spoke." (6 words), y: "The council met. / Taxes
    rose." (5 words), against the reference "The council met." (3 words)."""
    return compare_summaries({"x": extractive("x", [0, 2]), "y": extractive("y", [0, 3])},
                             reference="The council met.")


# Hand-computed: x shares the, council, met with the reference: P 3/6, R 3/3, F1 66.67;
# bigrams "the council", "council met" of x's 5: P 2/5, R 1, F1 57.14. y: P 3/5, F1 75.00;
# bigrams 2 of 4, F1 66.67. x against y: 3 shared of 6 and 5, F1 2 * (1/2 * 3/5) / (11/10)
# = 54.55.
TOWN_MARKDOWN = """# Comparison

Document: test · language en · budget words=6 · 2 methods

## Reference

The council met.  

## x (6 words)

The council met.  
The mayor spoke.  

## y (5 words)

The council met.  
Taxes rose.  

## Scores

| method | words | rouge1 | rouge2 | rougeL | rougeLsum | agreement (rouge1) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| x | 6 | 66.67 | 57.14 | 66.67 | 66.67 | 54.55 |
| y | 5 | 75.00 | 66.67 | 75.00 | 75.00 | 54.55 |

Words as the budget counts them. ROUGE F1 x 100 against the reference; agreement: mean ROUGE F1 x 100 against the other summaries.

## rouge1 F1 x 100 between summaries

|  | x | y |
| --- | ---: | ---: |
| x | 100.00 | 54.55 |
| y | 54.55 | 100.00 |
"""


def test_comparison_markdown_golden():
    assert files.to_markdown(town_comparison()).decode() == TOWN_MARKDOWN


def test_comparison_markdown_escapes_html_and_table_bars():
    document = Document("<b>Bold</b> & more.", "en", "x")
    summary = Summary("a|b", document, (), Budget(words=5), generated="<b>Bold</b> & more.")
    out = files.to_markdown(compare_summaries({"a|b": summary})).decode()
    # words: b, bold, b, more
    assert "## a|b (4 words)\n\n&lt;b&gt;Bold&lt;/b&gt; &amp; more.  " in out
    assert "| a\\|b | 4 | 0.00 |" in out and "<b>" not in out and "1 method\n" in out


def test_comparison_csv_has_words_scores_and_the_matrix_row():
    rows = list(csv.reader(io.StringIO(files.to_csv(town_comparison()).decode("utf-8-sig"))))
    assert rows == [
        ["method", "words", "budget", "summary", "rouge1", "rouge2", "rougeL", "rougeLsum",
         "agreement (rouge1)", "rouge1 vs x", "rouge1 vs y"],
        ["x", "6", "words=6", "The council met.\nThe mayor spoke.", "66.67", "57.14", "66.67",
         "66.67", "54.55", "100.00", "54.55"],
        ["y", "5", "words=6", "The council met.\nTaxes rose.", "75.00", "66.67", "75.00", "75.00",
         "54.55", "54.55", "100.00"],
    ]


def test_comparison_jsonl_one_object_per_method():
    lines = [json.loads(x) for x in files.to_jsonl(town_comparison()).decode().splitlines()]
    assert [x["method"] for x in lines] == ["x", "y"]
    x = lines[0]
    assert (x["words"], x["budget"], x["summary"]) == (6, "words=6", "The council met.\nThe mayor spoke.")
    assert x["rouge"] == {"rouge1": 66.6667, "rouge2": 57.1429, "rougeL": 66.6667, "rougeLsum": 66.6667}
    assert x["vs"] == {"x": 100.0, "y": 54.5455} and x["agreement"] == 54.5455
    assert (x["rouge_type"], x["source"], x["lang"], x["notes"]) == ("rouge1", "test", "en", [])


def test_comparison_docx_has_summaries_and_both_tables():
    import docx

    document = docx.Document(io.BytesIO(files.to_docx(town_comparison(), title="Town")))
    texts = [p.text for p in document.paragraphs]
    assert texts[:2] == ["Town", "Document: test · language en · budget words=6 · 2 methods"]
    assert texts[texts.index("x (6 words)") + 1:][:2] == ["The council met.", "The mayor spoke."]
    scores, matrix = ([[c.text for c in row.cells] for row in t.rows] for t in document.tables)
    assert scores[1] == ["x", "6", "66.67", "57.14", "66.67", "66.67", "54.55"]
    assert matrix == [["", "x", "y"], ["x", "100.00", "54.55"], ["y", "54.55", "100.00"]]


def test_references_load_match_and_score(tmp_path):
    path = tmp_path / "refs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "news/a.txt", "summary": "The cat sat."},
        {"id": "b", "summary": "Dogs bark loudly.", "article": "ignored here"},
        {"id": "c", "summary": "Not used."},
    ]) + "\n")
    refs = load_references(path)
    ids = ["news/a.txt", "other/b.md", "x/c.txt", "y/c.txt"]  # stem "c" is ambiguous
    matched = match_references(ids, refs)
    assert sorted(matched) == ["news/a.txt", "other/b.md"]
    scores = score_summaries([("news/a.txt", "The cat sat."), ("other/b.md", "Dogs sleep."),
                              ("x/c.txt", None)], refs)
    assert scores["news/a.txt"]["rouge1"] == pytest.approx(100.0)
    assert scores["other/b.md"]["rouge1"] == pytest.approx(40.0)  # P 1/2, R 1/3
    assert mean_scores(scores)["rouge1"] == pytest.approx(70.0)
    assert mean_scores({}) == {}


def test_references_need_a_summary(tmp_path):
    from summarizer.errors import DocumentError

    path = tmp_path / "refs.csv"
    path.write_text("id,article\n1,text\n")
    with pytest.raises(DocumentError, match="no 'summary'"):
        load_references(path)
