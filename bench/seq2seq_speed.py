"""Seq2seq generation speed: torch ``generate``, Optimum's ORTModelForSeq2SeqLM, CTranslate2
fp32 and int8, ours fp32 and ours int8, side by side in one run.

    python bench/seq2seq_speed.py                      # CPU, bart-small config
    python bench/seq2seq_speed.py --device cuda        # same comparison on a GPU machine

A bart-small configuration (d_model 512, 6+6 layers, 8 heads, FFN 2048, vocabulary
50,265) with random weights (seed 0) is saved once under ``--work`` and exported four
times with our export command: fp32 and dynamic int8 as ours runs them (the exporter's
defaults: the decoder graphs fused by ``export/fused.py``, the encoder simplified by
``export/simplify.py``), fp32 as Optimum's own export writes it (``fuse=False,
simplify=False``), which Optimum's ``ORTModelForSeq2SeqLM`` loads, and fp32 simplified
but unfused (the ``ours-fp32-unfused`` engine, run on request with ``--engines``). The
same checkpoint is converted twice by CTranslate2's ``TransformersConverter`` (float32 and
int8 weights), which its ``Translator`` runs on 2 intra threads (``ct2-fp32``,
``ct2-int8``; skipped with a note where ``ctranslate2`` does not import:
``bench/requirements-peers.txt``). Inputs are random token ids, 512 per document; every
engine generates exactly ``--new-tokens`` tokens greedily (min = max new tokens), for
batch 1 and 8. Each engine runs in its own process, so its
load time and peak resident memory are its own. The processes stay loaded and take turns:
repeat r runs every engine once before repeat r + 1 starts, so a machine that slows down
or speeds up during the run (shared cloud CPUs do) moves all engines alike and the ratios
stay fair. Timings are medians of ``--repeats`` runs after one warm-up. The import time
of each inference path is measured in fresh interpreters. The warm-up's token ids of every
engine are compared with ours fp32's (``ct2-fp32`` against ``ours-fp32`` is the check that
both run the same model; CTranslate2 has no forced end token, so where the checkpoint's
``forced_eos_token_id`` makes the others write it last, CTranslate2 writes its own choice).
"""
from __future__ import annotations

import argparse
import importlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("torch", "optimum", "ct2-fp32", "ct2-int8", "ours-fp32", "ours-int8")
# The peers outside the product's requirements (bench/requirements-peers.txt): engine ->
# the module it needs. Without it the engine is skipped with a note, so the benchmark still
# runs on a plain install.
PEERS = {"ct2-fp32": "ctranslate2", "ct2-int8": "ctranslate2"}
# CTranslate2's folders and the compute type each runs in: the int8 folder stores int8
# weights, so loading it does not quantize again.
CT2 = {"ct2-fp32": ("ct2-fp32", None, "float32"), "ct2-int8": ("ct2-int8", "int8", "int8")}
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
    "ctranslate2": "import ctranslate2",
}


def installed(module: str) -> bool:
    """Whether ``module`` imports (a peer present but broken is skipped too)."""
    try:
        importlib.import_module(module)
    except Exception:
        return False
    return True


def ct2_convert(ckpt: Path, out: Path, quantization) -> None:
    """CTranslate2's conversion of the benchmark checkpoint, with two gaps of this random
    checkpoint filled (neither changes a weight):

    * its BART loader reads ``config.normalize_before``, a key that configs written by
      older transformers carried and ``BartConfig()`` no longer sets; BART is post-norm
      (transformers' BartEncoderLayer normalizes after the residual), so it is False;
    * the checkpoint's tokenizer is a tiny word-level one (the benchmark feeds token ids),
      while CTranslate2 wants one vocabulary entry per embedding row: the ids it lacks get
      placeholder names, and ``ct2_vocabulary`` maps ids to names and back.
    """
    from ctranslate2.converters import TransformersConverter

    class Padded:
        """The tokenizer with its vocabulary padded to ``size`` entries."""

        def __init__(self, tokenizer, size: int) -> None:
            known = {i: t for t, i in tokenizer.get_vocab().items()}
            self.tokenizer = tokenizer
            self.tokens = [known.get(i, f"<id{i}>") for i in range(size)]

        def get_vocab(self) -> dict:
            return {t: i for i, t in enumerate(self.tokens)}

        def __getattr__(self, name):  # special tokens, convert_ids_to_tokens: the real ones
            return getattr(self.tokenizer, name)

    class Converter(TransformersConverter):
        def load_model(self, model_class, path, **kwargs):
            model = super().load_model(model_class, path, **kwargs)
            model.config.normalize_before = False
            self.vocab_size = model.config.vocab_size
            return model

        def load_tokenizer(self, tokenizer_class, path, **kwargs):
            # called after load_model, which sets vocab_size
            tokenizer = super().load_tokenizer(tokenizer_class, path, **kwargs)
            return Padded(tokenizer, self.vocab_size)

    Converter(str(ckpt)).convert(str(out), quantization=quantization, force=True)


def ct2_vocabulary(folder: Path) -> list:
    """Token names by id, as ``ct2_convert`` wrote them (the Translator takes names)."""
    return json.loads((folder / "shared_vocabulary.json").read_text())


def build(work: Path, ct2: bool = False) -> None:
    """Save the random bart-small checkpoint and its exports (skipped if present); with
    ``ct2``, CTranslate2's two conversions too."""
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
    if ct2:
        for name, quant, _ in CT2.values():
            if not (work / name / "model.bin").is_file():
                ct2_convert(ckpt, work / name, quant)


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
    elif engine in CT2:
        import ctranslate2

        folder, _, compute_type = CT2[engine]  # the same types on a GPU: fp32 stays fp32
        # intra_threads=2 as ours (SessionConfig's default is every core: 2 here), one
        # batch at a time as the other engines
        model = ctranslate2.Translator(str(work / folder), device=device, compute_type=compute_type,
                                       intra_threads=2, inter_threads=1)
        names = ct2_vocabulary(work / folder)
        ids_of = {name: i for i, name in enumerate(names)}
        start_id = 2  # decoder_start_token_id of the checkpoint ("</s>"), as ours puts first

        def gen(ids):
            # min = max decoding length: exactly ``new`` tokens, the end token banned before
            # (CTranslate2 counts the tokens it writes, not the start token)
            res = model.translate_batch([[names[i] for i in row] for row in ids.tolist()],
                                        beam_size=1, max_decoding_length=new,
                                        min_decoding_length=new)
            return np.asarray([[start_id] + [ids_of[t] for t in r.hypotheses[0]] for r in res])
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
    tokens = {}  # the warm-up's ids, compared across engines by the parent
    for b in batch_sizes:
        out = gen(inputs(b, length))
        assert out.shape == (b, new + 1), out.shape
        tokens[str(b)] = np.asarray(out).tolist()
    print(json.dumps({"load_s": load_s, "tokens": tokens}), flush=True)
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
            loaded = worker.answer()
            results[engine] = {"engine": engine, "load_s": loaded["load_s"],
                               "tokens": loaded["tokens"],
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
        print(json.dumps({k: v for k, v in res.items() if k != "tokens"}), flush=True)
    return [results[w.engine] for w in workers]


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark. Read from /proc (VmHWM) because
    ru_maxrss survives exec on Linux and would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def same_tokens(results: list, reference: str = "ours-fp32") -> None:
    """Print, per engine and batch, whether its warm-up ids equal ``reference``'s (the same
    random inputs), else the first position that differs and in how many rows; stored in
    each batch's results as ``same_tokens_as_<reference>`` and
    ``first_difference_vs_<reference>``."""
    ref = next((r for r in results if r["engine"] == reference), None)
    if ref is None:
        return
    for r in results:
        if r is ref:
            continue
        for b, rows in r["tokens"].items():
            mine, theirs = np.asarray(rows), np.asarray(ref["tokens"][b])
            differ = mine != theirs
            rows_differ = int(differ.any(axis=1).sum())
            # the earliest differing position over all rows, and the row it is in
            at = np.where(differ.any(axis=1), differ.argmax(axis=1), mine.shape[1])
            row = int(at.argmin())
            first = int(at[row]) if rows_differ else None
            r["batches"][b][f"same_tokens_as_{reference}"] = first is None
            r["batches"][b][f"first_difference_vs_{reference}"] = first
            print(f"{r['engine']} vs {reference}, batch {b}: " + (
                "the same token ids" if first is None else
                f"{rows_differ} of {len(mine)} rows differ, the first at position {first} "
                f"(of {mine.shape[1]}, the start token at 0; row {row}): "
                f"{mine[row, first]} against {theirs[row, first]}"))


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
    for engine, module in PEERS.items():
        if engine in args.engines and not installed(module):
            print(f"skipping {engine}: {module} does not import "
                  "(pip install -r bench/requirements-peers.txt)", file=sys.stderr)
    args.engines = [e for e in args.engines if e not in PEERS or installed(PEERS[e])]
    work.mkdir(parents=True, exist_ok=True)
    build(work, ct2=any(e in CT2 for e in args.engines))
    results = run_all(args, work)
    imports = {name: import_time(stmt) for name, stmt in IMPORTS.items()
               if name not in PEERS.values() or installed(name)}
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
    same_tokens(results)
    # Repeat r of every engine ran back to back, so ratios within a repeat share the
    # machine's state; their spread shows how much the ratio itself moves.
    # CTranslate2 as the reference only for ours (the pairs that answer "are we as fast as
    # CTranslate2 at the same precision"), to keep the list short
    for ref in ("torch", "optimum", "ct2-fp32", "ct2-int8"):
        if ref not in base:
            continue
        for r in results:
            if r["engine"] == ref or (ref.startswith("ct2") and not r["engine"].startswith("ours")):
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
