"""The abstractive summarizer for a model folder: an encoder-decoder export, or a decoder-only
model fine-tuned to summarize. Here, not in ``seq2seq``, because the decoder-only summarizer
builds on the encoder-decoder one: the factory needs both, and neither needs the factory."""
from __future__ import annotations

from summarizer.abstractive.decoder_only import LMSummarizer, is_lm_summarizer
from summarizer.abstractive.seq2seq import AbstractiveConfig, AbstractiveSummarizer

def make_abstractive(config: AbstractiveConfig) -> AbstractiveSummarizer:
    """The summarizer for ``config.model_dir``: an encoder-decoder export, or a decoder-only
    model fine-tuned to summarize (its folder has ``condense_summary.json``)."""
    if is_lm_summarizer(config.model_dir):
        return LMSummarizer(config)
    return AbstractiveSummarizer(config)

