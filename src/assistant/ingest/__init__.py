"""Ingest: the corpus's files loaded, split into passages and provisions, embedded and written as a new index
generation.
"""
