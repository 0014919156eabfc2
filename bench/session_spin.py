"""What stopping the sessions' threads from spinning after a run buys a seq2seq generation.

    python bench/session_spin.py                          # bench/results/seq2seq/onnx-int8
    python bench/session_spin.py --folder bench/results/seq2seq/onnx-fp32 --rounds 3

A seq2seq generation runs three sessions in turn: the encoder, the first decoder step,
then the cached steps. Each session has its own pool of intra-op threads, and by default
a pool's workers keep spinning for a while after a run, waiting for more work, while the
next session runs. This script times one greedy generation (512 input tokens, 64 new)
three ways, each in a fresh process, alternating, ``--rounds`` times: onnxruntime's
default ("spinning"), every session with ``session.force_spinning_stop`` (what
``runtime/session.py`` sets: "stop"), and onnxruntime's process-wide thread pool shared by
the three sessions ("shared pool", for comparison). It prints medians of the encoder, the
first step, one cached step and the whole generation, over the rounds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODES = ("spinning", "stop", "shared pool")


def generation_times(folder: Path, mode: str, threads: int, repeats: int) -> dict:
    """Worker: median seconds of the encoder, the first step, a cached step and the total."""
    import numpy as np
    import onnxruntime as ort

    if mode == "shared pool":
        from onnxruntime.capi import _pybind_state

        _pybind_state.set_global_thread_pool_sizes(threads, 1)

    def session(name: str) -> ort.InferenceSession:
        options = ort.SessionOptions()
        if mode == "shared pool":
            options.use_per_session_threads = False
        else:
            options.intra_op_num_threads = threads
        if mode == "stop":
            options.add_session_config_entry("session.force_spinning_stop", "1")
        return ort.InferenceSession(str(folder / name), options,
                                    providers=["CPUExecutionProvider"])

    encoder, first = session("encoder_model.onnx"), session("decoder_model.onnx")
    cached = session("decoder_with_past_model.onnx")
    ids = np.random.default_rng(1).integers(4, 50000, size=(1, 512))
    mask = np.ones_like(ids)
    first_names = [o.name for o in first.get_outputs()]
    cached_names = [o.name for o in cached.get_outputs()]

    def past(outputs: dict) -> dict:
        return {"past_key_values." + k[len("present."):]: v for k, v in outputs.items()
                if k.startswith("present.")}

    def generate():
        t0 = time.perf_counter()
        hidden = encoder.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        t1 = time.perf_counter()
        out = dict(zip(first_names, first.run(first_names, {
            "input_ids": np.array([[2]]), "encoder_attention_mask": mask,
            "encoder_hidden_states": hidden})))
        t2 = time.perf_counter()
        cache = past(out)
        token = np.array([[int(out["logits"][0, -1].argmax())]])
        for _ in range(63):
            out = dict(zip(cached_names, cached.run(cached_names, {
                "input_ids": token, "encoder_attention_mask": mask, **cache})))
            cache.update(past(out))
            token = np.array([[int(out["logits"][0, -1].argmax())]])
        t3 = time.perf_counter()
        return {"encoder_s": t1 - t0, "first_step_s": t2 - t1, "cached_step_s": (t3 - t2) / 63,
                "total_s": t3 - t0}

    generate()  # warm-up
    runs = [generate() for _ in range(repeats)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", type=Path, default=Path("bench/results/seq2seq/onnx-int8"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=6, help="generations per process")
    ap.add_argument("--rounds", type=int, default=3, help="processes per mode, alternating")
    ap.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # internal: one worker
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(generation_times(args.folder, args.mode, args.threads, args.repeats)))
        return
    results = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            out = subprocess.run([sys.executable, __file__, "--mode", mode, "--folder",
                                  str(args.folder), "--threads", str(args.threads),
                                  "--repeats", str(args.repeats)],
                                 check=True, capture_output=True, text=True).stdout
            results[mode].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{args.folder}, {args.threads} threads, {args.rounds} rounds x {args.repeats} "
          "generations (median of the per-process medians)")
    print("| sessions | encoder (ms) | first step (ms) | cached step (ms) | generation (s) |")
    print("|---|---:|---:|---:|---:|")
    for mode, rows in results.items():
        m = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"| {mode} | {m['encoder_s'] * 1e3:.1f} | {m['first_step_s'] * 1e3:.1f} | "
              f"{m['cached_step_s'] * 1e3:.2f} | {m['total_s']:.3f} |")


if __name__ == "__main__":
    main()
