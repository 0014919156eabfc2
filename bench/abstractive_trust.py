"""The abstractive summarizer's two trust rules end to end, on BBC validation articles:
names and numbers only from the document (``AbstractiveConfig.constrain_names``) and whole
sentences (``whole_sentences``), each off and on, one process, one document at a time.

    python bench/abstractive_trust.py --model DIR [--limit 12] [--threads 2] [--words W]

``--model``: an exported summarizer folder (the built-in one is under
``~/.cache/condense/models``). Each article is summarized at the default length
(automatic; ``--words``: at most W words) with the rules off (the model's own greedy
text), names and numbers only, and both.
Reported per setting: summaries the faithfulness screen flags, summaries that end
without terminal punctuation (mid-sentence), the notes the rules wrote, words, and the
median seconds per summary; then the summaries that differ between settings.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.abstractive.factory import make_abstractive  # noqa: E402
from summarizer.abstractive.seq2seq import AbstractiveConfig  # noqa: E402
from summarizer.evaluation.datasets import load_split  # noqa: E402
from summarizer.evaluation.faithfulness import check_faithfulness  # noqa: E402
from summarizer.types import DEFAULT_BUDGET, Budget, Document  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"
SETTINGS = {"off": dict(constrain_names=False, whole_sentences=False),
            "names": dict(constrain_names=True, whole_sentences=False),
            "both": dict(constrain_names=True, whole_sentences=True)}
WHOLE = re.compile(r"[.!?][\"'\u201d\u2019)]*$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--split", default="validation", choices=["test", "validation"])
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--words", type=int, default=None, help="a length in words instead of auto")
    args = parser.parse_args()
    budget = Budget(words=args.words) if args.words else DEFAULT_BUDGET
    pairs = load_split(args.data, args.split)[: args.limit]
    summarizers = {name: make_abstractive(AbstractiveConfig(model_dir=str(args.model), threads=args.threads,
                                                            **settings))
                   for name, settings in SETTINGS.items()}
    texts = {name: {} for name in SETTINGS}
    stats = {name: dict(flagged=0, unfinished=0, words=[], seconds=[], notes=Counter())
             for name in SETTINGS}
    for pair in pairs:
        doc = Document(pair.article, "en")
        for name, summarizer in summarizers.items():
            start = time.perf_counter()
            summary = summarizer(doc, budget)
            seconds = time.perf_counter() - start
            text = " ".join(summary.text.split("\n"))
            report = check_faithfulness(text, pair.article)
            s = stats[name]
            s["flagged"] += not report.ok
            s["unfinished"] += bool(text) and not WHOLE.search(text)
            s["words"].append(len(text.split()))
            s["seconds"].append(seconds)
            for note in summary.notes:
                if note.startswith(("Ended", "Let the", "No sentence", "Names")):
                    s["notes"][note.split(":")[0]] += 1
            texts[name][pair.id] = text
            print(f"{pair.id} {name:5} {seconds:5.2f} s flags {report.numbers + report.names}",
                  file=sys.stderr, flush=True)
    print(f"{len(pairs)} BBC {args.split} articles, {budget.describe()} length")
    for name, s in stats.items():
        notes = ", ".join(f"{k}: {v}" for k, v in sorted(s["notes"].items())) or "none"
        print(f"{name:5}: flagged {s['flagged']}, mid-sentence endings {s['unfinished']}, "
              f"median {statistics.median(s['words']):.0f} words, median "
              f"{statistics.median(s['seconds']):.2f} s; notes: {notes}")
    for pair in pairs:
        versions = {name: texts[name][pair.id] for name in SETTINGS}
        if len(set(versions.values())) > 1:
            print(f"\n{pair.id}")
            for name, text in versions.items():
                print(f"  {name + ':':7}{text}")


if __name__ == "__main__":
    main()
