"""The quality suite on a tiny fixture: sets found by path, each at its own budget,
the table's values, the markers in the Markdown file, missing sets named, and the words,
flagged and cut summaries each method wrote."""
import gzip
import json

import pytest

from summarizer.__main__ import main
from summarizer.abstractive.endings import MID_SENTENCE
from summarizer.errors import CondenseError
from summarizer.evaluation.evaluate import REPORTED, MethodResult, is_truncated
from summarizer.evaluation.rouge import Interval
from summarizer.evaluation.suite import BEGIN, END, run_suite, write_block
from summarizer.types import Summary


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    # cnndm at 3 sentences: lead takes the first three, which are exactly the reference.
    _write(root / "multidomain/cnndm/validation.jsonl.gz", [
        {"id": "n1", "article": "alpha beta .\ngamma delta .\nepsilon zeta .\neta theta .",
         "summary": "alpha beta .\ngamma delta .\nepsilon zeta ."},
    ])
    # samsum at 1 unit: a dialogue's unit is a whole turn, speaker included.
    _write(root / "multidomain/samsum/validation.jsonl.gz", [
        {"id": "d1", "article": "Anna: Cake tonight? Bring milk.\nBen: Sure thing",
         "summary": "Anna: Cake tonight? Bring milk."},
        {"id": "d2", "article": "Cleo: red green\nDan: blue", "summary": "blue"},
    ])
    return root


def test_suite_scores_each_set_at_its_budget(data):
    report = run_suite(data, ["lead"])
    assert [r.set.name for r in report.results] == ["cnndm", "samsum"]
    assert set(report.missing) == {"bbc", "dialogsum", "scitldr", "lcsts", "csl", "csl_clge", "sumpubmed"}
    cnn, sam = (r.report.results[0] for r in report.results)
    assert cnn.documents == 1 and cnn.scores["rouge1"].mean == pytest.approx(100.0)
    # d1: the first turn is the reference (100); d2: "Cleo: red green" vs "blue" (0)
    assert sam.documents == 2 and sam.scores["rouge1"].mean == pytest.approx(50.0)
    assert report.mean("lead") == pytest.approx(75.0)
    assert report.best() == "lead"


def test_suite_command_writes_between_markers(data, tmp_path, capsys):
    md = tmp_path / "QUALITY.md"
    md.write_text(f"# Quality\n\nintro\n\n{BEGIN}\nold table\n{END}\n\nafter\n", encoding="utf-8")
    assert main(["evaluate", "--suite", str(data), "--methods", "lead,textrank",
                 "--workers", "1", "--write", str(md)]) == 0
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Quality\n\nintro\n\n" + BEGIN) and text.endswith(END + "\n\nafter\n")
    assert "old table" not in text
    assert "| cnndm (sentences=3, 1) | **100.00** / 100.00 / 100.00 |" in text
    assert "| samsum (sentences=1, 2) | **50.00** / 50.00 / 50.00 |" in text
    assert "Sets not found, left out: bbc, dialogsum" in text
    assert "| cnndm (sentences=3, 1)" in capsys.readouterr().out


def test_suite_refuses_unknown_sets_and_length_flags(data, capsys):
    assert main(["evaluate", "--suite", str(data), "--sets", "cnndm,nope"]) == 2
    assert "unknown suite set(s) nope" in capsys.readouterr().err
    assert main(["evaluate", "--suite", str(data), "--sentences", "2"]) == 2
    assert "leave out --data, --split and the length flags" in capsys.readouterr().err


def test_suite_on_a_folder_without_data(tmp_path, capsys):
    assert main(["evaluate", "--suite", str(tmp_path)]) == 2
    assert "holds none of the suite's data sets" in capsys.readouterr().err


def test_write_block_appends_markers_when_absent(tmp_path):
    md = tmp_path / "Q.md"
    md.write_text("# Q\n", encoding="utf-8")
    write_block(md, "T1")
    write_block(md, "T2")
    assert md.read_text(encoding="utf-8") == f"# Q\n\n{BEGIN}\nT2\n{END}\n"


def test_damaged_gzip_pairs_give_a_typed_error(tmp_path):
    from summarizer.evaluation.datasets import load_pairs
    from summarizer.errors import DocumentError

    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"plain text, not gzip")
    with pytest.raises(DocumentError, match="bad.jsonl.gz.*cannot be read"):
        load_pairs(bad)
    good = tmp_path / "cut.jsonl.gz"
    _write(good, [{"id": str(i), "article": "a " * 200, "summary": "a"} for i in range(50)])
    good.write_bytes(good.read_bytes()[:-30])  # cut the end off
    with pytest.raises(DocumentError, match="cut.jsonl.gz.*cannot be read"):
        load_pairs(good)


# -- what each method wrote: words, flagged and cut summaries per 100 documents --------

class Scripted:
    """A stand-in abstractive summarizer: the text it "generates" for each pair id, or
    None to fail on that pair as a summarizer does (a CondenseError)."""

    name = "abstractive"

    def __init__(self, texts):
        self.texts = texts

    def __call__(self, document, budget):
        text = self.texts[document.source]
        if text is None:
            raise CondenseError(f"cannot summarize {document.source}")
        return Summary("abstractive", document, (), budget, NOTES.get(document.source, ()),
                       generated=text)


SCRIPT = {
    "n1": "Alpha beta met 7 times.",  # 5 words; 7 is in no article: flagged
    "d1": "Anna asks Ben to bring",  # 5 words; no full stop (open), cut by decoding (its note)
    "d2": None,  # failed: no words to count, but one of the 2 documents per 100
}
NOTES = {"d1": (MID_SENTENCE,)}


def test_suite_counts_words_flags_and_cuts(data):
    report = run_suite(data, ["lead", "abstractive"], summarizers={"abstractive": Scripted(SCRIPT)})
    (cnn_lead, cnn_abs), (sam_lead, sam_abs) = (r.report.results for r in report.results)
    # lead: "alpha beta . / gamma delta . / epsilon zeta ." is 6 words; the turns
    # "Anna: Cake tonight? Bring milk." (5, speaker included) and "Cleo: red green" (3)
    assert cnn_lead.words == pytest.approx(6.0) and sam_lead.words == pytest.approx(4.0)
    # extractive: never cut (None), and nothing it copies can be unsupported
    assert (cnn_lead.flagged_per_100, cnn_lead.truncated_per_100) == (0.0, None)
    assert (sam_lead.flagged_per_100, sam_lead.truncated_per_100) == (0.0, None)
    assert (cnn_abs.words, cnn_abs.flagged_per_100, cnn_abs.truncated_per_100) == (5.0, 100.0, 0.0)
    # d2 failed: out of the mean words (5, not 2.5), in the denominators (1 cut of 2)
    assert (sam_abs.failures, sam_abs.words) == (1, 5.0)
    assert (sam_abs.flagged_per_100, sam_abs.truncated_per_100) == (0.0, 50.0)
    assert (cnn_abs.mid_sentence_per_100, sam_abs.mid_sentence_per_100) == (0.0, 50.0)
    assert cnn_lead.mid_sentence_per_100 is None

    md = report.markdown()
    table = ("ROUGE-1 / ROUGE-2 / ROUGE-Lsum F1 x 100. Best by mean ROUGE-1: **lead**.\n\n"
             "| set | lead | abstractive |\n"
             "|---|---:|---:|\n"
             "| cnndm | 6 w · 0 flagged | 5 w · 100 flagged · 0 cut · 0 open |\n"
             "| samsum | 4 w · 0 flagged | 5 w · 0 flagged · 50 cut · 50 open |\n\n"
             "w: mean words per summary (documents a method failed on left out); per 100 "
             "documents, summaries with a number or name the article lacks (flagged), "
             "generated summaries that decoding stopped inside a sentence (cut) and generated "
             "summaries that end without a full stop, question or exclamation mark for any "
             "reason, a headline the model ended there included (open).\n\n"
             "Sets not found, left out:")
    assert table in md
    # the ROUGE table above it is as before
    assert "| cnndm (sentences=3, 1) | **100.00** / 100.00 / 100.00 | " in md

    sets = json.loads(report.to_json())["sets"]
    assert [(r["method"], r["words"], r["flagged_per_100"], r["truncated_per_100"])
            for r in sets[1]["report"]["results"]] == [("lead", 4.0, 0.0, None),
                                                       ("abstractive", 5.0, 0.0, 50.0)]


def test_extractive_only_table_shows_words_alone(data):
    md = run_suite(data, ["lead"]).markdown()
    assert "| set | lead |\n|---|---:|\n| cnndm | 6 w |\n| samsum | 4 w |\n\n" in md
    assert "flagged" not in md and "cut" not in md


def test_results_saved_before_the_new_fields_still_load():
    old = MethodResult("lead", 3, 0, {k: Interval(1.0, 0.5, 1.5) for k in REPORTED}, 0.2)
    assert (old.words, old.flagged_per_100, old.truncated_per_100) == (0.0, 0.0, None)
    assert old.mid_sentence_per_100 is None


@pytest.mark.parametrize("text, cut", [
    ("He left.", False), ('She said "no."', False), ("(see above.)", False),
    ("Really?!  \n", False), ("And then…", False), ("他走了。", False), ("「好！」", False),
    ("He left", True), ("He left,", True), ("他走了", True), ("", False), ("  ", False),
])
def test_is_truncated(text, cut):
    assert is_truncated(text) is cut


def test_lead_at_the_length_another_method_wrote(data):
    report = run_suite(data, ["abstractive", "lead@abstractive"],
                       summarizers={"abstractive": Scripted(SCRIPT)})
    (_, cnn_lead), (_, sam_lead) = (r.report.results for r in report.results)
    # n1's summary has 5 words: Lead at 5 words keeps "alpha beta ." and "gamma delta ."
    # (4 words; the third sentence would pass 5), and scores against its reference
    assert cnn_lead.method == "lead@abstractive" and cnn_lead.words == pytest.approx(4.0)
    # d1 wrote 5 words: the first turn (5 words); d2's abstractive failed: nothing to match
    assert (sam_lead.words, sam_lead.failures) == (5.0, 1)
    assert "lead@abstractive" in report.markdown()


@pytest.mark.parametrize("methods", [["lead@abstractive", "abstractive"], ["lead@textrank"],
                                     ["lead", "textrank@lead", "ranker@textrank@lead"]])
def test_a_matched_method_needs_an_earlier_one(data, methods):
    with pytest.raises(CondenseError, match="must be an earlier method"):
        run_suite(data, methods, summarizers={"abstractive": Scripted(SCRIPT)})


def test_skip_leaves_out_the_first_pairs_of_each_set(data):
    report = run_suite(data, ["lead"], sets=["samsum"], skip=1)
    (lead,) = report.results[0].report.results
    assert lead.documents == 1 and lead.words == pytest.approx(3.0)  # d2: "Cleo: red green"
    with pytest.raises(SystemExit):
        main(["evaluate", "--suite", str(data), "--methods", "lead", "--skip", "-1"])
