"""Evaluation of retrieval, citation and abstention quality against JSONL question sets."""
