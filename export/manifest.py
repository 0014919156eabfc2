"""``condense_manifest.json``: what an exported folder holds, for the runtime to read.

The runtime reads the JSON directly (it never imports ``export/``); this module writes it
and reads it back for tests and tools. Schema (``format_version`` 1)::

    {
      "format": "condense-onnx", "format_version": 1,
      "source": "facebook/bart-large-cnn",      # model folder or hub id, as given
      "task": "seq2seq" | "causal-lm",
      "model_type": "bart", "architecture": "BartForConditionalGeneration",
      "has_past": true,                          # false: no decoder_with_past graph
      "graphs": {                                # role -> graph
        "encoder": {"file": "encoder_model.onnx",
                    "inputs": [{"name": "input_ids", "dtype": "int64",
                                "shape": ["batch_size", "encoder_sequence_length"]}, ...],
                    "outputs": [...]},
        "decoder": {...}, "decoder_with_past": {...}      # seq2seq
        # causal-lm: one role, "model" (model.onnx), first step fed an empty cache
      },
      "quantization": null | {"method": "dynamic-int8", "per_channel": false,
                              "max_abs_logit_diff": 0.01, "max_abs_logit": 1.2,
                              "sample": "...", "steps": [...], "files": [...]},
      "simplified": null | {"model": {"nodes_before": 8055, "nodes_after": 3456,
                                      "kept_because": null}},   # export/simplify.py
      "fused": null | {"graphs": {"decoder_with_past": {"nodes_before": 1102,  # export/
                                                        "nodes_after": 95}, ...},  # fused.py
                       "max_abs_logit_diff": 1e-06, "kept_because": null},
      "files": ["config.json", ...],             # every file in the folder but this one
      "versions": {"torch": "2.13.0", ...}
    }

Shapes hold an int for a fixed size and a string for a symbolic one. Cache tensors are
``(batch, heads, length, head_dim)``; a causal model's ``heads`` is its key/value head count
(fewer than its query heads under grouped-query attention). Causal graphs also take
``position_ids``, which the caller computes (0, 1, ... per row, skipping left padding).
When ``quantization`` is not null the graph files under the standard names ARE the int8
graphs; fp32 is not kept.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import onnx
from onnx import helper

MANIFEST_NAME = "condense_manifest.json"
FORMAT = "condense-onnx"
FORMAT_VERSION = 1
VERSIONED_PACKAGES = ("torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime",
                      "gguf")

Dim = Union[int, str]


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: ``shape`` mixes fixed sizes and symbolic names."""

    name: str
    dtype: str
    shape: Tuple[Dim, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX file of the folder and its interface, read from the file itself."""

    file: str
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]

    @property
    def input_names(self) -> Tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> Tuple[str, ...]:
        return tuple(t.name for t in self.outputs)

    def to_json(self) -> dict:
        return {"file": self.file, "inputs": [t.to_json() for t in self.inputs],
                "outputs": [t.to_json() for t in self.outputs]}


@dataclass(frozen=True)
class Manifest:
    """The folder's description; ``quantization`` is ``QuantizationReport.to_json()`` or None."""

    source: str
    task: str
    model_type: str
    architecture: str
    has_past: bool
    graphs: Dict[str, GraphSpec]
    quantization: Optional[dict]
    files: Tuple[str, ...]
    versions: Dict[str, Optional[str]]
    simplified: Optional[dict] = None  # role -> export.simplify.Simplified.to_json()
    fused: Optional[dict] = None  # export.fused.Fused.to_json() (seq2seq with a cache)

    def to_json(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "source": self.source,
            "task": self.task, "model_type": self.model_type, "architecture": self.architecture,
            "has_past": self.has_past,
            "graphs": {role: g.to_json() for role, g in self.graphs.items()},
            "quantization": self.quantization, "simplified": self.simplified,
            "fused": self.fused,
            "files": list(self.files),
            "versions": dict(self.versions),
        }


def _tensor(value: onnx.ValueInfoProto) -> TensorSpec:
    tensor_type = value.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else d.dim_param
                 for d in tensor_type.shape.dim)
    dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name
    return TensorSpec(name=value.name, dtype=dtype, shape=dims)


def read_graph_spec(path: Path) -> GraphSpec:
    """The inputs and outputs ``path`` declares (weights are not loaded)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    # Older exporters list weights among the inputs too; a caller feeds none of them.
    weights = {init.name for init in graph.initializer}
    return GraphSpec(
        file=path.name,
        inputs=tuple(_tensor(v) for v in graph.input if v.name not in weights),
        outputs=tuple(_tensor(v) for v in graph.output),
    )


def package_versions() -> Dict[str, Optional[str]]:
    """Installed versions of the packages an export depends on (None if absent)."""
    versions: Dict[str, Optional[str]] = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_manifest(manifest: Manifest, folder: Path) -> Path:
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: Path) -> Manifest:
    """The manifest of an exported folder, as written by ``write_manifest``."""
    data = json.loads((Path(folder) / MANIFEST_NAME).read_text(encoding="utf-8"))
    def tensors(specs: list) -> Tuple[TensorSpec, ...]:
        return tuple(TensorSpec(t["name"], t["dtype"], tuple(t["shape"])) for t in specs)

    graphs = {role: GraphSpec(file=g["file"], inputs=tensors(g["inputs"]),
                              outputs=tensors(g["outputs"]))
              for role, g in data["graphs"].items()}
    return Manifest(
        source=data["source"], task=data["task"], model_type=data["model_type"],
        architecture=data["architecture"], has_past=data["has_past"], graphs=graphs,
        quantization=data["quantization"], files=tuple(data["files"]), versions=data["versions"],
        simplified=data.get("simplified"),  # absent from folders exported before it
        fused=data.get("fused"),  # likewise
    )
