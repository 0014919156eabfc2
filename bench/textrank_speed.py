"""Our vectorized TextRank against sumy's TextRank and LexRank, side by side.

    python bench/textrank_speed.py --data ../shared/data/bbc_news_summary/pairs.jsonl

Documents of 50, 200, 1,000 and 3,000 sentences are made by concatenating BBC *train*
articles. Every method gets the same pre-split sentences and is timed from there to
its scores, word tokenization and stemming included on both sides (sumy tokenizes
lazily inside its call, with our offline adapter). Each timing is the median of
``--repeats`` runs; ratios divide medians from the same run. Splitting the document
into sentences (shared by all methods) is timed apart.

"whole command" is what a user waits for: ``python -m summarizer summarize FILE --method
textrank --sentences 3`` on the same document written to a file, the whole process
(interpreter, imports, reading, splitting, ranking, printing), median of ``--repeats``
runs after one warm-up run; its ratio divides sumy TextRank's in-process time by it.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from cli_start import command, timed  # bench/ is on the path when a script there runs
from summarizer.evaluation.datasets import load_split
from summarizer.methods.sumy_methods import LexRank, SumyTextRank
from summarizer.methods.textrank import TextRank
from summarizer.nlp import Tokenizer, stem

SIZES = (50, 200, 1000, 3000)


def make_text(articles, n_sentences: int, tok: Tokenizer) -> str:
    parts, count = [], 0
    for a in articles:
        parts.append(a)
        count += len(tok.sentences(a))
        if count >= n_sentences:
            break
    sents = tok.sentences("\n\n".join(parts))[:n_sentences]
    return "\n".join(s.text for s in sents)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def whole_command(text: str, repeats: int) -> float:
    """Median wall time of the summarize command on ``text`` (after one warm-up run): the
    command and its timing are bench/cli_start.py's."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "document.txt"
        path.write_text(text, encoding="utf-8")
        cmd = command(path, "textrank")
        timed(cmd)
        return statistics.median(timed(cmd) for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sumy-repeats", type=int, default=3, help="sumy is slow at 3,000")
    ap.add_argument("--json", default="bench/results/textrank_speed.json")
    args = ap.parse_args()

    tok = Tokenizer("en")
    stem("warm")  # load the stemmer outside the timings
    articles = [p.article for p in load_split(args.data, "train")]
    rows = []
    for n in SIZES:
        text = make_text(articles, n, tok)
        split_s = median_time(lambda: tok.sentences(text), args.repeats)
        sents = tok.sentences(text)
        # the joined lines may split a sentence more or less than the articles did
        assert abs(len(sents) - n) <= n // 100, (len(sents), n)
        ours = median_time(lambda: TextRank().score(sents, tok), args.repeats)
        sumy_tr = median_time(lambda: SumyTextRank().score(sents, tok), args.sumy_repeats)
        sumy_lr = median_time(lambda: LexRank().score(sents, tok), args.sumy_repeats)
        whole = whole_command(text, args.repeats)
        row = {"sentences": len(sents), "split_s": split_s, "ours_textrank_s": ours, "whole_command_s": whole,
               "whole_command_vs_sumy_textrank": sumy_tr / whole,
               "sumy_textrank_s": sumy_tr, "sumy_lexrank_s": sumy_lr,
               "speedup_vs_sumy_textrank": sumy_tr / ours, "speedup_vs_sumy_lexrank": sumy_lr / ours}
        rows.append(row)
        print(json.dumps(row), flush=True)

    print("\n| sentences | ours TextRank (s) | sumy TextRank (s) | sumy LexRank (s) | "
          "vs sumy TextRank | vs sumy LexRank | sentence split (s) | whole command (s) | "
          "whole command vs sumy TextRank |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['sentences']:,} | {r['ours_textrank_s']:.4f} | {r['sumy_textrank_s']:.3f} | "
              f"{r['sumy_lexrank_s']:.3f} | {r['speedup_vs_sumy_textrank']:.0f}x | "
              f"{r['speedup_vs_sumy_lexrank']:.0f}x | {r['split_s']:.3f} | "
              f"{r['whole_command_s']:.2f} | {r['whole_command_vs_sumy_textrank']:.1f}x |")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
