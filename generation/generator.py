"""Text generation with an exported causal language model on ONNX Runtime.

    from generation import Generator
    gen = Generator.load("models/smollm2")            # a `python -m export` folder
    text = gen.generate("Write a headline about rain.", max_new_tokens=40, seed=1)
    for piece in gen.stream([{"role": "user", "content": "Hi!"}], temperature=0):
        print(piece, end="", flush=True)

A prompt is a string (tokenized as is, with the tokenizer's special tokens, as
transformers' ``tokenizer(prompt)`` does) or a list of chat messages, rendered with the
model's chat template (``generation/chat.py``) and tokenized without adding any. Decoding
settings are keyword arguments (``Decoding`` fields); unset ones come from the
generator's defaults: the folder's ``generation_config.json`` as transformers reads it
(greedy unless it sets ``do_sample``), else Condense's (``generation/defaults.py``).
``temperature`` 0 is greedy, ``num_beams`` > 1 beam search (via
``runtime.search.beam_search``; it streams its text only at the end), anything else
sampling with a ``np.random.Generator`` seeded per call. End tokens come from the
folder's ``generation_config.json``.

A ``Generator`` holds only read-only things (sessions, tokenizer, template); every call
keeps its state in local variables, so one instance serves many threads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union, Unpack

import numpy as np

from runtime.causal import CausalOnnx, context_length, left_pad
from runtime.config import read_json
from runtime.errors import ModelFileError
from runtime.search import beam_search
from runtime.session import SessionConfig
from runtime.text import INCOMPLETE_NOTE, complete_text, load_tokenizer

from .chat import ChatTemplate, Message
from .decoding import Decoding, Settings, sample_steps
from .defaults import FILE, DefaultDecoding, from_generation_config
from .errors import GenerationError
from .streaming import TextStream, stop_index

Prompt = Union[str, Sequence[Message]]


class Generator:
    def __init__(self, model: CausalOnnx, tokenizer, *,
                 chat_template: Optional[ChatTemplate] = None,
                 defaults: DefaultDecoding = DefaultDecoding(),
                 context: Optional[int] = None, name: str = "") -> None:
        """``tokenizer``: a ``tokenizers.Tokenizer`` (padding and truncation off).
        ``defaults``: what a call leaves unset (``load`` reads them from the folder)."""
        self.model = model
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.default_decoding = defaults
        self.context = context
        self.name = name
        config = model.generation_config
        self.eos: Tuple[int, ...] = tuple(config.eos_token_id)
        self.pad: int = config.pad_token_id if config.pad_token_id is not None else (
            self.eos[0] if self.eos else 0)

    @classmethod
    def load(cls, path: Union[str, Path], *, device: str = "cpu", threads: int = 0,
             defaults: Optional[Decoding] = None) -> "Generator":
        """The generator for an exported folder. ``defaults`` None: the folder's
        ``generation_config.json`` decides what a call leaves unset (Condense's defaults
        where the folder has none). Every problem with the folder (files missing, a graph
        onnxruntime refuses, a broken tokenizer.json or config, settings out of range) is a
        ``GenerationError`` naming the file and the fix."""
        path = Path(path)
        try:
            model = CausalOnnx.load(path, SessionConfig(device=device, intra_op_threads=threads))
            tokenizer = load_tokenizer(path)
            context = context_length(path)
            if defaults is not None:
                chosen = DefaultDecoding.from_caller(defaults, "the defaults given to load")
            elif (path / FILE).is_file():  # already checked by CausalOnnx.load
                chosen = from_generation_config(model.generation_config, read_json(path / FILE))
            else:
                chosen = DefaultDecoding()
        except ModelFileError as e:  # runtime's type; generation/ raises its own
            raise GenerationError(str(e)) from e
        return cls(model, tokenizer, chat_template=ChatTemplate.from_model_dir(path),
                   defaults=chosen, context=context, name=path.name)

    @property
    def defaults(self) -> Decoding:
        """The settings a call leaves unset take (``default_decoding`` says whose they are)."""
        return self.default_decoding.decoding

    @property
    def notes(self) -> Tuple[str, ...]:
        return self.model.notes + self.default_decoding.notes

    # -- prompts -----------------------------------------------------------------------
    def apply_chat_template(self, messages: Sequence[Message], *,
                            add_generation_prompt: bool = True) -> str:
        if self.chat_template is None:
            raise GenerationError(
                f"{self.name or 'this model'} has no chat template (a base model): pass the "
                "prompt as plain text instead of messages")
        return self.chat_template.render(messages, add_generation_prompt=add_generation_prompt)

    def encode(self, prompts: Sequence[Prompt]) -> Tuple[np.ndarray, np.ndarray]:
        """Left-padded (B, T) ids and attention mask, as transformers pads decoder-only models."""
        rows: List[List[int]] = []
        for p in prompts:
            if isinstance(p, str):
                rows.append(self.tokenizer.encode(p, add_special_tokens=True).ids)
            else:  # the template already wrote every special token
                text = self.apply_chat_template(p)
                rows.append(self.tokenizer.encode(text, add_special_tokens=False).ids)
        if any(not r for r in rows):
            raise GenerationError("an empty prompt has no token to continue from: give some text")
        return left_pad(rows, self.pad)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    # -- generation --------------------------------------------------------------------
    def settings(self, decoding: Optional[Decoding] = None,
                 **overrides: Unpack[Settings]) -> Decoding:
        """``decoding`` (default: the generator's defaults) with the keyword overrides."""
        return (decoding or self.defaults).override(**overrides)

    def generate(self, prompt: Prompt, *, decoding: Optional[Decoding] = None,
                 notes: Optional[List[str]] = None, **settings: Unpack[Settings]) -> str:
        """The generated text (prompt not included), cut before the first stop string.
        Settings: ``max_new_tokens, min_new_tokens, temperature, top_k, top_p,
        repetition_penalty, no_repeat_ngram_size, num_beams, stop, seed``. ``notes``, if
        given, gets what the caller should be told (a half character left out)."""
        return "".join(self.stream(prompt, decoding=decoding, notes=notes, **settings))

    def stream(self, prompt: Prompt, *, decoding: Optional[Decoding] = None,
               notes: Optional[List[str]] = None, **settings: Unpack[Settings]) -> Iterator[str]:
        """Pieces of the generated text as tokens arrive; they join to ``generate``'s text.
        A piece never ends inside a character or inside a possible stop string, and the
        text never ends in half a character: where the token limit cuts one, it is left
        out and ``notes`` (a list the caller owns) gets a line saying so."""
        d = self.settings(decoding, **settings)
        ids, mask = self._prepare([prompt], d)
        if d.num_beams > 1:
            text = self._beam_texts(ids, mask, d, notes)[0]
            if text:
                yield text
            return
        stream = TextStream(self.decode, d.stop)
        done = np.zeros(1, dtype=bool)
        steps = sample_steps(self.model, self.model.start(mask), ids, decoding=d, eos=self.eos,
                             pad=self.pad, rng=np.random.default_rng(d.seed), done=done)
        for tokens, active in steps:
            if active[0] and not done[0]:  # an end token is not text
                piece = stream.push(int(tokens[0]))
                if piece:
                    yield piece
                if stream.stopped:
                    done[0] = True
        rest = stream.finish()
        if stream.incomplete and notes is not None:
            notes.append(INCOMPLETE_NOTE)
        if rest:
            yield rest

    def generate_batch(self, prompts: Sequence[Prompt], *, decoding: Optional[Decoding] = None,
                       notes: Optional[List[str]] = None,
                       **settings: Unpack[Settings]) -> List[str]:
        """One text per prompt, decoded together in one left-padded batch. Greedy and beam
        results equal one-by-one calls; sampled ones differ (the rows share one random stream).
        ``notes`` as in ``stream``, each line starting with the prompt's index."""
        d = self.settings(decoding, **settings)
        if not prompts:
            return []
        ids, mask = self._prepare(prompts, d)
        if d.num_beams > 1:
            return self._beam_texts(ids, mask, d, notes)
        streams = [TextStream(self.decode, d.stop) for _ in prompts]
        done = np.zeros(len(prompts), dtype=bool)
        steps = sample_steps(self.model, self.model.start(mask), ids, decoding=d, eos=self.eos,
                             pad=self.pad, rng=np.random.default_rng(d.seed), done=done)
        for tokens, active in steps:
            for row in np.flatnonzero(active & ~done):
                streams[row].push(int(tokens[row]))
                done[row] |= streams[row].stopped
        for i, s in enumerate(streams):
            s.finish()
            if s.incomplete and notes is not None:
                notes.append(f"prompt {i}: {INCOMPLETE_NOTE}")
        return [s.text for s in streams]

    def generate_ids(self, prompts: Sequence[Prompt], *, decoding: Optional[Decoding] = None,
                     **settings: Unpack[Settings]) -> np.ndarray:
        """Token ids (B, T) as transformers' ``generate`` returns them: the left-padded
        prompts, then the new tokens, finished rows padded. Stop strings do not apply."""
        d = self.settings(decoding, **settings)
        ids, mask = self._prepare(prompts, d)
        if d.num_beams > 1:
            config = d.search_config(self.model.generation_config, pad=self.pad)
            state = self.model.start(mask, repeat=d.num_beams)
            return beam_search(self.model, state, ids, config).sequences
        done = np.zeros(len(prompts), dtype=bool)
        steps = sample_steps(self.model, self.model.start(mask), ids, decoding=d, eos=self.eos,
                             pad=self.pad, rng=np.random.default_rng(d.seed), done=done)
        new = [tokens for tokens, _ in steps]
        return np.concatenate([ids] + [t[:, None] for t in new], axis=1)

    # -- helpers -----------------------------------------------------------------------
    def _prepare(self, prompts: Sequence[Prompt], d: Decoding) -> Tuple[np.ndarray, np.ndarray]:
        ids, mask = self.encode(prompts)
        if self.context and ids.shape[1] + d.max_new_tokens > self.context:
            raise GenerationError(
                f"the prompt ({ids.shape[1]} tokens) plus max_new_tokens ({d.max_new_tokens}) is "
                f"longer than the model's context of {self.context} tokens: shorten the prompt "
                "or lower max_new_tokens")
        return ids, mask

    def _beam_texts(self, ids: np.ndarray, mask: np.ndarray, d: Decoding,
                    notes: Optional[List[str]] = None) -> List[str]:
        config = d.search_config(self.model.generation_config, pad=self.pad)
        state = self.model.start(mask, repeat=d.num_beams)
        sequences = beam_search(self.model, state, ids, config).sequences[:, ids.shape[1]:]
        texts = []
        for i, row in enumerate(sequences.tolist()):
            end = next((j for j, t in enumerate(row) if t in self.eos), len(row))
            text = self.decode(row[:end])  # what follows the end token is padding
            cut = stop_index(text, d.stop)
            text, dropped = complete_text(text if cut < 0 else text[:cut])
            if dropped and notes is not None:
                notes.append(INCOMPLETE_NOTE if len(sequences) == 1
                             else f"prompt {i}: {INCOMPLETE_NOTE}")
            texts.append(text)
        return texts

