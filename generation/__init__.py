"""Domain text generation with causal LMs on ONNX Runtime (issue 5; not built yet)."""
