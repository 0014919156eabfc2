"""Batch, second round: a batch never destroys its input, never mixes settings or keeps
summaries of text that changed, never runs twice on one output, and says what it kept when
the disk fills. Each test is one probe of docs/RELIABILITY.md."""
import csv
import errno
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from summarizer.batch.engine import (
    FIELDS, BatchConfig, BatchLock, OutputError, journal_path, read_records, run_batch,
    settings_key, text_digest)
from summarizer.results.csvfile import cell, csv_bytes, read_csv, uncell
from summarizer.types import Budget

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = [
    "The council approved the new budget on Monday.",
    "The budget raises school spending by a tenth.",
    "Teachers welcomed the rise in school spending.",
    "Critics said the council ignored the roads.",
    "Road repairs will wait until next spring.",
    "The mayor promised a review of the roads plan.",
]


def config(method="lead", sentences=2, **kw):
    return BatchConfig(method=method, budget=Budget(sentences=sentences), workers=1,
                       progress=False, **kw)


def write_jsonl(path, articles):
    path.write_text("".join(json.dumps({"id": i, "article": a}) + "\n" for i, a in articles.items()))


def articles(n):
    return {f"doc{i}": " ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(4)) + f" Item {i}."
            for i in range(n)}


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "summarizer", "batch", *map(str, args), "--no-progress"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=timeout)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- the paths, before any work ------------------------------------------------------
def test_out_equal_to_the_input_is_refused_and_the_input_kept(tmp_path):
    src = tmp_path / "same.jsonl"
    write_jsonl(src, articles(3))
    before = src.read_bytes()
    res = cli(src, "--out", src)
    assert res.returncode == 2
    assert res.stderr.startswith(f"error: {src}: is the input file (or a link to it)")
    assert "Choose another --out" in res.stderr
    os.link(src, tmp_path / "hard.jsonl")
    (tmp_path / "soft.jsonl").symlink_to(src)
    for other in ("hard.jsonl", "soft.jsonl"):
        with pytest.raises(OutputError, match="is the input file"):
            run_batch(src, tmp_path / other, config())
    assert src.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("case", ["folder", "missing-parent", "parent-is-a-file", "trailing-slash"])
def test_unwritable_out_is_refused_before_any_work(tmp_path, case):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, articles(3))
    if case == "folder":
        out = tmp_path / "results.jsonl"
        out.mkdir()
        expected = "is a folder. Give --out a file name"
    elif case == "missing-parent":
        out = tmp_path / "no" / "such" / "results.jsonl"
        expected = "does not exist. Create it first (mkdir -p"
    elif case == "parent-is-a-file":
        (tmp_path / "plain").write_text("x")
        out = tmp_path / "plain" / "results.jsonl"
        expected = "plain' is a file, not a folder. Choose --out in a folder"
    else:
        out = f"{tmp_path / 'new.jsonl'}/"  # Path() would drop the slash
        expected = "ends in a slash, so it names a folder"
    with mock.patch("summarizer.batch.engine.task_record", side_effect=AssertionError("work was done")):
        with pytest.raises(OutputError, match=re.escape(expected)):
            run_batch(src, out, config())
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.jsonl"] + {"folder": ["results.jsonl"], "parent-is-a-file": ["plain"]}.get(case, []))


def test_a_fifo_in_the_input_folder_is_an_error_record_not_a_hang(tmp_path):
    src, out = tmp_path / "docs", tmp_path / "out.jsonl"
    src.mkdir()
    (src / "a.txt").write_text(articles(1)["doc0"])
    os.mkfifo(src / "pipe.txt")  # opening it for reading would block for ever
    stats = run_batch(src, out, config())
    recs = read_records(out)
    assert (stats.summarized, stats.failed) == (1, 1)
    assert "not a regular file" in recs["pipe.txt"]["error"]
    assert recs["pipe.txt"]["input_sha256"] is None


def test_a_results_file_that_cannot_be_read_back_is_a_typed_error(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, articles(2))
    excel = tmp_path / "excel.csv"  # re-saved by Excel as "CSV (Comma delimited)": cp1252
    excel.write_bytes("id,summary,method,error\ndoc0,caf\xe9 \x80,lead,\n".encode("latin-1"))
    cut = tmp_path / "cut.parquet"
    run_batch(src, cut, config())
    cut.write_bytes(cut.read_bytes()[:40])
    for out in (excel, cut):
        with pytest.raises(OutputError) as err:
            run_batch(src, out, config())
        assert str(err.value).startswith(f"{out}: cannot be read back as results to resume from (")
        assert str(err.value).endswith("Move it away or delete it, then rerun: every document is done again")


def test_a_summary_longer_than_the_csv_cell_limit_resumes(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "big.csv"
    sentence = "The committee examined the long report in great detail. "
    write_jsonl(src, {"big": sentence * 3000})  # 171,000 characters, all kept at ratio 1
    run_batch(src, out, BatchConfig(method="lead", budget=Budget(ratio=1.0), workers=1, progress=False))
    assert len(read_records(out)["big"]["summary"]) > 131_072
    assert run_batch(src, out, BatchConfig(method="lead", budget=Budget(ratio=1.0), workers=1,
                                           progress=False)).skipped == 1


def test_stale_temp_cleanup_does_not_take_another_outputs_file(tmp_path):
    from summarizer.batch.engine import write_atomic

    other = tmp_path / ".r1.jsonl.tmp-999"  # a concurrent batch writing r1.jsonl
    other.write_text("in progress")
    write_atomic(tmp_path / "r[12].jsonl", [])
    assert other.read_text() == "in progress"


def test_read_only_folder_is_refused_before_any_work(tmp_path):
    """As root (CI) chmod does not stop writes, so the refusal of the lock file is simulated."""
    src = tmp_path / "in.jsonl"
    write_jsonl(src, articles(2))
    out = tmp_path / "results.jsonl"
    real_open = os.open

    def refuse(path, *a, **kw):
        if str(path).endswith(".lock"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *a, **kw)

    with mock.patch("summarizer.batch.engine.os.open", refuse), \
            mock.patch("summarizer.batch.engine.task_record", side_effect=AssertionError("work was done")):
        with pytest.raises(OutputError) as err:
            run_batch(src, out, config())
    assert str(err.value) == (f"{out}: cannot write in {str(tmp_path)!r} (Permission denied). "
                              "Choose --out in a folder you can write to")


# -- settings and articles that changed ----------------------------------------------
def test_other_settings_redo_every_record_and_say_so(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, articles(5))
    assert run_batch(src, out, config(sentences=1)).summarized == 5
    stats = run_batch(src, out, config(sentences=3))
    assert (stats.summarized, stats.skipped, stats.redone) == (5, 0, 5)
    recs = read_records(out)
    assert {r["settings"] for r in recs.values()} == {"method=lead budget=sentences=3 lang=auto:2"}
    assert all(r["summary"].count("\n") == 2 for r in recs.values())
    res = cli(src, "--out", out, "--method", "lead", "--sentences", "2", "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert ("5 documents: 5 summarized, 0 failed (5 redone: their article or the settings "
            "changed), 0 already done") in res.stderr
    res = cli(src, "--out", out, "--method", "lead", "--sentences", "2", "--workers", "1")
    assert "0 summarized, 0 failed, 5 already done" in res.stderr


def test_edited_articles_are_redone(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    arts = articles(6)
    write_jsonl(src, arts)
    run_batch(src, out, config(sentences=1))
    arts["doc2"] = "A storm closed the harbour overnight. " + arts["doc2"]
    arts["doc4"] = "Prices fell for a third month. " + arts["doc4"]
    write_jsonl(src, arts)
    stats = run_batch(src, out, config(sentences=1))
    assert (stats.summarized, stats.skipped, stats.redone) == (2, 4, 2)
    recs = read_records(out)
    assert recs["doc2"]["summary"] == "A storm closed the harbour overnight."
    assert recs["doc4"]["summary"] == "Prices fell for a third month."


def test_edited_files_in_a_folder_are_redone(tmp_path):
    src, out = tmp_path / "docs", tmp_path / "out.jsonl"
    src.mkdir()
    for i, a in articles(3).items():
        (src / f"{i}.txt").write_text(a)
    run_batch(src, out, config(sentences=1))
    (src / "doc1.txt").write_text("Fresh news leads now. " + SENTENCES[0])
    stats = run_batch(src, out, config(sentences=1))
    assert (stats.redone, stats.skipped) == (1, 2)
    assert read_records(out)["doc1.txt"]["summary"] == "Fresh news leads now."
    assert {r["lang"] for r in read_records(out).values()} == {"en"}  # the language read in


def test_settings_key_names_the_model_and_decoding_settings(tmp_path):
    from summarizer.abstractive.seq2seq import AbstractiveConfig

    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    a = AbstractiveConfig(model_dir=str(model), num_beams=2, threads=3)
    key = settings_key(BatchConfig(method="abstractive", abstractive=a))
    assert settings_key(BatchConfig(method="lead", budget=Budget(ratio=0.1234567))) == (
        "method=lead budget=ratio=0.1234567 lang=auto:2")
    assert settings_key(BatchConfig(method="ranker")).startswith(
        "method=ranker budget=auto lang=auto:2 model=")  # a retrained ranker redoes its records
    assert key.startswith("method=abstractive budget=auto lang=auto:2 model=")
    assert "num_beams=2" in key and "threads" not in key and "device" not in key
    (model / "config.json").write_text('{"changed": 1}')
    assert settings_key(BatchConfig(method="abstractive", abstractive=a)) != key


# -- one batch per output ------------------------------------------------------------
def test_a_second_batch_on_the_same_out_is_refused(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, articles(2))
    with BatchLock(out):
        with pytest.raises(OutputError) as err:
            run_batch(src, out, config())
    assert str(err.value) == (f"{out}: another batch (process {os.getpid()}) is writing this output "
                              "now. Wait for it to finish, or choose another --out")
    assert not out.exists()
    # a lock file left by a killed run (no process holds it) is taken over
    (tmp_path / ".out.jsonl.lock").write_text("999999\n")
    assert run_batch(src, out, config()).summarized == 2
    assert leftovers(tmp_path) == []


def test_two_batch_processes_on_one_out(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, articles(400))
    cmd = [sys.executable, "-m", "summarizer", "batch", str(src), "--out", str(out),
           "--method", "textrank", "--sentences", "2", "--workers", "1", "--no-progress"]
    first = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not journal_path(out).exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.01)
    second = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    if first.returncode == 0 and "already done" in second.stderr:
        pytest.skip("the first batch finished before the second started")
    assert second.returncode == 2
    assert f"error: {out}: another batch (process {first.pid}) is writing this output now" in second.stderr
    assert len(read_records(out)) == 400


# -- the disk fills ------------------------------------------------------------------
def test_disk_full_while_journaling_keeps_what_was_done(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, articles(6))
    from summarizer.batch import engine as batch

    real, calls = batch._write_all, []

    def fill(fd, data):
        calls.append(1)
        if len(calls) > 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    with mock.patch("summarizer.batch.engine._write_all", fill):
        with pytest.raises(OutputError) as err:
            run_batch(src, out, config())
    assert str(err.value) == (
        f"{journal_path(out)}: the disk is full: this run stopped after 4 documents, which are "
        "kept in this journal (a torn last line is dropped). Free space, then rerun the same "
        "command to resume")
    assert len(read_records(journal_path(out))) == 4 and not out.exists()
    stats = run_batch(src, out, config())
    assert (stats.skipped, stats.summarized) == (4, 2)


def test_disk_full_while_writing_out_keeps_the_journal_and_the_old_out(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.csv"
    write_jsonl(src, articles(3))
    run_batch(src, out, config(sentences=1))
    old = out.read_bytes()
    with mock.patch("summarizer.batch.engine._write_file",
                    side_effect=OSError(errno.ENOSPC, "No space left on device")):
        with pytest.raises(OutputError, match=r"could not write the results \(the disk is full\); "
                                              r"every record is kept in \.out\.csv\.journal"):
            run_batch(src, out, config(sentences=2))
    assert out.read_bytes() == old
    assert leftovers(tmp_path) == [".out.csv.journal"]
    stats = run_batch(src, out, config(sentences=2))
    assert (stats.skipped, stats.summarized) == (3, 0)
    assert all(r["summary"].count("\n") == 1 for r in read_records(out).values())


# -- CSV: one writer, neutralized, read back exactly ---------------------------------
def test_cells_that_look_like_formulas_are_neutralized_and_read_back():
    values = ["=1+2", "+x", "-y", "@z", "\tt", "\rr", "'q", "plain", "", None]
    assert [cell(v) for v in values] == [
        "'=1+2", "'+x", "'-y", "'@z", "'\tt", "'\rr", "''q", "plain", "", ""]
    assert [uncell(cell(v)) for v in values[:-2]] == values[:-2]
    assert csv_bytes(["a"], [["=A1"]]) == "\ufeffa\r\n'=A1\r\n".encode("utf-8")


def test_batch_csv_from_the_command_line_is_safe_and_resumes(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.csv"
    ids = ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tTab", "'quoted"]
    src.write_text("".join(json.dumps({"id": i, "article": f"=cmd|' /C calc'!A0 {n}. Then more text."})
                           + "\n" for n, i in enumerate(ids)))
    res = cli(src, "--out", out, "--method", "lead", "--sentences", "1", "--workers", "1")
    assert res.returncode == 0, res.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(FIELDS)
    assert [r[0] for r in rows[1:]] == ["'" + i for i in ids]
    assert all(r[1].startswith("'=cmd") for r in rows[1:])
    assert [r["id"] for r in read_csv(out)] == ids
    again = cli(src, "--out", out, "--method", "lead", "--sentences", "1", "--workers", "1")
    assert "0 summarized, 0 failed, 6 already done" in again.stderr


# -- the property: interrupted and changed runs end as a clean run does ----------------
run_settings = st.tuples(st.sampled_from(["lead", "textrank"]), st.integers(1, 3))
step = st.fixed_dictionaries({
    "settings": run_settings,
    "interrupt_after": st.one_of(st.none(), st.integers(0, 6)),
    "edit": st.sets(st.integers(0, 5), max_size=3),  # indexes of articles to rewrite
    "drop_last": st.booleans(),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 6), steps=st.lists(step, min_size=1, max_size=3), final=run_settings,
       suffix=st.sampled_from([".jsonl", ".csv", ".parquet"]))
def test_interrupted_and_changed_reruns_give_exactly_a_clean_runs_records(n, steps, final, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src, out = tmp / "in.jsonl", tmp / f"out{suffix}"
        arts = articles(n)
        from summarizer.batch import engine as batch

        real_work = batch._work
        for k, s in enumerate(steps):
            for i in s["edit"]:
                if f"doc{i}" in arts:
                    arts[f"doc{i}"] = f"Edit {k} of document {i} leads here. " + arts[f"doc{i}"]
            if s["drop_last"] and len(arts) > 1:
                arts.pop(sorted(arts)[-1])
            write_jsonl(src, arts)
            calls = []

            def work(job, limit=s["interrupt_after"]):
                if limit is not None and len(calls) >= limit:
                    raise KeyboardInterrupt
                calls.append(1)
                return real_work(job)

            with mock.patch("summarizer.batch.engine._work", work):
                try:
                    run_batch(src, out, config(*s["settings"]))
                except KeyboardInterrupt:
                    pass
        # the oracle: a record is reused when it is a summary of this article with these settings
        earlier = {**read_records(out), **read_records(journal_path(out))}
        want_settings = settings_key(config(*final))
        reusable = sum(1 for i, a in arts.items() if (r := earlier.get(i)) and r.get("error") is None
                       and r.get("settings") == want_settings and r.get("input_sha256") == text_digest(a))
        stats = run_batch(src, out, config(*final))
        assert stats.skipped == reusable
        clean = tmp / f"clean{suffix}"
        run_batch(src, clean, config(*final))
        got, want = read_records(out), read_records(clean)
        assert list(got) == list(want) == list(arts)
        assert got == want
        assert stats.total == len(arts) and stats.skipped + stats.summarized + stats.failed == len(arts)
        assert sorted(p.name for p in tmp.iterdir()) == sorted(["in.jsonl", out.name, clean.name])
