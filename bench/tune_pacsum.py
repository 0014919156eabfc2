"""Grid-search PacSum's beta and lambda_before on the BBC *validation* split.

    python bench/tune_pacsum.py --data ../shared/data/bbc_news_summary/pairs.jsonl

Prints ROUGE-1/2/Lsum (F1 x 100) for every setting at the given budget; the best
setting by ROUGE-1 becomes PacSumConfig's default. Never run this on the test split.
"""
from __future__ import annotations

import argparse
import itertools
from concurrent.futures import ProcessPoolExecutor

from summarizer.evaluation.datasets import load_split
from summarizer.documents.loaders import document_from_text
from summarizer.methods.pacsum import PacSum, PacSumConfig
from summarizer.evaluation.rouge import aggregate, make_scorer, score_pair
from summarizer.types import Budget

BETAS = (0.0, 0.1, 0.3)
LAMBDAS = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)


def _run(args):
    pair, configs, budget = args
    scorer = make_scorer()
    doc = document_from_text(pair.article, source=pair.id)
    return [score_pair(pair.reference, PacSum(c)(doc, budget).text, scorer=scorer) for c in configs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--ratio", type=float, default=0.4)
    args = ap.parse_args()
    pairs = load_split(args.data, "validation")
    configs = [PacSumConfig(beta=b, lambda_before=l, lambda_after=1.0)
               for b, l in itertools.product(BETAS, LAMBDAS)]
    budget = Budget(ratio=args.ratio)
    with ProcessPoolExecutor(2) as pool:
        rows = list(pool.map(_run, [(p, configs, budget) for p in pairs], chunksize=8))
    results = []
    for k, c in enumerate(configs):
        agg = aggregate([r[k] for r in rows])
        results.append((agg["rouge1"].mean, agg["rouge2"].mean, agg["rougeLsum"].mean, c))
    for r1, r2, rl, c in sorted(results, key=lambda r: -r[0]):
        print(f"beta={c.beta:<4} lambda_before={c.lambda_before:<5} R1={r1:.2f} R2={r2:.2f} RLsum={rl:.2f}")


if __name__ == "__main__":
    main()
