"""How close a cached seq2seq decoder step is to this machine's memory bound.

    python bench/step_floor.py                        # bench/results/seq2seq/onnx-fp32
    python bench/step_floor.py --folder DIR --threads 2

At batch 1 a cached step reads every decoder weight once (and the cross-attention
keys/values of the whole input) to produce one token, so it cannot be faster than
bytes read / memory bandwidth. This script measures the three numbers in one process:

* bytes: the decoder-with-past graph's weights (all but the embedding tables, of which a
  step reads one row) plus the cache it reads at
  ``--encoder-length`` input tokens and ``--past`` decoded tokens;
* bandwidth: onnxruntime's own MatMul streaming a ``--stream-mb`` fp32 weight (far past
  any cache) with one input row, on ``--threads`` threads, median of ``--repeats``;
* the step: the folder's decoder-with-past on one token with that cache, median of
  ``--repeats``, and, for the whole generation, the encoder and first decoder step.

It prints the floor (bytes / bandwidth), the measured step, and the fastest a generation
of ``--new-tokens`` tokens could be with the measured encoder and first step.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def session(model, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.add_session_config_entry("session.force_spinning_stop", "1")  # as runtime/session.py
    source = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def median_s(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bandwidth_gb_s(mb: int, threads: int, repeats: int) -> float:
    """Bytes per second onnxruntime's MatMul reads from a weight far larger than any cache."""
    k = 512
    n = mb * 2**20 // (4 * k)
    weight = np.random.default_rng(0).random((k, n), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "stream",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        [numpy_helper.from_array(weight, "w")])
    s = session(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), threads)
    x = np.ones((1, k), np.float32)
    return weight.nbytes / median_s(lambda: s.run(None, {"x": x}), repeats) / 1e9


def streamed_bytes(graph: onnx.GraphProto) -> int:
    """Bytes of the weights a step reads in full: tables a step only looks rows up in
    (token and position embeddings: ``Gather``/``Slice`` are their only readers) excluded."""
    lookups = {"Gather", "Slice"}
    readers: dict = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, set()).add(node.op_type)
    return sum(numpy_helper.to_array(t).nbytes for t in graph.initializer
               if not readers.get(t.name, set()) <= lookups)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", type=Path, default=Path("bench/results/seq2seq/onnx-fp32"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--encoder-length", type=int, default=512)
    ap.add_argument("--past", type=int, default=32, help="decoded tokens in the cache")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--stream-mb", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()

    path = args.folder / "decoder_with_past_model.onnx"
    weights = streamed_bytes(onnx.load(str(path)).graph)
    step_session = session(str(path), args.threads)
    rng = np.random.default_rng(0)
    feed = {"input_ids": np.array([[5]], np.int64),
            "encoder_attention_mask": np.ones((1, args.encoder_length), np.int64)}
    cache = 0
    for arg in step_session.get_inputs():
        if arg.name.startswith("past_key_values."):
            length = args.encoder_length if ".encoder." in arg.name else args.past
            feed[arg.name] = rng.standard_normal((1, arg.shape[1], length, arg.shape[3]),
                                                 dtype=np.float32)
            cache += feed[arg.name].nbytes
    feed = {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in feed.items()}
    names = [o.name for o in step_session.get_outputs()]
    step = median_s(lambda: step_session.run_with_ort_values(names, feed), args.repeats)

    enc = session(str(args.folder / "encoder_model.onnx"), args.threads)
    dec = session(str(args.folder / "decoder_model.onnx"), args.threads)
    ids = rng.integers(4, 50000, size=(1, args.encoder_length))
    mask = np.ones_like(ids)

    def first() -> None:
        hidden = enc.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        dec.run(None, {"input_ids": np.array([[2]], np.int64), "encoder_attention_mask": mask,
                       "encoder_hidden_states": hidden})
    fixed = median_s(first, max(5, args.repeats // 5), warmup=1)
    bandwidth = bandwidth_gb_s(args.stream_mb, args.threads, max(5, args.repeats // 5))

    floor = (weights + cache) / bandwidth / 1e9
    steps = args.new_tokens - 1
    print(f"folder {args.folder}, {args.threads} threads")
    print(f"bytes a cached step reads: weights {weights / 1e6:.1f} MB + cache {cache / 1e6:.1f} MB")
    print(f"memory bandwidth (MatMul over {args.stream_mb} MB): {bandwidth:.1f} GB/s")
    print(f"cached step: floor {floor * 1e3:.2f} ms, measured {step * 1e3:.2f} ms "
          f"({floor / step:.0%} of the bound)")
    print(f"{args.new_tokens} tokens: encoder + first step {fixed:.3f} s (measured) + {steps} steps: "
          f"{fixed + steps * step:.3f} s at the measured step, "
          f"{fixed + steps * floor:.3f} s at the floor")


if __name__ == "__main__":
    main()
