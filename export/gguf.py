"""A GGUF file (llama.cpp's format) -> ONNX folder for the runtime.

    python -m export gguf SmolLM2-135M-Instruct.Q4_1.gguf --out DIR [--quantize q4|int8]
        [--adapter DIR] [--via-transformers]

Two routes, one folder layout (graph, tokenizer, configs, manifest, quantization report):

* **direct**, for a Llama with a byte-level BPE vocabulary (SmolLM2, the built-in models;
  Llama 3 style files): the weights are read with ``gguf`` (``gguf_llama.py``), a LoRA
  adapter is merged in numpy (``adapter.merge_weights``), the graph is written from the
  weights (``llama_graph.py``) and the tokenizer and configs from the header
  (``gguf_files.py``). numpy, gguf, onnx, onnxruntime and tokenizers only: the light
  install (requirements.txt) prepares the built-in models without torch.
* **through transformers**, for every other file (or with ``via_transformers``):
  transformers reads GGUF itself (``from_pretrained(folder, gguf_file=...)``), dequantizing
  every tensor to fp32; we save that as safetensors in a temporary folder and export it
  with ``export_onnx`` like any other checkpoint. Needs torch, transformers and optimum
  (requirements-train.txt). ``tests/test_gguf_llama.py`` holds the direct route to this
  one: same files, same logits and cache, same greedy tokens, same 4-bit weights.

What transformers' GGUF tokenizer conversion gets wrong for byte-level BPE models
(SmolLM2, checked against the original checkpoint's tokenizer.json), and what both routes
fix:

* it always prepends the bos token (a ``TemplateProcessing`` post-processor) even when the
  file says ``tokenizer.ggml.add_bos_token = false``: we follow the file;
* its decoder chain is SentencePiece's (ByteFallback, Fuse, "\u2581" -> " ") in front of
  ByteLevel: we keep ByteLevel alone, as the original tokenizer has;
* ChatML models (chat template with ``<|im_start|>``/``<|im_end|>``) come out with
  eos = ``<|im_start|>``, so generation would never stop at the end of a turn: eos becomes
  ``<|im_end|>`` in the tokenizer, config.json and generation_config.json (``eos_token``
  overrides this for other templates).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Optional

from .adapter import ADAPTER_FILES, merge_weights, onnx_residuals, read_adapter
from .config import SAMPLE_MAX_TOKENS, ExportConfig, ExportResult
from .errors import ExportError, require_training_packages
from .staging import staged_folder
from .manifest import (MANIFEST_NAME, Manifest, package_versions, read_graph_spec,
                       read_manifest, write_manifest)

log = logging.getLogger("export")

GRAPH = "model.onnx"


def gguf_metadata(path: Path) -> dict:
    """Scalar and string fields of a GGUF header (arrays such as the vocabulary left out)."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(str(path))
    out = {}
    for key, f in reader.fields.items():
        if f.types and f.types[0] == GGUFValueType.ARRAY:
            continue
        out[key] = f.contents()
    return out


def export_gguf(path: Path, *, out: Path,
                config: ExportConfig = ExportConfig(task="causal-lm", validate=False),
                eos_token: Optional[str] = None, adapter: Optional[Path] = None,
                via_transformers: bool = False) -> ExportResult:
    """Convert ``path`` and export it to ``out`` (absent or empty), directly when it is a
    Llama ``gguf_llama`` reads, else (or with ``via_transformers``) through transformers;
    the manifest's source is the GGUF file (and the adapter).

    On the transformers route Optimum's validation is off by default: on a 30-layer model
    its fixed tolerance (1e-5) flags ordinary float32 differences (up to 1e-3 in the
    logits) line after line; ``bench/generation_speed.py`` checks instead that our greedy
    tokens equal transformers'."""
    path, out = Path(path), Path(out)
    if not path.is_file():
        raise ExportError(str(path), "no such file", "Pass the path of a .gguf file")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(str(path), f"the output {out} already exists and is not an empty "
                          "folder", "Remove it or choose another --out")
    if adapter is not None:  # a bad adapter should not cost a model load
        read_adapter(adapter)
    reason = None
    if not via_transformers:
        from .gguf_llama import LlamaGGUF

        model = LlamaGGUF(path)
        reason = model.unsupported_reason()
    if via_transformers or reason is not None:
        if reason is not None:
            log.info("%s: %s; converting through transformers", path.name, reason)
        require_training_packages(f"{path}: converting it ({reason or 'via transformers'})")
        result = _export_through_transformers(path, out=out, config=config,
                                              eos_token=eos_token, adapter=adapter)
    else:
        result = _export_direct(model, out=out, config=config, eos_token=eos_token,
                                adapter=adapter)
    source = str(path.resolve()) + (f" + adapter {Path(adapter).resolve()}" if adapter else "")
    manifest = replace(read_manifest(result.folder), source=source)
    if adapter is not None:  # files beside the adapter (an LM summarizer's prompt format)
        extra = [f for f in sorted(Path(adapter).iterdir())
                 if f.is_file() and f.name not in ADAPTER_FILES]
        for f in extra:
            shutil.copyfile(f, result.folder / f.name)
        manifest = replace(manifest, files=tuple(sorted(set(manifest.files) | {f.name for f in extra})))
    write_manifest(manifest, result.folder)
    return replace(result, manifest=manifest)


def _export_direct(model, *, out: Path, config: ExportConfig, eos_token: Optional[str],
                   adapter: Optional[Path]) -> ExportResult:
    """The direct route (module docstring): everything is written to a hidden sibling of
    ``out`` and renamed into place at the end, as ``export_onnx`` does."""
    import onnx

    from .gguf_files import write_model_files
    from .llama_graph import build_llama_graph
    from .quantize import QuantizeConfig, quantize_folder

    if config.quantize not in (None, "int8", "q4"):
        raise ExportError(str(model.path), f"unknown quantization {config.quantize!r}",
                          "Use int8 or q4, or none")
    shape = model.shape
    with staged_folder(out) as staging:
        staging.mkdir()
        write_model_files(staging, source=model.path, shape=shape, vocab=model.vocabulary,
                          eos_token=eos_token)
        log.info("writing the graph of %s from its weights", model.path.name)
        weights = model.weights()
        if adapter is not None:
            log.info("merging the LoRA adapter %s (trained on %s)", adapter,
                     read_adapter(adapter)[0].base)
            merge_weights(weights, Path(adapter))
        graph = build_llama_graph(shape, weights)
        del weights
        onnx.save(graph, str(staging / GRAPH))
        del graph
        report = None
        if config.quantize:
            log.info("quantizing (%s)", config.quantize)
            residuals = (onnx_residuals(Path(adapter))
                         if adapter is not None and config.quantize == "q4" else {})
            report = quantize_folder(staging, graphs={"model": GRAPH},
                                     sample=_sample(staging, config.sample_text),
                                     config=QuantizeConfig(method=config.quantize,
                                                           per_channel=config.per_channel,
                                                           residuals=residuals,
                                                           q4_output=config.q4_output,
                                                           q4_accuracy_level=config.q4_accuracy_level))
        manifest = Manifest(
            source=str(model.path), task="causal-lm", model_type="llama",
            architecture="LlamaForCausalLM", has_past=True,
            graphs={"model": read_graph_spec(staging / GRAPH)},
            quantization=None if report is None else report.to_json(),
            files=tuple(sorted(p.name for p in staging.iterdir() if p.name != MANIFEST_NAME)),
            versions=package_versions())
        write_manifest(manifest, staging)
    return ExportResult(folder=out, manifest=manifest, quantization=report)


def _sample(folder: Path, text: str):
    """What the quantization error is measured on: ``text`` tokenized as the folder's
    tokenizer does (special tokens included), at most ``SAMPLE_MAX_TOKENS`` ids."""
    from tokenizers import Tokenizer

    from .quantize import Sample

    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids[:SAMPLE_MAX_TOKENS]
    return Sample(text=text, input_ids=tuple(ids) or (0,))


def _export_through_transformers(path: Path, *, out: Path, config: ExportConfig,
                                 eos_token: Optional[str], adapter: Optional[Path]
                                 ) -> ExportResult:
    from .onnx_export import export_onnx

    with tempfile.TemporaryDirectory(prefix="condense-gguf-") as tmp:
        log.info("converting %s to a safetensors checkpoint", path.name)
        ckpt = convert_gguf(path, out=Path(tmp) / "checkpoint", eos_token=eos_token,
                            adapter=adapter)
        log.info("exporting to ONNX%s",
                 f", quantized ({config.quantize})" if config.quantize else "")
        # q4 keeps the adapter's update beside the base's 4-bit grid (export/q4.py)
        q4_adapter = adapter is not None and config.quantize == "q4"
        residuals = onnx_residuals(adapter) if q4_adapter else None
        return export_onnx(str(ckpt), out=out, config=replace(config, task="causal-lm"),
                           residuals=residuals)


def convert_gguf(path: Path, *, out: Path, eos_token: Optional[str] = None,
                 adapter: Optional[Path] = None) -> Path:
    """Write ``out``: fp32 safetensors weights, config, generation config and a fixed fast
    tokenizer (see the module docstring) from the GGUF file ``path``, with the LoRA
    ``adapter`` folder (PEFT's layout or ours, ``export/adapter.py``) merged into the
    weights when given: the transformers route (torch). Returns ``out``."""
    import torch
    from tokenizers import decoders, pre_tokenizers
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    from .gguf_files import byte_level_post_processor, reply_end
    from .onnx_export import _quiet

    path = Path(path)
    if not path.is_file():
        raise ExportError(str(path), "no such file", "Pass the path of a .gguf file")
    meta = gguf_metadata(path)
    try:
        with _quiet(True):  # transformers' notes on legacy tokenizer behaviour do not apply
            hf_tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                         dtype=torch.float32)
    except (ValueError, OSError, KeyError, NotImplementedError) as e:
        raise ExportError(str(path), f"transformers cannot load it ({str(e).splitlines()[0]})",
                          "Check that its architecture is one transformers reads from GGUF "
                          "(llama, mistral, qwen2, gpt2, ...) and that accelerate is "
                          "installed") from e
    backend = hf_tok.backend_tokenizer
    if isinstance(backend.pre_tokenizer, pre_tokenizers.ByteLevel):
        backend.post_processor = byte_level_post_processor(
            hf_tok.bos_token, hf_tok.bos_token_id,
            bool(meta.get("tokenizer.ggml.add_bos_token", False)))
        backend.decoder = decoders.ByteLevel()
    eos_token = reply_end(hf_tok.chat_template, eos_token, hf_tok.eos_token)
    eos_id = backend.token_to_id(eos_token)
    if eos_id is None:
        raise ExportError(str(path), f"the end token {eos_token!r} is not in its vocabulary",
                          "Pass --eos-token with a token the model ends its turns with")
    context = meta.get(f"{meta.get('general.architecture')}.context_length")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=hf_tok.bos_token, eos_token=eos_token,
        pad_token=hf_tok.pad_token or eos_token, unk_token=hf_tok.unk_token,
        model_max_length=int(context) if context else model.config.max_position_embeddings,
        chat_template=hf_tok.chat_template, clean_up_tokenization_spaces=False)
    model.config.eos_token_id = eos_id
    model.generation_config.eos_token_id = eos_id
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = eos_id
    if adapter is not None:
        from .adapter import merge_adapter, read_adapter

        log.info("merging the LoRA adapter %s (trained on %s)", adapter,
                 read_adapter(adapter)[0].base)
        merge_adapter(model, adapter)
    model.config.name_or_path = path.stem
    out.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out
