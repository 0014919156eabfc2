"""Data preparation, a step of its own: text files in, token ids and a report out.

Pairs (seq2seq), through ``summarizer.evaluation.datasets`` so every part of the project sees the
same data: read, repair glued sentences in the summaries, drop duplicated articles
(first kept), the shared split (position ``i % 10 == 0`` test, ``== 1`` validation, rest
train), then tokenize with explicit truncation lengths and count what was cut. The test
split is counted and never tokenized: nothing here trains or tunes on it.

Corpora (causal LM): documents from a ``.jsonl`` (``text`` or ``article`` field) or a
folder of files the summarizer can read, deduplicated and split by the same positional
rule, tokenized with an end-of-text token after each, and packed into blocks of a fixed
length (no padding, no truncation; the last partial block is dropped and counted).
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from summarizer.evaluation.datasets import (Pair, deduplicate, iter_jsonl, load_pairs,
                                 repair_glued_sentences, split)
from summarizer.errors import DocumentError
from summarizer.documents.loaders import iter_supported_files, load_document
from summarizer.nlp import resolve_language, tokenizer_for

from .errors import TrainingError

Ids = Tuple[int, ...]


@dataclass(frozen=True)
class Example:
    """One training pair as ids. ``target_ids`` are the labels: what the decoder must
    produce, end token included, decoder start token excluded (the collate prepends it)."""

    id: str
    source_ids: Ids
    target_ids: Ids
    target_text: str


@dataclass(frozen=True)
class SplitReport:
    examples: int
    truncated_sources: int  # longer than max_source_tokens before truncation
    truncated_targets: int
    longest_source: int  # tokens before truncation
    longest_target: int


@dataclass(frozen=True)
class DataReport:
    source: str
    pairs_read: int
    skipped_empty: int
    duplicates_dropped: int
    repaired_targets: int  # summaries whose glued sentences were split
    split_sizes: Dict[str, int]  # train / validation / test pairs after deduplication
    augment: str
    augmented: int  # extra training examples the augmentation added
    max_source_tokens: int
    max_target_tokens: int
    train: SplitReport
    validation: SplitReport

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairsData:
    train: List[Example]
    validation: List[Example]
    validation_pairs: List[Pair]  # the same order as ``validation``, for ROUGE
    report: DataReport


def target_text(pair: Pair) -> str:
    """The summary the model learns to write: glued sentences ("rose.The") split."""
    return repair_glued_sentences(pair.summary, pair.article)


def shuffle_sentences(text: str, rng: random.Random) -> Optional[str]:
    """The text's sentences in a random order, None when it has fewer than two
    (augmentation of a source; the summary is unchanged, which teaches the model to find
    content wherever it sits rather than to copy the lead)."""
    sentences = [s.text for s in tokenizer_for(resolve_language(None, text)).sentences(text)]
    if len(sentences) < 2:
        return None
    rng.shuffle(sentences)
    return " ".join(sentences)


def prepare_pairs(path: Union[str, Path], tokenizer, *, max_source_tokens: int,
                  max_target_tokens: int, decoder_start_token_id: Optional[int],
                  augment: str = "none", seed: int = 0) -> PairsData:
    """Read, repair, deduplicate, split and tokenize a pairs file (``.jsonl``/``.csv``).

    ``tokenizer`` is a Hugging Face fast tokenizer; its special tokens wrap sources and
    targets as the family expects, except that a leading ``decoder_start_token_id`` is
    taken off targets (BERT's [CLS]: the collate feeds it as the decoder's first input).
    """
    pairs = load_pairs(path)
    kept = [p for p in pairs if p.article.strip() and p.summary.strip()]
    unique = deduplicate(kept)
    sizes = {name: len(split(unique, name)) for name in ("train", "validation", "test")}
    train_pairs, validation_pairs = split(unique, "train"), split(unique, "validation")
    if not train_pairs:
        raise TrainingError(f"{path}: no training pairs after deduplication and the split "
                            f"({len(unique)} unique pairs; positions 0 and 1 of every 10 are "
                            "test and validation)", "Give it at least 3 distinct pairs")
    repaired = sum(target_text(p) != p.summary.strip() for p in train_pairs + validation_pairs)

    def encode(ps: Sequence[Pair], sources: Sequence[str]) -> Tuple[List[Example], SplitReport]:
        src, src_len = encode_truncated(tokenizer, sources, max_source_tokens)
        tgt_texts = [target_text(p) for p in ps]
        tgt, tgt_len = encode_truncated(tokenizer, tgt_texts, max_target_tokens,
                                        drop_first=decoder_start_token_id)
        rows = zip(ps, src, tgt, tgt_texts, strict=True)
        examples = [Example(p.id, s, t, text) for p, s, t, text in rows]
        return examples, SplitReport(
            examples=len(examples), truncated_sources=sum(n > max_source_tokens for n in src_len),
            truncated_targets=sum(n > max_target_tokens for n in tgt_len),
            longest_source=max(src_len, default=0), longest_target=max(tgt_len, default=0))

    train_ps, train_sources = list(train_pairs), [p.article for p in train_pairs]
    if augment == "shuffle":
        rng = random.Random(seed)
        for p in train_pairs:
            shuffled = shuffle_sentences(p.article, rng)
            if shuffled is not None:
                train_ps.append(Pair(f"{p.id}#shuffled", p.article, p.summary, p.category))
                train_sources.append(shuffled)
    elif augment != "none":
        raise TrainingError(f"unknown augmentation {augment!r}", "Use none or shuffle")
    train, train_report = encode(train_ps, train_sources)
    validation, validation_report = encode(validation_pairs, [p.article for p in validation_pairs])
    report = DataReport(
        source=str(path), pairs_read=len(pairs), skipped_empty=len(pairs) - len(kept),
        duplicates_dropped=len(kept) - len(unique), repaired_targets=repaired, split_sizes=sizes,
        augment=augment, augmented=len(train_ps) - len(train_pairs),
        max_source_tokens=max_source_tokens, max_target_tokens=max_target_tokens,
        train=train_report, validation=validation_report)
    return PairsData(train, validation, list(validation_pairs), report)


def encode_truncated(tokenizer, texts: Sequence[str], limit: int, *,
                     drop_first: Optional[int] = None) -> Tuple[List[Ids], List[int]]:
    """Ids of each text with the tokenizer's special tokens, at most ``limit`` long, and
    each text's length before truncation. Truncation is the tokenizer's own (it keeps the
    closing special token). ``drop_first``: a leading token id to take off (not counted)."""
    if not texts:
        return [], []
    specials = tokenizer("", verbose=False)["input_ids"]
    lead = 1 if drop_first is not None and specials[:1] == [drop_first] else 0
    full = tokenizer(list(texts), verbose=False)["input_ids"]
    lengths = [len(ids) - lead for ids in full]
    long = [i for i, n in enumerate(lengths) if n > limit]
    if long:
        cut = tokenizer([texts[i] for i in long], truncation=True, max_length=limit + lead,
                        verbose=False)["input_ids"]
        for i, ids in zip(long, cut, strict=True):
            full[i] = ids
    return [tuple(ids[lead:]) for ids in full], lengths


# -- causal LM corpora ------------------------------------------------------------------
@dataclass(frozen=True)
class CorpusReport:
    source: str
    documents: int
    duplicates_dropped: int
    split_sizes: Dict[str, int]  # documents
    block_size: int
    tokens: Dict[str, int]  # train / validation tokens before packing
    blocks: Dict[str, int]
    dropped_tail_tokens: Dict[str, int]  # the last partial block of each split

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CorpusData:
    train: List[Ids]  # blocks of exactly block_size ids
    validation: List[Ids]
    report: CorpusReport


def load_corpus(path: Union[str, Path]) -> List[str]:
    """Documents of a ``.jsonl`` (a ``text`` or ``article`` field per record) or of every
    supported file under a folder (sorted paths; cleaned by the summarizer's loaders)."""
    path = Path(path)
    if path.is_dir():
        return [load_document(f).text for f in iter_supported_files(path)]
    if path.suffix == ".jsonl" and path.is_file():
        docs = []
        for n, rec in iter_jsonl(path):
            text = rec.get("text", rec.get("article")) if isinstance(rec, dict) else None
            if not isinstance(text, str):
                raise DocumentError(str(path), f"line {n} has no 'text' field",
                                    'Write one {"text": ...} record per line')
            docs.append(text)
        return docs
    raise DocumentError(str(path), "a corpus must be a folder of documents or a .jsonl file",
                        'Pass a folder, or a .jsonl with one {"text": ...} per line')


def pack_blocks(documents: Iterable[Sequence[int]], block_size: int) -> Tuple[List[Ids], int]:
    """Concatenate token sequences and cut them into blocks of ``block_size``; returns the
    blocks and how many tokens of the last, partial block were dropped."""
    stream: List[int] = []
    for ids in documents:
        stream.extend(ids)
    n = len(stream) // block_size
    blocks = [tuple(stream[i * block_size:(i + 1) * block_size]) for i in range(n)]
    return blocks, len(stream) - n * block_size


def prepare_corpus(path: Union[str, Path], tokenizer, *, block_size: int,
                   eos_token_id: int) -> CorpusData:
    """Documents -> deduplicated -> split by position -> ids + eos -> blocks."""
    docs = [d for d in load_corpus(path) if d.strip()]
    unique = list(dict.fromkeys(docs))
    parts = {name: split(unique, name) for name in ("train", "validation", "test")}
    blocks, tokens, dropped = {}, {}, {}
    for name in ("train", "validation"):
        ids = tokenizer(parts[name], verbose=False)["input_ids"] if parts[name] else []
        ids = [list(x) if x[-1:] == [eos_token_id] else list(x) + [eos_token_id] for x in ids]
        tokens[name] = sum(len(x) for x in ids)
        blocks[name], dropped[name] = pack_blocks(ids, block_size)
    if not blocks["train"]:
        raise TrainingError(
            f"{path}: the training split has {tokens['train']} tokens, less than one block of "
            f"{block_size}", "Add documents, or lower max_source_tokens (the block size)")
    report = CorpusReport(
        source=str(path), documents=len(docs), duplicates_dropped=len(docs) - len(unique),
        split_sizes={k: len(v) for k, v in parts.items()}, block_size=block_size, tokens=tokens,
        blocks={k: len(v) for k, v in blocks.items()}, dropped_tail_tokens=dropped)
    return CorpusData(blocks["train"], blocks["validation"], report)
