"""Where decoding settings come from (issue #20, item 6): the caller, then a preset, then
the model's generation_config.json (read as transformers reads it: greedy unless it sets
do_sample), then Condense's documented defaults. The model is the bigram folder of
``test_hostile_models.py``: greedy decoding after "the" writes GENERATED, token by token."""
import json
import shutil
from pathlib import Path

import pytest

from generation import LIBRARY_DEFAULTS, Decoding, GenerationError, Generator, get_preset
from generation.__main__ import main as generation_main
from generation.defaults import LIBRARY_SOURCE, MODEL_SOURCE, from_generation_config
from runtime.config import GenerationConfig
from tests.test_hostile_models import EOS, GENERATED, make_causal, write_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLING = {"do_sample": True, "temperature": 0.3, "top_k": 5, "top_p": 0.8}
GREEDY_NOTE = (f"greedy decoding, as {MODEL_SOURCE} asks (it does not set do_sample to true): "
               "--temperature 0.7 samples")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_causal(tmp_path_factory.mktemp("defaults") / "causal")


@pytest.fixture
def folder(base, tmp_path):
    """A copy of the model whose generation_config.json a test writes with ``config(...)``."""
    return Path(shutil.copytree(base, tmp_path / "causal"))


def config(folder: Path, **settings) -> Path:
    write_json(folder / "generation_config.json", {"eos_token_id": EOS, "pad_token_id": EOS,
                                                   **settings})
    return folder


def test_the_models_sampling_settings_are_the_generators_defaults(folder):
    gen = Generator.load(config(folder, **SAMPLING, repetition_penalty=1.3, max_new_tokens=12))
    d = gen.defaults
    assert (d.temperature, d.top_k, d.top_p) == (0.3, 5, 0.8)
    assert (d.repetition_penalty, d.max_new_tokens, d.num_beams) == (1.3, 12, 1)
    assert gen.default_decoding.source == MODEL_SOURCE
    assert gen.default_decoding.given == {"temperature", "top_k", "top_p", "repetition_penalty",
                                          "max_new_tokens"}
    # a setting the file leaves out takes transformers' default, not Condense's
    gen = Generator.load(config(folder, do_sample=True))
    assert (gen.defaults.temperature, gen.defaults.top_k, gen.defaults.top_p) == (1.0, 50, 1.0)
    assert gen.defaults.max_new_tokens == LIBRARY_DEFAULTS.max_new_tokens == 128


@pytest.mark.parametrize("settings", [{"do_sample": False, "temperature": 0.3}, {}],
                         ids=["do_sample false", "no do_sample"])
def test_a_file_that_does_not_ask_for_sampling_means_greedy(folder, settings):
    """As transformers' generate(): SmolLM2-135M-Instruct's own file sets only token ids."""
    gen = Generator.load(config(folder, **settings))
    assert gen.defaults.temperature == 0.0 and gen.defaults.num_beams == 1
    assert gen.generate("the", max_new_tokens=20) == GENERATED  # the bigram chain, argmax
    assert gen.default_decoding.given == {"temperature"}


def test_the_callers_settings_win_over_the_model(folder):
    gen = Generator.load(config(folder, **SAMPLING))
    d = gen.settings(temperature=0.9, top_k=7)
    assert (d.temperature, d.top_k, d.top_p) == (0.9, 7, 0.8)
    assert gen.generate("the", temperature=0, max_new_tokens=20) == GENERATED
    given = Decoding(temperature=0.2, top_k=3, top_p=0.5)
    loaded = Generator.load(folder, defaults=given)
    assert loaded.defaults == given and loaded.default_decoding.source != MODEL_SOURCE


def test_sampling_over_a_model_that_asks_for_beams_turns_beams_off(folder):
    gen = Generator.load(config(folder, num_beams=3))
    assert (gen.defaults.num_beams, gen.defaults.temperature) == (3, 0.0)
    assert gen.settings(temperature=0.7).num_beams == 1
    assert gen.settings(top_k=3).num_beams == 3  # no temperature given: still beam search
    with pytest.raises(GenerationError, match="beam search is deterministic"):
        gen.settings(temperature=0.7, num_beams=2)  # both given: a contradiction


def test_beam_sampling_is_beam_search_with_a_note():
    d = from_generation_config(GenerationConfig(do_sample=True, num_beams=4, temperature=0.5),
                               {"do_sample", "num_beams", "temperature"})
    assert (d.decoding.num_beams, d.decoding.temperature) == (4, 0.0)
    assert d.notes == ("generation_config.json asks for beam sampling (do_sample with "
                       "num_beams 4), which Condense does not do: using beam search",)


def test_a_preset_overrides_the_model_and_says_so(folder):
    gen = Generator.load(config(folder, do_sample=True, temperature=0.6, top_k=50, top_p=0.9,
                                repetition_penalty=1.3))
    news = get_preset("news")
    decoding, notes = news.decoding_for(gen.default_decoding)
    assert (decoding.temperature, decoding.top_k, decoding.top_p) == (0.7, 50, 0.9)
    assert (decoding.repetition_penalty, decoding.max_new_tokens) == (1.15, 220)
    # top_k and top_p agree; max_new_tokens was left to Condense's default: no line for them
    assert notes == (
        f"preset 'news' sets temperature 0.7 ({MODEL_SOURCE} says 0.6)",
        f"preset 'news' sets repetition_penalty 1.15 ({MODEL_SOURCE} says 1.3)",
    )
    # what the user sets wins over the preset, so the preset's line for it is left out
    _, notes = news.decoding_for(gen.default_decoding, overridden={"temperature"})
    assert notes == (f"preset 'news' sets repetition_penalty 1.15 ({MODEL_SOURCE} says 1.3)",)


def test_presets_keep_sampling_over_a_greedy_model_and_say_so(folder):
    """The built-in SmolLM2 file asks for greedy decoding; the presets sampled before the
    file was read and still do, so their results do not change."""
    gen = Generator.load(config(folder))
    for name, temperature in [("news", 0.7), ("abstract", 0.4)]:
        preset = get_preset(name)
        decoding, notes = preset.decoding_for(gen.default_decoding)
        assert decoding == preset.decoding  # exactly what the preset decoded with before
        assert decoding.temperature == temperature
        assert notes == (f"preset '{name}' samples at temperature {temperature} "
                         f"({MODEL_SOURCE} asks for greedy decoding)",)


def test_without_a_generation_config_the_library_defaults_apply(folder):
    (folder / "generation_config.json").unlink()
    gen = Generator.load(folder)
    assert gen.defaults == LIBRARY_DEFAULTS
    d = gen.defaults
    assert (d.max_new_tokens, d.temperature, d.top_k, d.top_p) == (128, 0.7, 50, 0.9)
    assert (d.repetition_penalty, d.no_repeat_ngram_size, d.num_beams) == (1.0, 0, 1)
    assert gen.default_decoding.source == LIBRARY_SOURCE and not gen.default_decoding.given
    # nothing of the model's is replaced, so a preset has nothing to say
    assert get_preset("news").decoding_for(gen.default_decoding)[1] == ()


@pytest.mark.parametrize("key,value,rule", [
    ("do_sample", "yes", "true or false"),
    ("temperature", -0.5, "a number of at least 0 (0 is greedy)"),
    ("top_p", 1.5, "a number above 0 and at most 1 (1 turns it off)"),
    ("top_k", 2.5, "a whole number of at least 0 (0 turns it off)"),
])
def test_sampling_settings_out_of_range_name_the_file(folder, key, value, rule):
    path = config(folder, **{key: value}) / "generation_config.json"
    with pytest.raises(GenerationError) as info:
        Generator.load(folder)
    assert str(info.value).startswith(f"{path}: {key} is {value!r}; it must be {rule}")


def test_cli_uses_the_models_defaults_and_says_when_they_make_it_greedy(folder, capsys):
    config(folder)
    assert generation_main(["generate", "--model", str(folder), "--prompt", "the", "--raw",
                            "--max-new-tokens", "20"]) == 0
    out, err = capsys.readouterr()
    assert out == GENERATED + "\n"
    assert f"note: {GREEDY_NOTE}" in err.splitlines()
    # sampling asked for by the model: no note, and the seed reproduces the text
    config(folder, **SAMPLING)
    runs = []
    for _ in range(2):
        assert generation_main(["generate", "--model", str(folder), "--prompt", "the", "--raw",
                                "--max-new-tokens", "20", "--seed", "3"]) == 0
        runs.append(capsys.readouterr())
    assert runs[0].out == runs[1].out and runs[0].err == ""


def test_cli_preset_notes_what_it_replaces(folder, capsys):
    config(folder, do_sample=True, temperature=0.6)
    # room for the preset's system prompt: the bigram graph reads no positions
    model = json.loads((folder / "config.json").read_text())
    write_json(folder / "config.json", {**model, "n_positions": 1024})
    args = ["generate", "--model", str(folder), "--prompt", "the", "--raw", "--preset", "news",
            "--max-new-tokens", "8", "--seed", "1"]
    assert generation_main(args) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [f"note: preset 'news' sets temperature 0.7 ({MODEL_SOURCE} "
                                "says 0.6)"]
    assert generation_main(args + ["--temperature", "0"]) == 0  # the user's flag wins: no note
    out, err = capsys.readouterr()
    assert err == "" and out == GENERATED[:len(out) - 1] + "\n"


def test_generate_page_starts_from_the_preset_over_the_model_and_says_so(folder):
    from streamlit.testing.v1 import AppTest

    from ui.settings import AppSettings

    config(folder, do_sample=True, temperature=0.6, top_k=20)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["settings"] = AppSettings(generator_dir=str(folder))
    at.run()
    at.switch_page("ui/pages/generate.py").run()
    assert not at.exception
    assert at.slider(key="gen.news.temperature").value == 0.7
    assert at.number_input(key="gen.news.top_k").value == 50
    captions = [c.value for c in at.main.caption]
    assert f"preset 'news' sets temperature 0.7 ({MODEL_SOURCE} says 0.6)" in captions
    assert f"preset 'news' sets top_k 50 ({MODEL_SOURCE} says 20)" in captions


def test_the_built_in_models_file_means_greedy_decoding(folder):
    """The generation_config.json ``python -m export gguf`` writes for SmolLM2-135M-Instruct
    (read from the prepared folder), as the official checkpoint's: token ids only."""
    write_json(folder / "generation_config.json", {
        "_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
        "transformers_version": "4.57.6"})
    gen = Generator.load(folder)
    assert gen.defaults == Decoding(max_new_tokens=128, temperature=0.0, top_k=50, top_p=1.0)
    assert (gen.eos, gen.pad) == ((2,), 2)
