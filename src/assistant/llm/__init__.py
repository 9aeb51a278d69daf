"""The language-model path: the OpenAI-compatible client, the writer that drafts cited sentences, and the checks every
sentence must pass before it is shown.
"""
