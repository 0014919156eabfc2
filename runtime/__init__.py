"""The shared ONNX Runtime engine: sessions, execution providers, KV-cache decoding, and the
built-in models prepared into the user's cache (``builtin.py``). Never imports torch,
transformers or streamlit."""
