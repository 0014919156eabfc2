"""TextRank keyphrases."""
from summarizer.keyphrases import KeyphraseConfig, keyphrases
from summarizer.types import Document

TEXT = (
    "Neural networks learn from data. Deep neural networks need large data sets. "
    "Training neural networks takes time. Data quality matters for training."
)


def test_top_phrase_collapses_adjacent_keywords():
    got = keyphrases(Document(TEXT, "en"), KeyphraseConfig(top_phrases=3))
    # 13 candidate stems, top third (4) kept: neural, network, data, qualiti
    assert [k.text for k in got] == ["neural networks", "data quality", "data"]
    # a phrase scores the sum of its words
    assert got[0].score > got[1].score > got[2].score > 0


def test_no_candidates_gives_empty_list():
    assert keyphrases(Document("The of and. It is.", "en")) == []


def test_chinese_phrases_join_without_spaces():
    got = keyphrases(Document("机器学习改变了世界。机器学习需要数据。数据质量决定机器学习的效果。", "zh"))
    assert got[0].text == "数据质量"  # jieba: 数据 + 质量, adjacent keywords, no space
