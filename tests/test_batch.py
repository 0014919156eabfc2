"""Batch: records, per-file errors, resume after interruption, atomic output."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from summarizer.batch.engine import (
    BatchConfig, journal_path, read_records, run_batch, settings_key, task_digest)
from summarizer.types import Budget

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = (
    "The council approved the new budget on Monday. The budget raises school spending. "
    "Teachers welcomed the school spending rise. Critics said the council ignored roads."
)
CONFIG = BatchConfig(method="lead", budget=Budget(sentences=2), workers=1, progress=False)


def _folder(tmp_path):
    src = tmp_path / "docs"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text(ARTICLE)
    (src / "sub" / "b.md").write_text("# Title\n\n" + ARTICLE)
    (src / "bad.txt").write_bytes(b"\x00\x01\x02\x03" * 50)
    (src / "empty.txt").write_text("   \n")
    (src / "skip.xyz").write_text("not a supported type")
    return src


def test_folder_batch_records_and_errors(tmp_path):
    src = _folder(tmp_path)
    out = tmp_path / "out.jsonl"
    stats = run_batch(src, out, CONFIG)
    recs = [json.loads(l) for l in out.read_text().splitlines()]
    assert [r["id"] for r in recs] == ["a.txt", "bad.txt", "empty.txt", "sub/b.md"]
    by_id = {r["id"]: r for r in recs}
    assert by_id["a.txt"]["summary"] == (
        "The council approved the new budget on Monday.\nThe budget raises school spending.")
    assert by_id["a.txt"]["error"] is None and by_id["a.txt"]["method"] == "lead"
    assert by_id["sub/b.md"]["summary"].splitlines()[0] == "Title"
    assert "binary" in by_id["bad.txt"]["error"] and "bad.txt" in by_id["bad.txt"]["error"]
    assert by_id["empty.txt"]["summary"] is None and "empty.txt" in by_id["empty.txt"]["error"]
    assert (stats.total, stats.summarized, stats.failed, stats.skipped) == (4, 2, 2, 0)
    assert not journal_path(out).exists()


def test_jsonl_input_csv_output_and_bad_records(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "x1", "article": ARTICLE}) + "\n"
        + "{not json\n"
        + json.dumps({"id": "x3"}) + "\n"
        + json.dumps({"article": ARTICLE}) + "\n"
    )
    out = tmp_path / "out.csv"
    run_batch(src, out, CONFIG)
    with out.open(newline="", encoding="utf-8-sig") as f:  # the BOM is for Excel
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["x1", "line-2", "x3", "line-4"]
    assert rows[0]["summary"].count("\n") == 1 and rows[0]["error"] == ""
    assert "line 2 is not valid JSON" in rows[1]["error"]
    assert "no 'article'" in rows[2]["error"]
    assert rows[3]["summary"] == rows[0]["summary"]


def test_resume_skips_finished_and_drops_torn_line(tmp_path):
    src = _folder(tmp_path)
    out = tmp_path / "out.jsonl"
    # an earlier run finished a.txt (with a marker summary we can recognise), then died
    # while writing the next line
    journal = journal_path(out)
    journal.write_text(
        json.dumps({"id": "a.txt", "summary": "FROM EARLIER RUN", "method": "lead", "error": None,
                    "settings": settings_key(CONFIG),
                    "input_sha256": task_digest(("a.txt", str(src / "a.txt"), None, None))})
        + "\n" + '{"id": "sub/b.md", "summ'
    )
    stats = run_batch(src, out, CONFIG)
    recs = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert recs["a.txt"]["summary"] == "FROM EARLIER RUN"  # not redone
    assert recs["sub/b.md"]["summary"].startswith("Title")
    assert (stats.skipped, stats.summarized) == (1, 1)
    # a second run over a finished OUT redoes only the failures
    again = run_batch(src, out, CONFIG)
    assert (again.skipped, again.summarized, again.failed) == (2, 0, 2)
    assert read_records(out)["a.txt"]["summary"] == "FROM EARLIER RUN"


def test_other_method_is_redone(tmp_path):
    src = _folder(tmp_path)
    out = tmp_path / "out.jsonl"
    run_batch(src, out, CONFIG)
    stats = run_batch(src, out, BatchConfig(method="textrank", budget=Budget(sentences=1),
                                            workers=1, progress=False))
    assert stats.skipped == 0
    assert {r["method"] for r in read_records(out).values()} == {"textrank"}


@pytest.mark.parametrize("kill_after", [0, 7, 150])
def test_killed_batch_resumes_with_every_record_once(tmp_path, kill_after):
    """SIGKILL the whole process group once ``kill_after`` records are journaled (0: as
    soon as the journal exists), rerun, and check every id comes out exactly once."""
    src = tmp_path / "in.jsonl"
    n = 300
    with src.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"doc{i:04d}", "article": ARTICLE + f" Item {i} closes it."}) + "\n")
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "summarizer", "batch", str(src), "--out", str(out),
           "--method", "textrank", "--sentences", "2", "--workers", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = journal_path(out)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= kill_after:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "OUT must not exist before the batch completes"
    done_before = len(read_records(journal))
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"{done_before} already done" in res.stderr
    lines = out.read_text().splitlines()
    assert all(line.endswith("}") for line in lines)  # no torn lines
    ids = [json.loads(line)["id"] for line in lines]
    assert ids == [f"doc{i:04d}" for i in range(n)]
    assert all(json.loads(line)["error"] is None for line in lines)
    assert not journal.exists()


def test_bad_output_suffix_and_input(tmp_path):
    from summarizer.errors import DocumentError

    with pytest.raises(DocumentError, match="must end in .jsonl, .csv or .parquet"):
        run_batch(tmp_path, tmp_path / "out.txt", CONFIG)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DocumentError, match="folder or a .jsonl"):
        run_batch(tmp_path / "x.txt", tmp_path / "out.jsonl", CONFIG)


def test_symlinks_loops_and_links_out_of_the_folder(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text(ARTICLE)
    src = tmp_path / "docs"
    (src / "inner").mkdir(parents=True)
    (src / "a.txt").write_text(ARTICLE)
    (src / "inner" / "loop").symlink_to(src, target_is_directory=True)  # never followed
    (src / "escape.txt").symlink_to(outside)
    (src / "inside-link.txt").symlink_to(src / "a.txt")
    out = tmp_path / "out.jsonl"
    run_batch(src, out, CONFIG)
    recs = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(recs) == {"a.txt", "escape.txt", "inside-link.txt"}
    assert "outside the input folder" in recs["escape.txt"]["error"]
    assert recs["escape.txt"]["summary"] is None
    assert recs["inside-link.txt"]["summary"] == recs["a.txt"]["summary"]


def test_crash_between_write_and_rename_keeps_old_output(tmp_path, monkeypatch):
    src = _folder(tmp_path)
    out = tmp_path / "out.jsonl"
    run_batch(src, out, CONFIG)
    before = out.read_bytes()
    (src / "c.txt").write_text(ARTICLE)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the temp file, before the rename

    monkeypatch.setattr("summarizer.batch.engine.os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        run_batch(src, out, CONFIG)
    assert out.read_bytes() == before  # the old complete file, untouched
    monkeypatch.undo()
    stats = run_batch(src, out, CONFIG)
    assert stats.skipped == 3 and stats.summarized == 0  # c.txt was journaled before the crash
    assert "c.txt" in read_records(out)


def test_undecodable_file_names_and_lone_surrogates_never_stop_the_batch(tmp_path):
    src = tmp_path / "docs"
    src.mkdir()
    (src / "a.txt").write_text(ARTICLE)
    # a file name that is not UTF-8 (Latin-1 "café.txt")
    with open(os.path.join(os.fsencode(src), b"caf\xe9.txt"), "w") as f:
        f.write(ARTICLE)
    out = tmp_path / "out.jsonl"
    run_batch(src, out, CONFIG)
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in recs] == ["a.txt", "caf\ufffd.txt"]
    assert recs[1]["summary"] == recs[0]["summary"]
    again = run_batch(src, out, CONFIG)  # and it is not redone on a rerun
    assert again.skipped == 2

    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"id": "s\\ud800", "article": "Hi \\ud800 there. ' + ARTICLE + '"}\n')
    out2 = tmp_path / "out2.jsonl"
    run_batch(jsonl, out2, CONFIG)
    rec = json.loads(out2.read_text(encoding="utf-8"))
    assert rec["id"] == "s\ufffd" and rec["error"] is None
    assert rec["summary"].startswith("Hi there.")


CRASHING_BATCH = """
import json, os, sys
import summarizer.batch.engine as batch
from summarizer.batch.engine import BatchConfig, run_batch
from summarizer.types import Budget

real = batch.task_record


def crashing(task, config, **kw):
    if task[0] == "boom.txt":
        os._exit(9)  # no exception, no cleanup: the process is simply gone
    return real(task, config, **kw)


batch.task_record = crashing  # at import: spawned workers import this file as __mp_main__

if __name__ == "__main__":
    config = BatchConfig(method="lead", budget=Budget(sentences=1), workers=2, progress=False)
    stats = run_batch(sys.argv[1], sys.argv[2], config)
    print(json.dumps([stats.summarized, stats.failed]))
"""


@pytest.mark.parametrize("others", [6, 1])
def test_a_worker_that_dies_outright_costs_one_error_record(tmp_path, others):
    """A document that kills its worker process (as a segfault or the OOM killer would):
    the pool breaks, the suspects are rerun alone, the culprit gets an error record and
    every other document its summary. The patch lives in a script file, which the pool's
    spawned workers import too. With one other document the culprit is often alone in
    flight: its own future is the one that raises, and it must still become a suspect
    (once it did not, and the batch retried it forever); the timeout turns such a loop
    into a failure."""
    src = tmp_path / "docs"
    src.mkdir()
    for i in range(others):
        (src / f"d{i}.txt").write_text(ARTICLE)
    (src / "boom.txt").write_text(ARTICLE)
    script = tmp_path / "crashing_batch.py"
    script.write_text(CRASHING_BATCH)
    out = tmp_path / "out.jsonl"
    for _ in range(3):  # the ordering that looped was a race: give it several chances
        for stale in (out, journal_path(out)):
            stale.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, str(script), str(src), str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr
        recs = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
        assert sorted(recs) == ["boom.txt"] + [f"d{i}.txt" for i in range(others)]
        assert "worker process died on this document" in recs["boom.txt"]["error"]
        assert all(recs[f"d{i}.txt"]["summary"] for i in range(others))
        assert json.loads(proc.stdout.splitlines()[-1]) == [others, 1]
