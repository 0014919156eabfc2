"""The two GGUF -> ONNX routes of ``export/gguf.py`` on the built-in SmolLM2, side by side:
the direct one (the Llama graph written from the GGUF tensors, no torch) and the one it
replaced (transformers reads the GGUF, Optimum traces the graph, onnxsim simplifies it).

    python bench/gguf_routes.py [--repeats 3] [--threads 2] [--work DIR]

1. Conversion: ``python -m export gguf`` with the default model's shipped recipe (q4, 8-bit
   output layer), each route ``--repeats`` times, interleaved; wall time and peak memory of
   the process (``os.wait4``).
2. Parity, on the first repeat's folders and on one fp32 export per route: the tokenizer
   and config files, the 4-bit weights initializer by initializer, the largest |logit|
   difference over every position of three prompts, and 64 greedy tokens per prompt.
3. Speed of the two q4 folders in one process, interleaved, median of ``--repeats`` after a
   warm-up: a 46-token chat prompt + 64 greedy tokens, a long article's prompt + 1 token
   (prefill), and the built-in summarizer (SmolLM2 + summary adapter, both routes) on the
   same article.

Needs requirements-train.txt (the transformers route). Results: ``bench/results/
gguf-routes.json`` and docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.heldout_texts import TEXTS  # noqa: E402
from runtime.builtin import DEFAULT_MODEL, SUMMARY_MODEL  # noqa: E402

ROUTES = {"direct": (), "transformers": ("--via-transformers",)}
CHAT = [{"role": "user", "content": "Write a short note about a town that closes its oldest "
                                    "footbridge for repairs."}]


def export(gguf: Path, out: Path, *, route: str, precision: str = "q4",
           adapter: Path | None = None) -> dict:
    """Run one conversion in its own process: wall and CPU seconds (user + system; a
    machine busy with other work inflates them less) and peak resident memory (MB)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "export", "gguf", str(gguf), "--out", str(out),
           "--eos-token", DEFAULT_MODEL.eos_token, *dict(DEFAULT_MODEL.export_args)[precision],
           *ROUTES[route]]
    if adapter is not None:
        cmd += ["--adapter", str(adapter)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024}


def article() -> str:
    """A BBC article of about 600 words from ../shared/data when there, else the held-out
    texts joined (about as long)."""
    pairs = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"
    if pairs.is_file():
        for line in pairs.read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["article"]
            if 550 <= len(text.split()) <= 650:
                return text
    return "\n\n".join(TEXTS)


def files_equal(a: Path, b: Path) -> dict:
    out = {"tokenizer.json": (a / "tokenizer.json").read_bytes()
           == (b / "tokenizer.json").read_bytes()}
    for name in ("config.json", "generation_config.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        x, y = (json.loads((f / name).read_text()) for f in (a, b))
        for d in (x, y):
            d.pop("transformers_version", None)
        out[name] = x == y
    return out


def weights_equal(a: Path, b: Path) -> dict:
    import onnx
    from onnx import numpy_helper

    x = {t.name: t for t in onnx.load(str(a / "model.onnx")).graph.initializer}
    y = {t.name: t for t in onnx.load(str(b / "model.onnx")).graph.initializer}
    names = sorted(n for n in y if "_q4_" in n or "_q8_" in n)
    codes_differing, worst = 0, 0.0
    for n in names:
        u, v = numpy_helper.to_array(x[n]), numpy_helper.to_array(y[n])
        if u.dtype == np.uint8:
            codes_differing += int((u != v).sum())
        else:
            worst = max(worst, float(np.max(np.abs(u - v) / np.maximum(np.abs(v), 1e-30))))
    same_names = names == sorted(n for n in x if "_q4_" in n or "_q8_" in n)
    return {"quantized_initializers": len(names), "same_names": same_names,
            "codes_differing": codes_differing, "max_relative_float_diff": worst,
            "embedding_equal": bool(np.array_equal(
                numpy_helper.to_array(x["model.embed_tokens.weight"]),
                numpy_helper.to_array(y["model.embed_tokens.weight"])))}


def logits_and_tokens(a: Path, b: Path, prompts, threads: int) -> list:
    from generation import Generator

    gens = [Generator.load(f, threads=threads) for f in (a, b)]
    rows = []
    for p in prompts:
        ids, mask = gens[1].encode([p])
        la, lb = (g.model.all_logits(ids, mask) for g in gens)
        out = [g.generate_ids([p], temperature=0, max_new_tokens=64) for g in gens]
        rows.append({"prompt_tokens": int(ids.shape[1]),
                     "max_abs_logit_diff": float(np.abs(la - lb).max()),
                     "max_abs_logit": float(np.abs(lb).max()),
                     "greedy_64_equal": bool(np.array_equal(out[0], out[1]))})
    return rows


def speed(folders: dict, summary_folders: dict, text: str, repeats: int, threads: int) -> dict:
    from generation import Generator
    from summarizer.abstractive.factory import make_abstractive
    from summarizer.abstractive.seq2seq import AbstractiveConfig
    from summarizer.documents.loaders import document_from_text
    from summarizer.types import Budget

    gens = {k: Generator.load(f, threads=threads) for k, f in folders.items()}
    summarizers = {k: make_abstractive(AbstractiveConfig(model_dir=str(f), threads=threads))
                   for k, f in summary_folders.items()}
    doc = document_from_text(text, source="article")
    plain = [{"role": "user", "content": text}]
    tasks = {
        "chat + 64 tokens": lambda k: gens[k].generate_ids([CHAT], temperature=0,
                                                           max_new_tokens=64, min_new_tokens=64),
        "article prefill + 1 token": lambda k: gens[k].generate_ids(
            [plain], temperature=0, max_new_tokens=1, min_new_tokens=1),
        "built-in summary of the article": lambda k: summarizers[k](doc, Budget(auto=True)),
    }
    times = {task: {k: [] for k in folders} for task in tasks}
    summaries = {}
    for task, run in tasks.items():
        for k in folders:
            result = run(k)  # warm-up
            if task.startswith("built-in"):
                summaries[k] = result.text
        for _ in range(repeats):
            for k in folders:
                start = time.perf_counter()
                run(k)
                times[task][k].append(time.perf_counter() - start)
    out = {task: {k: statistics.median(v) for k, v in by.items()} for task, by in times.items()}
    out["same summary text"] = summaries["direct"] == summaries["transformers"]
    out["prompt tokens (article)"] = int(gens["direct"].encode([plain])[0].shape[1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "gguf-routes")
    parser.add_argument("--json", type=Path,
                        default=ROOT / "bench" / "results" / "gguf-routes.json")
    args = parser.parse_args()
    gguf = DEFAULT_MODEL.gguf_path()
    args.work.mkdir(parents=True, exist_ok=True)
    report: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "date": time.strftime("%Y-%m-%d"), "repeats": args.repeats,
                    "load_average_at_start": round(os.getloadavg()[0], 1)}

    conversion = {route: [] for route in ROUTES}
    for r in range(args.repeats):
        for route in ROUTES:
            conversion[route].append(export(gguf, args.work / f"{route}-q4-{r}", route=route))
            print(route, r, conversion[route][-1], flush=True)
    report["conversion_q4"] = {
        route: {"median_s": statistics.median(x["seconds"] for x in runs),
                "median_cpu_s": statistics.median(x["cpu_s"] for x in runs),
                "median_peak_mb": statistics.median(x["peak_mb"] for x in runs),
                "runs_s": [round(x["seconds"], 1) for x in runs]}
        for route, runs in conversion.items()}
    q4 = {route: args.work / f"{route}-q4-0" for route in ROUTES}
    fp32 = {route: args.work / f"{route}-fp32" for route in ROUTES}
    summary = {route: args.work / f"{route}-summary-q4" for route in ROUTES}
    for route in ROUTES:
        export(gguf, fp32[route], route=route, precision="fp32")
        report.setdefault("conversion_summary_model_q4", {})[route] = export(
            gguf, summary[route], route=route, adapter=SUMMARY_MODEL.adapter_path())

    text = article()
    prompts = [CHAT, [{"role": "user", "content": "What is the capital of France?"}],
               [{"role": "user", "content": f"Summarize this article.\n\n{text}"}]]
    report["files_equal"] = files_equal(q4["direct"], q4["transformers"])
    report["q4_weights"] = weights_equal(q4["direct"], q4["transformers"])
    report["parity_fp32"] = logits_and_tokens(fp32["direct"], fp32["transformers"], prompts,
                                              args.threads)
    report["parity_q4"] = logits_and_tokens(q4["direct"], q4["transformers"], prompts,
                                            args.threads)
    report["speed_q4"] = speed(q4, summary, text, args.repeats, args.threads)
    report["load_average_at_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(report, indent=1))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
