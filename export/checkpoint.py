"""Loading a Hugging Face checkpoint safely: config, tokenizer, weights.

Two rules hold whatever the source (a local folder or a hub id):

* weights are read from safetensors only. Pickle files (``pytorch_model.bin``, ``*.pt``,
  ``*.ckpt``) can run arbitrary code when unpickled, so a folder that only has those is
  refused with the one-line conversion to run in a trusted environment;
* ``trust_remote_code`` is never set: a checkpoint that needs its own Python is refused by
  transformers before any of it runs.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    GenerationConfig,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from .errors import ExportError

SEQ2SEQ = "seq2seq"
CAUSAL_LM = "causal-lm"
TASKS = (SEQ2SEQ, CAUSAL_LM)

PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
# Any one of these in a folder means it ships a tokenizer (fast, or slow to convert).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                   "spiece.model", "sentencepiece.bpe.model", "tokenizer.model", "source.spm")
# Errors transformers raises for a missing, partial or unconvertible tokenizer; several are
# accidents of its code paths (a None path reaching os.stat), hence the breadth.
_TOKENIZER_ERRORS = (OSError, ValueError, TypeError, AttributeError, ImportError, KeyError)


def local_folder(source: str) -> Optional[Path]:
    """The folder ``source`` names, or None when it reads as a hub id ("org/name").

    A path that does not exist but is clearly a path (absolute, ``./``, ``~``, or nested
    deeper than org/name) is an error here rather than a confusing hub lookup.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ExportError(source, "is a file, not a model folder",
                          "Pass the folder that holds config.json and model.safetensors")
    if source.startswith(("/", ".", "~")) or source.count("/") > 1 or "\\" in source:
        raise ExportError(source, "no such folder",
                          "Check the path, or pass a hub id such as facebook/bart-large-cnn")
    return None


def check_weights(folder: Path, source: str) -> None:
    """Refuse a local folder without safetensors weights, naming the fix."""
    if any(folder.glob("*.safetensors")):
        return
    pickles = sorted({p.name for pattern in PICKLE_PATTERNS for p in folder.glob(pattern)})
    if pickles:
        raise ExportError(
            source,
            f"has only pickle weights ({', '.join(pickles)}), which can run code when loaded",
            "Convert them once, in an environment you trust: load the model with "
            "from_pretrained(folder) and call save_pretrained(folder, safe_serialization=True), "
            "which writes model.safetensors",
        )
    raise ExportError(source, "has no model.safetensors",
                      "Put the checkpoint's safetensors weights next to its config.json")


def load_config(source: str) -> PretrainedConfig:
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as e:
        raise ExportError(
            source, f"cannot read its config ({_first_line(e)})",
            "Pass a folder with config.json, or a hub id; models that need their own code "
            "(trust_remote_code) are not supported",
        ) from e


def resolve_task(config: PretrainedConfig, requested: Optional[str], source: str) -> str:
    """The task the config implies (encoder-decoder -> seq2seq); a different request is an error."""
    inferred = SEQ2SEQ if getattr(config, "is_encoder_decoder", False) else CAUSAL_LM
    if requested is not None and requested not in TASKS:
        raise ExportError(source, f"unknown task {requested!r}", f"Use one of {', '.join(TASKS)}")
    if requested is not None and requested != inferred:
        raise ExportError(
            source, f"is a {config.model_type} model, which is {inferred}, not {requested}",
            f"Use --task {inferred}, or leave --task out",
        )
    return inferred


def load_tokenizer(source: str, folder: Optional[Path]) -> PreTrainedTokenizerFast:
    """The checkpoint's fast tokenizer; a slow one (vocab files only) is converted."""
    if folder is not None and not any((folder / name).exists() for name in TOKENIZER_FILES):
        raise ExportError(
            source, "has no tokenizer (no tokenizer.json or vocabulary files)",
            "Save the tokenizer the model was trained with into the folder: "
            "AutoTokenizer.from_pretrained(<base model>).save_pretrained(folder)",
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, trust_remote_code=False)
    except _TOKENIZER_ERRORS as e:
        raise ExportError(
            source, f"its tokenizer cannot be loaded as a fast tokenizer ({_first_line(e)})",
            "Add a tokenizer.json, or install sentencepiece and protobuf so the slow "
            "tokenizer can be converted",
        ) from e
    if not getattr(tokenizer, "is_fast", False):
        raise ExportError(
            source, f"its tokenizer ({type(tokenizer).__name__}) has no fast version",
            "Add a tokenizer.json (the runtime reads only that file)",
        )
    return tokenizer


def load_model(source: str, task: str) -> PreTrainedModel:
    """The model in fp32 from safetensors only (bf16/fp16 graphs do not run on ORT's CPU)."""
    loader = AutoModelForSeq2SeqLM if task == SEQ2SEQ else AutoModelForCausalLM
    try:
        model = loader.from_pretrained(source, use_safetensors=True, trust_remote_code=False,
                                       dtype=torch.float32)
    except OSError as e:
        raise ExportError(
            source, f"no safetensors weights could be loaded ({_first_line(e)})",
            "If it only has pytorch_model.bin, convert it in an environment you trust: "
            "from_pretrained(...).save_pretrained(folder, safe_serialization=True)",
        ) from e
    return model.eval()


def generation_config(model: PreTrainedModel, task: str, source: str) -> GenerationConfig:
    """The model's generation settings, as transformers' ``generate`` uses them.

    ``model.generation_config`` comes from generation_config.json, or from config.json when
    the checkpoint has none; an export always writes one so the runtime reads one place.
    Special tokens the file leaves out are not filled in from config.json: ``generate``
    does not read them there either (it starts a decoder from ``bos_token_id`` when
    ``decoder_start_token_id`` is missing, and pads with ``eos``), and the runtime applies
    the same fallbacks, so the export decodes as its source does.
    """
    generation = copy.deepcopy(model.generation_config)
    if task == SEQ2SEQ and generation.decoder_start_token_id is None and generation.bos_token_id is None:
        raise ExportError(
            source, "has neither decoder_start_token_id nor bos_token_id in its generation config",
            "Set decoder_start_token_id in generation_config.json to the token summaries "
            "start with (BART: </s>, T5: <pad>, BERT2BERT: [CLS])",
        )
    return generation


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
