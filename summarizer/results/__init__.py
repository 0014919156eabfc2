"""Summaries as files: the one CSV writer, JSONL, Markdown and DOCX."""
