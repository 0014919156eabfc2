"""Command line: ``python -m summarizer summarize|compare|batch|evaluate|setup``.

    python -m summarizer summarize FILE [--method M] [--sentences N | --ratio R | --words W]
                                        [--lang auto|en|zh|de|fr|es|it|pt|nl|ru]
                                        [--format text|json]
    python -m summarizer batch INPUT --out OUT [--method M] [length flags] [--workers N]
                                     [--engine local|ray] [--ray-address ADDR]
    python -m summarizer evaluate --data PAIRS.jsonl [--split test|validation|all]
                                  [--methods textrank,lead,...] [length flags] [--json FILE]
    python -m summarizer evaluate --suite DATA_DIR [--sets cnndm,samsum,...] [--skip N]
                                  [--limit N] [--methods abstractive,lead@abstractive,...]
                                  [--write docs/QUALITY.md] [--json FILE]
    python -m summarizer compare FILE [--methods ranker,lead,...] [length flags]
                                 [--reference FILE] [--format text|json]

Abstractive summaries: ``--method abstractive [--model DIR] [--num-beams K]
[--max-new-tokens N] [--device cpu|cuda] [--draft auto|lookup|none] [--no-constrain-names]
[--long-documents extract|map-reduce]``
on summarize, batch, evaluate and compare, where DIR is a folder written by ``python -m export onnx`` or
``python -m training``. Without ``--model`` the built-in summarizer is used, prepared
into the cache at first use (or ahead of time with ``python -m summarizer setup``).

Exit status: 0 on success, 2 for bad input or arguments (the message says what to fix).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from summarizer.errors import CondenseError
from summarizer.registry import DEFAULT_METHOD, METHODS
from summarizer.types import DEFAULT_BUDGET, Budget


def _add_budget(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--sentences", type=int, help="keep N sentences")
    g.add_argument("--ratio", type=float, help="keep this fraction of the sentences (0-1]")
    g.add_argument("--words", type=int, help="keep at most W words")
    from summarizer.nlp import LANG_CHOICES

    p.add_argument("--lang", default="auto", choices=LANG_CHOICES)
    p.add_argument("--max-bytes", type=int, default=None, help="largest input file accepted")
    p.add_argument("--max-chars", type=int, default=None,
                   help="longest document text accepted, in characters after cleaning")


def _budget(args: argparse.Namespace) -> Budget:
    if args.sentences is None and args.ratio is None and args.words is None:
        return DEFAULT_BUDGET
    return Budget(sentences=args.sentences, ratio=args.ratio, words=args.words)


def _loader_config(args: argparse.Namespace):
    from summarizer.documents.loaders import LoaderConfig

    limits = {k: v for k, v in (("max_bytes", args.max_bytes), ("max_chars", args.max_chars))
              if v is not None}
    for name, value in limits.items():
        if value < 1:
            raise CondenseError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return LoaderConfig(**limits)


def _add_model(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("abstractive (--method abstractive)")
    g.add_argument("--model", help="exported ONNX model folder (python -m export onnx ...); "
                                   "default: the built-in summarizer (prepared at first use)")
    g.add_argument("--num-beams", type=int, help="beam size (default: the model's generation config)")
    g.add_argument("--max-new-tokens", type=int, help="longest summary in tokens (default: from the length budget)")
    g.add_argument("--min-new-tokens", type=int)
    g.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    g.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    g.add_argument("--draft", default="auto", choices=["auto", "lookup", "none"],
                   help="greedy decoding checks guesses copied from the document, several tokens "
                        "per model run, same summary (auto: unless the model is dynamic int8, "
                        "whose rounding moves when tokens run together); none: one token per run")
    g.add_argument("--no-constrain-names", action="store_true",
                   help="let the model write names and numbers the document does not have "
                        "(default: once it starts a capitalised word or a number, it must be "
                        "one of the document's)")
    g.add_argument("--long-documents", choices=["extract", "map-reduce"], default=None,
                   help="a document longer than the model reads: extract (the default) "
                        "summarizes its best sentences by the extractive ranker, as many as "
                        "fit, in one pass; map-reduce summarizes its parts, then their summaries")


def _abstractive(args: argparse.Namespace):
    if args.method != "abstractive":
        return None
    from summarizer.abstractive.seq2seq import AbstractiveConfig

    model = args.model
    if not model:  # the default summarizer, prepared into the cache at first use
        from runtime.builtin import SUMMARY_MODEL, ensure_model

        model = str(ensure_model(model=SUMMARY_MODEL))
    return AbstractiveConfig(
        model_dir=model, device=args.device, threads=args.threads, num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens, draft=args.draft,
        constrain_names=not args.no_constrain_names,
        **({"long_documents": args.long_documents} if args.long_documents else {}))


def _lang(args: argparse.Namespace) -> Optional[str]:
    return None if args.lang == "auto" else args.lang


def _document(args: argparse.Namespace):
    """The document named by ``args.file`` (``-``: standard input)."""
    from summarizer.documents.loaders import document_from_text, load_document

    if args.file == "-":
        return document_from_text(sys.stdin.read(), source="<stdin>", lang=_lang(args),
                                  config=_loader_config(args))
    return load_document(args.file, config=_loader_config(args), lang=_lang(args))


def _count(text: str) -> int:
    """A whole number, 0 or more (argparse type)."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 0 or more")
    return int(text)


def _methods(text: str) -> List[str]:
    """Comma-separated method names, each once, in the order given."""
    return list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))


def cmd_summarize(args: argparse.Namespace) -> int:
    from summarizer.keyphrases import keyphrases
    from summarizer.registry import get_summarizer

    doc = _document(args)
    summary = get_summarizer(args.method, abstractive=_abstractive(args))(doc, _budget(args))
    for note in summary.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.format == "json":
        out = summary.to_dict()
        out["keyphrases"] = [{"text": k.text, "score": k.score} for k in keyphrases(doc)]
        if summary.is_abstractive:
            out["generated"] = True
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(summary.text)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from summarizer.batch.engine import BatchConfig, run_batch

    if args.ray_address and args.engine != "ray":
        raise CondenseError("--ray-address needs --engine ray")
    config = BatchConfig(
        method=args.method, budget=_budget(args), lang=_lang(args),
        loader=_loader_config(args), progress=not args.no_progress,
        abstractive=_abstractive(args),
        **({"workers": args.workers} if args.workers else
           {"workers": 1} if args.method == "abstractive" else {}),
    )
    if args.engine == "ray":
        from summarizer.batch.ray_engine import RayConfig, run_batch_ray

        ray_config = RayConfig(address=args.ray_address, workers=args.workers)
        stats = run_batch_ray(args.input, args.out, config, ray_config)
    else:
        stats = run_batch(args.input, args.out, config)
    redone = (f" ({stats.redone} redone: their article or the settings changed)"
              if stats.redone else "")
    print(
        f"{stats.total} documents: {stats.summarized} summarized, {stats.failed} failed{redone}, "
        f"{stats.skipped} already done -> {args.out}",
        file=sys.stderr,
    )
    return 0


def cmd_suite(args: argparse.Namespace) -> int:
    import time

    from summarizer.evaluation.suite import run_suite, write_block

    if args.data or args.split != "test" or any(
            v is not None for v in (args.sentences, args.ratio, args.words)):
        raise CondenseError("--suite scores each set's validation split at its own budget; "
                            "leave out --data, --split and the length flags")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    sets = [s.strip() for s in args.sets.split(",") if s.strip()] if args.sets else None
    started = time.time()

    def progress(s, report):
        print(f"{s.name}: {report.results[0].documents} documents, "
              f"{time.time() - started:.0f} s so far", file=sys.stderr)

    abstractive = None
    if "abstractive" in methods:
        args.method = "abstractive"
        abstractive = _abstractive(args)
    suite = run_suite(args.suite, methods, sets=sets, limit=args.limit, skip=args.skip,
                      workers=args.workers,
                      seed=args.seed, abstractive=abstractive, loader=_loader_config(args),
                      on_set=progress)
    table = suite.markdown()
    print(table)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(suite.to_json())
    if args.write:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        limit = (f" --sets {args.sets}" if args.sets else "") + (
            f" --skip {args.skip}" if args.skip else "") + (
            f" --limit {args.limit}" if args.limit else "")
        head = (f"Written by `python -m summarizer evaluate --suite DATA --methods {','.join(methods)}"
                f"{limit}` on {stamp}, {time.time() - started:.0f} s in all.\n")
        write_block(args.write, head + "\n" + table)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from summarizer.evaluation.datasets import load_split
    from summarizer.evaluation.evaluate import evaluate

    if args.suite:
        return cmd_suite(args)
    if not args.data:
        raise CondenseError("evaluate needs --data PAIRS.jsonl, or --suite DATA_DIR for the quality suite")
    pairs = load_split(args.data, args.split)
    pairs = pairs[args.skip:]
    if args.limit:
        pairs = pairs[: args.limit]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    abstractive = None
    if "abstractive" in methods:
        args.method = "abstractive"
        abstractive = _abstractive(args)
    report = evaluate(pairs, methods, _budget(args), split=args.split,
                      workers=args.workers, seed=args.seed, abstractive=abstractive,
                      loader=_loader_config(args))
    print(report.table())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(report.to_json())
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from summarizer.evaluation.compare import compare_summaries
    from summarizer.evaluation.datasets import reference_lines
    from summarizer.errors import UnknownMethodError
    from summarizer.registry import get_summarizer

    methods = _methods(args.methods)
    unknown = [m for m in methods if m not in METHODS]
    if not methods or unknown:
        raise UnknownMethodError(
            f"--methods: {'unknown ' + ', '.join(map(repr, unknown)) if unknown else 'none given'}"
            f"; choose among {', '.join(METHODS)} (comma-separated)")
    reference = None
    if args.reference:
        try:
            with open(args.reference, encoding="utf-8-sig") as f:
                reference = f.read().strip()
        except (OSError, UnicodeDecodeError) as e:
            raise CondenseError(f"{args.reference}: the reference cannot be read "
                                f"({type(e).__name__}: {e}). Give a UTF-8 text file") from None
        if not reference:
            raise CondenseError(f"{args.reference}: the reference is empty. Give a file with "
                                "the reference summary")
    doc = _document(args)
    if "abstractive" in methods:
        args.method = "abstractive"
    abstractive = _abstractive(args) if "abstractive" in methods else None
    budget = _budget(args)
    summaries = {m: get_summarizer(m, abstractive=abstractive)(doc, budget) for m in methods}
    for method, summary in summaries.items():
        for note in summary.notes:
            print(f"note: {method}: {note}", file=sys.stderr)
    lines = reference_lines(reference, doc.text, doc.lang) if reference else None
    comparison = compare_summaries(summaries, reference=lines)
    if args.format == "json":
        print(json.dumps(comparison.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(comparison.text())
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from runtime.builtin import SUMMARY_MODEL, ensure_model

    print(ensure_model(model=SUMMARY_MODEL))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m summarizer", description="Condense summarizer")
    sub = ap.add_subparsers(dest="command", required=True)
    methods = list(METHODS)

    s = sub.add_parser("summarize", help="summarize one document")
    s.add_argument("file", help="a .txt/.md/.html/.pdf/.docx file, or - for stdin")
    s.add_argument("--method", default=DEFAULT_METHOD, choices=methods)
    s.add_argument("--format", default="text", choices=["text", "json"])
    _add_budget(s)
    _add_model(s)
    s.set_defaults(func=cmd_summarize)

    b = sub.add_parser("batch", help="summarize a folder or a JSONL file of articles")
    b.add_argument("input", help='folder (recursive), or .jsonl/.parquet of {"id", "article"}')
    b.add_argument("--out", required=True, help="results .jsonl, .csv or .parquet")
    b.add_argument("--method", default=DEFAULT_METHOD, choices=methods)
    b.add_argument("--workers", type=int, default=None,
                   help="processes, or Ray actors (default: all cores, or all of the Ray cluster's)")
    b.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local processes, or Ray Data (pip install -r requirements-ray.txt)")
    b.add_argument("--ray-address", default=None,
                   help="join this Ray cluster (auto, HOST:6379); default: start a local instance")
    b.add_argument("--no-progress", action="store_true")
    _add_budget(b)
    _add_model(b)
    b.set_defaults(func=cmd_batch)

    e = sub.add_parser("evaluate", help="ROUGE of methods on a pairs file, or the quality suite")
    e.add_argument("--data", help='.jsonl/.jsonl.gz/.csv of {"id", "article", "summary"}')
    e.add_argument("--suite", metavar="DATA_DIR",
                   help="the quality suite: every set under DATA_DIR (bbc_news_summary/, "
                        "multidomain/), validation split, each at its own budget")
    e.add_argument("--sets", help="with --suite: only these sets (comma-separated)")
    e.add_argument("--write", metavar="MARKDOWN",
                   help="with --suite: write the table into this file between its suite markers")
    e.add_argument("--split", default="test", choices=["test", "validation", "train", "all"])
    e.add_argument("--methods",
                   default=",".join(dict.fromkeys([DEFAULT_METHOD, "lead", "sumy-textrank"])),
                   help="comma-separated; BASE@OTHER is BASE at the words OTHER wrote for each "
                        "document (e.g. abstractive,lead@abstractive)")
    e.add_argument("--json", help="also write the table as JSON here")
    e.add_argument("--workers", type=int, default=None)
    e.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    e.add_argument("--limit", type=int, default=None, help="first N pairs of the split (of each set) only")
    e.add_argument("--skip", type=_count, default=0,
                   help="leave out the first N pairs (of each set) before --limit: e.g. those "
                        "a training run chose its checkpoint by")
    _add_budget(e)
    _add_model(e)
    e.set_defaults(func=cmd_evaluate)

    c = sub.add_parser("compare", help="one document through several methods, side by side "
                                       "(the app's Compare page)")
    c.add_argument("file", help="a .txt/.md/.html/.pdf/.docx file, or - for stdin")
    c.add_argument("--methods",
                   default=",".join(dict.fromkeys([DEFAULT_METHOD, "lead", "textrank"])),
                   help=f"comma-separated, of: {', '.join(methods)}")
    c.add_argument("--reference", metavar="FILE",
                   help="a reference summary (UTF-8 text): ROUGE F1 of each summary against it")
    c.add_argument("--format", default="text", choices=["text", "json"])
    _add_budget(c)
    _add_model(c)
    c.set_defaults(func=cmd_compare)

    u = sub.add_parser("setup", help="prepare the default abstractive summarizer (SmolLM2 + "
                                     "the BBC summary adapter) in the cache, once")
    u.set_defaults(func=cmd_setup)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CondenseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
