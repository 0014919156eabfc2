"""Keyphrases: TextRank (English), TF-IDF over jieba's words (Chinese)."""
import pytest

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


# Chinese: TF-IDF over jieba's words. The IDF values below are read from jieba 0.42.1's
# analyse/idf.txt; a word's score is its count / all candidate occurrences * its IDF.
IDF = {"机器": 6.64156152388, "学习": 5.77711981691, "数据": 4.78135667839,
       "克尔": 10.1394775363, "恺": 11.7034530746, "郭尔": 12.1089181827}


def test_chinese_words_always_together_are_one_term():
    # jieba: 机器 学习 (three times, never apart) -> 机器学习; 数据 twice, 数据 质量 once.
    text = "机器学习改变了世界。机器学习需要数据。数据质量决定机器学习的效果。"
    got = keyphrases(Document(text, "zh"))
    assert [k.text for k in got] == [
        "机器学习", "数据", "效果", "质量", "改变", "决定", "世界", "需要"]
    # 11 candidate occurrences: 机器学习 x3, 数据 x2, six words once
    assert got[0].score == pytest.approx(3 / 11 * max(IDF["机器"], IDF["学习"]))
    assert got[1].score == pytest.approx(2 / 11 * IDF["数据"])


def test_chinese_name_comes_out_whole_and_no_fragment_crosses_a_word():
    # The fragments: jieba cuts 克尔 恺 郭尔 对 人 作出; TextRank showed
    # "克尔恺郭尔对" (name + preposition) and "人作出" (one-character noun + verb).
    text = ("克尔恺郭尔对人的存在作出了分析。克尔恺郭尔认为，人作出选择时面对焦虑。"
            "后来的哲学家常常引用克尔恺郭尔。")
    got = keyphrases(Document(text, "zh"))
    assert [k.text for k in got] == [
        "克尔恺郭尔", "作出", "焦虑", "哲学家", "引用", "常常", "面对", "选择", "后来", "分析"]
    # 15 candidate occurrences (the name x3, 作出 x2, ten words once); the name weighs
    # as its rarest piece
    assert got[0].score == pytest.approx(3 / 15 * IDF["郭尔"])


def test_chinese_word_jieba_guessed_once_is_not_a_keyphrase():
    # 能化 is not in jieba's dictionary: its HMM glued 能 + 化 (就能化不利为有利)
    once = "只要在准备简历的时候掌握一定的叙事技巧，就能化不利为有利。"
    assert [k.text for k in keyphrases(Document(once, "zh"))] == [
        "简历", "叙事", "技巧", "不利", "有利", "掌握", "准备", "一定"]
    twice = "只要掌握叙事技巧，就能化不利为有利。掌握叙事技巧，就能化被动为主动。"
    assert keyphrases(Document(twice, "zh"))[0].text == "能化"  # recurring: trusted


def test_chinese_term_does_not_open_with_a_measure_word():
    # jieba: 5 家 合资 券商 ... three times. 家 (a measure word after 5) is never apart
    # from 合资 券商, so all three would join; a term does not open with 家. 获批 is a guess
    # of jieba's HMM, seen once.
    text = "5家合资券商获批。5家合资券商开业。5家合资券商扩张。"
    assert [k.text for k in keyphrases(Document(text, "zh"))] == ["合资券商", "开业", "扩张"]


def test_chinese_dialogue_skips_speaker_tags_and_placeholders():
    text = ("张三：你好，今天去图书馆吗？\n李四：好的，图书馆几点开门？\n"
            "张三：九点。图书馆门口见 <file_photo>")
    got = [k.text for k in keyphrases(Document(text, "zh"))]
    assert got == ["图书馆", "九点", "几点", "你好", "开门", "门口", "今天"]


def test_chinese_without_candidates_gives_empty_list():
    assert keyphrases(Document("我们的。2024年，3%！", "zh")) == []


def test_contraction_tails_start_no_phrase():
    from summarizer.documents.loaders import document_from_text

    text = ("A: We’ve discussed the puppy many times.\nB: You’ll love the puppy.\n"
            "A: We're discussing it again, we've discussed the puppy.")
    found = [k.text for k in keyphrases(document_from_text(text, source="chat"))]
    assert found and not [k for k in found if k.split()[0] in ("ve", "ll", "re")], found
    assert "discussed" in found  # was "ve discussed"
