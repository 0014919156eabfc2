"""The run history: the SQLite store (round trip, documents once, filters, delete, export,
migration, concurrent writers, broken files) and the History page with AppTest."""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from summarizer.errors import CondenseError
from summarizer.results.csvfile import read_csv
from summarizer.results.history import (
    MIGRATIONS, History, HistoryConfig, HistoryError, Run, RunNotFoundError, migrate,
    open_history)

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ("The council approved the new budget on Monday. The budget raises school spending. "
           "Critics said the council ignored roads.")
START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def ticking(start=START):
    """A clock that moves one minute per call."""
    state = {"now": start - timedelta(minutes=1)}

    def clock():
        state["now"] += timedelta(minutes=1)
        return state["now"]
    return clock


def store(path, **kw) -> History:
    return History(HistoryConfig(path=Path(path), **kw), clock=ticking())


def save(h: History, kind="summary", *, name="memo.txt", source="memo.txt", method="lead",
         document=ARTICLE, **kw) -> int:
    return h.save(kind, name=name, source=source, method=method,
                  settings=kw.pop("settings", {"sentences": 2}),
                  inputs=kw.pop("inputs", {"document": document, "lang": "en"}),
                  outputs=kw.pop("outputs", {"summary": "The council approved the budget."}),
                  scores=kw.pop("scores", None), seconds=kw.pop("seconds", 0.25))


def _user_version(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


# -- where the file is ---------------------------------------------------------------
def test_config_from_env(tmp_path):
    assert HistoryConfig.from_env({"CONDENSE_HISTORY": " OFF "}).path is None
    assert not HistoryConfig.from_env({"CONDENSE_HISTORY": "off"}).enabled
    named = HistoryConfig.from_env({"CONDENSE_HISTORY": str(tmp_path / "h.db")})
    assert named.path == tmp_path / "h.db" and named.enabled
    assert HistoryConfig.from_env({"CONDENSE_HISTORY": "~/h.db"}).path == Path.home() / "h.db"
    assert (HistoryConfig.from_env({"XDG_DATA_HOME": str(tmp_path)}).path
            == tmp_path / "condense" / "history.sqlite3")
    default = Path.home() / ".local" / "share" / "condense" / "history.sqlite3"
    assert HistoryConfig.from_env({}).path == default
    assert HistoryConfig.from_env({"XDG_DATA_HOME": "relative/dir"}).path == default  # XDG spec
    assert HistoryConfig.from_env({"CONDENSE_HISTORY": ""}).path == default
    assert open_history(HistoryConfig(path=None)) is None


def test_every_test_gets_a_history_file_of_its_own_outside_home():
    path = HistoryConfig.from_env().path
    assert path is not None and not path.exists()
    assert Path.home() / ".local" not in path.parents


# -- saving and reading --------------------------------------------------------------
def test_a_saved_run_reads_back_exactly(tmp_path):
    h = store(tmp_path / "h.sqlite3")
    run_id = h.save("comparison", name="Résumé 📄", source="pasted text", method="lead,textrank",
                    settings={"budget": {"sentences": 2}, "methods": ["lead", "textrank"]},
                    inputs={"document": ARTICLE, "reference": "The budget passed.", "files": 1},
                    outputs={"lead": "A.", "textrank": "B.", "spans": [[0, 10], [11, 20]]},
                    scores={"lead": {"rouge1": 41.5}}, seconds=1.5)
    assert run_id == 1
    assert h.get(1) == Run(
        id=1, kind="comparison", created="2024-05-01T12:00:00+00:00", name="Résumé 📄",
        source="pasted text", method="lead,textrank", seconds=1.5,
        settings={"budget": {"sentences": 2}, "methods": ["lead", "textrank"]},
        inputs={"document": ARTICLE, "reference": "The budget passed.", "files": 1},
        outputs={"lead": "A.", "textrank": "B.", "spans": [[0, 10], [11, 20]]},
        scores={"lead": {"rouge1": 41.5}})
    assert save(h) == 2 and h.get(2).scores is None
    with pytest.raises(RunNotFoundError, match=r"has no run 9\. It may have been deleted"):
        h.get(9)
    assert h.exists(2) and not h.exists(9)


def test_created_is_utc_whatever_the_clock_zone(tmp_path):
    paris = timezone(timedelta(hours=2))
    h = History(HistoryConfig(path=tmp_path / "h.sqlite3"),
                clock=lambda: datetime(2024, 5, 1, 14, 30, 5, 999, tzinfo=paris))
    assert h.get(save(h)).created == "2024-05-01T12:30:05+00:00"


def test_documents_are_stored_once_by_hash(tmp_path):
    h = store(tmp_path / "h.sqlite3")
    for method in ("lead", "textrank", "lexrank"):
        save(h, method=method, inputs={"document": ARTICLE, "sentences": 3})
    save(h, inputs={"document": "Another document. It is short.", "sentences": 3})
    assert h.count() == 4
    assert h.count_documents() == 2
    with sqlite3.connect(h.path) as conn:
        shas = [r[0] for r in conn.execute("SELECT sha256 FROM documents ORDER BY rowid")]
        inline = [r[0] for r in conn.execute("SELECT inputs FROM runs ORDER BY id")]
    assert shas[0] == hashlib.sha256(ARTICLE.encode("utf-8")).hexdigest()
    assert inline == ['{"sentences": 3}'] * 4  # the text is not in the run's row
    assert [h.get(i).inputs for i in (1, 3)] == [{"document": ARTICLE, "sentences": 3}] * 2


def test_bad_values_are_refused_before_anything_is_written(tmp_path):
    h = store(tmp_path / "h.sqlite3")
    with pytest.raises(ValueError, match="unknown run kind 'summaries'"):
        save(h, "summaries")
    with pytest.raises(ValueError, match="scores holds a value JSON cannot carry"):
        save(h, scores={"rouge1": float("nan")})
    with pytest.raises(TypeError, match="outputs must be a dict, not list"):
        save(h, outputs=["a"])
    assert h.count() == 0 and h.count_documents() == 0


def test_list_filters_by_kind_and_text_newest_first(tmp_path):
    h = store(tmp_path / "h.sqlite3")
    save(h, "summary", name="budget.txt", method="lead")  # 1
    save(h, "comparison", name="RÉSUMÉ.md", method="lead,textrank")  # 2
    save(h, "batch", name="reports", source="/data/reports", method="textrank")  # 3
    save(h, "generation", name="Write a haiku", source="prompt", method="qwen")  # 4
    save(h, "evaluation", name="bbc pairs", source="bbc.jsonl", method="lead")  # 5
    assert [r.id for r in h.list()] == [5, 4, 3, 2, 1]
    row = h.list()[-1]
    assert (row.id, row.kind, row.name, row.source, row.method, row.seconds, row.created) == (
        1, "summary", "budget.txt", "memo.txt", "lead", 0.25, "2024-05-01T12:00:00+00:00")
    assert [r.id for r in h.list(kind="batch")] == [3]
    assert [r.id for r in h.list(kind=["summary", "evaluation"])] == [5, 1]
    assert [r.id for r in h.list(text="TEXTRANK")] == [3, 2]  # method, any case
    assert [r.id for r in h.list(text="résumé")] == [2]  # non-ASCII letters fold too
    assert [r.id for r in h.list(text="/data/")] == [3]  # source
    assert [r.id for r in h.list(kind="summary", text="lead")] == [1]
    assert [r.id for r in h.list(text="100%")] == []  # no LIKE wildcards
    assert [r.id for r in h.list(limit=2, offset=1)] == [4, 3]
    assert (h.count(), h.count(kind="batch"), h.count(text="lead")) == (5, 1, 3)


def test_delete_removes_runs_and_documents_no_run_reads(tmp_path):
    h = store(tmp_path / "h.sqlite3")
    save(h, document=ARTICLE)  # 1
    save(h, document="Only in run two. Nothing else.")  # 2
    save(h, document=ARTICLE)  # 3
    assert h.count_documents() == 3  # two articles and "en"
    assert h.delete([2, 3, 99]) == 2
    assert [r.id for r in h.list()] == [1]
    assert h.count_documents() == 2  # run 2's text went; the shared article stays for run 1
    assert h.get(1).inputs["document"] == ARTICLE
    assert h.delete([1]) == 1 and h.count_documents() == 0
    assert save(h) == 4  # ids are never reused: an old ?run=3 cannot open a new run


def test_export_jsonl_and_csv(tmp_path):
    h = store(tmp_path / "h.sqlite3")
    save(h, name="=HYPERLINK(\"x\")", scores={"rouge1": 40.0})  # 1
    save(h, "generation", name="poem", inputs={"prompt": "Write a poem"},
         outputs={"text": "Roses"})  # 2
    lines = h.export_jsonl([2, 1, 7]).decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [h.get(1).to_json(), h.get(2).to_json()]
    assert json.loads(lines[1]) == {
        "id": 2, "kind": "generation", "created": "2024-05-01T12:01:00+00:00", "name": "poem",
        "source": "memo.txt", "method": "lead", "seconds": 0.25, "settings": {"sentences": 2},
        "inputs": {"prompt": "Write a poem"}, "outputs": {"text": "Roses"}, "scores": None}
    assert h.export_jsonl([]) == b""
    path = tmp_path / "h.csv"
    path.write_bytes(h.export_csv([1, 2]))
    assert path.read_bytes().startswith(b"\xef\xbb\xbfid,kind,created")
    rows = read_csv(path)
    assert [r["name"] for r in rows] == ['=HYPERLINK("x")', "poem"]  # neutralized, read back
    assert b"'=HYPERLINK" in path.read_bytes()
    assert json.loads(rows[0]["inputs"]) == {"document": ARTICLE, "lang": "en"}
    assert (json.loads(rows[0]["scores"]), rows[1]["scores"]) == ({"rouge1": 40.0}, None)
    assert [r["seconds"] for r in rows] == ["0.25", "0.25"]


# -- the schema ----------------------------------------------------------------------
def test_a_version_1_file_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path, MIGRATIONS[:1]) == 0
    conn.execute("INSERT INTO runs VALUES (7, 'summary', '2023-01-02T03:04:05+00:00', 'old.txt',"
                 " 'old.txt', 'lead', '{\"sentences\": 1}', '{}', '{\"summary\": \"Old.\"}',"
                 " NULL, 0.5)")
    conn.execute("INSERT INTO documents VALUES ('abc', 'Old. Text.')")
    conn.execute("INSERT INTO run_documents VALUES (7, 'document', 'abc')")
    conn.close()
    assert _user_version(path) == 1

    h = store(path)
    assert _user_version(path) == len(MIGRATIONS) == 2
    with sqlite3.connect(path) as c:
        indexes = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='index'"
                                           " AND name NOT LIKE 'sqlite_%'")}
    assert indexes == {"runs_by_kind", "run_documents_by_sha256"}
    assert h.get(7) == Run(id=7, kind="summary", created="2023-01-02T03:04:05+00:00",
                           name="old.txt", source="old.txt", method="lead", seconds=0.5,
                           settings={"sentences": 1}, inputs={"document": "Old. Text."},
                           outputs={"summary": "Old."}, scores=None)
    assert save(h) == 8
    assert [r.id for r in h.list(kind="summary")] == [8, 7]


def test_new_files_are_in_wal_mode_at_the_latest_version(tmp_path):
    h = store(tmp_path / "new" / "deeper" / "h.sqlite3")  # folders are created
    with sqlite3.connect(h.path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert _user_version(h.path) == len(MIGRATIONS)


def test_a_file_from_a_newer_version_or_another_program_is_refused(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    store(newer)
    with sqlite3.connect(newer) as c:
        c.execute("PRAGMA user_version = 9")
    with pytest.raises(HistoryError, match=r"written by a newer Condense \(schema 9; this one "
                                           r"reads up to 2\)\. Upgrade Condense"):
        store(newer)
    other = tmp_path / "notes.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(HistoryError, match="an SQLite database but not a Condense history"):
        store(other)
    with sqlite3.connect(other) as c:  # and it was left as it was
        assert [r[0] for r in c.execute("SELECT name FROM sqlite_master")] == ["notes"]


# -- broken files --------------------------------------------------------------------
def _good_file(path) -> bytes:
    h = store(path)
    for i in range(40):
        save(h, document=f"Document number {i}. " * 200)
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["random bytes", "truncated", "header only"])
def test_a_corrupt_file_names_itself_and_the_fix_and_moving_it_aside_works(tmp_path, damage):
    data = _good_file(tmp_path / "good.sqlite3")
    path = tmp_path / "history.sqlite3"
    path.write_bytes({"random bytes": os.urandom(8192), "truncated": data[:len(data) // 2],
                      "header only": data[:100]}[damage])
    with pytest.raises(HistoryError) as info:
        store(path)
    e = info.value
    assert isinstance(e, CondenseError) and e.path == str(path)
    assert str(e) == f"{path}: {e.problem}. {e.fix}"
    assert e.problem.startswith(("is not a readable history database", "is damaged"))
    assert "Move it aside" in e.fix and "a new, empty history will be started" in e.fix
    assert "CONDENSE_HISTORY=off" in e.fix
    path.rename(tmp_path / "history.sqlite3.broken")  # what the message says to do
    assert save(store(path)) == 1


def test_a_lock_held_by_another_process_is_a_typed_error_and_readers_go_on(tmp_path):
    path = tmp_path / "h.sqlite3"
    h = store(path, busy_timeout_s=0.2)
    save(h)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys\n"
         f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE')\n"
         "print('locked', flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(HistoryError) as info:
            save(h)
        assert info.value.problem == "is locked by another program (waited 0.2 s)"
        assert "Close the program holding it" in info.value.fix
        assert "CONDENSE_HISTORY=off" in info.value.fix
        assert [r.id for r in h.list()] == [1]  # WAL: reading never waits for a writer
    finally:
        holder.communicate("", timeout=30)
    assert save(h) == 2  # the lock is gone with its holder


def test_an_unwritable_place_is_a_typed_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(HistoryError, match="the history's folder cannot be created") as info:
        store(blocker / "condense" / "history.sqlite3")
    assert info.value.path == str(blocker / "condense")
    assert "Set CONDENSE_HISTORY to a file in a folder you can write" in info.value.fix
    with pytest.raises(HistoryError, match=r"is a folder, not a file\. Set CONDENSE_HISTORY"):
        store(tmp_path)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_nobody_may_write_is_a_typed_error():
    # /proc refuses new files even to root, who may write anywhere else (CI runs as root).
    with pytest.raises(HistoryError) as info:
        store("/proc/history.sqlite3")
    assert info.value.problem.startswith("cannot be opened for writing")
    assert "CONDENSE_HISTORY=off" in info.value.fix


# -- concurrent writers --------------------------------------------------------------
def test_threads_write_at_once(tmp_path):
    path = tmp_path / "h.sqlite3"
    shared = store(path)
    ids, errors = [], []

    def work(worker):
        h = shared if worker % 2 else store(path)  # one store shared, and stores of their own
        try:
            for i in range(15):
                ids.append(save(h, name=f"w{worker}-{i}",
                                document=f"Text of worker {worker % 3}."))
        except Exception as e:  # reported below, with the values
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(ids) == list(range(1, 121))
    assert shared.count() == 120
    assert shared.count_documents() == 4  # three worker texts and "en"
    assert sorted(r.name for r in shared.list(text="w7-", limit=100)) == sorted(
        f"w7-{i}" for i in range(15))


def test_processes_create_and_write_one_file_at_once(tmp_path):
    path = tmp_path / "fresh" / "h.sqlite3"  # neither process finds it: both migrate
    code = ("import sys\n"
            "from summarizer.results.history import History, HistoryConfig\n"
            f"h = History(HistoryConfig(path=__import__('pathlib').Path({str(path)!r})))\n"
            "for i in range(30):\n"
            "    h.save('summary', name=f'{sys.argv[1]}-{i}', source='s', method='lead',\n"
            "           settings={}, inputs={'document': 'Same text.'}, outputs={}, seconds=0)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, tag], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    h = store(path)
    assert _user_version(path) == len(MIGRATIONS)
    assert [r.id for r in h.list(limit=100)] == list(range(60, 0, -1))
    assert (h.count(text="a-"), h.count(text="b-"), h.count_documents()) == (30, 30, 1)


# -- the History page and the calls pages make (AppTest) -----------------------------
def _save_app():
    import streamlit as st

    from ui.history import save_run

    run_id = save_run("summary", name="memo.txt", source="pasted text", method="lead",
                      settings={"sentences": 2}, inputs={"document": "A b. C d."},
                      outputs={"summary": "A b."}, seconds=0.5)
    st.write(f"saved {run_id}")


def _reopen_app():
    import streamlit as st

    from ui.history import run_from_url

    for kind in ("summary", "batch"):
        run = run_from_url(kind)
        st.write(f"{kind}: {run.name if run else None}")


def _history_app():
    import streamlit as st

    from ui.history import page
    from ui.settings import AppSettings

    page(AppSettings(), pages=st.session_state.get("pages"))


def _texts(at):
    return [m.value for m in at.markdown]


def test_save_run_keeps_a_run_once_per_session_and_names_it_in_the_url():
    at = AppTest.from_function(_save_app).run()
    assert not at.exception and not at.warning
    assert _texts(at) == ["saved 1"]
    assert at.query_params["run"] == "1"
    at.run()  # a rerun shows the same result: not a second run
    assert _texts(at) == ["saved 1"]
    h = open_history()
    assert h.count() == 1
    assert h.get(1).inputs == {"document": "A b. C d."}
    h.delete([1])
    at.run()  # deleted on the History page meanwhile: kept again
    assert _texts(at) == ["saved 2"] and h.count() == 1


def test_a_reload_reopens_the_run_the_url_names():
    h = open_history()
    save(h, name="budget.txt")  # 1
    at = AppTest.from_function(_reopen_app)
    at.query_params["run"] = "1"
    at.run()
    assert _texts(at) == ["summary: budget.txt", "batch: None"]  # only its own page reopens it
    at.query_params["run"] = "5"
    at.run()
    assert _texts(at) == ["summary: None", "batch: None"]
    assert at.info[0].value == "Run 5 is not in the history any more (it was deleted)."
    at.query_params["run"] = "five"
    at.run()
    assert at.warning[0].value.startswith("?run=five is not a run number")


def test_with_the_history_off_pages_work_and_nothing_is_written(monkeypatch):
    monkeypatch.setenv("CONDENSE_HISTORY", "off")
    at = AppTest.from_function(_save_app).run()
    assert _texts(at) == ["saved None"] and not at.warning and not at.query_params
    at = AppTest.from_function(_history_app).run()
    assert at.info[0].value == "The history is off (CONDENSE_HISTORY=off): runs are not kept."


def test_a_broken_history_file_is_one_warning_and_the_page_goes_on(tmp_path, monkeypatch):
    path = tmp_path / "history.sqlite3"
    path.write_bytes(os.urandom(4096))
    monkeypatch.setenv("CONDENSE_HISTORY", str(path))
    at = AppTest.from_function(_save_app).run()
    assert not at.exception and _texts(at) == ["saved None"]
    assert len(at.warning) == 1
    message = at.warning[0].value
    assert message.startswith(f"The history is not available, so runs are not kept. {path}: ")
    assert "Move it aside" in message and "CONDENSE_HISTORY=off" in message
    path.rename(tmp_path / "moved-aside")
    at.run()  # the fix takes effect without a restart
    assert _texts(at) == ["saved 1"] and not at.warning


def _three_runs():
    h = store(HistoryConfig.from_env().path)  # the file the page opens, on the test's clock
    save(h, "summary", name="budget.txt", method="lead")  # 1
    save(h, "comparison", name="roads.md", method="lead,textrank",
         outputs={"lead": "Roads wait.", "table": [{"rouge1": 40.0}]},
         scores={"lead": {"rouge1": 40.0}})  # 2
    save(h, "batch", name="reports", source="/data/reports", method="textrank",
         inputs={"sha256": "ab" * 32, "files": 12})  # 3
    return h


def test_history_page_lists_filters_and_shows_a_run_in_full():
    _three_runs()
    at = AppTest.from_function(_history_app).run()
    assert not at.exception
    assert at.header[0].value == "History"
    table = at.dataframe[0].value
    assert list(table["id"]) == [3, 2, 1]
    assert list(table["kind"]) == ["batch", "comparison", "summary"]
    assert list(table["when (UTC)"]) == ["2024-05-01 12:02:00", "2024-05-01 12:01:00",
                                         "2024-05-01 12:00:00"]
    assert [b.label for b in at.get("download_button")] == ["JSONL (3 shown)", "CSV (3 shown)"]

    at.multiselect(key="hist.kinds").set_value(["summary", "comparison"]).run()
    assert list(at.dataframe[0].value["id"]) == [2, 1]
    at.text_input(key="hist.search").input("TEXTRANK").run()
    assert list(at.dataframe[0].value["id"]) == [2]

    at.multiselect(key="hist.selected").set_value([2]).run()
    assert not at.exception
    assert at.subheader[0].value == "Run 2 · comparison"
    assert at.expander[0].label == f"document ({len(ARTICLE):,} characters)"
    assert ARTICLE in [t.value for t in at.text]
    assert "Roads wait." in [t.value for t in at.text]
    assert {"rouge1": 40.0} in [json.loads(j.value).get("lead") for j in at.json]
    assert "[Open in its page](./compare?run=2)" in _texts(at)
    assert [b.label for b in at.get("download_button")] == ["JSONL (1 selected)",
                                                            "CSV (1 selected)"]

    at.text_input(key="hist.search").input("no such run").run()
    assert not at.dataframe and "No runs match." in [c.value for c in at.caption]


def test_history_page_deletes_after_confirmation():
    h = _three_runs()
    at = AppTest.from_function(_history_app).run()
    at.multiselect(key="hist.selected").set_value([3, 1]).run()
    assert at.caption[-1].value == "Select one run to see it in full."
    at.button(key="hist.delete").click().run()
    assert at.warning[0].value == "Delete 2 runs (#3, #1)? This cannot be undone."
    assert h.count() == 3
    at.button(key="hist.cancel").click().run()
    assert not at.warning and h.count() == 3
    at.button(key="hist.delete").click().run()
    at.button(key="hist.confirm").click().run()
    assert not at.exception
    assert at.success[0].value == "Deleted 2 runs."
    assert list(at.dataframe[0].value["id"]) == [2]
    assert at.multiselect(key="hist.selected").value == []
    assert [r.id for r in h.list()] == [2]


def test_open_in_its_page_switches_to_the_page_given_with_the_run(monkeypatch):
    import streamlit

    calls = []
    monkeypatch.setattr(streamlit, "switch_page",
                        lambda page, query_params=None: calls.append((page, query_params)))
    _three_runs()
    at = AppTest.from_function(_history_app)
    at.session_state["pages"] = {"batch": "the batch page"}
    at.run()
    at.multiselect(key="hist.selected").set_value([3]).run()
    at.button(key="hist.open").click().run()
    assert calls == [("the batch page", {"run": "3"})]
