"""The quality suite on a tiny fixture: sets found by path, each at its own budget,
the table's values, the markers in the Markdown file, missing sets named."""
import gzip
import json

import pytest

from summarizer.__main__ import main
from summarizer.evaluation.suite import BEGIN, END, run_suite, write_block


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
