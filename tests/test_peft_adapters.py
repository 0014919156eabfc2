"""PEFT interoperability of LoRA adapters (``export/adapter.py``): adapters made by ``peft``
itself on tiny models built here merge to the weights of peft's own ``merge_and_unload``
(plain, rsLoRA, rank/alpha patterns, GPT-2's transposed Conv1D), export and prepare like
the built-in models; adapters our training writes load in peft with the same logits as
our merged model; our older layout (the adapters in ``assets/``) still reads; what cannot
be merged is refused with the file named."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from export.adapter import (AdapterConfig, merge_adapter, onnx_residuals, read_adapter,
                            write_adapter)
from export.errors import ExportError
from generation import Generator
from runtime.builtin import ROOT, BuiltinModel
from tests.tiny_models import make_tiny_causal, make_tiny_gguf, sharpen

peft = pytest.importorskip("peft")

LLAMA_TARGETS = ["q_proj", "v_proj", "down_proj"]


def peft_adapter(base: Path, folder: Path, *, seed: int = 0, **lora) -> torch.nn.Module:
    """Save a peft LoRA adapter over the checkpoint ``base`` into ``folder``, with random
    A and B (``init_lora_weights=False``: a fresh adapter has B = 0 and changes nothing);
    returns peft's own merge of it into the base."""
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    config = peft.LoraConfig(**{"r": 4, "lora_alpha": 8, "init_lora_weights": False, **lora})
    wrapped = peft.get_peft_model(model, config)
    wrapped.save_pretrained(folder)
    return wrapped.merge_and_unload().eval()


def assert_same_weights(ours: torch.nn.Module, theirs: torch.nn.Module, base: Path) -> set:
    """Every parameter of ``ours`` close to ``theirs``; returns those the merge changed."""
    original = dict(AutoModelForCausalLM.from_pretrained(base).named_parameters())
    theirs_params = dict(theirs.named_parameters())
    changed = set()
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p, theirs_params[name], rtol=0, atol=1e-6, msg=name)
        if not torch.equal(p, original[name]):
            changed.add(name)
    return changed


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    # weights of std 0.3: with the default 0.02 a small update hardly moves the logits
    return sharpen(make_tiny_causal("llama", tmp_path_factory.mktemp("peft") / "llama"),
                   AutoModelForCausalLM)


@pytest.mark.parametrize("lora", [
    {"target_modules": LLAMA_TARGETS},
    {"target_modules": LLAMA_TARGETS, "use_rslora": True},  # scale alpha / sqrt(r)
    {"target_modules": LLAMA_TARGETS, "rank_pattern": {"v_proj": 2},
     "alpha_pattern": {"layers.1.mlp.down_proj": 3}},  # per-module r and alpha
], ids=["plain", "rslora", "patterns"])
def test_a_peft_adapter_merges_to_peft_own_merge(llama, tmp_path, lora):
    expected = peft_adapter(llama, tmp_path / "adapter", **lora)
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(llama).eval()
    merged = merge_adapter(model, tmp_path / "adapter")
    assert merged == [f"model.layers.{i}.{m}" for i in (0, 1)
                      for m in ("mlp.down_proj", "self_attn.q_proj", "self_attn.v_proj")]
    changed = assert_same_weights(model, expected, llama)
    assert changed == {f"{m}.weight" for m in merged}
    config, tensors = read_adapter(tmp_path / "adapter")
    assert config.base == str(llama) and (config.rank, config.alpha) == (4, 8.0)
    if "rank_pattern" in lora:
        assert config.rank_of("model.layers.0.self_attn.v_proj") == 2
        assert tensors["model.layers.0.self_attn.v_proj.lora_A"].shape == (2, 32)  # (r, in)
        assert config.scaling_of("model.layers.0.self_attn.v_proj") == 4.0  # 8 / 2
        assert config.scaling_of("model.layers.1.mlp.down_proj") == 0.75  # 3 / 4
        assert config.scaling_of("model.layers.0.mlp.down_proj") == 2.0  # 8 / 4
    if lora.get("use_rslora"):
        assert config.scaling == 4.0  # 8 / sqrt(4)


def test_a_peft_adapter_on_gpt2_conv1d_merges_transposed(tmp_path):
    base = make_tiny_causal("gpt2", tmp_path / "gpt2")
    # GPT-2's Conv1D stores its weight (in, out): peft needs fan_in_fan_out and merges (B A)^T
    expected = peft_adapter(base, tmp_path / "adapter", target_modules=["c_attn", "c_fc"],
                            fan_in_fan_out=True)
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    merge_adapter(model, tmp_path / "adapter")
    changed = assert_same_weights(model, expected, base)
    assert changed == {f"transformer.h.{i}.{m}.weight" for i in (0, 1)
                       for m in ("attn.c_attn", "mlp.c_fc")}


def test_export_onnx_merges_a_peft_adapter(llama, tmp_path):
    from export import ExportConfig, export_onnx

    expected = peft_adapter(llama, tmp_path / "adapter", target_modules=LLAMA_TARGETS)
    result = export_onnx(llama, out=tmp_path / "onnx", adapter=tmp_path / "adapter",
                         config=ExportConfig(validate=False))
    assert result.manifest.source.endswith(f"+ adapter {(tmp_path / 'adapter').resolve()}")
    gen = Generator.load(result.folder)
    ids, mask = gen.encode(["the the"])
    with torch.no_grad():
        tokens = expected.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                                   do_sample=False, max_new_tokens=8).numpy()
    np.testing.assert_array_equal(gen.generate_ids(["the the"], temperature=0, max_new_tokens=8),
                                  tokens)


def test_a_builtin_model_is_prepared_with_a_peft_adapter(tmp_path):
    """The built-in route (``python -m export gguf --quantize q4 --adapter``) on a tiny
    Q4_1 GGUF: the 4-bit grid stays exact, the PEFT update rides beside it, and the model
    decodes like peft's merge."""
    from export.gguf import convert_gguf, export_gguf
    from export.onnx_export import ExportConfig

    gguf_file = make_tiny_gguf(tmp_path / "tiny.gguf", q4_1=True)
    ckpt = convert_gguf(gguf_file, out=tmp_path / "ckpt")
    adapter = tmp_path / "adapter"
    expected = peft_adapter(ckpt, adapter, target_modules=["q_proj", "down_proj"], seed=1)
    (adapter / "condense_summary.json").write_text("{}")  # a file beside it travels along
    assert BuiltinModel(name="tiny", adapter=str(adapter)).adapter_path() == adapter
    # the residuals are the update in ONNX's (in, out) layout
    base = AutoModelForCausalLM.from_pretrained(ckpt)
    u, v = onnx_residuals(adapter)["model.layers.1.mlp.down_proj"]
    delta = expected.get_submodule("model.layers.1.mlp.down_proj").weight \
        - base.get_submodule("model.layers.1.mlp.down_proj").weight
    np.testing.assert_allclose(u @ v, delta.detach().numpy().T, atol=1e-6)

    config = ExportConfig(task="causal-lm", validate=False, quantize="q4")
    result = export_gguf(gguf_file, out=tmp_path / "q4", config=config, adapter=adapter)
    assert result.quantization.weights_exact
    assert "condense_summary.json" in result.manifest.files
    assert "adapter_model.safetensors" not in result.manifest.files
    gen = Generator.load(result.folder)
    ids, mask = gen.encode(["the the"])
    with torch.no_grad():
        tokens = expected.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                                   do_sample=False, max_new_tokens=10).numpy()
    np.testing.assert_array_equal(gen.generate_ids(["the the"], temperature=0, max_new_tokens=10),
                                  tokens)


def test_our_training_writes_an_adapter_peft_loads(llama, tmp_path):
    from training import train_causal_lm
    from training.config import LoraConfig, TrainConfig
    from tests.tiny_models import CORPUS

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": " ".join(CORPUS[(i + j) % 6] for j in range(4))})
                              + "\n" for i in range(6)))
    cfg = TrainConfig(max_steps=3, batch_size=2, grad_accum=1, eval_every=3, lr=3e-2,
                      warmup_steps=0, max_source_tokens=16, progress=False,
                      lora=LoraConfig(rank=2, alpha=6, targets=("q_proj", "v_proj", "up_proj")))
    result = train_causal_lm(str(llama), corpus, tmp_path / "run", cfg, export=None)
    adapter = result.out / "adapter"
    assert sorted(p.name for p in adapter.iterdir()) == ["adapter_config.json",
                                                         "adapter_model.safetensors"]
    meta = json.loads((adapter / "adapter_config.json").read_text())
    assert (meta["peft_type"], meta["task_type"], meta["r"], meta["lora_alpha"]) == \
        ("LORA", "CAUSAL_LM", 2, 6.0)
    assert all(k.startswith("base_model.model.model.layers.") and k.endswith(".weight")
               for k in load_file(adapter / "adapter_model.safetensors"))

    base = AutoModelForCausalLM.from_pretrained(llama).eval()
    loaded = peft.PeftModel.from_pretrained(base, adapter).eval()
    assert loaded.peft_config["default"].r == 2
    assert sorted(loaded.peft_config["default"].target_modules) == sorted(result.lora_modules)
    ours = AutoModelForCausalLM.from_pretrained(result.model_dir).eval()
    ids = torch.tensor([[1, 5, 9, 13, 7, 4, 11]])
    with torch.no_grad():
        theirs_logits, our_logits = loaded(input_ids=ids).logits, ours(input_ids=ids).logits
        base_logits = AutoModelForCausalLM.from_pretrained(llama)(input_ids=ids).logits
    assert (base_logits - our_logits).abs().max() > 1e-2  # training moved the model
    torch.testing.assert_close(theirs_logits, our_logits, rtol=1e-5, atol=1e-5)
    # and peft's merge equals the model training saved
    changed = assert_same_weights(ours, loaded.merge_and_unload(), llama)
    assert changed == {f"{m}.weight" for m in result.lora_modules}


def write_legacy(folder: Path, tensors: dict, *, rank: int, alpha: float, version: int = 1):
    """An adapter in our older layout (condense-lora version 1), as assets/ holds them."""
    folder.mkdir(parents=True)
    save_file(tensors, str(folder / "adapter.safetensors"))
    modules = sorted({k.rsplit(".", 1)[0] for k in tensors})
    (folder / "adapter_config.json").write_text(json.dumps({
        "format": "condense-lora", "format_version": version, "rank": rank, "alpha": alpha,
        "modules": modules, "base": "tiny", "notes": {"steps": 1}}))
    return folder


def test_an_adapter_in_our_older_layout_still_merges(llama, tmp_path):
    g = torch.Generator().manual_seed(2)
    name = "model.layers.1.self_attn.q_proj"  # (32, 32)
    a, b = torch.randn(2, 32, generator=g), torch.randn(32, 2, generator=g)
    old = write_legacy(tmp_path / "old", {f"{name}.lora_A": a, f"{name}.lora_B": b},
                       rank=2, alpha=5.0)
    config, _ = read_adapter(old)
    assert config == AdapterConfig(rank=2, alpha=5.0, modules=(name,), base="tiny",
                                   notes={"steps": 1})
    model = AutoModelForCausalLM.from_pretrained(llama).eval()
    before = model.get_submodule(name).weight.detach().clone()
    assert merge_adapter(model, old) == [name]
    torch.testing.assert_close(model.get_submodule(name).weight, before + 2.5 * b @ a,
                               rtol=0, atol=1e-6)  # W + (alpha / r) B A
    # rewritten in PEFT's layout it reads back the same, and peft merges it the same
    new = write_adapter(tmp_path / "new", read_adapter(old)[1], config)
    new_config, new_tensors = read_adapter(new)
    assert new_config == config
    assert torch.equal(torch.from_numpy(new_tensors[f"{name}.lora_A"]), a)  # numpy: no torch
    theirs = peft.PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(llama), new)
    torch.testing.assert_close(theirs.merge_and_unload().get_submodule(name).weight,
                               model.get_submodule(name).weight, rtol=0, atol=1e-6)
    bad = write_legacy(tmp_path / "v9", {f"{name}.lora_A": a, f"{name}.lora_B": b},
                       rank=2, alpha=5.0, version=9)
    with pytest.raises(ExportError, match="v9/adapter_config.json: unreadable adapter config"):
        read_adapter(bad)


@pytest.mark.parametrize("asset, weights", [("summary-smollm2-lora", "adapter_model.safetensors"),
                                            ("news-smollm2-lora", "adapter.safetensors")])
def test_the_shipped_adapters_read_in_either_layout(asset, weights):
    """The summary adapter is in PEFT's layout (the multi-domain run), the news adapter in
    our older one; both read the same way."""
    folder = ROOT / "assets" / asset
    assert [p.name for p in folder.glob("*.safetensors")] == [weights]
    assert BuiltinModel(adapter=f"assets/{asset}").adapter_path() == folder
    config, tensors = read_adapter(folder)
    assert (config.rank, config.alpha, config.scaling, len(config.modules)) == (16, 32.0, 2.0, 210)
    assert config.base == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert tensors["model.layers.29.mlp.down_proj.lora_A"].shape == (16, 1536)


@pytest.fixture(scope="module")
def good(llama, tmp_path_factory):
    folder = tmp_path_factory.mktemp("good") / "adapter"
    peft_adapter(llama, folder, target_modules=["q_proj"])
    return folder


def _variant(good: Path, tmp_path: Path, **changes) -> Path:
    folder = tmp_path / "variant"
    folder.mkdir()
    (folder / "adapter_model.safetensors").write_bytes(
        (good / "adapter_model.safetensors").read_bytes())
    meta = json.loads((good / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**meta, **changes}))
    return folder


@pytest.mark.parametrize("changes, message", [
    ({"peft_type": "IA3"}, "peft_type 'IA3': only LoRA"),
    ({"use_dora": True}, r"a DoRA adapter \(use_dora\)"),
    ({"use_qalora": True}, "a LoRA variant \\(use_qalora"),
    ({"modules_to_save": ["lm_head"]}, "modules_to_save = \\['lm_head'\\].*Train without"),
    ({"bias": "all"}, "bias = 'all': the adapter carries trained biases"),
    ({"init_lora_weights": "pissa"}, "init_lora_weights = 'pissa' rewrote the base weights"
                                     ".*path_initial_model"),
    ({"alora_invocation_tokens": [5, 6]}, "alora_invocation_tokens = \\[5, 6\\]"),
])
def test_unsupported_peft_configs_are_refused_naming_the_file(good, tmp_path, changes, message):
    folder = _variant(good, tmp_path, **changes)
    with pytest.raises(ExportError, match=f"{folder}/adapter_config.json: {message}") as e:
        read_adapter(folder)
    assert "merge_and_unload" in str(e.value)  # the way out


def test_a_dora_adapter_made_by_peft_is_refused(llama, tmp_path):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(llama)
    peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules=["q_proj"], use_dora=True)
                        ).save_pretrained(tmp_path / "dora")
    with pytest.raises(ExportError, match="DoRA"):
        merge_adapter(AutoModelForCausalLM.from_pretrained(llama), tmp_path / "dora")


def test_full_weights_and_pickles_are_refused(good, tmp_path):
    folder = _variant(good, tmp_path)
    tensors = load_file(folder / "adapter_model.safetensors")
    save_file({**tensors, "base_model.model.lm_head.weight": torch.zeros(4, 32)},
              str(folder / "adapter_model.safetensors"))
    with pytest.raises(ExportError, match="lm_head.weight is not the A or B matrix"):
        read_adapter(folder)
    (folder / "adapter_model.safetensors").unlink()
    (folder / "adapter_model.bin").write_bytes(b"not read")
    with pytest.raises(ExportError, match="adapter_model.bin: adapter weights in pickle format "
                                          "are not loaded.*safetensors"):
        read_adapter(folder)
    (folder / "adapter_model.bin").unlink()
    with pytest.raises(ExportError, match="needs adapter_model.safetensors"):
        read_adapter(folder)


def test_an_adapter_trained_on_the_bare_model_merges_into_the_lm(llama, tmp_path):
    # peft on LlamaModel names layers "layers.0..."; LlamaForCausalLM has them under "model."
    from transformers import AutoModel

    torch.manual_seed(3)
    bare = peft.get_peft_model(AutoModel.from_pretrained(llama),
                               peft.LoraConfig(r=2, target_modules=["v_proj"],
                                               init_lora_weights=False))
    bare.save_pretrained(tmp_path / "bare")
    expected = bare.merge_and_unload()
    model = AutoModelForCausalLM.from_pretrained(llama)
    assert merge_adapter(model, tmp_path / "bare") == ["layers.0.self_attn.v_proj",
                                                       "layers.1.self_attn.v_proj"]
    torch.testing.assert_close(model.model.layers[1].self_attn.v_proj.weight,
                               expected.layers[1].self_attn.v_proj.weight, rtol=0, atol=1e-6)


def test_the_export_command_takes_an_adapter_and_refuses_a_bad_one_first(llama, tmp_path, capsys):
    from export.__main__ import main

    bin_only = tmp_path / "bin-only"
    bin_only.mkdir()
    (bin_only / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 2,
                                                              "lora_alpha": 4}))
    (bin_only / "adapter_model.bin").write_bytes(b"pickle")
    assert main(["onnx", str(llama), "--out", str(tmp_path / "out"), "--adapter",
                 str(bin_only)]) == 2
    assert "adapter_model.bin: adapter weights in pickle format" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
