"""Metrics of a run: one JSON object per line, and the curves drawn from them (PNG).

Two kinds of record, told apart by ``kind``: ``"train"`` after every optimizer step
(loss, learning rate, gradient norm before clipping, target tokens, seconds) and
``"eval"`` after every evaluation (validation loss and whatever the evaluate function
returned, e.g. ROUGE F1 x 100).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional


class MetricsLog:
    """Appends records to a JSONL file and flushes each, so a crash loses nothing written."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: Dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def records(self) -> List[Dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step``: a resumed run writes them again."""
        kept = [r for r in self.records() if r["step"] <= step]
        tmp = self.path.with_name(f".{self.path.name}.partial")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        tmp.replace(self.path)


def plot_curves(records: List[Dict[str, Any]], path: Path, *, title: Optional[str] = None) -> Path:
    """Training and validation loss against step, and ROUGE F1 (if evaluated) beside them."""
    # The object API with the Agg canvas: no pyplot, no global figure state, no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    rouge_keys = sorted({k for r in evals for k in r if k.startswith("rouge")})
    fig = Figure(figsize=(11 if rouge_keys else 6, 4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2 if rouge_keys else 1, squeeze=False)
    ax = axes[0][0]
    if train:
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], lw=0.8, alpha=0.6,
                label="train loss")
    val = [r for r in evals if "val_loss" in r]
    if val:
        ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-",
                label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy per target token")
    ax.legend()
    ax.grid(alpha=0.3)
    if rouge_keys:
        ax = axes[0][1]
        for k in rouge_keys:
            pts = [r for r in evals if k in r]
            ax.plot([r["step"] for r in pts], [r[k] for r in pts], "o-", label=k)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("ROUGE F1 x 100 (validation sample)")
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path
