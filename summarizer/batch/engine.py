"""Summarize a folder of files, a JSONL or a Parquet file of articles, crash-safe and resumable.

Every finished document is appended, one JSON line each and flushed at once, to a
journal beside the output (``.<OUT name>.journal``). A run killed at any point loses at
most the documents in flight; the next run with the same OUT reads the journal (and a
finished OUT, if there is one) and skips a document only when its record is a summary
made with the same settings (``settings_key``: method, length, language, and for
``abstractive`` the model's fingerprint and decoding settings) from the same article
(``input_sha256``, of the article text or the file's bytes). Failures, edited articles
and records of other settings are done again, and the run says how many were redone.
Only when every document has a record is OUT written, to a temporary file that is then
renamed over OUT, so OUT is either the old complete file or the new complete file, never
half of one.

An abstractive summary's record also says whether every number and name in it is in its
article (``faithful``, ``unsupported_numbers``, ``unsupported_names``: the screen of
``summarizer.evaluation.faithfulness``); OUT has those columns only for abstractive runs,
after the others, so files written before them read as they did (missing flags read as
None: not checked).

Before any work the paths are checked (OUT is not the input, not a folder, its folder
exists and can be written) and a lock file beside OUT (``.<OUT name>.lock``, held with
``flock``, so the kernel releases it when its process dies) keeps a second batch from
writing the same OUT at once.

The per-document work (``task_record``) and the journal (``Journal``) are shared with the
Ray engine (``summarizer.batch.ray_engine``), so both engines give the same records.
"""
from __future__ import annotations

import csv
import errno
import glob
import hashlib
import io
import json
import os
import re
import shlex
import stat
import sys
from dataclasses import fields as dataclass_fields
from collections import Counter
from dataclasses import dataclass, field
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from summarizer.base import Summarizer
from summarizer.batch.progress import PartProgress, PartTracker
from summarizer.results.csvfile import csv_bytes, read_csv
from summarizer.results.files import FLAG_COLUMNS, cell_text, flags_from_cells, flags_of
from summarizer.errors import CondenseError, DocumentError
from summarizer.languages import DETECTION_REVISION
from summarizer.documents.loaders import LoaderConfig, document_from_text, iter_supported_files, load_document
from summarizer.registry import ABSTRACTIVE, DEFAULT_METHOD, METHODS, get_summarizer
from summarizer.types import DEFAULT_BUDGET, Budget

if TYPE_CHECKING:  # importing it for real would load onnxruntime for extractive batches
    from summarizer.abstractive.seq2seq import AbstractiveConfig

# What summarizing one document gives; ``lang`` is the language it was read in (detected
# unless --lang said), so a reader sees it and scoring against references can use it.
WORKER_FIELDS = ("id", "summary", "method", "error", "lang")
# ... and what OUT holds: those, plus what the record was made from, for reruns to check.
FIELDS = WORKER_FIELDS + ("settings", "input_sha256")
# ... and for abstractive runs the faithfulness flags (a bool, two lists of strings).
FLAG_FIELDS = FLAG_COLUMNS
OUTPUT_SUFFIXES = (".jsonl", ".csv", ".parquet")


@dataclass(frozen=True)
class BatchConfig:
    method: str = DEFAULT_METHOD
    budget: Budget = DEFAULT_BUDGET
    lang: Optional[str] = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    loader: LoaderConfig = LoaderConfig()
    progress: bool = True
    abstractive: Optional["AbstractiveConfig"] = None  # for method "abstractive"
    # "spawn" is safe beside threads (the app); "fork" starts faster and lets tests
    # substitute functions in the workers.
    start_method: str = "spawn"


@dataclass(frozen=True)
class BatchStats:
    total: int
    skipped: int  # finished in an earlier run, with these settings, from this article
    summarized: int
    failed: int
    redone: int = 0  # of those summarized or failed: had a summary of another article or settings


class OutputError(DocumentError):
    """``--out`` cannot be written (it is the input, a folder, under a missing or read-only
    folder, the disk is full, or another batch holds it)."""


# A task is (id, path or None, article text or None, error or None).
Task = Tuple[str, Optional[str], Optional[str], Optional[str]]

_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` writable as UTF-8: a file name that is not valid UTF-8 (os.walk hands it
    over with surrogate escapes) or a JSON id with a lone surrogate gets U+FFFD there."""
    return _SURROGATE.sub("\ufffd", text)


def iter_tasks(source: Path) -> Iterator[Task]:
    """Folder: every supported file, id = path relative to the folder (POSIX slashes).
    JSONL: every record, id = its ``id`` field (or ``line-N``), text = its ``article``."""
    if source.is_dir():
        root = source.resolve()
        for path in iter_supported_files(source):
            rid = printable(path.relative_to(source).as_posix())
            if not path.resolve().is_relative_to(root):  # a symlink out of the folder
                yield rid, None, None, (f"{printable(str(path))}: a link to a file outside the input folder. "
                                        "Copy the file into the folder to include it")
                continue
            yield rid, str(path), None, None
        return
    if source.suffix == ".parquet" and source.is_file():
        import pyarrow.parquet as pq

        ids = parquet_ids(source)
        articles = pq.read_table(source, columns=["article"]).column("article").to_pylist()
        yield from (article_task(source, rid, a) for rid, a in zip(ids, articles, strict=True))
        return
    if source.suffix != ".jsonl" or not source.is_file():
        raise DocumentError(
            str(source), "batch input must be a folder or a .jsonl or .parquet file",
            'Give a folder of documents or a JSONL (or Parquet) file of {"id", "article"} records',
        )
    with source.open(encoding="utf-8-sig", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                yield f"line-{n}", None, None, f"{source}: line {n} is not valid JSON ({e.msg}). Fix that line"
                continue
            if not isinstance(rec, dict):
                yield f"line-{n}", None, None, f"{source}: line {n} is not a JSON object. Write {{\"id\", \"article\"}}"
                continue
            rid = printable(str(rec.get("id") if rec.get("id") is not None else f"line-{n}"))
            yield article_task(source, rid, rec.get("article"))


def article_task(source: Path, rid: str, article: object) -> Task:
    """The task of one JSONL record or Parquet row: its article, or why it has none."""
    rid = printable(rid)
    if not isinstance(article, str):
        return rid, None, None, f"{source}: record {rid!r} has no 'article' text. Add an \"article\" field"
    return rid, None, article, None


def parquet_ids(source: Path) -> List[str]:
    """The ``id`` column of a Parquet input as strings, in row order (reads no articles).
    Raises when a column is missing or an id is null: a row needs an id to be resumed."""
    import pyarrow.parquet as pq

    names = pq.read_schema(source).names
    missing = [c for c in ("id", "article") if c not in names]
    if missing:
        raise DocumentError(str(source), f"no {', '.join(map(repr, missing))} column (has {names})",
                            "Write a table with an 'id' and an 'article' column")
    ids = pq.read_table(source, columns=["id"]).column("id").to_pylist()
    nulls = [n for n, i in enumerate(ids, 1) if i is None]
    if nulls:
        raise DocumentError(str(source), f"rows {nulls[:5]} have no id", "Give every row an id")
    return [str(i) for i in ids]


def check_unique(source: Path, ids: Sequence[str]) -> None:
    dupes = sorted(i for i, c in Counter(ids).items() if c > 1)
    if dupes:
        raise DocumentError(str(source), f"duplicate ids {dupes[:5]}", "Give every record a unique id")


def out_path(out: str | Path) -> Path:
    """``--out`` as a Path; ``"new.jsonl/"`` (meant as a folder) is refused here, because
    Path() would drop the slash and write a file of that name."""
    if isinstance(out, str) and out.endswith(("/", os.sep)):
        raise OutputError(out, "ends in a slash, so it names a folder",
                          "Give --out a file name, e.g. results.jsonl")
    return Path(out)


def check_paths(source: Path, out: Path) -> None:
    """Refuse, before any work, an OUT that the batch could not write or must not write."""
    if out.suffix not in OUTPUT_SUFFIXES:
        raise OutputError(str(out), "the output must end in .jsonl, .csv or .parquet",
                          "Choose --out results.jsonl, results.csv or results.parquet")
    if out.is_dir():
        raise OutputError(str(out), "is a folder", "Give --out a file name, e.g. results.jsonl")
    if out.exists() and not out.is_file():
        raise OutputError(str(out), "is not a regular file", "Give --out a new file name")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(str(out), f"{str(parent)!r} is a file, not a folder",
                          "Choose --out in a folder")
    if not parent.is_dir():
        raise OutputError(str(out), f"its folder {str(parent)!r} does not exist",
                          f"Create it first (mkdir -p {shlex.quote(str(parent))}) or choose another --out")
    if out.exists() and source.exists() and os.path.samefile(out, source):
        raise OutputError(str(out), "is the input file (or a link to it): writing the results "
                          "there would destroy the articles", "Choose another --out")


def settings_key(config: BatchConfig) -> str:
    """Everything in ``config`` that can change a summary, as one readable string; a record
    is reused by a rerun only when its ``settings`` equal this. Device and thread counts
    are left out: they change speed, not summaries."""
    b = config.budget  # describe() rounds a ratio to 6 digits; two that differ later differ here
    budget = b.describe() if b.ratio is None else f"ratio={b.ratio!r}"
    lang = config.lang or f"auto:{DETECTION_REVISION}"  # detection rules can change
    parts = [f"method={config.method}", f"budget={budget}", f"lang={lang}"]
    if config.method == "ranker":  # a retrained ranker copied into assets/ summarizes anew
        from summarizer.methods.ranker import DEFAULT_MODEL

        parts.append(f"model={model_fingerprint(DEFAULT_MODEL)}")
    a = config.abstractive
    if config.method == ABSTRACTIVE and a is not None:
        parts.append(f"model={model_fingerprint(Path(a.model_dir))}")
        parts += [f"{f.name}={getattr(a, f.name)}" for f in dataclass_fields(a)
                  if f.name not in ("model_dir", "device", "threads") and getattr(a, f.name) is not None]
    return " ".join(parts)


FINGERPRINT_CONTENT_LIMIT = 256 * 1024 * 1024  # bytes; larger files count by size and time


def model_fingerprint(folder: Path) -> str:
    """16 hex digits of SHA-256 over a model folder: every file's name and size, the content
    of each file up to ``FINGERPRINT_CONTENT_LIMIT`` (configs, tokenizer, most ONNX graphs)
    and the modification time of larger ones (hashing gigabytes at each start would cost
    seconds; a copied folder then counts as a new model, which only redoes work)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        digest.update(f"{path.relative_to(folder).as_posix()}\0{st.st_size}\0".encode())
        if st.st_size > FINGERPRINT_CONTENT_LIMIT:
            digest.update(str(st.st_mtime_ns).encode())
        else:
            digest.update(_file_sha256(path) or b"")
    return digest.hexdigest()[:16]


def _file_sha256(path: Path, max_bytes: Optional[int] = None) -> Optional[bytes]:
    """SHA-256 of a regular file's bytes; None for anything else, for a file over
    ``max_bytes`` (the loader refuses it anyway: no need to read 40 GB) or one that cannot
    be read. Opened without blocking: a FIFO named ``x.txt`` must not hang the batch."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None  # unreadable: the worker reports why
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (max_bytes is not None and info.st_size > max_bytes):
            return None
        digest = hashlib.sha256()
        with os.fdopen(fd, "rb", closefd=False) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.digest()
    except OSError:
        return None
    finally:
        os.close(fd)


def task_digest(task: Task, max_bytes: Optional[int] = None) -> Optional[str]:
    """16 hex digits of SHA-256 of a task's input (a file's bytes, or the article text);
    None when it has none (a bad record), is not a regular file, is over ``max_bytes`` or
    cannot be read, which never matches, so such a document is always tried again."""
    digest = task_sha256(task, max_bytes)
    return digest[:16] if digest is not None else None


def task_sha256(task: Task, max_bytes: Optional[int] = None) -> Optional[str]:
    """The whole SHA-256 (64 hex digits) that ``task_digest`` shortens, for a reader who
    checks a file against it (the app's run history)."""
    rid, path, text, error = task
    if error is not None:
        return None
    if path is not None:
        raw = _file_sha256(Path(path), max_bytes)
        return raw.hex() if raw is not None else None
    return text_sha256(text or "")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_digest(text: str) -> str:
    return text_sha256(text)[:16]


def task_record(task: Task, config: BatchConfig, *, summarizer: Optional[Summarizer] = None,
                on_part: Optional[Callable[[PartProgress], None]] = None) -> dict:
    """One document's record. Never raises for a bad document: its ``error`` says why.
    ``summarizer``: one built already (an engine's worker builds it once); default:
    built here from ``config``. ``on_part``: told each step of an abstractive summary (a
    long document is summarized in parts, then combined; ``summarizer.batch.progress``).

    An abstractive summary gets the faithfulness flags (``FLAG_FIELDS``); other records
    have none."""
    rid, path, text, error = task
    record: dict = {"id": rid, "summary": None, "method": config.method, "error": error,
                    "lang": None}
    if error is not None:
        return record
    try:
        if path is not None:
            doc = load_document(path, config=config.loader, lang=config.lang)
        else:
            doc = document_from_text(text or "", source=rid, lang=config.lang, config=config.loader)
        if summarizer is None:
            summarizer = get_summarizer(config.method, abstractive=config.abstractive)
        record["lang"] = doc.lang
        if on_part is not None and config.method == ABSTRACTIVE:
            summary = summarizer(doc, config.budget, on_progress=PartTracker(on_part))
        else:
            summary = summarizer(doc, config.budget)
        record["summary"] = summary.text
        if summary.is_abstractive:
            from summarizer.evaluation.faithfulness import check_faithfulness

            record.update(flags_of(check_faithfulness(summary.text, doc.text, lang=doc.lang)))
    except CondenseError as e:
        record["error"] = str(e)
    except Exception as e:  # one bad document must never stop the batch
        record["error"] = f"{rid}: unexpected {type(e).__name__}: {e}. Please report this file"
    return {k: _printable_value(v) for k, v in record.items()}


def _printable_value(value):
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    return value


def fields_for(config: BatchConfig) -> Tuple[str, ...]:
    """The columns of OUT: ``FIELDS``, and the faithfulness flags for abstractive runs."""
    return FIELDS + FLAG_FIELDS if config.method == ABSTRACTIVE else FIELDS


def _work(args: Tuple[Task, BatchConfig]) -> Dict[str, Optional[str]]:
    return task_record(*args)  # one picklable argument, for Pool.imap_unordered


def tasks_for_files(folder: Path, paths: List[Path]) -> List[Task]:
    """Tasks for files found under ``folder``; ids are their paths relative to it."""
    tasks: List[Task] = []
    for path in paths:
        rid = path.relative_to(folder).as_posix() if folder in path.parents else path.name
        tasks.append((printable(rid), str(path), None, None))
    return tasks


def journal_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.journal")


def read_records(path: Path) -> Dict[str, dict]:
    """Records of a finished OUT (.jsonl, .csv or .parquet) or a journal, by id; later
    lines win. A torn last line (the writer was killed mid-write) is ignored."""
    if not path.is_file():
        return {}
    out: Dict[str, dict] = {}
    try:
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                return {str(r["id"]): r for r in pq.read_table(path).to_pylist()}
            except (pa.ArrowException, KeyError) as e:
                raise ValueError(f"not a results table ({e})") from None
        if path.suffix == ".csv":
            # flags come back as text (true/false, "; "-joined lists): typed again here
            return {rec["id"]: {**rec, **flags_from_cells(rec)}
                    for rec in read_csv(path) if rec.get("id") is not None}
    except (UnicodeDecodeError, csv.Error, ValueError) as e:
        raise OutputError(str(path), f"cannot be read back as results to resume from ({e})",
                          "Move it away or delete it, then rerun: every document is done again") from None
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # torn
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "id" in rec:
                out[str(rec["id"])] = rec
    return out


def _open_journal(path: Path) -> int:
    """A file descriptor appending after the last complete line (drops a torn tail).
    Unbuffered, so a failed write (disk full) leaves nothing queued to fail again."""
    if path.exists():
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            with path.open("r+b") as f:
                f.truncate(keep)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def arrow_schema(fields: Sequence[str]):
    """Strings, but ``faithful`` (bool) and the unsupported numbers and names (lists)."""
    import pyarrow as pa

    types = {"faithful": pa.bool_(), "unsupported_numbers": pa.list_(pa.string()),
             "unsupported_names": pa.list_(pa.string())}
    return pa.schema([(k, types.get(k, pa.string())) for k in fields])


def _encode(out: Path, records: List[dict], fields: Sequence[str] = FIELDS) -> bytes:
    rows = [{k: r.get(k) for k in fields} for r in records]
    if out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(fields)), sink)
        return sink.getvalue().to_pybytes()
    if out.suffix == ".csv":
        return csv_bytes(fields, ([cell_text(r[k]) for k in fields] for r in rows))
    buf = io.StringIO()
    for r in rows:
        buf.write(json.dumps(r, ensure_ascii=False) + "\n")
    return buf.getvalue().encode("utf-8")


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_atomic(out: Path, records: List[dict], fields: Sequence[str] = FIELDS) -> None:
    data = _encode(out, records, fields)
    for stale in out.parent.glob(f".{glob.escape(out.name)}.tmp-*"):  # left by a run killed mid-write
        stale.unlink(missing_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        _write_file(tmp, data)
        os.replace(tmp, out)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _why(e: OSError) -> str:
    return "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else (e.strerror or str(e))


class BatchLock:
    """``.<OUT name>.lock`` beside OUT, held with ``flock`` for the whole run: a second batch
    on the same OUT is refused at once. The kernel drops the lock when its holder dies, so
    a lock file left by a killed run is simply taken over. Creating it is also the check
    that OUT's folder can be written, before any work."""

    def __init__(self, out: Path) -> None:
        self.out, self.path = out, out.with_name(f".{out.name}.lock")
        self._fd: Optional[int] = None

    def __enter__(self) -> "BatchLock":
        import fcntl  # POSIX; the batch engine runs on Linux and macOS

        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise OutputError(str(self.out), f"cannot write in {str(self.out.parent)!r} ({_why(e)})",
                                  "Choose --out in a folder you can write to") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise OutputError(str(self.out), f"another batch (process {holder}) is writing "
                                  "this output now", "Wait for it to finish, or choose another --out") from None
            try:  # the holder before us may have removed the file after we opened it
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)  # while still held, so no one locks a removed file
        os.close(self._fd)


class Journal:
    """The records of one OUT: those of earlier runs (a finished OUT, then its journal), and
    each new one, stamped with ``settings`` and its input's digest, appended and flushed as
    it completes. ``finish`` writes OUT atomically.

        journal = Journal(out, settings_key(config), {id: task_digest(task), ...},
                          fields=fields_for(config))
        todo = [t for t in tasks if t[0] not in journal.finished]
        with journal:
            for rec in records: journal.keep(rec)
        journal.finish(ids)

    ``finished``: ids whose record is a summary of this input with these settings;
    ``stale``: ids that have a summary, but of another input or other settings.
    """

    def __init__(self, out: Path, settings: str, digests: Dict[str, Optional[str]], *,
                 fields: Sequence[str] = FIELDS) -> None:
        self.out, self.path = out, journal_path(out)
        self.settings, self.digests, self.fields = settings, digests, tuple(fields)
        # what a worker's record adds to the worker fields (the flags, for abstractive runs)
        self._worker_fields = WORKER_FIELDS + tuple(f for f in self.fields if f in FLAG_FIELDS)
        self.done: Dict[str, dict] = {**read_records(out), **read_records(self.path)}
        summaries = {i: r for i, r in self.done.items() if i in digests and r.get("error") is None}
        self.finished = {i for i, r in summaries.items() if digests[i] is not None
                         and r.get("settings") == settings and r.get("input_sha256") == digests[i]}
        self.stale = set(summaries) - self.finished
        self.failed = 0
        self.kept = 0
        self._fd: Optional[int] = None

    def __enter__(self) -> "Journal":
        try:
            self._fd = _open_journal(self.path)
        except OSError as e:
            raise OutputError(str(self.path), f"cannot write the journal ({_why(e)})",
                              "Free space or fix the folder's permissions, then rerun") from None
        return self

    def keep(self, rec: dict) -> None:
        rec = {**{k: rec.get(k) for k in self._worker_fields}, "settings": self.settings,
               "input_sha256": self.digests.get(rec["id"])}
        try:
            # survives SIGKILL of this process (no buffer); fsync happens at the end
            _write_all(self._fd, (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
        except OSError as e:
            raise OutputError(str(self.path), f"{_why(e)}: this run stopped after {self.kept} "
                              "documents, which are kept in this journal (a torn last line is "
                              "dropped)", "Free space, then rerun the same command to resume") from None
        self.failed += rec["error"] is not None
        self.kept += 1
        self.done[rec["id"]] = rec

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)

    def finish(self, ids: Sequence[str]) -> None:
        """Write OUT with one record per id, in this order, and drop the journal."""
        try:
            write_atomic(self.out, [self.done[i] for i in ids], self.fields)
        except OSError as e:
            raise OutputError(str(self.out), f"could not write the results ({_why(e)}); every "
                              f"record is kept in {self.path.name} (and an earlier {self.out.name}, "
                              "if any, is unchanged)",
                              "Free space or fix the folder, then rerun the same command: "
                              "it writes the output without summarizing again") from None
        self.path.unlink(missing_ok=True)


def check_method(config: BatchConfig) -> None:
    """Fail before any work on an unknown method or an abstractive run without a model."""
    if config.method not in METHODS or (config.method == ABSTRACTIVE and config.abstractive is None):
        get_summarizer(config.method, abstractive=config.abstractive)


IN_FLIGHT_PER_WORKER = 2


def _pool(workers: int, config: BatchConfig) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=get_context(config.start_method))


def _in_processes(jobs: List[Tuple[Task, BatchConfig]], config: BatchConfig) -> Iterator[dict]:
    """Records of ``jobs`` from a process pool, in completion order.

    At most two jobs per worker are in flight (one running, one queued so the worker never
    waits for the parent), so when a worker dies outright (a segfault, the kernel's
    out-of-memory killer) the pool breaks with a short list of suspects.
    Each suspect is then run alone in a fresh process: the one that kills it again gets
    an error record, the others their summaries, and the rest go on in a new pool.
    """
    pending = list(jobs)
    while pending:
        suspects: List[Tuple[Task, BatchConfig]] = []
        with _pool(config.workers, config) as pool:
            queue = iter(pending)
            running = {}
            for job in queue:
                running[pool.submit(_work, job)] = job
                if len(running) == IN_FLIGHT_PER_WORKER * config.workers:
                    break
            done_ids = set()
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        # Leave the job in ``running`` until its result is in hand: the
                        # future that raises BrokenProcessPool may be the culprit's, and
                        # must be among the suspects, or it would be retried forever.
                        rec = fut.result()  # BrokenProcessPool if a worker died
                        job = running.pop(fut)
                        done_ids.add(job[0][0])
                        yield rec
                        nxt = next(queue, None)
                        if nxt is not None:
                            running[pool.submit(_work, nxt)] = nxt
            except BrokenProcessPool:
                suspects = list(running.values())
        pending = [j for j in pending if j[0][0] not in done_ids and j not in suspects]
        for job in suspects:
            yield _alone(job, config)


def _alone(job: Tuple[Task, BatchConfig], config: BatchConfig) -> dict:
    """One job in a process of its own; an error record if that process dies too."""
    rid = job[0][0]
    try:
        with _pool(1, config) as pool:
            return pool.submit(_work, job).result()
    except BrokenProcessPool:
        return {"id": rid, "summary": None, "method": config.method,
                "error": f"{rid}: the worker process died on this document (out of memory, or a "
                         "crash in a native library). Check the file, or give it its own run"}


def run_batch(source: str | Path, out: str | Path, config: BatchConfig = BatchConfig()) -> BatchStats:
    source, out = Path(source), out_path(out)
    check_paths(source, out)
    check_method(config)
    if config.method == ABSTRACTIVE:
        get_summarizer(config.method, abstractive=config.abstractive)  # model loads here
    with BatchLock(out):
        return _run_locked(source, out, config)


def _run_locked(source: Path, out: Path, config: BatchConfig) -> BatchStats:
    tasks = list(iter_tasks(source))
    ids = [t[0] for t in tasks]
    check_unique(source, ids)
    journal = Journal(out, settings_key(config),
                      {t[0]: task_digest(t, config.loader.max_bytes) for t in tasks},
                      fields=fields_for(config))
    todo = [t for t in tasks if t[0] not in journal.finished]
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="summarizing", unit="doc", file=sys.stderr,
               disable=not config.progress, dynamic_ncols=True)
    with journal:
        jobs = [(t, config) for t in todo]
        if config.workers > 1 and len(jobs) > 1:
            for rec in _in_processes(jobs, config):
                journal.keep(rec)
                bar.update(1)
        else:
            for job in jobs:
                journal.keep(_work(job))
                bar.update(1)
    bar.close()
    journal.finish(ids)
    return BatchStats(len(tasks), len(tasks) - len(todo), len(todo) - journal.failed,
                      journal.failed, redone=len(journal.stale))
