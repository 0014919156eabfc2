"""Command line::

    python -m generation generate --prompt TEXT [--model DIR] [--preset NAME] [--keywords A,B]
        [--max-new-tokens N] [--min-new-tokens N] [--temperature T] [--top-k K] [--top-p P]
        [--repetition-penalty R] [--no-repeat-ngram-size N] [--num-beams K] [--stop S ...]
        [--seed S] [--stream] [--raw] [--device cpu|cuda] [--threads N]
    python -m generation setup [--precision fp32|q4|int8] [--model default|news]
    python -m generation presets

``generate`` without ``--model`` uses the preset's built-in model if it has one (the news
preset: SmolLM2 with the BBC news adapter, fed the prompt as a headline), else the default
model, preparing it first if needed. ``--prompt -`` reads the prompt from standard input.
Chat models get the prompt as a user message (with the preset's system prompt) unless
``--raw``. The text goes to stdout, notes and progress to stderr. Exit status 2 with
``error: <problem>. <fix>`` for bad settings or folders (a folder's message starts with
the file at fault).

Settings come from the flags, then the preset, then the model's ``generation_config.json``
(greedy unless it sets ``do_sample``), then Condense's defaults (``generation/defaults.py``);
a note says where a preset replaces the model's value, or where the model's file makes
decoding greedy (the default model's does: it sets no ``do_sample``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Set, Tuple

from runtime.builtin import BUILTIN_MODELS, DEFAULT_MODEL, PRECISIONS, ensure_model
from summarizer.errors import CondenseError

from .decoding import Decoding
from .defaults import LIBRARY_DEFAULTS, MODEL_SOURCE
from .generator import Generator
from .presets import PRESETS, get_preset


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m generation")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate text from a prompt")
    gen.add_argument("--prompt", required=True, help="the prompt, or - for standard input")
    gen.add_argument("--model", type=Path, default=None,
                     help=f"an exported causal-LM folder (default: {DEFAULT_MODEL.title})")
    gen.add_argument("--preset", choices=sorted(PRESETS), default=None,
                     help="a domain's prompt template and decoding settings")
    gen.add_argument("--keywords", default="", help="comma-separated keywords for the preset")
    gen.add_argument("--max-new-tokens", type=int)
    gen.add_argument("--min-new-tokens", type=int)
    gen.add_argument("--temperature", type=float, help="0 is greedy")
    gen.add_argument("--top-k", type=int, help="0 turns it off")
    gen.add_argument("--top-p", type=float, help="1 turns it off")
    gen.add_argument("--repetition-penalty", type=float)
    gen.add_argument("--no-repeat-ngram-size", type=int)
    gen.add_argument("--num-beams", type=int, help="beam search (deterministic) when > 1")
    gen.add_argument("--stop", action="append", default=None, help="stop string (repeatable)")
    gen.add_argument("--seed", type=int)
    gen.add_argument("--stream", action="store_true", help="print text as it is generated")
    gen.add_argument("--raw", action="store_true", help="no chat template: the prompt as is")
    gen.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    gen.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    gen.add_argument("--precision", choices=PRECISIONS, default=None,
                     help=f"of the default model (default: {DEFAULT_MODEL.precision})")
    setup = sub.add_parser("setup", help=f"prepare the default model ({DEFAULT_MODEL.title})")
    setup.add_argument("--precision", choices=PRECISIONS, default=None,
                       help=f"default: {DEFAULT_MODEL.precision}")
    setup.add_argument("--model", choices=sorted(BUILTIN_MODELS), default="default",
                       help="which built-in model (news: with the BBC news adapter)")
    sub.add_parser("presets", help="list the domain presets")
    return parser


def _generate(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset) if args.preset else None
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    flags = dict(max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens,
                 temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                 repetition_penalty=args.repetition_penalty,
                 no_repeat_ngram_size=args.no_repeat_ngram_size, num_beams=args.num_beams,
                 stop=args.stop, seed=args.seed)
    given = {k: v for k, v in flags.items() if v is not None}
    # settings first: a bad one (--seed -1) is refused before a model is prepared or loaded
    (preset.decoding if preset else LIBRARY_DEFAULTS).override(**given)
    folder = args.model or (Path(preset.model_dir) if preset and preset.model_dir else None)
    own_model = folder is None and preset is not None and preset.model is not None
    if folder is None:
        builtin = BUILTIN_MODELS[preset.model] if own_model else DEFAULT_MODEL
        folder = ensure_model(precision=args.precision, model=builtin)
    generator = Generator.load(folder, device=args.device, threads=args.threads)
    if preset is not None:
        base, preset_notes = preset.decoding_for(generator.default_decoding, overridden=given)
    else:
        base, preset_notes = generator.defaults, ()
    decoding = base.override(**given)
    chosen = set(given) | set(preset.settings if preset else ())  # not left to the model
    for note in generator.notes + preset_notes + _greedy_note(generator, decoding, chosen):
        print(f"note: {note}", file=sys.stderr)
    chat = generator.chat_template is not None and not args.raw
    keywords = [k for k in args.keywords.split(",") if k.strip()]
    if preset is not None:
        request = preset.prompt(prompt, keywords, chat=chat, own_model=own_model)
    else:
        request = [{"role": "user", "content": prompt}] if chat else prompt
    notes: List[str] = []  # what the run itself has to say (a half character left out)
    if args.stream:
        for piece in generator.stream(request, decoding=decoding, notes=notes):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
    else:
        print(generator.generate(request, decoding=decoding, notes=notes))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _greedy_note(generator: Generator, decoding: Decoding,
                 chosen: Set[str]) -> Tuple[str, ...]:
    """A line when greedy decoding comes from the model's file, not from a flag or a
    preset: the default model's file does not ask for sampling, so an unflagged run is
    greedy (before Condense read the file, it sampled at temperature 0.7)."""
    model = generator.default_decoding
    if (decoding.temperature == 0 and decoding.num_beams == 1 and "temperature" not in chosen
            and model.source == MODEL_SOURCE):
        return (f"greedy decoding, as {MODEL_SOURCE} asks (it does not set do_sample to "
                "true): --temperature 0.7 samples",)
    return ()


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "setup":
            print(ensure_model(precision=args.precision, model=BUILTIN_MODELS[args.model]))
            return 0
        if args.command == "presets":
            for p in PRESETS.values():
                print(f"{p.name:10} {p.description}")
            return 0
        return _generate(args)
    except CondenseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
