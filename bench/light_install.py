"""From ``git clone`` to the first summary, as a new user gets there: each step timed, and
the size and contents of the light ``.venv`` that ``make run`` installs.

    python bench/light_install.py [--repo PATH_OR_URL] [--patch FILE] [--dest DIR] [--port N]

Steps, in a fresh clone at ``--dest``: ``git clone``; ``make venv`` (requirements.txt and
requirements-nodeps.txt into a new .venv: no torch); ``make models`` (the three built-in
models, GGUF -> ONNX, into ``DIR/cache`` through ``CONDENSE_CACHE``, so the user's cache is
untouched); the first summary of a 600-word article with the default method, then with
the built-in abstractive summarizer; and ``make run`` until the app answers its health
check (then it is stopped). ``--patch``: a ``git diff`` applied after the clone (to measure
a change not committed yet). One run: every step is a one-time cost, and a second run
would find pip's download cache warm; say which wheels came from a local cache.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


CPU: dict = {}  # step -> CPU seconds (user + system) of its processes


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd, *, cwd: Path, env: dict, step: str = "") -> float:
    """Wall seconds of ``cmd``; its CPU seconds (every process it waited for) go to CPU,
    which a machine busy with other work does not inflate as much."""
    start, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    CPU[step] = _cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n"
                         f"{done.stdout[-1500:]}\n{done.stderr[-3000:]}")
    return seconds


def size_mb(folder: Path) -> float:
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total / 1e6


def article(dest: Path) -> Path:
    pairs = ROOT.parent / "shared" / "data" / "bbc_news_summary" / "pairs.jsonl"
    text = None
    if pairs.is_file():
        for line in pairs.read_text(encoding="utf-8").splitlines():
            candidate = json.loads(line)["article"]
            if 550 <= len(candidate.split()) <= 650:
                text = candidate
                break
    if text is None:
        sys.path.insert(0, str(ROOT))
        from bench.heldout_texts import TEXTS

        text = "\n\n".join(TEXTS)
    path = dest / "article.txt"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", default=str(ROOT))
    parser.add_argument("--patch", type=Path, default=None)
    parser.add_argument("--dest", type=Path, default=Path("/tmp/condense-light"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--json", type=Path,
                        default=ROOT / "bench" / "results" / "light-install.json")
    args = parser.parse_args()
    shutil.rmtree(args.dest, ignore_errors=True)
    args.dest.mkdir(parents=True)
    clone = args.dest / "condense"
    env = {**os.environ, "CONDENSE_CACHE": str(args.dest / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("VIRTUAL_ENV", None)
    steps = {}
    load_before = os.getloadavg()
    steps["git clone"] = timed(["git", "clone", "--quiet", args.repo, str(clone)], cwd=args.dest,
                               env=env, step="git clone")
    if args.patch:
        timed(["git", "apply", str(args.patch.resolve())], cwd=clone, env=env, step="git apply")
    name = "make venv (light install)"
    steps[name] = timed(["make", "venv"], cwd=clone, env=env, step=name)
    venv = clone / ".venv"
    py = venv / "bin" / "python"
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format", "json"], capture_output=True,
                            text=True, check=True).stdout
    packages = {p["name"].lower(): p["version"] for p in json.loads(listed)}
    name = "make models (3 built-in models)"
    steps[name] = timed(["make", "models"], cwd=clone, env=env, step=name)
    doc = article(args.dest)
    name = "first summary (default method)"
    steps[name] = timed([str(py), "-m", "summarizer", "summarize", str(doc)], cwd=clone, env=env,
                        step=name)
    name = "first abstractive summary (built-in)"
    steps[name] = timed([str(py), "-m", "summarizer", "summarize", str(doc), "--method",
                         "abstractive"], cwd=clone, env=env, step=name)
    start = time.perf_counter()
    app = subprocess.Popen(["make", "run", f"PORT={args.port}"], cwd=clone, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/_stcore/health",
                                            timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if app.poll() is not None or time.perf_counter() - start > 180:
                raise SystemExit("make run did not answer its health check")
            time.sleep(0.25)
        steps["make run until the app answers (models ready)"] = time.perf_counter() - start
    finally:
        os.killpg(app.pid, signal.SIGTERM)  # make and the streamlit it started, ours only
        app.wait(timeout=30)
    until_summary = sum(v for k, v in steps.items() if not k.startswith("make run"))
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(), "steps_s": {k: round(v, 1) for k, v in steps.items()},
        "steps_cpu_s": {k: round(v, 1) for k, v in CPU.items()},
        "load_average_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "clone_to_first_abstractive_summary_s": round(until_summary, 1),
        "venv_mb": round(size_mb(venv)), "packages": len(packages),
        "heavy_packages_present": sorted(p for p in packages if p in (
            "torch", "transformers", "optimum", "optimum-onnx", "onnxsim", "accelerate", "peft",
            "sentence-transformers")),
        "largest": sorted(((round(size_mb(d)), d.name) for d in
                           (venv / "lib").glob("python*/site-packages/*") if d.is_dir()),
                          reverse=True)[:8],
        "cache_mb": round(size_mb(args.dest / "cache")),
    }
    print(json.dumps(report, indent=1))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
