"""Which precision should the default generator ship? Perplexity and next-token agreement
of int8 variants against the fp32 export, on held-out texts (``bench/heldout_texts.py``).

    python bench/generation_precision.py [--fp32 DIR] [--work DIR]

``--fp32``: an fp32 export of the default model (default: made under ``--work`` with
``python -m export gguf``). Variants, each a copy of that folder whose ``model.onnx`` is
quantized with onnxruntime's ``quantize_dynamic`` (int8 weights, QInt8):

* ``int8-tensor``: one scale per weight tensor (``python -m export onnx --quantize int8``);
* ``int8-channel``: one scale per output channel;
* ``int8-channel-lmhead-fp32`` / ``int8-tensor-lmhead-fp32``: the same with the output
  projection (``lm_head``) left in fp32;
* ``int8-weight-only``: onnxruntime's ``MatMulNBitsQuantizer``, 8 bits, blocks of 32;
* ``q4`` / ``q4-acc4``: ``export/q4.py``, 4-bit blocks that reproduce the GGUF's own Q4_1
  weights exactly (``--quantize q4``), computed in fp32 or with int8 activations;
* ``q4-q8head`` / ``q4-acc4-q8head``: the same with the output layer in 8-bit blocks that
  reproduce the GGUF's Q8_0 embedding exactly, its activations quantized to int8.

Measured on every held-out text, teacher-forced (the text's own tokens as the prefix):
perplexity (exp of the mean negative log-likelihood over all predicted tokens), the share
of positions whose argmax equals fp32's ("top-1 agreement"), and the mean KL divergence
from fp32's next-token distribution. Results go to ``--json``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.heldout_texts import TEXTS  # noqa: E402
from runtime.builtin import DEFAULT_MODEL  # noqa: E402

VARIANTS = {  # name -> how: dynamic int8 (per_channel, keep lm_head fp32, op types) or weight-only
    "int8-tensor": dict(per_channel=False),
    "int8-channel": dict(per_channel=True),
    "int8-tensor-lmhead-fp32": dict(per_channel=False, keep_lm_head=True),
    "int8-channel-lmhead-fp32": dict(per_channel=True, keep_lm_head=True),
    "int8-channel-matmul-only": dict(per_channel=True, ops=("MatMul",)),
    "int8-weight-only": dict(weight_only=True),
    "int8-weight-only-acc4": dict(weight_only=True, accuracy_level=4),
    "q4": dict(q4=True, accuracy_level=0),
    "q4-acc4": dict(q4=True, accuracy_level=4),
    "q4-q8head": dict(q4=True, accuracy_level=0, output="q8"),
    "q4-acc4-q8head": dict(q4=True, accuracy_level=4, output="q8"),
}


def make_fp32(work: Path) -> Path:
    folder = work / "fp32"
    if not (folder / "model.onnx").is_file():
        subprocess.run([sys.executable, "-m", "export", "gguf", str(DEFAULT_MODEL.gguf_path()),
                        "--out", str(folder)], cwd=ROOT, check=True)
    return folder


def make_variant(fp32: Path, out: Path, *, per_channel: bool = False, keep_lm_head: bool = False,
                 ops: tuple | None = None, weight_only: bool = False,
                 accuracy_level: int | None = None, q4: bool = False,
                 output: str = "fp32") -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if (out / "model.onnx").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for f in fp32.iterdir():
        if f.name != "model.onnx":
            shutil.copy(f, out / f.name)
    if q4:
        from export.q4 import Q4Config, quantize_q4

        model, _ = quantize_q4(onnx.load(str(fp32 / "model.onnx")),
                               Q4Config(accuracy_level=accuracy_level or 0, output=output))
        onnx.save(model, str(out / "model.onnx"))
        return out
    if weight_only:  # int8 weights in blocks of 32 (MatMulNBits); accuracy_level 4: int8
        # compute with activations quantized per block, else fp32 compute
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        q = MatMulNBitsQuantizer(onnx.load(str(fp32 / "model.onnx")), bits=8, block_size=32,
                                 is_symmetric=True, accuracy_level=accuracy_level)
        q.process()
        q.model.save_model_to_file(str(out / "model.onnx"), use_external_data_format=False)
        return out
    graph = onnx.load(str(fp32 / "model.onnx"), load_external_data=False).graph
    exclude = [n.name for n in graph.node if keep_lm_head and "lm_head" in n.name]
    quantize_dynamic(fp32 / "model.onnx", out / "model.onnx", weight_type=QuantType.QInt8,
                     per_channel=per_channel, nodes_to_exclude=exclude,
                     op_types_to_quantize=list(ops) if ops else None)
    return out


def score(folder: Path, reference: list | None) -> tuple[dict, list]:
    """Perplexity and, against ``reference`` log-probs, agreement and KL; returns the
    per-text log-probs for use as the next call's reference."""
    from tokenizers import Tokenizer

    from runtime.causal import CausalOnnx
    from runtime.processors import log_softmax
    from runtime.session import SessionConfig

    model = CausalOnnx.load(folder, SessionConfig(intra_op_threads=2))
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    nll, agree, kl, n = 0.0, 0, 0.0, 0
    logps = []
    start = time.perf_counter()
    for i, text in enumerate(TEXTS):
        ids = np.asarray([tok.encode(text, add_special_tokens=False).ids], dtype=np.int64)
        logp = log_softmax(model.all_logits(ids, np.ones_like(ids))[0, :-1])  # (T-1, V)
        target = ids[0, 1:]
        nll -= float(logp[np.arange(len(target)), target].sum())
        n += len(target)
        if reference is not None:
            ref = reference[i]
            agree += int((logp.argmax(-1) == ref.argmax(-1)).sum())
            kl += float((np.exp(ref) * (ref - logp)).sum())
        logps.append(logp)
    out = {"perplexity": float(np.exp(nll / n)), "tokens": n,
           "score_s": time.perf_counter() - start,
           "size_mb": (folder / "model.onnx").stat().st_size / 2**20}
    if reference is not None:
        out.update(top1_agreement=agree / n, mean_kl=kl / n)
    return out, logps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fp32", type=Path, default=None)
    results = ROOT / "bench" / "results" / "generation"
    parser.add_argument("--work", type=Path, default=results / "work")
    parser.add_argument("--json", type=Path, default=results / "precision.json")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of: " + ", ".join(VARIANTS))
    args = parser.parse_args()
    fp32 = args.fp32 or make_fp32(args.work)
    results = {}
    base, reference = score(fp32, None)
    results["fp32"] = base
    print(f"fp32: {base}", flush=True)
    for name in args.variants.split(","):
        how = VARIANTS[name]
        t = time.perf_counter()
        folder = make_variant(fp32, args.work / name, **how)
        quant_s = time.perf_counter() - t
        results[name], _ = score(folder, reference)
        results[name]["quantize_s"] = quant_s
        print(f"{name}: {results[name]}", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"texts": len(TEXTS), "results": results}, indent=2) + "\n")
    print(f"{'variant':28} {'ppl':>8} {'top-1 agree':>12} {'mean KL':>9} {'MB':>6}")
    for name, r in results.items():
        print(f"{name:28} {r['perplexity']:8.3f} {r.get('top1_agreement', 1.0):12.4f} "
              f"{r.get('mean_kl', 0.0):9.5f} {r['size_mb']:6.0f}")


if __name__ == "__main__":
    main()
