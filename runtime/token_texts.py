"""What each vocabulary token adds to the decoded text, computed once per tokenizer.

Decoding a sequence is (nearly) concatenating its tokens' texts, but a token's string in
the vocabulary is not its text: byte-level BPE (GPT-2, SmolLM2) writes bytes as printable
stand-ins ("Ġ" for a space, "Â£" for the two bytes of "£"), SentencePiece writes a space
as "▁" and rare characters as byte tokens ("<0xE2>"), WordPiece marks word pieces "##".
Here each token becomes its bytes, by the decoder the tokenizer declares, so that text can
be built and checked without calling the tokenizer. A byte-level token may hold part of a
character; ``join`` carries those bytes until the character is whole.

Not modelled: a decoder's clean-up of spaces before punctuation (WordPiece's
``cleanup``) and the stripped leading space; neither changes where words begin.
Unknown decoders fall back to decoding each token alone.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import numpy as np

_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def byte_level_alphabet() -> Dict[str, int]:
    """GPT-2's printable stand-in of each byte (``bytes_to_unicode``), inverted."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    codes, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, codes)}


def incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` begin a UTF-8 character not yet complete."""
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b & 0xC0 == 0x80:  # a continuation byte: look further back for the lead
            continue
        need = 2 if b & 0xE0 == 0xC0 else 3 if b & 0xF0 == 0xE0 else 4 if b & 0xF8 == 0xF0 else 1
        return back if need > back else 0
    return 0


def _decode_piece(piece: str, decoder: dict, byte_map: Dict[str, int]) -> bytes:
    kind = decoder.get("type") if decoder else None
    if kind == "ByteLevel":
        if all(c in byte_map for c in piece):
            return bytes(byte_map[c] for c in piece)
        return piece.encode("utf-8")
    if kind == "Metaspace":
        return piece.replace(decoder.get("replacement", "\u2581"), " ").encode("utf-8")
    if kind == "WordPiece":
        prefix = decoder.get("prefix", "##")
        return (piece[len(prefix):] if piece.startswith(prefix) else " " + piece).encode("utf-8")
    if kind == "BPEDecoder":
        return piece.replace(decoder.get("suffix", "</w>"), " ").encode("utf-8")
    if kind == "Sequence":
        data = piece
        for part in decoder.get("decoders", []):
            t = part.get("type")
            if t == "Replace":
                pattern = part.get("pattern", {}).get("String")
                if pattern is not None:
                    data = data.replace(pattern, part.get("content", ""))
            elif t == "ByteFallback":
                m = _BYTE_TOKEN.fullmatch(data)
                if m:
                    return bytes([int(m.group(1), 16)])
            elif t in ("ByteLevel", "Metaspace", "WordPiece", "BPEDecoder"):
                return _decode_piece(data, part, byte_map)
        return data.encode("utf-8")
    return (" " + piece).encode("utf-8")  # no decoder: tokens are joined with spaces


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one per tokenizer
class TokenTexts:
    """``raw[t]``: the bytes token ``t`` adds to the text; ``specials``: tokens whose text
    is dropped when decoding (special tokens). Arrays for scanning every token at once:
    ``plain`` holds the tokens that decode to whole characters, longest first; token
    ``plain[i]``'s characters are ``chars[flat[offsets[i] + j]]`` for j < ``lengths[i]``."""

    raw: Tuple[bytes, ...]
    specials: frozenset
    texts: Tuple[str, ...]  # the text of a whole-character token, else ""
    plain: np.ndarray
    partial: Tuple[int, ...]  # tokens ending inside a character (or starting inside one)
    empty: Tuple[int, ...]  # tokens with no text that are not special
    chars: Tuple[str, ...]
    flat: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray

    @property
    def size(self) -> int:
        return len(self.raw)

    @classmethod
    def from_bytes(cls, raw: Sequence[bytes], *, specials: Sequence[int] = ()) -> "TokenTexts":
        specials = frozenset(specials)
        texts, plain, partial, empty = [], [], [], []
        for t, data in enumerate(raw):
            text = ""
            if t in specials:
                pass
            elif not data:
                empty.append(t)
            elif incomplete_tail(data) or (data[0] & 0xC0 == 0x80):
                partial.append(t)
            else:
                text = data.decode("utf-8", errors="replace")
                plain.append(t)
            texts.append(text)
        plain.sort(key=lambda t: (-len(texts[t]), t))
        chars = sorted({c for t in plain for c in texts[t]})
        code = {c: i for i, c in enumerate(chars)}
        flat = np.array([code[c] for t in plain for c in texts[t]], dtype=np.int64)
        lengths = np.array([len(texts[t]) for t in plain], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(plain) else lengths
        return cls(tuple(raw), specials, tuple(texts), np.array(plain, dtype=np.int64),
                   tuple(partial), tuple(empty), tuple(chars), flat, offsets.astype(np.int64),
                   lengths)

    @classmethod
    def from_strings(cls, texts: Sequence[str], *, specials: Sequence[int] = ()) -> "TokenTexts":
        """For tests and scripted models: each token's text given directly."""
        return cls.from_bytes([t.encode("utf-8") for t in texts], specials=specials)

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "TokenTexts":
        """From a ``tokenizers.Tokenizer``, by the decoder its JSON declares."""
        spec = json.loads(tokenizer.to_str())
        decoder = spec.get("decoder") or {}
        added = {a["id"]: a for a in spec.get("added_tokens", [])}
        specials = [i for i, a in added.items() if a.get("special")]
        byte_map = byte_level_alphabet()
        known = decoder.get("type") in (None, "ByteLevel", "Metaspace", "WordPiece", "BPEDecoder",
                                        "Sequence")
        raw = []
        for t in range(tokenizer.get_vocab_size(with_added_tokens=True)):
            piece = tokenizer.id_to_token(t)
            if piece is None or t in specials:
                raw.append(b"")
            elif t in added:
                raw.append(piece.encode("utf-8"))
            elif known:
                raw.append(_decode_piece(piece, decoder, byte_map))
            else:
                raw.append(tokenizer.decode([t], skip_special_tokens=True).encode("utf-8"))
        return cls.from_bytes(raw, specials=specials)

    def join(self, pending: bytes, token: int) -> Tuple[str, bytes]:
        """The whole characters ``pending + raw[token]`` make, and the bytes left over."""
        if not pending and self.texts[token]:
            return self.texts[token], b""
        data = pending + self.raw[token]
        cut = len(data) - incomplete_tail(data)
        return data[:cut].decode("utf-8", errors="replace"), data[cut:]
