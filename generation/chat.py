"""Chat templates: the Jinja template an instruction-tuned model ships, rendered safely.

The template comes from ``tokenizer_config.json`` (``chat_template``: a string, or a list
of named templates of which we take "default") or from ``chat_template.jinja``, where
transformers >= 4.50 saves it. It is rendered the way transformers renders it
(``apply_chat_template``): Jinja's ``ImmutableSandboxedEnvironment`` with ``trim_blocks``
and ``lstrip_blocks``, the loop-controls extension, ``raise_exception``, ``strftime_now``
and a ``tojson`` that keeps non-ASCII text, plus the tokenizer's special tokens
(``bos_token``, ``eos_token``, ...) as variables. The sandbox means a template from a
downloaded model cannot reach Python internals or change anything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from runtime.config import read_json
from runtime.errors import ModelFileError

from .errors import GenerationError

Message = Mapping[str, str]
SPECIAL_KEYS = ("bos_token", "eos_token", "pad_token", "unk_token")


class ChatTemplateError(GenerationError):
    """A template that does not compile or render, or messages it cannot take."""


def _raise(message: str) -> None:
    raise ChatTemplateError(f"the chat template refused the messages: {message}")


def _tojson(value: Any, ensure_ascii: bool = False, indent: Optional[int] = None,
            separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@dataclass(frozen=True)
class ChatTemplate:
    """A compiled template; ``special`` maps bos_token/eos_token/... to their text.
    Rendering is read-only, so one instance serves every thread."""

    source: str
    special: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from jinja2 import TemplateError
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=[loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals.update(raise_exception=_raise, strftime_now=_strftime_now)
        try:
            compiled = env.from_string(self.source)
        except TemplateError as e:
            raise ChatTemplateError(f"the chat template does not compile: {e}. "
                                    "Fix chat_template in tokenizer_config.json") from e
        object.__setattr__(self, "_compiled", compiled)

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True,
               **variables: Any) -> str:
        """The prompt text for ``messages`` (each with "role" and "content" strings); with
        ``add_generation_prompt`` it ends where the assistant's reply begins."""
        from jinja2 import TemplateError

        checked = [_check(i, m) for i, m in enumerate(messages)]
        if not checked:
            raise ChatTemplateError(
                "no messages: give at least one {'role': 'user', 'content': ...}")
        try:
            return self._compiled.render(messages=checked,
                                         add_generation_prompt=add_generation_prompt,
                                         **{**self.special, **variables})
        except TemplateError as e:
            raise ChatTemplateError(f"the chat template failed to render: {e}") from e

    @classmethod
    def from_model_dir(cls, path: Union[str, Path]) -> Optional["ChatTemplate"]:
        """The folder's template, or None when the model has none (a base model)."""
        path = Path(path)
        try:
            config = read_json(path / "tokenizer_config.json")
        except ModelFileError as e:
            raise ChatTemplateError(str(e)) from e
        source = config.get("chat_template")
        if isinstance(source, list):  # named templates: [{"name": ..., "template": ...}]
            named = {t.get("name"): t.get("template") for t in source if isinstance(t, dict)}
            source = named.get("default")
        jinja = path / "chat_template.jinja"
        if not source and jinja.is_file():
            try:
                source = jinja.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ChatTemplateError(f"{jinja}: cannot be read as UTF-8 text ({e}). Restore "
                                        "it, or export the model again") from e
        if not source:
            return None
        if not isinstance(source, str):
            raise ChatTemplateError(f"{path / 'tokenizer_config.json'}: chat_template is a "
                                    f"{type(source).__name__}, not a template. Correct or "
                                    "remove it")
        special = {k: _token_text(config.get(k)) for k in SPECIAL_KEYS}
        try:
            return cls(source=source, special={k: v for k, v in special.items() if v is not None})
        except ChatTemplateError as e:  # name the folder it came from
            raise ChatTemplateError(f"{path}: {e}") from e


def _check(index: int, message: Message) -> Dict[str, str]:
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str) \
            or not isinstance(message.get("content"), str):
        raise ChatTemplateError(
            f"message {index} must be a mapping with string 'role' and 'content', got {message!r}")
    return dict(message)


def _token_text(value: Any) -> Optional[str]:
    """A special token as tokenizer_config.json stores it: a string or {"content": ...}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None
