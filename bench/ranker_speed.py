"""The learned ranker's speed against TextRank and Lead: one article, and a whole batch.

    python bench/ranker_speed.py --data ../shared/data/bbc_news_summary/pairs.jsonl

1. One article of about 1,000 words (BBC validation articles joined until 1,000 words),
   cleaned once; each method then summarizes it at 3 sentences and at the automatic
   length, from the cleaned Document to the Summary (sentence splitting, features,
   scoring, selection), after one warm-up call that loads the model. Median of
   ``--repeats`` runs per method, methods alternating within each round.
2. Every BBC article (2,225) through ``python -m summarizer batch`` as a user runs it
   (whole process, both cores, JSONL in and out), once per method, alternating, median of
   ``--batch-repeats`` runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.evaluation.datasets import load_pairs, load_split  # noqa: E402
from summarizer.documents.loaders import document_from_text  # noqa: E402
from summarizer.registry import get_summarizer  # noqa: E402
from summarizer.types import Budget  # noqa: E402

METHODS = ("ranker", "textrank", "lead")


def article_of(pairs, words: int) -> str:
    parts, count = [], 0
    for p in pairs:
        parts.append(p.article.strip())
        count += len(p.article.split())
        if count >= words:
            break
    return "\n\n".join(parts)


def one_article(data: Path, repeats: int) -> dict:
    text = article_of(load_split(data, "validation"), 1000)
    doc = document_from_text(text)
    out = {"words": len(text.split())}
    for budget in (Budget(sentences=3), Budget(auto=True)):
        summarizers = {m: get_summarizer(m) for m in METHODS}
        for s in summarizers.values():
            s(doc, budget)  # warm-up: model load, jieba/pySBD/stemmer caches
        times = {m: [] for m in METHODS}
        for _ in range(repeats):
            for m, s in summarizers.items():
                t0 = time.perf_counter()
                s(doc, budget)
                times[m].append(time.perf_counter() - t0)
        out[budget.describe()] = {m: statistics.median(t) for m, t in times.items()}
    return out


def batch(data: Path, repeats: int) -> dict:
    times = {m: [] for m in METHODS}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        with src.open("w", encoding="utf-8") as f:
            for p in load_pairs(data):
                f.write(json.dumps({"id": p.id, "article": p.article}) + "\n")
        for r in range(repeats):
            for m in METHODS:
                out = Path(tmp) / f"{m}-{r}.jsonl"
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "summarizer", "batch", str(src), "--out", str(out),
                                "--method", m, "--no-progress"], cwd=ROOT, check=True,
                               stderr=subprocess.DEVNULL)
                times[m].append(time.perf_counter() - t0)
    return {m: statistics.median(t) for m, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/bbc_news_summary/pairs.jsonl")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--batch-repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    single = one_article(args.data, args.repeats)
    print(f"one article of {single['words']} words, median of {args.repeats} (s):")
    for budget in ("sentences=3", "auto"):
        print(f"  {budget:<12} " + "  ".join(f"{m} {single[budget][m]:.3f}" for m in METHODS))
    runs = batch(args.data, args.batch_repeats)
    print(f"batch of every BBC article, whole process, median of {args.batch_repeats} (s): "
          + "  ".join(f"{m} {t:.1f}" for m, t in runs.items()))


if __name__ == "__main__":
    main()
