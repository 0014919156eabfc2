"""Exports of models: a Hugging Face checkpoint -> an ONNX model folder for ``runtime/``.

    python -m export onnx MODEL --out DIR [--quantize int8] [--task seq2seq|causal-lm]

    from export import ExportConfig, export_onnx
    result = export_onnx("models/bart-tiny", out=Path("onnx/bart"), config=ExportConfig())

This is the one package that imports torch, transformers and optimum; the inference
packages (summarizer/, generation/, runtime/) never import it and read only the folder it
writes, described by ``condense_manifest.json`` (schema in ``export/manifest.py``).
"""
from .errors import ExportError
from .manifest import MANIFEST_NAME, GraphSpec, Manifest, TensorSpec, read_manifest
from .onnx_export import ExportConfig, ExportResult, export_onnx
from .quantize import QuantizationReport, QuantizeConfig, quantize_folder, quantized_op_counts

__all__ = [
    "ExportConfig", "ExportError", "ExportResult", "GraphSpec", "MANIFEST_NAME", "Manifest",
    "QuantizationReport", "QuantizeConfig", "TensorSpec", "export_onnx", "quantize_folder",
    "quantized_op_counts", "read_manifest",
]
