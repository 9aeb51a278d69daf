"""The index on disk: generations with their manifests and leases, the vector store, the lexical (BM25) index and the
vocabulary of the indexed texts.
"""
