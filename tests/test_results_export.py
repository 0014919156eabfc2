"""Result writers: each format read back and checked; summarizer.results.files never loads torch."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import docx

from summarizer.results.files import ResultRow, to_csv, to_docx, to_jsonl, to_markdown

ROOT = Path(__file__).resolve().parents[1]
ROWS = [
    ResultRow("news/a.txt", "textrank", "First sentence.\nSecond sentence, with “quotes” é.",
              rouge={"rouge1": 51.234, "rouge2": 20.0, "rougeL": 40.5, "rougeLsum": 45.0}),
    ResultRow("broken.pdf", "textrank", None, "broken.pdf: the PDF is damaged. Re-export it"),
    ResultRow("=cmd.txt", "lead", "<script>alert(1)</script> -5% @home\x07bell"),
]


def test_csv_round_trip_with_formula_guard():
    data = to_csv(ROWS)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM for spreadsheets
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == ["id", "method", "summary", "error", "rouge1", "rouge2", "rougeL",
                             "rougeLsum"]
    assert rows[0]["summary"] == ROWS[0].summary and rows[0]["error"] == ""
    assert rows[0]["rouge1"] == "51.23" and rows[1]["rouge1"] == ""
    assert rows[1]["summary"] == "" and rows[1]["error"].startswith("broken.pdf: the PDF")
    assert rows[2]["id"] == "'=cmd.txt"  # not run as a formula
    assert rows[2]["summary"].startswith("<script>")


def test_csv_without_scores_has_no_rouge_columns():
    header = to_csv([ResultRow("a", "lead", "x")]).decode("utf-8-sig").splitlines()[0]
    assert header == "id,method,summary,error"


def test_jsonl_round_trip_exact():
    lines = to_jsonl(ROWS).decode("utf-8").splitlines()
    recs = [json.loads(line) for line in lines]
    assert [r["id"] for r in recs] == ["news/a.txt", "broken.pdf", "=cmd.txt"]
    assert recs[0]["summary"] == ROWS[0].summary and recs[0]["rouge"]["rouge1"] == 51.234
    assert recs[1]["summary"] is None and "damaged" in recs[1]["error"] and "rouge" not in recs[1]
    assert recs[2]["summary"] == ROWS[2].summary  # JSONL keeps everything exactly
    assert to_jsonl([]) == b""


def test_markdown_content_and_escaping():
    text = to_markdown(ROWS, title="Batch <1>").decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "# Batch &lt;1&gt;"
    assert "3 documents: 2 summarized, 1 failed." in text
    assert "## news/a.txt" in lines and "First sentence.  " in lines
    assert "Second sentence, with “quotes” é.  " in lines
    assert "**Error:** broken.pdf: the PDF is damaged. Re-export it" in lines
    assert "rouge1 51.23, rouge2 20.00, rougeL 40.50, rougeLsum 45.00" in lines
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_docx_content_read_back():
    data = to_docx(ROWS, title="Batch summaries")
    document = docx.Document(io.BytesIO(data))
    paras = [(p.style.name, p.text) for p in document.paragraphs]
    texts = [t for _, t in paras]
    assert paras[0] == ("Title", "Batch summaries")
    assert ("Heading 1", "news/a.txt") in paras and ("Heading 1", "broken.pdf") in paras
    assert "First sentence." in texts and "Second sentence, with “quotes” é." in texts
    assert "Error: broken.pdf: the PDF is damaged. Re-export it" in texts
    # the control character (illegal in XML) is dropped, the rest kept verbatim
    assert "<script>alert(1)</script> -5% @homebell" in texts
    assert "3 documents: 2 summarized, 1 failed." in texts


def test_from_record():
    row = ResultRow.from_record({"id": 3, "summary": "S.", "method": "lead", "error": None},
                                {"rouge1": 10.0})
    assert row == ResultRow("3", "lead", "S.", None, {"rouge1": 10.0}) and row.ok


def test_import_does_not_load_torch():
    code = ("import sys, summarizer.results.files\n"
            "print(','.join(m for m in ('torch', 'transformers', 'optimum', 'streamlit')"
            " if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
