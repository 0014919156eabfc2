"""Unpack an uploaded zip, or save uploaded files, into a folder that we own, safely.

Uploads are untrusted. Before anything is written the archive's directory is checked:

- every entry name must be relative and stay inside the folder: ``../x``, ``a/../../x``,
  ``/etc/x``, ``C:\\x`` and ``\\\\server\\x`` refuse the whole archive, as do symbolic
  links and two entries with the same name;
- at most ``max_files`` files, at most ``max_file_bytes`` each and ``max_total_bytes`` in
  all (declared sizes), and no entry that expands more than ``max_ratio`` times its
  compressed size (a zip bomb of the 42.zip kind);

and while writing, the bytes actually produced are counted against the same limits, so an
entry that lies about its size is stopped too. Files are created with ``O_EXCL`` under a
folder the caller made, so nothing is overwritten and nothing outside it is touched.
Directories and hidden entries (``__MACOSX/``, ``.DS_Store``) are skipped, and so are files
of a type the loaders do not read; their names are returned in ``skipped``.
"""
from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable, List, Sequence, Tuple, Union

from summarizer.errors import CondenseError
from summarizer.documents.loaders import SUPPORTED_EXTENSIONS

_CHUNK = 1 << 16


class ArchiveError(CondenseError, ValueError):
    """An archive or upload refused as unsafe or too large; the message says why."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int = 500
    max_file_bytes: int = 50 * 1024 * 1024
    max_total_bytes: int = 200 * 1024 * 1024
    max_ratio: float = 100.0  # uncompressed / compressed size of one entry

    def __post_init__(self) -> None:
        sizes = (self.max_files, self.max_file_bytes, self.max_total_bytes)
        if min(sizes) < 1 or self.max_ratio <= 1:
            raise ValueError(f"archive limits must be positive (ratio > 1), got {self}")


@dataclass(frozen=True)
class Extracted:
    files: List[Path]  # written, in archive order
    skipped: List[str] = field(default_factory=list)  # entries not written, and why


def safe_relative_path(name: str) -> PurePosixPath:
    """An entry name as a relative path that cannot leave its folder, or ArchiveError."""
    if not name or "\x00" in name:
        raise ArchiveError(f"refused the archive: an entry has an empty or invalid name ({name!r})")
    unified = name.replace("\\", "/")
    path = PurePosixPath(unified)
    drive = len(unified) >= 2 and unified[1] == ":"
    if path.is_absolute() or drive:
        raise ArchiveError(f"refused the archive: entry {name!r} has an absolute path. "
                           "Zip the files with relative paths")
    if ".." in path.parts:
        raise ArchiveError(f"refused the archive: entry {name!r} points outside its folder ('..'). "
                           "Zip the files with plain relative paths")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise ArchiveError(f"refused the archive: entry {name!r} has no file name")
    return PurePosixPath(*parts)


def upload_name(name: str) -> PurePosixPath:
    """An uploaded file's base name (browsers send no folders; anything before the last
    slash is dropped), or ArchiveError when nothing usable is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base in ("", ".", "..") or "\x00" in base:
        raise ArchiveError(f"refused the upload {name!r}: it has no usable file name")
    return PurePosixPath(base)


def extract_zip(data: Union[bytes, BinaryIO], dest: Path, *,
                limits: ArchiveLimits = ArchiveLimits()) -> Extracted:
    """Unpack the zip ``data`` into the existing, empty-or-owned folder ``dest``."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise ArchiveError(f"the upload is not a readable zip file ({exc}). "
                           "Upload a .zip, or the files themselves") from exc
    with archive:
        plan, skipped = _plan(archive.infolist(), limits)
        written: List[Path] = []
        total = 0
        for info, rel in plan:
            with archive.open(info) as member:
                try:
                    size = _write_new(dest, rel, member, budget=min(
                        limits.max_file_bytes, limits.max_total_bytes - total))
                except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError,
                        RuntimeError) as exc:
                    skipped.append(f"{info.filename}: cannot be unpacked ({exc})")
                    continue
            total += size
            written.append(dest / rel)
    return Extracted(written, skipped)


def save_uploads(files: Iterable[Tuple[str, bytes]], dest: Path, *,
                 limits: ArchiveLimits = ArchiveLimits()) -> Extracted:
    """Write uploaded (name, bytes) pairs into ``dest`` under their base names."""
    written: List[Path] = []
    skipped: List[str] = []
    total = 0
    for name, data in files:
        rel = upload_name(name)
        if not _supported(rel):
            skipped.append(f"{name}: not a supported type ({', '.join(SUPPORTED_EXTENSIONS)})")
            continue
        if len(written) >= limits.max_files:
            raise ArchiveError(f"too many files: more than {limits.max_files}. "
                               "Upload fewer at a time, or raise the batch size in Settings")
        if len(data) > limits.max_file_bytes or total + len(data) > limits.max_total_bytes:
            raise ArchiveError(f"{name}: the upload is over the size limit "
                               f"({limits.max_file_bytes:,} bytes a file, "
                               f"{limits.max_total_bytes:,} in all)")
        if (dest / rel).exists():
            skipped.append(f"{name}: a file of the same name was already uploaded")
            continue
        total += _write_new(dest, rel, io.BytesIO(data), budget=limits.max_file_bytes)
        written.append(dest / rel)
    return Extracted(written, skipped)


def unpack_uploads(files: Sequence[Tuple[str, bytes]], dest: Path, *,
                   limits: ArchiveLimits = ArchiveLimits()) -> Extracted:
    """Uploaded files and zips into ``dest``: loose files at its top, each zip's files
    under a folder named after the zip (``docs.zip`` -> ``docs/``). The file-count and
    total-size limits hold across all of them together."""
    loose = [(name, data) for name, data in files if not name.lower().endswith(".zip")]
    zips = [(name, data) for name, data in files if name.lower().endswith(".zip")]
    result = save_uploads(loose, dest, limits=limits)
    written, skipped = list(result.files), list(result.skipped)
    for name, data in zips:
        stem = upload_name(name).name[: -len(".zip")] or "archive"
        folder, n = dest / stem, 1
        while folder.exists():
            n += 1
            folder = dest / f"{stem}-{n}"
        folder.mkdir()
        used = sum(p.stat().st_size for p in written)
        remaining = replace(limits, max_files=max(1, limits.max_files - len(written)),
                            max_total_bytes=max(1, limits.max_total_bytes - used))
        if len(written) >= limits.max_files:
            raise ArchiveError(f"too many files: more than {limits.max_files}. "
                               "Upload fewer at a time, or raise the batch size in Settings")
        try:
            inner = extract_zip(data, folder, limits=remaining)
        except ArchiveError as exc:
            raise ArchiveError(f"{name}: {exc}") from exc
        written += inner.files
        skipped += [f"{name}/{s}" for s in inner.skipped]
    return Extracted(written, skipped)


# -- internals -----------------------------------------------------------------------
def _supported(rel: PurePosixPath) -> bool:
    return rel.suffix.lower() in SUPPORTED_EXTENSIONS


def _plan(infos: List[zipfile.ZipInfo], limits: ArchiveLimits):
    """Check every entry before writing any; return what to write and what to skip."""
    plan: List[Tuple[zipfile.ZipInfo, PurePosixPath]] = []
    skipped: List[str] = []
    seen = set()
    declared = 0
    for info in infos:
        rel = safe_relative_path(info.filename)  # raises on ../ and absolute names
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"refused the archive: entry {info.filename!r} is a symbolic link")
        if info.is_dir():
            continue
        if any(part.startswith(".") for part in rel.parts) or rel.parts[0] == "__MACOSX":
            skipped.append(f"{info.filename}: hidden file")
            continue
        key = rel.as_posix().lower()
        if key in seen:
            raise ArchiveError(f"refused the archive: entry {info.filename!r} appears twice")
        seen.add(key)
        if not _supported(rel):
            skipped.append(f"{info.filename}: not a supported type")
            continue
        if len(plan) >= limits.max_files:
            raise ArchiveError(f"refused the archive: more than {limits.max_files} files. "
                               "Split it, or raise the batch size in Settings")
        if info.file_size > limits.max_file_bytes:
            raise ArchiveError(f"refused the archive: {info.filename!r} unpacks to "
                               f"{info.file_size:,} bytes, over {limits.max_file_bytes:,}")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _CHUNK and ratio > limits.max_ratio:
            raise ArchiveError(f"refused the archive: {info.filename!r} expands {ratio:,.0f} times "
                               f"(over {limits.max_ratio:g}); it looks like a zip bomb")
        declared += info.file_size
        if declared > limits.max_total_bytes:
            raise ArchiveError("refused the archive: it unpacks to over "
                               f"{limits.max_total_bytes:,} "
                               "bytes. Split it, or upload fewer files")
        plan.append((info, rel))
    return plan, skipped


def _write_new(dest: Path, rel: PurePosixPath, stream: BinaryIO, *, budget: int) -> int:
    """Copy ``stream`` to a new file ``dest/rel``, at most ``budget`` bytes; its size."""
    target = dest.joinpath(*rel.parts)
    root = os.path.realpath(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Belt and braces: the parent, once created, must still resolve inside dest.
    if os.path.commonpath([root, os.path.realpath(target.parent)]) != root:
        raise ArchiveError(f"refused: {rel} would be written outside the upload folder")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o600)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise ArchiveError(f"refused: {rel} unpacks to more than its size limit "
                                       f"({budget:,} bytes)")
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return size
