"""Typed errors of ``generation/``: each says what is wrong and what to do."""
from __future__ import annotations

from runtime.errors import CondenseError, ModelSetupError  # noqa: F401  (re-exported)


class GenerationError(CondenseError, ValueError):
    """Settings, prompts or model folders that text generation cannot use."""
