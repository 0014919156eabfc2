"""Seq2seq generation speed: torch ``generate``, Optimum's ORTModelForSeq2SeqLM, ours fp32
and ours int8, side by side in one run.

    python bench/seq2seq_speed.py                      # CPU, bart-small config
    python bench/seq2seq_speed.py --device cuda        # same comparison on a GPU machine

A bart-small configuration (d_model 512, 6+6 layers, 8 heads, FFN 2048, vocabulary
50,265) with random weights (seed 0) is saved once under ``--work`` and exported four
times with our export command: fp32 and dynamic int8 as ours runs them (the exporter's
defaults: the decoder graphs fused by ``export/fused.py``, the encoder simplified by
``export/simplify.py``), fp32 as Optimum's own export writes it (``fuse=False,
simplify=False``), which Optimum's ``ORTModelForSeq2SeqLM`` loads, and fp32 simplified
but unfused (the ``ours-fp32-unfused`` engine, run on request with ``--engines``). Inputs
are random token ids, 512 per document; every engine generates exactly ``--new-tokens`` tokens greedily
(min = max new tokens), for batch 1 and 8. Each engine runs in its own process, so its
load time and peak resident memory are its own. The processes stay loaded and take turns:
repeat r runs every engine once before repeat r + 1 starts, so a machine that slows down
or speeds up during the run (shared cloud CPUs do) moves all engines alike and the ratios
stay fair. Timings are medians of ``--repeats`` runs after one warm-up. The import time
of each inference path is measured in fresh interpreters.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("torch", "optimum", "ours-fp32", "ours-int8")
# On request (--engines ...): ours fp32 without the fused decoders, to show what they buy;
# ours fp32 checking prompt-lookup guesses (runtime/drafting.py), as the summarizer does by
# default. The random model repeats one token, so every guess is right here: its time is
# the best case of lookup, not a typical one (bench/draft_speed.py measures real text).
# So ours-fp32-guess2 and -guess3 check guesses that are right as often as on real text:
# the known greedy output with every 2nd (3rd) guess wrong, 2 (3) tokens per run, where
# lookup kept 2.4-2.8 per run on real articles with the built-in summarizer's decoding.
EXTRA_ENGINES = ("ours-fp32-unfused", "ours-fp32-lookup", "ours-fp32-guess2", "ours-fp32-guess3")
FOLDERS = {"ours-fp32": "onnx-fp32", "ours-int8": "onnx-int8",
           "ours-fp32-unfused": "onnx-fp32-unfused", "ours-fp32-lookup": "onnx-fp32",
           "ours-fp32-guess2": "onnx-fp32", "ours-fp32-guess3": "onnx-fp32"}


class Guesses:
    """A drafter that proposes ``reference`` (the greedy output) with every ``wrong``-th
    guess of a run changed: each run keeps ``wrong - 1`` guesses plus its own token."""

    def __init__(self, reference: np.ndarray, wrong: int, most: int = 10) -> None:
        self.reference, self.wrong, self.most = reference, wrong, most

    def propose(self, ids: np.ndarray, limit: int) -> np.ndarray:
        t = ids.shape[1]
        guess = self.reference[:, t:t + min(limit, self.most)].copy()
        wrong = guess[:, self.wrong - 1::self.wrong]
        guess[:, self.wrong - 1::self.wrong] = np.where(wrong > 0, wrong - 1, 1)  # another valid id
        return guess
IMPORTS = {
    "ours": "import summarizer.abstractive.seq2seq",
    "torch+transformers": "import torch, transformers; from transformers import BartForConditionalGeneration",
    "optimum": "from optimum.onnxruntime import ORTModelForSeq2SeqLM",
}


def build(work: Path) -> None:
    """Save the random bart-small checkpoint and its two exports (skipped if present)."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast  # noqa: F401

    sys.path.insert(0, str(ROOT))
    from export import ExportConfig, export_onnx
    from tests.tiny_models import make_tokenizer

    ckpt = work / "bart-small"
    if not (ckpt / "model.safetensors").is_file():
        torch.manual_seed(0)
        config = BartConfig(vocab_size=50265, d_model=512, encoder_layers=6, decoder_layers=6,
                            encoder_attention_heads=8, decoder_attention_heads=8,
                            encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=1024)
        BartForConditionalGeneration(config).eval().save_pretrained(ckpt)
        make_tokenizer("bart", ckpt)  # a tiny tokenizer: the benchmark feeds token ids
    for name, quant, fuse, simplify in (
            ("onnx-fp32", None, True, True), ("onnx-int8", "int8", True, True),
            ("optimum-fp32", None, False, False), ("onnx-fp32-unfused", None, False, True)):
        if not (work / name / "encoder_model.onnx").is_file():
            export_onnx(str(ckpt), out=work / name,
                        config=ExportConfig(quantize=quant, fuse=fuse, simplify=simplify))


def inputs(batch: int, length: int) -> np.ndarray:
    return np.random.default_rng(batch).integers(4, 50000, size=(batch, length))


def load_engine(engine: str, work: Path, device: str, new: int):
    """(seconds to load, generate(ids) -> token ids) for one engine."""
    start = time.perf_counter()
    if engine == "torch":
        import torch
        from transformers import BartForConditionalGeneration

        model = BartForConditionalGeneration.from_pretrained(work / "bart-small").eval().to(device)

        def gen(ids):
            with torch.inference_mode():
                t = torch.tensor(ids, device=device)
                return model.generate(input_ids=t, attention_mask=torch.ones_like(t), num_beams=1,
                                      do_sample=False, max_new_tokens=new, min_new_tokens=new).cpu().numpy()
    elif engine == "optimum":
        import torch
        from optimum.onnxruntime import ORTModelForSeq2SeqLM

        provider = "CUDAExecutionProvider" if device == "cuda" else "CPUExecutionProvider"
        model = ORTModelForSeq2SeqLM.from_pretrained(work / "optimum-fp32", use_cache=True,
                                                     provider=provider)

        def gen(ids):
            t = torch.tensor(ids)
            return model.generate(input_ids=t, attention_mask=torch.ones_like(t), num_beams=1,
                                  do_sample=False, max_new_tokens=new, min_new_tokens=new).numpy()
    else:
        sys.path.insert(0, str(ROOT))
        from runtime.drafting import PromptLookup
        from runtime.search import generate
        from runtime.seq2seq import Seq2SeqOnnx
        from runtime.session import SessionConfig

        folder = work / FOLDERS[engine]
        model = Seq2SeqOnnx.load(folder, SessionConfig(device=device))
        config = model.generation_config.override(num_beams=1, max_new_tokens=new, min_new_tokens=new)

        references = {}  # input -> greedy output, for the guess engines (made at warm-up)

        def gen(ids):
            mask = np.ones_like(ids)
            prompt = np.full((len(ids), 1), config.decoder_start_token_id)
            drafter = None
            if engine.endswith("-lookup"):
                drafter = PromptLookup(ids, skip=1)
            elif "-guess" in engine:
                key = ids.tobytes()
                if key not in references:
                    references[key] = generate(model, model.start(model.encode(ids, mask), mask),
                                               prompt, config).sequences
                drafter = Guesses(references[key], wrong=int(engine[-1]))
            state = model.start(model.encode(ids, mask), mask)
            out = generate(model, state, prompt, config, drafter=drafter)
            gen.model_runs = out.model_runs
            return out.sequences
    return time.perf_counter() - start, gen


def serve(engine: str, work: Path, device: str, batch_sizes, length: int, new: int) -> None:
    """Worker: load, warm up every batch size (checking exactly ``new`` tokens come out),
    then answer each line "B" on stdin with the seconds one generation of batch B took,
    and "quit" with the peak resident memory. One JSON object per line on stdout."""
    load_s, gen = load_engine(engine, work, device, new)
    for b in batch_sizes:
        out = gen(inputs(b, length))
        assert out.shape == (b, new + 1), out.shape
    print(json.dumps({"load_s": load_s}), flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        ids = inputs(int(line), length)
        t = time.perf_counter()
        gen(ids)
        took = time.perf_counter() - t
        print(json.dumps({"s": took, "model_runs": getattr(gen, "model_runs", None)}), flush=True)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)


class Worker:
    """One engine in its own process, driven line by line (see ``serve``)."""

    def __init__(self, engine: str, args: argparse.Namespace, work: Path) -> None:
        self.engine = engine
        cmd = [sys.executable, __file__, "--engine", engine, "--work", str(work), "--device", args.device,
               "--length", str(args.length), "--new-tokens", str(args.new_tokens),
               "--batch", *map(str, args.batch)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def ask(self, line: str) -> dict:
        time.sleep(1.0)  # the previous engine's spinning threads go idle first
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.answer()

    def answer(self) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.engine} stopped (its error is above)")
            if line.startswith("{"):  # a library may print to stdout too
                return json.loads(line)


def run_all(args: argparse.Namespace, work: Path) -> list:
    """Load the engines one after another (so load times do not overlap), then run the
    repeats round-robin across engines."""
    workers, results = [], {}
    for engine in args.engines:
        worker = Worker(engine, args, work)
        try:
            results[engine] = {"engine": engine, "load_s": worker.answer()["load_s"],
                               "batches": {str(b): {"times_s": []} for b in args.batch}}
            workers.append(worker)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            worker.proc.kill()
    for b in args.batch:
        for _ in range(args.repeats):
            for worker in workers:
                answer = worker.ask(str(b))
                cell = results[worker.engine]["batches"][str(b)]
                cell["times_s"].append(answer["s"])
                if answer.get("model_runs") is not None:  # ours: decoder runs per generation
                    cell["model_runs"] = answer["model_runs"]
    for worker in workers:
        res = results[worker.engine]
        res["peak_rss_mb"] = worker.ask("quit")["peak_rss_mb"]
        worker.proc.wait()
        for b, cell in res["batches"].items():
            cell["median_s"] = statistics.median(cell["times_s"])
            cell["tokens_per_s"] = int(b) * args.new_tokens / cell["median_s"]
        print(json.dumps(res), flush=True)
    return [results[w.engine] for w in workers]


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark. Read from /proc (VmHWM) because
    ru_maxrss survives exec on Linux and would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def import_time(statement: str, repeats: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout) for _ in range(repeats)]
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--work", default="bench/results/seq2seq", help="checkpoint and exports go here")
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES + EXTRA_ENGINES)
    ap.add_argument("--engine", help=argparse.SUPPRESS)  # internal: one engine's worker
    args = ap.parse_args()
    work = Path(args.work).resolve()
    if args.engine:
        serve(args.engine, work, args.device, args.batch, args.length, args.new_tokens)
        return
    work.mkdir(parents=True, exist_ok=True)
    build(work)
    results = run_all(args, work)
    imports = {name: import_time(stmt) for name, stmt in IMPORTS.items()}
    print(json.dumps({"import_s": imports}))
    base = {r["engine"]: r for r in results}
    print("\n| engine | load (s) | peak RSS (MB) | " + " | ".join(
        f"batch {b}: s / tok/s / vs torch / vs Optimum" for b in args.batch) + " |")
    print("|---|---:|---:|" + "---:|" * len(args.batch))
    for r in results:
        cells = []
        for b in map(str, args.batch):
            m = r["batches"][b]["median_s"]
            vt = base["torch"]["batches"][b]["median_s"] / m if "torch" in base else float("nan")
            vo = base["optimum"]["batches"][b]["median_s"] / m if "optimum" in base else float("nan")
            cells.append(f"{m:.3f} / {r['batches'][b]['tokens_per_s']:.0f} / {vt:.2f}x / {vo:.2f}x")
        print(f"| {r['engine']} | {r['load_s']:.2f} | {r['peak_rss_mb']:.0f} | " + " | ".join(cells) + " |")
    for r in results:
        for b, cell in r["batches"].items():
            if "model_runs" in cell:
                print(f"{r['engine']}, batch {b}: {cell['model_runs']} decoder runs for "
                      f"{args.new_tokens} tokens")
    # Repeat r of every engine ran back to back, so ratios within a repeat share the
    # machine's state; their spread shows how much the ratio itself moves.
    for ref in ("torch", "optimum"):
        if ref not in base:
            continue
        for r in results:
            if r["engine"] == ref:
                continue
            for b in map(str, args.batch):
                pairs = [t / o for t, o in zip(base[ref]["batches"][b]["times_s"], r["batches"][b]["times_s"])]
                r["batches"][b][f"paired_vs_{ref}"] = pairs
                print(f"{r['engine']} vs {ref}, batch {b}: paired ratios median "
                      f"{statistics.median(pairs):.2f}x, range {min(pairs):.2f}-{max(pairs):.2f}x")
    out = work / f"results-{args.device}.json"
    out.write_text(json.dumps({"results": results, "import_s": imports, "args": vars(args)}, indent=2))


if __name__ == "__main__":
    main()
