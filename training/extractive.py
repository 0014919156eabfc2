"""Train the learned extractive ranker (``summarizer/methods/ranker.py``).

Three steps anyone can audit, each resumable:

1. ``prepare``: for every suite set with a train split, split each article into the
   units the summarizer uses, compute ``sentence_features`` and label the greedy ROUGE
   oracle's sentences (``training/oracle.py``) under the set's own budget. One ``.npz`` per
   set and split under ``OUT/features/``; a file already there is reused. The validation
   splits are prepared too (capped), for early stopping only.
2. ``fit``: a small MLP scores each sentence; the loss is listwise (Cao et al. 2007,
   ListNet: cross-entropy between the softmax of a document's scores and its oracle
   labels made a distribution), because the summarizer takes the best sentences of each
   document, not those above a threshold. Documents are weighted so that every set
   counts alike, whatever its size. AdamW; the epoch with the lowest validation loss
   wins. Three networks from three seeds; the ranker's score is their mean.
   Before it, the salience lexicon (``training/lexicon.py``) is fitted on the same
   labels, cross-fitted for the training rows.
3. ``export``: normalization and the MLP written as an ONNX graph with ``onnx.helper``
   (MatMul, Add, Relu), so the summarizer runs it on onnxruntime without torch, and the
   lexicon as ``lexicon.json``; ``config.json`` records the features, data, sizes and
   losses.

    python -m training extractive --data ../shared/data --out runs/ranker [--resume]
"""
from __future__ import annotations

import gzip
import json
import logging
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from summarizer.evaluation.datasets import Pair, load_pairs, load_split
from summarizer.errors import CondenseError
from summarizer.documents.loaders import document_from_text
from summarizer.methods.ranker import (LEXICON_TOKENS, FEATURES, base_features, salience,
                                       salience_ranks)
from summarizer.nlp import tokenizer_for
from summarizer.evaluation.suite import SETS, SuiteSet
from summarizer.types import Budget

from .lexicon import cross_fitted, fit_lexicon
from .oracle import greedy_oracle, rouge_tokens

log = logging.getLogger("training")


@dataclass(frozen=True)
class ExtractiveConfig:
    # documents per set and split (train, validation); the first ones in file order
    max_train_docs: int = 3000
    max_validation_docs: int = 300
    # SumPubMed's papers have ~180 units each and a 275-word oracle: 0.35 s per paper
    max_long_docs: int = 200
    hidden: Tuple[int, ...] = (64, 32)
    epochs: int = 40
    batch_docs: int = 128
    lr: float = 3e-3
    # relative weight of a set's documents in the loss and the lexicon (default 1 each:
    # every set counts alike, whatever its size)
    set_weights: Tuple[Tuple[str, float], ...] = ()
    weight_decay: float = 1e-4
    seed: int = 0
    # MLPs trained from seeds seed, seed + 1, ...; the score is their mean, which steadies
    # the ranking of sets with few training documents (SciTLDR's 1,984)
    members: int = 3
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


def train_path(s: SuiteSet) -> str:
    """Where a suite set's train split would be (CSL has none: the file is absent)."""
    if s.bbc_split:
        return s.path
    return s.path.replace("validation.jsonl.gz", "train.jsonl.gz")


def load_set_split(root: Path, s: SuiteSet, split: str) -> List[Pair]:
    if s.bbc_split:
        return load_split(root / s.path, split)
    path = root / (s.path if split == "validation" else train_path(s))
    return load_pairs(path) if path.is_file() else []


def oracle_limits(budget: Budget, n: int) -> Tuple[int, Optional[int]]:
    """(max sentences, max words) of the oracle for a document of ``n`` units."""
    if budget.sentences is not None:
        return budget.sentences, None
    if budget.ratio is not None:
        return max(1, int(round(budget.ratio * n))), None
    return n, budget.words


def labelled_units(pair: Pair, budget: Budget) -> Optional[Tuple[List[str], np.ndarray, np.ndarray,
                                                                  List[List[str]]]]:
    """(unit texts, base features (n, F0), oracle labels (n,), each unit's lexicon tokens)
    of one pair, None when it cannot be read or has fewer than two units to rank."""
    try:
        doc = document_from_text(pair.article, source=pair.id)
    except CondenseError:
        return None
    tok = tokenizer_for(doc.lang)
    sentences = tok.sentences(doc.text)
    if len(sentences) < 2:
        return None  # nothing to rank
    max_sentences, max_words = oracle_limits(budget, len(sentences))
    picked = greedy_oracle([rouge_tokens(s.text) for s in sentences], rouge_tokens(pair.summary),
                           max_sentences=max_sentences, max_words=max_words)
    labels = np.zeros(len(sentences), dtype=np.float32)
    labels[picked] = 1.0
    x, tokens = base_features(sentences, tok, budget)
    return [s.text for s in sentences], x, labels, tokens


def _one(args) -> Optional[Tuple[np.ndarray, np.ndarray, List[str]]]:
    """Worker: (base features, labels, each unit's lexicon tokens as one line) of one
    (pair, budget), None when it cannot be read."""
    units = labelled_units(*args)
    if units is None:
        return None
    _, x, labels, tokens = units
    return x, labels, [" ".join(t) for t in tokens]


def terms_path(npz: Path) -> Path:
    return npz.with_suffix(".terms.txt.gz")


def prepare(root: Path, out: Path, config: ExtractiveConfig) -> Dict[str, Path]:
    """Feature files ``OUT/features/SET.SPLIT.npz`` (x, y, doc), made once each."""
    folder = out / "features"
    folder.mkdir(parents=True, exist_ok=True)
    made: Dict[str, Path] = {}
    for s in SETS:
        for split, cap in (("train", config.max_train_docs), ("validation", config.max_validation_docs)):
            path = folder / f"{s.name}.{split}.npz"
            if path.is_file():
                made[f"{s.name}.{split}"] = path
                continue
            if s.budget.words is not None:
                cap = min(cap, config.max_long_docs)
            pairs = load_set_split(root, s, split)[:cap]
            if not pairs:
                continue
            t0 = time.time()
            jobs = [(p, s.budget) for p in pairs]
            if config.workers > 1:
                with ProcessPoolExecutor(config.workers) as pool:
                    rows = list(pool.map(_one, jobs, chunksize=16))
            else:
                rows = [_one(j) for j in jobs]
            rows = [r for r in rows if r is not None and r[1].sum() > 0]
            x = np.concatenate([r[0] for r in rows])
            y = np.concatenate([r[1] for r in rows])
            doc = np.concatenate([np.full(len(r[1]), i, dtype=np.int32) for i, r in enumerate(rows)])
            # terms first: the .npz is what marks the set as done
            with gzip.open(terms_path(path), "wt", encoding="utf-8") as f:
                f.writelines(line + "\n" for r in rows for line in r[2])
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, x=x, y=y, doc=doc)
            os.replace(tmp, path)  # a half-written file is never taken for a finished one
            made[f"{s.name}.{split}"] = path
            log.info("%s/%s: %d documents, %d units, %.0f s", s.name, split, len(rows), len(y),
                     time.time() - t0)
    return made


# -- the model ------------------------------------------------------------------------


@dataclass
class Rows:
    """Units of several sets: base features, labels, document ids (unique over the sets,
    ascending), per-document weights that give every set the same total, terms lines."""

    x: np.ndarray
    y: np.ndarray
    doc: np.ndarray
    doc_weight: np.ndarray
    terms: List[str]


def load_rows(paths: Sequence[Path], set_weights: Mapping[str, float] = {}) -> Rows:
    xs, ys, docs, weights, terms = [], [], [], [], []
    offset = 0
    for p in paths:
        d = np.load(p)
        n_docs = int(d["doc"].max()) + 1
        xs.append(d["x"])
        ys.append(d["y"])
        docs.append(d["doc"] + offset)
        share = set_weights.get(p.name.split(".")[0], 1.0)
        weights.append(np.full(n_docs, share / n_docs, dtype=np.float32))
        with gzip.open(terms_path(p), "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")[:-1]
        assert len(lines) == len(d["y"]), p
        terms += lines
        offset += n_docs
    return Rows(np.concatenate(xs), np.concatenate(ys), np.concatenate(docs),
                np.concatenate(weights) / len(paths), terms)


def with_salience(rows: Rows, lexicons: Sequence[Dict[str, float]]) -> np.ndarray:
    """Full features: base plus salience and its ranks within each document, row r scored
    with ``lexicons[pick(r)]`` where one lexicon serves all rows, or two (cross-fitted)
    serve by document parity."""
    sal = np.zeros((len(rows.y), 2), dtype=np.float32)
    split = [line.split() for line in rows.terms]
    if len(lexicons) == 1:
        sal[:] = salience(split, lexicons[0])
    else:
        for parity in (0, 1):
            idx = np.flatnonzero(rows.doc % 2 == parity)
            sal[idx] = salience([split[i] for i in idx], lexicons[1 - parity])
    ranks = np.zeros_like(sal)
    starts = np.flatnonzero(np.r_[True, rows.doc[1:] != rows.doc[:-1], True])
    for a, b in zip(starts[:-1], starts[1:]):
        ranks[a:b] = salience_ranks(sal[a:b])
    return np.concatenate([rows.x, sal, ranks], axis=1)


def listwise_loss(scores, labels, seg, n_docs, doc_weight):
    """ListNet loss: per document, -sum_i p_i log softmax(scores)_i with p = labels / sum.
    ``seg`` (M,) maps each row to its document 0..n_docs-1; returns the weighted mean."""
    import torch

    mx = torch.full((n_docs,), -1e30).scatter_reduce(0, seg, scores, "amax", include_self=True)
    z = torch.zeros(n_docs).index_add(0, seg, torch.exp(scores - mx[seg]))
    logp = scores - (mx + torch.log(z))[seg]
    total = torch.zeros(n_docs).index_add(0, seg, labels)
    per_doc = -torch.zeros(n_docs).index_add(0, seg, labels / total[seg] * logp)
    return (per_doc * doc_weight).sum() / doc_weight.sum()


def make_mlp(n_in: int, hidden: Sequence[int]):
    import torch

    layers: List = []
    for h in hidden:
        layers += [torch.nn.Linear(n_in, h), torch.nn.ReLU()]
        n_in = h
    layers.append(torch.nn.Linear(n_in, 1))
    return torch.nn.Sequential(*layers)


Layers = List[Tuple[np.ndarray, np.ndarray]]  # (weight (in, out), bias (out,)) per Linear


@dataclass
class FitResult:
    mean: np.ndarray
    std: np.ndarray
    members: List[Layers]  # one MLP per seed; the ranker's score is their mean
    lexicon: Dict[str, float]
    best_epochs: List[int]
    train_losses: List[float]
    validation_losses: List[float]
    curves: List[List[Tuple[int, float, float]]]


def _train_member(seed: int, data, config: ExtractiveConfig):
    """One MLP from ``seed``: (layers, best epoch, its train and validation loss, curve)."""
    import torch

    tx, ty, w, starts, vtx, vty, vtdoc, vw = data
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_docs, n_val = len(starts) - 1, int(vtdoc.max()) + 1
    model = make_mlp(tx.shape[1], config.hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    best = (math.inf, -1, None, math.inf)
    curve = []
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(n_docs)
        total = 0.0
        for b in range(0, n_docs, config.batch_docs):
            docs = order[b:b + config.batch_docs]
            rows = np.concatenate([np.arange(starts[d], starts[d + 1]) for d in docs])
            seg = torch.from_numpy(np.repeat(np.arange(len(docs)), starts[docs + 1] - starts[docs]))
            scores = model(tx[rows]).squeeze(-1)
            loss = listwise_loss(scores, ty[rows], seg, len(docs), torch.from_numpy(w[docs]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(docs)
        model.eval()
        with torch.no_grad():
            v = float(listwise_loss(model(vtx).squeeze(-1), vty, vtdoc, n_val, torch.from_numpy(vw)))
        curve.append((epoch, total / n_docs, v))
        log.info("seed %d, epoch %d: train %.4f, validation %.4f", seed, epoch, total / n_docs, v)
        if v < best[0]:
            state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            best = (v, epoch, state, total / n_docs)
    model.load_state_dict(best[2])
    layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
              for m in model if isinstance(m, torch.nn.Linear)]
    return layers, best[1], best[3], best[0], curve


def fit(train: Sequence[Path], validation: Sequence[Path], config: ExtractiveConfig) -> FitResult:
    import torch

    tr, va = load_rows(train, dict(config.set_weights)), load_rows(validation, dict(config.set_weights))
    t0 = time.time()
    row_weight = tr.doc_weight[tr.doc]
    lexicon = fit_lexicon(tr.terms, tr.y, row_weight)
    x = with_salience(tr, cross_fitted(tr.terms, tr.y, row_weight, tr.doc))
    vx = with_salience(va, [lexicon])
    log.info("lexicon: %d terms, %.0f s (three fits: all rows, and one per fold)", len(lexicon),
             time.time() - t0)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)

    def norm(x_):
        return torch.from_numpy((x_ - mean) / std).float()

    n_docs = int(tr.doc.max()) + 1
    starts = np.searchsorted(tr.doc, np.arange(n_docs + 1))  # rows of doc d: starts[d]:starts[d+1]
    data = (norm(x), torch.from_numpy(tr.y).float(), tr.doc_weight, starts,
            norm(vx), torch.from_numpy(va.y).float(), torch.from_numpy(va.doc.astype(np.int64)),
            va.doc_weight)
    runs = [_train_member(config.seed + k, data, config) for k in range(config.members)]
    return FitResult(mean.astype(np.float32), std, [r[0] for r in runs], lexicon,
                     [r[1] for r in runs], [r[2] for r in runs], [r[3] for r in runs],
                     [r[4] for r in runs])


def score_numpy(fitted: FitResult, x: np.ndarray) -> np.ndarray:
    """The ranker's scores computed as the trained networks compute them (float32)."""
    out = []
    for layers in fitted.members:
        h = (x.astype(np.float32) - fitted.mean) / fitted.std
        for i, (wt, b) in enumerate(layers):
            h = h @ wt + b
            if i < len(layers) - 1:
                h = np.maximum(h, 0.0)
        out.append(h.reshape(-1))
    return np.mean(out, axis=0)


def to_onnx(fitted: FitResult, path: Path) -> None:
    """features (n, F) float32 -> scores (n,) float32: (x - mean) / std, then each MLP,
    then their mean."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    k = len(fitted.members)
    inits = [numpy_helper.from_array(fitted.mean, "mean"), numpy_helper.from_array(fitted.std, "std"),
             numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat"),
             numpy_helper.from_array(np.array(1.0 / k, dtype=np.float32), "inv_members")]
    nodes = [helper.make_node("Sub", ["features", "mean"], ["centred"]),
             helper.make_node("Div", ["centred", "std"], ["h0"])]
    outs = []
    for j, layers in enumerate(fitted.members):
        h = "h0"
        for i, (wt, b) in enumerate(layers):
            w_name, b_name = f"m{j}_w{i}", f"m{j}_b{i}"
            inits += [numpy_helper.from_array(wt.astype(np.float32), w_name),
                      numpy_helper.from_array(b.astype(np.float32), b_name)]
            nodes += [helper.make_node("MatMul", [h, w_name], [f"m{j}_mm{i}"]),
                      helper.make_node("Add", [f"m{j}_mm{i}", b_name], [f"m{j}_a{i}"])]
            h = f"m{j}_a{i}"
            if i < len(layers) - 1:
                nodes.append(helper.make_node("Relu", [h], [f"m{j}_r{i}"]))
                h = f"m{j}_r{i}"
        outs.append(h)
    nodes += [helper.make_node("Sum", outs, ["total"]),
              helper.make_node("Mul", ["total", "inv_members"], ["mean_score"]),
              helper.make_node("Reshape", ["mean_score", "flat"], ["scores"])]
    graph = helper.make_graph(
        nodes, "extractive_ranker",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", len(fitted.mean)])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="condense-training")
    model.ir_version = 8  # onnxruntime 1.32 reads it; newer IRs gain nothing here
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def train_extractive(root: Path, out: Path, config: ExtractiveConfig, *, resume: bool = False) -> Path:
    """Prepare (or reuse, with ``resume``), fit and export; returns the model folder."""
    if (out / "features").exists() and not resume:
        raise CondenseError(f"{out}: already holds features; pass --resume to reuse them, "
                            "or choose another --out")
    made = prepare(root, out, config)
    train = [made[k] for k in sorted(made) if k.endswith(".train")]
    validation = [made[k] for k in sorted(made) if k.endswith(".validation")]
    if not train:
        raise CondenseError(f"{root}: no train split of any suite set found; pass the folder "
                            "that holds bbc_news_summary/ and multidomain/")
    fitted = fit(train, validation, config)
    model_dir = out / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    to_onnx(fitted, model_dir / "model.onnx")
    (model_dir / "lexicon.json").write_text(json.dumps(
        {"weights": dict(sorted(fitted.lexicon.items()))}, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = {k: int(np.load(p)["doc"].max()) + 1 for k, p in made.items()}
    (model_dir / "config.json").write_text(json.dumps({
        "features": list(FEATURES),
        "lexicon_tokens": LEXICON_TOKENS,
        "hidden": list(config.hidden),
        "documents": counts,
        "members": len(fitted.members),
        "best_epochs": fitted.best_epochs,
        "train_losses": fitted.train_losses,
        "validation_losses": fitted.validation_losses,
        "settings": asdict(config),
    }, indent=1) + "\n", encoding="utf-8")
    (out / "curve.json").write_text(json.dumps(fitted.curves) + "\n", encoding="utf-8")
    return model_dir
