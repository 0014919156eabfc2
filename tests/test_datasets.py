"""Pairs files: the shared split rule, deduplication, glued-sentence repair."""
import json

import pytest

from summarizer.evaluation.datasets import Pair, deduplicate, load_pairs, load_split, repair_glued_sentences, split


def _pairs(n):
    return [Pair(id=str(i), article=f"Article {i}.", summary=f"Summary {i}.") for i in range(n)]


def test_split_rule_by_position():
    pairs = _pairs(25)
    assert [p.id for p in split(pairs, "test")] == ["0", "10", "20"]
    assert [p.id for p in split(pairs, "validation")] == ["1", "11", "21"]
    assert len(split(pairs, "train")) == 19
    assert len(split(pairs, "all")) == 25
    with pytest.raises(ValueError):
        split(pairs, "dev")


def test_deduplicate_keeps_first_then_splits(tmp_path):
    recs = [{"id": f"r{i}", "article": f"Text {i % 12}.", "summary": "S."} for i in range(15)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    pairs = deduplicate(load_pairs(path))
    assert [p.id for p in pairs] == [f"r{i}" for i in range(12)]  # r12..r14 repeat r0..r2
    assert [p.id for p in load_split(path, "test")] == ["r0", "r10"]


def test_repair_glued_sentences_checks_the_article():
    article = "Sales rose 2% to $11.1bn from $10.9bn. For the full-year, profit rose. He read:\"We won.\""
    summary = "Sales rose 2% to $11.1bn from $10.9bn.For the full-year, profit rose."
    assert repair_glued_sentences(summary, article) == (
        "Sales rose 2% to $11.1bn from $10.9bn. For the full-year, profit rose.")
    quoted = 'He said it was "hard in recent months."The firm disagreed.'
    assert repair_glued_sentences(quoted, "") == 'He said it was "hard in recent months." The firm disagreed.'
    # a join that the article itself contains is left alone (an abbreviation, say)
    assert repair_glued_sentences("The U.S.Army said no.", "The U.S.Army said no.") == "The U.S.Army said no."


def test_reference_is_one_sentence_per_line():
    p = Pair(id="x", article="One. Two.", summary="First point.Second point.")
    assert p.reference == "First point.\nSecond point."


def test_bbc_split_sizes(bbc_pairs_path):
    assert len(load_split(bbc_pairs_path, "test")) == 213
    assert len(load_split(bbc_pairs_path, "all")) == 2127
