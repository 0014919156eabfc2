"""Seconds per article of the built-in abstractive summarizer, one article at a time, as
the app and the CLI run it (constraints, whole sentences, guessed tokens: everything on).

    python bench/summarizer_speed.py [--models DIR,DIR] [--articles 8] [--rounds 3]
        [--threads 2] [--words 600]

Articles: the ``--articles`` BBC validation articles whose length is nearest ``--words``
words (issue #17's target is 3 s for a 600-word news article on 2 cores). Budget: the
command line's default. Each model folder (default: the built-in summarizer's current
folder, prepared if absent) is loaded once; then every round summarizes every article
with each model in turn (models alternate within a round, so a busy moment falls on
all alike); the first round is a warm-up and is not counted. Prints, per model, the
median over articles of each article's median seconds, and the ratio to the first
model measured side by side, plus whether the summaries are the same.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.abstractive.factory import make_abstractive  # noqa: E402
from summarizer.abstractive.seq2seq import AbstractiveConfig  # noqa: E402
from summarizer.documents.loaders import document_from_text  # noqa: E402
from summarizer.evaluation.datasets import load_split  # noqa: E402
from summarizer.types import DEFAULT_BUDGET  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"


def articles_near(words: int, n: int, data: Path):
    """The ``n`` validation articles whose word count is nearest ``words``."""
    pairs = load_split(data, "validation")
    pairs.sort(key=lambda p: (abs(len(p.article.split()) - words), p.id))
    return [document_from_text(p.article, source=p.id) for p in pairs[:n]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="", help="comma-separated model folders (default: built-in)")
    ap.add_argument("--articles", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--words", type=int, default=600)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    folders = [f for f in args.models.split(",") if f]
    if not folders:
        from runtime.builtin import SUMMARY_MODEL, ensure_model

        folders = [str(ensure_model(model=SUMMARY_MODEL))]
    docs = articles_near(args.words, args.articles, args.data)
    summarizers = [make_abstractive(AbstractiveConfig(model_dir=f, threads=args.threads)) for f in folders]
    times = [[[] for _ in docs] for _ in folders]
    texts = [[None for _ in docs] for _ in folders]
    for r in range(args.rounds + 1):
        for d, doc in enumerate(docs):
            for m, summarize in enumerate(summarizers):
                t0 = time.perf_counter()
                summary = summarize(doc, DEFAULT_BUDGET)
                elapsed = time.perf_counter() - t0
                if r:  # round 0 warms up
                    times[m][d].append(elapsed)
                texts[m][d] = summary.text
    per_article = [[statistics.median(ts) for ts in model] for model in times]
    words = [len(doc.text.split()) for doc in docs]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}; "
          f"{len(docs)} BBC validation articles of {min(words)}-{max(words)} words (median "
          f"{statistics.median(words):.0f}), {args.rounds} rounds, {args.threads} threads")
    result = {"articles": [d.source for d in docs], "words": words, "models": []}
    for m, folder in enumerate(folders):
        ratios = [a / b for a, b in zip(per_article[m], per_article[0])]
        same = sum(a == b for a, b in zip(texts[m], texts[0]))
        print(f"  {folder}: median {statistics.median(per_article[m]):.2f} s per article "
              f"(range {min(per_article[m]):.2f}-{max(per_article[m]):.2f}); "
              f"vs the first: {statistics.median(ratios):.2f}x time, {same}/{len(docs)} same summaries")
        result["models"].append({"folder": folder, "seconds": per_article[m],
                                 "median": statistics.median(per_article[m]),
                                 "ratio_to_first": statistics.median(ratios), "same_as_first": same})
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
