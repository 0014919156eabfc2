"""The run history: every summary, comparison, batch, generation and evaluation the app ran,
kept in one SQLite file so that a reload, a restart or another browser loses nothing.

Where: ``$CONDENSE_HISTORY`` (a file path, or ``off`` for no history), else
``$XDG_DATA_HOME/condense/history.sqlite3`` (``~/.local/share/condense/...`` by default).

Choices:
- SQLite from the standard library: one file, transactions, and safe writers in several
  threads (Streamlit sessions) and several processes (servers) at once. WAL journal mode so
  that readers never wait for a writer, a busy timeout so that writers queue instead of
  failing, and ``BEGIN IMMEDIATE`` for every write: a transaction that starts as a reader
  and upgrades fails at once in WAL mode when another writer got there first, without
  waiting (SQLite's ``SQLITE_BUSY_SNAPSHOT``).
- One connection per call: a connection is not shared between threads, and opening one
  costs well under a millisecond next to a summary.
- Documents are stored once by SHA-256 (``documents``), so summarizing one long document
  with ten methods keeps one copy. Every top-level string of a run's ``inputs`` is such a
  text; the other input values stay in the run's JSON.
- Settings, inputs, outputs and scores are JSON (never pickle: the file may be shared or
  copied); NaN is refused so that every export is strict JSON.
- Run ids are ``AUTOINCREMENT``: a deleted run's id is never given to a new run, so an old
  ``?run=12`` link can only fail, never open another run.
- The schema version is ``PRAGMA user_version``; ``MIGRATIONS`` lists the steps in order
  and a file is brought up to date when opened.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

from summarizer.errors import CondenseError
from summarizer.results.csvfile import csv_bytes

KINDS = ("summary", "comparison", "batch", "generation", "evaluation")
ENV = "CONDENSE_HISTORY"
OFF = "off"
_OFF_FIX = f"Or set {ENV}={OFF} to run without a history"

MIGRATIONS: Tuple[Tuple[str, ...], ...] = (
    # 1: runs; each document once, by hash; which run read which document under which key.
    ("""CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, created TEXT NOT NULL,
            name TEXT NOT NULL, source TEXT NOT NULL, method TEXT NOT NULL,
            settings TEXT NOT NULL, inputs TEXT NOT NULL, outputs TEXT NOT NULL,
            scores TEXT, seconds REAL NOT NULL)""",
     "CREATE TABLE documents (sha256 TEXT PRIMARY KEY, text TEXT NOT NULL)",
     """CREATE TABLE run_documents (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            key TEXT NOT NULL, sha256 TEXT NOT NULL REFERENCES documents (sha256),
            PRIMARY KEY (run_id, key))"""),
    # 2: the History page lists newest first within the chosen kinds, and a delete sweeps
    # documents no run reads any more; both scanned the whole table without these.
    ("CREATE INDEX runs_by_kind ON runs (kind, id)",
     "CREATE INDEX run_documents_by_sha256 ON run_documents (sha256)"),
)


class HistoryError(CondenseError):
    """The history file cannot be used: corrupt, locked, unwritable, or from a newer version.

    ``path`` is the file (or the folder it should be in), ``problem`` what is wrong and
    ``fix`` what to do; ``str(error)`` reads ``"<path>: <problem>. <fix>"``.
    """

    def __init__(self, path: Union[str, Path], problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. {fix}")

    def __reduce__(self):
        return type(self), (self.path, self.problem, self.fix)


class RunNotFoundError(HistoryError):
    """A run id that is not (or no longer) in the history."""


@dataclass(frozen=True)
class HistoryConfig:
    path: Optional[Path]  # None: no history
    busy_timeout_s: float = 5.0  # how long a writer waits for another writer's lock

    @property
    def enabled(self) -> bool:
        return self.path is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "HistoryConfig":
        raw = env.get(ENV, "").strip()
        if raw.lower() == OFF:
            return cls(path=None)
        if raw:
            return cls(path=Path(raw).expanduser())
        data = env.get("XDG_DATA_HOME", "")
        # The XDG spec says to ignore a relative XDG_DATA_HOME.
        base = Path(data) if data and Path(data).is_absolute() else Path.home() / ".local" / "share"
        return cls(path=base / "condense" / "history.sqlite3")


@dataclass(frozen=True)
class RunRow:
    """A run as the History table lists it: no settings, texts or outputs."""

    id: int
    kind: str
    created: str  # UTC, ISO 8601
    name: str  # the document's name or the run's title
    source: str  # "pasted text", an upload's name, a folder
    method: str
    seconds: float


@dataclass(frozen=True)
class Run(RunRow):
    settings: Dict[str, Any]
    inputs: Dict[str, Any]  # texts come back from the documents table under their keys
    outputs: Dict[str, Any]
    scores: Optional[Dict[str, Any]]

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


_ROW = "id, kind, created, name, source, method, seconds"
_RUN = _ROW + ", settings, inputs, outputs, scores"


def _json(value: Mapping[str, Any], what: str) -> str:
    if not isinstance(value, Mapping):
        raise TypeError(f"a run's {what} must be a dict, not {type(value).__name__}")
    try:
        return json.dumps(dict(value), ensure_ascii=False, allow_nan=False)
    except ValueError as e:  # NaN or infinity
        raise ValueError(f"a run's {what} holds a value JSON cannot carry: {e}") from e


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _problem(path: Path, e: sqlite3.Error, timeout_s: float) -> HistoryError:
    """An SQLite error as what it means for the user, by its result code."""
    code = getattr(e, "sqlite_errorname", "") or ""
    if code.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return HistoryError(path, f"is not a readable history database ({e})",
                            f"Move it aside (rename it, e.g. to {path.name}.broken); a new, "
                            f"empty history will be started. {_OFF_FIX}")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return HistoryError(path, f"is locked by another program (waited {timeout_s:g} s)",
                            "Close the program holding it (a sqlite3 shell, a stuck Condense "
                            f"server), or set {ENV} to another file. {_OFF_FIX}")
    if code.startswith("SQLITE_FULL"):
        return HistoryError(path, "cannot grow: the disk is full",
                            f"Free some space, or set {ENV} to a file on another disk. {_OFF_FIX}")
    if code.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_IOERR",
                        "SQLITE_AUTH")):
        return HistoryError(path, f"cannot be opened for writing ({e})",
                            f"Make it and its folder writable, or set {ENV} to a file in a "
                            f"folder you can write. {_OFF_FIX}")
    return HistoryError(path, f"the history database failed ({code or type(e).__name__}: {e})",
                        f"Move the file aside to start a new history. {_OFF_FIX}")


def migrate(conn: sqlite3.Connection, path: Path,
            steps: Sequence[Tuple[str, ...]] = MIGRATIONS) -> int:
    """Bring the schema up to ``len(steps)``; returns the version the file was at.

    Each run of the steps is one ``BEGIN IMMEDIATE`` transaction that sets ``user_version``
    too, so two processes opening a new file at once migrate it once, and a crash midway
    leaves the old version whole."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == len(steps):
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another may have won
        if version > len(steps):
            raise HistoryError(path, f"was written by a newer Condense (schema {version}; this "
                                     f"one reads up to {len(steps)})",
                               f"Upgrade Condense, or set {ENV} to another file. {_OFF_FIX}")
        if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise HistoryError(path, "is an SQLite database but not a Condense history",
                               f"Set {ENV} to another file. {_OFF_FIX}")
        for number, step in enumerate(steps[version:], start=version + 1):
            for sql in step:
                conn.execute(sql)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    return version


class History:
    """The store. Thread-safe: every call opens its own connection."""

    def __init__(self, config: HistoryConfig, *,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        if config.path is None:
            raise ValueError(f"the history is off ({ENV}={OFF}); use open_history()")
        self.config = config
        self.path = Path(config.path)
        self._clock = clock
        if self.path.is_dir():
            raise HistoryError(self.path, "is a folder, not a file",
                               f"Set {ENV} to a file path such as "
                               f"{self.path / 'history.sqlite3'}. {_OFF_FIX}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HistoryError(self.path.parent, f"the history's folder cannot be created "
                                                 f"({e.strerror or e})",
                               f"Set {ENV} to a file in a folder you can write. {_OFF_FIX}") from e
        with self._connect() as conn:
            # Persistent in the file; a file system without shared memory keeps its old mode.
            conn.execute("PRAGMA journal_mode = WAL")
            # A truncated or damaged file is found here, not halfway through a later save.
            problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise HistoryError(self.path, "is damaged (" + "; ".join(problems[:3]) + ")",
                                   f"Move it aside (rename it, e.g. to {self.path.name}.broken); "
                                   f"a new, empty history will be started. {_OFF_FIX}")
            migrate(conn, self.path)

    def __repr__(self) -> str:
        return f"History({str(self.path)!r})"

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection (a write transaction when ``write``); SQLite errors as HistoryError."""
        conn = None
        try:
            # isolation_level=None: transactions are the explicit BEGIN IMMEDIATE below.
            conn = sqlite3.connect(self.path, timeout=self.config.busy_timeout_s,
                                   isolation_level=None)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.create_function("fold", 1, str.casefold, deterministic=True)
            if write:
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if write:
                conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise _problem(self.path, e, self.config.busy_timeout_s) from e
        finally:
            if conn is not None:
                if conn.in_transaction:
                    conn.rollback()
                conn.close()

    # -- writing ------------------------------------------------------------------------
    def save(self, kind: str, *, name: str, source: str, method: str,
             settings: Mapping[str, Any], inputs: Mapping[str, Any],
             outputs: Mapping[str, Any], scores: Optional[Mapping[str, Any]] = None,
             seconds: float) -> int:
        """Store one run; returns its id. Top-level strings of ``inputs`` go to the
        documents table, once per distinct text."""
        if kind not in KINDS:
            raise ValueError(f"unknown run kind {kind!r}; one of {', '.join(KINDS)}")
        texts = {k: v for k, v in inputs.items() if isinstance(v, str)}
        rest = {k: v for k, v in inputs.items() if not isinstance(v, str)}
        values = (kind, self._clock().astimezone(timezone.utc).isoformat(timespec="seconds"),
                  name, source, method, _json(settings, "settings"), _json(rest, "inputs"),
                  _json(outputs, "outputs"), None if scores is None else _json(scores, "scores"),
                  float(seconds))
        hashed = [(k, hashlib.sha256(v.encode("utf-8")).hexdigest(), v) for k, v in texts.items()]
        with self._connect(write=True) as conn:
            run_id = conn.execute(
                "INSERT INTO runs (kind, created, name, source, method, settings, inputs, "
                "outputs, scores, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values).lastrowid
            conn.executemany("INSERT OR IGNORE INTO documents (sha256, text) VALUES (?, ?)",
                             [(sha, text) for _, sha, text in hashed])
            conn.executemany("INSERT INTO run_documents (run_id, key, sha256) VALUES (?, ?, ?)",
                             [(run_id, key, sha) for key, sha, _ in hashed])
        return int(run_id)

    def delete(self, ids: Iterable[int]) -> int:
        """Delete these runs and the documents no other run reads; returns how many runs
        were deleted (ids already gone are not counted)."""
        with self._connect(write=True) as conn:
            deleted = conn.executemany("DELETE FROM runs WHERE id = ?",
                                       [(int(i),) for i in set(ids)]).rowcount
            conn.execute("DELETE FROM documents WHERE sha256 NOT IN "
                         "(SELECT sha256 FROM run_documents)")
        return max(deleted, 0)

    # -- reading ------------------------------------------------------------------------
    @staticmethod
    def _where(kind: Union[str, Sequence[str], None], text: Optional[str]) -> Tuple[str, list]:
        clauses, params = [], []
        kinds = [kind] if isinstance(kind, str) else list(kind or [])
        if kinds:
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params += kinds
        if text:
            # casefold in Python: SQLite's LIKE and lower() fold ASCII letters only.
            clauses.append("(instr(fold(name), ?) OR instr(fold(method), ?) "
                           "OR instr(fold(source), ?))")
            params += [text.casefold()] * 3
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def list(self, kind: Union[str, Sequence[str], None] = None, text: Optional[str] = None,
             limit: int = 50, offset: int = 0) -> List[RunRow]:
        """Newest first; ``kind`` one kind or several, ``text`` a case-insensitive
        substring of the name, method or source."""
        where, params = self._where(kind, text)
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_ROW} FROM runs{where} ORDER BY id DESC "
                                "LIMIT ? OFFSET ?", [*params, int(limit), int(offset)])
            return [RunRow(*r) for r in rows]

    def count(self, kind: Union[str, Sequence[str], None] = None,
              text: Optional[str] = None) -> int:
        where, params = self._where(kind, text)
        with self._connect() as conn:
            return conn.execute(f"SELECT count(*) FROM runs{where}", params).fetchone()[0]

    def exists(self, run_id: int) -> bool:
        with self._connect() as conn:
            row = conn.execute("SELECT 1 FROM runs WHERE id = ?", (int(run_id),)).fetchone()
        return row is not None

    def count_documents(self) -> int:
        with self._connect() as conn:
            return conn.execute("SELECT count(*) FROM documents").fetchone()[0]

    def _runs(self, conn: sqlite3.Connection, ids: Iterable[int]) -> Iterator[Run]:
        for run_id in sorted({int(i) for i in ids}):
            row = conn.execute(f"SELECT {_RUN} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                continue
            texts = dict(conn.execute(
                "SELECT key, text FROM run_documents JOIN documents USING (sha256) "
                "WHERE run_id = ? ORDER BY run_documents.rowid", (run_id,)))
            settings, inputs, outputs, scores = (None if v is None else json.loads(v)
                                                 for v in row[7:])
            yield Run(*row[:7], settings=settings, inputs={**texts, **inputs}, outputs=outputs,
                      scores=scores)

    def get(self, run_id: int) -> Run:
        with self._connect() as conn:
            for run in self._runs(conn, [run_id]):
                return run
        raise RunNotFoundError(self.path, f"has no run {run_id}",
                               "It may have been deleted; pick a run on the History page")

    # -- export -------------------------------------------------------------------------
    def export_jsonl(self, ids: Iterable[int]) -> bytes:
        """One JSON object per run (``Run.to_json()``), by id; ids no longer in the
        history are left out."""
        with self._connect() as conn:
            lines = [json.dumps(r.to_json(), ensure_ascii=False) + "\n"
                     for r in self._runs(conn, ids)]
        return "".join(lines).encode("utf-8")

    def export_csv(self, ids: Iterable[int]) -> bytes:
        """The project's CSV (``csvfile.csv_bytes``): a row per run, the dict columns as
        JSON text in their cells."""
        header = ["id", "kind", "created", "name", "source", "method", "seconds",
                  "settings", "inputs", "outputs", "scores"]
        with self._connect() as conn:
            runs = list(self._runs(conn, ids))
        return csv_bytes(header, ([str(r.id), r.kind, r.created, r.name, r.source, r.method,
                                   repr(r.seconds), *(None if v is None else
                                                      json.dumps(v, ensure_ascii=False)
                                                      for v in (r.settings, r.inputs,
                                                                r.outputs, r.scores))]
                                  for r in runs))


def open_history(config: Optional[HistoryConfig] = None) -> Optional[History]:
    """The history ``config`` (default: the environment's) names, or None when it is off.
    Raises HistoryError when the file cannot be used."""
    config = HistoryConfig.from_env() if config is None else config
    return History(config) if config.enabled else None
