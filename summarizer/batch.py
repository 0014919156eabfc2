"""Summarize a folder of files or a JSONL of articles, crash-safe and resumable.

Every finished document is appended, one JSON line each and flushed at once, to a
journal beside the output (``.<OUT name>.journal``). A run killed at any point loses at
most the documents in flight; the next run with the same OUT reads the journal (and a
finished OUT, if there is one), skips the documents already summarized and retries the
ones that failed. Only when every document has a record is OUT written, to a temporary
file that is then renamed over OUT, so OUT is either the old complete file or the new
complete file, never half of one.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Tuple

from .errors import CondenseError, DocumentError
from .loaders import LoaderConfig, document_from_text, iter_supported_files, load_document
from .registry import ABSTRACTIVE, DEFAULT_METHOD, METHODS, get_summarizer
from .types import DEFAULT_BUDGET, Budget

if TYPE_CHECKING:  # importing it for real would load onnxruntime for extractive batches
    from .abstractive import AbstractiveConfig

FIELDS = ("id", "summary", "method", "error")


@dataclass(frozen=True)
class BatchConfig:
    method: str = DEFAULT_METHOD
    budget: Budget = DEFAULT_BUDGET
    lang: Optional[str] = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    loader: LoaderConfig = LoaderConfig()
    progress: bool = True
    abstractive: Optional["AbstractiveConfig"] = None  # for method "abstractive"


@dataclass(frozen=True)
class BatchStats:
    total: int
    skipped: int  # finished in an earlier run
    summarized: int
    failed: int


# A task is (id, path or None, article text or None, error or None).
Task = Tuple[str, Optional[str], Optional[str], Optional[str]]


def iter_tasks(source: Path) -> Iterator[Task]:
    """Folder: every supported file, id = path relative to the folder (POSIX slashes).
    JSONL: every record, id = its ``id`` field (or ``line-N``), text = its ``article``."""
    if source.is_dir():
        root = source.resolve()
        for path in iter_supported_files(source):
            rid = path.relative_to(source).as_posix()
            if not path.resolve().is_relative_to(root):  # a symlink out of the folder
                yield rid, None, None, (f"{path}: a link to a file outside the input folder. "
                                        "Copy the file into the folder to include it")
                continue
            yield rid, str(path), None, None
        return
    if source.suffix != ".jsonl" or not source.is_file():
        raise DocumentError(
            str(source), "batch input must be a folder or a .jsonl file",
            'Give a folder of documents or a JSONL file of {"id", "article"} records',
        )
    with source.open(encoding="utf-8", errors="replace") as f:
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
            rid = str(rec.get("id") if rec.get("id") is not None else f"line-{n}")
            article = rec.get("article")
            if not isinstance(article, str):
                yield rid, None, None, f"{source}: record {rid!r} has no 'article' text. Add an \"article\" field"
                continue
            yield rid, None, article, None


def _work(args: Tuple[Task, BatchConfig]) -> Dict[str, Optional[str]]:
    (rid, path, text, error), config = args
    record: Dict[str, Optional[str]] = {"id": rid, "summary": None, "method": config.method, "error": error}
    if error is not None:
        return record
    try:
        if path is not None:
            doc = load_document(path, config=config.loader, lang=config.lang)
        else:
            doc = document_from_text(text or "", source=rid, lang=config.lang, config=config.loader)
        summarizer = get_summarizer(config.method, abstractive=config.abstractive)
        record["summary"] = summarizer(doc, config.budget).text
    except CondenseError as e:
        record["error"] = str(e)
    except Exception as e:  # one bad document must never stop the batch
        record["error"] = f"{rid}: unexpected {type(e).__name__}: {e}. Please report this file"
    return record


def tasks_for_files(folder: Path, paths: List[Path]) -> List[Task]:
    """Tasks for files found under ``folder``; ids are their paths relative to it."""
    tasks: List[Task] = []
    for path in paths:
        rid = path.relative_to(folder).as_posix() if folder in path.parents else path.name
        tasks.append((rid, str(path), None, None))
    return tasks


def summarize_task(task: Task, config: BatchConfig) -> Dict[str, Optional[str]]:
    """One document's record, summarized in this process (what run_batch does per
    document), for callers that report progress themselves, such as the app."""
    return _work((task, config))


def journal_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.journal")


def read_records(path: Path) -> Dict[str, dict]:
    """Records of a finished OUT (.jsonl or .csv) or a journal, by id; later lines win.
    A torn last line (the writer was killed mid-write) is ignored."""
    if not path.is_file():
        return {}
    out: Dict[str, dict] = {}
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            for rec in csv.DictReader(f):
                rec = {k: (v if v != "" else None) for k, v in rec.items()}
                out[rec["id"]] = rec
        return out
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


def _open_journal(path: Path):
    """Append handle positioned after the last complete line (drops a torn tail)."""
    if path.exists():
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            with path.open("r+b") as f:
                f.truncate(keep)
    return path.open("a", encoding="utf-8")


def write_atomic(out: Path, records: List[dict]) -> None:
    buf = io.StringIO()
    if out.suffix == ".csv":
        w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for r in records:
            w.writerow({k: r.get(k) for k in FIELDS})
    else:
        for r in records:
            buf.write(json.dumps({k: r.get(k) for k in FIELDS}, ensure_ascii=False) + "\n")
    for stale in out.parent.glob(f".{out.name}.tmp-*"):  # left by a run killed mid-write
        stale.unlink(missing_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)


def run_batch(source: str | Path, out: str | Path, config: BatchConfig = BatchConfig()) -> BatchStats:
    source, out = Path(source), Path(out)
    if out.suffix not in (".jsonl", ".csv"):
        raise DocumentError(str(out), "the output must end in .jsonl or .csv", "Choose --out results.jsonl or results.csv")
    if config.method not in METHODS:  # fail before any work
        get_summarizer(config.method)
    if config.method == ABSTRACTIVE:
        get_summarizer(config.method, abstractive=config.abstractive)  # model loads here
    tasks = list(iter_tasks(source))
    ids = [t[0] for t in tasks]
    dupes = sorted(i for i, c in Counter(ids).items() if c > 1)
    if dupes:
        raise DocumentError(str(source), f"duplicate ids {dupes[:5]}", "Give every record a unique id")
    journal = journal_path(out)
    done = {**read_records(out), **read_records(journal)}
    finished = {i for i, r in done.items() if r.get("error") is None and r.get("method") == config.method}
    todo = [t for t in tasks if t[0] not in finished]
    failed = 0
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="summarizing", unit="doc", file=sys.stderr,
               disable=not config.progress, dynamic_ncols=True)
    with _open_journal(journal) as log:
        def keep(rec):
            nonlocal failed
            failed += rec["error"] is not None
            log.write(json.dumps(rec, ensure_ascii=False) + "\n")
            log.flush()  # survives SIGKILL of this process; fsync happens at the end
            done[rec["id"]] = rec
            bar.update(1)

        jobs = [(t, config) for t in todo]
        if config.workers > 1 and len(jobs) > 1:
            with get_context("spawn").Pool(config.workers) as pool:
                for rec in pool.imap_unordered(_work, jobs, chunksize=4):
                    keep(rec)
        else:
            for job in jobs:
                keep(_work(job))
        os.fsync(log.fileno())
    bar.close()
    write_atomic(out, [done[i] for i in ids])
    journal.unlink(missing_ok=True)
    return BatchStats(len(tasks), len(tasks) - len(todo), len(todo) - failed, failed)
