"""Generation settings: a model folder's ``generation_config.json`` plus caller overrides.

Field names and meanings follow Hugging Face's ``GenerationConfig`` so that a folder
exported from a checkpoint decodes the way the checkpoint's authors configured it, and
so that results can be compared token for token with ``transformers``' ``generate``.

A folder is data from anywhere, so what it says is checked where it is read
(``read_generation_config``): a JSON file that does not parse (cut short, or nested too deep
for Python's parser), a setting of the wrong type or below its minimum raises a
``ModelFileError`` naming the file and the setting; a setting above ``DecodingLimits``
is lowered to the cap with a note that says so (``"num_beams": 1000000`` took 15 s and
5.3 GB before onnxruntime gave up).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import ModelFileError

FIX_JSON = ("Restore the file from the model's source, or export the model again "
            "(python -m export onnx)")


@dataclass(frozen=True)
class GenerationConfig:
    max_length: int = 20  # total decoder length, prompt included (transformers' default)
    max_new_tokens: Optional[int] = None  # when set, wins over max_length
    min_length: int = 0
    min_new_tokens: int = 0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: Union[bool, str] = False  # True, False or "never"
    no_repeat_ngram_size: int = 0
    # Ours, not transformers': greedy search ends a row as soon as its newest n tokens
    # repeat n tokens it has already generated, and drops all but the first of them (often
    # the full stop both follow; 0 = off). Small LMs fine-tuned to copy sentences tend to
    # start the summary over instead of ending it.
    stop_repeat_ngram_size: int = 0
    # Ours too: with stop_repeat_ngram_size, how many times a row takes such a repeat back
    # and writes its next-best token where the repeat began, before a repeat ends it.
    repeat_retries: int = 0
    repetition_penalty: float = 1.0
    # Sampling, with transformers' defaults: without do_sample decoding is greedy. Only the
    # generator reads them, for its defaults (generation/defaults.py); search here ignores them.
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    forced_bos_token_id: Optional[int] = None
    forced_eos_token_id: Optional[int] = None
    eos_token_id: Tuple[int, ...] = ()
    pad_token_id: Optional[int] = None
    bos_token_id: Optional[int] = None
    decoder_start_token_id: Optional[int] = None

    def __post_init__(self) -> None:
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be at least 1, got {self.num_beams}")
        if self.repeat_retries < 0:
            raise ValueError(f"repeat_retries must be at least 0, got {self.repeat_retries}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")

    def total_length(self, prompt_length: int) -> int:
        """The decoder length at which generation stops (transformers' max_length)."""
        if self.max_new_tokens is not None:
            return prompt_length + self.max_new_tokens
        return self.max_length

    def override(self, **changes: Any) -> "GenerationConfig":
        """A copy with the given fields changed; ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "GenerationConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        eos = values.get("eos_token_id", ())
        values["eos_token_id"] = tuple(eos) if isinstance(eos, (list, tuple)) else (eos,)
        return cls(**values)

    @classmethod
    def from_model_dir(cls, path: Union[str, Path]) -> "GenerationConfig":
        """The folder's settings (``read_generation_config``), without its notes."""
        return read_generation_config(path)[0]


@dataclass(frozen=True)
class DecodingLimits:
    """Caps on decoding settings read from a model folder; a larger value is lowered to
    the cap, with a note. They bound the time and memory a folder can make us spend, well
    above what any real checkpoint asks for:

    * ``max_beams``: summarization checkpoints use 4 (BART-CNN) to 8 (PEGASUS); each beam
      is another row through the decoder at every step, so time and memory grow with it;
    * ``max_tokens`` (``max_length``, ``max_new_tokens`` and their minimums): 32,768, four
      times the context of the largest model here (SmolLM2: 8,192); beam search allocates
      its token arrays for ``max_length`` up front;
    * ``max_ngram`` (``no_repeat_ngram_size``, ``stop_repeat_ngram_size``): checkpoints use
      3 or 4, the built-in summarizer stops at 10; every step scans every n-gram of every row;
    * ``max_retries`` (``repeat_retries``): the built-in summarizer uses 12; each retry
      decodes again from where a repeat began.
    """

    max_beams: int = 16
    max_tokens: int = 32_768
    max_ngram: int = 64
    max_retries: int = 64


# name -> (minimum, the DecodingLimits field that caps it)
_COUNTS = {
    "num_beams": (1, "max_beams"), "max_length": (1, "max_tokens"),
    "max_new_tokens": (1, "max_tokens"), "min_length": (0, "max_tokens"),
    "min_new_tokens": (0, "max_tokens"), "no_repeat_ngram_size": (0, "max_ngram"),
    "stop_repeat_ngram_size": (0, "max_ngram"), "repeat_retries": (0, "max_retries"),
}
_TOKEN_IDS = ("eos_token_id", "pad_token_id", "bos_token_id", "decoder_start_token_id",
              "forced_bos_token_id", "forced_eos_token_id")


def read_json(path: Path, *, fix: str = FIX_JSON) -> Dict[str, Any]:
    """A JSON object from a model folder ({} when the file is absent). A file that does
    not parse, is nested deeper than Python's parser goes (``RecursionError``) or holds
    something other than an object raises ``ModelFileError`` naming it."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ModelFileError(path, f"cannot be read ({e.strerror or e})", fix) from e
    except UnicodeDecodeError as e:
        raise ModelFileError(path, "is not UTF-8 text, so not JSON", fix) from e
    except json.JSONDecodeError as e:
        raise ModelFileError(path, f"is not valid JSON ({e.msg} at line {e.lineno} column "
                             f"{e.colno}; cut short?)", fix) from e
    except RecursionError as e:
        raise ModelFileError(path, "is nested too deeply to read (no model config nests "
                             "more than a few levels)", fix) from e
    if not isinstance(data, dict):
        raise ModelFileError(path, f"holds a JSON {type(data).__name__}, not an object", fix)
    return data


# Settings transformers' GenerationConfig has under the same name (the others are ours):
# what GenerationConfig.from_model_config takes from config.json, with transformers'
# defaults, against which it tells a setting the decoder part of config.json may fill.
_TRANSFORMERS_DEFAULTS = {f.name: f.default for f in fields(GenerationConfig)
                          if f.name not in ("stop_repeat_ngram_size", "repeat_retries")}
_TRANSFORMERS_DEFAULTS.update(min_new_tokens=None, eos_token_id=None)
# Where a composite config.json keeps its decoder's config (PretrainedConfig.get_text_config
# with decoder=True), e.g. EncoderDecoderModel's "decoder".
_DECODER_PARTS = ("decoder", "generator", "text_config")


def read_generation_config(path: Union[str, Path], limits: DecodingLimits = DecodingLimits()
                           ) -> Tuple[GenerationConfig, Tuple[str, ...]]:
    """The folder's generation settings, taken as transformers takes them, checked; and
    notes for the settings lowered to ``limits``.

    transformers (4.57) loads ``GenerationConfig.from_pretrained(folder)`` after the model
    and falls back to the one ``__init__`` made with ``GenerationConfig.from_model_config``
    only when that raises ``OSError``: the file is absent (``PreTrainedModel.from_pretrained``).
    So:

    * with ``generation_config.json`` that file alone decides: a setting it leaves out has
      transformers' default, whatever ``config.json`` says (a BART ``config.json``'s
      ``forced_eos_token_id`` does not apply, nor its ``decoder_start_token_id``: for an
      encoder-decoder ``generate`` then starts from ``bos_token_id``, as the summarizer does);
    * without it, every generation setting ``config.json`` holds at its top level, then,
      for those still at transformers' default, its decoder part's (``from_model_config``).

    ``config.json`` is read in both cases for ``vocab_size``, the bound on token ids.
    Not followed: transformers' legacy switch back to ``config.json`` when the file says
    ``"_from_model_config": true`` and ``config.json`` holds generation settings other than
    its model class's defaults (which only transformers knows); a file that does not parse
    is an error here, where transformers quietly uses ``config.json``.
    """
    path = Path(path)
    model_config = read_json(path / "config.json")
    if (path / "generation_config.json").is_file():
        file = path / "generation_config.json"
        known = {f.name for f in fields(GenerationConfig)}
        values = {k: v for k, v in read_json(file).items() if k in known and v is not None}
    else:
        file = path / "config.json"
        values = _from_model_config(model_config)
    vocab = model_config.get("vocab_size")
    vocab = vocab if isinstance(vocab, int) and not isinstance(vocab, bool) and vocab > 0 else None
    notes: List[str] = []
    for key, value in values.items():
        values[key] = _checked(key, value, file, limits, vocab, notes)
    if values.get("repeat_retries") and (values.get("no_repeat_ngram_size")
                                         or values.get("repetition_penalty", 1.0) != 1.0):
        raise ModelFileError(file, "repeat_retries does not combine with "
                             "no_repeat_ngram_size or repetition_penalty",
                             "Remove repeat_retries or the other two from it")
    return GenerationConfig.from_dict(values), tuple(notes)


def _from_model_config(model_config: Dict[str, Any]) -> Dict[str, Any]:
    """The generation settings of a ``config.json`` (a folder without generation_config.json),
    as ``GenerationConfig.from_model_config`` picks them: those set at the top level, then,
    for each still at transformers' default, the decoder part's value (where the config has
    exactly one decoder part; transformers refuses several)."""
    values = {k: model_config[k] for k in _TRANSFORMERS_DEFAULTS if model_config.get(k) is not None}
    parts = [model_config[name] for name in _DECODER_PARTS if model_config.get(name) is not None]
    if len(parts) == 1 and isinstance(parts[0], dict):
        for key, default in _TRANSFORMERS_DEFAULTS.items():
            if parts[0].get(key) is not None and values.get(key, default) == default:
                values[key] = parts[0][key]
    return values


def _checked(key: str, value: Any, file: Path, limits: DecodingLimits, vocab: Optional[int],
             notes: List[str]) -> Any:
    """``value`` of setting ``key`` if usable, lowered to its cap (with a note) if above it;
    else ``ModelFileError``."""
    def bad(rule: str) -> ModelFileError:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return ModelFileError(file, f"{key} is {shown}; it must be {rule}",
                              f"Correct {key} in it, or remove it to use the default")

    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if key in _COUNTS:
        low, cap_name = _COUNTS[key]
        cap = getattr(limits, cap_name)
        if not whole(value) or value < low:
            raise bad(f"a whole number of at least {low}")
        if value > cap:
            notes.append(f"{file.name} asks for {key} {value:,}; using {cap:,}, the most "
                         f"Condense allows (DecodingLimits.{cap_name})")
            return cap
        return value
    if key in _TOKEN_IDS:
        if key == "pad_token_id" and whole(value) and value < 0:
            return None  # "-1: no padding token" in some old Llama conversions; we pick one
        # An end token the model cannot produce is harmless; any other id is fed to the
        # model, whose embedding lookup fails outside its vocabulary.
        limit = None if key == "eos_token_id" else vocab
        ids = value if key == "eos_token_id" and isinstance(value, list) else [value]
        if not all(whole(i) and i >= 0 and (limit is None or i < limit) for i in ids):
            top = f" below the vocabulary size {limit} of config.json" if limit else ""
            raise bad(f"a token id (a whole number from 0{top})"
                      + (" or a list of them" if key == "eos_token_id" else ""))
        return value
    if key in ("length_penalty", "repetition_penalty"):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or (key == "repetition_penalty" and value <= 0):
            raise bad("a finite number" + (" above 0" if key == "repetition_penalty" else ""))
        return float(value)
    if key in ("temperature", "top_p"):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number and math.isfinite(value)
                and (0 < value <= 1 if key == "top_p" else value >= 0)):
            raise bad("a number of at least 0 (0 is greedy)" if key == "temperature"
                      else "a number above 0 and at most 1 (1 turns it off)")
        return float(value)
    if key == "top_k":
        if not whole(value) or value < 0:
            raise bad("a whole number of at least 0 (0 turns it off)")
        return value
    if key == "do_sample":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if key == "early_stopping":
        if not (isinstance(value, bool) or value == "never"):
            raise bad('true, false or "never"')
        return value
    return value
