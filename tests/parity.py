"""Shared by the parity tests: graphs run with plain onnxruntime calls, and greedy/beam
search by our runtime and by transformers' ``generate`` on the same padded batch.

The onnxruntime steps are written apart from ``export/probe.py`` so that the export's
checks do not reuse the code they check.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np
import onnxruntime as ort
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from runtime.search import generate
from runtime.seq2seq import Seq2SeqOnnx


class Guesser:
    """A drafter (``runtime/drafting.py``) that guesses ``reference``'s continuation (the
    expected output), except that every ``wrong``-th guess of a run is off by one; rows
    listed in ``always_wrong`` guess wrong throughout. Makes the search accept some guesses
    and reject others, at known places."""

    def __init__(self, reference, *, vocab, tokens, wrong=0, always_wrong=()):
        self.reference, self.vocab, self.tokens = np.asarray(reference), vocab, tokens
        self.wrong, self.always_wrong = wrong, always_wrong

    def propose(self, ids, limit):
        t = ids.shape[1]
        d = max(0, min(limit, self.tokens, self.reference.shape[1] - t))
        guess = self.reference[:, t:t + d].copy()
        if self.wrong:
            guess[:, self.wrong - 1::self.wrong] = (guess[:, self.wrong - 1::self.wrong] + 1) % self.vocab
        guess[list(self.always_wrong)] = (guess[list(self.always_wrong)] + 1) % self.vocab
        return guess


def run(path: Path, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Every output of the graph at ``path``; ``feeds`` must be exactly its inputs."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    assert sorted(i.name for i in session.get_inputs()) == sorted(feeds), "feeds != graph inputs"
    return dict(zip(names, session.run(names, feeds), strict=True))


def pasts(outputs: Dict[str, np.ndarray], *, only: str = "") -> Dict[str, np.ndarray]:
    """``present.X`` outputs renamed to the ``past_key_values.X`` inputs of the next step."""
    return {"past_key_values." + k[len("present."):]: v for k, v in outputs.items()
            if k.startswith("present.") and only in k}


def encode_texts(ckpt: Path, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Token ids and mask of ``texts`` as one padded batch, by the checkpoint's tokenizer."""
    enc = AutoTokenizer.from_pretrained(ckpt)(list(texts), padding=True, return_tensors="np")
    return enc["input_ids"], enc["attention_mask"]


def generate_ours(folder: Path, ids: np.ndarray, mask: np.ndarray, **settings) -> np.ndarray:
    """Our runtime's sequences for an exported seq2seq folder (``settings`` override its
    generation config)."""
    model = Seq2SeqOnnx.load(folder)
    config = model.generation_config.override(**settings)
    state = model.start(model.encode(ids, mask), mask, repeat=config.num_beams)
    start = (config.decoder_start_token_id if config.decoder_start_token_id is not None
             else config.bos_token_id)  # as generate (and the summarizer) starts
    prompt = np.full((len(ids), 1), start)
    return generate(model, state, prompt, config).sequences


def generate_theirs(ckpt: Path, ids: np.ndarray, mask: np.ndarray, **settings) -> np.ndarray:
    """transformers' ``generate`` on the checkpoint, without sampling."""
    model = AutoModelForSeq2SeqLM.from_pretrained(ckpt).eval()
    with torch.no_grad():
        return model.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                              do_sample=False, **settings).numpy()
