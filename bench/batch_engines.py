"""The local engine and the Ray engine side by side: ``python -m summarizer batch`` wall time.

    python bench/batch_engines.py --data ../shared/data/bbc_news_summary/pairs.jsonl

Runs the real command line (process start, pool or Ray start-up, actor start and the
atomic write included) for each engine, ``--repeats`` times, interleaved so both see the
same background load, on the whole file and on its first document alone. The one-document
run is the fixed cost of an engine; (whole - one) / (documents - 1) is its cost per
document. Checks that both engines wrote the same bytes, and prints a Markdown table
(medians) and a JSON line with every time.
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
ENGINES = ("local", "ray")


def run_once(engine: str, data: Path, out: Path, args: argparse.Namespace) -> float:
    cmd = [sys.executable, "-m", "summarizer", "batch", str(data), "--out", str(out),
           "--method", args.method, "--ratio", str(args.ratio), "--workers", str(args.workers),
           "--engine", engine, "--no-progress"]
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - start
    if res.returncode != 0:
        sys.exit(f"{engine} failed:\n{res.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path, help="JSONL of {id, article}")
    ap.add_argument("--method", default="textrank")
    ap.add_argument("--ratio", type=float, default=0.2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    times = {(e, size): [] for e in ENGINES for size in ("one", "all")}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.jsonl"
        with args.data.open(encoding="utf-8") as f:
            one.write_text(next(f), encoding="utf-8")
        n = sum(1 for _ in args.data.open(encoding="utf-8"))
        for _ in range(args.repeats):
            for engine in ENGINES:
                loads.append(os.getloadavg()[0])
                times[engine, "all"].append(run_once(engine, args.data, Path(tmp) / f"{engine}.jsonl", args))
                times[engine, "one"].append(run_once(engine, one, Path(tmp) / f"{engine}-one.jsonl", args))
        outputs = [(Path(tmp) / f"{e}.jsonl").read_bytes() for e in ENGINES]
        assert outputs[0] == outputs[1], "the engines wrote different records"
        errors = sum(json.loads(line)["error"] is not None for line in outputs[0].splitlines())
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{n:,} documents, {args.method}, ratio {args.ratio}, {args.workers} workers, "
          f"median of {args.repeats}; identical output ({errors} error records); "
          f"1-min load average at each start: {', '.join(f'{x:.1f}' for x in loads)}\n")
    print("| engine | whole file (s) | docs/s | one document (s) | per document (ms) |")
    print("|---|---:|---:|---:|---:|")
    for e in ENGINES:
        per_doc = (med[e, "all"] - med[e, "one"]) / (n - 1) * 1000
        print(f"| {e} | {med[e, 'all']:.1f} | {n / med[e, 'all']:.0f} | {med[e, 'one']:.1f} | {per_doc:.2f} |")
    print(json.dumps({"documents": n, "method": args.method, "ratio": args.ratio,
                      "workers": args.workers, "loadavg": loads,
                      "times_s": {f"{e}/{s}": v for (e, s), v in times.items()}}))


if __name__ == "__main__":
    main()
