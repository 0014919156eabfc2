"""Domain text generation with causal LMs on ONNX Runtime.

    from generation import Generator, get_preset
    gen = Generator.load("models/smollm2")                 # an exported folder
    print(gen.generate("Once upon a time", max_new_tokens=40, temperature=0.7, seed=1))

``python -m generation generate --prompt TEXT`` uses the default model (SmolLM2-135M-Instruct,
prepared once by ``python -m generation setup``). Never imports torch or transformers:
conversion of the default model runs ``python -m export gguf`` in a subprocess.
"""
from runtime.builtin import DEFAULT_MODEL, ensure_model

from .chat import ChatTemplate, ChatTemplateError
from .decoding import Decoding
from .defaults import LIBRARY_DEFAULTS, DefaultDecoding
from .errors import GenerationError, ModelSetupError
from .generator import Generator
from .presets import PRESETS, Preset, get_preset
from .sampling import SamplingConfig, sample_next

__all__ = [
    "ChatTemplate", "ChatTemplateError", "DEFAULT_MODEL", "Decoding", "DefaultDecoding",
    "GenerationError", "Generator", "LIBRARY_DEFAULTS", "ModelSetupError", "PRESETS", "Preset",
    "SamplingConfig", "ensure_model", "get_preset", "load_default", "sample_next",
]


def load_default(*, precision=None, device: str = "cpu", threads: int = 0) -> Generator:
    """The default generator, preparing its model first if needed (prints progress)."""
    return Generator.load(ensure_model(precision=precision), device=device, threads=threads)
