"""Text <-> token ids with the ``tokenizers`` library (no transformers on this path)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np


class TokenizerError(ValueError):
    """A model folder without a usable ``tokenizer.json``."""


class TextCodec:
    """Wraps a ``tokenizers.Tokenizer``; ``pad_id`` pads batches on the right."""

    def __init__(self, tokenizer, *, pad_id: int) -> None:
        self.tokenizer = tokenizer
        self.pad_id = pad_id
        # Tokens the post-processor adds around every input (<s> ... </s>, or ... </s>).
        self.special_count = len(tokenizer.encode("", add_special_tokens=True).ids)

    @classmethod
    def load(cls, path: Union[str, Path], *, pad_id: Optional[int]) -> "TextCodec":
        from tokenizers import Tokenizer

        f = Path(path) / "tokenizer.json"
        if not f.is_file():
            raise TokenizerError(
                f"{path}: no tokenizer.json. Export the model with `python -m export onnx`, "
                "which saves the fast tokenizer next to the graphs")
        tok = Tokenizer.from_file(str(f))
        tok.no_truncation()  # we budget lengths ourselves and never cut silently
        tok.no_padding()
        return cls(tok, pad_id=0 if pad_id is None else pad_id)

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
        return self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()

    def token_text(self, ids: List[int]) -> str:
        """Decoded text of a prefix, for streaming (the caller diffs successive prefixes
        so that a multi-byte character split across tokens is never shown half-made)."""
        return self.tokenizer.decode(ids, skip_special_tokens=True)
