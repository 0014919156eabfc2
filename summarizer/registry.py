"""Method names -> summarizers, and the one-call API ``summarize``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Optional, Union

from summarizer.base import Summarizer
from summarizer.errors import UnknownMethodError
from summarizer.methods.lead import Lead
from summarizer.methods.pacsum import PacSum
from summarizer.methods.ranker import LearnedRanker
from summarizer.methods.sumy_methods import KLSum, LexRank, LSA, Luhn, SumBasic, SumyTextRank
from summarizer.methods.textrank import TextRank
from summarizer.types import DEFAULT_BUDGET, Budget, Document, Summary

if TYPE_CHECKING:
    from summarizer.abstractive.seq2seq import AbstractiveConfig

# Chosen by the quality suite's mean ROUGE-1 over every set (docs/QUALITY.md); see README
# "Choosing the default".
DEFAULT_METHOD = "ranker"

EXTRACTIVE_METHODS: Dict[str, Callable[[], Summarizer]] = {
    "textrank": TextRank,
    "ranker": LearnedRanker,
    "lead": Lead,
    "pacsum": PacSum,
    "lexrank": LexRank,
    "lsa": LSA,
    "luhn": Luhn,
    "kl": KLSum,
    "sumbasic": SumBasic,
    "sumy-textrank": SumyTextRank,
}


ABSTRACTIVE = "abstractive"
METHODS = (*EXTRACTIVE_METHODS, ABSTRACTIVE)


def get_summarizer(name: str, *, abstractive: Optional["AbstractiveConfig"] = None) -> Summarizer:
    """A summarizer by name; ``abstractive`` (an ``AbstractiveConfig``) is required for
    the abstractive method and names the exported model folder."""
    if name == ABSTRACTIVE:
        if abstractive is None:
            raise UnknownMethodError(
                "the abstractive method needs a model: AbstractiveConfig(model_dir=DIR) in code, "
                "--model DIR on the command line (an exported ONNX folder)")
        from summarizer.abstractive.factory import make_abstractive  # loads onnxruntime only when asked

        return make_abstractive(abstractive)
    try:
        return EXTRACTIVE_METHODS[name]()
    except KeyError:
        raise UnknownMethodError(
            f"unknown method {name!r}; choose one of {', '.join(METHODS)}"
        ) from None


def summarize(
    document: Union[Document, str],
    *,
    method: str = DEFAULT_METHOD,
    budget: Budget = DEFAULT_BUDGET,
    lang: Optional[str] = None,
    abstractive: Optional["AbstractiveConfig"] = None,
) -> Summary:
    """Summarize a Document, or a plain string (cleaned, language detected unless given)."""
    if isinstance(document, str):
        from summarizer.documents.loaders import document_from_text

        document = document_from_text(document, lang=lang)
    return get_summarizer(method, abstractive=abstractive)(document, budget)
