"""Exports of models: a Hugging Face checkpoint -> an ONNX model folder for ``runtime/``.

    python -m export onnx MODEL --out DIR [--quantize int8] [--task seq2seq|causal-lm]

    from export import ExportConfig, export_onnx
    result = export_onnx("models/bart-tiny", out=Path("onnx/bart"), config=ExportConfig())

This is the one package that imports torch, transformers and optimum (``export_onnx``, a
GGUF file of another family than Llama); the inference packages (summarizer/, generation/,
runtime/) never import it and read only the folder it writes, described by
``condense_manifest.json`` (schema in ``export/manifest.py``). A GGUF Llama (the built-in
models) is written without them: ``gguf_llama.py``, with ``gguf``, ``onnx`` and numpy.
Names are imported on first use (PEP 562), so that importing one module of the package
(``export.manifest``, ``export.errors``) does not pull in torch.
"""
from importlib import import_module

_WHERE = {
    "ExportError": "errors",
    "MANIFEST_NAME": "manifest", "GraphSpec": "manifest", "Manifest": "manifest",
    "TensorSpec": "manifest", "read_manifest": "manifest",
    "ExportConfig": "config", "ExportResult": "config", "export_onnx": "onnx_export",
    "QuantizationReport": "quantize", "QuantizeConfig": "quantize", "quantize_folder": "quantize",
    "quantized_op_counts": "quantize",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'export' has no attribute {name!r}")
