"""Comparing summaries (shared words, ROUGE matrix) and batch references (matching, ROUGE)."""
import json

import pytest

from summarizer.evaluation.compare import against_reference, mean_agreement, rouge_matrix, shared_spans
from summarizer.evaluation.references import load_references, match_references, mean_scores, score_summaries
from summarizer.evaluation.rouge import score_pair


def test_shared_spans_mark_words_another_summary_uses():
    texts = {"a": "The cat sat.", "b": "A cat ran home.", "c": "Home, sweet home."}
    spans = shared_spans(texts, stop=frozenset({"the", "a"}))
    words = {k: [texts[k][s:e] for s, e in v] for k, v in spans.items()}
    assert words == {"a": ["cat"], "b": ["cat", "home"], "c": ["Home", "home"]}


def test_shared_spans_single_summary_has_none():
    assert shared_spans({"a": "Only one."}) == {"a": []}


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
