"""Models: the catalogue of model folders (built-in and under the models folder), the
sidebar's availability line, the Settings page's pickers, and the preparation of the
built-in models with stub commands in place of the multi-minute conversion."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tests.apptest import open_page

import runtime.builtin as builtin
from runtime.catalog import (DECODER_ONLY, ENCODER_DECODER, GENERATOR, SUMMARIZER, all_models,
                             builtin_models, describe, found_models, human_size)
from ui.settings import AppSettings

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def start(settings: AppSettings = None) -> AppTest:
    return open_page("Settings", settings)


def model_folder(path: Path, *, task: str = None, quantization: str = None,
                 graphs=("model.onnx",), summary_prompt: bool = False) -> Path:
    """A folder with the files the catalogue reads: graphs of 1,000 bytes each, the three
    files a built-in model needs, a manifest when ``task`` is given."""
    path.mkdir(parents=True)
    for name in graphs:
        (path / name).write_bytes(b"x" * 1000)
    (path / "tokenizer.json").write_bytes(b"t" * 200)
    (path / "config.json").write_text("{}")  # 2 bytes
    if task is not None:
        manifest = {"task": task, "quantization": ({"method": quantization} if quantization else None)}
        (path / "condense_manifest.json").write_text(json.dumps(manifest))
    if summary_prompt:
        (path / "condense_summary.json").write_text("{}")
    return path


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty model cache of this test's own: no built-in model is prepared."""
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def prepared(key: str) -> Path:
    """Stand in for a prepared built-in model: the files ``is_ready`` checks, in its folder."""
    return model_folder(builtin.BUILTIN_MODELS[key].folder(), task="causal-lm",
                        quantization="weight-only-4bit-block32", summary_prompt=key == "summary")


# -- the catalogue -------------------------------------------------------------------
def test_describe_reads_role_architecture_precision_and_size(tmp_path):
    bart = model_folder(tmp_path / "bart", task="seq2seq", quantization="dynamic-int8",
                        graphs=("encoder_model.onnx", "decoder_model.onnx"))
    info = describe(bart)
    manifest = len((bart / "condense_manifest.json").read_bytes())
    # two graphs of 1,000 bytes, tokenizer.json 200, config.json 2, the manifest
    assert (info.role, info.architecture, info.precision, info.size_bytes) == (
        SUMMARIZER, ENCODER_DECODER, "int8", 2000 + 200 + 2 + manifest)
    lm = describe(model_folder(tmp_path / "lm", task="causal-lm",
                               quantization="weight-only-4bit-block32", summary_prompt=True))
    assert (lm.role, lm.architecture, lm.precision) == (SUMMARIZER, DECODER_ONLY, "q4")
    gen = describe(model_folder(tmp_path / "gen", task="causal-lm"))
    assert (gen.role, gen.architecture, gen.precision) == (GENERATOR, DECODER_ONLY, "fp32")
    # another exporter's folder: no manifest; Optimum's file names tell the layout
    other = describe(model_folder(tmp_path / "optimum", graphs=("encoder_model.onnx",)))
    assert (other.role, other.architecture, other.precision) == (SUMMARIZER, ENCODER_DECODER, "unknown")
    (tmp_path / "empty").mkdir()
    assert describe(tmp_path / "empty") is None and describe(tmp_path / "missing") is None
    assert gen.describe() == f"generator · decoder-only · fp32 · {human_size(gen.size_bytes)}"


def test_human_size():
    assert [human_size(n) for n in (0, 999, 1000, 12_345, 231_000_000, 1_234_000_000)] == [
        "0 B", "999 B", "1.0 kB", "12 kB", "231 MB", "1.2 GB"]


def test_found_models_two_levels_down_without_hidden_folders(tmp_path):
    root = tmp_path / "models"
    model_folder(root / "a-bart", task="seq2seq", graphs=("encoder_model.onnx",))
    model_folder(root / "family" / "b-gpt", task="causal-lm")
    model_folder(root / "family" / "deep" / "c-too-deep", task="causal-lm")
    model_folder(root / ".d-being-written", task="causal-lm")
    (root / "notes").mkdir()
    assert [m.folder.relative_to(root).as_posix() for m in found_models(root)] == [
        "a-bart", "family/b-gpt"]
    assert found_models(tmp_path / "nothing-here") == []


def test_builtin_models_prepared_or_not(cache):
    models = {m.builtin: m for m in builtin_models()}
    assert set(models) == {"default", "news", "summary"}
    assert not any(m.ready for m in models.values())
    assert models["summary"].role == SUMMARIZER and models["news"].role == GENERATOR
    assert models["default"].describe() == "generator · decoder-only · q4 · not prepared"
    folder = prepared("summary")
    models = {m.builtin: m for m in all_models(folder.parent)}  # listed once, as built-in
    assert models["summary"].ready and models["summary"].size_bytes == size(folder)
    assert len(all_models(folder.parent)) == 3


# -- the sidebar's line ----------------------------------------------------------------
def test_availability_says_what_is_prepared(cache, tmp_path):
    from ui.models import availability

    assert availability(AppSettings()) == (
        "Device cpu · extractive ready · abstractive: not prepared · generator: not prepared")
    prepared("summary")
    assert availability(AppSettings()) == (
        "Device cpu · extractive ready · abstractive: built-in summarizer ready · "
        "generator: not prepared")
    prepared("default")
    assert availability(AppSettings()).endswith("generator: built-in ready")
    gen = model_folder(tmp_path / "my-gpt", task="causal-lm")
    assert availability(AppSettings(abstractive_dir=str(gen), generator_dir=str(gen))) == (
        "Device cpu · extractive ready · abstractive: my-gpt (a generator, not a summarizer) · "
        "generator: my-gpt")
    assert "abstractive: nowhere (not a model folder)" in availability(
        AppSettings(abstractive_dir=str(tmp_path / "nowhere")))


# -- the Models section of Settings ----------------------------------------------------
def test_pickers_offer_the_models_found_and_fill_the_folder(cache, tmp_path):
    root = tmp_path / "models"
    bart = model_folder(root / "bart-int8", task="seq2seq", quantization="dynamic-int8",
                        graphs=("encoder_model.onnx",))
    model_folder(root / "gpt-fp32", task="causal-lm")
    at = start(AppSettings(models_dir=str(root)))
    table = at.dataframe[0].value
    assert list(table["model"]) == [m.title for m in builtin_models()] + ["bart-int8", "gpt-fp32"]
    assert list(table["precision"])[-2:] == ["int8", "fp32"]
    assert list(table["status"]) == ["built-in, not prepared"] * 3 + ["in the models folder"] * 2
    pick = at.selectbox(key="set.abstractive_pick")
    assert pick.options[0] == "Built-in summarizer (not prepared yet)"
    assert pick.options[1].startswith("bart-int8 (summarizer · encoder-decoder · int8 · ")
    assert pick.options[-1] == "Another folder (type its path below)"
    assert [o.split(" (")[0] for o in at.selectbox(key="set.generator_pick").options] == [
        "Built-in generator", "gpt-fp32", "Another folder"]
    pick.set_value(str(bart)).run()
    assert at.text_input(key="set.abstractive").value == str(bart)
    assert at.session_state["settings"].abstractive_dir == str(bart)
    at.switch_page("ui/pages/batch.py").run()  # offered beside the default method
    assert at.selectbox(key="batch.method").options[:2] == ["ranker", "abstractive"]
    at.switch_page("ui/pages/settings.py").run()
    assert at.selectbox(key="set.abstractive_pick").value == str(bart)
    # a typed folder that is not listed shows as "another folder"; typing stays possible
    at.text_input(key="set.abstractive").input(str(tmp_path)).run()
    assert at.selectbox(key="set.abstractive_pick").value == "\x00other"
    assert at.session_state["settings"].abstractive_dir == str(tmp_path)
    assert any("no .onnx graph" in w.value for w in at.warning)
    # placeholders read as hints, not as values
    holders = {t.key: t.placeholder for t in at.text_input}
    assert all(holders[k].startswith("(") and "`" not in holders[k]
               for k in ("set.abstractive", "set.generator", "set.models_dir", "set.root"))


def test_models_dir_from_the_environment(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSE_MODELS_DIR", str(tmp_path))
    assert AppSettings.from_env().models_dir == str(tmp_path)
    at = start()
    assert at.text_input(key="set.models_dir").value == str(tmp_path)


# -- preparing the built-in models -------------------------------------------------------
def stub(*steps) -> "object":
    from ui.prepare import PrepareConfig, PrepareStep

    return PrepareConfig(python=sys.executable, steps=tuple(
        PrepareStep(key, ("-c", code)) for key, code in steps))


OK = "import sys; print('Preparing the model'); print('converting 1/2'); print('converting 2/2')"
FAIL = ("import sys; print('reading the weights'); "
        "print('error: the weights were not found. Install them', file=sys.stderr); sys.exit(2)")


def test_prepare_runs_one_step_per_model_and_shows_errors_plainly(cache, monkeypatch):
    import ui.prepare

    monkeypatch.setattr(ui.prepare, "PREPARE", stub(("default", OK), ("news", FAIL),
                                                    ("summary", OK)))
    at = start()
    assert any("3 of 3 built-in models not prepared" in c.value for c in at.caption)
    at.button(key="set.prepare").click().run()
    assert not at.exception
    titles = [builtin.BUILTIN_MODELS[k].title for k in ("default", "news", "summary")]
    assert [s.value.split(" (")[0] for s in at.success] == [f"{titles[0]}: ready",
                                                           f"{titles[2]}: ready"]
    assert [e.value for e in at.error] == [
        f"{titles[1]} could not be prepared: the weights were not found. Install them"]
    bar = at.get("progress")[0].proto
    assert bar.value == 100 and bar.text.startswith("3 / 3 models · 1 failed · ")
    output = [c.value for c in at.code][-1]
    assert output.splitlines() == ["Preparing the model", "converting 1/2", "converting 2/2",
                                   "reading the weights",
                                   "error: the weights were not found. Install them",
                                   "Preparing the model", "converting 1/2", "converting 2/2"]


def test_prepare_skips_models_that_are_ready(cache, monkeypatch):
    import ui.prepare

    prepared("default")
    prepared("news")
    monkeypatch.setattr(ui.prepare, "PREPARE", stub(
        ("default", FAIL), ("news", FAIL), ("summary", "print('summary done')")))
    at = start()
    assert any("1 of 3 built-in models not prepared" in c.value for c in at.caption)
    at.button(key="set.prepare").click().run()
    assert not at.error  # the failing stubs of the ready models never ran
    assert sum("prepared already" in c.value for c in at.caption) == 2
    assert len(at.success) == 1
    prepared("summary")
    at = start()
    assert at.button(key="set.prepare").disabled
    assert any(c.value == "Every built-in model is prepared." for c in at.caption)


def test_generator_picker_offers_the_news_model_once_and_the_default_as_built_in(cache):
    prepared("default")
    prepared("news")
    at = start()
    options = at.selectbox(key="set.generator_pick").options
    news = builtin.BUILTIN_MODELS["news"]
    assert [o.split(" (")[0] for o in options] == ["Built-in generator", news.title,
                                                   "Another folder"]
    assert options[1].endswith("; built-in)")
    at.selectbox(key="set.generator_pick").set_value(str(news.folder())).run()
    assert at.session_state["settings"].generator_dir == str(news.folder())
