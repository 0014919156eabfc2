"""Typed errors of the training package; each says what to do about it."""
from __future__ import annotations

from summarizer.errors import CondenseError


class TrainingError(CondenseError):
    """A training run that cannot start or continue: ``str(e)`` reads "<problem>. <fix>"."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}. {fix}")


class ConfigError(TrainingError, ValueError):
    """A training setting out of range, of the wrong type, or unknown."""
