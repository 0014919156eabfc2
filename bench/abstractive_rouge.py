"""ROUGE of an abstractive model on a BBC split, batched, with its speed per document.

    python bench/abstractive_rouge.py --model DIR --split test|validation [--limit N]
        [--max-new-tokens 320] [--batch-size B] [--threads 2] [--json FILE]

``--model``: an exported summarizer folder (seq2seq or ``training lm-summary``). Scores are
what ``python -m summarizer evaluate --methods abstractive`` reports
(rouge-score F1 x 100 with bootstrap intervals, ROUGE-Lsum on one sentence per line),
but the documents are summarized through ``summarize_many``, 8 at a time, which decodes
them as the summarizer chooses (``batch_rows``: batches of 8, or one by one with
prompt-lookup guesses for a decoder-only summarizer; ``--batch-size`` forces batches of B
without guesses; greedy outputs are the same either way, ``tests/test_lm_summary.py``). Also written: the mean
wall time per document and mean words per summary against the references', every
summary with what the faithfulness screen (``summarizer/evaluation/faithfulness.py``) flags in it
(numbers and names the article lacks), and three summaries to read.

Baselines scored in the same run on the same documents: Lead-3, and Lead and TextRank
given, document by document, the model summary's own length in words (``Budget(words=)``),
so that a longer output cannot win on length alone.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.abstractive.seq2seq import AbstractiveConfig, sentence_lines  # noqa: E402
from summarizer.abstractive.factory import make_abstractive  # noqa: E402
from summarizer.evaluation.datasets import load_split  # noqa: E402
from summarizer.evaluation.faithfulness import check_faithfulness  # noqa: E402
from summarizer.abstractive.decoder_only import drop_repeats  # noqa: E402
from summarizer.documents.loaders import document_from_text  # noqa: E402
from summarizer.registry import get_summarizer  # noqa: E402
from summarizer.evaluation.rouge import aggregate, make_scorer, score_pair  # noqa: E402
from summarizer.types import Budget  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"
REPORTED = ("rouge1", "rouge2", "rougeLsum")


def generate(folder: Path, docs: list, args: argparse.Namespace) -> tuple:
    """The model's summaries of ``docs`` in batches, and the seconds it took."""
    summarizer = make_abstractive(AbstractiveConfig(
        model_dir=str(folder), threads=args.threads, num_beams=1,
        max_new_tokens=args.max_new_tokens, batch_size=args.batch_size))
    budget = Budget(ratio=0.4)  # the length comes from --max-new-tokens and the end token
    start = time.perf_counter()
    summaries = []
    step = args.batch_size or 8
    for i in range(0, len(docs), step):
        summaries += summarizer.summarize_many(docs[i:i + step], budget)
        print(f"{len(summaries)}/{len(docs)} {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)
    return summaries, time.perf_counter() - start


def rescored(stored: dict, lang: str) -> SimpleNamespace:
    """A stored summary after ``drop_repeats``, in the sentence lines the abstractive
    summarizer writes."""
    text = drop_repeats(" ".join(stored["summary"].split("\n")))
    return SimpleNamespace(text=sentence_lines(text, lang), notes=stored.get("notes", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--split", default="test", choices=["test", "validation"])
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of the split")
    parser.add_argument("--max-new-tokens", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="documents decoded together (default: the summarizer's choice)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rescore", type=Path, default=None,
                        help="a --json this script wrote: score its summaries again after "
                             "today's post-processing of LM summaries (drop_repeats), without "
                             "generating (its timing is kept)")
    args = parser.parse_args()
    folder = args.model
    pairs = load_split(args.data, args.split)[:args.limit]
    if args.rescore:
        old = json.loads(args.rescore.read_text(encoding="utf-8"))
        stored = {s["id"]: s for s in old["summaries"]}
        pairs = [p for p in pairs if p.id in stored]
        docs = [document_from_text(p.article, source=p.id) for p in pairs]
        summaries = [rescored(stored[p.id], d.lang) for p, d in zip(pairs, docs)]
        seconds = old["seconds"]
    else:
        docs = [document_from_text(p.article, source=p.id) for p in pairs]
        summaries, seconds = generate(folder, docs, args)
    scorer = make_scorer()
    scores = [score_pair(p.reference, s.text, scorer=scorer) for p, s in zip(pairs, summaries)]
    table = aggregate(scores)
    lead, textrank = get_summarizer("lead"), get_summarizer("textrank")
    words = [max(1, len(s.text.split())) for s in summaries]
    baselines = {
        "lead-3": [lead(d, Budget(sentences=3)) for d in docs],
        "lead, same words": [lead(d, Budget(words=w)) for d, w in zip(docs, words)],
        "textrank, same words": [textrank(d, Budget(words=w)) for d, w in zip(docs, words)],
    }
    base_tables = {name: aggregate([score_pair(p.reference, b.text, scorer=scorer)
                                    for p, b in zip(pairs, outs)])
                   for name, outs in baselines.items()}
    # The faithfulness screen (numbers and names the article lacks), per summary.
    screens = [check_faithfulness(s.text, p.article) for p, s in zip(pairs, summaries)]
    flagged = sum(1 for r in screens if r.numbers or r.names)
    result = {
        "model": str(folder), "split": args.split, "documents": len(pairs),
        "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
        "threads": args.threads, "seconds": seconds, "seconds_per_document": seconds / len(pairs),
        "summary_words": sum(len(s.text.split()) for s in summaries) / len(pairs),
        "reference_words": sum(len(p.reference.split()) for p in pairs) / len(pairs),
        "scores": {k: {"mean": table[k].mean, "low": table[k].low, "high": table[k].high}
                   for k in REPORTED},
        "baselines": {name: {"words": sum(len(b.text.split()) for b in outs) / len(pairs),
                             **{k: {"mean": t[k].mean, "low": t[k].low, "high": t[k].high}
                                for k in REPORTED}}
                      for (name, t), outs in zip(base_tables.items(), baselines.values())},
        "examples": [{"id": p.id, "summary": s.text, "reference": p.reference}
                     for p, s in list(zip(pairs, summaries))[:3]],
        "unsupported": {"summaries_flagged": flagged,
                        "numbers": sum(len(r.numbers) for r in screens),
                        "names": sum(len(r.names) for r in screens)},
        "summaries": [{"id": p.id, "summary": s.text, "notes": list(s.notes),
                       "unsupported_numbers": list(r.numbers), "unsupported_names": list(r.names)}
                      for p, s, r in zip(pairs, summaries, screens)],
    }
    for name, t in {"model": table, **base_tables}.items():
        print(f"{name:22}" + "  ".join(f"{k} {t[k].mean:6.2f} [{t[k].low:6.2f}, {t[k].high:6.2f}]"
                                        for k in REPORTED))
    print(f"{len(pairs)} documents, {seconds / len(pairs):.2f} s each; summary "
          f"{result['summary_words']:.0f} words, reference {result['reference_words']:.0f}; "
          f"{flagged} summaries with a number or name the article lacks "
          f"({result['unsupported']['numbers']} numbers, {result['unsupported']['names']} names)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
