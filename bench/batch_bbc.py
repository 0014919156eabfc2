"""Wall time of ``python -m summarizer batch`` over all 2,225 BBC articles.

    python bench/batch_bbc.py --data ../shared/data/bbc_news_summary/pairs.jsonl

Runs the real command line (process start, pool start-up and the atomic write
included) ``--repeats`` times into a fresh output each time and reports the median.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--method", default="textrank")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            out = Path(tmp) / f"run{i}.jsonl"
            cmd = [sys.executable, "-m", "summarizer", "batch", args.data, "--out", str(out),
                   "--method", args.method, "--workers", str(args.workers), "--no-progress"]
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
            n = sum(1 for _ in out.open())
            errors = sum(json.loads(l)["error"] is not None for l in out.open())
    med = statistics.median(times)
    print(json.dumps({"documents": n, "errors": errors, "workers": args.workers,
                      "method": args.method, "times_s": times, "median_s": med,
                      "docs_per_s": n / med}))


if __name__ == "__main__":
    main()
