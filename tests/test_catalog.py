"""The catalogue's reading of one folder (runtime/catalog.py): the name a user knows a model
by, from a built-in model's title, the manifest's source or config.json, never from a
cache folder's name. The listing of folders and the Settings page are in test_app_models.py."""
import json
from pathlib import Path

import pytest

import runtime.builtin as builtin
from runtime.builtin import BuiltinModel
from runtime.catalog import (BUILT_IN, DECODER_ONLY, GENERATOR, all_models, describe,
                             found_models, source_name)


def _folder(path: Path, manifest=None, config=None) -> Path:
    """A model folder (one empty graph: what makes it one) with the files given."""
    path.mkdir(parents=True)
    (path / "model.onnx").write_bytes(b"")
    if manifest is not None:
        (path / "condense_manifest.json").write_text(json.dumps(manifest))
    if config is not None:
        (path / "config.json").write_text(json.dumps(config))
    return path


Q4 = {"source": "/x/Tiny.Q4_1.gguf", "task": "causal-lm", "architecture": "LlamaForCausalLM",
      "quantization": {"method": "weight-only-4bit-block32"}}


def test_a_built_in_folder_is_named_by_its_title_and_precision(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path))
    model = BuiltinModel(name="tiny-news", title="Tiny News")
    _folder(model.folder(), Q4)
    info = describe(model.folder(), builtins={"other": BuiltinModel(name="other"), "tiny": model})
    assert (info.title, info.precision, info.origin, info.model_class) == (
        "Tiny News", "q4", "built-in", "LlamaForCausalLM")
    assert (info.builtin, info.role, info.architecture) == ("tiny", GENERATOR, DECODER_ONLY)
    assert info.label() == "Tiny News · q4 · built-in"
    # the same folder name elsewhere is not the built-in model
    copy = _folder(tmp_path / "elsewhere" / model.folder().name, Q4)
    assert describe(copy, builtins={"tiny": model}).label() == (
        "Tiny · LlamaForCausalLM · q4 · your folder")


def test_a_built_in_model_at_another_precision_is_built_in_too(tmp_path, monkeypatch):
    """A models folder holding the cache: the default generator's int8 folder is named as
    the built-in model, listed after the built-in models' own listing, not in its place."""
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path))
    model = builtin.BUILTIN_MODELS["default"]
    folder = _folder(model.folder("int8"), {**Q4, "quantization": {"method": "dynamic-int8"}})
    (info,) = found_models(tmp_path)
    assert (info.folder, info.builtin, info.label()) == (folder, "default",
                                                         f"{model.title} · int8 · built-in")
    listed = all_models(tmp_path)
    assert [m.builtin for m in listed] == [*builtin.BUILTIN_MODELS, "default"]
    assert not listed[0].ready and listed[-1].ready


@pytest.mark.parametrize("manifest, config, label", [
    ({"source": "facebook/bart-large-cnn", "architecture": "BartForConditionalGeneration",
      "quantization": {"method": "dynamic-int8"}}, None,
     "facebook/bart-large-cnn · BartForConditionalGeneration · int8 · your folder"),
    ({"source": "/srv/ckpt/gpt2-news", "architecture": "GPT2LMHeadModel", "quantization": None},
     None, "gpt2-news · GPT2LMHeadModel · fp32 · your folder"),
    (None, {"_name_or_path": "HuggingFaceTB/SmolLM2-360M", "architectures": ["LlamaForCausalLM"]},
     "HuggingFaceTB/SmolLM2-360M · LlamaForCausalLM · your folder"),  # precision unknown
    (None, None, "my-model · your folder"),  # nothing to read: the folder's own name
])
def test_an_own_folder_is_named_from_its_manifest_or_config(tmp_path, manifest, config, label):
    folder = _folder(tmp_path / "my-model", manifest, config)
    info = describe(folder)
    assert info.label() == label
    assert info.builtin is None and info.origin != BUILT_IN


def test_source_names():
    assert source_name("/a/b/SmolLM2-135M-Instruct.Q4_1.gguf + adapter /w/assets/news-lora"
                       ) == "SmolLM2-135M-Instruct + adapter news-lora"
    assert source_name("./checkpoints/run-3") == "run-3"
    assert source_name("gpt2") == "gpt2"
    assert source_name("C:\\models\\tiny.F16.gguf") == "tiny"


def test_a_damaged_manifest_gives_less_detail_not_an_error(tmp_path):
    folder = _folder(tmp_path / "broken", config={"architectures": "not a list"})
    (folder / "condense_manifest.json").write_text("{not json")
    info = describe(folder)
    assert info.label() == "broken · your folder"
    assert (info.precision, info.model_class) == ("unknown", "")
