"""Text <-> token ids with the ``tokenizers`` library (no transformers on this path).

Byte-level BPE (GPT-2, Llama 3, SmolLM2) may split one character into several tokens, so
a generation that ends on its token limit can end inside a character, which decodes to
U+FFFD. ``complete_text`` drops such a tail: the text we show never ends in half a
character.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import ModelFileError

REPLACEMENT = "\ufffd"  # what decoding gives for the bytes of an incomplete character
FIX_TOKENIZER = ("Export the model again with `python -m export onnx`, which saves the fast "
                 "tokenizer next to the graphs, or copy tokenizer.json again")


class TokenizerError(ModelFileError):
    """A model folder without a usable ``tokenizer.json`` (missing, or one the
    ``tokenizers`` library cannot read)."""


def load_tokenizer(folder: Union[str, Path]):
    """The folder's ``tokenizer.json`` as a ``tokenizers.Tokenizer`` with truncation and
    padding off (we budget lengths ourselves and never cut silently)."""
    from tokenizers import Tokenizer

    f = Path(folder) / "tokenizer.json"
    if not f.is_file():
        raise TokenizerError(folder, "no tokenizer.json", FIX_TOKENIZER)
    try:
        tok = Tokenizer.from_file(str(f))
    # tokenizers raises plain Exception for every parse error (invalid JSON, a cut-off file,
    # an unknown model type, serde's nesting limit); OSError where the file cannot be read.
    except Exception as e:  # noqa: BLE001 (the library's only type for these)
        said = " ".join(str(e).split())[:200]
        raise TokenizerError(f, f"is not a tokenizer the tokenizers library can read ({said})",
                             FIX_TOKENIZER) from e
    tok.no_truncation()
    tok.no_padding()
    return tok


def complete_text(text: str) -> Tuple[str, bool]:
    """``text`` without a trailing incomplete character (a run of U+FFFD at its end, where
    decoding stopped inside a multi-byte character), and whether one was dropped."""
    kept = text.rstrip(REPLACEMENT)
    return kept, len(kept) != len(text)


INCOMPLETE_NOTE = ("the last character was cut off by the token limit (its bytes span "
                   "several tokens) and is left out")


class TextCodec:
    """Wraps a ``tokenizers.Tokenizer``; ``pad_id`` pads batches on the right."""

    def __init__(self, tokenizer, *, pad_id: int) -> None:
        self.tokenizer = tokenizer
        self.pad_id = pad_id
        # Tokens the post-processor adds around every input (<s> ... </s>, or ... </s>).
        self.special_count = len(tokenizer.encode("", add_special_tokens=True).ids)

    @classmethod
    def load(cls, path: Union[str, Path], *, pad_id: Optional[int]) -> "TextCodec":
        return cls(load_tokenizer(path), pad_id=0 if pad_id is None else pad_id)

    def count(self, text: str) -> int:
        """Tokens of ``text`` without the special tokens."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: Sequence[str]) -> List[int]:
        if not texts:
            return []
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def encode_batch(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """Right-padded (B, S) ids and attention mask, special tokens included."""
        rows = [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=True)]
        width = max(1, max(len(r) for r in rows))
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return ids, mask

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``, stripped, never ending in half a character."""
        text = self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()
        return complete_text(text)[0].rstrip()

    def token_text(self, ids: List[int]) -> str:
        """Decoded text of a prefix, for streaming (the caller diffs successive prefixes
        so that a multi-byte character split across tokens is never shown half-made)."""
        return self.tokenizer.decode(ids, skip_special_tokens=True)
