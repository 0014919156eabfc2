"""Graph simplification after export: fold the shape arithmetic the tracer leaves behind.

A traced transformer computes every reshape's target shape at run time (``Shape`` ->
``Gather`` -> ``Unsqueeze`` -> ``Concat``), once per layer, along with constants of the
rotary embedding and mask. On a small model decoding one token at a time those thousands
of tiny nodes cost as much as the matrix products (SmolLM2-135M: 8,055 nodes per step,
3,456 after this pass; see docs/BENCHMARKS.md). onnx-simplifier (Zhang et al., ``onnxsim``)
infers shapes symbolically, folds what is constant and removes duplicate subexpressions;
it evaluates the folded parts with onnxruntime, so the results are the same numbers.

Simplification is an optimization, never a requirement: a graph it cannot handle (or one
whose weights live in a side file, past protobuf's 2 GB) is kept as exported, and the
report says why.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional

import onnx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Simplified:
    """What happened to one graph: node counts before and after, or why it was kept."""

    nodes_before: int
    nodes_after: int
    kept_because: Optional[str] = None

    def to_json(self) -> dict:
        return {"nodes_before": self.nodes_before, "nodes_after": self.nodes_after,
                "kept_because": self.kept_because}


def simplify_graph(path: Path) -> Simplified:
    """Simplify the ONNX file ``path`` in place (see the module docstring)."""
    if any(path.parent.glob(f"{path.name}?data")):
        before = len(onnx.load(str(path), load_external_data=False).graph.node)
        return Simplified(before, before, "weights in a side file (over 2 GB)")
    model = onnx.load(str(path))
    before = len(model.graph.node)
    try:
        import onnxsim

        simplified, ok = onnxsim.simplify(model)
    except Exception as e:  # onnxsim raises plain exceptions of several kinds
        return Simplified(before, before, f"onnxsim failed: {type(e).__name__}: {e}"[:300])
    if not ok:
        return Simplified(before, before, "onnxsim's check of the result failed")
    onnx.save(simplified, str(path))
    return Simplified(before, len(simplified.graph.node))


def simplify_folder(folder: Path, graphs: Mapping[str, str]) -> Dict[str, Simplified]:
    """``simplify_graph`` on each graph file of ``folder`` (``graphs``: role -> file name)."""
    report = {}
    for role, name in graphs.items():
        report[role] = simplify_graph(folder / name)
        if report[role].kept_because:
            log.warning("%s kept as exported: %s", name, report[role].kept_because)
    return report
