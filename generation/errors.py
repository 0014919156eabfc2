"""Typed errors of ``generation/``: each says what is wrong and what to do."""
from __future__ import annotations

from summarizer.errors import CondenseError


class GenerationError(CondenseError, ValueError):
    """Settings, prompts or model folders that text generation cannot use."""


class ModelSetupError(GenerationError):
    """The default model could not be prepared (conversion failed or its source is missing)."""
