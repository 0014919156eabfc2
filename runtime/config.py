"""Generation settings: a model folder's ``generation_config.json`` plus caller overrides.

Field names and meanings follow Hugging Face's ``GenerationConfig`` so that a folder
exported from a checkpoint decodes the way the checkpoint's authors configured it, and
so that results can be compared token for token with ``transformers``' ``generate``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union


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
        """``generation_config.json``, with token ids missing there taken from ``config.json``
        (older checkpoints keep ``decoder_start_token_id`` and friends only in the latter)."""
        path = Path(path)
        data: Dict[str, Any] = {}
        model_config = _read_json(path / "config.json")
        for key in ("eos_token_id", "pad_token_id", "bos_token_id", "decoder_start_token_id",
                    "forced_bos_token_id", "forced_eos_token_id"):
            if model_config.get(key) is not None:
                data[key] = model_config[key]
        data.update({k: v for k, v in _read_json(path / "generation_config.json").items() if v is not None})
        return cls.from_dict(data)


def _read_json(path: Path) -> Dict[str, Any]:
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    return data if isinstance(data, dict) else {}
