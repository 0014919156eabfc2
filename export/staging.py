"""An export folder appears whole or not at all.

Exports write into a sibling ``.NAME.partial`` folder and move it to ``NAME`` in one
``os.replace`` once everything is written, so an interrupted export never leaves a folder
the runtime would take for a finished one; the partial folder is removed in any case.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yields the staging path (not created: some writers make it themselves); when the
    block ends without an error it becomes ``out``, which must be absent or empty."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.absolute().with_name(f".{out.absolute().name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        yield staging
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
