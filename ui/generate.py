"""Generate page: a domain preset, a prompt, decoding controls; the text streams in as
the model writes it. The model is the folder set in Settings, else the preset's built-in
model (news: SmolLM2 with the BBC news adapter), else the default model, once
``python -m generation setup`` has prepared it; the page says how when it has not."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import streamlit as st

from generation import PRESETS, Decoding, Generator, Preset
from runtime.builtin import BUILTIN_MODELS, DEFAULT_MODEL, is_ready
from summarizer.errors import CondenseError

from .settings import AppSettings

OUTPUT_KEY = "gen.output"
SETUP_COMMAND = "python -m generation setup"


@dataclass(frozen=True)
class Request:
    preset: Preset
    prompt: str
    keywords: Tuple[str, ...]
    max_new_tokens: int
    temperature: float
    top_k: int
    top_p: float
    seed: int
    own_model: bool = False
    decoding: Optional[Decoding] = None  # the rest: the preset's over the model's defaults


@st.cache_resource(show_spinner="Loading the generator (once per server)…", max_entries=2)
def load_generator(folder: str, device: str, threads: int) -> Generator:
    return Generator.load(folder, device=device, threads=threads)


@dataclass(frozen=True)
class ModelChoice:
    folder: Optional[Path]  # None: nothing to load, ``problem`` says what to do
    problem: Optional[str] = None
    own_model: bool = False  # the preset's built-in model (prompted with its template)
    note: Optional[str] = None  # shown above the controls


def model_choice(settings: AppSettings, preset: Preset) -> ModelChoice:
    """The Settings folder, else the preset's prepared built-in model, else the default."""
    if not settings.generator_dir and preset.model is not None:
        builtin = BUILTIN_MODELS[preset.model]
        try:
            folder = builtin.folder()
        except CondenseError as e:
            folder, missing = None, str(e)
        else:
            missing = None
        if folder is not None and is_ready(folder):
            return ModelChoice(folder, own_model=True)
        note = missing or (f"The {preset.name} preset's own model ({builtin.title}) is not "
                           f"prepared: run `{SETUP_COMMAND} --model {preset.model}` once to use "
                           "it. Until then the default model writes.")
        folder, problem = generator_folder(settings)
        return ModelChoice(folder, problem, note=note)
    folder, problem = generator_folder(settings)
    return ModelChoice(folder, problem)


def generator_folder(settings: AppSettings) -> Tuple[Optional[Path], Optional[str]]:
    """The folder to load, or None and what the user should do instead."""
    if settings.generator_dir:
        folder = Path(settings.generator_dir).expanduser()
        if not is_ready(folder):
            return None, (f"The generator folder {settings.generator_dir} is not an exported "
                          "causal LM (it needs model.onnx, tokenizer.json and config.json). "
                          "Export one with "
                          "`python -m export onnx MODEL --task causal-lm --out DIR`, or clear the "
                          "folder in Settings to use the default model.")
        return folder, None
    folder = DEFAULT_MODEL.folder()
    if not is_ready(folder):
        return None, (f"The default generator ({DEFAULT_MODEL.title}) is not prepared yet. "
                      f"Run `{SETUP_COMMAND}` once in the project folder (it converts the "
                      "model, about 2 minutes), then reload this page; or set a generator folder "
                      "in Settings.")
    return folder, None


def preset_ui() -> Preset:
    names = list(PRESETS)
    name = st.selectbox("Domain preset", names, key="gen.preset",
                        format_func=lambda n: f"{n}: {PRESETS[n].description}")
    return PRESETS[name]


def request_ui(settings: AppSettings, preset: Preset, context: Optional[int], *,
               own_model: bool = False, base: Optional[Decoding] = None) -> Tuple[Request, bool]:
    """The prompt and decoding settings, and whether Generate was pressed.
    ``context``: the model's context length, which also bounds the length slider.
    ``own_model``: the preset's built-in model, which writes under a headline.
    ``base``: the widgets' first values (the preset's over the model's defaults)."""
    name = preset.name
    if own_model and preset.completion_template is not None:
        prompt = st.text_area("Headline", key="gen.prompt", height=70,
                              placeholder="New footbridge opens over the river")
        keywords = ""  # the completion template has no place for them
    else:
        prompt = st.text_area("Prompt (the topic)", key="gen.prompt", height=100,
                              placeholder="a new footbridge opens over the river")
        keywords = st.text_input("Keywords (optional, comma separated)", key="gen.keywords")
    d = base or preset.decoding
    limit = min(settings.max_new_tokens, context - 1) if context else settings.max_new_tokens
    # Keys carry the preset's name, so each preset starts from its own defaults.
    c1, c2, c3, c4, c5 = st.columns(5)
    max_new = c1.slider("Max new tokens", 1, limit, min(d.max_new_tokens, limit),
                        key=f"gen.{name}.max_new")
    temperature = c2.slider("Temperature (0 = greedy)", 0.0, 2.0, float(d.temperature), 0.05,
                            key=f"gen.{name}.temperature")
    top_k = c3.number_input("Top-k (0 = off)", 0, 1000, int(d.top_k), key=f"gen.{name}.top_k")
    top_p = c4.slider("Top-p", 0.05, 1.0, float(d.top_p), 0.01, key=f"gen.{name}.top_p")
    seed = c5.number_input("Seed", 0, 2**31 - 1, 0, key=f"gen.{name}.seed")
    run = st.button("Generate", type="primary", key="gen.run", disabled=not prompt.strip())
    words = tuple(k.strip() for k in keywords.split(",") if k.strip())
    return Request(preset, prompt.strip(), words, int(max_new), float(temperature), int(top_k),
                   float(top_p), int(seed), own_model, d), run


def stream_ui(generator: Generator, request: Request) -> Optional[str]:
    """Write the text as it streams; the whole text at the end (None after an error)."""
    p = request.preset
    prompt = p.prompt(request.prompt, request.keywords, chat=generator.chat_template is not None,
                      own_model=request.own_model)
    notes: List[str] = []  # filled by the stream (a half character left out at the limit)
    pieces = generator.stream(prompt, decoding=request.decoding or p.decoding,
                              max_new_tokens=request.max_new_tokens,
                              temperature=request.temperature, top_k=request.top_k,
                              top_p=request.top_p, seed=request.seed, notes=notes)
    raw: List[str] = []
    try:
        with st.container(border=True, key="gen-output"):
            st.write_stream(_markdown_safe(pieces, raw))
    except CondenseError as e:
        st.error(str(e))
        return None
    for note in notes:
        st.caption(note)
    return "".join(raw)


def _markdown_safe(pieces: Iterator[str], raw: List[str]) -> Iterator[str]:
    """st.write_stream renders Markdown: show the model's words as they are by escaping
    what Markdown acts on ($ starts LaTeX, * and _ emphasis, < HTML). ``raw`` keeps the text."""
    for piece in pieces:
        raw.append(piece)
        yield (piece.replace("\\", "\\\\").replace("$", "\\$").replace("*", "\\*")
               .replace("_", "\\_").replace("<", "&lt;"))


def page(settings: AppSettings) -> None:
    st.header("Generate")
    preset = preset_ui()
    choice = model_choice(settings, preset)
    if choice.note:
        st.caption(choice.note)
    folder = choice.folder
    if folder is None:
        st.info(choice.problem)
        return
    try:
        generator = load_generator(str(folder), settings.device, settings.threads)
    except CondenseError as e:
        st.error(str(e))
        return
    base, notes = preset.decoding_for(generator.default_decoding)
    for note in generator.default_decoding.notes + notes:  # where the preset replaces the model's
        st.caption(note)
    request, run = request_ui(settings, preset, generator.context, own_model=choice.own_model,
                              base=base)
    if run:
        st.caption(f"Model: {folder.name} · preset {request.preset.name} · seed {request.seed}")
        text = stream_ui(generator, request)
        if text is not None:
            st.session_state[OUTPUT_KEY] = (request, text)
            if not text.strip():
                st.warning("The model ended without writing anything: try another seed, a "
                           "higher temperature or a longer prompt.")
        return
    previous: Optional[Tuple[Request, str]] = st.session_state.get(OUTPUT_KEY)
    if previous is not None:
        st.caption(f"Last output · preset {previous[0].preset.name} · seed {previous[0].seed}")
        with st.container(border=True, key="gen-last"):
            st.text(previous[1])
