"""The one error type of ``export/``: it names the model and says what to do."""
from __future__ import annotations

from summarizer.errors import CondenseError


class ExportError(CondenseError):
    """A checkpoint that cannot be exported, or an output folder that cannot be written.

    ``source`` is the model folder or hub id as given, ``problem`` what is wrong and ``fix``
    what the user can do; ``str(error)`` reads ``"<source>: <problem>. <fix>"`` like the
    document errors of ``summarizer``.
    """

    def __init__(self, source: str, problem: str, fix: str) -> None:
        self.source = source
        self.problem = problem
        self.fix = fix
        super().__init__(f"{source}: {problem}. {fix}")

    def __reduce__(self):  # picklable across processes, as summarizer's DocumentError
        return self.__class__, (self.source, self.problem, self.fix)
