"""Input files with a UTF-8 byte-order mark; pairs whose article or summary is not text;
and every limit flag that an error message names exists on the command line."""
import argparse
import csv
import gzip
import json
import re
from pathlib import Path

import pytest

from summarizer.documents import loaders
from summarizer.__main__ import build_parser, main
from summarizer.batch.engine import BatchConfig, read_records, run_batch
from summarizer.evaluation.datasets import iter_jsonl, load_pairs, load_split
from summarizer.errors import DocumentError, FileTooLargeError
from summarizer.evaluation.evaluate import evaluate
from summarizer.documents.loaders import LoaderConfig, document_from_text, load_bytes, load_document
from summarizer.evaluation.suite import run_suite
from summarizer.types import Budget

ROOT = Path(__file__).resolve().parents[1]
BOM = b"\xef\xbb\xbf"
ARTICLE = ("The council approved the budget on Monday. Critics said it was too small, "
           "and late. The mayor promised more money next year.")
SUMMARY = "The council approved the budget."
RECORDS = [
    {"id": "a", "article": ARTICLE, "summary": SUMMARY},
    {"id": "b", "article": "Rain fell all day in the city. Roads flooded.", "summary": "Rain fell."},
]
FIX = "Give that line an article and a summary, or remove it"


def _jsonl(path: Path, lines, *, bom: bool = False) -> Path:
    data = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    raw = (BOM if bom else b"") + data.encode("utf-8")
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def _csv(path: Path, rows, *, bom: bool = False) -> Path:
    """Written as Excel writes "CSV UTF-8": CRLF line ends, quoted cells, BOM first."""
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return path


# -- byte-order marks ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["pairs.jsonl", "pairs.jsonl.gz"])
def test_bom_jsonl_reads_like_without(tmp_path, name):
    with_bom = _jsonl(tmp_path / f"bom-{name}", RECORDS, bom=True)
    assert with_bom.read_bytes().startswith(BOM) or name.endswith(".gz")
    assert [rec for _, rec in iter_jsonl(with_bom)] == RECORDS
    pairs = load_pairs(with_bom)
    assert [(p.id, p.article, p.summary) for p in pairs] == [
        ("a", ARTICLE, SUMMARY), ("b", RECORDS[1]["article"], "Rain fell.")]


def test_bom_csv_pairs_evaluate_to_the_same_rouge(tmp_path):
    rows = [["id", "article", "summary"]] + [[r["id"], r["article"], r["summary"]] for r in RECORDS]
    plain = load_pairs(_csv(tmp_path / "plain.csv", rows))
    excel = load_pairs(_csv(tmp_path / "excel.csv", rows, bom=True))
    assert (tmp_path / "excel.csv").read_bytes().startswith(BOM)
    assert excel == plain and [p.id for p in excel] == ["a", "b"]
    scores = [evaluate(p, ["lead"], Budget(sentences=1), workers=1).results[0].scores
              for p in (plain, excel)]
    assert scores[0] == scores[1]
    # a: lead-1 has 7 tokens, all 5 of the reference's among them: F1 = 2*(5/7)*1/(5/7+1) = 5/6;
    # b: lead-1 "Rain fell all day in the city." against "Rain fell.": F1 = 2*(2/7)/(2/7+1) = 4/9
    assert scores[1]["rouge1"].mean == pytest.approx(100 * (5 / 6 + 4 / 9) / 2)


def test_bom_csv_through_the_command_line(tmp_path, capsys):
    rows = [["id", "article", "summary"], ["a", ARTICLE, SUMMARY]]
    args = ["--split", "all", "--methods", "lead", "--sentences", "1", "--workers", "1"]
    assert main(["evaluate", "--data", str(_csv(tmp_path / "p.csv", rows)), *args]) == 0
    plain = capsys.readouterr().out
    assert main(["evaluate", "--data", str(_csv(tmp_path / "b.csv", rows, bom=True)), *args]) == 0
    assert capsys.readouterr().out == plain and " 83.33 " in plain and "documents: 1" in plain


def test_csv_cells_longer_than_the_csv_module_default(tmp_path):
    long = "Word after word. " * 10_000  # 170,000 characters; csv's default cell limit is 131,072
    path = _csv(tmp_path / "long.csv", [["id", "article", "summary"], ["x", long, "Word."]], bom=True)
    assert load_pairs(path)[0].article == long


@pytest.mark.parametrize("name", ["bom.txt", "bom.md"])
def test_bom_text_file_has_no_feff(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BOM + ARTICLE.encode("utf-8"))
    doc = load_document(path)
    assert doc.text == ARTICLE and "\ufeff" not in doc.text
    assert load_bytes(BOM + ARTICLE.encode("utf-8"), name).text == ARTICLE
    assert document_from_text("\ufeff" + ARTICLE).text == ARTICLE


def test_bom_batch_jsonl(tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", [{"id": "a", "article": ARTICLE}], bom=True)
    out = tmp_path / "out.jsonl"
    run_batch(src, out, BatchConfig(method="lead", budget=Budget(sentences=1), workers=1,
                                    progress=False))
    records = read_records(out)
    assert list(records) == ["a"]
    assert records["a"]["error"] is None
    assert records["a"]["summary"] == "The council approved the budget on Monday."


def test_bom_suite_set(tmp_path):
    root = tmp_path / "data"
    path = root / "multidomain/samsum/validation.jsonl.gz"
    path.parent.mkdir(parents=True)
    _jsonl(path, [{"id": "d1", "article": "Ann: Cake tonight?\nBen: Sure", "summary": "Ann: Cake tonight?"}],
           bom=True)
    report = run_suite(root, ["lead"], sets=["samsum"])
    assert report.results[0].report.results[0].scores["rouge1"].mean == pytest.approx(100.0)


# -- pairs whose article or summary is not text --------------------------------------
BAD_LINES = [
    ('{"id": "x", "article": 42, "summary": "S."}', "line 3: 'article' is a number (42), not text"),
    ('{"id": "x", "article": null, "summary": "S."}', "line 3: 'article' is null, not text"),
    ('{"id": "x", "article": "A b.", "summary": NaN}', "line 3: 'summary' is NaN, not text"),
    ('{"id": "x", "article": ["A", "b."], "summary": "S."}', "line 3: 'article' is a list, not text"),
    ('{"id": "x", "article": "A b.", "summary": {"t": 1}}', "line 3: 'summary' is an object, not text"),
    ('{"id": "x", "article": "A b.", "summary": true}', "line 3: 'summary' is true, not text"),
    ('{"id": "x", "summary": "S."}', "line 3 has no 'article' field"),
    ('{"id": "x", "article": "A b.", "summary": "  "}', "line 3: 'summary' is empty"),
    ('{"id": "x", "article": "", "summary": "S."}', "line 3: 'article' is empty"),
]


@pytest.mark.parametrize("line,problem", BAD_LINES, ids=[p.split(": ", 1)[-1] for _, p in BAD_LINES])
def test_bad_pair_stops_evaluation_naming_its_line(tmp_path, line, problem):
    path = _jsonl(tmp_path / "pairs.jsonl", [RECORDS[0], "", line, RECORDS[1]])
    with pytest.raises(DocumentError) as info:
        load_split(path, "all")
    assert (info.value.source, info.value.problem) == (str(path), problem)
    assert info.value.fix.startswith(FIX) and "would mislead" in info.value.fix


@pytest.mark.parametrize("line,problem", [
    ('"article summary"', "line 2 is a string ('article summary'), not a JSON object"),
    ('["article", "summary"]', "line 2 is a list, not a JSON object"),
    ("7", "line 2 is a number (7), not a JSON object"),
])
def test_line_that_is_not_an_object(tmp_path, line, problem):
    path = _jsonl(tmp_path / "pairs.jsonl", [RECORDS[0], line])
    with pytest.raises(DocumentError) as info:
        load_pairs(path)
    assert info.value.problem == problem
    assert info.value.fix == 'Write one {"id", "article", "summary"} object per line'


def test_empty_text_is_kept_by_load_pairs_for_training(tmp_path):
    """Training readers drop empty pairs themselves; only scoring refuses them."""
    path = _jsonl(tmp_path / "pairs.jsonl", [RECORDS[0], {"id": "e", "article": "A b.", "summary": ""}])
    assert [p.summary for p in load_pairs(path)] == [SUMMARY, ""]
    with pytest.raises(DocumentError, match="line 2: 'summary' is empty"):
        load_pairs(path, require_text=True)


@pytest.mark.parametrize("rows,problem", [
    ([["id", "article", "summary"], ["a", ARTICLE, SUMMARY], ["b", ARTICLE, ""]],
     "line 3: 'summary' is empty"),
    ([["id", "article", "summary"], ["a", "", SUMMARY]], "line 2: 'article' is empty"),
    ([["id", "article", "summary"], ["a", ARTICLE]],
     "line 2 has no 'summary' cell (the row has fewer cells than the header)"),
    # a cell holding a line break: the next row starts on line 4
    ([["id", "article", "summary"], ["a", "Line one.\nLine two.", "S."], ["b", ARTICLE, " "]],
     "line 4: 'summary' is empty"),
])
def test_bad_csv_cells_name_the_line(tmp_path, rows, problem):
    path = _csv(tmp_path / "pairs.csv", rows, bom=True)
    with pytest.raises(DocumentError) as info:
        load_split(path, "all")
    assert info.value.problem == problem and info.value.fix.startswith(FIX)


def test_csv_without_the_columns(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_bytes(BOM + b"id;article;summary\r\na;A b.;S.\r\n")
    with pytest.raises(DocumentError) as info:
        load_pairs(path)
    assert info.value.problem == "has no 'article' or 'summary' column (its first line names 'id;article;summary')"
    assert "separate cells with ';'" in info.value.fix


@pytest.mark.parametrize("name,fix", [("pairs.jsonl", "Save it as UTF-8"),
                                      ("pairs.csv", "Save it as UTF-8 (in Excel: Save As > CSV UTF-8)")])
def test_bytes_that_are_not_utf8_name_their_line(tmp_path, name, fix):
    path = tmp_path / name
    head = b"id,article,summary\n" if name.endswith(".csv") else json.dumps(RECORDS[0]).encode() + b"\n"
    path.write_bytes(head + "caf\xe9,x,y\n".encode("latin-1"))
    with pytest.raises(DocumentError) as info:
        load_pairs(path)
    assert info.value.problem.startswith("line 2 is not UTF-8 text") and info.value.fix == fix


def test_empty_split_is_an_error_not_an_empty_table(tmp_path):
    path = _jsonl(tmp_path / "pairs.jsonl", [RECORDS[0]])
    assert [p.id for p in load_split(path, "test")] == ["a"]
    with pytest.raises(DocumentError, match="the 'validation' split holds no pairs"):
        load_split(path, "validation")


def test_empty_suite_set_is_an_error(tmp_path):
    path = tmp_path / "multidomain/samsum/validation.jsonl.gz"
    path.parent.mkdir(parents=True)
    _jsonl(path, [])
    with pytest.raises(DocumentError, match="the 'samsum' set holds no pairs"):
        run_suite(tmp_path, ["lead"], sets=["samsum"])


@pytest.mark.parametrize("line,problem", [(BAD_LINES[0][0], "line 2: 'article' is a number (42), not text"),
                                          ('"just a string"', "line 2 is a string")])
def test_evaluate_command_exits_2_naming_file_and_line(tmp_path, capsys, line, problem):
    path = _jsonl(tmp_path / "pairs.jsonl", [RECORDS[0], line])
    code = main(["evaluate", "--data", str(path), "--split", "all", "--methods", "lead", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {path}: {problem}") and "Traceback" not in err


# -- limit flags that messages name --------------------------------------------------
LONG = "Word after word here. " * 10  # 220 characters


def test_max_chars_flag_changes_the_limit(tmp_path, capsys):
    doc = tmp_path / "doc.txt"
    doc.write_text(LONG)
    assert main(["summarize", str(doc), "--method", "lead", "--max-chars", "100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {doc}: the text is 219 characters, over the max_chars limit of 100")
    assert "--max-chars N on the command line" in err
    assert main(["summarize", str(doc), "--method", "lead", "--sentences", "1", "--max-chars", "219"]) == 0
    assert capsys.readouterr().out == "Word after word here.\n"
    assert main(["summarize", str(doc), "--max-chars", "0"]) == 2
    assert capsys.readouterr().err == "error: --max-chars must be at least 1, got 0\n"


def test_batch_record_over_max_chars_names_the_flag(tmp_path, capsys):
    src = _jsonl(tmp_path / "in.jsonl", [{"id": "big", "article": LONG}, {"id": "ok", "article": "Short one."}])
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(src), "--out", str(out), "--method", "lead", "--workers", "1",
                 "--no-progress", "--max-chars", "100"]) == 0
    records = read_records(out)
    assert records["ok"]["summary"] == "Short one." and records["big"]["summary"] is None
    assert "over the max_chars limit of 100" in records["big"]["error"]
    assert "--max-chars N on the command line" in records["big"]["error"]


def _limit_messages(tmp_path):
    """The messages of every limit a loader enforces."""
    docx = loaders.zipfile.ZipFile(tmp_path / "bomb.docx", "w", loaders.zipfile.ZIP_DEFLATED)
    docx.writestr("word/document.xml", b"<w/>")
    docx.writestr("word/media/big.bin", bytes(100_000))  # about 100 bytes packed
    docx.close()
    cases = [
        lambda: document_from_text(LONG, source="long.txt", config=LoaderConfig(max_chars=10)),
        lambda: load_bytes(b"x" * 11, "big.txt", config=LoaderConfig(max_bytes=10)),
        lambda: load_document(tmp_path / "bomb.docx", config=LoaderConfig(max_bytes=1_000)),
    ]
    for case in cases:
        with pytest.raises(FileTooLargeError) as info:
            case()
        yield str(info.value)


def test_every_flag_and_setting_a_limit_message_names_exists(tmp_path):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    settings_page = (ROOT / "ui" / "settings.py").read_text(encoding="utf-8")
    messages = list(_limit_messages(tmp_path))
    assert len(messages) == 3
    for message in messages:
        flags = re.findall(r"(?<![\w-])--[a-z][a-z-]+", message)
        pages = re.findall(r'"([^"]+)" on the app\'s Settings page', message)
        assert flags and pages, message
        for command in ("summarize", "batch", "evaluate"):
            options = sub.choices[command]._option_string_actions
            assert all(flag in options for flag in flags), (command, message)
        assert all(f'"{page}"' in settings_page for page in pages), message
