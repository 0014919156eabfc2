"""Bytes to text for .txt, .md and .html files: BOMs, declared charsets, UTF-8 with flaws,
detected legacy encodings, and binary files refused with a typed error."""
from __future__ import annotations

import codecs
import re
from typing import Optional

from summarizer.errors import BinaryFileError

# UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Control characters that do not occur in text (tab, newlines, form feed and ESC do).
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f]")


def decode_text(data: bytes, source: str, *, declared: Optional[str] = None) -> str:
    """Bytes to text: BOM, else a declared charset, else (mostly) UTF-8, else detected."""
    text = _decode(data, source, declared)
    sample = text[:1_000_000]
    if sample and len(_BINARY_CHARS.findall(sample)) > len(sample) / 10:
        raise _binary(source)
    return text


def _decode(data: bytes, source: str, declared: Optional[str]) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):  # a BOM is a declaration; a stray bad byte is not fatal
            return data[len(bom):].decode(encoding, errors="replace")
    if b"\x00" in data:  # only UTF-16/32 text holds NUL bytes
        encoding = _utf16_without_bom(data)
        if encoding is None:
            raise _binary(source)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _binary(source) from exc
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown label: browsers also fall back to sniffing
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())  # undecodable sequences
    good = len(text) - len(text.encode("ascii", errors="ignore")) - bad  # valid non-ASCII
    # UTF-8 with a flaw (a file cut mid-character, a pasted cp1252 byte) is still UTF-8:
    # random or legacy bytes make valid multi-byte sequences only by chance (~1 in 15
    # errors), and charset-normalizer finds no encoding at all for Chinese UTF-8 cut short.
    if bad == 0 or good >= 2 * bad:
        return text
    detected = _detect(data)
    if detected is not None:
        return detected
    if bad <= len(text) / 100:  # ASCII with a few stray bytes: text all the same
        return text
    raise _binary(source)


def _detect(data: bytes) -> Optional[str]:
    from charset_normalizer import from_bytes
    from charset_normalizer.utils import is_multi_byte_encoding

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    # charset-normalizer ranks Baltic and Central European code pages above Windows-1252
    # for Western text (it reads "coûte" as cp1257 "coūte"). A single-byte file in a
    # Western language is almost always Windows-1252, so it wins whenever it is a candidate
    # at all; Chinese code pages are multi-byte, and Russian text in cp1251, KOI8-R or
    # ISO 8859-5 never has cp1252 among its candidates (tests/test_languages.py).
    if not is_multi_byte_encoding(best.encoding) and any(
        "cp1252" in m.could_be_from_charset for m in matches
    ):
        return data.decode("cp1252", errors="replace")
    return str(best)


def _utf16_without_bom(data: bytes) -> Optional[str]:
    """'utf-16-le'/'-be' when NULs fill one byte of each pair, as in BOM-less UTF-16 text."""
    sample = data[:4096]
    pairs = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if len(data) % 2 or pairs == 0:
        return None
    if odd > 0.3 * pairs and even < 0.02 * pairs:
        return "utf-16-le"
    if even > 0.3 * pairs and odd < 0.02 * pairs:
        return "utf-16-be"
    return None


def _binary(source: str) -> BinaryFileError:
    return BinaryFileError(source, "looks like a binary file, not text",
                           "Save it as UTF-8 text or choose the right file")
