"""The command line contract of README: summarize, batch, evaluate."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TEXT = (
    "Apple banana cherry. Apple kiwi. Banana melon. Cherry grape.\n"
)


def test_summarize_text(tmp_path, capsys):
    f = tmp_path / "doc.txt"
    f.write_text(TEXT)
    assert main(["summarize", str(f), "--method", "textrank", "--sentences", "1"]) == 0
    assert capsys.readouterr().out == "Apple banana cherry.\n"


def test_summarize_json_has_offsets_scores_and_keyphrases(tmp_path, capsys):
    f = tmp_path / "doc.txt"
    f.write_text(TEXT)
    assert main(["summarize", str(f), "--method", "lead", "--ratio", "0.5", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"] == "Apple banana cherry.\nApple kiwi."
    assert [(s["start"], s["end"]) for s in out["sentences"]] == [(0, 20), (21, 32)]
    assert [s["score"] for s in out["sentences"]] == [1.0, 0.75]
    assert out["budget"] == "ratio=0.5" and out["lang"] == "en" and out["method"] == "lead"
    assert isinstance(out["keyphrases"], list)


def test_summarize_chinese_words_budget(tmp_path, capsys):
    f = tmp_path / "zh.txt"
    f.write_text("今天天气很好。我们去公园吧！你觉得怎么样？", encoding="utf-8")
    assert main(["summarize", str(f), "--method", "lead", "--words", "4", "--lang", "auto", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lang"] == "zh"
    assert out["summary"] == "今天天气很好。"  # 今天天气/很/好 = 3 words; adding 4 more overflows


def test_bad_file_exits_2_with_message(tmp_path, capsys):
    f = tmp_path / "broken.pdf"
    f.write_bytes(b"not a pdf at all")
    assert main(["summarize", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.pdf" in err


def test_conflicting_length_flags_are_refused(tmp_path):
    f = tmp_path / "doc.txt"
    f.write_text(TEXT)
    with pytest.raises(SystemExit) as e:
        main(["summarize", str(f), "--sentences", "1", "--ratio", "0.5"])
    assert e.value.code == 2


def test_evaluate_prints_table_and_writes_json(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    with pairs.open("w") as f:
        for i in range(12):
            f.write(json.dumps({"id": str(i), "article": f"Story {i} begins. " + TEXT,
                                "summary": f"Story {i} begins."}) + "\n")
    out = tmp_path / "report.json"
    code = main(["evaluate", "--data", str(pairs), "--split", "all", "--methods", "lead,textrank",
                 "--sentences", "1", "--json", str(out), "--workers", "1"])
    assert code == 0
    table = capsys.readouterr().out
    assert "lead" in table and "textrank" in table and "documents: 12" in table
    report = json.loads(out.read_text())
    lead = next(r for r in report["results"] if r["method"] == "lead")
    # Lead-1 is exactly the reference every time
    assert lead["scores"]["rouge1"]["mean"] == pytest.approx(100.0)
    assert lead["scores"]["rougeLsum"]["low"] == pytest.approx(100.0)


def test_module_entry_point_runs(tmp_path):
    f = tmp_path / "doc.md"
    f.write_text("# Fruit\n\n" + TEXT)
    res = subprocess.run([sys.executable, "-m", "summarizer", "summarize", str(f), "--method", "lead",
                          "--sentences", "2"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["Fruit", "Apple banana cherry."]


def test_abstractive_with_a_folder_that_is_not_a_model(tmp_path, capsys):
    f = tmp_path / "doc.txt"
    f.write_text(TEXT)
    code = main(["summarize", str(f), "--method", "abstractive", "--model", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "not an exported seq2seq model" in err and "python -m export onnx" in err


def test_summarize_defaults_to_the_ranker_at_the_automatic_length(tmp_path, capsys):
    f = tmp_path / "doc.txt"
    f.write_text(" ".join(f"Sentence number {i} has exactly six words." for i in range(60)))
    assert main(["summarize", str(f), "--format", "json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    # 420 words -> a target of 42 -> six 7-word sentences, whichever the ranker prefers
    assert out["method"] == "ranker" and out["budget"] == "sentences=6"
    assert len(out["sentences"]) == 6
    assert ("note: Length: 6 sentences (42 words), chosen to come near 42 words, about a tenth "
            "of the document's 420 words.") in captured.err
