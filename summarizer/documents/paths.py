"""Folders named by a user, confined to a root folder the operator configured.

The app lets a user type a folder to summarize; it must never read outside the root set
in Settings. Both the folder and every file found in it are resolved (symbolic links
followed, ``..`` collapsed) and refused unless the result lies inside the resolved root,
so neither ``../../etc`` nor a symlink planted in the tree leads out of it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Tuple, Union

from summarizer.errors import CondenseError
from summarizer.documents.loaders import iter_supported_files

PathLike = Union[str, "os.PathLike[str]"]


class OutsideRootError(CondenseError, ValueError):
    """A path that resolves outside the configured root, or a root that is not a folder."""


def is_within(path: Path, root: Path) -> bool:
    """Whether resolved ``path`` is ``root`` or lies under it (both already resolved)."""
    return path == root or root in path.parents


def resolve_under(root: PathLike, name: PathLike) -> Path:
    """The folder or file ``name`` (relative to ``root``) resolved, if inside ``root``."""
    if not str(root).strip():
        raise OutsideRootError("no batch root folder is configured. Set one in Settings")
    base = Path(root).expanduser()
    if not base.is_dir():
        raise OutsideRootError(f"{root}: the batch root is not a folder. Fix it in Settings")
    base = base.resolve(strict=True)
    text = str(name).strip()
    if Path(text).is_absolute():
        raise OutsideRootError(f"{name}: give a path relative to the batch root, "
                               "not an absolute one")
    target = (base / text).resolve(strict=False)
    if not is_within(target, base):
        raise OutsideRootError(f"{name}: resolves outside the batch root {base}. "
                               "Choose a folder inside it")
    if not target.exists():
        raise OutsideRootError(f"{name}: no such file or folder under the batch root {base}")
    return target


def files_under(root: PathLike, folder: Path) -> Tuple[List[Path], List[str]]:
    """Supported files in ``folder`` (recursively) whose real path is inside ``root``,
    and the names refused because a symbolic link leads out of it."""
    base = Path(root).expanduser().resolve(strict=True)
    kept: List[Path] = []
    refused: List[str] = []
    candidates = [folder] if folder.is_file() else iter_supported_files(folder)
    for path in candidates:
        if is_within(path.resolve(strict=False), base):
            kept.append(path)
        else:
            refused.append(f"{path}: a link that leads outside the batch root; skipped")
    return kept, refused
