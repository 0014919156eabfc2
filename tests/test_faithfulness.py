"""Faithfulness screen: numbers and names of a summary that the source lacks."""
from decimal import Decimal

import pytest

from summarizer.evaluation.faithfulness import check_faithfulness, extract_names, extract_numbers

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


def test_clean_summary_is_ok_and_chinese_skips_names():
    assert check_faithfulness("Gordon Brown said 1,000 jobs went.", SOURCE).ok
    report = check_faithfulness("收入增长了5%。", "今年收入增长了5%。", lang="zh")
    assert report.ok
    assert check_faithfulness("收入增长了7%。", "今年收入增长了5%。", lang="zh").numbers == ("7%",)


def test_empty_inputs():
    assert check_faithfulness("", "").ok
    assert check_faithfulness("", SOURCE).ok
    report = check_faithfulness("It cost 5 dollars in Paris.", "")
    assert report.numbers == ("5",) and report.names == ("Paris",)
