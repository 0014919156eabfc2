"""The errors of ``export/``: a model that cannot be exported (``ExportError``, naming the
model and the fix), and a command run without the training packages it needs."""
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


# The packages of requirements-train.txt the export and training routes import (import
# names); requirements.txt, the light install, leaves them out.
TRAINING_PACKAGES = ("torch", "transformers", "optimum")
INSTALL_TRAINING = ("Install them: pip install -r requirements-train.txt (in the clone; "
                    "or pip install -e '.[train]')")


class TrainingPackagesMissing(CondenseError):
    """A command that needs torch, transformers or optimum, run where they are not
    installed (the light install). ``str(error)``: ``"<what>: <packages> not installed.
    <how to install>"``."""

    def __init__(self, what: str, missing: tuple) -> None:
        self.what = what
        self.missing = tuple(missing)
        super().__init__(f"{what}: {', '.join(self.missing)} "
                         f"{'is' if len(self.missing) == 1 else 'are'} not installed (the "
                         f"light install, requirements.txt, leaves out torch, transformers "
                         f"and optimum). {INSTALL_TRAINING}")

    def __reduce__(self):
        return self.__class__, (self.what, self.missing)


def require_training_packages(what: str, packages: tuple = TRAINING_PACKAGES) -> None:
    """``TrainingPackagesMissing`` naming ``what`` (the command or file) unless every one
    of ``packages`` can be imported; checked without importing them (no second of torch)."""
    from importlib.util import find_spec

    missing = tuple(p for p in packages if find_spec(p) is None)
    if missing:
        raise TrainingPackagesMissing(what, missing)
