"""Generate page: a domain preset, a prompt, decoding controls; the text streams in as
the model writes it, with the time so far and a Stop button. The finished (or stopped)
text can be copied and downloaded, is kept in the run history and comes back from
``?run=<id>``. The model is the folder set in Settings, else the preset's built-in model
(news: SmolLM2 with the BBC news adapter), else the default model, once ``python -m
generation setup`` has prepared it; the page says how when it has not, and names the
model by what it is (``runtime.catalog``), not by its cache folder.

Stop: Streamlit runs a page script to its end, and a click on any button reruns it, which
interrupts the running script where it next writes to the page. So the Stop button is
drawn before the stream starts, every piece is kept in ``st.session_state`` as it comes
(``PARTIAL_KEY``), and the run the click starts finds the partial text there and shows it
as stopped.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import streamlit as st

from generation import PRESETS, Decoding, Generator, Preset
from generation.record import WRITERS, GenerationRecord
from runtime.builtin import BUILTIN_MODELS, DEFAULT_MODEL, is_ready
from runtime.catalog import describe
from summarizer.errors import CondenseError

from .history import run_from_url, save_run
from .settings import AppSettings

OUTPUT_KEY = "gen.output"  # the GenerationRecord shown under the controls
PARTIAL_KEY = "gen.partial"  # the generation being written (see the module's docstring)
SEEN_KEY = "gen.seen_run"  # the ?run= this session has already reopened or saved
REOPENED_KEY = "gen.reopened"  # the id of the run shown, when it came from the history
SETUP_COMMAND = "python -m generation setup"
KIND = "generation"
STATUS_EVERY_S = 0.25  # how often the "Writing…" line is refreshed
DOWNLOAD_LABELS = {"md": "Markdown", "txt": "Text", "docx": "DOCX", "jsonl": "JSONL"}
# The controls under each preset (key ``gen.<preset>.<control>``) -> the setting each holds
CONTROLS = {"max_new": ("max_new_tokens", int), "temperature": ("temperature", float),
            "top_k": ("top_k", int), "top_p": ("top_p", float), "seed": ("seed", int)}


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

    def settings(self) -> Decoding:
        """Every decoding setting the model is run with: the controls over the rest."""
        return (self.decoding or self.preset.decoding).override(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_k=self.top_k,
            top_p=self.top_p, seed=self.seed)


@dataclass
class Partial:
    """A generation while it is written; ``pieces`` grows in place, so the session state
    holds the text so far whenever the script is interrupted."""

    request: Request
    model: str
    started: float = field(default_factory=time.monotonic)
    pieces: List[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


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
                      "model, under a minute), then reload this page; or set a generator folder "
                      "in Settings.")
    return folder, None


# -- a run from the history ----------------------------------------------------------
def record_from_run(run) -> GenerationRecord:
    """The stored record of a ``generation`` run (``save`` wrote ``record.to_json()``)."""
    data = {**run.inputs, **run.outputs}
    return GenerationRecord(
        prompt=str(data.get("prompt", "")), output=str(data.get("output", "")),
        model=run.source, preset=run.method, settings=dict(run.settings),
        keywords=tuple(data.get("keywords") or ()), tokens=int(data.get("tokens", 0)),
        seconds=float(run.seconds), stopped=bool(data.get("stopped", False)))


def restore_inputs(record: GenerationRecord) -> None:
    """The run's preset, prompt and controls back into the widgets' keys (before they are
    drawn); the length is bounded to the model's context when its slider is drawn."""
    if record.preset not in PRESETS:
        return
    name, state = record.preset, st.session_state
    state["gen.preset"] = name
    state["gen.prompt"] = record.prompt
    state["gen.keywords"] = ", ".join(record.keywords)
    for key, (setting, kind) in CONTROLS.items():
        if record.settings.get(setting) is not None:
            state[f"gen.{name}.{key}"] = kind(record.settings[setting])


def reopen_ui() -> None:
    """When ``?run=`` names a generation this session has not shown, show it again."""
    raw = st.query_params.get("run")
    if not raw or raw == st.session_state.get(SEEN_KEY):
        return
    st.session_state[SEEN_KEY] = raw
    run = run_from_url(KIND)
    if run is not None:
        record = record_from_run(run)
        restore_inputs(record)
        st.session_state[OUTPUT_KEY] = record
        st.session_state[REOPENED_KEY] = run.id
        st.session_state.pop(PARTIAL_KEY, None)


def save(record: GenerationRecord) -> None:
    st.session_state.pop(REOPENED_KEY, None)  # a new output replaces the reopened one
    data = record.to_json()
    inputs = {k: data[k] for k in ("prompt", "keywords")}
    outputs = {k: data[k] for k in ("output", "tokens", "stopped")}
    run_id = save_run(KIND, name=record.prompt[:80], source=record.model, method=record.preset,
                      settings=dict(record.settings), inputs=inputs, outputs=outputs,
                      seconds=record.seconds)
    if run_id is not None:
        st.session_state[SEEN_KEY] = str(run_id)  # this session's own run: not reopened


# -- the controls --------------------------------------------------------------------
def preset_ui() -> Preset:
    names = list(PRESETS)
    name = st.selectbox("Domain preset", names, key="gen.preset", persist_state="session",
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
        prompt = st.text_area("Headline", key="gen.prompt", persist_state="session", height=70,
                              placeholder="New footbridge opens over the river")
        keywords = ""  # the completion template has no place for them
    else:
        prompt = st.text_area("Prompt (the topic)", key="gen.prompt",
                              persist_state="session", height=100,
                              placeholder="a new footbridge opens over the river")
        keywords = st.text_input("Keywords (optional, comma separated)", key="gen.keywords",
                                 persist_state="session")
    d = base or preset.decoding
    limit = min(settings.max_new_tokens, context - 1) if context else settings.max_new_tokens
    length_key = f"gen.{name}.max_new"
    kept = st.session_state.get(length_key)
    if kept is not None and not 1 <= kept <= limit:  # a reopened run, a smaller model since
        st.session_state[length_key] = max(1, min(int(kept), limit))
    # Keys carry the preset's name, so each preset starts from its own defaults.
    c1, c2, c3, c4, c5 = st.columns(5)
    max_new = c1.slider("Max new tokens", 1, limit, min(d.max_new_tokens, limit),
                        key=length_key, persist_state="session")
    temperature = c2.slider("Temperature (0 = greedy)", 0.0, 2.0, float(d.temperature), 0.05,
                            key=f"gen.{name}.temperature", persist_state="session")
    top_k = c3.number_input("Top-k (0 = off)", 0, 1000, int(d.top_k), key=f"gen.{name}.top_k",
                            persist_state="session")
    top_p = c4.slider("Top-p", 0.05, 1.0, float(d.top_p), 0.01, key=f"gen.{name}.top_p",
                      persist_state="session")
    seed = c5.number_input("Seed", 0, 2**31 - 1, 0, key=f"gen.{name}.seed", persist_state="session")
    run = st.button("Generate", type="primary", key="gen.run", disabled=not prompt.strip())
    words = tuple(k.strip() for k in keywords.split(",") if k.strip())
    return Request(preset, prompt.strip(), words, int(max_new), float(temperature), int(top_k),
                   float(top_p), int(seed), own_model, d), run


# -- writing -------------------------------------------------------------------------
def count_tokens(generator: Generator, text: str) -> int:
    """New tokens in ``text``, counted by the model's tokenizer."""
    return len(generator.tokenizer.encode(text, add_special_tokens=False).ids) if text else 0


def record_of(generator: Generator, job: Partial, *, stopped: bool) -> GenerationRecord:
    r = job.request
    settings = {k: list(v) if isinstance(v, tuple) else v
                for k, v in asdict(r.settings()).items()}
    text = job.text
    return GenerationRecord(prompt=r.prompt, output=text, model=job.model, preset=r.preset.name,
                            settings=settings, keywords=r.keywords,
                            tokens=count_tokens(generator, text),
                            seconds=time.monotonic() - job.started, stopped=stopped)


def stream_ui(generator: Generator, request: Request, model: str
              ) -> Optional[GenerationRecord]:
    """Write the text as it streams, with a Stop button and the time so far; the record
    at the end (None after an error). A Stop click ends this run midway: the next run
    makes the record (``stopped_ui``). ``model``: its label, ``ModelInfo.label()``."""
    p = request.preset
    job = Partial(request, model)
    notes: List[str] = []  # filled by the stream (a half character left out at the limit)
    live = st.empty()  # the stream's widgets, replaced by the output when it is done
    try:
        with live.container():
            st.button("Stop", key="gen.stop", icon=":material/stop_circle:")
            status = st.empty()
            status.caption("Writing… 0.0 s")
            st.session_state[PARTIAL_KEY] = job
            prompt = p.prompt(request.prompt, request.keywords,
                              chat=generator.chat_template is not None,
                              own_model=request.own_model)
            pieces = generator.stream(prompt, decoding=request.settings(), notes=notes)
            with st.container(border=True, key="gen-live"):
                st.write_stream(_markdown_safe(_timed(pieces, job, status, generator)))
    except CondenseError as e:
        st.session_state.pop(PARTIAL_KEY, None)
        live.error(str(e))
        return None
    except Exception:  # a bug: no partial text is left to pass for a stopped run
        st.session_state.pop(PARTIAL_KEY, None)
        raise
    st.session_state.pop(PARTIAL_KEY, None)
    live.empty()
    for note in notes:
        st.caption(note)
    return record_of(generator, job, stopped=False)


def _timed(pieces: Iterator[str], job: Partial, status, generator: Generator
           ) -> Iterator[str]:
    """The pieces, each kept in ``job`` before it is shown; the status line refreshed."""
    last = 0.0
    for piece in pieces:
        job.pieces.append(piece)
        now = time.monotonic()
        if now - last >= STATUS_EVERY_S:
            status.caption(f"Writing… {now - job.started:.1f} s · "
                           f"{count_tokens(generator, job.text)} tokens")
            last = now
        yield piece


def _markdown_safe(pieces: Iterator[str]) -> Iterator[str]:
    """st.write_stream renders Markdown: show the model's words as they are by escaping
    what Markdown acts on ($ starts LaTeX, * and _ emphasis, < HTML)."""
    for piece in pieces:
        yield (piece.replace("\\", "\\\\").replace("$", "\\$").replace("*", "\\*")
               .replace("_", "\\_").replace("<", "&lt;"))


def stopped_ui(generator: Generator) -> None:
    """A generation interrupted by a rerun (Stop, or any other click) becomes the output,
    marked as stopped, and is saved."""
    job: Optional[Partial] = st.session_state.pop(PARTIAL_KEY, None)
    if job is None:
        return
    record = record_of(generator, job, stopped=True)
    st.session_state[OUTPUT_KEY] = record
    save(record)


# -- the output ----------------------------------------------------------------------
def output_ui(record: GenerationRecord) -> None:
    line = f"{record.model} · preset {record.preset} · seed {record.settings.get('seed')}"
    reopened = st.session_state.get(REOPENED_KEY)
    if reopened is not None:
        line = f"Run {reopened} from the history · {line}"
    if record.stopped:
        st.caption(line)
        st.info(f"Stopped after {record.tokens} tokens ({record.seconds:.1f} s): the text "
                "so far is kept below.")
    else:
        st.caption(f"{line} · {record.summary_line()}")
    if not record.output.strip():
        st.warning("The model ended without writing anything: try another seed, a "
                   "higher temperature or a longer prompt.")
        return
    with st.container(key="gen-output"):
        # st.code shows the text exactly (no Markdown) and has a copy button.
        st.code(record.output, language=None, wrap_lines=True)
    downloads_ui(record)


def downloads_ui(record: GenerationRecord) -> None:
    stem = f"generation-{record.preset}"
    row = st.container(horizontal=True)
    for fmt, (writer, mime) in WRITERS.items():
        # A callable is run only when its button is clicked: no file is built per rerun.
        row.download_button(DOWNLOAD_LABELS[fmt], partial(writer, record),
                            file_name=f"{stem}.{fmt}", mime=mime, key=f"gen.dl.{fmt}",
                            on_click="ignore", icon=":material/download:")


def page(settings: AppSettings) -> None:
    st.header("Generate")
    reopen_ui()
    preset = preset_ui()
    choice = model_choice(settings, preset)
    if choice.note:
        st.caption(choice.note)
    generator = None
    if choice.folder is None:
        st.info(choice.problem)
    else:
        try:
            generator = load_generator(str(choice.folder), settings.device, settings.threads)
        except CondenseError as e:
            st.error(str(e))
    if generator is not None:
        write_ui(settings, generator, preset, choice)
    record: Optional[GenerationRecord] = st.session_state.get(OUTPUT_KEY)
    if record is not None:
        output_ui(record)


def write_ui(settings: AppSettings, generator: Generator, preset: Preset,
             choice: ModelChoice) -> None:
    info = describe(choice.folder)  # None only for a folder without graphs, which never loads
    model = info.label() if info is not None else choice.folder.name
    st.caption(f"Model: {model}", help=f"Folder: {choice.folder}")
    base, notes = preset.decoding_for(generator.default_decoding)
    for note in generator.default_decoding.notes + notes:  # where the preset replaces the model's
        st.caption(note)
    request, run = request_ui(settings, preset, generator.context, own_model=choice.own_model,
                              base=base)
    stopped_ui(generator)
    if run:
        record = stream_ui(generator, request, model)
        if record is not None:
            st.session_state[OUTPUT_KEY] = record
            save(record)
