"""Faithfulness screen: numbers and names of a summary that the source lacks."""
from decimal import Decimal

import pytest

from summarizer.evaluation.faithfulness import (check_faithfulness, chinese_names, extract_names,
                                                extract_numbers, speakers)

SOURCE = (
    "Gordon Brown said the deficit rose 3.5 per cent to $10 billion in 2004, and 1,000 jobs "
    "went at the Leeds plant. The BBC reported that prices fell 0.25%. Sales reached "
    "1.5m units, up from 900,000."
)


@pytest.mark.parametrize("text, value, percent", [
    ("1,000", Decimal("1000"), False),
    ("1000", Decimal("1000"), False),
    ("3.5%", Decimal("3.5"), True),
    ("3.5 per cent", Decimal("3.5"), True),
    ("3.5 percent", Decimal("3.5"), True),
    ("$10bn", Decimal("10000000000"), False),
    ("$10 billion", Decimal("10000000000"), False),
    ("£2.5m", Decimal("2500000"), False),
    ("€7 million", Decimal("7000000"), False),
    ("12k", Decimal("12000"), False),
    ("-4", Decimal("-4"), False),
    ("1,234,567.89", Decimal("1234567.89"), False),
])
def test_numbers_are_read_to_values(text, value, percent):
    (form, (got, is_percent)), = extract_numbers(f"It was {text} then.")
    assert form == text
    assert got == value.normalize() and is_percent is percent


def test_number_spellings_match_across_summary_and_source():
    summary = "The deficit rose 3.5% to $10bn. 1000 jobs went; sales hit 1,500,000 units."
    report = check_faithfulness(summary, SOURCE)
    assert report.numbers == ()


def test_a_dash_between_numbers_is_no_minus_sign():
    # CNN/DailyMail's tokenized scores: "40 - 10" holds 10, not -10
    assert [v for _, (v, _) in extract_numbers("a 40 - 10 win, 61-20 and -4 and $ 5")] == \
        [Decimal(40), Decimal(10), Decimal(61), Decimal(20), Decimal(-4), Decimal(5)]
    assert check_faithfulness("They fell 10 points short.", "with their 40 - 10 triumph").ok


def test_unsupported_numbers_are_flagged_once_in_order():
    summary = "The deficit rose 4.5% to $12bn in 2004; 4.5% is high and 3.5 is not a percent."
    report = check_faithfulness(summary, SOURCE)
    # 3.5 without % is a different quantity from the source's 3.5 per cent
    assert report.numbers == ("4.5%", "$12bn", "3.5")
    assert not report.ok


def test_names_are_runs_of_capitalized_words():
    text = "The BBC said Gordon Brown met Mr Smith in New York. Officials agreed. NASA too."
    names = extract_names(text, stop=frozenset({"the"}))
    # sentence-initial "Officials" is an ordinary word; "NASA" is an acronym
    assert names == ["BBC", "Gordon Brown", "Mr Smith", "New York", "NASA"]


def test_unsupported_names_flagged_supported_ones_not():
    summary = ("Gordon Brown's plan was praised by the BBC.\n"
               "Mr Brown then met Angela Merkel in Leeds, said Reuters.\nFrance disagreed.")
    report = check_faithfulness(summary, SOURCE)
    # "France" alone at a sentence start is not checked (usually an ordinary word there)
    assert report.names == ("Angela Merkel", "Reuters")
    assert report.numbers == ()


def test_clean_summary_is_ok():
    assert check_faithfulness("Gordon Brown said 1,000 jobs went.", SOURCE).ok
    report = check_faithfulness("收入增长了5%。", "今年收入增长了5%。", lang="zh")
    assert report.ok
    assert check_faithfulness("收入增长了7%。", "今年收入增长了5%。", lang="zh").numbers == ("7%",)


# -- Chinese -----------------------------------------------------------------------------
ZH_SOURCE = ("面对撤资的传言，李嘉诚希望用数字说话：长和系去年毛收入约4300亿港元，占比不足2％。"
             "IBM和联想在“4K”电视上合作，员工2.6万人。")


@pytest.mark.parametrize("text, value", [
    ("2.6万", Decimal("26000")), ("4300亿", Decimal("430000000000")),
    ("4.3千亿", Decimal("430000000000")), ("3千万", Decimal("30000000")), ("4K", Decimal("4000")),
])
def test_chinese_scales_are_read_to_values(text, value):
    (form, (got, _)), = extract_numbers(f"约{text}电视")  # no word boundary before 电
    assert (form, got) == (text, value.normalize())


def test_chinese_numbers_match_across_spellings_and_percent_signs():
    summary = "李嘉诚：毛收入4,300亿港元，占比不足2%，员工26,000人，合作4K电视。"
    assert check_faithfulness(summary, ZH_SOURCE, lang="zh").ok
    report = check_faithfulness("毛收入4200亿港元，占比3％", ZH_SOURCE, lang="zh")
    assert report.numbers == ("4200亿", "3％")


def test_chinese_latin_words_the_source_lacks_are_flagged():
    report = check_faithfulness("ibm与Lenovo合作，upper-level的电视", ZH_SOURCE, lang="zh")
    # IBM in another case is the source's; Lenovo is not; nor the English word
    assert report.names == ("Lenovo", "upper-level")


def test_chinese_person_names_new_or_one_character_off_are_flagged():
    assert check_faithfulness("李嘉诚回应撤资传言", ZH_SOURCE, lang="zh").ok
    # a misspelt source name (both are in jieba's dictionary) and a name jieba's HMM finds
    assert chinese_names("李嘉成回应撤资传言", ZH_SOURCE) == ["李嘉成"]
    assert chinese_names("邓海建认为撤资是笑话", ZH_SOURCE) == ["邓海建"]
    # a dictionary word jieba tags as a name (安静 "quiet") is not flagged
    assert chinese_names("市场很安静", ZH_SOURCE) == []
    # a name cut short: the source has 李嘉 only inside 李嘉诚
    assert chinese_names("李嘉出售内地资产", ZH_SOURCE) == ["李嘉"]
    assert chinese_names("李嘉出售内地资产", ZH_SOURCE + "李嘉也说了话。") == []  # on its own too


# -- dialogue speakers -------------------------------------------------------------------
CHAT = ("Amanda: I baked cookies. Do you want some?\nJerry: Sure! Ask Hannah too.\n"
        "Amanda: I'll bring you some tomorrow :-)")


def test_speakers_are_read_from_the_turns():
    assert speakers(CHAT) == ["Amanda", "Jerry"]
    assert speakers("#Person1#: Hi.\n#Person2#: Hello.\n#Person1#: Bye.") == ["#Person1#", "#Person2#"]


def test_a_summary_may_name_speakers_and_people_the_chat_mentions():
    summary = "Amanda baked cookies. Jerry'll get some tomorrow. Hannah too. They are happy."
    assert check_faithfulness(summary, CHAT).ok


def test_a_speaker_the_dialogue_lacks_is_flagged_even_opening_a_sentence():
    summary = "Amelia baked cookies. Amelia's friend Jerry will get some. Jery is happy."
    # in prose a lone capitalised word opening a sentence is skipped; in a chat's summary
    # it is mostly a speaker, so it is checked (each person once)
    assert check_faithfulness(summary, CHAT).names == ("Amelia", "Jery")
    assert check_faithfulness(summary, CHAT.replace("\n", " ")).names == ()  # as prose


def test_a_placeholder_speaker_no_turn_has_is_flagged():
    dialogue = "#Person1#: Can I help you?\n#Person2#: Yes, a ticket to Leeds.\n#Person1#: Here."
    assert check_faithfulness("#Person1# sells #Person2# a ticket to Leeds.", dialogue).ok
    report = check_faithfulness("#Person3# sells #Person2# a ticket to Leeds.", dialogue)
    assert report.names == ("#Person3#",)


def test_a_chinese_dialogue_checks_its_speakers_by_name():
    dialogue = "张三：你好，明天去北京吗？\n李四：去，和王芳一起。\n张三：好的。"
    assert check_faithfulness("李四和王芳明天去北京", dialogue, lang="zh").ok
    assert check_faithfulness("李斯和王芳明天去北京", dialogue, lang="zh").names == ("李斯",)


def test_empty_inputs():
    assert check_faithfulness("", "").ok
    assert check_faithfulness("", SOURCE).ok
    report = check_faithfulness("It cost 5 dollars in Paris.", "")
    assert report.numbers == ("5",) and report.names == ("Paris",)
