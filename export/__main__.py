"""Command line::

    python -m export onnx MODEL --out DIR [--quantize int8|q4] [--output-layer fp32|q8|q4] [--task T]
        [--no-fuse]
    python -m export gguf FILE.gguf --out DIR [--quantize int8|q4] [--output-layer fp32|q8|q4]
        [--per-channel] [--eos-token T] [--adapter DIR] [--via-transformers]

MODEL is a local model folder (safetensors weights + tokenizer) or a Hugging Face hub id;
FILE.gguf a llama.cpp checkpoint: a Llama with a byte-level BPE vocabulary is written
directly (no torch: the light install prepares the built-in models), anything else goes
through transformers first (``export/gguf.py``). ``onnx``, and ``gguf`` through
transformers, need requirements-train.txt; without it they exit 2 saying so.
Exit status: 0 on success, 2 for a model or output folder that cannot be exported (the
message says what to fix).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from summarizer.errors import CondenseError

from .config import ExportConfig
from .errors import require_training_packages

log = logging.getLogger("export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m export")
    sub = parser.add_subparsers(dest="command", required=True)
    onnx = sub.add_parser("onnx", help="export a Hugging Face model to an ONNX folder")
    onnx.add_argument("model", help="local model folder or hub id (e.g. facebook/bart-large-cnn)")
    onnx.add_argument("--out", required=True, type=Path, help="output folder (absent or empty)")
    onnx.add_argument("--quantize", choices=["int8", "q4"], default=None,
                      help="int8: dynamic int8 weights; q4: weight-only 4-bit blocks of 32 "
                           "(exact for GGUF Q4_1 weights); the error against fp32 is printed")
    _output_layer(onnx)
    onnx.add_argument("--task", choices=["seq2seq", "causal-lm"], default=None,
                      help="default: seq2seq for encoder-decoder configs, else causal-lm")
    onnx.add_argument("--no-fuse", action="store_true",
                      help="keep Optimum's graphs for BART-family models instead of the "
                           "fused ones (same numbers, slower)")
    onnx.add_argument("--adapter", type=Path, default=None,
                      help="a LoRA adapter folder to merge into the weights before export: "
                           "PEFT's (adapter_config.json + adapter_model.safetensors, as "
                           "peft's save_pretrained and training write) or our older layout")
    gguf = sub.add_parser("gguf", help="convert a GGUF causal LM and export it to an ONNX folder")
    gguf.add_argument("file", type=Path, help="the .gguf file")
    gguf.add_argument("--out", required=True, type=Path, help="output folder (absent or empty)")
    gguf.add_argument("--quantize", choices=["int8", "q4"], default=None,
                      help="int8: dynamic int8 weights; q4: weight-only 4-bit blocks of 32, "
                           "which keep Q4_1 weights (and a merged adapter) exact; the error "
                           "against fp32 is printed")
    _output_layer(gguf)
    gguf.add_argument("--per-channel", action="store_true",
                      help="int8 with one scale per output channel (more accurate)")
    gguf.add_argument("--eos-token", default=None,
                      help="the token that ends a reply (default: <|im_end|> for ChatML "
                           "templates, else the file's eos)")
    gguf.add_argument("--adapter", type=Path, default=None,
                      help="a LoRA adapter folder to merge into the weights before export "
                           "(PEFT's layout, as peft and training write, or our older one)")
    gguf.add_argument("--via-transformers", action="store_true",
                      help="convert through transformers and Optimum (needs torch) even "
                           "for a Llama the direct route writes (to compare the two)")
    return parser


def _output_layer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-layer", choices=["fp32", "q8", "q4"], default="fp32",
                        help="with --quantize q4, the layer that writes the logits: fp32 (exact, "
                             "the default), q8 (8-bit blocks with int8 activations, as llama.cpp "
                             "computes Q8_0; exact weights for a Q8_0 GGUF) or q4")
    parser.add_argument("--accuracy-level", type=int, choices=[0, 4], default=0,
                        help="with --quantize q4, how the 4-bit layers compute: 0 in fp32 (the "
                             "default; exact for Q4_1 weights), 4 with their inputs rounded to "
                             "int8 per block of 32, as llama.cpp computes Q4_1 (faster)")


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # Our own progress at INFO; other libraries only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    try:
        if args.command == "gguf":
            from .gguf import export_gguf

            config = ExportConfig(task="causal-lm", quantize=args.quantize,
                                  per_channel=args.per_channel, validate=False,
                                  q4_output=args.output_layer,
                                  q4_accuracy_level=args.accuracy_level)
            result = export_gguf(args.file, out=args.out, eos_token=args.eos_token, config=config,
                                 adapter=args.adapter, via_transformers=args.via_transformers)
        else:
            require_training_packages(f"python -m export onnx {args.model}")
            from .onnx_export import export_onnx

            result = export_onnx(args.model, out=args.out,
                                 config=ExportConfig(task=args.task, quantize=args.quantize,
                                                     q4_output=args.output_layer,
                                                     q4_accuracy_level=args.accuracy_level,
                                                     fuse=not args.no_fuse),
                                 adapter=args.adapter)
    except CondenseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    manifest = result.manifest
    log.info("exported %s (%s, %s, cache: %s) to %s", manifest.source, manifest.model_type,
             manifest.task, "yes" if manifest.has_past else "no", result.folder)
    report = result.quantization
    if report is not None:
        log.info("%s: max |logit diff| vs fp32 = %.6g (largest |logit| %.6g) on %d step(s) of %r",
                 report.method, report.max_abs_logit_diff, report.max_abs_logit,
                 len(report.steps), report.sample)
        if report.weights_exact is not None:
            log.info("4-bit blocks reproduce the fp32 weights %s", "exactly" if report.weights_exact
                     else "approximately (they were not on a 4-bit grid)")
    for role, simplified in (manifest.simplified or {}).items():
        log.info("%s: %d nodes, %d after simplification%s", role, simplified["nodes_before"],
                 simplified["nodes_after"], f" (kept: {simplified['kept_because']})"
                 if simplified["kept_because"] else "")
    fused = manifest.fused
    if fused and not fused["kept_because"]:
        for role, nodes in fused["graphs"].items():
            log.info("%s: fused, %d nodes instead of %d", role, nodes["nodes_after"],
                     nodes["nodes_before"])
        log.info("fused graphs: max |logit diff| vs Optimum's %.3g", fused["max_abs_logit_diff"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
