"""Perplexity of the news model (SmolLM2 + the BBC news adapter) against the base model on
the BBC **test** articles, which neither the adapter's training nor its tuning saw.

    python bench/news_perplexity.py [--base DIR] [--news DIR] [--block 512] [--json FILE]

``--base``/``--news``: exported folders (default: the built-in models, prepared first with
``python -m generation setup --model default|news``). The articles of the test split
(deduplicated, ``i % 10 == 0``) are tokenized with the model's tokenizer, each followed
by the end-of-text token, concatenated and cut into blocks of ``--block`` tokens (the
last partial block dropped), exactly as ``python -m training causal-lm`` packs its
validation text. Perplexity is exp of the mean negative log-likelihood over every
predicted token (T - 1 per block), computed by our ONNX Runtime engine.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.builtin import DEFAULT_MODEL, NEWS_MODEL, ensure_model  # noqa: E402
from summarizer.evaluation.datasets import load_split  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"


def blocks(folder: Path, texts: list[str], size: int) -> np.ndarray:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    eos = json.loads((folder / "config.json").read_text())["eos_token_id"]
    eos = eos[0] if isinstance(eos, list) else eos
    stream: list[int] = []
    for text in texts:
        stream += tok.encode(text, add_special_tokens=False).ids + [eos]
    n = len(stream) // size
    return np.asarray(stream[:n * size], dtype=np.int64).reshape(n, size)


def perplexity(folder: Path, ids: np.ndarray, threads: int) -> dict:
    from runtime.causal import CausalOnnx
    from runtime.processors import log_softmax
    from runtime.session import SessionConfig

    model = CausalOnnx.load(folder, SessionConfig(intra_op_threads=threads))
    nll, n = 0.0, 0
    start = time.perf_counter()
    for row in ids:
        block = row[None, :]
        logp = log_softmax(model.all_logits(block, np.ones_like(block))[0, :-1])
        target = row[1:]
        nll -= float(logp[np.arange(len(target)), target].sum())
        n += len(target)
    return {"perplexity": float(np.exp(nll / n)), "mean_nll": nll / n, "tokens": n,
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, default=None)
    parser.add_argument("--news", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--block", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    base = args.base or ensure_model(model=DEFAULT_MODEL)
    news = args.news or ensure_model(model=NEWS_MODEL)
    articles = [p.article for p in load_split(args.data, "test")]
    ids = blocks(base, articles, args.block)
    assert np.array_equal(ids, blocks(news, articles, args.block)), "the tokenizers differ"
    results = {"articles": len(articles), "blocks": int(ids.shape[0]), "block": args.block,
               "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
               "base": {"folder": str(base), **perplexity(base, ids, args.threads)},
               "news": {"folder": str(news), **perplexity(news, ids, args.threads)}}
    results["reduction"] = 1 - results["news"]["perplexity"] / results["base"]["perplexity"]
    print(f"BBC test articles: {len(articles)}, {ids.shape[0]} blocks of {args.block} tokens")
    for name in ("base", "news"):
        r = results[name]
        print(f"{name:5} perplexity {r['perplexity']:7.3f}  ({r['tokens']} tokens, {r['seconds']:.0f} s)")
    print(f"news is {100 * results['reduction']:.1f}% lower")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
