"""LoRA adapter folders (``export/adapter.py``): what training writes, the GGUF export merges.

The shipped news model is SmolLM2 plus such an adapter, merged at first use; here the
same route runs on a tiny GGUF Llama written by the test, and the merged model must equal
training's own merge (``LoRALinear.merged``) and decode like it through ONNX Runtime.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from export.adapter import AdapterConfig, merge_adapter, read_adapter, write_adapter
from export.errors import ExportError
from generation import Generator
from runtime.builtin import BuiltinModel, ensure_model
from generation.presets import get_preset
from summarizer.errors import CondenseError
from tests.files import fake_export
from tests.tiny_models import make_tiny_gguf, randomize_lora_b
from training.config import LoraConfig
from training.errors import ConfigError
from training.lora import adapter_tensors, apply_lora, load_lora, merge_lora

TARGETS = ("q_proj", "v_proj", "down_proj")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny GGUF, its converted checkpoint, and a rank-2 adapter with random B (a fresh
    adapter has B = 0 and would change nothing)."""
    from export.gguf import convert_gguf

    root = tmp_path_factory.mktemp("adapter")
    gguf_file = make_tiny_gguf(root / "tiny.gguf")
    ckpt = convert_gguf(gguf_file, out=root / "ckpt")
    model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
    names = apply_lora(model, LoraConfig(rank=2, alpha=6, targets=TARGETS))
    randomize_lora_b(model, names, seed=3)
    folder = write_adapter(root / "adapter", adapter_tensors(model), AdapterConfig(
        rank=2, alpha=6.0, modules=tuple(names), base=gguf_file.name, notes={"steps": 0}))
    merge_lora(model)
    return {"gguf": gguf_file, "ckpt": ckpt, "adapter": folder, "merged": model, "names": names,
            "root": root}


def test_adapter_folder_round_trips(tiny):
    cfg, tensors = read_adapter(tiny["adapter"])
    assert cfg == AdapterConfig(rank=2, alpha=6.0, modules=tuple(tiny["names"]),
                                base="tiny.gguf", notes={"steps": 0})
    assert cfg.scaling == 3.0
    assert len(tiny["names"]) == 6  # 2 layers x (q_proj, v_proj, down_proj)
    assert tensors["model.layers.0.mlp.down_proj.lora_A"].shape == (2, 64)  # (r, in)
    assert tensors["model.layers.0.mlp.down_proj.lora_B"].shape == (32, 2)  # (out, r)


def test_merging_the_adapter_equals_trainings_merge(tiny):
    base = AutoModelForCausalLM.from_pretrained(tiny["ckpt"]).eval()
    before = {n: p.clone() for n, p in base.named_parameters()}
    assert merge_adapter(base, tiny["adapter"], base="tiny.gguf") == tiny["names"]
    changed = set()
    for (n, p), q in zip(base.named_parameters(), tiny["merged"].parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=n)
        if not torch.equal(p, before[n]):
            changed.add(n)
    assert changed == {f"{m}.weight" for m in tiny["names"]}
    # by hand for one layer: W' = W + (alpha / r) B A
    _, t = read_adapter(tiny["adapter"])
    name = "model.layers.1.self_attn.v_proj"
    b, a = (torch.from_numpy(t[f"{name}.lora_{k}"]) for k in "BA")  # numpy: read without torch
    expected = before[f"{name}.weight"] + 3.0 * b @ a
    torch.testing.assert_close(base.get_submodule(name).weight, expected, rtol=0, atol=1e-6)


def test_a_run_can_start_its_adapters_from_an_adapter_folder(tiny):
    """``--lora-init``: the same update (alpha / r) B A as the adapter's, at another alpha
    too; other layers or ranks are refused."""
    model = AutoModelForCausalLM.from_pretrained(tiny["ckpt"]).eval()
    names = apply_lora(model, LoraConfig(rank=2, alpha=2, targets=TARGETS))  # scale 1, not 3
    assert load_lora(model, tiny["adapter"]) == names
    _, t = read_adapter(tiny["adapter"])
    name = "model.layers.1.self_attn.v_proj"
    layer = model.get_submodule(name)
    b, a = (torch.from_numpy(t[f"{name}.lora_{k}"]) for k in "BA")
    torch.testing.assert_close(layer.delta_weight(), 3.0 * b @ a, rtol=0, atol=1e-6)
    merge_lora(model)
    for p, q in zip(model.parameters(), tiny["merged"].parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
    other = AutoModelForCausalLM.from_pretrained(tiny["ckpt"]).eval()
    apply_lora(other, LoraConfig(rank=2, alpha=6, targets=("q_proj", "v_proj")))
    with pytest.raises(ConfigError, match="same layers"):
        load_lora(other, tiny["adapter"])
    wider = AutoModelForCausalLM.from_pretrained(tiny["ckpt"]).eval()
    apply_lora(wider, LoraConfig(rank=4, alpha=6, targets=TARGETS))
    with pytest.raises(ConfigError, match="rank 2"):
        load_lora(wider, tiny["adapter"])


def test_gguf_export_with_adapter_decodes_like_the_merged_model(tiny):
    from export.gguf import export_gguf
    from export.manifest import read_manifest

    folder = export_gguf(tiny["gguf"], out=tiny["root"] / "onnx", adapter=tiny["adapter"]).folder
    assert read_manifest(folder).source.endswith(f"+ adapter {tiny['adapter'].resolve()}")
    gen = Generator.load(folder)
    ids, mask = gen.encode(["the the"])
    with torch.no_grad():
        expected = tiny["merged"].generate(input_ids=torch.tensor(ids),
                                           attention_mask=torch.tensor(mask), do_sample=False,
                                           max_new_tokens=8).numpy()
    np.testing.assert_array_equal(gen.generate_ids(["the the"], temperature=0, max_new_tokens=8),
                                  expected)
    plain = Generator.load(export_gguf(tiny["gguf"], out=tiny["root"] / "plain").folder)
    assert not np.array_equal(plain.generate_ids(["the the"], temperature=0, max_new_tokens=8),
                              expected)  # the adapter changed what the model writes


def test_bad_adapters_are_refused_with_the_folder_named(tiny, tmp_path):
    base = AutoModelForCausalLM.from_pretrained(tiny["ckpt"]).eval()
    with pytest.raises(ExportError, match=f"{tmp_path}: not an adapter folder"):
        read_adapter(tmp_path)
    with pytest.raises(ExportError, match="trained on tiny.gguf, not other.gguf"):
        merge_adapter(base, tiny["adapter"], base="other.gguf")
    _, tensors = read_adapter(tiny["adapter"])
    # an adapter for a layer the model lacks, and one whose shape does not fit
    ghost = write_adapter(tmp_path / "ghost", {"model.layers.9.q_proj.lora_A": torch.ones(2, 32),
                                               "model.layers.9.q_proj.lora_B": torch.ones(32, 2)},
                          AdapterConfig(2, 4.0, ("model.layers.9.q_proj",), "tiny.gguf"))
    with pytest.raises(ExportError, match="has no layer model.layers.9.q_proj"):
        merge_adapter(base, ghost)
    name = "model.layers.0.self_attn.k_proj"  # (16, 32): the adapter below is (32, 32)
    wide = write_adapter(tmp_path / "wide", {f"{name}.lora_A": torch.ones(2, 32),
                                             f"{name}.lora_B": torch.ones(32, 2)},
                         AdapterConfig(2, 4.0, (name,), "tiny.gguf"))
    with pytest.raises(ExportError, match=f"layer {name} does not have the adapter's shape"):
        merge_adapter(base, wide)
    with pytest.raises(ExportError, match="missing"):
        write_adapter(tmp_path / "half", {f"{name}.lora_A": torch.ones(2, 32)},
                      AdapterConfig(2, 4.0, (name,), "tiny.gguf"))
    meta = json.loads((wide / "adapter_config.json").read_text())
    (wide / "adapter_config.json").write_text(json.dumps({**meta, "r": "two"}))
    with pytest.raises(ExportError, match="unreadable adapter config"):
        read_adapter(wide)
    (wide / "adapter_config.json").write_text(json.dumps({"rank": 2}))  # neither schema
    with pytest.raises(ExportError, match="neither PEFT's schema"):
        read_adapter(wide)


def test_a_builtin_model_with_an_adapter_is_prepared_with_it(tiny, tmp_path, monkeypatch):
    fake = fake_export(tmp_path / "fake-python")
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ARGS_FILE", str(tmp_path / "args"))
    monkeypatch.setattr(BuiltinModel, "gguf_path", lambda self: tiny["gguf"])
    news = BuiltinModel(name="tiny-news", adapter=str(tiny["adapter"]))  # absolute: ROOT / it
    folder = ensure_model(model=news, python=str(fake), progress=lambda s: None)
    assert folder.parent == tmp_path / "cache"
    assert re.fullmatch(r"tiny-news-[0-9a-f]{10}-q4-[0-9a-f]{6}", folder.name)
    args = (tmp_path / "args").read_text().split()
    assert args[args.index("--adapter") + 1] == str(tiny["adapter"])
    assert args[args.index("--quantize") + 1] == "q4"  # the shipped precision: exact 4-bit
    assert args[args.index("--output-layer") + 1] == "q8"
    with pytest.raises(CondenseError, match="adapter is missing"):
        BuiltinModel(adapter=str(tmp_path / "nowhere")).folder()


def test_the_news_preset_writes_under_a_headline_with_its_own_model():
    news = get_preset("news")
    assert news.model == "news"
    assert news.prompt("Council approves new bridge", own_model=True) == \
        "Council approves new bridge\n\n"
    with pytest.raises(CondenseError, match="takes no keywords"):
        news.prompt("Council approves new bridge", ["cost"], own_model=True)
    # any other model gets the chat prompt, keywords included
    assert "cost" in news.prompt("a bridge", ["cost"], chat=True)[1]["content"]
