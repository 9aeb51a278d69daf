"""Embedding models: the packaged MiniLM (torch or ONNX Runtime), the fine-tuned adapter, a remote OpenAI-compatible
endpoint, and the cache of vectors already computed.
"""
