"""Batch summarization on Ray Data: the local engine's records, from a pool of actors that
can span a cluster.

    run_batch_ray(source, out, BatchConfig(method="textrank"), RayConfig(address=None))

The input becomes a Dataset of tasks: a folder is listed and a JSONL parsed by
``engine.iter_tasks`` in this process (the same listing rules, symlink errors and bad-line
records as the local engine); a Parquet file's row groups are read by Ray tasks. Each actor of
a ``map_batches`` pool builds its summarizer once (for ``abstractive`` it loads the ONNX
model once) and turns each task into a record with ``engine.task_record``, the code the local
engine runs per document, so a bad document becomes an error record, never a failed job.
Records stream back to this process, go to the journal as they arrive, and at the end
``engine.Journal`` writes OUT in input order to a temporary file renamed over OUT. A
rerun after a crash skips what the journal holds, as with the local engine.

Where things run: the actors open a folder's files by path and Ray tasks open a Parquet
file, so those must be at the same path on every node (shared storage); a JSONL's
articles travel through Ray's object store. OUT and its journal are written here.

Ray is optional (``requirements-ray.txt``); it is imported only when a function here runs.
"""
from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional

from summarizer.batch.engine import (
    FLAG_FIELDS, WORKER_FIELDS, BatchConfig, BatchLock, BatchStats, Journal, Task, arrow_schema,
    article_task, check_method, check_paths, check_unique, fields_for, iter_tasks, out_path,
    parquet_ids, settings_key, task_digest, task_record, text_digest)
from summarizer.errors import CondenseError
from summarizer.registry import ABSTRACTIVE, get_summarizer

ROOT = Path(__file__).resolve().parents[2]  # on every worker's PYTHONPATH
TASK_FIELDS = ("id", "path", "text", "error")  # the columns of a task row (engine.Task)


@dataclass(frozen=True)
class RayConfig:
    address: Optional[str] = None  # None: start a local instance; "auto", "HOST:6379": join one
    workers: Optional[int] = None  # actors; None: one per CPU of the instance (or cluster)
    batch_size: int = 32  # documents an actor summarizes per call


def _ray():
    try:
        import ray
    except ImportError:
        raise CondenseError("--engine ray needs Ray: pip install -r requirements-ray.txt") from None
    return ray


def connect(address: Optional[str] = None, *, num_cpus: Optional[int] = None) -> bool:
    """Start a local Ray instance with ``num_cpus`` CPUs (``address`` None) or join the
    cluster at ``address``. Returns False when this process was connected already, in
    which case the caller must leave the connection alone."""
    ray = _ray()
    if ray.is_initialized():
        return False
    # Workers import this package: put the project on their path (on a cluster, the
    # project must sit at the same path on every node, see docs/SCALING.md).
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    common = dict(runtime_env={"env_vars": {"PYTHONPATH": path}}, logging_level=logging.WARNING)
    if address is None:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, **common)
        return True
    try:
        ray.init(address=address, **common)
    except ConnectionError as e:
        raise CondenseError(
            f"cannot join a Ray cluster at {address!r} ({e}). Start one with `ray start --head` "
            "and pass the address it prints; with Ray's token authentication (the default), "
            "export RAY_AUTH_MODE=token and copy the head's ~/.ray/auth_token here") from None
    return True


class SummarizeActor:
    """One actor of the pool: builds the summarizer once, then maps task rows to records."""

    def __init__(self, config: BatchConfig) -> None:
        self.config = config
        self.summarizer = get_summarizer(config.method, abstractive=config.abstractive)

    def __call__(self, batch):  # pyarrow.Table of task rows -> pyarrow.Table of records
        tasks = [tuple(row[k] for k in TASK_FIELDS) for row in batch.to_pylist()]
        return _table([task_record(t, self.config, summarizer=self.summarizer) for t in tasks])


def read_row_groups(batch, *, skip: frozenset):
    """Rows (path, group) -> the task rows of those Parquet row groups, without the ids
    finished earlier."""
    import pyarrow.parquet as pq

    tasks: List[Task] = []
    for row in batch.to_pylist():
        table = pq.ParquetFile(row["path"]).read_row_group(row["group"], columns=["id", "article"])
        tasks.extend(article_task(Path(row["path"]), str(r["id"]), r["article"]) for r in table.to_pylist())
    return _task_table([t for t in tasks if t[0] not in skip])


def _table(records: List[Dict[str, Optional[str]]]):
    import pyarrow as pa

    # every column, the flags too: a batch mixes summaries with and without them (failures)
    return pa.Table.from_pylist(records, schema=arrow_schema(WORKER_FIELDS + FLAG_FIELDS))


def _task_table(tasks: List[Task]):
    import pyarrow as pa

    rows = [dict(zip(TASK_FIELDS, t, strict=True)) for t in tasks]
    return pa.Table.from_pylist(rows, schema=pa.schema([(k, pa.string()) for k in TASK_FIELDS]))


def _per_actor(config: BatchConfig) -> tuple[BatchConfig, int]:
    """The config the actors get and the CPUs each reserves: for ``abstractive``,
    onnxruntime's threads (0, one per core, would oversubscribe a shared node: 1)."""
    if config.method != ABSTRACTIVE or config.abstractive is None:
        return config, 1
    threads = config.abstractive.threads or 1
    return replace(config, abstractive=replace(config.abstractive, threads=threads)), threads


def run_batch_ray(source: str | Path, out: str | Path, config: BatchConfig = BatchConfig(),
                  ray_config: RayConfig = RayConfig()) -> BatchStats:
    """``engine.run_batch`` on Ray; ``config.workers`` is not used (``ray_config.workers``
    sizes the pool, and a local instance gets that many CPUs)."""
    source, out = Path(source), out_path(out)
    check_paths(source, out)
    check_method(config)
    config, cpus = _per_actor(config)
    with BatchLock(out):
        parquet = source.suffix == ".parquet" and source.is_file()
        tasks = [] if parquet else list(iter_tasks(source))
        ids = parquet_ids(source) if parquet else [t[0] for t in tasks]
        check_unique(source, ids)
        digests = (dict(zip(ids, parquet_digests(source), strict=True)) if parquet
                   else {t[0]: task_digest(t, config.loader.max_bytes) for t in tasks})
        journal = Journal(out, settings_key(config), digests, fields=fields_for(config))
        todo = sum(i not in journal.finished for i in ids)
        if todo:
            _summarize_on_ray(source, None if parquet else tasks, journal, todo, config, cpus, ray_config)
        journal.finish(ids)
    return BatchStats(len(ids), len(ids) - todo, todo - journal.failed, journal.failed,
                      redone=len(journal.stale))


def parquet_digests(source: Path) -> List[Optional[str]]:
    """``engine.task_digest`` of each row's article, in row order, one batch of rows in
    memory at a time (the articles themselves are read by Ray tasks)."""
    import pyarrow.parquet as pq

    return [text_digest(a) if isinstance(a, str) else None
            for b in pq.ParquetFile(source).iter_batches(columns=["article"])
            for a in b.column("article").to_pylist()]


def _summarize_on_ray(source: Path, tasks: Optional[List[Task]], journal: Journal, todo: int,
                      config: BatchConfig, cpus: int, ray_config: RayConfig) -> None:
    """Summarize the unfinished ``tasks`` (None: the rows of the Parquet ``source``) on a
    pool of actors and keep each record in ``journal`` as it arrives."""
    ray = _ray()
    import pyarrow.parquet as pq
    from ray.data import DataContext
    from tqdm import tqdm

    workers = ray_config.workers
    started = connect(ray_config.address, num_cpus=workers * cpus if workers else None)
    try:
        DataContext.get_current().enable_progress_bars = False  # ours counts documents
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset INFO lines
        pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus)
        if tasks is None:
            # Row groups are read by tasks that ask for no CPU: the actors hold them all.
            # (Ray's read_parquet lists files in a task that needs a CPU, and waits for ever.)
            groups = pq.ParquetFile(source).num_row_groups
            ds = ray.data.from_items([{"path": str(source), "group": g} for g in range(groups)])
            ds = ds.map_batches(read_row_groups, batch_format="pyarrow", batch_size=1, num_cpus=0,
                                fn_kwargs={"skip": frozenset(journal.finished)})
        else:
            table = _task_table([t for t in tasks if t[0] not in journal.finished])
            # blocks of about one actor call (at most 200, at least one per actor), so
            # the pool shares the work evenly without a scheduling cost per document
            n = table.num_rows
            step = max(1, min(ray_config.batch_size, -(-n // pool)), -(-n // 200))
            ds = ray.data.from_arrow([table.slice(i, step) for i in range(0, n, step)])
        ds = ds.map_batches(SummarizeActor, fn_constructor_kwargs={"config": config},
                            compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=cpus,
                            batch_size=ray_config.batch_size, batch_format="pyarrow")
        bar = tqdm(total=todo, desc=f"summarizing on Ray ({pool} actors)", unit="doc",
                   file=sys.stderr, disable=not config.progress, dynamic_ncols=True)
        with journal:
            try:
                for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                    for rec in batch.to_pylist():
                        journal.keep(rec)
                        bar.update(1)
            except ray.exceptions.RayActorError as e:
                if not e.actor_init_failed:
                    raise
                # the summarizer could not be built (a missing model, say): the last line
                # of the worker's traceback is the error, and it names the fix
                cause = [line for line in (e.error_msg or "").splitlines() if line.strip()][-1:]
                # "runtime.text.TokenizerError: DIR/tokenizer.json: ..." -> the message alone
                said = re.sub(r"^[\w.]+(Error|Exception): ", "", "".join(cause).strip())
                raise CondenseError(f"a Ray worker could not build the {config.method!r} "
                                    f"summarizer: {said}") from None
        bar.close()
    finally:
        if started:
            ray.shutdown()
