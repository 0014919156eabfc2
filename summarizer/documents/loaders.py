"""Read .txt, .md, .html, .pdf and .docx files into a :class:`Document`.

Every way in (:func:`load_document` for a path, :func:`load_bytes` for an upload,
:func:`document_from_text` for a string) ends in :func:`document_from_text`: the text is
cleaned (``cleaning.clean_text``) and its language resolved (``nlp.resolve_language``).
Every failure is a typed :class:`~summarizer.errors.DocumentError` that names the file and
the fix; sizes are checked before anything is read or unpacked.
"""
from __future__ import annotations

import io
import logging
import os
import stat
import threading
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

from summarizer.documents.cleaning import clean_text
from summarizer.documents.decoding import decode_text
from summarizer.errors import (
    CorruptFileError, EmptyDocumentError, FileTooLargeError,
    NoTextLayerError, UnreadableFileError, UnsupportedFormatError,
)
from summarizer.nlp import resolve_language
from summarizer.types import Document, ExtractedText

SUPPORTED_EXTENSIONS = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
DOCX_EXPANSION_LIMIT = 20  # a DOCX may unpack to this many times LoaderConfig.max_bytes
# Where a user raises a limit; every flag and setting named here exists (test_bom_and_pairs).
_RAISE = "{flag} N on the command line, \"{page}\" on the app's Settings page"


@dataclass(frozen=True)
class LoaderConfig:
    max_bytes: int = 50 * 1024 * 1024  # larger files raise FileTooLargeError, unread
    max_chars: int = 5_000_000  # longer cleaned text raises FileTooLargeError

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_chars < 1:
            raise ValueError(f"limits must be positive, got {self}")


# -- public API ----------------------------------------------------------------------
def load_document(
    path: Union[str, "os.PathLike[str]"], *, config: LoaderConfig = LoaderConfig(),
    lang: Optional[str] = None,
) -> Document:
    """Load one file. ``Document.source`` is ``str(path)``, as given."""
    source = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise UnreadableFileError(source, "no such file",
                                  "Check the path and its spelling") from exc
    except OSError as exc:
        raise UnreadableFileError(source, f"cannot be read ({exc.strerror})",
                                  "Check that the file exists and that you may read it") from exc
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableFileError(source, "is a folder, not a file",
                                  "Pass a file, or load the folder's files one by one")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFileError(source, "is not a regular file", "Pass a regular file")
    _check_extension(source)
    _check_size(info.st_size, source, config)
    try:
        with open(path, "rb") as f:
            data = f.read(config.max_bytes + 1)  # the file may have grown since stat
    except OSError as exc:
        raise UnreadableFileError(source, f"cannot be read ({exc.strerror})",
                                  "Check that you have permission to read it") from exc
    return load_bytes(data, source, config=config, lang=lang)


def load_bytes(
    data: bytes, name: str, *, config: LoaderConfig = LoaderConfig(), lang: Optional[str] = None,
) -> Document:
    """Load an in-memory file (an upload). ``name`` gives the format and becomes the source."""
    ext = _check_extension(name)
    _check_size(len(data), name, config)
    if not data:
        raise EmptyDocumentError(name, "the file is empty", "Choose a file that contains text")
    extracted = _extract(data, ext, name, config)
    return document_from_text(extracted.text, source=name, lang=lang, config=config,
                              title=extracted.title)


def document_from_text(
    text: str, *, source: Optional[str] = None, lang: Optional[str] = None,
    config: LoaderConfig = LoaderConfig(), title: Optional[str] = None,
) -> Document:
    """Clean ``text`` and resolve its language (``None`` or ``"auto"`` detects it)."""
    cleaned = clean_text(text)
    if not cleaned:
        raise EmptyDocumentError(source, "there is no text left after cleaning",
                                 "Choose a file that contains text")
    if len(cleaned) > config.max_chars:
        raise FileTooLargeError(
            source, f"the text is {len(cleaned):,} characters, over the max_chars limit of "
            f"{config.max_chars:,}", "Split the document, or raise the limit: "
            f"{_RAISE.format(flag='--max-chars', page='Document length (characters)')}, "
            "or LoaderConfig(max_chars=...) in code")
    title = " ".join(clean_text(title).split()) if title else None
    return Document(text=cleaned, lang=resolve_language(lang, cleaned), source=source,
                    title=title or None)


def iter_supported_files(folder: Union[str, "os.PathLike[str]"]) -> Iterator[Path]:
    """Files under ``folder`` with a supported extension, recursively, in sorted order.

    Hidden files and folders (name starts with ".") and Word's "~$" lock files are
    skipped, and symlinked folders are not followed (they can loop or leave the tree).
    Unreadable sub-folders are skipped, as ``os.walk`` does.
    """
    root = Path(folder)
    if not root.is_dir():  # checked on the call, not on the first next()
        raise UnreadableFileError(str(folder), "is not a folder", "Pass an existing folder")
    found: List[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(
            Path(dirpath, name) for name in filenames
            if not name.startswith((".", "~$"))
            and Path(name).suffix.lower() in SUPPORTED_EXTENSIONS
        )
    return iter(sorted(found))


# -- checks --------------------------------------------------------------------------
def _check_extension(name: str) -> str:
    ext = Path(name).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = f"'{ext}'" if ext else "no extension"
        raise UnsupportedFormatError(
            name, f"unsupported file type ({shown})",
            f"Convert it to one of {', '.join(SUPPORTED_EXTENSIONS)}")
    return ext


def _check_size(size: int, source: str, config: LoaderConfig) -> None:
    if size > config.max_bytes:
        raise FileTooLargeError(
            source, f"the file is {size:,} bytes, over the limit of {config.max_bytes:,} bytes",
            "Split the file, or raise the limit: "
            f"{_RAISE.format(flag='--max-bytes', page='Upload size (MB)')}, "
            "or LoaderConfig(max_bytes=...) in code")


def _extract(data: bytes, ext: str, source: str, config: LoaderConfig) -> ExtractedText:
    if ext == ".txt":
        return ExtractedText(decode_text(data, source))
    if ext in (".md", ".markdown"):
        from summarizer.documents.html_text import markdown_to_text  # bs4, markdown-it: 0.11 s

        return markdown_to_text(decode_text(data, source))
    if ext in (".html", ".htm"):
        from summarizer.documents.html_text import declared_charset, extract_html

        return extract_html(decode_text(data, source, declared=declared_charset(data)))
    if ext == ".pdf":
        return ExtractedText(_pdf_text(data, source))
    return _docx_text(data, source, config)


# -- PDF -----------------------------------------------------------------------------
# pypdf logs a warning or an error for every repair it attempts ("EOF marker not found",
# "Advanced encoding ... not implemented yet"); on a file that we then read or reject
# with a typed error, that is noise. Its loggers all sit under "pypdf". pypdf is pure
# Python, so serializing PDF loads costs no parallelism (the GIL does it anyway) and lets
# one lock guard the level we raise and restore.
_PYPDF_LOCK = threading.Lock()


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    logger = logging.getLogger("pypdf")
    with _PYPDF_LOCK:
        saved = logger.level
        logger.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            logger.setLevel(saved)


def _pdf_text(data: bytes, source: str) -> str:
    """Page texts joined by blank lines; clean_text later repairs line-end hyphenation."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    # pypdf raises its own errors on most damage but plain Python ones on some (a bad
    # xref offset, a truncated stream); all of them mean "cannot read this file".
    parse_errors = (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                    AssertionError, ArithmeticError, NotImplementedError, RecursionError,
                    OSError)
    with _quiet_pypdf():
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):  # owner-only passwords open
                raise CorruptFileError(
                    source, "the PDF is protected by a password",
                    "Decrypt it first, e.g. `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`")
            pages = [page.extract_text() or "" for page in reader.pages]
        except DependencyError as exc:  # AES without the `cryptography` package
            raise CorruptFileError(source, "the PDF is encrypted (AES)",
                                   "Decrypt it first, or install `cryptography`") from exc
        except parse_errors as exc:
            raise CorruptFileError(source, f"the PDF is damaged or not a PDF ({exc})",
                                   "Re-export or re-download it, or open and re-save it") from exc
    if not pages:
        raise EmptyDocumentError(source, "the PDF has no pages", "Choose another file")
    if not any(page.strip() for page in pages):
        raise NoTextLayerError(
            source, "the PDF has no text layer (it looks like a scanned PDF)",
            "Run OCR first, e.g. `ocrmypdf in.pdf out.pdf`, then load the OCR'd copy")
    return "\n\n".join(pages)


# -- DOCX ----------------------------------------------------------------------------
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File Binary header
_RESAVE_DOCX = "Open it in Word or LibreOffice and save it again as .docx"


def _docx_text(data: bytes, source: str, config: LoaderConfig) -> ExtractedText:
    """Paragraphs and table cells in body order; title from a Title/Heading 1 paragraph."""
    _check_docx_zip(data, source, config)
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    try:
        document = docx.Document(io.BytesIO(data))
        parts = _docx_blocks(document)
    # python-docx trusts the package's XML: a part without the expected namespace ends in
    # AttributeError, a missing part in KeyError; zipfile adds zlib.error (a damaged
    # stream), NotImplementedError (an odd compression method), RuntimeError (encryption).
    except (PackageNotFoundError, XMLSyntaxError, zipfile.BadZipFile, zlib.error, KeyError,
            ValueError, AttributeError, TypeError, IndexError, NotImplementedError,
            RuntimeError) as exc:
        raise CorruptFileError(source, f"the DOCX is damaged or not a Word file ({exc})",
                               _RESAVE_DOCX) from exc
    title = next((text for text, style in parts if style in ("Title", "Heading 1")), None)
    return ExtractedText("\n\n".join(text for text, _ in parts), title)


def _check_docx_zip(data: bytes, source: str, config: LoaderConfig) -> None:
    """Reject a damaged zip, a zip that is not a DOCX, and a zip bomb, before unpacking.

    The declared sizes are trustworthy for this check: zipfile stops reading a member at
    its declared size, so a member that lies about it fails its CRC instead.
    """
    if data.startswith(_OLE_MAGIC):  # Word saves password-protected .docx in OLE
        raise CorruptFileError(source, "the file is a password-protected DOCX or an old .doc",
                               "Remove the password, or save it as .docx, in Word or LibreOffice")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, NotImplementedError) as exc:
        raise CorruptFileError(source, "the DOCX is damaged or not a Word file (not a zip)",
                               _RESAVE_DOCX) from exc
    if not any(m.filename == "word/document.xml" for m in members):
        raise CorruptFileError(source, "the DOCX has no word/document.xml", _RESAVE_DOCX)
    unpacked, limit = sum(m.file_size for m in members), config.max_bytes * DOCX_EXPANSION_LIMIT
    if unpacked > limit:
        raise FileTooLargeError(
            source, f"the DOCX unpacks to {unpacked:,} bytes, over {DOCX_EXPANSION_LIMIT} x "
            f"max_bytes ({limit:,})", "If the file is genuine, raise the limit: "
            f"{_RAISE.format(flag='--max-bytes', page='Upload size (MB)')}, "
            "or LoaderConfig(max_bytes=...) in code")


def _docx_blocks(container) -> List[Tuple[str, Optional[str]]]:
    """(text, style name) of each paragraph; table cells recurse (tables nest)."""
    from docx.table import Table

    parts: List[Tuple[str, Optional[str]]] = []
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            seen = set()  # holds the <w:tc> elements, so lxml keeps one proxy per cell
            for row in block.rows:
                for cell in row.cells:
                    if cell._tc not in seen:  # a merged cell repeats across its span
                        seen.add(cell._tc)
                        parts.extend(_docx_blocks(cell))
        elif block.text.strip():
            parts.append((block.text, block.style.name if block.style is not None else None))
    return parts
