"""ROUGE of several methods on a set of pairs, with bootstrap intervals.

Every method summarizes every article under the same budget; a document a method
cannot summarize scores 0 for it (and is counted in ``failures``), so methods are
always compared on the same documents.

Next to ROUGE, each method's summaries are described by their mean length in words, how
many per 100 documents hold a number or name the article lacks (``check_faithfulness``)
and, for an abstractive method, how many per 100 stop inside a sentence: so that a
method is judged at the length it actually wrote, and not only by its overlap.

A method named ``BASE@OTHER`` (``lead@abstractive``) is BASE at the length OTHER wrote for
the same document: its budget is ``Budget(words=n)`` with n the words of OTHER's summary
(OTHER comes earlier in the list). That is how a generated summary is put next to Lead
"at the same length" when it does not fill the set's budget.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from summarizer.abstractive.endings import MID_SENTENCE, ends_sentence
from summarizer.base import Summarizer
from summarizer.evaluation.compare import word_count
from summarizer.evaluation.datasets import Pair
from summarizer.evaluation.faithfulness import check_faithfulness
from summarizer.errors import CondenseError
from summarizer.documents.loaders import LoaderConfig, document_from_text
from summarizer.registry import ABSTRACTIVE, get_summarizer
from summarizer.evaluation.rouge import Interval, Score, aggregate, make_scorer, score_pair
from summarizer.types import Budget, Summary

REPORTED = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@dataclass(frozen=True)
class MethodResult:
    method: str
    documents: int
    failures: int
    scores: Dict[str, Interval]  # rouge type -> F1 mean and 95% interval, x 100
    seconds: float = 0.0  # summarizing time summed over documents (not scoring, not loading)
    # Defaults, so that results saved before these existed still load.
    words: float = 0.0  # mean words per summary, over the documents that did not fail
    flagged_per_100: float = 0.0  # summaries per 100 documents that check_faithfulness flags
    # Generated summaries per 100 documents that end without terminal punctuation, for
    # whatever reason ("open"); None for extractive methods, whose summaries are whole
    # units of the document. A headline or chat line the model itself ended there counts.
    truncated_per_100: Optional[float] = None
    # ... that stop inside a sentence because decoding did ("cut": the summarizer's own
    # ending note, abstractive/endings.py); None for extractive methods and for results
    # saved before this field existed.
    mid_sentence_per_100: Optional[float] = None


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

def is_truncated(text: str) -> bool:
    """Whether ``text`` is non-empty and does not end a sentence. The end is the rule of
    abstractive/endings.py (``ends_sentence``), not its ``sentence_ends``, which for
    "punctuated" counts "founded in 2019." as unfinished (decoding may be writing "2019.5")."""
    text = text.rstrip()
    return bool(text) and not ends_sentence(text)


class Facts(NamedTuple):
    """What one summary is besides its ROUGE: its words, whether check_faithfulness
    flags it, whether it ends without terminal punctuation and whether decoding stopped
    it inside a sentence (both None: an extractive summary)."""

    words: int
    flagged: bool
    truncated: Optional[bool]
    mid_sentence: Optional[bool] = None


def summary_facts(summary: Summary, article: str, lang: str) -> Facts:
    """``summary``'s facts, checked against the ``article`` it summarizes."""
    # Only generated text can stop mid-sentence: an extractive summary is whole units,
    # and a chat turn often ends without punctuation, which would read as truncated.
    truncated = is_truncated(summary.text) if summary.is_abstractive else None
    mid = (MID_SENTENCE in summary.notes) if summary.is_abstractive else None
    flagged = not check_faithfulness(summary.text, article, lang=lang).ok
    return Facts(word_count(summary.text, lang), flagged, truncated, mid)


Row = Tuple[List[Optional[Dict[str, Score]]], List[float], List[Optional[Facts]]]


def matched(method: str) -> Tuple[str, Optional[str]]:
    """``"lead@abstractive"`` -> ("lead", "abstractive"); ``"lead"`` -> ("lead", None)."""
    base, _, other = method.partition("@")
    return base, (other or None)


def check_methods(methods: Sequence[str]) -> None:
    """CondenseError for a ``BASE@OTHER`` whose OTHER is not an earlier method."""
    for i, m in enumerate(methods):
        base, other = matched(m)
        if other is not None and (other not in methods[:i] or matched(other)[1] is not None):
            raise CondenseError(f"method {m!r}: {other!r} must be an earlier method of the list "
                                f"(itself not matched), e.g. --methods {other},{m}")


def _score_one(args) -> Row:
    """Worker: every method's ROUGE on one pair (None where the method failed), the
    seconds each method took to summarize it, and each summary's facts (None where the
    method failed)."""
    pair, methods, budget, abstractive, loader, given = args
    out: List[Optional[Dict[str, Score]]] = []
    times: List[float] = []
    facts: List[Optional[Facts]] = []
    try:
        doc = document_from_text(pair.article, source=pair.id, config=loader)
    except CondenseError:
        return [None] * len(methods), [0.0] * len(methods), [None] * len(methods)
    scorer = make_scorer(lang=doc.lang)  # the reference is in the article's language
    written: Dict[str, Optional[Facts]] = {}
    for m in methods:
        t0 = time.perf_counter()
        base, other = matched(m)
        try:
            wanted = budget
            if other is not None:
                if written.get(other) is None:
                    raise CondenseError(f"{other} wrote nothing to match")
                wanted = Budget(words=max(1, written[other].words))
            summarize = given.get(m) or get_summarizer(base, abstractive=abstractive)
            summary = summarize(doc, wanted)
        except CondenseError:
            written[m] = None
            times.append(time.perf_counter() - t0)
            out.append(None)
            facts.append(None)
            continue
        times.append(time.perf_counter() - t0)  # summarizing only, not the checks below
        out.append(score_pair(pair.reference, summary.text, scorer=scorer))
        facts.append(summary_facts(summary, pair.article, doc.lang))
        written[m] = facts[-1]
    return out, times, facts


def _per_100(count: int, documents: int) -> float:
    return 100.0 * count / documents if documents else 0.0


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
    summarizers: Optional[Mapping[str, Summarizer]] = None,
) -> EvaluationReport:
    """``abstractive``: an AbstractiveConfig when "abstractive" is among the methods.
    The model then runs in this process (onnxruntime uses every core itself).
    ``on_progress(done, total)`` is called after each pair when running in one process
    (``workers=1``), for callers that show progress. ``summarizers``: name -> summarizer
    to use instead of the registry's for that name (also run in this process)."""
    given = dict(summarizers or {})
    check_methods(methods)
    for m in methods:
        if m not in given:
            get_summarizer(matched(m)[0], abstractive=abstractive)  # fail fast, before any work
    if ABSTRACTIVE in methods or given:
        workers = 1  # the model, or a given summarizer, need not survive pickling
    workers = workers or os.cpu_count() or 1
    jobs = [(p, tuple(methods), budget, abstractive, loader, given) for p in pairs]
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
        column = [row[j] for row, _, _ in rows]
        failures = sum(c is None for c in column)
        filled = [c if c is not None else _ZERO for c in column]
        seconds = sum(times[j] for _, times, _ in rows)
        facts = [f[j] for _, _, f in rows if f[j] is not None]
        n = len(column)
        # A failed document wrote nothing: it is left out of the mean length (a 0 there
        # would make a method that fails often look short), but it stays in the per-100
        # denominators, as it does in ROUGE, so methods are counted over the same documents.
        words = sum(f.words for f in facts) / len(facts) if facts else 0.0
        flagged = _per_100(sum(f.flagged for f in facts), n)
        cut = [f.truncated for f in facts if f.truncated is not None]
        truncated = _per_100(sum(cut), n) if cut or m == ABSTRACTIVE else None
        mid = (_per_100(sum(bool(f.mid_sentence) for f in facts), n)
               if truncated is not None else None)
        results.append(MethodResult(m, n, failures, aggregate(filled, seed=seed), seconds,
                                    words, flagged, truncated, mid))
    return EvaluationReport(split, budget.describe(), results)
