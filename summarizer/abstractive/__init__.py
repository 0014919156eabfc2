"""Abstractive summarizers on the ONNX runtime: encoder-decoder (``seq2seq``), decoder-only
with a summary prompt (``decoder_only``), the factory that picks one for a model folder
(``factory``) and the chunking of long documents."""
