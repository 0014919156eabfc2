"""Condense summarizers: one interface, ``summarizer(document, budget) -> Summary``.

    from summarizer import Budget, load_document, summarize
    summary = summarize(load_document("report.pdf"), budget=Budget(sentences=5))
    for s in summary.sentences:
        print(s.score, s.start, s.end, s.text)
"""
from summarizer.errors import CondenseError, DocumentError
from summarizer.documents.loaders import LoaderConfig, document_from_text, load_bytes, load_document
from summarizer.registry import DEFAULT_METHOD, EXTRACTIVE_METHODS, get_summarizer, summarize
from summarizer.types import DEFAULT_BUDGET, Budget, Document, ScoredSentence, Sentence, Summary

__all__ = [
    "Budget", "CondenseError", "DEFAULT_BUDGET", "DEFAULT_METHOD", "Document", "DocumentError",
    "EXTRACTIVE_METHODS", "LoaderConfig", "ScoredSentence", "Sentence", "Summary",
    "document_from_text", "get_summarizer", "load_bytes", "load_document", "summarize",
]
