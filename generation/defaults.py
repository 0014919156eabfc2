"""Where a call's decoding settings come from. For each setting the first of these wins:

1. the caller: keyword arguments of ``Generator.generate`` and friends, the command line's
   flags, the Generate page's widgets;
2. a domain preset (``generation/presets.py``), for the settings it names; where it
   differs from what the model's ``generation_config.json`` says, it says so in a note
   (``override_notes``), e.g. "preset 'news' sets temperature 0.8 (the model's
   generation_config.json says 0.6)";
3. the model folder's ``generation_config.json``, read as transformers reads it
   (``from_generation_config``): without ``"do_sample": true`` decoding is greedy
   (transformers' default), and settings the file leaves out take transformers' defaults
   (temperature 1.0, top_k 50, top_p 1.0, no penalties, one beam);
4. Condense's own defaults, ``LIBRARY_DEFAULTS``, only for a folder with no
   ``generation_config.json`` at all, and for ``max_new_tokens`` when the file does not
   set it: 128 new tokens, sampling at temperature 0.7 with top_k 50 and top_p 0.9, no
   penalties, one beam.

Deviations from transformers: ``max_length`` is not read (for a decoder-only model it
counts the prompt, so it says nothing about how much to write); ``do_sample`` with
``num_beams`` > 1 (beam sampling) becomes beam search, with a note; ``"temperature": 0``
with ``do_sample`` is greedy (transformers refuses it).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Collection, FrozenSet, List, Mapping, Tuple

from runtime.config import GenerationConfig

from .decoding import Decoding

LIBRARY_DEFAULTS = Decoding(max_new_tokens=128, temperature=0.7, top_k=50, top_p=0.9)
FILE = "generation_config.json"
MODEL_SOURCE = f"the model's {FILE}"
LIBRARY_SOURCE = f"Condense's defaults (the folder has no {FILE})"
# The Decoding fields generation_config.json sets under the same name.
_SAME_NAME = ("max_new_tokens", "min_new_tokens", "top_k", "top_p", "repetition_penalty",
              "no_repeat_ngram_size", "num_beams")


@dataclass(frozen=True)
class DefaultDecoding:
    """The settings a generator uses where a call sets none, where they came from
    (``source``, for notes) and which ``Decoding`` fields that source set itself."""

    decoding: Decoding = LIBRARY_DEFAULTS
    source: str = LIBRARY_SOURCE
    given: FrozenSet[str] = frozenset()
    notes: Tuple[str, ...] = ()  # what the caller should be told about the source

    @classmethod
    def from_caller(cls, decoding: Decoding, source: str) -> "DefaultDecoding":
        return cls(decoding, source, frozenset(f.name for f in fields(Decoding)))


def from_generation_config(config: GenerationConfig, keys: Collection[str]) -> DefaultDecoding:
    """The defaults a checked ``generation_config.json`` asks for; ``keys``: the settings
    the file holds (the others are transformers' defaults in ``config``). The file decides
    between greedy and sampling whether or not it names ``do_sample``."""
    notes: List[str] = []
    sample = config.do_sample and config.temperature > 0
    if sample and config.num_beams > 1:
        notes.append(f"{FILE} asks for beam sampling (do_sample with num_beams "
                     f"{config.num_beams}), which Condense does not do: using beam search")
        sample = False
    max_new = config.max_new_tokens or LIBRARY_DEFAULTS.max_new_tokens
    decoding = Decoding(
        max_new_tokens=max_new, min_new_tokens=min(config.min_new_tokens, max_new),
        temperature=config.temperature if sample else 0.0, top_k=config.top_k,
        top_p=config.top_p, repetition_penalty=config.repetition_penalty,
        no_repeat_ngram_size=config.no_repeat_ngram_size, num_beams=config.num_beams)
    given = {"temperature"} | {k for k in _SAME_NAME if k in keys}
    return DefaultDecoding(decoding, MODEL_SOURCE, frozenset(given), tuple(notes))


def override_notes(who: str, defaults: DefaultDecoding,
                   settings: Mapping[str, Any]) -> Tuple[str, ...]:
    """One line for each of ``settings`` (what ``who``, e.g. "preset 'news'", sets) that
    differs from a value its source gave: "preset 'news' sets temperature 0.8 (the model's
    generation_config.json says 0.6)". Settings the source left to Condense's defaults,
    or that change nothing, get no line."""
    base = defaults.decoding
    notes = []
    for key, value in settings.items():
        if key not in defaults.given or value == getattr(base, key):
            continue
        if key == "temperature" and base.temperature == 0:
            asked = ("greedy decoding" if base.num_beams == 1
                     else f"beam search with {base.num_beams} beams")
            notes.append(f"{who} samples at temperature {value} ({defaults.source} asks for "
                         f"{asked})")
        elif key == "temperature" and value == 0:
            notes.append(f"{who} decodes greedily (temperature 0; {defaults.source} says "
                         f"{base.temperature})")
        else:
            notes.append(f"{who} sets {key} {value} ({defaults.source} says {getattr(base, key)})")
    return tuple(notes)
