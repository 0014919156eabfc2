"""Whole-process time of `python -m summarizer summarize` on a one-page text, as people script
it over many files: interpreter start, imports, loading, summarizing, printing.

    python bench/cli_start.py [--file FILE] [--runs 7] [--methods textrank,ranker,lead]

Each method's command runs ``--runs`` times, interleaved (method A, B, C, A, B, C, ...) so
that a busy moment of the machine falls on all of them alike; the first round is a warm-up
(file cache) and is not counted. Prints the median, minimum and maximum per method, and
the biggest imports of one run by ``-X importtime``. Without ``--file``, a one-page text
written here (about 420 words of plain news prose) is used.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARAGRAPH = (
    "The city council approved the new budget on Monday after a long debate. The plan raises "
    "spending on schools by four percent and sets aside money for road repairs. Teachers "
    "welcomed the rise, saying classes had grown too large over the last five years. Critics "
    "said the council had ignored the state of the roads in the northern districts. The mayor "
    "promised to present the plan to residents at a public meeting next week. "
)


def command(file: Path, method: str) -> list:
    return [sys.executable, "-m", "summarizer", "summarize", str(file), "--method", method,
            "--sentences", "3"]


def timed(cmd: list) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def biggest_imports(cmd: list, top: int = 5) -> list:
    res = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    rows = []
    for line in res.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[1].isdigit() and not parts[2].startswith(" "):
            rows.append((int(parts[1]), parts[2]))
    top_level = [(us, name) for us, name in rows if "." not in name]
    return sorted(top_level, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", type=Path)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--methods", default="textrank,ranker,lead")
    args = ap.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        file = args.file or Path(tmp) / "one-page.txt"
        if args.file is None:
            file.write_text(PARAGRAPH * 6, encoding="utf-8")
        words = len(file.read_text(encoding="utf-8").split())
        times = {m: [] for m in methods}
        for round_ in range(args.runs + 1):
            for m in methods:
                t = timed(command(file, m))
                if round_:  # the first round warms the file cache
                    times[m].append(t)
        print(f"{file.name}: {words} words; {args.runs} runs per method, interleaved; "
              f"python {sys.version.split()[0]}")
        print("| method | median s | min s | max s |\n|---|---:|---:|---:|")
        for m in methods:
            ts = times[m]
            print(f"| {m} | {statistics.median(ts):.2f} | {min(ts):.2f} | {max(ts):.2f} |")
        for m in methods:
            tops = ", ".join(f"{name} {us / 1e6:.2f} s" for us, name in biggest_imports(command(file, m)))
            print(f"biggest imports ({m}): {tops}")


if __name__ == "__main__":
    main()
