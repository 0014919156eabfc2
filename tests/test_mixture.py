"""The multi-domain training mix (``training/mixture.py``) and the truecaser it restores
CNN/DailyMail with (``training/truecase.py``): hand-made cases, and a tiny suite folder."""
from __future__ import annotations

import gzip
import json

import pytest

from training.errors import TrainingError
from training.mixture import MixConfig, mixture_pairs, parse_counts
from training.truecase import CaseTable, detokenize, starts_sentence


def test_detokenize_undoes_the_ptb_splits():
    assert detokenize("it was n't the archdiocese 's policy , he said .") == \
        "it wasn't the archdiocese's policy, he said."
    assert detokenize('philadelphia ( cnn ) -- a 14 - year - old paid $ 5 ; " we \'re fine , " '
                      "he said : ' yes ' .") == \
        "philadelphia (cnn) -- a 14-year-old paid $5; \"we're fine,\" he said: 'yes'."
    assert detokenize("one  line .\ntwo ( 2 ) !") == "one line.\ntwo (2)!"


def test_sentence_starts():
    text = 'Go. Then "Quote" and U.S. forces\nNext'
    at = {w: text.index(w) for w in ("Go", "Then", "Quote", "and", "forces", "Next")}
    assert [starts_sentence(text, at[w]) for w in at] == [True, True, True, False, False, True]


def test_case_table_takes_the_common_form_and_pairs_win():
    table = CaseTable.fit([
        "We watched the World Cup. The world is round, said the world champion in Paris.",
        "The World Cup is in Paris. A new world record for the world.",
    ])
    # "world" alone is lowercase (4 to 0 away from sentence starts), "World Cup" a pair;
    # "paris" twice capitalised; "the" from its non-initial uses; "round" seen once (< 2)
    assert table.forms["world"] == "world" and table.forms["paris"] == "Paris"
    assert table.pairs[("world", "cup")] == ("World", "Cup")
    assert "round" not in table.forms
    assert table.restore("the world cup is in paris . the world is round .") == \
        ("The World Cup is in Paris . The world is round .", 1)


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


@pytest.fixture
def suite(tmp_path):
    root = tmp_path / "data"
    bbc = root / "bbc_news_summary/pairs.jsonl"
    bbc.parent.mkdir(parents=True)
    # The case table reads these: "Paris" and "Smith" capitalised, the rest lowercase
    text = "In Paris the mayor met Smith. Later the mayor and Smith saw Paris again."
    bbc.write_text("".join(json.dumps({"id": str(i), "article": f"{text} Story {i}.",
                                       "summary": f"Summary {i}."}) + "\n" for i in range(12)))
    md = root / "multidomain"
    _write(md / "cnndm/train.jsonl.gz", [
        {"id": "a", "article": "the mayor met smith in paris .\nlater they left .",
         "summary": "smith met the mayor\nthe mayor saw paris ."},
        {"id": "b", "article": "zorblax met the mayor .", "summary": "zorblax met the mayor ."},
        {"id": "c", "article": "the mayor saw smith .", "summary": "the mayor saw smith ."},
    ])
    _write(md / "cnndm/validation.jsonl.gz", [
        {"id": "v", "article": "smith saw paris .", "summary": "smith saw paris ."}])
    _write(md / "samsum/train.jsonl.gz", [
        {"id": str(i), "article": f"Ann: hi {i}\nBob: hello", "summary": f"Ann greets Bob {i}."}
        for i in range(5)] + [{"id": "empty", "article": " ", "summary": "x"}])
    _write(md / "samsum/validation.jsonl.gz", [
        {"id": "s", "article": "Ann: bye\nBob: bye", "summary": "They part."}])
    return root


def test_mixture_takes_counts_per_set_and_restores_cnndm(suite):
    train, validation, report = mixture_pairs(suite, MixConfig(
        counts=(("bbc", 3), ("cnndm", 5), ("samsum", 4)), validation=1))
    ids = [p.id for p in train]
    # BBC by the shared rule (positions 0 and 1 are test and validation); cnndm's "b" has
    # a word the case table never saw and is skipped
    assert ids == ["bbc/2", "bbc/3", "bbc/4", "cnndm/a", "cnndm/c",
                   "samsum/0", "samsum/1", "samsum/2", "samsum/3"]
    a = train[3]
    assert a.summary == "Smith met the mayor. The mayor saw Paris."
    assert a.article == "The mayor met Smith in Paris.\nLater they left."
    assert [p.id for p in validation] == ["bbc/1", "cnndm/v", "samsum/s"]
    assert validation[1].summary == "Smith saw Paris."
    assert report["sets"]["cnndm"] == {"asked": 5, "train": 2, "train_skipped_unknown_words": 1,
                                       "validation": 1, "validation_skipped_unknown_words": 0,
                                       "note": "fewer train pairs than asked"}
    assert report["sets"]["samsum"] == {"asked": 4, "train": 4, "validation": 1}


def test_mixture_counts_are_checked():
    assert parse_counts("samsum=10, cnndm=3") == (("samsum", 10), ("cnndm", 3))
    with pytest.raises(TrainingError, match="SET=COUNT"):
        parse_counts("samsum")
    with pytest.raises(TrainingError, match="no suite set named 'xsum'"):
        MixConfig(counts=(("xsum", 3),))


def test_a_folder_without_the_sets_says_so(tmp_path):
    with pytest.raises(TrainingError, match="found no training pairs"):
        mixture_pairs(tmp_path, MixConfig(counts=(("samsum", 3),)))
