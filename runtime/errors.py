"""The project's error base, here in the shared engine so that every package can raise it.

``summarizer.errors`` re-exports ``CondenseError`` with the document errors. A model folder
that cannot be used raises a ``ModelFileError`` (the seq2seq, causal and tokenizer loaders
raise subclasses of it): it names the file at fault and the fix, so every front end (the
command lines, the app, batch and Ray workers) shows it as it is.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union


class CondenseError(Exception):
    """Base class of every error this project raises on purpose."""


class ModelSetupError(CondenseError, ValueError):
    """A built-in model could not be prepared (conversion failed or its source is missing)."""


class ModelFileError(CondenseError, ValueError):
    """A model folder, or a file in it, that cannot be used: a graph onnxruntime refuses,
    a JSON file that does not parse, a setting out of range, a missing file.

    ``path`` is the file (or folder) at fault, ``problem`` what is wrong and ``fix`` what to
    do; ``str(error)`` reads ``"<path>: <problem>. <fix>"``, as ``DocumentError`` does.
    A ``ValueError`` too, as the loaders' errors always were.
    """

    def __init__(self, path: Optional[Union[str, Path]], problem: str, fix: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{problem}. {fix}")

    def __reduce__(self):
        # Rebuilt from its three parts when it crosses a process boundary (Ray workers,
        # process pools): the default would call the class with the message alone.
        return type(self), (self.path, self.problem, self.fix)
