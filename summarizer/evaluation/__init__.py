"""Scoring summaries: ROUGE, evaluation over pairs files, the quality suite, pairs datasets
and the shared split, references, side-by-side comparison, faithfulness checks."""
