"""Hugging Face checkpoint -> ONNX model folder for the runtime, with a manifest.

    from export import ExportConfig, export_onnx
    result = export_onnx("facebook/bart-large-cnn", out=Path("models/bart"),
                         config=ExportConfig(quantize="int8"))
    print(result.quantization.max_abs_logit_diff)

The export itself is Optimum's (``onnx_export_from_model``, the half of ``main_export``
after loading). We load the model ourselves because ``main_export`` cannot be told to read
safetensors only. ``no_post_process`` keeps the decoders as separate files: Optimum's
merged decoder does not quantize. What each task produces (Optimum's file names):

* seq2seq: ``encoder_model.onnx``, ``decoder_model.onnx`` and ``decoder_with_past_model.onnx``;
  BERT2BERT-style ``EncoderDecoderModel``s have no cache in Optimum ("does not need past
  key values"), so they get the first two only and ``has_past`` is false;
* causal-lm: one ``model.onnx`` that takes the cache as input; the first step feeds it a
  cache of length 0.

Seq2seq ``decoder_with_past`` takes no ``encoder_hidden_states``: cross-attention reads the
encoder keys/values cached by the first step (``past_key_values.{i}.encoder.*``), and it
returns only the decoder half of the cache (``present.{i}.decoder.*``).
"""
from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Tuple, Union

import numpy as np

from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerFast

from . import checkpoint
from .checkpoint import CAUSAL_LM, SEQ2SEQ
from .config import (DEFAULT_SAMPLE, QUANTIZE_CHOICES, SAMPLE_MAX_TOKENS,  # noqa: F401
                     ExportConfig, ExportResult)
from .errors import ExportError
from .fused import fuse_folder
from .manifest import MANIFEST_NAME, Manifest, package_versions, read_graph_spec, write_manifest
from .quantize import QuantizationReport, QuantizeConfig, Sample, quantize_folder
from .simplify import simplify_folder
from .staging import staged_folder

log = logging.getLogger(__name__)

# Model types Optimum exports without a cache (their decoders have no with-past ONNX config).
NO_PAST_MODEL_TYPES = ("encoder-decoder",)

# (task, has_past) -> (Optimum task, role -> file Optimum writes with no_post_process).
LAYOUTS: Dict[tuple, tuple] = {
    (SEQ2SEQ, True): ("text2text-generation-with-past", {
        "encoder": "encoder_model.onnx", "decoder": "decoder_model.onnx",
        "decoder_with_past": "decoder_with_past_model.onnx"}),
    (SEQ2SEQ, False): ("text2text-generation", {
        "encoder": "encoder_model.onnx", "decoder": "decoder_model.onnx"}),
    (CAUSAL_LM, True): ("text-generation-with-past", {"model": "model.onnx"}),
}


def export_onnx(source: Union[str, Path], *, out: Path,
                config: ExportConfig = ExportConfig(),
                residuals: Optional[Mapping[str, Tuple[np.ndarray, np.ndarray]]] = None,
                adapter: Optional[Path] = None) -> ExportResult:
    """Export ``source`` (a local model folder or a hub id) to the folder ``out``.

    ``residuals``: with ``quantize="q4"``, low-rank updates merged into ``source``'s
    weights (a LoRA adapter, ``export.adapter.onnx_residuals``), kept fp32 beside the
    4-bit base so the merged weights stay exact. ``adapter``: a LoRA adapter folder (PEFT's
    layout or ours, ``export/adapter.py``) merged into the weights after loading; with q4
    its updates become the residuals.

    ``out`` must be absent or empty. Everything is written to a hidden sibling folder first
    and renamed into place at the end, so ``out`` is never half-written.
    """
    source, out = str(source), Path(out)
    if config.quantize not in (None, *QUANTIZE_CHOICES):
        raise ExportError(source, f"unknown quantization {config.quantize!r}",
                          "Use int8 or q4, or none")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(source, f"the output {out} already exists and is not an empty folder",
                          "Remove it or choose another --out")
    if adapter is not None:  # a bad adapter should not cost a model load
        from .adapter import merge_adapter, onnx_residuals, read_adapter

        read_adapter(Path(adapter))
    loaded = _load(source, config)
    if adapter is not None:
        log.info("merging the LoRA adapter %s", adapter)
        merge_adapter(loaded.model, Path(adapter))
        loaded = replace(loaded, source=f"{source} + adapter {Path(adapter).resolve()}")
        if config.quantize == "q4" and residuals is None:
            residuals = onnx_residuals(Path(adapter))
    with staged_folder(out) as staging:
        manifest, report = _write(loaded, staging, config, residuals or {})
    return ExportResult(folder=out, manifest=manifest, quantization=report)


@dataclass(frozen=True)
class _Loaded:
    """A checked and loaded checkpoint, and the layout its export gets."""

    source: str
    task: str
    has_past: bool
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    generation: GenerationConfig


def _load(source: str, config: ExportConfig) -> _Loaded:
    """Every check that can fail, cheapest first: a bad folder or an unsupported model
    should not cost a model load."""
    folder = checkpoint.local_folder(source)
    if folder is not None:
        checkpoint.check_weights(folder, source)
    model_config = checkpoint.load_config(source)
    task = checkpoint.resolve_task(model_config, config.task, source)
    has_past = not (task == SEQ2SEQ and model_config.model_type in NO_PAST_MODEL_TYPES)
    _check_supported(model_config.model_type, LAYOUTS[(task, has_past)][0], task, source)
    with _quiet(config.quiet):
        tokenizer = checkpoint.load_tokenizer(source, folder)
        model = checkpoint.load_model(source, task)
    return _Loaded(source=source, task=task, has_past=has_past, model=model, tokenizer=tokenizer,
                   generation=checkpoint.generation_config(model, task, source))


def _write(loaded: _Loaded, staging: Path, config: ExportConfig,
           residuals: Mapping[str, Tuple[np.ndarray, np.ndarray]]
           ) -> Tuple[Manifest, Optional[QuantizationReport]]:
    """Graphs, tokenizer, generation config, quantized if asked, and the manifest, in
    ``staging``."""
    optimum_task, graphs = LAYOUTS[(loaded.task, loaded.has_past)]
    with _quiet(config.quiet):
        _run_optimum(loaded.model, staging, source=loaded.source, task=optimum_task,
                     has_past=loaded.has_past, config=config)
    loaded.tokenizer.save_pretrained(staging)  # after Optimum, whose copy may be slow-only
    loaded.generation.save_pretrained(staging)
    missing = [name for name in graphs.values() if not (staging / name).is_file()]
    assert not missing, f"Optimum did not write {missing}"
    sample = _sample(loaded, config.sample_text)
    fused = None
    if config.fuse and "decoder_with_past" in graphs:  # before quantization: fp32 weights
        fused = fuse_folder(staging, loaded.model, graphs=graphs, input_ids=sample.input_ids,
                            decoder_start_token_id=sample.decoder_start_token_id)
        if fused.kept_because:
            log.info("graphs kept as Optimum wrote them: %s", fused.kept_because)
    report = None
    if config.quantize:
        report = quantize_folder(staging, graphs=graphs, sample=sample, config=QuantizeConfig(
            method=config.quantize, per_channel=config.per_channel, residuals=residuals,
            q4_output=config.q4_output, q4_accuracy_level=config.q4_accuracy_level))
    # Fused graphs have no shape arithmetic left to fold.
    done = set(fused.nodes) if fused and not fused.kept_because else set()
    plain = {role: name for role, name in graphs.items() if role not in done}
    simplified = simplify_folder(staging, plain) if config.simplify else None
    manifest = Manifest(
        source=loaded.source, task=loaded.task, model_type=loaded.model.config.model_type,
        architecture=type(loaded.model).__name__, has_past=loaded.has_past,
        graphs={role: read_graph_spec(staging / name) for role, name in graphs.items()},
        quantization=None if report is None else report.to_json(),
        files=tuple(sorted(p.name for p in staging.iterdir() if p.name != MANIFEST_NAME)),
        versions=package_versions(),
        simplified=None if simplified is None else {r: s.to_json() for r, s in simplified.items()},
        fused=None if fused is None else fused.to_json(),
    )
    write_manifest(manifest, staging)
    return manifest, report


def _check_supported(model_type: str, optimum_task: str, task: str, source: str) -> None:
    import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configs)
    from optimum.exporters.tasks import TasksManager

    supported = set(TasksManager.get_supported_model_type_for_task(optimum_task, exporter="onnx"))
    if model_type in supported:
        return
    if task == CAUSAL_LM:  # Optimum also lists seq2seq models whose decoder exports alone
        supported -= set(TasksManager.get_supported_model_type_for_task(
            "text2text-generation", exporter="onnx"))
    raise ExportError(
        source, f"{model_type} models cannot be exported for {task}",
        f"Supported model types for {task}: {', '.join(sorted(supported))}",
    )


def _run_optimum(model: PreTrainedModel, staging: Path, *, source: str, task: str,
                 has_past: bool, config: ExportConfig) -> None:
    from optimum.exporters.onnx import onnx_export_from_model

    # main_export sets this from the task; the with-past graphs only trace with a cache.
    model.config.use_cache = has_past
    try:
        onnx_export_from_model(model=model, output=staging, task=task, opset=config.opset,
                               no_post_process=True, do_validation=config.validate)
    except (ValueError, RuntimeError) as e:
        raise ExportError(
            source, f"Optimum could not export it for {task} ({e})",
            "Check that the checkpoint loads and generates in transformers; a newer "
            "optimum-onnx may support it",
        ) from e


def _sample(loaded: _Loaded, text: str) -> Sample:
    ids = loaded.tokenizer(text, truncation=True, max_length=SAMPLE_MAX_TOKENS)["input_ids"]
    eos = loaded.generation.eos_token_id
    if eos is None:  # only for this sample: the tokenizer knows its end token
        eos = loaded.tokenizer.eos_token_id
    if not ids:  # an empty sample still needs one token; every family has an eos
        ids = [eos if isinstance(eos, int) else eos[0]]
    generation = loaded.generation  # a missing decoder start is bos, as generate has it
    start = ((generation.decoder_start_token_id if generation.decoder_start_token_id is not None
              else generation.bos_token_id) if loaded.task == SEQ2SEQ else None)
    return Sample(text=text, input_ids=tuple(ids), decoder_start_token_id=start)


@contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Silence Optimum's, transformers' and the ONNX tracer's warnings for the block only
    (tracer warnings about Python control flow are expected for these models)."""
    if not enabled:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("optimum", "transformers", "torch.onnx")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
