"""Retrieval: the dense, lexical and reference channels fused into the passages an answer is chosen from."""
