"""Domain presets: a prompt template and the decoding settings that suit it.

    from generation.presets import get_preset
    news = get_preset("news")
    prompt = news.prompt("a new footbridge opens", keywords=["council", "cost"], chat=True)
    decoding, notes = news.decoding_for(generator.default_decoding)
    text = generator.generate(prompt, decoding=decoding, seed=1)

A preset's ``user_template`` holds ``{prompt}`` and ``{keywords}``; a line that mentions
``{keywords}`` is left out when no keywords are given. Chat models get a system and a
user message (rendered by the model's chat template); base models get the same words as
plain text. The decoding settings were picked for SmolLM2-135M-Instruct, the default
model: a small model loops without a repetition penalty, and factual genres (abstracts)
want a lower temperature than product copy. A preset's ``settings`` win over the model's
``generation_config.json`` (the rest come from it), and ``decoding_for`` returns a note for
each value of the model's it replaces: SmolLM2's file asks for greedy decoding, and the
presets keep sampling as they always have, with a note that says so. Every setting can be
overridden per call (``generation/defaults.py`` gives the whole order).

A preset may name a built-in fine-tuned ``model`` (``runtime.builtin.BUILTIN_MODELS``):
the news preset uses SmolLM2 with an adapter trained on BBC articles. That model learned to
continue article text, not to follow instructions, so with it the prompt is the
``completion_template`` (a headline to write the article under) instead of a chat.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .decoding import Decoding, Settings
from .defaults import LIBRARY_DEFAULTS, DefaultDecoding, override_notes
from .errors import GenerationError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    system_prompt: str
    user_template: str  # with {prompt} and optionally {keywords}
    settings: Settings = field(hash=False)  # the decoding settings it chooses (checked)
    model_dir: Optional[str] = None  # None: the default model (or --model)
    model: Optional[str] = None  # a built-in fine-tuned model used when no folder is given
    completion_template: Optional[str] = None  # with {prompt}: the prompt for that model

    def __post_init__(self) -> None:
        LIBRARY_DEFAULTS.override(**self.settings)  # a bad setting fails at import

    @property
    def decoding(self) -> Decoding:
        """The preset's settings over Condense's defaults (a folder without a
        generation_config.json); for a model's generator use ``decoding_for``."""
        return LIBRARY_DEFAULTS.override(**self.settings)

    def decoding_for(self, defaults: DefaultDecoding, *, overridden: Collection[str] = ()
                     ) -> Tuple[Decoding, Tuple[str, ...]]:
        """The preset's settings over a generator's ``default_decoding``, and a note for
        each value of the model's it replaces. ``overridden``: settings the user gives
        (they win over the preset, so their notes would mislead)."""
        mine = {k: v for k, v in self.settings.items() if k not in overridden}
        return (defaults.decoding.override(**self.settings),
                override_notes(f"preset '{self.name}'", defaults, mine))

    def user_message(self, prompt: str, keywords: Sequence[str] = ()) -> str:
        words = [k.strip() for k in keywords if k.strip()]
        lines = [line for line in self.user_template.splitlines()
                 if words or "{keywords}" not in line]
        return "\n".join(lines).format(prompt=prompt.strip(), keywords=", ".join(words))

    def messages(self, prompt: str, keywords: Sequence[str] = ()) -> List[Dict[str, str]]:
        return [{"role": "system", "content": self.system_prompt},
                {"role": "user", "content": self.user_message(prompt, keywords)}]

    def prompt(self, prompt: str, keywords: Sequence[str] = (), *, chat: bool = True,
               own_model: bool = False) -> Union[str, List[Dict[str, str]]]:
        """Messages for a chat model, or plain text for a base model; with ``own_model``
        (the preset's built-in model is the one generating) the completion template, which
        has no place for keywords: ``GenerationError`` says to put them in the prompt."""
        if own_model and self.completion_template is not None:
            if any(k.strip() for k in keywords):
                raise GenerationError(
                    f"the {self.name} preset's model continues a headline and takes no "
                    "keywords: put them in the prompt, or choose another model")
            return self.completion_template.format(prompt=prompt.strip())
        if chat:
            return self.messages(prompt, keywords)
        return f"{self.system_prompt}\n\n{self.user_message(prompt, keywords)}\n\n"


PRESETS: Mapping[str, Preset] = {p.name: p for p in (
    Preset(
        name="news",
        description="a short news article in the inverted-pyramid style",
        system_prompt=("You are a news reporter. Write clear, neutral news copy: the most "
                       "important facts first, short paragraphs, no opinions."),
        user_template=("Write a short news article (about 150 words) about: {prompt}\n"
                       "Mention: {keywords}"),
        settings=Settings(max_new_tokens=220, temperature=0.7, top_k=50, top_p=0.9,
                          repetition_penalty=1.15),
        model="news",
        # BBC articles open with the headline on a line of its own, then a blank line.
        completion_template="{prompt}\n\n",
    ),
    Preset(
        name="product",
        description="a product description for a shop page",
        system_prompt=("You are a copywriter for an online shop. Describe products "
                       "accurately and concisely, with their benefits for the buyer."),
        user_template=("Write a product description (about 100 words) for: {prompt}\n"
                       "Highlight: {keywords}"),
        settings=Settings(max_new_tokens=160, temperature=0.8, top_k=50, top_p=0.92,
                          repetition_penalty=1.2),
    ),
    Preset(
        name="email",
        description="a polite, concise professional e-mail",
        system_prompt=("You write professional e-mails: polite, concise, with a greeting, "
                       "a clear request or message, and a sign-off."),
        user_template=("Write an e-mail about: {prompt}\n"
                       "Points to cover: {keywords}"),
        settings=Settings(max_new_tokens=200, temperature=0.6, top_k=40, top_p=0.9,
                          repetition_penalty=1.15),
    ),
    Preset(
        name="abstract",
        description="a scientific abstract: problem, method, results, conclusion",
        system_prompt=("You are a scientist writing the abstract of a paper: state the "
                       "problem, the method, the main result and what it means, in one paragraph."),
        user_template=("Write an abstract (about 150 words) for a paper on: {prompt}\n"
                       "Key terms: {keywords}"),
        settings=Settings(max_new_tokens=220, temperature=0.4, top_k=40, top_p=0.9,
                          repetition_penalty=1.2, no_repeat_ngram_size=4),
    ),
)}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise GenerationError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}") from None
