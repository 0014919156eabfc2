"""export/: tiny random checkpoints -> ONNX folders whose logits match PyTorch's.

Every model is built from a config in ``tests/tiny_models.py`` (no downloads). The ONNX
graphs are run here with plain onnxruntime calls (``tests/parity.py``), written apart from
``export/probe.py`` so the check does not reuse the code it checks.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, BertConfig, BertModel

from export import ExportConfig, ExportError, export_onnx, quantized_op_counts, read_manifest
from export.checkpoint import local_folder
from tests.parity import pasts, run
from tests.tiny_models import make_tiny_causal, make_tiny_seq2seq, make_tokenizer, special_ids

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["The council approved the new budget.",
         "Heavy rain flooded the valley near the bridge today."]
ATOL = 1e-4

# Decoder start token per kind (and where the export must have put it).
START = {"bart": special_ids("bart")["eos"], "t5": special_ids("t5")["pad"],
         "encoder-decoder": special_ids("bert")["cls"]}


class Exports:
    """Builds each tiny model and its fp32 export once per module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.done: Dict[str, Path] = {}

    def source(self, kind: str) -> Path:
        path = self.root / "src" / kind
        if not path.exists():
            maker = make_tiny_causal if kind in ("gpt2", "llama") else make_tiny_seq2seq
            maker(kind, path)
        return path

    def fp32(self, kind: str) -> Path:
        if kind not in self.done:
            out = self.root / "onnx" / kind
            export_onnx(self.source(kind), out=out, config=ExportConfig(validate=False))
            self.done[kind] = out
        return self.done[kind]


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Exports:
    return Exports(tmp_path_factory.mktemp("export"))


# ---- plain onnxruntime steps ------------------------------------------------------------

def encode(folder: Path, texts: List[str], pad: int) -> tuple:
    """Token ids (B, T) right-padded with ``pad``, and the mask; via tokenizer.json only."""
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    rows = [tok.encode(t).ids for t in texts]
    width = max(map(len, rows))
    ids = np.array([r + [pad] * (width - len(r)) for r in rows], dtype=np.int64)
    mask = np.array([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=np.int64)
    return ids, mask


def seq2seq_steps(folder: Path, ids: np.ndarray, mask: np.ndarray, start: int, second: int):
    enc = run(folder / "encoder_model.onnx", {"input_ids": ids, "attention_mask": mask})
    first_ids = np.full((ids.shape[0], 1), start, dtype=np.int64)
    dec = run(folder / "decoder_model.onnx", {
        "input_ids": first_ids, "encoder_attention_mask": mask,
        "encoder_hidden_states": enc["last_hidden_state"]})
    steps = [dec["logits"][:, -1]]
    if (folder / "decoder_with_past_model.onnx").exists():
        nxt = np.full((ids.shape[0], 1), second, dtype=np.int64)
        step = run(folder / "decoder_with_past_model.onnx",
                   {"input_ids": nxt, "encoder_attention_mask": mask, **pasts(dec)})
        steps.append(step["logits"][:, -1])
    return steps


def causal_steps(folder: Path, ids: np.ndarray, second: int):
    b, n = ids.shape
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    empty = {i.name: np.zeros((b, i.shape[1], 0, i.shape[3]), np.float32)
             for i in session.get_inputs() if i.name.startswith("past_key_values.")}
    first = run(folder / "model.onnx", {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                        "position_ids": np.tile(np.arange(n), (b, 1)), **empty})
    second_out = run(folder / "model.onnx", {
        "input_ids": np.full((b, 1), second, np.int64),
        "attention_mask": np.ones((b, n + 1), np.int64),
        "position_ids": np.full((b, 1), n, np.int64), **pasts(first)})
    return first["logits"], second_out["logits"][:, -1]   # (B, n, V), (B, V)


# ---- seq2seq ------------------------------------------------------------------------------

SEQ2SEQ_DECODER_IN = ["encoder_attention_mask", "input_ids", "encoder_hidden_states"]


def cache_names(prefix: str, layers: int, parts=("decoder", "encoder")) -> List[str]:
    return [f"{prefix}.{i}.{part}.{kv}"
            for i in range(layers) for part in parts for kv in ("key", "value")]


@pytest.mark.parametrize("kind", ["bart", "t5", "encoder-decoder"])
def test_seq2seq_folder_files_manifest_and_names(exports, kind):
    out = exports.fp32(kind)
    has_past = kind != "encoder-decoder"
    graphs = ["encoder_model.onnx", "decoder_model.onnx"]
    graphs += ["decoder_with_past_model.onnx"] if has_past else []
    expected = sorted(graphs + ["config.json", "generation_config.json", "special_tokens_map.json",
                                "tokenizer.json", "tokenizer_config.json"])
    assert sorted(p.name for p in out.iterdir()) == sorted(expected + ["condense_manifest.json"])
    m = read_manifest(out)
    assert (m.task, m.model_type, m.has_past, m.quantization) == (
        "seq2seq", kind, has_past, None)
    assert list(m.files) == expected and m.source == str(exports.source(kind))
    assert m.versions["onnxruntime"] == ort.__version__ and m.versions["optimum-onnx"] == "0.1.0"
    enc, dec = m.graphs["encoder"], m.graphs["decoder"]
    assert enc.input_names == ("input_ids", "attention_mask")
    assert enc.output_names == ("last_hidden_state",)
    assert list(dec.input_names) == SEQ2SEQ_DECODER_IN
    if has_past:
        assert list(dec.output_names) == ["logits"] + cache_names("present", 2)
        past = m.graphs["decoder_with_past"]
        # No encoder_hidden_states: cross-attention reads the cached encoder keys/values.
        assert list(past.input_names) == ["encoder_attention_mask", "input_ids"] + cache_names(
            "past_key_values", 2)
        assert list(past.output_names) == ["logits"] + cache_names("present", 2, parts=("decoder",))
        assert past.inputs[2].shape == ("batch_size", 4, "past_decoder_sequence_length", 8)
    else:
        assert dec.output_names == ("logits",) and set(m.graphs) == {"encoder", "decoder"}
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["decoder_start_token_id"] == START[kind]


@pytest.mark.parametrize("kind", ["bart", "t5", "encoder-decoder"])
def test_seq2seq_logits_match_torch_first_and_cached_step(exports, kind):
    out = exports.fp32(kind)
    model = AutoModelForSeq2SeqLM.from_pretrained(exports.source(kind)).eval()
    ids, mask = encode(out, TEXTS, pad=model.config.pad_token_id)
    assert mask[0, -1] == 0  # the first text is padded: the masks are exercised
    second = 7
    onnx_steps = seq2seq_steps(out, ids, mask, START[kind], second)
    decoder_ids = torch.tensor([[START[kind], second]] * len(TEXTS))
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                       decoder_input_ids=decoder_ids).logits.numpy()
    np.testing.assert_allclose(onnx_steps[0], logits[:, 0], atol=ATOL, rtol=0)
    assert len(onnx_steps) == (1 if kind == "encoder-decoder" else 2)
    if len(onnx_steps) == 2:
        np.testing.assert_allclose(onnx_steps[1], logits[:, 1], atol=ATOL, rtol=0)
    assert np.abs(logits).max() > 1e-2  # not trivially zero


# ---- causal-lm ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_causal_export_names_and_logits_match_torch(exports, kind):
    out = exports.fp32(kind)
    m = read_manifest(out)
    assert (m.task, m.model_type, m.has_past) == ("causal-lm", kind, True)
    assert list(m.graphs) == ["model"]
    g = m.graphs["model"]
    cache = [f"past_key_values.{i}.{kv}" for i in range(2) for kv in ("key", "value")]
    # Optimum's input order differs between the two families; names are what matter.
    assert sorted(g.input_names) == sorted(["input_ids", "attention_mask", "position_ids"] + cache)
    presents = [c.replace("past_key_values", "present") for c in cache]
    assert list(g.output_names) == ["logits"] + presents
    kv_heads = 2 if kind == "llama" else 4  # tiny Llama uses grouped-query attention
    assert g.inputs[g.input_names.index("past_key_values.0.key")].shape == (
        "batch_size", kv_heads, "past_sequence_length", 8)
    assert (out / "tokenizer.json").is_file() and (out / "model.onnx").is_file()

    model = AutoModelForCausalLM.from_pretrained(exports.source(kind)).eval()
    ids, _ = encode(out, TEXTS[:1], pad=0)
    first, second = causal_steps(out, ids, second=9)
    with torch.no_grad():
        logits = model(torch.tensor(np.concatenate([ids, [[9]]], axis=1))).logits.numpy()
    np.testing.assert_allclose(first, logits[:, :-1], atol=ATOL, rtol=0)
    np.testing.assert_allclose(second, logits[:, -1], atol=ATOL, rtol=0)
    assert np.abs(logits).max() > 1e-2  # not trivially zero


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_simplified_graphs_compute_the_same_with_fewer_nodes(exports, kind, tmp_path):
    simplified = exports.fp32(kind)  # the default export simplifies
    plain = tmp_path / "plain"
    export_onnx(exports.source(kind), out=plain, config=ExportConfig(validate=False, simplify=False))
    report = read_manifest(simplified).simplified
    assert read_manifest(plain).simplified is None
    # BART's decoders are the fused graphs (tests/test_fused.py): nothing to fold.
    fused = {"decoder", "decoder_with_past"} if kind == "bart" else set()
    assert set(report) == set(read_manifest(simplified).graphs) - fused
    for role, spec in read_manifest(simplified).graphs.items():
        if role in fused:
            assert spec == read_manifest(plain).graphs[role]
            continue
        assert report[role]["kept_because"] is None
        assert report[role]["nodes_after"] < report[role]["nodes_before"]
        assert report[role]["nodes_after"] == len(onnx.load(str(simplified / spec.file)).graph.node)
        assert spec == read_manifest(plain).graphs[role]  # the same inputs and outputs
    if kind == "llama":
        ids, _ = encode(plain, TEXTS[:1], pad=0)
        for a, b in zip(causal_steps(simplified, ids, 9), causal_steps(plain, ids, 9)):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    else:
        ids, mask = encode(plain, TEXTS, pad=special_ids("bart")["pad"])
        for a, b in zip(seq2seq_steps(simplified, ids, mask, START[kind], 9),
                        seq2seq_steps(plain, ids, mask, START[kind], 9)):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_a_graph_the_simplifier_fails_on_is_kept_as_exported(exports, tmp_path, monkeypatch):
    import onnxsim

    from export.simplify import simplify_graph

    path = tmp_path / "model.onnx"
    shutil.copy(exports.fp32("gpt2") / "model.onnx", path)
    before = path.read_bytes()

    def fail(model):
        raise RuntimeError("unsupported op")
    monkeypatch.setattr(onnxsim, "simplify", fail)
    result = simplify_graph(path)
    assert result.kept_because == "onnxsim failed: RuntimeError: unsupported op"
    assert result.nodes_before == result.nodes_after and path.read_bytes() == before


# ---- int8 ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "per_channel"), [("t5", False), ("llama", True)])
def test_int8_graphs_are_quantized_and_report_their_error(exports, kind, per_channel, tmp_path):
    out = tmp_path / "int8"
    config = ExportConfig(quantize="int8", per_channel=per_channel, validate=False)
    report = export_onnx(exports.source(kind), out=out, config=config).quantization
    m = read_manifest(out)
    assert m.quantization == report.to_json()
    assert (report.method, report.per_channel) == ("dynamic-int8", per_channel)
    for graph in m.graphs.values():
        ops = quantized_op_counts(out / graph.file)
        assert ops.get("MatMulInteger", 0) > 0, graph.file
        assert ops.get("DynamicQuantizeLinear", 0) > 0, graph.file
    assert not list(out.glob("*.tmp*")) and not (out / ".int8").exists()
    assert quantized_op_counts(exports.fp32(kind) / m.graphs[next(iter(m.graphs))].file) == {}

    # Recompute fp32 vs int8 on the same sample: step 2 is fed fp32's step-1 argmax.
    ids = np.array([Tokenizer.from_file(str(out / "tokenizer.json")).encode(report.sample).ids])

    def steps(folder: Path, second: int) -> List[np.ndarray]:
        if kind == "t5":
            return seq2seq_steps(folder, ids, np.ones_like(ids), START[kind], second)
        first, last = causal_steps(folder, ids, second)
        return [first[:, -1], last]

    chosen = int(np.argmax(steps(exports.fp32(kind), 0)[0][0]))
    ref, got = steps(exports.fp32(kind), chosen), steps(out, chosen)
    assert len(ref) == len(got) == len(report.steps) == 2
    diff = max(float(np.abs(r - q).max()) for r, q in zip(ref, got, strict=True))
    assert report.max_abs_logit_diff == pytest.approx(diff, rel=1e-4, abs=1e-6)
    assert report.max_abs_logit == pytest.approx(max(float(np.abs(r).max()) for r in ref), rel=1e-5)
    assert np.isfinite(diff) and 0 < diff < 0.1 * report.max_abs_logit


# ---- refusals -----------------------------------------------------------------------------

def test_pickle_only_folder_is_refused_without_loading_it(exports, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(exports.source("bart"), folder)
    (folder / "model.safetensors").unlink()
    # Not a valid pickle: refusing must not depend on (or risk) unpickling anything.
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ExportError) as e:
        export_onnx(folder, out=tmp_path / "out")
    message = str(e.value)
    assert message.startswith(f"{folder}: has only pickle weights (pytorch_model.bin)")
    assert "save_pretrained(folder, safe_serialization=True)" in message
    assert not (tmp_path / "out").exists()


def test_folder_without_tokenizer_is_refused(exports, tmp_path):
    folder = tmp_path / "notok"
    shutil.copytree(exports.source("gpt2"), folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink()
    with pytest.raises(ExportError, match="has no tokenizer .*save_pretrained"):
        export_onnx(folder, out=tmp_path / "out")


def test_slow_tokenizer_is_converted_and_generation_config_written(exports, tmp_path):
    from transformers import BertTokenizer

    folder = tmp_path / "slow"
    shutil.copytree(exports.source("encoder-decoder"), folder)
    fast = Tokenizer.from_file(str(folder / "tokenizer.json"))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "generation_config.json"):
        (folder / name).unlink()
    vocab = sorted(fast.get_vocab().items(), key=lambda kv: kv[1])
    (folder / "vocab.txt").write_text("\n".join(token for token, _ in vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    assert not (folder / "tokenizer.json").exists()
    out = tmp_path / "out"
    export_onnx(folder, out=out, config=ExportConfig(validate=False))
    converted = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert converted.encode("The team won.").ids == fast.encode("The team won.").ids
    assert converted.encode("The team won.").ids[0] == special_ids("bert")["cls"]
    # No generation_config.json in the checkpoint: one is written from config.json.
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["decoder_start_token_id"] == START["encoder-decoder"]
    assert generation["pad_token_id"] == special_ids("bert")["pad"]


def test_unsupported_architecture_names_the_supported_ones(tmp_path):
    folder = tmp_path / "bert"
    BertModel(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(folder)
    make_tokenizer("bert", folder)
    with pytest.raises(ExportError) as e:
        export_onnx(folder, out=tmp_path / "out")
    assert "bert models cannot be exported for causal-lm" in str(e.value)
    assert "gpt2" in e.value.fix and "llama" in e.value.fix and "bart" not in e.value.fix


def test_wrong_task_and_busy_output_are_refused(exports, tmp_path):
    with pytest.raises(ExportError, match="is a bart model, which is seq2seq, not causal-lm"):
        export_onnx(exports.source("bart"), out=tmp_path / "a",
                    config=ExportConfig(task="causal-lm"))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match="already exists"):
        export_onnx(exports.source("bart"), out=busy)
    with pytest.raises(ExportError, match="no such folder"):
        export_onnx(str(tmp_path / "missing"), out=tmp_path / "b")


def test_sources_that_read_as_hub_ids_are_passed_through(tmp_path):
    # No network here: only the classification is checked, nothing is fetched.
    assert local_folder("facebook/bart-large-cnn") is None and local_folder("gpt2") is None
    assert local_folder(str(tmp_path)) == tmp_path
    for path in ("./models/bart", "models/en/bart", "~/nowhere-condense-test"):
        with pytest.raises(ExportError, match="no such folder"):
            local_folder(path)


# ---- command line -------------------------------------------------------------------------

def test_cli_exports_and_reports_errors(exports, tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "export", "onnx", str(exports.source("gpt2")), "--out", str(out)]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert read_manifest(out).model_type == "gpt2"
    assert f"exported {exports.source('gpt2')} (gpt2, causal-lm, cache: yes) to {out}" in res.stderr
    bad = subprocess.run(cmd[:-1] + [str(tmp_path / "cli2"), "--task", "seq2seq"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    assert "Use --task causal-lm" in bad.stderr


def test_staged_folder_appears_whole_or_not_at_all(tmp_path):
    from export.staging import staged_folder

    out = tmp_path / "deep" / "model"
    with staged_folder(out) as staging:
        assert staging == out.absolute().with_name(".model.partial") and not staging.exists()
        staging.mkdir()
        (staging / "a.txt").write_text("x")
        assert not out.exists()  # nothing visible until the block ends
    assert (out / "a.txt").read_text() == "x" and not staging.exists()
    # an error inside: no folder appears, the partial one is gone
    failed = tmp_path / "failed"
    with pytest.raises(RuntimeError):
        with staged_folder(failed) as staging:
            staging.mkdir()
            raise RuntimeError("export broke")
    assert not failed.exists() and not staging.exists()
