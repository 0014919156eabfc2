"""The shared ONNX Runtime engine: sessions, execution providers, KV-cache decoding
(issue 3; not built yet). Never imports torch, transformers or streamlit."""
