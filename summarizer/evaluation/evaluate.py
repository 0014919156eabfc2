"""ROUGE of several methods on a set of pairs, with bootstrap intervals.

Every method summarizes every article under the same budget; a document a method
cannot summarize scores 0 for it (and is counted in ``failures``), so methods are
always compared on the same documents.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from summarizer.evaluation.datasets import Pair
from summarizer.errors import CondenseError
from summarizer.documents.loaders import LoaderConfig, document_from_text
from summarizer.registry import ABSTRACTIVE, get_summarizer
from summarizer.evaluation.rouge import Interval, Score, aggregate, make_scorer, score_pair
from summarizer.types import Budget

REPORTED = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@dataclass(frozen=True)
class MethodResult:
    method: str
    documents: int
    failures: int
    scores: Dict[str, Interval]  # rouge type -> F1 mean and 95% interval, x 100
    seconds: float = 0.0  # summarizing time summed over documents (not scoring, not loading)


@dataclass(frozen=True)
class EvaluationReport:
    split: str
    budget: str
    results: List[MethodResult]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def table(self) -> str:
        head = f"{'method':<14} " + " ".join(f"{k:>22}" for k in REPORTED)
        lines = [
            f"ROUGE F1 x 100, mean [95% bootstrap interval]; split={self.split}, budget={self.budget}",
            head,
        ]
        for r in self.results:
            cells = " ".join(
                f"{r.scores[k].mean:6.2f} [{r.scores[k].low:6.2f},{r.scores[k].high:6.2f}]"
                for k in REPORTED
            )
            extra = f"  ({r.failures} failed)" if r.failures else ""
            lines.append(f"{r.method:<14} {cells}{extra}")
        lines.append(f"documents: {self.results[0].documents if self.results else 0}")
        return "\n".join(lines)


_ZERO = {k: Score(0.0, 0.0, 0.0) for k in REPORTED}


def _score_one(args) -> Tuple[List[Optional[Dict[str, Score]]], List[float]]:
    """Worker: every method's ROUGE on one pair (None where the method failed) and the
    seconds each method took to summarize it."""
    pair, methods, budget, abstractive, loader = args
    out: List[Optional[Dict[str, Score]]] = []
    times: List[float] = []
    try:
        doc = document_from_text(pair.article, source=pair.id, config=loader)
    except CondenseError:
        return [None] * len(methods), [0.0] * len(methods)
    scorer = make_scorer(lang=doc.lang)  # the reference is in the article's language
    for m in methods:
        t0 = time.perf_counter()
        try:
            summary = get_summarizer(m, abstractive=abstractive)(doc, budget)
        except CondenseError:
            out.append(None)
        else:
            out.append(score_pair(pair.reference, summary.text, scorer=scorer))
        times.append(time.perf_counter() - t0)
    return out, times


def evaluate(
    pairs: Sequence[Pair],
    methods: Sequence[str],
    budget: Budget,
    *,
    split: str = "all",
    workers: Optional[int] = None,
    seed: int = 0,
    abstractive=None,
    loader: LoaderConfig = LoaderConfig(),
    on_progress: Optional[Callable[[int, int], None]] = None,
) -> EvaluationReport:
    """``abstractive``: an AbstractiveConfig when "abstractive" is among the methods.
    The model then runs in this process (onnxruntime uses every core itself).
    ``on_progress(done, total)`` is called after each pair when running in one process
    (``workers=1``), for callers that show progress."""
    for m in methods:
        get_summarizer(m, abstractive=abstractive)  # fail fast, before any work
    if ABSTRACTIVE in methods:
        workers = 1
    workers = workers or os.cpu_count() or 1
    jobs = [(p, tuple(methods), budget, abstractive, loader) for p in pairs]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_score_one, jobs, chunksize=8))
    else:
        rows = []
        for j in jobs:
            rows.append(_score_one(j))
            if on_progress is not None:
                on_progress(len(rows), len(jobs))
    results = []
    for j, m in enumerate(methods):
        column = [row[j] for row, _ in rows]
        failures = sum(c is None for c in column)
        filled = [c if c is not None else _ZERO for c in column]
        seconds = sum(times[j] for _, times in rows)
        results.append(MethodResult(m, len(column), failures, aggregate(filled, seed=seed), seconds))
    return EvaluationReport(split, budget.describe(), results)
