"""Cost of the names-and-numbers constraint (``runtime/constraints.py``) per decoding step,
on a real vocabulary and model, and what it changes in the summaries.

    python bench/constraint_cost.py --model DIR [--limit 10] [--split validation] [--threads 2]
                                    [--number-gap 0] [--name-gap G] [--details]

``--model``: an exported decoder-only summarizer folder (the built-in one is under
``~/.cache/condense/models``). Each document of the BBC split is summarized greedily three times
in one process, as ``LMSummarizer`` decodes one document (prompt-lookup guesses, its
repeat rules): without the constraint, with it keeping every word it refuses ("kept"),
and with it taking back a number (or a name, with ``--name-gap``) whose best allowed
continuation scores more than the gap below the model's choice, and refusing to swap
one number for another where one would open ("taken back"); the constraint's ``mask``
calls are timed (in the "kept" run). Reported: the one-off costs (token texts per
tokenizer, the index per document), the median and 95th percentile of ``mask`` per call
and per generated token, its share of the decoding time, how often the whole vocabulary
had to be masked, the gaps (model's best minus the token written) where the constraint
refused the model's choice, and the summaries the faithfulness screen flags each way.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.constraints import ConstraintConfig, SpanConstraint, SpanIndex  # noqa: E402
from runtime.search import generate  # noqa: E402
from runtime.token_texts import TokenTexts  # noqa: E402
from summarizer.abstractive.decoder_only import drop_repeats  # noqa: E402
from summarizer.abstractive.factory import make_abstractive  # noqa: E402
from summarizer.abstractive.seq2seq import AbstractiveConfig  # noqa: E402
from summarizer.evaluation.datasets import load_split  # noqa: E402
from summarizer.evaluation.faithfulness import check_faithfulness  # noqa: E402
from summarizer.nlp import stopwords  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"


class Timed(SpanConstraint):
    """Records the seconds of every ``mask`` call and whether it fell back to a full scan."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls, self.scans, self.gaps, self.refused = [], 0, [], []

    def mask(self, generated, scores, *, keep, group=1):
        start = time.perf_counter()
        out = super().mask(generated, scores, keep=keep, group=group)
        self.calls.append(time.perf_counter() - start)
        for row in range(len(scores)):
            if generated[row] is not None and out[row].argmax() != scores[row].argmax():
                gap = float(scores[row].max() - out[row].max())
                if gap < 1e8:  # not a token the repeat rule banned (-1e9)
                    self.gaps.append(gap)
                    self.refused.append((gap, list(generated[row]), int(scores[row].argmax()),
                                         int(out[row].argmax())))
        return out

    def allowed(self, doc, generated):
        self.scans += 1
        return super().allowed(doc, generated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--split", default="validation", choices=["test", "validation"])
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--ids", nargs="*", default=None, help="only these pair ids")
    parser.add_argument("--number-gap", type=float, default=ConstraintConfig().number_gap)
    parser.add_argument("--name-gap", type=float, default=ConstraintConfig().name_gap)
    parser.add_argument("--details", action="store_true",
                        help="print each refusal: the gap, the text before, the model's token, the one written")
    args = parser.parse_args()
    summarizer = make_abstractive(AbstractiveConfig(model_dir=str(args.model), threads=args.threads))
    start = time.perf_counter()
    texts = TokenTexts.from_tokenizer(summarizer.codec.tokenizer)
    texts_seconds = time.perf_counter() - start
    config = summarizer.generation_config(args.max_new_tokens)
    stop = stopwords("en")
    calls, per_token, shares, index_seconds, scans, changed = [], [], [], [], 0, 0
    gaps = {"kept": [], "taken back": []}
    modes = {"without": None, "kept": ConstraintConfig(number_gap=None, name_gap=None),
             "taken back": ConstraintConfig(number_gap=args.number_gap, name_gap=args.name_gap)}
    flagged = {name: 0 for name in modes}
    taken = 0
    pairs = load_split(args.data, args.split)
    pairs = [p for p in pairs if p.id in args.ids] if args.ids else pairs[: args.limit]
    for pair in pairs:
        ids, mask = summarizer.encode([pair.article])
        outs = {}
        for name, settings in modes.items():
            constraint = None
            if settings is not None:
                start = time.perf_counter()
                index = SpanIndex.build(pair.article, common_words=stop)
                index_seconds.append(time.perf_counter() - start)
                constraint = Timed([index], texts, end_ids=config.eos_token_id, config=settings)
            drafter = summarizer.config.drafter([ids[0]], ids.shape[1], config)
            start = time.perf_counter()
            result = generate(summarizer.model, summarizer.model.start(mask), ids, config,
                              drafter=drafter, constraint=constraint)
            seconds = time.perf_counter() - start
            text = summarizer.codec.decode(result.sequences[0, ids.shape[1]:].tolist())
            outs[name] = drop_repeats(text) if config.stop_repeat_ngram_size else text
            report = check_faithfulness(outs[name], pair.article)
            flagged[name] += not report.ok
            if constraint is not None:
                gaps[name] += constraint.gaps
                for gap, before, wanted, chosen in constraint.refused if args.details else ():
                    tail = summarizer.codec.token_text(before)[-40:]
                    print(f"    refused ({name}) gap {gap:4.1f}: ...{tail!r} + "
                          f"{texts.texts[wanted] or wanted!r} -> {texts.texts[chosen] or chosen!r}",
                          file=sys.stderr)
                taken += constraint.taken_back(0, result.sequences[0, ids.shape[1]:])
            if name == "kept":
                new = result.sequences.shape[1] - ids.shape[1]
                calls += constraint.calls
                per_token.append(sum(constraint.calls) / max(1, new))
                shares.append(sum(constraint.calls) / seconds)
                scans += constraint.scans
            print(f"{pair.id} {name:10} {seconds:5.2f} s  flags {report.numbers + report.names}",
                  file=sys.stderr, flush=True)
        changed += outs["kept"] != outs["without"]
        if len(set(outs.values())) > 1:
            for name, text in outs.items():
                print(f"  {name + ':':11} {text}", file=sys.stderr)
    calls.sort()
    print(f"token texts: {texts_seconds:.2f} s once per tokenizer ({texts.size} tokens); "
          f"index: median {1e3 * statistics.median(index_seconds):.2f} ms per document")
    print(f"mask: {len(calls)} calls, median {1e6 * statistics.median(calls):.0f} us, "
          f"p95 {1e6 * calls[int(0.95 * (len(calls) - 1))]:.0f} us, max {1e3 * calls[-1]:.1f} ms; "
          f"per generated token median {1e6 * statistics.median(per_token):.0f} us; "
          f"{100 * statistics.median(shares):.1f}% of decoding time (median); "
          f"{scans} whole-vocabulary masks")
    for name, found in gaps.items():
        found.sort()
        if found:
            print(f"gaps (model's best minus the token written, excluding tokens the repeat rule "
                  f"banned) where the constraint refused the model's choice ({name}): {len(found)}, "
                  f"median {statistics.median(found):.2f}; all: {' '.join(f'{g:.1f}' for g in found)}")
    print(f"{len(pairs)} documents: {changed} summaries changed by the constraint; {taken} words "
          f"taken back or numbers refused (number gap {args.number_gap}, name gap {args.name_gap}); "
          f"flagged by the faithfulness screen: "
          f"{flagged['without']} without, {flagged['kept']} with the constraint keeping refused "
          f"words, {flagged['taken back']} taking them back")


if __name__ == "__main__":
    main()
