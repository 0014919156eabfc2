"""The project's error base, here in the shared engine so that every package can raise it.

``summarizer.errors`` re-exports ``CondenseError`` with the document errors; the engine's
own failures on model folders (``ModelFolderError``, ``CausalFolderError``, ``TokenizerError``)
stay plain ``ValueError``s that the packages above turn into messages for their users.
"""
from __future__ import annotations


class CondenseError(Exception):
    """Base class of every error this project raises on purpose."""


class ModelSetupError(CondenseError, ValueError):
    """A built-in model could not be prepared (conversion failed or its source is missing)."""
