"""Weight-only 4-bit MatMuls (``export/q4.py``): hand-computed blocks, graphs that equal
their fp32 originals when the weights are Q4_1 grids (with and without a merged LoRA
update), and the GGUF export route end to end on a tiny Q4_1 Llama written by the test."""
from __future__ import annotations

import gguf
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from transformers import AutoModelForCausalLM

from export.adapter import AdapterConfig, onnx_residuals, write_adapter
from export.q4 import Q4Config, quantize_blocks, quantize_blocks8, quantize_q4
from export.quantize import quantized_op_counts
from generation import Generator
from tests.tiny_models import make_tiny_gguf, randomize_lora_b
from training.config import LoraConfig
from training.lora import adapter_tensors, apply_lora, merge_lora


def q4_1_grid(rng, k: int, n: int) -> np.ndarray:
    """A MatMul weight (k x n) whose blocks along k are llama.cpp Q4_1 grids."""
    rows = rng.normal(size=(n, k)).astype(np.float32)  # GGUF rows: one per output
    q = gguf.quants.quantize(rows, gguf.GGMLQuantizationType.Q4_1)
    return np.ascontiguousarray(gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q4_1).T)


def test_blocks_by_hand():
    # one block of 4 in one output column: min 0.5, max 2.0, scale (2.0 - 0.5) / 15 = 0.1
    w = np.array([[0.5], [1.0], [2.0], [2.0]], np.float32)
    packed, scale, offsets, error = quantize_blocks(w, 4)
    np.testing.assert_allclose(scale, [[0.1]], rtol=1e-6)
    assert packed.tolist() == [[[0 | 5 << 4, 15 | 15 << 4]]]  # codes 0, 5, 15, 15; low nibble first
    np.testing.assert_allclose(offsets, [[0.5 + 8 * 0.1]], rtol=1e-6)  # codes are read as q - 8
    assert error < 1e-6
    # 0.31 lies between codes 3 (0.30) and 4 (0.40): a tenth of a step off the grid
    _, _, _, error = quantize_blocks(np.array([[0.0], [0.31], [1.5], [1.5]], np.float32), 4)
    assert error == pytest.approx(0.1, abs=1e-6)


def q8_0_grid(rng, k: int, n: int) -> np.ndarray:
    """A MatMul weight (k x n) whose blocks along k are llama.cpp Q8_0 grids."""
    rows = rng.normal(size=(n, k)).astype(np.float32)
    q = gguf.quants.quantize(rows, gguf.GGMLQuantizationType.Q8_0)
    return np.ascontiguousarray(gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0).T)


def test_8bit_blocks_by_hand():
    # max |w| 1.27: scale 0.01, codes w / 0.01 + 128
    w = np.array([[0.5], [-1.27], [0.0], [1.0]], np.float32)
    codes, scale, error = quantize_blocks8(w, 4)
    np.testing.assert_allclose(scale, [[0.01]], rtol=1e-6)
    assert codes.tolist() == [[[178, 1, 128, 228]]]
    assert error < 1e-5
    _, _, error = quantize_blocks8(np.array([[1.27], [0.005]], np.float32), 2)
    assert error == pytest.approx(0.5, abs=1e-4)  # 0.005 lies half way between codes 0 and 1


@pytest.mark.parametrize("level", [0, 4])
def test_a_q8_0_output_layer_is_kept_exactly(level):
    rng = np.random.default_rng(3)
    w1, w2 = q4_1_grid(rng, 64, 32), q8_0_grid(rng, 32, 40)
    x = rng.normal(size=(2, 3, 64)).astype(np.float32)
    model = _graph(w1, w2)
    q, report = quantize_q4(model, Q4Config(output="q8", output_accuracy_level=level))
    assert (report.matmuls, report.skipped, report.weights_exact) == (2, (), True)
    nbits = [n for n in q.graph.node if n.op_type == "MatMulNBits"]
    assert [helper.get_attribute_value(a) for n in nbits for a in n.attribute if a.name == "bits"] == [4, 8]
    onnx.checker.check_model(q)
    reference = x @ w1 @ w2
    if level == 0:  # fp32 compute: fp32's numbers
        np.testing.assert_allclose(_run(q, x), reference, rtol=1e-4, atol=1e-4)
    else:  # the output layer's input rounded to int8 per block of 32: close, not equal
        error = np.abs(_run(q, x) - reference).max()
        assert 1e-6 < error < 0.02 * np.abs(reference).max()
    with pytest.raises(ValueError, match="output layer"):
        quantize_q4(model, Q4Config(output="q8"),
                    residuals={"lm_head": (np.ones((32, 1), np.float32), np.ones((1, 40), np.float32))})
    with pytest.raises(ValueError, match="output must be"):
        Q4Config(output="int8")


def _graph(w1: np.ndarray, w2: np.ndarray) -> bytes:
    """x -> MatMul(w1) -> h -> MatMul(w2) -> logits (the second writes the graph output)."""
    k, n = w1.shape
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="/layer/MatMul"),
             helper.make_node("MatMul", ["h", "w2"], ["logits"], name="/lm_head/MatMul")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, k])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 3, w2.shape[1]])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("accuracy_level", [0, 4])
def test_q4_1_weights_are_kept_exactly(accuracy_level):
    rng = np.random.default_rng(0)
    w1, w2 = q4_1_grid(rng, 64, 32), rng.normal(size=(32, 8)).astype(np.float32)
    x = rng.normal(size=(2, 3, 64)).astype(np.float32)
    model = _graph(w1, w2)
    q4, report = quantize_q4(model, Q4Config(accuracy_level=accuracy_level))
    assert (report.matmuls, report.residuals, report.weights_exact) == (1, 0, True)
    assert report.skipped == ("/lm_head/MatMul: writes a graph output (kept fp32)",)
    assert [n.op_type for n in q4.graph.node].count("MatMulNBits") == 1
    reference = x @ w1 @ w2
    np.testing.assert_allclose(_run(model, x), reference, rtol=1e-5, atol=1e-5)
    if accuracy_level == 0:  # fp32 compute: the same numbers up to float rounding
        np.testing.assert_allclose(_run(q4, x), reference, rtol=1e-4, atol=1e-4)
    else:  # activations quantized to int8 per block: close, not equal
        assert np.abs(_run(q4, x) - reference).max() < 0.05 * np.abs(reference).max()


def test_other_weights_are_rounded_and_reported():
    rng = np.random.default_rng(1)
    w1, w2 = rng.normal(size=(64, 16)).astype(np.float32), np.eye(16, dtype=np.float32)
    x = rng.normal(size=(2, 3, 64)).astype(np.float32)
    q4, report = quantize_q4(_graph(w1, w2), Q4Config(output="q4"))
    assert report.matmuls == 1 and not report.weights_exact
    assert report.skipped == ("/lm_head/MatMul: input size 16 is not a multiple of 32",)
    assert 0.3 < report.max_weight_error <= 0.5  # round to nearest: at most half a step
    # every weight moved by at most half its block's step, so by hand:
    # |h - x @ w1|[n] <= sum over blocks b of 0.5 * scale[n, b] * sum_{k in b} |x_k|
    _, scale, _, _ = quantize_blocks(w1, 32)  # (16 outputs, 2 blocks)
    bound = 0.5 * np.abs(x).reshape(2, 3, 2, 32).sum(-1) @ scale.T
    h = _run(q4, x)
    assert np.all(np.abs(h - x @ w1) <= bound + 1e-4) and not np.allclose(h, x @ w1, atol=1e-3)


def test_a_low_rank_update_is_kept_beside_the_grid():
    rng = np.random.default_rng(2)
    grid, w2 = q4_1_grid(rng, 64, 16), rng.normal(size=(16, 8)).astype(np.float32)
    u, v = rng.normal(size=(64, 2)).astype(np.float32), rng.normal(size=(2, 16)).astype(np.float32)
    merged = grid + u @ v
    x = rng.normal(size=(2, 3, 64)).astype(np.float32)
    q4, report = quantize_q4(_graph(merged, w2), residuals={"layer": (u, v)})
    assert (report.matmuls, report.residuals, report.weights_exact) == (1, 1, True)
    onnx.checker.check_model(q4)  # nodes in topological order, contrib op declared
    np.testing.assert_allclose(_run(q4, x), x @ merged @ w2, rtol=1e-4, atol=1e-4)
    _, plain = quantize_q4(_graph(merged, w2))  # without the update the grid is lost
    assert not plain.weights_exact
    with pytest.raises(ValueError, match="no MatMul named"):
        quantize_q4(_graph(merged, w2), residuals={"other": (u, v)})


def _shared_input_graph(weights, opset: int) -> onnx.ModelProto:
    """x -> MatMul(w_i) -> y_i for each weight, every product a graph output but the
    first's, which goes through a Relu (so no MatMul writes a graph output directly)."""
    k = weights[0].shape[0]
    nodes = [helper.make_node("MatMul", ["x", f"w{i}"], [f"y{i}"], name=f"/layer/p{i}/MatMul")
             for i in range(len(weights))]
    nodes.append(helper.make_node("Relu", ["y0"], ["r0"]))
    outs = ["r0"] + [f"y{i}" for i in range(1, len(weights))]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, k])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [2, 3, None]) for o in outs],
        [numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(weights)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("opset", [11, 17])  # Split's sizes: an attribute before 13, an input since
def test_matmuls_of_one_input_are_fused_and_stay_exact(opset):
    rng = np.random.default_rng(3)
    # q, k, v of a layer: one input, outputs 32, 16 and 16 wide; the middle one has a
    # merged low-rank update, kept beside its part of the fused grid
    ws = [q4_1_grid(rng, 64, 32), q4_1_grid(rng, 64, 16), q4_1_grid(rng, 64, 16)]
    u, v = rng.normal(size=(64, 2)).astype(np.float32), rng.normal(size=(2, 16)).astype(np.float32)
    ws[1] = ws[1] + u @ v
    x = rng.normal(size=(2, 3, 64)).astype(np.float32)
    model = _shared_input_graph(ws, opset)
    config = Q4Config(output="q4")
    q4, report = quantize_q4(model, config, residuals={"layer.p1": (u, v)})
    assert (report.matmuls, report.residuals, report.weights_exact) == (3, 1, True)
    ops = [n.op_type for n in q4.graph.node]
    # one MatMulNBits and one side product for the three, one block sum, one update (2 MatMuls)
    assert ops.count("MatMulNBits") == 1 and ops.count("Split") == 1 and ops.count("MatMul") == 4
    onnx.checker.check_model(q4)
    expected = [np.maximum(x @ ws[0], 0), x @ ws[1], x @ ws[2]]
    session = ort.InferenceSession(q4.SerializeToString(), providers=["CPUExecutionProvider"])
    for got, want in zip(session.run(None, {"x": x}), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    unfused, _ = quantize_q4(model, Q4Config(output="q4", fuse=False), residuals={"layer.p1": (u, v)})
    assert [n.op_type for n in unfused.graph.node].count("MatMulNBits") == 3
    for node in model.graph.node:  # nodes need not have names: each is still converted once
        node.name = ""
    for fuse, count in ((True, 1), (False, 3)):
        q4, report = quantize_q4(model, Q4Config(output="q4", fuse=fuse))
        assert report.matmuls == 3 and [n.op_type for n in q4.graph.node].count("MatMulNBits") == count
        got = ort.InferenceSession(q4.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"x": x})
        np.testing.assert_allclose(got[2], x @ ws[2], rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def tiny_q4(tmp_path_factory):
    """A tiny Q4_1 GGUF Llama, and a rank-2 adapter over it with random B."""
    from export.gguf import convert_gguf

    root = tmp_path_factory.mktemp("q4")
    gguf_file = make_tiny_gguf(root / "tiny.gguf", q4_1=True)
    model = AutoModelForCausalLM.from_pretrained(convert_gguf(gguf_file, out=root / "ckpt")).eval()
    names = apply_lora(model, LoraConfig(rank=2, alpha=4, targets=("q_proj", "down_proj")))
    randomize_lora_b(model, names, seed=5)
    adapter = write_adapter(root / "adapter", adapter_tensors(model), AdapterConfig(
        rank=2, alpha=4.0, modules=tuple(names), base=gguf_file.name))
    merge_lora(model)
    return {"gguf": gguf_file, "adapter": adapter, "merged": model, "root": root}


def test_gguf_export_in_q4_decodes_like_fp32(tiny_q4):
    from export.gguf import export_gguf
    from export.onnx_export import ExportConfig

    config = ExportConfig(task="causal-lm", validate=False, quantize="q4")
    result = export_gguf(tiny_q4["gguf"], out=tiny_q4["root"] / "q4", config=config)
    fp32 = export_gguf(tiny_q4["gguf"], out=tiny_q4["root"] / "fp32").folder
    report = result.quantization
    assert report.method == "weight-only-4bit-block32" and report.weights_exact
    assert report.max_abs_logit_diff < 1e-4 * max(1.0, report.max_abs_logit)
    # 2 layers x 4: q, k and v in one (they read one input), o, gate and up in one, down
    assert quantized_op_counts(result.folder / "model.onnx") == {"MatMulNBits": 8}
    assert result.manifest.quantization["weights_exact"] is True
    prompts = ["the the", "he the t"]
    ours = Generator.load(result.folder).generate_ids(prompts, temperature=0, max_new_tokens=10)
    np.testing.assert_array_equal(
        ours, Generator.load(fp32).generate_ids(prompts, temperature=0, max_new_tokens=10))


def test_gguf_export_in_q4_keeps_a_merged_adapter_exact(tiny_q4):
    from export.gguf import export_gguf
    from export.onnx_export import ExportConfig

    config = ExportConfig(task="causal-lm", validate=False, quantize="q4")
    result = export_gguf(tiny_q4["gguf"], out=tiny_q4["root"] / "q4-adapter", config=config,
                         adapter=tiny_q4["adapter"])
    assert result.quantization.weights_exact
    assert len(onnx_residuals(tiny_q4["adapter"])) == 4  # 2 layers x (q_proj, down_proj)
    gen = Generator.load(result.folder)
    ids, mask = gen.encode(["the the"])
    with torch.no_grad():
        expected = tiny_q4["merged"].generate(input_ids=torch.tensor(ids),
                                              attention_mask=torch.tensor(mask),
                                              do_sample=False, max_new_tokens=10).numpy()
    np.testing.assert_array_equal(gen.generate_ids(["the the"], temperature=0, max_new_tokens=10),
                                  expected)
