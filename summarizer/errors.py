"""Typed errors. Each names the input it is about and says what the user can do."""
from __future__ import annotations

from typing import Optional

from runtime.errors import CondenseError  # noqa: F401  (the base, re-exported here)


class BudgetError(CondenseError, ValueError):
    """A length budget that cannot be honoured (none or several given, or out of range)."""


class UnknownMethodError(CondenseError, ValueError):
    """A summarization method name that is not registered."""


class DocumentError(CondenseError):
    """A document that cannot be turned into text.

    ``source`` is the file (or record id) at fault and ``fix`` what to do about it;
    ``str(error)`` reads ``"<source>: <problem>. <fix>"``.
    """

    def __init__(self, source: Optional[str], problem: str, fix: str) -> None:
        self.source = source
        self.problem = problem
        self.fix = fix
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{problem}. {fix}")

    def __reduce__(self):
        # Rebuilt from its three parts when it crosses a process (a batch worker, a Ray
        # actor): the default would call __init__ with the message alone and fail there.
        return self.__class__, (self.source, self.problem, self.fix)


class EmptyDocumentError(DocumentError):
    """The document has no text (empty, whitespace only, or nothing left after cleaning)."""


class UnsupportedFormatError(DocumentError):
    """The file's extension is not one the loaders read."""


class BinaryFileError(DocumentError):
    """A file with a text extension whose bytes are not text."""


class CorruptFileError(DocumentError):
    """A PDF or DOCX that its parser cannot open (damaged, truncated, encrypted)."""


class NoTextLayerError(DocumentError):
    """A PDF whose pages hold no extractable text (a scan)."""


class FileTooLargeError(DocumentError):
    """A file over the configured size limit."""


class UnreadableFileError(DocumentError):
    """A file the operating system will not let us read (permissions, not a regular file)."""
