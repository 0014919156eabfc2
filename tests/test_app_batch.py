"""The Batch page and the batch records behind it: progress inside a long document, the
faithfulness flags of abstractive summaries (records, OUT files of the command line, the
downloads), finished work kept when a run is repeated, and runs saved in the history and
reopened from ``?run=``."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from summarizer.batch.engine import (FIELDS, FLAG_FIELDS, BatchConfig, fields_for, read_records,
                                     task_record, write_atomic)
from summarizer.batch.progress import PartProgress, PartTracker
from summarizer.evaluation.faithfulness import check_faithfulness
from summarizer.results.files import ResultRow, to_csv, to_docx, to_jsonl, to_markdown
from summarizer.results.history import History, HistoryConfig
from summarizer.types import Budget, Summary
from tests.files import zip_bytes
from tests.tiny_models import CORPUS
from tests.apptest import open_page
from ui.batch import duration, overall_text
from ui.settings import AppSettings

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
ARTICLE = ("The council approved the new budget on Monday. The budget raises school spending. "
           "Teachers welcomed the school spending rise. Critics said the council ignored roads.")
LONG = " ".join(CORPUS * 2)  # longer than the tiny BART reads at once: summarized in parts
SOURCE = "Brown said 10 people came to the meeting in Leeds on Monday."
SUMMARY = "Gordon Brown said 3.5% of 10 people came to Leeds."


def start(page: str = "Batch", settings: AppSettings = None, run_id: str = None) -> AppTest:
    """A new session (a new tab) on ``page``; ``run_id`` puts ``?run=`` in its URL."""
    return open_page(page, settings, run_id=run_id, timeout=120)


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory):
    from transformers import AutoModelForSeq2SeqLM

    from export import ExportConfig, export_onnx
    from tests.tiny_models import make_tiny_seq2seq, sharpen

    root = tmp_path_factory.mktemp("batch-bart")
    # sharpened weights: clear next-token choices, so the summaries have words
    ckpt = sharpen(make_tiny_seq2seq("bart", root / "ckpt"), AutoModelForSeq2SeqLM)
    return export_onnx(str(ckpt), out=root / "onnx", config=ExportConfig(validate=False)).folder


# -- progress inside a document, in words --------------------------------------------
class Step:  # what summarizer.abstractive.seq2seq.Progress carries that the tracker reads
    def __init__(self, round=0, part=0, last=0, parts=0, text=""):
        self.round, self.part, self.last, self.parts, self.text = round, part, last, parts, text


def test_part_tracker_turns_summarizer_events_into_steps():
    steps = []
    track = PartTracker(steps.append)
    # 3 parts written one by one (the 2nd streams its text token by token), then combined
    for event in [Step(1, 1, 1, 3), Step(1, 2, 2, 3), Step(1, 2, 2, 3, "a"),
                  Step(1, 2, 2, 3, "a b"), Step(1, 3, 3, 3), Step(1), Step(1, text="x")]:
        track(event)
    assert [s.describe() for s in steps] == [
        "writing part 1 of 3", "writing part 2 of 3", "writing part 3 of 3",
        "combining the 3 parts"]
    # 3 parts and the summary that combines them: 4 steps of work known
    assert [s.fraction for s in steps] == [0.0, 0.25, 0.5, 0.75]


def test_part_tracker_batches_second_rounds_and_one_pass():
    steps = []
    track = PartTracker(steps.append)
    for event in [Step(1, 1, 8, 10), Step(1, 9, 10, 10), Step(2, 1, 2, 2), Step(2)]:
        track(event)
    assert [s.describe() for s in steps] == [
        "writing parts 1-8 of 10", "writing parts 9-10 of 10", "writing parts 1-2 of 2 (round 2)",
        "combining the 2 parts"]
    # known work: 10 parts + summary = 11; then a second round of 2: 13
    assert [s.fraction for s in steps] == [0.0, 8 / 11, 10 / 13, 12 / 13]
    one = []
    PartTracker(one.append)(Step())
    assert one == [PartProgress(0, 0, 0, 0, 0, 0.0)] and one[0].describe() == "writing the summary"


def test_overall_progress_text_with_estimate():
    assert duration(8.25) == "8.2 s" and duration(125) == "2 min 05 s"
    assert duration(3720) == "1 h 02 min"
    assert overall_text(0, 4, 0.0) == "0 / 4 files · 0.0 s elapsed"
    # 1 file and half of the next in 6 s: 4 s a file, 2.5 files left
    assert overall_text(1, 4, 6.0, failed=1, current=0.5) == (
        "1 / 4 files · 1 failed · 6.0 s elapsed · about 10.0 s left")
    assert overall_text(4, 4, 90.0) == "4 / 4 files · 1 min 30 s elapsed · done"


def test_task_record_reports_the_parts_of_a_long_document(tiny_bart):
    from summarizer.abstractive.seq2seq import AbstractiveConfig

    config = BatchConfig(method="abstractive", budget=Budget(sentences=1), workers=1,
                         abstractive=AbstractiveConfig(model_dir=str(tiny_bart),
                                                     long_documents="map-reduce"))
    task = ("long.txt", None, LONG, None)
    steps = []
    record = task_record(task, config, on_part=steps.append)
    assert record == task_record(task, config)  # reporting changes nothing
    parts = steps[0].parts
    assert parts > 1 and steps[0].describe() == f"writing parts 1-{min(8, parts)} of {parts}"
    assert steps[-1].describe() == f"combining the {parts} parts"
    assert steps[-1].fraction == parts / (parts + 1)


# -- faithfulness flags in records and files -----------------------------------------
class FakeAbstractive:
    """Writes SUMMARY for any document, as an abstractive summarizer would (new text)."""

    def __call__(self, document, budget, on_progress=None):
        return Summary("abstractive", document, (), budget, generated=SUMMARY)


def test_abstractive_records_carry_hand_checked_flags():
    config = BatchConfig(method="abstractive", workers=1)
    record = task_record(("m.txt", None, SOURCE, None), config, summarizer=FakeAbstractive())
    # 3.5% is not in the source (10 is); "Gordon" is not, Brown and Leeds are
    assert (record["faithful"], record["unsupported_numbers"], record["unsupported_names"]) == (
        False, ["3.5%"], ["Gordon Brown"])
    extractive = task_record(("m.txt", None, SOURCE, None), BatchConfig(method="lead", workers=1))
    assert set(extractive) == {"id", "summary", "method", "error", "lang"}  # no flags
    assert fields_for(config) == FIELDS + ("faithful", "unsupported_numbers", "unsupported_names")
    assert fields_for(BatchConfig(method="lead")) == FIELDS


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_flags_survive_every_output_format(tmp_path, suffix):
    records = [
        {"id": "a", "summary": SUMMARY, "method": "abstractive", "error": None, "lang": "en",
         "settings": "s", "input_sha256": "d", "faithful": False,
         "unsupported_numbers": ["3.5%", "$10bn"], "unsupported_names": ["Gordon Brown"]},
        {"id": "b", "summary": "Fine.", "method": "abstractive", "error": None, "lang": "en",
         "settings": "s", "input_sha256": "e", "faithful": True, "unsupported_numbers": [],
         "unsupported_names": []},
        {"id": "c", "summary": None, "method": "abstractive", "error": "c: broken", "lang": None,
         "settings": "s", "input_sha256": None, "faithful": None, "unsupported_numbers": None,
         "unsupported_names": None},
    ]
    out = tmp_path / f"out{suffix}"
    write_atomic(out, records, FIELDS + FLAG_FIELDS)
    back = read_records(out)
    assert [back[r["id"]] for r in records] == records
    if suffix == ".csv":
        with out.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0][-3:] == ["faithful", "unsupported_numbers", "unsupported_names"]
        assert rows[1][-3:] == ["false", "3.5%; $10bn", "Gordon Brown"]
        assert rows[2][-3:] == ["true", "", ""] and rows[3][-3:] == ["", "", ""]


def test_files_written_before_the_flags_read_as_not_checked(tmp_path):
    old = tmp_path / "old.csv"
    old.write_text("id,summary,method,error,lang,settings,input_sha256\r\n"
                   "a,Text.,abstractive,,en,s,d\r\n", encoding="utf-8-sig")
    record = read_records(old)["a"]
    assert (record["faithful"], record["unsupported_numbers"]) == (None, None)
    row = ResultRow.from_record(record)
    assert not row.checked and row.flags_line() is None
    assert b"faithful" not in to_csv([row])  # no flag columns when nothing was checked


def test_downloads_list_the_flags():
    rows = [ResultRow("a.txt", "abstractive", SUMMARY, faithful=False,
                      unsupported_numbers=("3.5%",), unsupported_names=("Gordon Brown",)),
            ResultRow("b.txt", "abstractive", "Fine.", faithful=True),
            ResultRow("c.txt", "abstractive", error="c.txt: broken")]
    table = list(csv.DictReader(io.StringIO(to_csv(rows).decode("utf-8-sig"))))
    assert [(r["faithful"], r["unsupported_numbers"], r["unsupported_names"]) for r in table] == [
        ("false", "3.5%", "Gordon Brown"), ("true", "", ""), ("", "", "")]
    lines = [json.loads(line) for line in to_jsonl(rows).decode().splitlines()]
    assert [(r["faithful"], r["unsupported_names"]) for r in lines] == [
        (False, ["Gordon Brown"]), (True, []), (None, None)]
    markdown = to_markdown(rows, title="T").decode()
    assert "3 documents: 2 summarized, 1 failed; 1 possibly unfaithful" in markdown
    assert "*Possibly unfaithful, not in the document: numbers 3.5%; names Gordon Brown.*" in markdown
    assert "*Faithfulness: every number and name is in the document.*" in markdown
    import docx

    texts = [p.text for p in docx.Document(io.BytesIO(to_docx(rows))).paragraphs]
    assert "Possibly unfaithful, not in the document: numbers 3.5%; names Gordon Brown." in texts


def test_batch_command_writes_the_flags_of_abstractive_summaries(tiny_bart, tmp_path):
    src = tmp_path / "in.jsonl"
    articles = {"a": CORPUS[0], "b": CORPUS[5] + " " + CORPUS[2]}
    src.write_text("".join(json.dumps({"id": i, "article": a}) + "\n" for i, a in articles.items()))
    for out in (tmp_path / "out.csv", tmp_path / "out.jsonl"):
        res = subprocess.run([sys.executable, "-m", "summarizer", "batch", str(src), "--out",
                              str(out), "--method", "abstractive", "--model", str(tiny_bart),
                              "--words", "8", "--num-beams", "1", "--no-progress"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        records = read_records(out)
        for rid, article in articles.items():  # the same screen as the Summarize page's
            # (a CSV reads an empty summary back as None)
            report = check_faithfulness(records[rid]["summary"] or "", article, lang="en")
            assert (records[rid]["faithful"], records[rid]["unsupported_numbers"],
                    records[rid]["unsupported_names"]) == (
                report.ok, list(report.numbers), list(report.names))
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as f:
        assert next(csv.reader(f)) == list(FIELDS + FLAG_FIELDS)


# -- the page ------------------------------------------------------------------------
def test_abstractive_batch_shows_flags_and_downloads_them(tiny_bart):
    at = start(settings=AppSettings(abstractive_dir=str(tiny_bart)))
    assert at.selectbox(key="batch.method").options[:2] == ["ranker", "abstractive"]
    at.file_uploader(key="batch.files").upload("docs.zip", zip_bytes(
        [("long.txt", LONG), ("short.txt", CORPUS[5]), ("bad.pdf", b"%PDF-1.4 nonsense")]))
    at.selectbox(key="batch.method").set_value("abstractive")
    at.radio(key="batch.kind").set_value("words").run()
    at.number_input(key="batch.words").set_value(8)
    at.button(key="batch.run").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["file"]) == ["docs/bad.pdf", "docs/long.txt", "docs/short.txt"]
    assert list(table.columns[:5]) == ["file", "status", "summary", "faithful",
                                       "not in the document"]
    outcome = at.session_state["batch.outcome"]
    for row, text in zip(outcome.rows[1:], [LONG, CORPUS[5]]):
        report = check_faithfulness(row.summary, text, lang="en")
        assert (row.faithful, row.unsupported_numbers, row.unsupported_names) == (
            report.ok, report.numbers, report.names)
    assert table["faithful"][0] is None or table["faithful"].isna()[0]  # the failed file
    labels = [m.label for m in at.metric]
    assert labels == ["Summarized", "Failed", "Time", "Possibly unfaithful"]
    assert at.metric[3].value == str(sum(r.faithful is False for r in outcome.rows))
    assert [b.label for b in at.get("download_button")] == ["CSV", "JSONL", "Markdown", "DOCX"]
    progress = [p for p in at.get("progress")]
    assert progress and progress[0].proto.text.startswith("3 / 3 files · 1 failed")


def test_finished_files_are_not_summarized_again(monkeypatch):
    import ui.batch as page

    at = start()
    at.file_uploader(key="batch.files").set_value([
        ("a.txt", ARTICLE.encode(), "text/plain"),
        ("b.txt", b"Dogs bark at night. Cats sleep all day. Birds sing.", "text/plain")])
    at.selectbox(key="batch.method").set_value("lead")
    at.run()
    at.button(key="batch.run").click().run()
    first = [r.summary for r in at.session_state["batch.outcome"].rows]
    calls = []
    monkeypatch.setattr(page, "task_record", lambda *a, **k: calls.append(a) or {})
    at.button(key="batch.run").click().run()  # same files, same settings
    assert not at.exception and calls == []
    assert [r.summary for r in at.session_state["batch.outcome"].rows] == first
    at.radio(key="batch.kind").set_value("sentences").run()  # other settings: done anew
    monkeypatch.undo()
    at.button(key="batch.run").click().run()
    assert len(at.session_state["batch.outcome"].rows) == 2


def test_a_stopped_run_shows_what_it_finished():
    from ui.batch import BatchOutcome

    at = start()
    at.session_state["batch.outcome"] = BatchOutcome(
        [ResultRow("a.txt", "lead", "One.")], seconds=1.0, total=3)
    at.run()
    assert at.warning[0].value.startswith("Stopped after 1 of 3 files. Press Summarize all")
    assert list(at.dataframe[0].value["file"]) == ["a.txt"]


def test_batch_run_is_saved_and_reopens_from_its_url():
    files = [("a.txt", ARTICLE.encode()), ("b.txt", b"Dogs bark at night. Cats sleep all day.")]
    at = start()
    at.file_uploader(key="batch.files").set_value([(n, d, "text/plain") for n, d in files])
    at.selectbox(key="batch.method").set_value("lead")
    at.radio(key="batch.kind").set_value("sentences").run()
    at.number_input(key="batch.sentences").set_value(1)
    at.button(key="batch.run").click().run()
    store = History(HistoryConfig.from_env())
    [row] = store.list()
    run = store.get(row.id)
    assert (run.kind, run.name, run.source, run.method) == ("batch", "a.txt, b.txt", "uploads", "lead")
    assert run.settings == {"method": "lead", "budget": "sentences=1", "model": None}
    # names and hashes, not the texts
    assert run.inputs == {"files": [{"id": n, "sha256": hashlib.sha256(d).hexdigest()}
                                    for n, d in files]}
    assert [r["summary"] for r in run.outputs["records"]] == [
        "The council approved the new budget on Monday.", "Dogs bark at night."]
    assert at.query_params["run"] == str(row.id)
    table = at.dataframe[0].value

    again = start(run_id=str(row.id))  # a reload: a new session, the same URL
    assert any(f"Run {row.id} from the history" in c.value for c in again.caption)
    assert again.selectbox(key="batch.method").value == "lead"
    assert again.radio(key="batch.kind").value == "sentences"
    assert again.dataframe[0].value.equals(table)
    assert [m.value for m in again.metric][:2] == ["2", "0"]
    assert len(store.list()) == 1  # reopening saves nothing new
