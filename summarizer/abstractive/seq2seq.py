"""Abstractive summaries from an exported seq2seq model on ONNX Runtime (decoder-only
summarizers: ``decoder_only.py``, which reuses the budgets and map-reduce below).

Short documents go through the model in one pass. A document longer than the model's
input is, by default, summarized from its best sentences by the extractive ranker, as
many as fit, in document order (``extract.py``). With ``long_documents="map-reduce"``
(or when not one sentence fits) it is summarized map-reduce style instead: split by
sentences into token-budgeted chunks that overlap by a sentence, summarize every chunk
(batched), join the chunk summaries, and repeat on the joined text until it fits, then
summarize it once more. Nothing is cut silently: the summary's notes say, in words a
reader of the summary understands, how the document was handled ("Long article:
summarized from its 20 most informative sentences of 199", "Long article: summarized in
3 parts, then combined").

Streaming is an optional extra on the one interface: ``summarizer(document, budget,
on_progress=f)`` calls ``f`` with a :class:`Progress` as each part and then the summary is
written, and returns the same ``Summary`` as ``summarizer(document, budget)``.

Two rules keep a summary trustworthy, each with a switch in :class:`AbstractiveConfig` and
a note when it changed something: names and numbers only from the document
(``constrain_names``, ``names.py`` over ``runtime/constraints.py``) and whole sentences
(``whole_sentences``, ``endings.py``). Off, decoding is exactly the model's greedy or beam
search, token for token transformers' ``generate``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from runtime.config import DecodingLimits, GenerationConfig
from runtime.drafting import LookupConfig, PromptLookup, exact_in_one_run
from runtime.errors import ModelFileError
from runtime.search import generate
from runtime.seq2seq import Seq2SeqOnnx, encoder_max_length
from runtime.session import SessionConfig
from runtime.text import TextCodec, complete_text

from summarizer.abstractive.chunking import pack, split_long
from summarizer.abstractive.extract import extract_to_fit
from summarizer.abstractive.endings import SentenceStop, end_whole, margin_tokens
from summarizer.abstractive.length import (length_note, new_tokens_for, parts_note,
                                          repetition_note, tokens_per_word)
from summarizer.abstractive.names import constraint_for, names_note
from summarizer.errors import CondenseError
from summarizer.nlp import tokenizer_for
from summarizer.types import Budget, Document, Summary

MAX_REDUCE_ROUNDS = 6
DRAFTS = ("auto", "lookup", "none")
# How a document longer than the model's input is read: its best sentences by the
# extractive ranker, in one pass (extract.py), or its parts summarized and then their
# summaries (map-reduce). docs/QUALITY.md, "Long documents", compares the two.
LONG_DOCUMENTS = ("extract", "map-reduce")


@dataclass(frozen=True)
class Progress:
    """How far an abstractive summary has got, for a caller that shows it as it is written.

    While a long document is summarized in parts, ``parts`` is how many (in map-reduce
    round ``round``) and parts ``part`` to ``last`` (1-based) are being written now: one,
    or several when the model writes a batch of them together. ``parts`` is 0 while the
    summary itself is written (``round`` is then how many rounds of parts came before).
    ``text`` is what the model has written so far of the one part or summary being
    written; "" when a batch of several parts is written or nothing is written yet. It
    grows token by token, and may shrink: greedy search takes back repeats and words
    the document does not have, and the finished text is cut to whole sentences."""

    text: str = ""
    part: int = 0
    last: int = 0
    parts: int = 0
    round: int = 0


@dataclass(frozen=True)
class AbstractiveConfig:
    model_dir: str
    device: str = "cpu"
    threads: int = 0  # onnxruntime intra-op threads; 0 = one per core
    num_beams: Optional[int] = None  # None: the model's generation_config.json decides
    max_new_tokens: Optional[int] = None  # None: derived from the length budget
    min_new_tokens: Optional[int] = None
    length_penalty: Optional[float] = None
    no_repeat_ngram_size: Optional[int] = None
    max_input_tokens: Optional[int] = None  # None: the model's own limit
    overlap_sentences: int = 1
    # Documents decoded together; None: 8, or 1 where the summarizer guesses and gains
    # little from batches (the decoder-only one, see LMSummarizer.batch_rows).
    batch_size: Optional[int] = None
    # Greedy decoding of one document checks guesses copied from it (prompt lookup, see
    # runtime/drafting.py): same summary, several tokens per model run. "auto": lookup
    # unless the model is dynamic int8, where checking tokens together moves the rounding
    # of activations (the summary could change); "lookup" then anyway; "none": one per run.
    # Batches of several documents never guess: a batch keeps only the guesses every row
    # accepts, and on real articles that cost more than it saved (docs/BENCHMARKS.md).
    draft: str = "auto"
    draft_tokens: int = 10
    # Names and numbers only from the document (summarizer/abstractive/names.py): once the
    # model starts a capitalised word or a number, it must stay a prefix of one of the
    # document's. False: the model's own tokens (transformers' generate, token for token).
    constrain_names: bool = True
    # Never end inside a sentence or a number (summarizer/abstractive/endings.py): cut back
    # to the last whole sentence, or let the first finish within a fifth more tokens.
    whole_sentences: bool = True
    # "extract" by default: with the built-in summarizer on the first 20 SumPubMed papers
    # (9x its input) it scored 39.6 ROUGE-1 against map-reduce's 36.1 in a seventeenth of
    # the time, and on CNN/DailyMail (80 articles, 24 longer than its input) 28.4 against
    # 29.0, within noise, in about the same time (docs/QUALITY.md, "Long documents")
    long_documents: str = "extract"

    def __post_init__(self) -> None:
        limits = DecodingLimits()
        if self.num_beams is not None and not 1 <= self.num_beams <= limits.max_beams:
            raise CondenseError(f"num_beams must be from 1 to {limits.max_beams} (each beam is "
                                "another row through the decoder at every step), got "
                                f"{self.num_beams}")
        if self.max_new_tokens is not None and not 1 <= self.max_new_tokens <= limits.max_tokens:
            raise CondenseError(f"max_new_tokens must be from 1 to {limits.max_tokens}, "
                                f"got {self.max_new_tokens}")
        if self.min_new_tokens is not None and not 0 <= self.min_new_tokens <= limits.max_tokens:
            raise CondenseError(f"min_new_tokens must be from 0 to {limits.max_tokens}, "
                                f"got {self.min_new_tokens}")
        if self.draft not in DRAFTS:
            raise CondenseError(f"draft must be one of {DRAFTS}, got {self.draft!r}")
        if self.draft_tokens < 1:
            raise CondenseError(f"draft_tokens must be at least 1, got {self.draft_tokens}")
        if self.long_documents not in LONG_DOCUMENTS:
            raise CondenseError(f"long_documents must be one of {LONG_DOCUMENTS}, got "
                                f"{self.long_documents!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise CondenseError(f"batch_size must be at least 1, got {self.batch_size}")

    def guesses(self, config: GenerationConfig) -> bool:
        """Whether greedy decoding of one document with ``config`` checks guesses."""
        if self.draft == "none" or config.num_beams > 1:
            return False
        return self.draft == "lookup" or exact_in_one_run(self.model_dir)

    def drafter(self, sources: Sequence[np.ndarray], skip: int, config: GenerationConfig):
        """The drafter for one batch: prompt lookup over ``sources`` when it holds one
        document and ``guesses(config)``, else None."""
        if len(sources) != 1 or not self.guesses(config):
            return None
        return PromptLookup(sources, skip=skip, config=LookupConfig(max_tokens=self.draft_tokens))


@dataclass(frozen=True)
class Written:
    """One generated text and the notes on how it was made (names kept to the document,
    where it was cut to whole sentences)."""

    text: str
    notes: Tuple[str, ...] = ()


@lru_cache(maxsize=4)
def load_model(model_dir: str, device: str = "cpu", threads: int = 0) -> Tuple[Seq2SeqOnnx, TextCodec]:
    """One loaded copy per (folder, device, threads) per process; sessions are thread-safe.

    Every problem with the folder raises ``runtime.errors.ModelFileError`` (a
    ``CondenseError``) naming the file and the fix: files missing, a graph onnxruntime
    refuses, a tokenizer.json or config that does not parse, settings out of range. The
    command lines print it and exit with status 2; batch, Ray workers and the app, which
    all load through ``get_summarizer``, show it as it is."""
    model = Seq2SeqOnnx.load(model_dir, SessionConfig(device=device, intra_op_threads=threads))
    codec = TextCodec.load(model_dir, pad_id=model.generation_config.pad_token_id)
    return model, codec


def start_token(config: GenerationConfig) -> Optional[int]:
    """The token the decoder starts from: ``decoder_start_token_id``, else ``bos_token_id``,
    as transformers' ``generate`` picks it for an encoder-decoder (``_prepare_special_tokens``);
    None when the generation config has neither."""
    if config.decoder_start_token_id is not None:
        return config.decoder_start_token_id
    return config.bos_token_id


class AbstractiveSummarizer:
    name = "abstractive"

    def __init__(self, config: AbstractiveConfig, *, model: Optional[Seq2SeqOnnx] = None,
                 codec: Optional[TextCodec] = None, ranker=None) -> None:
        self.config = config
        self.ranker = ranker  # long_documents="extract": the sentence ranker (None: the default)
        if model is None or codec is None:
            model, codec = load_model(config.model_dir, config.device, config.threads)
        self.model, self.codec = model, codec
        if start_token(model.generation_config) is None:  # found now, not per document
            raise ModelFileError(
                Path(config.model_dir) / "generation_config.json", "has no decoder_start_token_id",
                "Add it (the checkpoint's config.json names it), or export the model again")
        positions = encoder_max_length(config.model_dir)
        # The decoder cannot go past its position table either (BART: 1,024 positions).
        self.max_output_tokens = (positions - 1) if positions else None
        limit = config.max_input_tokens or positions or 512
        self.input_budget = limit - codec.special_count
        if self.input_budget < 8:
            raise CondenseError(f"{config.model_dir}: an input limit of {limit} tokens is too small")

    def generation_config(self, max_new_tokens: int) -> GenerationConfig:
        c = self.config
        return self.model.generation_config.override(
            num_beams=c.num_beams, max_new_tokens=c.max_new_tokens or max_new_tokens,
            min_new_tokens=c.min_new_tokens, length_penalty=c.length_penalty,
            no_repeat_ngram_size=c.no_repeat_ngram_size)

    def generate_texts(self, texts: Sequence[str], config: GenerationConfig,
                       on_progress: Optional[Callable[[int, int, str], None]] = None, *,
                       sources: Optional[Sequence[Tuple[str, str]]] = None,
                       margin: bool = True, words: Optional[int] = None) -> List[str]:
        """Summaries of ``texts`` (see ``write``), without their notes."""
        return [w.text for w in self.write(texts, config, on_progress, sources=sources,
                                           margin=margin, words=words)]

    def write(self, texts: Sequence[str], config: GenerationConfig,
              on_progress: Optional[Callable[[int, int, str], None]] = None, *,
              sources: Optional[Sequence[Tuple[str, str]]] = None,
              margin: bool = True, words: Optional[int] = None) -> List[Written]:
        """Summaries of ``texts``, each within the input budget, in batches, up to
        ``config.max_new_tokens`` (with ``whole_sentences`` and ``margin``, a fifth more to
        finish a sentence in; without ``margin`` a text is only cut back: parts' summaries
        must stay within their share, or map-reduce might not shrink). ``sources[i]``:
        (text, language) of the document that text i comes from, whose names and numbers it
        may use and whose language tells where sentences end; None: each text is its own
        document, in English. ``words``: the length to ask a length-cued model for
        (``wanted_words``); None, and for other models, nothing is asked.

        ``on_progress(first, last, text)`` is told the 0-based indices of each batch's texts
        before it is written (``text`` ""), and for a batch of one text, that text's summary
        so far each time it changes, and the finished text when it differs."""
        out: List[Written] = []
        too_long = [n for n in self.codec.count_many(list(texts)) if n > self.input_budget]
        if too_long:  # the chunker guarantees this; a bug must not reach the model
            raise CondenseError(f"inputs of {too_long} tokens reached a model that takes {self.input_budget}")
        sources = list(sources) if sources is not None else [(t, "en") for t in texts]
        if len(sources) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(sources)} sources")
        rows = self.batch_rows(config)
        for i in range(0, len(texts), rows):
            batch = list(texts[i : i + rows])
            single = on_progress is not None and len(batch) == 1
            if on_progress is not None:
                on_progress(i, i + len(batch) - 1, "")
            shown = [""]
            streamer = _streamer(self.codec, partial(on_progress, i, i), shown) if single else None
            written = self._generate_batch(batch, config, streamer, sources[i : i + rows], margin,
                                           words)
            if single and written[0].text != shown[0].strip():
                on_progress(i, i, written[0].text)  # beam search's text, or the text cut
            out.extend(written)
        return out

    def batch_rows(self, config: GenerationConfig) -> int:
        """Documents decoded together: ``self.config.batch_size``, else 8. A seq2seq decoder
        step's time goes to reading the weights, so 8 documents cost little more per step
        than one (bart-small fp32: 2.0 s for 8 against 0.6 s for 1, docs/BENCHMARKS.md)."""
        return self.config.batch_size or 8

    def _generate_batch(self, batch: List[str], config: GenerationConfig,
                        on_kept: Optional[Callable[[int, List[int]], None]],
                        sources: Sequence[Tuple[str, str]], margin: bool = True,
                        words: Optional[int] = None) -> List[Written]:
        """One batch: decoded with the constraint and the margin that ``self.config`` asks
        for, each row then cut to whole sentences and tidied (``_tidy``), with its notes."""
        budget = config.max_new_tokens
        run, stop = config, None
        limit = budget + margin_tokens(budget) if margin and budget else budget
        if self.max_output_tokens and limit:
            limit = max(budget, min(limit, self.max_output_tokens))
        if self.config.whole_sentences and limit != budget:
            run = config.override(max_new_tokens=limit)
            stop = SentenceStop(self.codec.token_text, budget, [lang for _, lang in sources])
        constraint = None
        if self.config.constrain_names:
            constraint = constraint_for(self.codec, sources, config.eos_token_id)
        eos = set(config.eos_token_id)
        out = []
        for row, tokens in enumerate(self._decode(batch, run, on_kept=on_kept, constraint=constraint,
                                                  stop=stop, words=words)):
            finished = bool(tokens) and tokens[-1] in eos
            body = tokens[:-1] if finished else tokens
            notes: List[str] = []
            if self.config.whole_sentences and budget:
                ending = end_whole(body, budget=budget, limit=run.max_new_tokens, finished=finished,
                                   decode=self.codec.token_text, lang=sources[row][1])
                text = complete_text(ending.text)[0].rstrip()
                notes += [ending.note()] if ending.note() else []
            else:
                text = self.codec.decode(body)
            if constraint is not None:
                said = names_note(constraint.corrections(row, tokens), constraint.taken_back(row, tokens))
                notes += [said] if said else []
            out.append(Written(self._tidy(text, config), tuple(notes)))
        return out

    def _decode(self, batch: List[str], config: GenerationConfig, *, on_kept, constraint,
                stop, words: Optional[int] = None) -> List[List[int]]:
        """The tokens generated for each text of ``batch`` (end token included): encode,
        then decode from the start token. ``words`` is for length-cued models; a seq2seq
        model has no cue."""
        ids, mask = self.codec.encode_batch(batch)
        hidden = self.model.encode(ids, mask)
        state = self.model.start(hidden, mask, repeat=config.num_beams)
        start = start_token(config)
        if start is None:
            raise CondenseError(f"{self.config.model_dir}: generation config has no "
                                "decoder_start_token_id. Add it to generation_config.json (the "
                                "checkpoint's config.json names it), or export the model again")
        prompt = np.full((len(batch), 1), start, dtype=np.int64)
        drafter = self.config.drafter([row[m.astype(bool)] for row, m in zip(ids, mask)], 1, config)
        result = generate(self.model, state, prompt, config, drafter=drafter, constraint=constraint,
                          on_kept=on_kept, stop=stop)
        return [row[1:1 + n] for row, n in zip(result.sequences.tolist(), result.lengths.tolist())]

    def _tidy(self, text: str, config: GenerationConfig) -> str:
        """The text as the summary shows it (decoder-only summarizers drop repeats)."""
        return text

    def wanted_words(self, budget: Budget, total: int, lang: str) -> Optional[int]:
        """The words to ask the model for (None: the model takes no length cue)."""
        return None

    def sentence_room(self, lang: str) -> int:
        """Tokens past ``length.tokens_per_sentence`` that the first sentence of a
        sentences budget may take: none, but for a length-cued model."""
        return 0

    def _config(self, budget: Budget, total: int, lang: str
                ) -> Tuple[GenerationConfig, List[str], Optional[int]]:
        """Decoding settings for a document of ``total`` tokens in ``lang``, the notes
        saying why, and the words to ask a length-cued model for (``wanted_words``)."""
        room = self.sentence_room(lang)
        asked = new_tokens_for(budget, total, lang, sentence_room=room)
        config = self.generation_config(asked)
        notes = list(self.model.notes)
        capped = bool(self.max_output_tokens and config.max_new_tokens
                      and config.max_new_tokens > self.max_output_tokens)
        if capped:
            config = config.override(max_new_tokens=self.max_output_tokens,
                                     min_new_tokens=min(config.min_new_tokens, self.max_output_tokens))
        if config.max_new_tokens and not self.config.max_new_tokens:
            notes.append(length_note(budget, total, asked, config.max_new_tokens, lang,
                                     sentence_room=room))
        words = self.wanted_words(budget, total, lang)
        if words is not None:
            notes.append(f"The model was asked for about {words:,} words.")
        if config.stop_repeat_ngram_size:
            notes.append(repetition_note(config.stop_repeat_ngram_size, config.repeat_retries))
        if capped:
            notes.append(f"This model's decoder has {self.max_output_tokens + 1} positions, so it "
                         f"writes at most {self.max_output_tokens} tokens.")
        return config, notes, words

    def _summary(self, document: Document, budget: Budget, notes: List[str], final: Written,
                 last: Sequence[str] = ()) -> Summary:
        """The summary, with the decoding notes, then the final text's, then ``last``."""
        return Summary(self.name, document, (), budget, tuple(notes) + final.notes + tuple(last),
                       generated=sentence_lines(final.text, document.lang))

    def summarize_many(self, documents: Sequence[Document], budget: Budget) -> List[Summary]:
        """What ``self(document, budget)`` gives for each document, with the documents that
        fit the input (and get the same decoding settings) generated together, in batches
        of ``batch_rows``. Longer documents go through map-reduce one by one."""
        out: List[Optional[Summary]] = [None] * len(documents)
        groups: dict = {}
        for i, (doc, total) in enumerate(zip(documents, self.codec.count_many([d.text for d in documents]))):
            if total > self.input_budget:
                out[i] = self(doc, budget)
                continue
            config, notes, words = self._config(budget, total, doc.lang)
            groups.setdefault((config, words), []).append((i, notes))
        for (config, words), members in groups.items():
            finals = self.write([documents[i].text for i, _ in members], config,
                                sources=[(documents[i].text, documents[i].lang) for i, _ in members],
                                words=words)
            for (i, notes), final in zip(members, finals, strict=True):
                out[i] = self._summary(documents[i], budget, notes, final)
        return out  # type: ignore[return-value]

    def __call__(self, document: Document, budget: Budget, *,
                 on_progress: Optional[Callable[[Progress], None]] = None) -> Summary:
        """The summary of ``document`` within ``budget``. ``on_progress``, if given, is told
        each step as it happens (see :class:`Progress`); it changes nothing in the result."""
        total = self.codec.count(document.text)
        config, notes, words = self._config(budget, total, document.lang)
        # Chunk summaries get at most a quarter of a chunk each, so every round shrinks.
        cap = max(16, self.input_budget // 4)
        map_config = config.override(max_new_tokens=min(config.max_new_tokens or cap, cap))
        if map_config.min_new_tokens > map_config.max_new_tokens:
            map_config = map_config.override(min_new_tokens=map_config.max_new_tokens)
        text, tokens = document.text, total
        source = (document.text, document.lang)  # every part and pass keeps to the whole document
        rounds: List[Tuple[int, int]] = []  # (tokens in, parts) per round of parts
        parts: List[str] = []
        if tokens > self.input_budget and self.config.long_documents == "extract":
            extracted = extract_to_fit(document, self.input_budget, self.codec.count_many, self.ranker)
            if extracted is not None:  # else not one sentence fits: map-reduce below
                text, tokens = extracted.text, extracted.tokens
                parts = [extracted.note(total, self.input_budget)]
        while tokens > self.input_budget:
            if len(rounds) == MAX_REDUCE_ROUNDS:
                raise CondenseError(
                    f"{document.source or 'document'}: still {tokens} tokens after "
                    f"{len(rounds)} rounds of chunk summaries; lower max_new_tokens or split the document")
            chunks = self._chunks(text, document.lang)
            rounds.append((tokens, len(chunks)))
            report = None
            if on_progress is not None:
                report = partial(_report_part, on_progress, len(chunks), len(rounds))
            # a part's summary is asked for the words its token share holds
            part_words = self.wanted_words(Budget(words=max(1, round(
                map_config.max_new_tokens / tokens_per_word(document.lang)))), 0, document.lang)
            text = "\n".join(self.generate_texts(chunks, map_config, report,
                                                 sources=[source] * len(chunks), margin=False,
                                                 words=part_words))
            tokens = self.codec.count(text)
        if rounds:
            parts = [parts_note(rounds, tokens, self.input_budget, self.config.overlap_sentences)]
        report = None
        if on_progress is not None:
            report = partial(_report_final, on_progress, len(rounds))
        final = self.write([text], config, report, sources=[source], words=words)[0]
        return self._summary(document, budget, notes, final, parts)

    def _chunks(self, text: str, lang: str) -> List[str]:
        split = [s.text for s in tokenizer_for(lang).sentences(text)]
        sentences: List[str] = []
        counts: List[int] = []
        for sentence, n in zip(split, self.codec.count_many(split)):
            if n > self.input_budget:
                pieces = split_long(sentence, self.input_budget, self.codec.count_many)
                sentences.extend(pieces)
                counts.extend(self.codec.count_many(pieces))
            else:
                sentences.append(sentence)
                counts.append(n)
        joiner = "" if lang == "zh" else " "
        budget = self.input_budget
        while True:  # joined text can tokenize a little longer than its parts
            groups = pack(counts, budget, overlap=self.config.overlap_sentences)
            chunks = [joiner.join(sentences[i] for i in g) for g in groups]
            if max(self.codec.count_many(chunks)) <= self.input_budget:
                return chunks
            if budget <= max(counts):  # cannot pack tighter: one sentence per chunk
                return sentences
            budget = max(max(counts), int(budget * 0.95))


def sentence_lines(text: str, lang: str) -> str:
    """Generated text as one sentence per line, the form summaries are shown and scored in
    (ROUGE-Lsum reads sentences from lines)."""
    return "\n".join(s.text for s in tokenizer_for(lang).sentences(text)) if text.strip() else ""


def _report_part(on_progress: Callable[[Progress], None], parts: int, round_: int,
                 first: int, last: int, text: str) -> None:
    on_progress(Progress(text, first + 1, last + 1, parts, round_))


def _report_final(on_progress: Callable[[Progress], None], rounds: int,
                  _first: int, _last: int, text: str) -> None:
    on_progress(Progress(text, round=rounds))


def _streamer(codec: TextCodec, on_text: Callable[[str], None], shown: List[str]):
    """Kept-tokens callback (``runtime.search.KeptCallback``) that passes on the text so far
    each time it changes: it grows, and shrinks where tokens are taken back. Decodes the
    row's tokens, holding back while they end in an incomplete character (U+FFFD);
    ``shown[0]`` is the text last passed on."""

    def on_kept(row: int, tokens: List[int]) -> None:
        text = codec.token_text(tokens)
        if text.endswith("\ufffd") or text == shown[0]:
            return
        on_text(text)
        shown[0] = text

    return on_kept

