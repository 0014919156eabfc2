"""Greedy decoding with and without prompt-lookup drafts on real articles: how many tokens
one model run yields, what that saves, and whether the summaries stay the same.

    python bench/draft_speed.py --model DIR [--split validation] [--limit 16]
        [--max-new-tokens 128] [--threads 2] [--batch 1] [--decoding plain|summarizer]

``--model``: an exported summarizer folder: a seq2seq export, or a decoder-only one from
``training lm-summary`` (the default summarizer's prepared folder, for example). Each of
the first ``--limit`` articles of the BBC split is summarized greedily (plain greedy: no
repeat rules, ``--max-new-tokens`` at most, the model's end token ends it) twice in a
row, once plainly and once with ``runtime.drafting.PromptLookup``, alternating which goes
first; the ratio is the median over articles of plain / lookup seconds, measured side by
side. Articles longer than the model's input are cut to it here (this measures decoding,
not map-reduce). Needs ``../shared/data``; prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.causal import left_pad  # noqa: E402
from runtime.drafting import LookupConfig, PromptLookup  # noqa: E402
from runtime.search import greedy_search  # noqa: E402
from summarizer.abstractive.seq2seq import AbstractiveConfig  # noqa: E402
from summarizer.abstractive.factory import make_abstractive  # noqa: E402
from summarizer.evaluation.datasets import load_split  # noqa: E402
from summarizer.abstractive.decoder_only import LMSummarizer  # noqa: E402
from summarizer.abstractive.length import TOKENS_PER_WORD  # noqa: E402
from summarizer.types import Budget  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"


def prepare(summarizer, texts, max_new_tokens):
    """(state maker, prompt, source rows) for a batch: what greedy search starts from.
    Articles longer than the model's input are cut to it (the summarizer would split
    them: map-reduce), keeping the prompt's own tokens around them; a length-cued model is
    asked for the words ``max_new_tokens`` holds."""
    model, codec = summarizer.model, summarizer.codec
    budget = summarizer.input_budget
    if isinstance(summarizer, LMSummarizer):
        articles = codec.tokenizer.encode_batch([summarizer.prompt.article(t) for t in texts],
                                                add_special_tokens=False)
        cue = summarizer.prompt.cue(summarizer.wanted_words(Budget(words=max(1, round(
            max_new_tokens / TOKENS_PER_WORD))), 0, "en"))
        cue_ids = codec.tokenizer.encode(cue, add_special_tokens=False).ids if cue else []
        ids, mask = left_pad([summarizer.prefix_ids + a.ids[:budget] + cue_ids
                              + summarizer.suffix_ids for a in articles], codec.pad_id)
        sources = [row[m.astype(bool)] for row, m in zip(ids, mask)]
        return (lambda: model.start(mask)), ids, sources
    rows = []
    for text in texts:  # one by one: cut each row's article, not the batch's padding
        one, _ = codec.encode_batch([text])
        row = one[0]
        rows.append(row if len(row) <= budget + codec.special_count
                    else np.concatenate([row[:budget + codec.special_count - 1], row[-1:]]))
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), codec.pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = r, 1
    sources = [row[m.astype(bool)] for row, m in zip(ids, mask)]
    start = model.generation_config.decoder_start_token_id
    return (lambda: model.start(model.encode(ids, mask), mask)), np.full((len(texts), 1), start), sources


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--split", default="validation", choices=["validation", "train"])
    p.add_argument("--limit", type=int, default=16)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--draft-tokens", type=int, default=LookupConfig.max_tokens)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--decoding", default="plain", choices=["plain", "summarizer"])
    args = p.parse_args()
    if not DATA.is_file():
        sys.exit(f"needs {DATA}")
    summarizer = make_abstractive(AbstractiveConfig(model_dir=args.model, threads=args.threads))
    if args.decoding == "summarizer":
        config = summarizer.generation_config(args.max_new_tokens).override(num_beams=1)
    else:
        config = summarizer.model.generation_config.override(
            num_beams=1, max_new_tokens=args.max_new_tokens, stop_repeat_ngram_size=0, repeat_retries=0)
    texts = [pair.article for pair in load_split(DATA, args.split)[:args.limit]]
    lookup = LookupConfig(max_tokens=args.draft_tokens)
    # With --batch B > 1 a third way: the same B articles one by one, with guesses (what
    # the decoder-only summarizer does by default), against the batch without guesses.
    modes = ("plain", "lookup") + (("lookup-single",) if args.batch > 1 else ())
    took = {m: [] for m in modes}
    runs = dict.fromkeys(modes, 0)
    same, tokens = 0, 0
    for i in range(0, len(texts), args.batch):
        batch = texts[i:i + args.batch]
        order = modes if (i // args.batch) % 2 == 0 else modes[::-1]
        outs = {}
        for mode in order:
            start = time.perf_counter()
            if mode == "lookup-single":
                outs[mode] = []
                for text in batch:
                    state_of, prompt, sources = prepare(summarizer, [text], args.max_new_tokens)
                    drafter = PromptLookup(sources, skip=prompt.shape[1], config=lookup)
                    out = greedy_search(summarizer.model, state_of(), prompt, config, drafter=drafter)
                    outs[mode].append(out.sequences[0, prompt.shape[1]:])
                    runs[mode] += out.model_runs
            else:
                state_of, prompt, sources = prepare(summarizer, batch, args.max_new_tokens)
                drafter = PromptLookup(sources, skip=prompt.shape[1], config=lookup) if mode == "lookup" else None
                out = greedy_search(summarizer.model, state_of(), prompt, config, drafter=drafter)
                outs[mode] = list(out.sequences[:, prompt.shape[1]:])
                runs[mode] += out.model_runs
            took[mode].append(time.perf_counter() - start)
        pad = config.pad_token_id if config.pad_token_id is not None else -1
        texts_of = {m: [row[row != pad].tolist() for row in rows] for m, rows in outs.items()}
        same += sum(all(texts_of[m][k] == texts_of["plain"][k] for m in modes) for k in range(len(batch)))
        tokens += sum(len(row) for row in texts_of["plain"])
        print(f"{i + len(batch)}/{len(texts)} " + " ".join(f"{m} {took[m][-1]:.2f} s" for m in modes),
              file=sys.stderr, flush=True)
    print(json.dumps({
        "model": args.model, "split": args.split, "articles": len(texts), "batch": args.batch,
        "max_new_tokens": args.max_new_tokens, "draft_tokens": args.draft_tokens,
        "decoding": args.decoding, "stop_repeat_ngram_size": config.stop_repeat_ngram_size,
        "repeat_retries": config.repeat_retries,
        "articles_identical": same, "tokens": tokens, "model_runs": runs,
        "seconds_per_article": {m: round(sum(t) / len(texts), 2) for m, t in took.items()},
        "median_ratio_plain_over": {m: round(statistics.median(p / t for p, t in zip(took["plain"], took[m])), 3)
                                    for m in modes if m != "plain"},
    }))


if __name__ == "__main__":
    main()
