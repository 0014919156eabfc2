"""Exports: result files for people (CSV, JSONL, Markdown, DOCX) and ONNX model folders
(issue 3; not built yet). The inference packages never import this package."""
